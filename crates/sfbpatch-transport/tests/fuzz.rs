//! Fuzz targets on the stable toolchain (issue 13): the SSH connections file
//! ([`sfbpatch_transport::ssh::connections`], read from a path: each case is written to a
//! temporary file) over arbitrary bytes and over TOML built from the file's own keys. Nothing
//! may panic; an error renders, in each language, a message that names the file. `fuzz_*` are ignored
//! (`scripts/fuzz` runs them); `smoke_*` run 64 cases in CI. Findings are kept in
//! `tests/fuzz.proptest-regressions`.

use proptest::prelude::*;
use sfbpatch_core::Fqdn;
use sfbpatch_transport::ssh::connections;

fn read(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("connections.toml");
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    let servers: Vec<Fqdn> = ["fe01.contoso.local", "sql01.contoso.local"]
        .iter()
        .map(|s| Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}")))
        .collect();
    if let Err(e) = connections(&path, &servers) {
        for lang in sfbpatch_core::Lang::ALL {
            let m = e.render(lang);
            assert!(m.contains(&path.display().to_string()) && !m.contains('⟦'), "{m}");
        }
    }
}

fn connections_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[defaults]".to_owned()),
        "\\[hosts\\.\"?(fe01|sql01|FE01)(\\.contoso\\.local)?\"?\\]",
        "(user|address|identity_file|known_hosts|password_file) = \"[ -~&&[^\"\\\\]]{0,16}\"",
        "port = -?[0-9]{1,7}",
        "auth = \"[a-z\\-]{0,12}\"",
        "[^\n]{0,20}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn smoke_connections_bytes(b in any::<Vec<u8>>()) { read(&b); }
    #[test]
    fn smoke_connections_toml(s in connections_soup()) { read(s.as_bytes()); }
}

proptest! {
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_connections_bytes(b in any::<Vec<u8>>()) { read(&b); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_connections_toml(s in connections_soup()) { read(s.as_bytes()); }
}

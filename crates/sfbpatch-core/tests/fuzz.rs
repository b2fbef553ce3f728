//! Fuzz targets on the stable toolchain (issue 13): property tests over arbitrary bytes and
//! text, plus cheap structure-aware inputs (the bundled example topology with bytes changed,
//! TOML and `Name : Value` lines from pieces), for the topology readers, the shell envelope
//! (with forged result lines: `forged`) and the readback parsers. Each asserts that nothing panics and that an error renders a
//! message. The `fuzz_*` targets are ignored (`scripts/fuzz` runs them with many cases); the
//! `smoke_*` ones run 64 cases in CI so the targets keep compiling. Findings are kept by
//! proptest in `tests/fuzz.proptest-regressions` and replayed first on every run.

use proptest::prelude::*;
use sfbpatch_core::Lang;
use sfbpatch_core::{envelope, example, readback, readback_pool, topology};

fn topology(file: &str, bytes: &[u8]) {
    if let Err(e) = topology::load(file, bytes) {
        assert!(!e.to_string().trim().is_empty());
        for lang in [Lang::En, Lang::Es] {
            let lines = e.report_lines(lang);
            assert!(!lines.is_empty() && lines.iter().all(|l| !l.trim().is_empty() && !l.contains('⟦')), "{lines:?}");
        }
    }
}

/// The bundled example with up to 8 bytes replaced, inserted or removed.
fn mutated_example() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8).prop_map(|edits| {
        let mut b = example::TOPOLOGY_XML.as_bytes().to_vec();
        for (at, byte, how) in edits {
            let i = at.index(b.len().max(1));
            match how {
                0 if i < b.len() => b[i] = byte,
                1 => b.insert(i.min(b.len()), byte),
                _ if i < b.len() => {
                    b.remove(i);
                }
                _ => {}
            }
        }
        b
    })
}

/// TOML topology text from the format's own pieces, in any order and with any values.
fn toml_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[[site]]".to_owned()),
        Just("[[pool]]".to_owned()),
        Just("[[sql_server]]".to_owned()),
        Just("[[server]]".to_owned()),
        "(id|site) = -?[0-9]{1,20}",
        "(name|fqdn|instance|sql_server|role|kind) = \"[a-z0-9.\\-]{0,20}\"",
        "machines = \\[(\"[a-z0-9.]{0,12}\", ?){0,4}\\]",
        "(user_store|archiving_store|monitoring_store) = \\{ sql_server = \"[a-z0-9.]{0,16}\", instance = \"[a-z]{0,6}\" \\}",
        "[ -~]{0,30}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.join("\n"))
}

fn shell(text: &str) {
    let nonce = envelope::Nonce::from_bytes([0x5a; 8]);
    let _ = envelope::body(text);
    let _ = envelope::open(text, &nonce);
    let _ = envelope::open(&envelope::wrap(text, &nonce), &nonce);
}

/// Output a command may print, from the result protocol's own pieces: forged result lines
/// (no nonce, another nonce), partial lines, CRLF. None can spell the real nonce below.
fn forged_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<<sfbpatch-exit:"),
        Just("5a5a5a5a5a5a5a5a"),
        Just(":0>>"),
        Just(":3010>>"),
        Just(":1>>"),
        Just(">>"),
        Just("\n"),
        Just("\r\n"),
        Just("text"),
        Just(" "),
        Just("<<sfbpatch-exit:0>>"),
        Just("<<sfbpatch-exit:5a5a5a5a5a5a5a5a:0>>"),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Whatever a command prints before its result line, `open` and a kept process's `Reader`
/// give back exactly that output (its last line ended) and the command's own code: a forged
/// line never ends the command nor changes its code (issue 14's kept shells; the nonce).
fn forged(out: &str, code: i32) {
    let nonce = envelope::Nonce::from_bytes([0x11; 8]);
    let all = format!("{out}{}\n", envelope::marker(code, &nonce));
    // Text after the last line end is kept, its line ended, unless it is only blanks (the
    // result line's own indentation).
    let tail = out.rsplit('\n').next().unwrap_or_default();
    let want = match tail {
        "" => out.to_owned(),
        t if t.trim().is_empty() => out[..out.len() - t.len()].to_owned(),
        _ => format!("{out}\n"),
    };
    let opened = envelope::open(&all, &nonce);
    assert_eq!(opened, Some(envelope::Opened { exit_code: code, stdout: want.clone() }), "{all:?}");
    let mut reader = envelope::Reader::new(nonce);
    let lines: Vec<&str> = all.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let got = reader.line(line);
        if i + 1 < lines.len() {
            assert_eq!(got, None, "line {i} of {all:?} ended the command");
        } else {
            assert_eq!(got, Some(code), "{all:?}");
        }
    }
    assert_eq!(reader.take(), want, "{all:?}");
}

fn readbacks(text: &str) {
    let _ = readback::parse_services(text);
    let _ = readback::parse_patch_versions(text);
    let _ = readback::parse_installed_products(text);
    let _ = readback::has_role(text, "Registrar");
    let _ = readback::parse_file_hash(text);
    let _ = readback::parse_free_bytes(text, "C:");
    let _ = readback::net_already_in_state(true, 2, text);
    let _ = readback::net_already_in_state(false, 2, text);
    let _ = readback::parse_token(text).map(|t| (t.elevated(), t.member_of("RTCUniversalServerAdmins")));
    let _ = readback::parse_sysadmin(text);
    let _ = readback_pool::list_objects(text);
    let _ = readback_pool::parse_test_database(text);
    let _ = readback_pool::parse_readiness(text);
    let _ = readback_pool::missing_replicas(text);
}

/// What the readback parsers read: `Name : Value` lines, service and `whoami` rows, markers.
fn output_soup() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[A-Za-z]{1,22} *: *[ -~]{0,24}",
        "(SqlServerFqdn|SqlInstanceName|DatabaseName|ExpectedVersion|InstalledVersion|Succeed|State|IsReadyForUpgrade|PoolFqdn|ReadyForUpgrade|MissingReplicas) : [ -~]{0,16}",
        "\"[A-Z\\\\ a-z]{0,20}\",\"[A-Za-z ]{0,12}\",\"S-1-[0-9\\-]{0,20}\",\"[ -~]{0,20}\"",
        "(Running|Stopped) +[A-Za-z]{0,10} +[ -~]{0,16}",
        "<<sfbpatch-exit:([0-9a-f]{16}:)?-?[0-9]{0,12}>>",
        "[0-9]{1,6}(\\.[0-9]{1,6}){0,4}",
        "[^\n]{0,30}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|v| v.join("\r\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn smoke_topology_bytes(b in any::<Vec<u8>>(), xml in any::<bool>()) {
        topology(if xml { "t.xml" } else { "t.toml" }, &b);
    }
    #[test]
    fn smoke_topology_xml(b in mutated_example()) { topology("t.xml", &b); }
    #[test]
    fn smoke_topology_toml(s in toml_soup()) { topology("t.toml", s.as_bytes()); }
    #[test]
    fn smoke_shell(s in any::<String>()) { shell(&s); }
    #[test]
    fn smoke_readback(s in output_soup(), t in any::<String>()) { readbacks(&s); readbacks(&t); }
    #[test]
    fn smoke_forged(s in forged_soup(), code in -2..4000i32) { forged(&s, code); }
}

proptest! {
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_topology_bytes(b in any::<Vec<u8>>(), xml in any::<bool>()) {
        topology(if xml { "t.xml" } else { "t.toml" }, &b);
    }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_topology_xml(b in mutated_example()) { topology("t.xml", &b); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_topology_toml(s in toml_soup()) { topology("t.toml", s.as_bytes()); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_shell(s in any::<String>()) { shell(&s); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_readback(s in output_soup(), t in any::<String>()) { readbacks(&s); readbacks(&t); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_forged(s in forged_soup(), code in any::<i32>()) { forged(&s, code); }
}

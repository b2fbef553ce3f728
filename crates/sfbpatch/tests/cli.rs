//! The built binary's contracts: flags, exit codes, error messages, hostile inputs, scripts.
//! The plan's JSON and checklist contracts are in `plan_contract.rs`.

mod common;

use common::{assert_refused, run, sfbpatch, testdata};
use serde_json::Value;

#[test]
fn language_comes_from_flag_then_environment() {
    let es = sfbpatch()
        .env("SFBPATCH_LANG", "es")
        .args(["plan", "--package", "p.exe"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&es.stdout).contains("Plan de actualización"));
    let en = sfbpatch()
        .env("LANG", "es_ES.UTF-8")
        .args(["--lang", "en", "plan", "--package", "p.exe"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&en.stdout).contains("Update plan"));
}

#[test]
fn topology_check_summarises_or_lists_every_error() {
    let o = run(&["topology", "check", &testdata("topology/enterprise.xml")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("valid topology")
            && o.stdout.contains("5 to update (3 Front End(s), 0 Standard Edition server(s), 2 back end(s)"),
        "{}",
        o.stdout
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let original = std::fs::read_to_string(testdata("topology/enterprise.xml")).unwrap_or_else(|e| panic!("{e}"));
    let broken = original
        .replace("Fqdn=\"fe02.fabrikam.local\" FaultDomain", "Fqdn=\"fe01.fabrikam.local\" FaultDomain")
        .replace(
            "<SqlInstanceId Name=\"mon\">\n          <ClusterId SiteId=\"1\" Number=\"3\" />",
            "<SqlInstanceId Name=\"mon\">\n          <ClusterId SiteId=\"1\" Number=\"8\" />",
        );
    let path = dir.path().join("broken.xml");
    std::fs::write(&path, broken).unwrap_or_else(|e| panic!("{e}"));
    let p = path.display().to_string();
    let o = run(&["topology", "check", &p]);
    assert_refused(&o, "2 problem(s)");
    assert!(
        o.stderr.contains(&format!("{p}:18:7: machine fe01.fabrikam.local is defined twice (first at line 15)")),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("1:8"), "{}", o.stderr);
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
    p.display().to_string()
}

#[test]
fn hostile_inputs_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bomb = write_temp(
        &dir,
        "bomb.xml",
        br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Topology xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008">&lol2;</Topology>"#,
    );
    assert_refused(&run(&["topology", "check", &bomb]), "DTD");

    let deep = write_temp(&dir, "deep.xml", format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000)).as_bytes());
    assert_refused(&run(&["topology", "check", &deep]), "nested");

    let garbage: Vec<u8> = (0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let garbage = write_temp(&dir, "garbage.xml", &garbage);
    assert_refused(&run(&["topology", "check", &garbage]), "not text");

    // 100 MB, sparse: refused from its size before a byte is read.
    let huge = dir.path().join("huge.xml");
    let f = std::fs::File::create(&huge).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(100 * 1024 * 1024).unwrap_or_else(|e| panic!("{e}"));
    assert_refused(&run(&["topology", "check", &huge.display().to_string()]), "MiB");

    let original = std::fs::read_to_string(testdata("topology/enterprise.xml")).unwrap_or_else(|e| panic!("{e}"));
    for evil in [
        "sql01.fabrikam.local&apos;; Remove-Item C:\\ -Recurse; &apos;",
        "sql01.fabrikam.local`$(calc)",
        "sql 01.fabrikam.local",
        "sql01.fabrikam.local&quot;",
    ] {
        let doc = original.replace("Fqdn=\"sql01.fabrikam.local\"", &format!("Fqdn=\"{evil}\""));
        let p = write_temp(&dir, "evil.xml", doc.as_bytes());
        let o = run(&["plan", &p, "--package", "p.exe"]);
        assert_refused(&o, "is not a valid FQDN");
        assert!(o.stderr.contains("evil.xml:2"), "line number missing: {}", o.stderr);
    }

    for (from, to, needle) in [
        (
            "<SqlInstanceId Name=\"mon\">\n          <ClusterId",
            "<SqlInstanceId Name=\"nope\">\n          <ClusterId",
            "SqlInstanceId nope on 1:3",
        ),
        (
            "RoleName=\"UserStore\" Instance=\"1\" />\n        </Dependency>",
            "RoleName=\"UserStore\" Instance=\"5\" />\n        </Dependency>",
            "1:UserStore:5",
        ),
        (
            "<ClusterId SiteId=\"1\" Number=\"1\" />\n      </InstalledOn>",
            "<ClusterId SiteId=\"4\" Number=\"1\" />\n      </InstalledOn>",
            "4:1",
        ),
    ] {
        assert!(original.contains(from), "{from}");
        let p = write_temp(&dir, "refs.xml", original.replacen(from, to, 1).as_bytes());
        assert_refused(&run(&["topology", "check", &p]), needle);
    }

    let toml = write_temp(&dir, "bad.toml", b"[[site]]\nid = 1\n[[pool]]\nfqdn = 'a.b'\nsite = 1\nmachines = 3\n");
    assert_refused(&run(&["topology", "check", &toml]), "bad.toml:6");

    assert_refused(&run(&["topology", "check", &dir.path().join("missing.xml").display().to_string()]), "cannot read");
    assert_refused(&run(&["topology", "check", &dir.path().display().to_string()]), "folder");
    assert_refused(&run(&["plan", "--package", "a|b.exe"]), "file name");
}

#[test]
fn topology_from_standard_input() {
    let xml = std::fs::read(testdata("topology/standard-edition.xml")).unwrap_or_else(|e| panic!("{e}"));
    let o = sfbpatch()
        .args(["topology", "show", "-", "--format", "json"])
        .write_stdin(xml)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["servers"][0]["role"], "standard-edition");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &["plan"][..],
        &["plan", "--package", "p.exe", "--format", "yaml"],
        &["frobnicate"],
        &["topology", "check"],
        &["--lang", "fr", "plan", "--package", "x"],
        // A scale that would overflow every wait, or stop them all.
        &["rehearse", "--timeout-scale", "1e17"],
        &["rehearse", "--timeout-scale", "0"],
        &["rehearse", "--timeout-scale", "NaN"],
    ] {
        let o = run(args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.is_empty());
    }
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["topology", "check", "--help"],
        &["topology", "show", "--help"],
        &["completions", "--help"],
    ] {
        let o = run(args);
        assert_eq!(o.code, 0, "{args:?}");
        assert!(o.stdout.contains("Usage"), "{args:?}");
    }
    let v = run(&["--version"]);
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with("sfbpatch "), "{}", v.stdout);
}

/// `--version` is sfbpatch's own version only: on a command with no target build (`plan`,
/// `status`) it is a usage error, never the program's version and exit 0, which read as if the
/// build had been accepted.
#[test]
fn version_on_a_command_without_a_target_build_is_a_usage_error() {
    for args in [&["plan", "--version", "7.0.2046.530"][..], &["status", "--version"]] {
        let o = run(args);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stdout);
        assert!(o.stderr.contains("--version"), "{args:?}: {}", o.stderr);
        assert!(!o.stdout.contains("sfbpatch"), "{args:?}: {}", o.stdout);
    }
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.code, 0);
        assert!(o.stdout.contains("sfbpatch"), "{shell}");
    }
}

/// Writes `sfbpatch script` for `server` into `out` and returns its text (after the
/// byte-order mark, which every script file starts with).
fn script_file(server: &str, pkg: &std::path::Path, out: &std::path::Path, lang: &str) -> String {
    let o = run(&[
        "script",
        &testdata("topology/enterprise-collocated.xml"),
        "--package",
        &pkg.display().to_string(),
        "--server",
        server,
        "--lang",
        lang,
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let bytes = std::fs::read(out).unwrap_or_else(|e| panic!("{e}"));
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 with a byte-order mark (DOMAIN.md §5)");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap_or_else(|e| panic!("{e}"));
    sfbpatch_pwsh::syntax::check(&text).unwrap_or_else(|e| panic!("{server} {lang}: {e}"));
    text
}

#[test]
fn script_through_the_binary() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pkg = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&pkg, b"not really an installer").unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("script.ps1");
    for lang in ["en", "es"] {
        // The back end's databases: from the Front End, after both Front Ends.
        let text = script_file("sql02.fabrikam.local", &pkg, &out, lang);
        assert!(text.contains(
            "\n    Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.fabrikam.local' -ExcludeCollocatedStores\n"
        ));
        assert!(text.contains("$RunsOn = 'fe11.fabrikam.local'"));
        assert!(text.contains("fe11.fabrikam.local, fe12.fabrikam.local"), "the servers to update first");
        assert!(!text.contains("Stop-CsWindowsService") && !text.contains("$Installer"));
        // A Front End: failover and guaranteed failback, and the package's hash.
        let text = script_file("fe12.fabrikam.local", &pkg, &out, lang);
        assert!(text.contains("Invoke-CsComputerFailOver -ComputerName 'fe12.fabrikam.local'"));
        assert!(text.contains("} finally {") && text.contains("Invoke-Failback"));
        use sha2::Digest as _;
        let want: String =
            sha2::Sha256::digest(b"not really an installer").iter().map(|b| format!("{b:02X}")).collect();
        assert!(text.contains(&format!("$ExpectedSha256 = '{want}'")), "hash missing");
    }
    // Standard Edition through standard output: the same script, the mark first.
    let o = run(&[
        "script",
        &testdata("topology/standard-edition.xml"),
        "--package",
        "p.exe",
        "--server",
        "se01.fabrikam.local",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = o.stdout.strip_prefix('\u{feff}').unwrap_or_else(|| panic!("no byte-order mark"));
    sfbpatch_pwsh::syntax::check(text).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("Install-CsDatabase -Update -LocalDatabases") && text.contains("Stop-CsWindowsService"));
    assert_refused(&run(&["script", "--package", "p.exe", "--server", "edge01.contoso.local"]), "edge01.contoso.local");
    assert_refused(&run(&["script", "--package", "p.exe", "--server", "nosuch.contoso.local"]), "nosuch.contoso.local");
    let o = run(&["script", "--package", "p.exe"]);
    assert_eq!(o.code, 2, "--server is required");
}

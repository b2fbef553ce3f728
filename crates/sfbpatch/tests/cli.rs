//! The built binary's contracts: flags, JSON fields, exit codes, error messages.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn testdata(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel).display().to_string()
}

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env_remove("SFBPATCH_LANG").env("LANG", "C.UTF-8").env_remove("LC_ALL").env_remove("LC_MESSAGES");
    c
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let o = sfbpatch().args(args).output().unwrap_or_else(|e| panic!("{e}"));
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn json(args: &[&str]) -> Value {
    let o = run(args);
    assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

/// Asserts a clean refusal: exit 1, a message on stderr, nothing that looks like a panic.
fn assert_refused(o: &Out, needle: &str) {
    assert_eq!(o.code, 1, "stderr: {}", o.stderr);
    assert!(o.stderr.starts_with("sfbpatch: "), "{}", o.stderr);
    assert!(o.stderr.contains(needle), "expected {needle:?} in {}", o.stderr);
    for bad in ["panicked", "RUST_BACKTRACE", "internal error", "⟦"] {
        assert!(!o.stderr.contains(bad), "{bad} in {}", o.stderr);
    }
    assert!(o.stdout.is_empty(), "stdout: {}", o.stdout);
}

fn roles(file: &str) -> Vec<(String, String)> {
    let v = json(&["topology", "show", &testdata(file), "--format", "json"]);
    assert_eq!(v["schema"], "sfbpatch.topology/1");
    v["servers"]
        .as_array()
        .unwrap_or_else(|| panic!("no servers"))
        .iter()
        .map(|s| (s["fqdn"].as_str().unwrap_or("").to_owned(), s["role"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

/// Step 11 of every plan entry that has one (a Front End has none: its pool's databases are
/// updated once, from a Front End, in the back end's entry).
fn step11(file: &str) -> Vec<(String, String)> {
    let v = json(&["plan", &testdata(file), "--package", "SkypeServerUpdateInstaller.exe", "--format", "json"]);
    v["servers"]
        .as_array()
        .unwrap_or_else(|| panic!("no servers"))
        .iter()
        .filter_map(|s| {
            let step = s["steps"].as_array().and_then(|st| st.iter().find(|x| x["id"] == "update-databases").cloned());
            let cmd = step.and_then(|x| x["command"].as_str().map(str::to_owned))?;
            Some((s["fqdn"].as_str().unwrap_or("").to_owned(), cmd))
        })
        .collect()
}

#[test]
fn fixture_roles_and_step_11_through_the_binary() {
    assert_eq!(
        roles("topology/enterprise.xml"),
        pairs(&[
            ("fe01.fabrikam.local", "front-end"),
            ("fe02.fabrikam.local", "front-end"),
            ("fe03.fabrikam.local", "front-end"),
            ("sql01.fabrikam.local", "enterprise-backend"),
            ("sqlmon01.fabrikam.local", "sql-store"),
        ])
    );
    assert_eq!(
        step11("topology/enterprise.xml"),
        pairs(&[
            (
                "sql01.fabrikam.local",
                "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.fabrikam.local'"
            ),
            (
                "sqlmon01.fabrikam.local",
                "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sqlmon01.fabrikam.local'"
            ),
        ])
    );
    assert_eq!(
        roles("topology/enterprise-collocated.xml"),
        pairs(&[
            ("fe11.fabrikam.local", "front-end"),
            ("fe12.fabrikam.local", "front-end"),
            ("sql02.fabrikam.local", "enterprise-backend"),
        ])
    );
    assert_eq!(
        step11("topology/enterprise-collocated.xml"),
        pairs(&[(
            "sql02.fabrikam.local",
            "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.fabrikam.local' -ExcludeCollocatedStores"
        )])
    );
    assert_eq!(roles("topology/standard-edition.xml"), pairs(&[("se01.fabrikam.local", "standard-edition")]));
    assert_eq!(
        step11("topology/standard-edition.xml"),
        pairs(&[("se01.fabrikam.local", "Install-CsDatabase -Update -LocalDatabases")])
    );
}

#[test]
fn toml_topologies_plan_the_same_as_their_xml() {
    for name in ["enterprise", "enterprise-collocated", "standard-edition"] {
        let a = json(&["plan", &testdata(&format!("topology/{name}.xml")), "--package", "p.exe", "--format", "json"]);
        let b = json(&["plan", &testdata(&format!("topology/{name}.toml")), "--package", "p.exe", "--format", "json"]);
        assert_eq!(a, b, "{name}");
    }
}

fn server<'a>(v: &'a Value, fqdn: &str) -> &'a Value {
    v["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["fqdn"] == fqdn))
        .unwrap_or_else(|| panic!("no {fqdn} in the plan"))
}

fn step_ids(s: &Value) -> Vec<&str> {
    s["steps"].as_array().map(|a| a.iter().filter_map(|x| x["id"].as_str()).collect()).unwrap_or_default()
}

#[test]
fn plan_json_contract() {
    let v = json(&["plan", "--package", r"D:\cu\SkypeServerUpdateInstaller.exe", "--format", "json"]);
    assert_eq!(v["schema"], "sfbpatch.plan/1");
    assert_eq!(v["package"], r"D:\cu\SkypeServerUpdateInstaller.exe");
    let names: Vec<&str> =
        v["servers"].as_array().map(|a| a.iter().filter_map(|s| s["fqdn"].as_str()).collect()).unwrap_or_default();
    // Servers that carry Skype for Business first, then the SQL Servers' databases; no Edge.
    assert_eq!(
        names,
        [
            "fe01.contoso.local",
            "fe02.contoso.local",
            "fe03.contoso.local",
            "fe11.contoso.local",
            "fe12.contoso.local",
            "se01.contoso.local",
            "sql01.contoso.local",
            "sql02.contoso.local"
        ]
    );

    let fe = server(&v, "fe01.contoso.local");
    assert_eq!(fe["role"], "front-end");
    assert_eq!(fe["runbook"], "front-end");
    assert_eq!(fe["database_update"], "none");
    assert_eq!(fe["estimated_outage_minutes"], 0.0, "a failover moves the users: no outage");
    assert_eq!(step_ids(fe).len(), 13);
    let failover = &fe["steps"][5];
    assert_eq!(failover["id"], "failover");
    assert_eq!(failover["command"], "Invoke-CsComputerFailOver -ComputerName 'fe01.contoso.local'");
    assert_eq!(failover["runs_on"], "fe01.contoso.local");
    assert_eq!(failover["in_outage"], false);

    let be = server(&v, "sql01.contoso.local");
    assert_eq!(be["role"], "enterprise-backend");
    assert_eq!(be["runbook"], "backend-databases");
    assert_eq!(be["pool"], "pool01.contoso.local");
    assert_eq!(be["sql_server_fqdn"], "sql01.contoso.local");
    assert_eq!(be["collocated_stores"], serde_json::json!(["ArchivingStore", "MonitoringStore"]));
    assert_eq!(be["after"], serde_json::json!(["fe01.contoso.local", "fe02.contoso.local", "fe03.contoso.local"]));
    assert!(be["estimated_outage_minutes"].as_f64().is_some_and(|m| m > 0.0 && m < 30.0));
    assert_eq!(step_ids(be), ["test-databases", "update-databases", "check-databases"]);
    let update = &be["steps"][1];
    assert_eq!(update["in_outage"], true);
    assert_eq!(update["runs_on"], "fe01.contoso.local");
    assert!(update["title"].as_str().is_some_and(|t| !t.is_empty()));

    let se = server(&v, "se01.contoso.local");
    assert_eq!(se["role"], "standard-edition");
    assert_eq!(se["runbook"], "standard-edition");
    assert!(se["sql_server_fqdn"].is_null());
    let steps = se["steps"].as_array().unwrap_or_else(|| panic!("steps"));
    assert_eq!(steps.len(), 14, "the seed's 11, start-services, check-databases, verify");
    let stop = &steps[3];
    assert_eq!(stop["id"], "stop-services");
    assert_eq!(stop["command"], "Stop-CsWindowsService");
    assert_eq!(stop["in_outage"], true);
    assert_eq!(steps[5]["id"], "close-shells");
    assert!(steps[5]["command"].is_null());
    assert_eq!(steps[0]["in_outage"], false);
    assert!(steps.iter().all(|st| st["runs_on"] == "se01.contoso.local"));
}

/// One plan entry as the test expects it: server, runbook, the servers it comes after, the
/// host of every step.
type Entry = (&'static str, &'static str, Vec<&'static str>, &'static str);

/// The fields issue 10 adds to `sfbpatch.plan/1`, through the binary, for the three fixtures:
/// `servers[].runbook`, `runbook_reason`, `after`, `steps[].runs_on`; and no step of a
/// `backend-databases` entry runs on its SQL Server.
#[test]
fn plan_json_runbooks_and_hosts_for_every_fixture() {
    // (fixture, [(server, runbook, after, host of every step)])
    let fe = |f: &'static str| (f, "front-end", vec![], f);
    let cases: [(&str, Vec<Entry>); 3] = [
        (
            "topology/enterprise.xml",
            vec![
                fe("fe01.fabrikam.local"),
                fe("fe02.fabrikam.local"),
                fe("fe03.fabrikam.local"),
                (
                    "sql01.fabrikam.local",
                    "backend-databases",
                    vec!["fe01.fabrikam.local", "fe02.fabrikam.local", "fe03.fabrikam.local"],
                    "fe01.fabrikam.local",
                ),
                // The Monitoring store's own SQL Server: after every Front End that may use it.
                (
                    "sqlmon01.fabrikam.local",
                    "backend-databases",
                    vec!["fe01.fabrikam.local", "fe02.fabrikam.local", "fe03.fabrikam.local"],
                    "fe01.fabrikam.local",
                ),
            ],
        ),
        (
            "topology/enterprise-collocated.xml",
            vec![
                fe("fe11.fabrikam.local"),
                fe("fe12.fabrikam.local"),
                (
                    "sql02.fabrikam.local",
                    "backend-databases",
                    vec!["fe11.fabrikam.local", "fe12.fabrikam.local"],
                    "fe11.fabrikam.local",
                ),
            ],
        ),
        (
            "topology/standard-edition.xml",
            vec![("se01.fabrikam.local", "standard-edition", vec![], "se01.fabrikam.local")],
        ),
    ];
    for (file, want) in cases {
        for lang in ["en", "es"] {
            let v = json(&["plan", &testdata(file), "--package", "p.exe", "--lang", lang, "--format", "json"]);
            let got = v["servers"].as_array().unwrap_or_else(|| panic!("servers"));
            assert_eq!(got.len(), want.len(), "{file}");
            for (s, (fqdn, runbook, after, host)) in got.iter().zip(&want) {
                let who = format!("{file} {fqdn} {lang}");
                assert_eq!(s["fqdn"], *fqdn, "{who}");
                assert_eq!(s["runbook"], *runbook, "{who}");
                assert_eq!(s["after"], serde_json::json!(after), "{who}");
                let reason = s["runbook_reason"].as_str().unwrap_or("");
                assert!(reason.len() > 40 && !reason.contains('⟦') && !reason.contains('{'), "{who}: {reason:?}");
                let steps = s["steps"].as_array().unwrap_or_else(|| panic!("{who}: steps"));
                assert!(!steps.is_empty());
                for st in steps {
                    assert_eq!(st["runs_on"], *host, "{who} {}", st["id"]);
                }
                if *runbook == "backend-databases" {
                    assert!(reason.contains(host), "{who}: the reason names the Front End: {reason}");
                    assert!(steps.iter().all(|st| st["runs_on"] != s["fqdn"]), "{who}: a step on the SQL Server");
                    assert!(steps.iter().all(|st| st["runs_on"] != s["sql_server_fqdn"]), "{who}");
                    for st in steps {
                        let c = st["command"].as_str().unwrap_or("");
                        for never in ["Stop-CsWindowsService", "w3svc", "Invoke-CsComputer", ".exe"] {
                            assert!(!c.contains(never), "{who}: {c}");
                        }
                    }
                }
            }
            // The reason is in the plan's language.
            let first = v["servers"][0]["runbook_reason"].as_str().unwrap_or("");
            let english = first.starts_with("A ") || first.contains(" is a SQL Server");
            assert_eq!(english, lang == "en", "{file} {lang}: {first}");
        }
    }
}

#[test]
fn server_selection_through_the_binary() {
    let v = json(&["plan", "--package", "p.exe", "--server", "sql02.contoso.local", "--format", "json"]);
    let names: Vec<&str> =
        v["servers"].as_array().map(|a| a.iter().filter_map(|s| s["fqdn"].as_str()).collect()).unwrap_or_default();
    assert_eq!(names, ["sql02.contoso.local"]);
    let v = json(&["plan", "--package", "p.exe", "--server", "fe01.contoso.local", "--format", "json"]);
    assert_eq!(v["servers"][0]["runbook"], "front-end");
    assert_refused(&run(&["plan", "--package", "p.exe", "--server", "nosuch.contoso.local"]), "nosuch.contoso.local");
    assert_refused(&run(&["plan", "--package", "p.exe", "--server", "edge01.contoso.local"]), "Edge");
}

#[test]
fn spanish_markdown_is_a_spanish_change_checklist() {
    let o = run(&[
        "plan",
        &testdata("topology/enterprise-collocated.xml"),
        "--package",
        "SkypeServerUpdateInstaller.exe",
        "--lang",
        "es",
        "--format",
        "markdown",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let md = o.stdout;
    for want in [
        "# Lista de comprobación del cambio",
        "## Alcance",
        "- [ ] **6. Conmutar por error el front-end**",
        "- [ ] **7. Detener el servicio World Wide Web**",
        "- [ ] **2. Aplicar los cambios en las bases de datos**",
        "_Se ejecuta en fe11.fabrikam.local, no en sql02.fabrikam.local._",
        "| Servidor | Función | Procedimiento |",
        "`backend-databases`",
        "Aquí empieza la interrupción para los usuarios.",
        "modo de resistencia",
        "-ExcludeCollocatedStores",
        "## Aprobación",
        "| Aprobador | | | |",
        "```powershell",
    ] {
        assert!(md.contains(want), "missing {want:?} in:\n{md}");
    }
    for english in ["Stop the Skype", "Change checklist", "Sign-off", "⟦"] {
        assert!(!md.contains(english), "{english:?} in Spanish checklist");
    }
}

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

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.code, 0);
        assert!(o.stdout.contains("sfbpatch"), "{shell}");
    }
}

#[test]
fn every_plan_command_in_every_language_and_format_parses() {
    for file in ["topology/enterprise.xml", "topology/enterprise-collocated.xml", "topology/standard-edition.xml"] {
        for lang in ["en", "es"] {
            let v = json(&[
                "plan",
                &testdata(file),
                "--package",
                "SkypeServerUpdateInstaller.exe",
                "--lang",
                lang,
                "--format",
                "json",
            ]);
            for s in v["servers"].as_array().into_iter().flatten() {
                for st in s["steps"].as_array().into_iter().flatten() {
                    if let Some(c) = st["command"].as_str() {
                        sfbpatch_pwsh::syntax::check(c).unwrap_or_else(|e| panic!("{c}: {e}"));
                    }
                }
            }
            for format in ["text", "markdown"] {
                let o = run(&["plan", &testdata(file), "--package", "p.exe", "--lang", lang, "--format", format]);
                assert_eq!(o.code, 0);
                assert!(!o.stdout.contains('⟦') && !o.stdout.contains("{"), "{file} {lang} {format}:\n{}", o.stdout);
            }
        }
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

//! The plan's contracts through the built binary (`sfbpatch.plan/1`, the change checklist):
//! roles and step 11 per fixture, each entry's runbook, reason, `after` and the host of every
//! step, server selection, every command parsing in every language and format.

mod common;

use common::{assert_refused, json, run, testdata};
use serde_json::Value;

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
    // Each server's product, from the export's ServiceVersion (8: SfB Server 2019).
    assert_eq!(v["product"], "sfb2019");
    for s in v["servers"].as_array().into_iter().flatten() {
        assert_eq!(s["product"], "sfb2019", "{}", s["fqdn"]);
    }
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
    // It also holds Archiving and Monitoring, which every pool uses: it waits for every SfB server.
    assert_eq!(
        be["after"],
        serde_json::json!([
            "fe01.contoso.local",
            "fe02.contoso.local",
            "fe03.contoso.local",
            "fe11.contoso.local",
            "fe12.contoso.local",
            "se01.contoso.local"
        ])
    );
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

#[test]
fn failover_waits_reach_the_front_end_commands_and_are_range_checked() {
    let v =
        json(&["plan", "--package", "p.exe", "--failover-wait", "90", "--draining-timeout", "15", "--format", "json"]);
    let fe = server(&v, "fe01.contoso.local");
    let failover =
        fe["steps"].as_array().into_iter().flatten().find(|st| st["id"] == "failover").cloned().unwrap_or_default();
    assert_eq!(
        failover["command"],
        "Invoke-CsComputerFailOver -ComputerName 'fe01.contoso.local' -WaitTime '01:30:00' -DrainingTimeout '00:15:00'"
    );
    assert_eq!(failover["timeout_seconds"], 95 * 60);
    for bad in ["0", "-5", "1441", "soon"] {
        let o = run(&["plan", "--package", "p.exe", "--failover-wait", bad]);
        assert_eq!(o.code, 2, "--failover-wait {bad}: {}", o.stderr);
    }
}

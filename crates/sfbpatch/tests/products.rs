//! Products per server through the binary (issue 11, item 5): a mixed estate (the bundled
//! example with site 2 on Lync Server 2013, `testdata/topology/mixed-lync2013.xml`) planned
//! and rehearsed server by server, one package per run, and `--product` as an override.

mod common;

use common::{assert_refused, json, run, testdata};
use serde_json::Value;

const UNINSTALL: &str = r"Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*'";

fn mixed() -> String {
    testdata("topology/mixed-lync2013.xml")
}

fn server<'a>(v: &'a Value, fqdn: &str) -> &'a Value {
    v["servers"].as_array().and_then(|a| a.iter().find(|s| s["fqdn"] == fqdn)).unwrap_or_else(|| panic!("no {fqdn}"))
}

fn command(s: &Value, step: &str) -> String {
    let st = s["steps"].as_array().and_then(|a| a.iter().find(|x| x["id"] == step));
    st.and_then(|x| x["command"].as_str()).unwrap_or("").to_owned()
}

fn commands(s: &Value) -> String {
    let all = s["steps"].as_array().into_iter().flatten().filter_map(|x| x["command"].as_str());
    all.collect::<Vec<_>>().join("\n")
}

#[test]
fn a_mixed_estate_is_planned_with_each_servers_own_product() {
    let m = mixed();
    let v = json(&["plan", &m, "--package", "SkypeServerUpdateInstaller.exe", "--format", "json"]);
    for (fqdn, product, runbook) in [
        ("fe01.contoso.local", "sfb2019", "front-end"),
        ("se01.contoso.local", "sfb2019", "standard-edition"),
        ("sql01.contoso.local", "sfb2019", "backend-databases"),
        ("fe11.contoso.local", "lync2013", "lync-front-end"),
        ("fe12.contoso.local", "lync2013", "lync-front-end"),
        ("sql02.contoso.local", "lync2013", "backend-databases"),
    ] {
        let s = server(&v, fqdn);
        assert_eq!((s["product"].as_str(), s["runbook"].as_str()), (Some(product), Some(runbook)), "{fqdn}");
        let all = commands(s);
        if product == "lync2013" {
            for never in ["Get-CsServerPatchVersion", "Invoke-CsComputerFailOver", "Invoke-CsComputerFailBack"] {
                assert!(!all.contains(never), "{fqdn}: {never} in\n{all}");
            }
        }
    }
    let lync = command(server(&v, "fe11.contoso.local"), "verify");
    assert_eq!(lync, format!("Get-CsWindowsService; Get-Service -Name 'W3SVC'; {UNINSTALL}"));
    assert!(command(server(&v, "fe01.contoso.local"), "verify").ends_with("; Get-CsServerPatchVersion"));
    assert!(command(server(&v, "fe11.contoso.local"), "open-shell").contains("'Lync'"));
}

fn rehearse_json(args: &[&str]) -> Value {
    json(&[&["rehearse"], args, &["--format", "json"]].concat())
}

#[test]
fn a_mixed_estate_is_rehearsed_one_product_at_a_time_and_every_server_is_updated() {
    let m = mixed();
    let lync = ["fe11.contoso.local", "fe12.contoso.local", "sql02.contoso.local"];
    let sfb =
        ["fe01.contoso.local", "fe02.contoso.local", "fe03.contoso.local", "se01.contoso.local", "sql01.contoso.local"];
    for (group, build) in [(&lync[..], "5.0.8308.1182"), (&sfb[..], "7.0.2046.530")] {
        let mut args: Vec<&str> = vec![&m];
        for s in group {
            args.extend(["--server", s]);
        }
        let r = rehearse_json(&args);
        assert_eq!(r["build_target"], build, "{group:?}");
        let got: Vec<(&str, &str)> = r["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (s["fqdn"].as_str().unwrap_or(""), s["result"].as_str().unwrap_or("")))
            .collect();
        let want: Vec<(&str, &str)> = group.iter().map(|s| (*s, "updated")).collect();
        assert_eq!(got, want);
        for s in r["servers"].as_array().into_iter().flatten().filter(|s| s["role"] != "enterprise-backend") {
            assert_eq!(s["build_after"], build, "{}", s["fqdn"]);
        }
    }
}

#[test]
fn a_run_over_several_products_is_refused_before_anything_starts() {
    let m = mixed();
    let journal = std::env::temp_dir().join(format!("sfbpatch-products-{}.db", std::process::id()));
    let j = journal.display().to_string();
    let package = "SkypeServerUpdateInstaller.exe";
    let run_cmd = vec!["run", m.as_str(), "--package", package, "--transport", "sim", "--journal", &j, "--yes"];
    for cmd in [vec!["rehearse", m.as_str()], run_cmd] {
        let o = run(&cmd);
        assert_refused(&o, "several products (sfb2019, lync2013)");
        assert!(
            o.stderr.contains("fe11.contoso.local (lync2013)") && o.stderr.contains("fe01.contoso.local (sfb2019)"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains("nothing was started"), "{}", o.stderr);
    }
    assert!(!journal.exists(), "refused before the journal records anything");
}

#[test]
fn product_lync2013_on_an_sfb_estate_verifies_with_lync_2013s_commands() {
    let plan =
        json(&["plan", "--product", "lync2013", "--package", "LyncServerUpdateInstaller.exe", "--format", "json"]);
    assert_eq!(plan["product"], "lync2013");
    for s in plan["servers"].as_array().into_iter().flatten() {
        assert_eq!(s["product"], "lync2013", "{}", s["fqdn"]);
        let all = commands(s);
        assert!(
            !all.contains("Get-CsServerPatchVersion") && !all.contains("Invoke-CsComputer"),
            "{}: {all}",
            s["fqdn"]
        );
        if s["runbook"] != "backend-databases" {
            assert!(command(s, "verify").ends_with(UNINSTALL), "{}", s["fqdn"]);
        }
    }
    // The rehearsal's estate runs Lync Server 2013 too: it has no Get-CsServerPatchVersion, so
    // only Lync's own read-back can verify; every server ends updated at Lync's build.
    let r = rehearse_json(&["--product", "lync2013"]);
    assert_eq!(r["build_target"], "5.0.8308.1182");
    for s in r["servers"].as_array().into_iter().flatten() {
        assert_eq!(s["result"], "updated", "{}: {}", s["fqdn"], s["error"]);
    }
}

/// A Lync Server 2013 Front End is not failed over (it has no such cmdlet): the rehearsal
/// says its services were stopped while the pool served its users, not that it failed over.
#[test]
fn a_lync_front_ends_rehearsal_does_not_claim_a_failover() {
    let o = common::run(&["rehearse", "--product", "lync2013", "--server", "fe01.contoso.local"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Lync Server 2013 has no computer failover"), "{}", o.stdout);
    assert!(!o.stdout.contains("(failed over)"), "{}", o.stdout);
    let o = common::run(&["rehearse", "--server", "fe01.contoso.local"]);
    assert!(o.stdout.contains("(failed over)"), "{}", o.stdout);
}

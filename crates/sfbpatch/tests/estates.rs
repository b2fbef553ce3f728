//! Whole estates through the built binary (issue 10): `run --transport sim` of every fixture
//! and `rehearse` of the bundled example end with every database current (read through
//! `sim show`), each Front End updated exactly once, never two Front Ends of a pool failed
//! over together and no pool below quorum; a mirrored back end is refused before its outage
//! with the documented manual steps.

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/topology").join(name).display().to_string()
}

fn hosts(e: &Value) -> impl Iterator<Item = &Value> {
    e["hosts"].as_array().into_iter().flatten()
}

/// The estate's checks after a complete update.
fn assert_whole_estate_updated(e: &Value, what: &str) {
    let target = e["package_build"].as_str().unwrap_or_else(|| panic!("{what}: no package build")).to_owned();
    let mut databases = 0;
    for h in hosts(e) {
        for d in h["databases"].as_array().into_iter().flatten() {
            databases += 1;
            assert_eq!(
                d["schema"].as_str(),
                Some(target.as_str()),
                "{what}: {} {} {}",
                h["fqdn"],
                d["instance"],
                d["name"]
            );
        }
        let installs = h["oplog"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|op| op["step"] == "install-update" && op["applied"] == true)
            .count();
        match h["role"].as_str() {
            Some("front-end") | Some("standard-edition") => {
                assert_eq!(installs, 1, "{what}: {} installed {installs} times", h["fqdn"])
            }
            _ => assert_eq!(installs, 0, "{what}: {} has no SfB to install", h["fqdn"]),
        }
        if h["sfb_installed"] == false {
            let sfb_ops = h["oplog"].as_array().into_iter().flatten().filter(|op| op["applied"] == true).count();
            assert_eq!(sfb_ops, 0, "{what}: something ran on the SQL-only {}", h["fqdn"]);
        }
    }
    assert!(databases > 0, "{what}: no database checked");
    for p in e["pools"].as_array().into_iter().flatten() {
        let windows = common::failover_windows(p);
        common::assert_failovers_never_overlap(p, what);
        if p["kind"] == "enterprise" {
            assert_eq!(windows.len(), p["machines"].as_array().map_or(0, Vec::len), "{what}: {} failovers", p["fqdn"]);
            assert!(p["quorum_lost_since"].is_null(), "{what}: {} lost quorum", p["fqdn"]);
            assert_eq!(p["signed_out"].as_array().map_or(0, Vec::len), 0, "{what}: {} users signed out", p["fqdn"]);
        }
    }
}

#[test]
fn every_fixture_runs_to_every_database_current_and_each_front_end_once() {
    for name in ["enterprise.xml", "enterprise-collocated.xml", "standard-edition.xml"] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (code, said, e) = common::run_estate(&fixture(name), dir.path(), |_| {});
        assert_eq!(code, 0, "{name}:\n{said}");
        assert_whole_estate_updated(&e, name);
        // The report from the journal: each pool's users moved once per Front End.
        let journal = dir.path().join("j.db").display().to_string();
        let o = sfbpatch()
            .args(["status", "--journal", &journal, "--format", "json"])
            .output()
            .unwrap_or_else(|x| panic!("{x}"));
        let status: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|x| panic!("{x}"));
        let id = status["run_id"].as_str().unwrap_or("").to_owned();
        let o = sfbpatch()
            .args(["report", &id, "--journal", &journal, "--format", "json"])
            .output()
            .unwrap_or_else(|x| panic!("{x}"));
        let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|x| panic!("{x}"));
        for p in e["pools"].as_array().into_iter().flatten().filter(|p| p["kind"] == "enterprise") {
            let row = report["pools"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["fqdn"] == p["fqdn"])
                .cloned()
                .unwrap_or_default();
            assert_eq!(row["moves"].as_u64(), p["machines"].as_array().map(|m| m.len() as u64), "{name}: {row}");
        }
    }
}

#[test]
fn the_example_rehearsal_leaves_no_database_behind() {
    let o = sfbpatch().args(["rehearse", "--format", "json", "--seed", "2"]).output().unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(v["servers"].as_array().into_iter().flatten().all(|s| s["result"] == "updated"), "{v}");
    assert_eq!(v["lagging_databases"].as_array().map(Vec::len), Some(0), "{}", v["lagging_databases"]);
    let moves: Vec<u64> = v["pools"].as_array().into_iter().flatten().filter_map(|p| p["moves"].as_u64()).collect();
    assert_eq!(moves, [3, 2, 0], "pool01's three Front Ends, pool02's two, the SE pool none");
    let front_ends = v["servers"].as_array().into_iter().flatten().filter(|s| s["role"] == "front-end").count();
    assert_eq!(front_ends, 5, "every Front End of the example in the rehearsal");
}

#[test]
fn a_mirrored_back_end_is_refused_before_its_outage_with_the_manual_steps() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (code, said, e) = common::run_estate(&fixture("enterprise.xml"), dir.path(), |e| {
        for h in e["hosts"].as_array_mut().into_iter().flatten() {
            if h["fqdn"] == "sql01.fabrikam.local" {
                h["mirrored"] = Value::Bool(true);
            }
        }
    });
    assert_eq!(code, 1, "{said}");
    for needle in [
        "mirrored",
        "Uninstall-CsMirrorDatabase -SqlServerFqdn sql01.fabrikam.local",
        "Install-CsMirrorDatabase",
        "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.fabrikam.local'",
    ] {
        assert!(said.contains(needle), "expected {needle:?} in:\n{said}");
    }
    assert!(
        !said.contains(">>> users' outage opened") || !said.contains("[sql01.fabrikam.local] >>>"),
        "no outage for sql01:\n{said}"
    );
    let sql01 = hosts(&e).find(|h| h["fqdn"] == "sql01.fabrikam.local").cloned().unwrap_or_default();
    let release = sql01["databases"][0]["schema"].clone();
    assert!(sql01["databases"].as_array().into_iter().flatten().all(|d| d["schema"] == release), "unchanged");
    assert_ne!(release.as_str(), e["package_build"].as_str(), "the databases were not updated");
    assert!(sql01["busy_intervals"].as_array().is_none_or(Vec::is_empty), "sql01 was never made unavailable");
    // Refused before the run: the pool's Front Ends were not touched either (they would run
    // ahead of databases that cannot be updated).
    for h in hosts(&e).filter(|h| h["role"] == "front-end") {
        let changed = h["oplog"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|op| op["applied"] == true && op["step"] != "test-databases");
        assert!(!changed, "{} was changed", h["fqdn"]);
        assert!(said.contains(h["fqdn"].as_str().unwrap_or("")), "{} named in the output", h["fqdn"]);
    }
    assert!(said.contains("cannot be updated as planned"), "{said}");
}

#[test]
fn a_restart_already_pending_leaves_the_server_untouched_with_the_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (code, said, e) = common::run_estate(&fixture("standard-edition.xml"), dir.path(), |e| {
        for h in e["hosts"].as_array_mut().into_iter().flatten() {
            h["pending_reboot"] = Value::Bool(true);
        }
    });
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("a restart is already pending") && said.contains("1603"), "{said}");
    for h in hosts(&e) {
        let changed = h["oplog"].as_array().into_iter().flatten().any(|op| op["applied"] == true);
        assert!(!changed, "{} was changed", h["fqdn"]);
        assert!(
            h["services"].as_array().into_iter().flatten().all(|s| s["running"] == true),
            "{} services stopped",
            h["fqdn"]
        );
    }
}

/// A restart pending on one Front End is found before any server of its pool starts (the
/// pre-flight), not when that Front End's turn comes: no other Front End is updated ahead
/// of databases that then cannot be updated (DOMAIN.md §4 rule 6).
#[test]
fn a_restart_pending_on_one_front_end_leaves_its_whole_pool_untouched() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (code, said, e) = common::run_estate(&fixture("enterprise.xml"), dir.path(), |e| {
        for h in e["hosts"].as_array_mut().into_iter().flatten() {
            if h["fqdn"] == "fe02.fabrikam.local" {
                h["pending_reboot"] = Value::Bool(true);
            }
        }
    });
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("a restart is already pending"), "{said}");
    for h in hosts(&e) {
        let changed = h["oplog"].as_array().into_iter().flatten().any(|op| op["applied"] == true);
        assert!(!changed, "{} was changed: {said}", h["fqdn"]);
    }
    for fe in ["fe01.fabrikam.local", "fe03.fabrikam.local"] {
        assert!(said.contains(fe), "{fe} named with its reason: {said}");
    }
}

//! Idempotent runs (issue 13, item 3): an estate already at the target build is reported
//! `already-current`, server by server, before anything changes — no services stopped, no
//! installer, no outage — and the run exits 0; `rehearse` of such an estate says the same.

mod common;

use common::{json, run};
use serde_json::Value;

/// The Skype for Business Server 2019 simulator's package build (`default_builds`).
const TARGET: &str = "7.0.2046.530";

fn init(estate: &str, extra: &[&str]) {
    let mut args = vec!["sim", "init", "--estate", estate, "--seed", "5"];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// `run --transport sim` of the persisted estate: (exit code, run JSON).
fn run_sim(estate: &str, journal: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "run",
        "--transport",
        "sim",
        "--estate",
        estate,
        "--package",
        "SkypeServerUpdateInstaller.exe",
        "--time-scale",
        "0",
        "--journal",
        journal,
        "--yes",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", o.stdout, o.stderr));
    (o.code, v)
}

/// Every server's result word, in plan order.
fn results(v: &Value) -> Vec<(String, String)> {
    v["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["fqdn"].as_str().unwrap_or("").to_owned(), s["result"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// Every host's operations that changed something (`applied`), and its services' down time.
fn changes(estate: &str) -> (Vec<String>, Vec<String>) {
    let e = json(&["sim", "show", "--estate", estate, "--format", "json"]);
    let mut applied = Vec::new();
    let mut downs = Vec::new();
    for h in e["hosts"].as_array().into_iter().flatten() {
        let fqdn = h["fqdn"].as_str().unwrap_or("");
        for op in h["oplog"].as_array().into_iter().flatten().filter(|op| op["applied"] == true) {
            applied.push(format!("{fqdn}: {}", op["command"]));
        }
        if h["down_intervals"].as_array().is_some_and(|d| !d.is_empty()) || !h["down_since"].is_null() {
            downs.push(fqdn.to_owned());
        }
    }
    (applied, downs)
}

fn assert_all_current(v: &Value, when: &str) {
    let r = results(v);
    assert_eq!(r.len(), 8, "{when}: the example's 8 servers in scope: {r:?}");
    for (fqdn, result) in &r {
        assert_eq!(result, "already-current", "{when}: {fqdn}");
    }
    assert_eq!(v["state"], "completed", "{when}");
}

#[test]
fn an_estate_already_at_the_target_is_left_alone_and_the_run_exits_0() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let journal = dir.path().join("j.db").display().to_string();
    init(&estate, &["--version", TARGET]);
    let (code, v) = run_sim(&estate, &journal, &[]);
    assert_eq!(code, 0, "{v}");
    assert_all_current(&v, "default target");
    let (applied, downs) = changes(&estate);
    assert_eq!(applied, Vec::<String>::new(), "nothing changed on any host");
    assert_eq!(downs, Vec::<String>::new(), "no host's services were stopped");
    // The same with the target named (it used to end "updated 530 → 530").
    let (code, v) = run_sim(&estate, &journal, &["--version", TARGET]);
    assert_eq!(code, 0, "{v}");
    assert_all_current(&v, "--version");
    for s in v["servers"].as_array().into_iter().flatten().filter(|s| s["fqdn"] != "sql01.contoso.local") {
        if s["fqdn"] != "sql02.contoso.local" {
            assert_eq!(s["build_before"], TARGET, "{s}");
        }
        assert_eq!(s["outage_minutes"], 0.0, "{s}");
    }
    assert_eq!(changes(&estate), (Vec::new(), Vec::new()));
}

#[test]
fn a_second_run_of_an_updated_estate_changes_nothing_and_exits_0() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let journal = dir.path().join("j.db").display().to_string();
    init(&estate, &[]);
    let (code, v) = run_sim(&estate, &journal, &[]);
    assert_eq!(code, 0, "{v}");
    assert!(results(&v).iter().all(|(_, r)| r == "updated"), "the first run updates: {v}");
    let first = changes(&estate);
    assert!(!first.0.is_empty(), "the first run changed the hosts");
    let (code, v) = run_sim(&estate, &journal, &[]);
    assert_eq!(code, 0, "{v}");
    assert_all_current(&v, "second run");
    assert_eq!(changes(&estate), first, "the second run applied nothing and stopped nothing");
}

#[test]
fn a_rehearsal_of_an_estate_at_the_target_reports_already_current() {
    let o = run(&["rehearse", "--from-build", TARGET, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    let r = results(&v);
    assert_eq!(r.len(), 8, "{r:?}");
    assert!(r.iter().all(|(_, x)| x == "already-current"), "{r:?}");
    for s in v["servers"].as_array().into_iter().flatten() {
        assert_eq!(s["outage_minutes"], 0.0, "{s}");
    }
    let text = run(&["rehearse", "--from-build", TARGET]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("Summary: 0 of 8 server(s) updated, 8 already current (left alone), 0 failed, 0 not started."),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains('⟦'), "{}", text.stdout);
    // An older package is still refused.
    let o = run(&["rehearse", "--from-build", "7.0.2046.531"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
}

//! Waves, the maintenance window and the failure budget through the built binary (issue 12,
//! item 3): `plan`'s wave fields and their constraints, the text plan and the checklist, and
//! `rehearse --window-end` / `--max-failures` stopping new servers with the reason.

mod common;

use common::{json, run};
use serde_json::Value;

const PKG: &str = "SkypeServerUpdateInstaller.exe";

fn servers(v: &Value) -> &Vec<Value> {
    v["servers"].as_array().unwrap_or_else(|| panic!("no servers: {v}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// Every server's wave, and the constraints between waves: one server of a pool per wave,
/// every `after` server in an earlier wave, at most `max` per wave.
fn check_waves(p: &Value, max: Option<usize>) -> Vec<(String, u64)> {
    let list = servers(p);
    let wave = |fqdn: &str| list.iter().find(|x| s(x, "fqdn") == fqdn).and_then(|x| x["wave"].as_u64());
    for a in list {
        let w = a["wave"].as_u64().unwrap_or(0);
        assert!(w >= 1, "{a}");
        for b in list {
            if a["fqdn"] != b["fqdn"] && !a["pool"].is_null() && a["pool"] == b["pool"] {
                assert_ne!(a["wave"], b["wave"], "{} and {} of one pool in one wave", a["fqdn"], b["fqdn"]);
            }
        }
        for after in a["after"].as_array().unwrap_or(&Vec::new()) {
            let before = wave(after.as_str().unwrap_or("")).unwrap_or(u64::MAX);
            assert!(before < w, "{} (wave {w}) after {after} (wave {before})", a["fqdn"]);
        }
    }
    if let Some(m) = max {
        let top = list.iter().filter_map(|x| x["wave"].as_u64()).max().unwrap_or(0);
        for k in 1..=top {
            assert!(list.iter().filter(|x| x["wave"].as_u64() == Some(k)).count() <= m, "wave {k}");
        }
    }
    let (est, bound) = (p["estimated_makespan_minutes"].as_f64(), p["makespan_lower_bound_minutes"].as_f64());
    assert!(est.zip(bound).is_some_and(|(e, b)| e >= b && b > 0.0), "{est:?} ≥ {bound:?}");
    list.iter().map(|x| (s(x, "fqdn").to_owned(), x["wave"].as_u64().unwrap_or(0))).collect()
}

#[test]
fn the_plan_gives_each_server_a_wave_and_the_estate_a_makespan() {
    let p = json(&["plan", "--package", PKG, "--format", "json"]);
    let waves = check_waves(&p, None);
    let want: Vec<(String, u64)> = [
        ("fe01.contoso.local", 1),
        ("fe02.contoso.local", 2),
        ("fe03.contoso.local", 3),
        ("fe11.contoso.local", 1),
        ("fe12.contoso.local", 2),
        ("se01.contoso.local", 1),
        ("sql01.contoso.local", 4),
        ("sql02.contoso.local", 3),
    ]
    .iter()
    .map(|(f, w)| ((*f).to_owned(), *w))
    .collect();
    assert_eq!(waves, want);
    assert_eq!(p["max_parallel"], Value::Null);
    assert_eq!(p["pairs"], serde_json::json!([]));
    // pool01's three Front Ends and its back end's databases, one after another, are the
    // longest chain that can never overlap: the schedule meets the bound.
    assert_eq!(p["estimated_makespan_minutes"], p["makespan_lower_bound_minutes"]);

    let one = json(&["plan", "--package", PKG, "--format", "json", "--max-parallel", "1"]);
    let waves = check_waves(&one, Some(1));
    let mut numbers: Vec<u64> = waves.iter().map(|(_, w)| *w).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=8).collect::<Vec<u64>>(), "one server at a time");
    assert_eq!(one["max_parallel"], 1);
    let total: f64 = servers(&one)
        .iter()
        .flat_map(|x| x["steps"].as_array().cloned().unwrap_or_default())
        .filter_map(|st| st["estimated_minutes"].as_f64())
        .sum();
    let bound = one["makespan_lower_bound_minutes"].as_f64().unwrap_or(0.0);
    assert!((bound - total).abs() < 0.01, "one at a time: the bound is the total work ({bound} vs {total})");
    check_waves(&json(&["plan", "--package", PKG, "--format", "json", "--max-parallel", "2"]), Some(2));
}

#[test]
fn the_text_plan_and_the_checklist_show_the_waves() {
    let text = run(&["plan", "--package", PKG]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("Waves: 4; estimated "), "{}", text.stdout);
    assert!(text.stdout.contains("(servers at once: unlimited)"), "{}", text.stdout);
    assert!(
        text.stdout.contains("fe03.contoso.local  [Front End]  pool01.contoso.local  (Lisboa)  wave 3"),
        "{}",
        text.stdout
    );
    let md = run(&["plan", "--package", PKG, "--format", "markdown", "--max-parallel", "3"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(md.stdout.contains("| Wave | Server |"), "{}", md.stdout);
    assert!(md.stdout.contains("| 4 | sql01.contoso.local |"), "{}", md.stdout);
    assert!(md.stdout.contains("(servers at once: 3)"), "{}", md.stdout);
    assert!(md.stdout.contains("Wave 1: it starts once every earlier wave has finished."), "{}", md.stdout);
    let es = run(&["plan", "--package", PKG, "--lang", "es"]);
    assert!(es.stdout.contains("Oleadas: 4;") && es.stdout.contains("oleada 1"), "{}", es.stdout);
    assert!(!es.stdout.contains('⟦'), "{}", es.stdout);
}

#[test]
fn a_window_already_over_starts_nothing() {
    let o = run(&["rehearse", "--window-end", "2020-01-01T00:00:00Z", "--format", "json"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let r: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    for sv in servers(&r) {
        assert_eq!(sv["result"], "not-started", "{sv}");
        assert_eq!(sv["error"], "not started: the maintenance window ended (2020-01-01T00:00:00Z)", "{sv}");
        assert_eq!(sv["timeline"], serde_json::json!([]), "nothing asked of {}", sv["fqdn"]);
    }
}

/// A server's first step (the preflight's `test-databases` of a back end aside).
fn first_start(sv: &Value) -> Option<f64> {
    sv["timeline"]
        .as_array()?
        .iter()
        .filter(|t| t["step"] != "test-databases")
        .filter_map(|t| t["start_minutes"].as_f64())
        .reduce(f64::min)
}

#[test]
fn a_window_ending_mid_run_leaves_the_later_servers_not_started() {
    // Rehearsals start their virtual clock now: +10 ends ten minutes into the run, after the
    // first wave started and before any server of the second.
    let o = run(&["rehearse", "--window-end", "+10", "--format", "json"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let r: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    let mut updated = Vec::new();
    for sv in servers(&r) {
        match first_start(sv) {
            Some(start) => {
                assert!(start < 10.0, "{} started at {start}", sv["fqdn"]);
                assert_eq!(sv["result"], "updated", "{} finished safely after the window", sv["fqdn"]);
                updated.push(s(sv, "fqdn").to_owned());
            }
            None => {
                assert_eq!(sv["result"], "not-started", "{sv}");
                assert_eq!(sv["error"], "not started: the maintenance window ended (+10)", "{sv}");
            }
        }
    }
    assert_eq!(updated, ["fe01.contoso.local", "fe11.contoso.local", "se01.contoso.local"]);
}

#[test]
fn past_the_failure_budget_no_new_server_starts() {
    let o = run(&[
        "rehearse",
        "--max-failures",
        "0",
        "--fault",
        "fe01.contoso.local:install-update:fail",
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let r: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    let result = |f: &str| servers(&r).iter().find(|x| x["fqdn"] == f).cloned().unwrap_or(Value::Null);
    assert_eq!(result("fe01.contoso.local")["result"], "failed");
    // In flight when fe01 failed: they finish.
    for f in ["fe11.contoso.local", "se01.contoso.local"] {
        assert_eq!(result(f)["result"], "updated", "{f}");
    }
    for f in ["fe12.contoso.local", "sql02.contoso.local"] {
        assert_eq!(result(f)["result"], "not-started", "{f}");
        assert_eq!(result(f)["error"], "not started: 1 server(s) had failed, more than --max-failures 0 allows", "{f}");
        assert_eq!(first_start(&result(f)), None, "{f} never started");
    }
    // The same fault with a budget of one failure: the rest of the estate goes on.
    let lenient = run(&[
        "rehearse",
        "--max-failures",
        "1",
        "--fault",
        "fe01.contoso.local:install-update:fail",
        "--format",
        "json",
    ]);
    assert_eq!(lenient.code, 1, "fe01 failed: {}", lenient.stderr);
    let lenient: Value = serde_json::from_str(&lenient.stdout).unwrap_or_else(|e| panic!("{e}"));
    let lenient_result = |f: &str| servers(&lenient).iter().find(|x| x["fqdn"] == f).map(|x| x["result"].clone());
    assert_eq!(lenient_result("fe12.contoso.local"), Some(Value::from("updated")));
}

#[test]
fn bad_window_and_budget_values_are_usage_errors() {
    for (flag, value) in [
        ("--window-end", "06:00"),
        ("--window-end", "2026-11-28T06:00:00"),
        ("--window-end", "+soon"),
        ("--max-failures", "101%"),
        ("--max-failures", "-1"),
        ("--max-failures", "two"),
    ] {
        let o = run(&["rehearse", flag, value]);
        assert_eq!(o.code, 2, "{flag} {value}: {}", o.stderr);
        assert!(o.stderr.contains(value), "{flag} {value}: {}", o.stderr);
    }
    let o = run(&["plan", "--package", PKG, "--max-parallel", "0"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

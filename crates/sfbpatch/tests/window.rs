//! The maintenance window across nights, through the built binary (issue 12, item 3, after
//! its adversarial review): a run its window stopped is resumed with a new `--window-end`
//! (and `--warn-before`, `--max-failures`), which the journal keeps as the run's; a closing
//! window or a spent failure budget never strands a pool's databases behind the Front Ends
//! the run updated (DOMAIN.md §4 rule 6); a rehearsal shows the run's own notices.

mod common;

use common::{json, run, testdata};
use serde_json::{Value, json as j};

const PKG: &str = "SkypeServerUpdateInstaller.exe";

fn servers(v: &Value) -> &Vec<Value> {
    v["servers"].as_array().unwrap_or_else(|| panic!("no servers: {v}"))
}

fn server<'a>(v: &'a Value, fqdn: &str) -> &'a Value {
    servers(v).iter().find(|s| s["fqdn"] == fqdn).unwrap_or_else(|| panic!("no {fqdn} in {v}"))
}

/// A rehearsed server's first step (the preflight's `test-databases` of a back end aside).
fn first_start(sv: &Value) -> Option<f64> {
    sv["timeline"]
        .as_array()?
        .iter()
        .filter(|t| t["step"] != "test-databases")
        .filter_map(|t| t["start_minutes"].as_f64())
        .reduce(f64::min)
}

fn rehearsal(args: &[&str]) -> Value {
    let o = run(args);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}\n{}", o.stdout, o.stderr))
}

/// The run's stored parameters, as the journal holds them.
fn stored_params(journal: &str, id: &str) -> Value {
    let c = rusqlite::Connection::open(journal).unwrap_or_else(|e| panic!("{e}"));
    let text: String =
        c.query_row("SELECT params FROM runs WHERE id = ?1", [id], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_run_its_window_stopped_is_resumed_with_a_new_window() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate").display().to_string();
    let journal = dir.path().join("journal.db").display().to_string();
    let init = run(&["sim", "init", "--estate", &estate]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    // Night 1: the simulated estate's virtual clock starts now; the window ends ten minutes
    // in, after the first wave started and before the second.
    let base = ["--journal", journal.as_str()];
    let night1 = run(&[
        &["run", "--transport", "sim", "--estate", &estate, "--package", PKG, "--yes", "--window-end", "+10"][..],
        &base[..],
    ]
    .concat());
    assert_eq!(night1.code, 1, "{}\n{}", night1.stdout, night1.stderr);
    let hint = "The run did not complete: its maintenance window ended. To continue it, give the next window's end \
                (and --warn-before, --max-failures if they change):";
    assert!(night1.stdout.contains(hint), "{}", night1.stdout);
    let line = night1
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("sfbpatch resume "))
        .unwrap_or_else(|| panic!("no resume line in {}", night1.stdout));
    assert!(line.ends_with(" --window-end <TIME>"), "{line}");
    let id = line.split_whitespace().nth(2).unwrap_or_else(|| panic!("{line}")).to_owned();
    let status = json(&["status", &id, "--journal", &journal, "--format", "json"]);
    let states: Vec<&str> = servers(&status).iter().filter_map(|s| s["state"].as_str()).collect();
    assert!(states.contains(&"not-started") && states.contains(&"updated"), "{status}");

    // Resumed without a new window: the stored one is over, nothing starts, the same hint.
    let again = run(&[&["resume", &id][..], &base[..]].concat());
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stdout.contains(hint), "{}", again.stdout);

    // Night 2: a new window, marks and failure budget; the remaining servers are updated.
    let night2 = run(&[
        &["resume", &id, "--window-end", "+600", "--warn-before", "15", "--max-failures", "2", "--format", "json"][..],
        &base[..],
    ]
    .concat());
    assert_eq!(night2.code, 0, "{}\n{}", night2.stdout, night2.stderr);
    let done: Value = serde_json::from_str(&night2.stdout).unwrap_or_else(|e| panic!("{e}: {}", night2.stdout));
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(servers(&done).len(), 8);
    for s in servers(&done) {
        assert_eq!(s["result"], "updated", "{s}");
    }
    // The new values are the run's parameters from now on.
    let p = stored_params(&journal, &id);
    assert_eq!(p["window_end"]["label"], "+600", "{p}");
    assert_eq!(p["warn_before"], j!([15.0]), "{p}");
    assert_eq!(p["max_failures"], "2", "{p}");
    assert_eq!(p["transport"], "sim", "the rest kept: {p}");
}

#[test]
fn resume_refuses_bad_window_and_budget_values() {
    for (flag, value) in [("--window-end", "06:00"), ("--max-failures", "two"), ("--warn-before", "soon")] {
        let o = run(&["resume", "run-1", flag, value]);
        assert_eq!(o.code, 2, "{flag} {value}: {}", o.stderr);
        assert!(o.stderr.contains(value), "{flag} {value}: {}", o.stderr);
    }
}

#[test]
fn a_closing_window_lets_the_databases_follow_their_updated_front_ends() {
    let roles = testdata("topology/roles.xml");
    for scope in ["backends", "all"] {
        // fe01 and fe02 (pool01) are updated inside the window; the window ends while fe02
        // runs; sql01's database update is the finishing work of pool01 and still starts.
        let r = rehearsal(&["rehearse", &roles, "--scope", scope, "--window-end", "+60", "--format", "json"]);
        assert_eq!(r["lagging_databases"], j!([]), "{scope}: {}", r["lagging_databases"]);
        for f in ["fe01.fabrikam.local", "fe02.fabrikam.local", "se03.fabrikam.local", "sql01.fabrikam.local"] {
            assert_eq!(server(&r, f)["result"], "updated", "{scope}: {f}");
        }
        let sql01 = first_start(server(&r, "sql01.fabrikam.local")).unwrap_or(0.0);
        assert!(sql01 >= 60.0, "{scope}: sql01 started after the window's end ({sql01}), or this proves nothing");
        // New servers after the window: none; pool02's databases wait with it.
        for f in ["fe11.fabrikam.local", "fe12.fabrikam.local", "sql02.fabrikam.local"] {
            let s = server(&r, f);
            assert_eq!(s["result"], "not-started", "{scope}: {f}");
            assert_eq!(s["error"], "not started: the maintenance window ended (+60)", "{scope}: {f}");
            assert_eq!(first_start(s), None, "{scope}: {f}");
        }
    }
}

#[test]
fn a_spent_failure_budget_lets_a_pools_databases_follow_its_front_ends() {
    let roles = testdata("topology/roles.xml");
    // fe11 (pool02, paired with pool01) fails after pool01's Front Ends were updated: the
    // budget stops new servers, not pool01's databases.
    let r = rehearsal(&[
        "rehearse",
        &roles,
        "--max-failures",
        "0",
        "--fault",
        "fe11.fabrikam.local:install-update:fail",
        "--format",
        "json",
    ]);
    assert_eq!(server(&r, "fe11.fabrikam.local")["result"], "failed");
    let failed_at = server(&r, "fe11.fabrikam.local")["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|t| Some(t["start_minutes"].as_f64()? + t["duration_minutes"].as_f64()?))
        .unwrap_or(f64::MAX);
    let sql01 = server(&r, "sql01.fabrikam.local");
    assert_eq!(sql01["result"], "updated", "{sql01}");
    assert!(first_start(sql01).is_some_and(|s| s >= failed_at), "sql01 started after the failure: {sql01}");
    assert_eq!(r["lagging_databases"], j!([]), "{}", r["lagging_databases"]);
    for f in ["fe12.fabrikam.local", "sql02.fabrikam.local"] {
        let s = server(&r, f);
        assert_eq!(s["result"], "not-started", "{f}");
        assert_eq!(s["error"], "not started: 1 server(s) had failed, more than --max-failures 0 allows", "{f}");
    }
}

#[test]
fn a_rehearsal_shows_the_runs_own_notices() {
    let args = ["rehearse", "--window-end", "+30", "--warn-before", "10", "--warn-before", "5"];
    let r = rehearsal(&[&args[..], &["--format", "json"][..]].concat());
    let w = r["warnings"].as_array().unwrap_or_else(|| panic!("no warnings: {r}"));
    let texts: Vec<&str> = w.iter().filter_map(|x| x["message"].as_str()).collect();
    assert_eq!(
        texts,
        [
            "10 min to the end of the maintenance window (+30): after it no new server starts",
            "5 min to the end of the maintenance window (+30): after it no new server starts",
            "the maintenance window ended (+30): no new server starts; the servers already running finish",
        ],
        "{w:?}"
    );
    assert_eq!((w[0]["at_minutes"].as_f64(), w[1]["at_minutes"].as_f64()), (Some(20.0), Some(25.0)), "{w:?}");
    let ended = w[2]["at_minutes"].as_f64().unwrap_or(0.0);
    assert!(ended >= 30.0, "{w:?}");

    let text = run(&args);
    assert_eq!(text.code, 1, "{}", text.stderr);
    for want in [
        "! at 20 min: 10 min to the end of the maintenance window (+30): after it no new server starts",
        "! at 25 min: 5 min to the end of the maintenance window (+30): after it no new server starts",
    ] {
        assert!(text.stdout.lines().any(|l| l == want), "missing {want:?} in\n{}", text.stdout);
    }
    let end = "min: the maintenance window ended (+30): no new server starts; the servers already running finish";
    assert!(text.stdout.lines().any(|l| l.starts_with("! at 3") && l.ends_with(end)), "{}", text.stdout);
    let es = run(&[&args[..], &["--lang", "es"][..]].concat());
    assert!(es.stdout.contains("! a los 20 min: "), "{}", es.stdout);
    assert!(!es.stdout.contains('⟦'), "{}", es.stdout);

    let budget = rehearsal(&[
        "rehearse",
        "--max-failures",
        "0",
        "--fault",
        "fe01.contoso.local:install-update:fail",
        "--format",
        "json",
    ]);
    let texts: Vec<&str> =
        budget["warnings"].as_array().into_iter().flatten().filter_map(|x| x["message"].as_str()).collect();
    assert_eq!(
        texts,
        [
            "1 server(s) failed, more than --max-failures 0 allows: no new server starts; the servers already running finish"
        ]
    );
}

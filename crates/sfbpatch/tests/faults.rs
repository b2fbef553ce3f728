//! A fault through `sfbpatch run` with `--on-failure stop`: the server is left as it is and
//! the commands that bring it back are reported. Every fault kind at every step of every
//! runbook, with its exact expected end, is the fault matrix (tests/fault_matrix,
//! docs/fault-matrix.md), which also runs cells through the binary.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const HOST: &str = "se01.contoso.local";

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

struct Outcome {
    code: i32,
    result: String,
    services_running: bool,
    attempts: Vec<(String, String, u32, Option<String>)>,
    recovery: Vec<String>,
}

fn run_with(dir: &Path, fault: &str, extra: &[&str]) -> Outcome {
    let estate = dir.join("e");
    let journal = dir.join("j.db");
    let e = estate.display().to_string();
    let j = journal.display().to_string();
    let init = sfbpatch()
        .args(["sim", "init", "--estate", &e, "--seed", "4", "--fault", fault])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let mut args = vec![
        "run",
        "--transport",
        "sim",
        "--estate",
        &e,
        "--server",
        HOST,
        "--package",
        "SkypeServerUpdateInstaller.exe",
    ];
    args.extend_from_slice(&["--journal", &j, "--yes", "--format", "json"]);
    args.extend_from_slice(extra);
    let o = sfbpatch().args(&args).output().unwrap_or_else(|x| panic!("{x}"));
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|x| panic!("{fault}: {x}: {}", String::from_utf8_lossy(&o.stderr)));
    let run_id = v["run_id"].as_str().unwrap_or("").to_owned();
    let s = &v["servers"][0];
    let journal = sfbpatch_journal::Journal::open(&journal).unwrap_or_else(|x| panic!("{x}"));
    // The journal's rows are typed; this test compares their words.
    let attempts = journal
        .attempts(&run_id)
        .unwrap_or_else(|x| panic!("{x}"))
        .into_iter()
        .map(|(server, step, n, outcome)| (server, step.to_string(), n, outcome.map(|o| o.to_string())))
        .collect();
    let show =
        sfbpatch().args(["sim", "show", "--estate", &e, "--format", "json"]).output().unwrap_or_else(|x| panic!("{x}"));
    let est: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|x| panic!("{x}"));
    let host = est["hosts"].as_array().and_then(|h| h.iter().find(|h| h["fqdn"] == HOST).cloned()).unwrap_or_default();
    let services_running =
        host["services"].as_array().into_iter().flatten().filter(|s| s["kind"] != "sql").all(|s| s["running"] == true);
    Outcome {
        code: o.status.code().unwrap_or(-1),
        result: s["result"].as_str().unwrap_or("").to_owned(),
        services_running,
        attempts,
        recovery: s["recovery"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect(),
    }
}

fn attempts_of<'a>(o: &'a Outcome, step: &str) -> Vec<&'a (String, String, u32, Option<String>)> {
    o.attempts.iter().filter(|a| a.0 == HOST && a.1 == step).collect()
}

#[test]
fn on_failure_stop_leaves_the_server_and_reports_the_commands() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = run_with(dir.path(), &format!("{HOST}:update-databases:fail"), &["--on-failure", "stop"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.result, "failed");
    assert!(!o.services_running, "left as it was");
    assert!(o.recovery.iter().any(|c| c.starts_with("Install-CsDatabase")), "{:?}", o.recovery);
    assert!(attempts_of(&o, "recovery").is_empty());
}

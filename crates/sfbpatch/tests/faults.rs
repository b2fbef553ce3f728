//! Every fault kind at every step of the outage window, through `sfbpatch run`: the end
//! state is retried-and-completed, or restored-and-failed, and the journal holds every attempt.
//! The seed's procedure, with its outage window, runs on a Standard Edition server (a SQL-only
//! back end's only outage step is its databases' update, run from a Front End).

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;

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
fn every_fault_kind_at_every_outage_step() {
    let runbook = Runbook::StandardEdition;
    let steps: Vec<StepId> =
        runbook.steps().iter().copied().filter(|s| runbook.in_outage(*s) && *s != StepId::CloseShells).collect();
    let mut seen = std::collections::BTreeMap::new();
    for step in &steps {
        for kind in ["fail", "hang", "slow=1.5", "disconnect", "reboot"] {
            if kind == "reboot" && *step != StepId::InstallUpdate {
                continue;
            }
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let fault = format!("{HOST}:{step}:{kind}");
            let o = run_with(dir.path(), &fault, &[]);
            let tried = attempts_of(&o, step.as_str());
            assert!(!tried.is_empty(), "{fault}: no attempt journaled");
            let first = tried[0].3.clone().unwrap_or_default();
            match o.result.as_str() {
                "updated" => {
                    assert_eq!(o.code, 0, "{fault}");
                    assert!(o.services_running, "{fault}");
                    if kind == "hang" || (kind == "disconnect" && step.spec().safe_to_repeat) {
                        assert_eq!(first, "failed", "{fault}: the faulted attempt is journaled");
                        assert!(tried.len() >= 2, "{fault}: retried");
                    }
                }
                "failed" => {
                    assert_eq!(o.code, 1, "{fault}");
                    assert!(o.services_running, "{fault}: service was brought back");
                    assert!(o.recovery.is_empty(), "{fault}: nothing left for the operator");
                    assert!(
                        kind == "fail" || *step == StepId::InstallUpdate,
                        "{fault}: only a definite error or the install fails"
                    );
                    let recovery = attempts_of(&o, "recovery");
                    if *step != StepId::StopServices {
                        assert!(!recovery.is_empty(), "{fault}: recovery journaled");
                    }
                }
                other => panic!("{fault}: {other}"),
            }
            *seen.entry((kind, o.result.clone())).or_insert(0) += 1;
        }
    }
    // Both end states occur: retried/completed and restored/failed.
    assert!(seen.keys().any(|(_, r)| r == "updated") && seen.keys().any(|(_, r)| r == "failed"), "{seen:?}");
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

//! A handful of cells through the built binary (`sim init --fault`, then `run --transport
//! sim`): each must end exactly as the same cell in-process.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::ServerResult;
use sfbpatch_sim::fault::FaultKind;

use crate::expected::kind_word;
use crate::{SEED, fixtures, in_process};

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL").env_remove("LC_ALL");
    c
}

/// What the binary reports of the faulted server: (result, attempts of the step, a recovery
/// attempt ran, services running, failed over, recovery commands listed).
#[derive(Debug, PartialEq)]
pub struct Seen {
    pub result: ServerResult,
    pub attempts: u32,
    pub restored: bool,
    pub services_running: bool,
    pub failed_over: bool,
    pub recovery_listed: bool,
}

fn through_binary(dir: &Path, host: &str, fault: &str) -> Seen {
    let (e, j) = (dir.join("e").display().to_string(), dir.join("j.db").display().to_string());
    let seed = SEED.to_string();
    let init = sfbpatch()
        .args(["sim", "init", "--estate", &e, "--seed", &seed, "--fault", fault])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(init.status.success(), "{fault}: {}", String::from_utf8_lossy(&init.stderr));
    let o = sfbpatch()
        .args(["run", "--transport", "sim", "--estate", &e, "--server", host, "--journal", &j, "--yes"])
        .args(["--package", "SkypeServerUpdateInstaller.exe", "--format", "json"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|x| panic!("{fault}: {x}: {}", String::from_utf8_lossy(&o.stderr)));
    let s = v["servers"].as_array().and_then(|a| a.iter().find(|s| s["fqdn"] == host)).cloned().unwrap_or_default();
    let run_id = v["run_id"].as_str().unwrap_or("").to_owned();
    let journal = sfbpatch_journal::Journal::open(Path::new(&j)).unwrap_or_else(|x| panic!("{x}"));
    let rows = journal.attempts(&run_id).unwrap_or_else(|x| panic!("{x}"));
    let step = fault.split(':').nth(1).unwrap_or("");
    let of = |name: &str| rows.iter().filter(|(sv, st, n, _)| sv == host && st.to_string() == name && *n > 0).count();
    let show =
        sfbpatch().args(["sim", "show", "--estate", &e, "--format", "json"]).output().unwrap_or_else(|x| panic!("{x}"));
    let est: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|x| panic!("{x}"));
    let h = est["hosts"].as_array().and_then(|a| a.iter().find(|h| h["fqdn"] == host)).cloned().unwrap_or_default();
    let services = h["services"].as_array().cloned().unwrap_or_default();
    Seen {
        result: s["result"].as_str().unwrap_or("").parse().unwrap_or_else(|x| panic!("{fault}: {x:?}: {s}")),
        attempts: of(step) as u32,
        restored: of("recovery") > 0,
        services_running: services.iter().filter(|x| x["kind"] != "fabric").all(|x| x["running"] == true),
        failed_over: h["failed_over"] == true,
        recovery_listed: s["recovery"].as_array().is_some_and(|a| !a.is_empty()),
    }
}

#[test]
fn cells_through_the_binary_end_as_in_process() {
    let fixtures = fixtures();
    let cells = [
        (sfbpatch_core::scope::Runbook::StandardEdition, StepId::StagePackage, FaultKind::Disconnect),
        (sfbpatch_core::scope::Runbook::StandardEdition, StepId::StopServices, FaultKind::Fail),
        (sfbpatch_core::scope::Runbook::StandardEdition, StepId::StartW3svc, FaultKind::Disconnect),
        (sfbpatch_core::scope::Runbook::StandardEdition, StepId::InstallUpdate, FaultKind::Hang),
        (sfbpatch_core::scope::Runbook::FrontEnd, StepId::Failback, FaultKind::Fail),
        (sfbpatch_core::scope::Runbook::FrontEnd, StepId::Readiness, FaultKind::Busy),
    ];
    for (runbook, step, kind) in cells {
        let f = fixtures.iter().find(|f| f.runbook == runbook).unwrap_or_else(|| panic!("{runbook}"));
        let fault = format!("{}:{step}:{}", f.server, kind_word(&kind));
        let (mine, _) = in_process(f, step, &kind);
        let want = Seen {
            result: mine.result,
            attempts: mine.attempts,
            restored: mine.restored,
            services_running: mine.services_running,
            failed_over: mine.failed_over,
            recovery_listed: mine.recovery_listed,
        };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(through_binary(dir.path(), f.server.as_str(), &fault), want, "{fault}");
    }
}

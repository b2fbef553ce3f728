//! Issue 9: with servers of different pools running at the same time, every attempt's output
//! reaches the journal and the HTML report.
//!
//! The estate (`tests/data/many-pools.toml`): six Enterprise pools, each with its Front Ends
//! and its own back end, and two Standard Edition servers: eight pools, all patched at once
//! (the default `--max-parallel` is one server per pool, every pool at once). Each entry is
//! checked for the printing steps of its own runbook.
//!
//! What the simulator prints for each step (crates/sfbpatch-sim, `exec`), and so what must be
//! in the journal after a run:
//! - `check-role`: `Get-CsAdminRoleAssignment` lists the account's roles (`CsAdministrator`…);
//! - `stage-package`: `Get-FileHash` prints its table (`Algorithm Hash Path`);
//! - `stop-w3svc` / `start-w3svc`: `net` says the service "was stopped/started successfully";
//! - `update-databases`: `Install-CsDatabase -Update` says "Updated databases: …";
//! - `test-databases` / `check-databases`: `Test-CsDatabase` lists each `DatabaseName`;
//! - `verify`: the service tables and `Get-CsServerPatchVersion`'s (`ComponentName Version`);
//! - `install-logs` (the engine's own work): the installer's log ("Starting update to …", and
//!   at its end "Updates were installed successfully (build)").
//!
//! Silent on success, so not checked: `install-update` (the installer is a GUI program started
//! with `Start-Process -Wait -PassThru`, its process kept in a variable: what it says goes to
//! its log, DOMAIN.md §5), `open-shell` and `reopen-shell` (`Import-Module`),
//! `stop-services`, `stop-services-again` and `start-services` (`Stop-`/`Start-CsWindowsService`),
//! `close-shells` (no command).
//!
//! Before the fix, the journal kept one output buffer for all servers and emptied it whenever
//! any other event arrived: on this estate the release before it (5224bbf) lost the
//! `install-update` output of four of the eight servers (sql01, sql03, sql04, se01), in the
//! journal and so in the report; this test failed on it.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use sfbpatch_core::vocab::{Activity, Outcome};
use sfbpatch_journal::{AttemptRecord, Journal};

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

/// The report's escaping of element content.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// (step word, text its output must contain), for the entries whose runbook has the step
/// (`install-logs` for those that install).
const PRINTING: [(&str, &str); 10] = [
    ("check-role", "CsAdministrator"),
    ("stage-package", "SHA256"),
    ("stop-w3svc", "stopped successfully"),
    ("start-w3svc", "started successfully"),
    ("update-databases", "Updated databases"),
    ("test-databases", "DatabaseName"),
    ("check-databases", "DatabaseName"),
    ("verify", "ComponentName"),
    ("install-logs", "Starting update to"),
    ("install-logs", "Updates were installed successfully"),
];

#[test]
fn every_attempt_that_printed_keeps_its_output_in_the_journal_and_the_html_report_when_pools_run_at_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let topology = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/many-pools.toml").display().to_string();
    let estate = dir.path().join("estate").display().to_string();
    let journal = dir.path().join("journal.db");
    let j = journal.display().to_string();
    let init =
        sfbpatch().args(["sim", "init", &topology, "--estate", &estate]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let run = sfbpatch()
        .args(["run", &topology, "--transport", "sim", "--estate", &estate])
        .args(["--package", "SkypeServerUpdateInstaller.exe", "--journal", &j, "--yes", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&run.stderr)));
    assert_eq!(v["state"], "completed", "{v}");
    let id = v["run_id"].as_str().unwrap_or_default().to_owned();
    let servers: Vec<String> =
        v["servers"].as_array().into_iter().flatten().filter_map(|s| s["fqdn"].as_str().map(str::to_owned)).collect();
    // Each entry's steps, from the plan.
    let plan = sfbpatch()
        .args(["plan", &topology, "--package", "SkypeServerUpdateInstaller.exe", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap_or_else(|e| panic!("{e}"));
    let has = |server: &str, step: &str| {
        let step = if step == "install-logs" { "install-update" } else { step };
        plan["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["fqdn"] == server))
            .and_then(|s| s["steps"].as_array())
            .is_some_and(|st| st.iter().any(|x| x["id"] == step))
    };
    let runbook = |r: &str| plan["servers"].as_array().into_iter().flatten().filter(|s| s["runbook"] == r).count();
    assert_eq!(
        (runbook("front-end"), runbook("backend-databases"), runbook("standard-edition"), servers.len()),
        (12, 6, 2, 20),
        "two Front Ends and a back end per Enterprise pool, and two Standard Edition servers"
    );

    let attempts: Vec<AttemptRecord> =
        Journal::open(&journal).and_then(|jr| jr.attempt_records(&id)).unwrap_or_else(|e| panic!("{e}"));

    // The pools really ran at once: when some install started, at least three servers were
    // installing (the most at any install's start; which start that is depends on the
    // simulated durations).
    let installs: Vec<&AttemptRecord> = attempts.iter().filter(|a| a.step.as_str() == "install-update").collect();
    let installing_at = |t: i64| -> BTreeSet<&str> {
        installs
            .iter()
            .filter(|a| a.started_ms <= t && a.finished_ms.is_some_and(|f| f >= t))
            .map(|a| a.server.as_str())
            .collect()
    };
    let at_once = installs.iter().map(|a| installing_at(a.started_ms)).max_by_key(BTreeSet::len).unwrap_or_default();
    assert!(at_once.len() >= 3, "servers installing at once: {at_once:?}");

    // Every printing step of every server has its output in the journal.
    let mut missing = Vec::new();
    for server in &servers {
        for (step, text) in PRINTING.into_iter().filter(|(step, _)| has(server, step)) {
            let step: Activity = step.parse().unwrap_or_else(|e| panic!("{e}"));
            let kept = attempts
                .iter()
                .filter(|a| &a.server == server && a.step == step && a.outcome == Some(Outcome::Succeeded))
                .any(|a| a.stdout.contains(text));
            if !kept {
                missing.push(format!("{server} {step}"));
            }
        }
    }
    assert!(missing.is_empty(), "output missing from the journal: {missing:?}");

    // And in the HTML report, escaped, under its server.
    let page = dir.path().join("report.html");
    let o = sfbpatch()
        .args(["report", &id, "--journal", &j, "--format", "html", "-o", &page.display().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    let mut absent = Vec::new();
    for a in attempts.iter().filter(|a| !a.stdout.trim().is_empty() || !a.stderr.trim().is_empty()) {
        let section_start = html
            .find(&format!("<details><summary>{} ", esc(&a.server)))
            .unwrap_or_else(|| panic!("no log section for {}", a.server));
        let section = &html[section_start..];
        let section = &section[..section.find("</details>").unwrap_or(section.len())];
        for (text, pre) in [(&a.stdout, "<pre>"), (&a.stderr, "<pre class=\"bad\">")] {
            if !text.trim().is_empty() && !section.contains(&format!("{pre}{}</pre>", esc(text.trim_end()))) {
                absent.push(format!("{} {} #{}", a.server, a.step, a.attempt));
            }
        }
    }
    assert!(absent.is_empty(), "output missing from the HTML report: {absent:?}");
    let installed = html.matches("Updates were installed successfully").count();
    let installing = servers.iter().filter(|s| has(s, "install-update")).count();
    assert_eq!(installed, installing, "one install log ending in success per server that installs, in the report");
}

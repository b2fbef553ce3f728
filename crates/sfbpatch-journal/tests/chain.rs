//! The hash chain of a run's records (schema version 4): an intact run verifies clean; an
//! edited, deleted, inserted or reordered record is found, as what it is; a record with no
//! hash in a run begun before version 4 is unchained, not tampering.

use rusqlite::Connection;
use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, RunState};
use sfbpatch_engine::event::{AttemptOutput, Event, EventSink, StepOutcome};
use sfbpatch_journal::{Finding, Journal, Tamper};

const HOST: &str = "fe01.contoso.local";

/// A journal with run "r": one server, two steps, an outage and a warning.
fn journal() -> (tempfile::TempDir, std::path::PathBuf, Journal) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("j.db");
    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    j.begin_run("r", "{}", "{}", &[HOST.to_owned()], "me", false).unwrap_or_else(|e| panic!("{e}"));
    let h = Fqdn::parse(HOST).unwrap_or_else(|e| panic!("{e:?}"));
    let mut events = vec![Event::ServerStarted { server: h.clone(), at_ms: 0, build_before: None }];
    for (i, step) in [StepId::StopServices, StepId::InstallUpdate].into_iter().enumerate() {
        let at = i as u64 * 10;
        let step = Activity::Step(step);
        events.push(Event::StepStarted {
            server: h.clone(),
            step,
            attempt: 1,
            at_ms: at,
            command: Some(format!("cmd {i}")),
        });
        events.push(Event::StepFinished {
            server: h.clone(),
            step,
            attempt: 1,
            at_ms: at + 5,
            outcome: StepOutcome::Succeeded,
            output: AttemptOutput { exit_code: Some(0), stdout: "ok".into(), stderr: String::new() },
        });
    }
    events.push(Event::OutageOpened { server: h.clone(), at_ms: 1 });
    events.push(Event::Warning { server: Some(h.clone()), at_ms: 2, message: "slow".into() });
    events.push(Event::OutageClosed { server: h, at_ms: 30 });
    events.push(Event::RunFinished { at_ms: 40, state: RunState::Interrupted });
    let sink = j.sink("r");
    for e in &events {
        sink.emit(e).unwrap_or_else(|e| panic!("{e}"));
    }
    (dir, path, j)
}

fn tamper(path: &std::path::Path, sql: &str) {
    let c = Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    c.execute_batch(sql).unwrap_or_else(|e| panic!("{e}"));
}

fn verify(j: &Journal) -> Vec<Finding> {
    j.verify("r").unwrap_or_else(|e| panic!("{e}"))
}

fn finding(table: &str, record: &str, what: Tamper) -> Finding {
    Finding { table: table.into(), record: record.into(), what }
}

#[test]
fn an_intact_run_has_no_finding() {
    let (_d, _p, j) = journal();
    assert_eq!(verify(&j), vec![]);
}

#[test]
fn an_edited_command_is_found() {
    let (_d, p, j) = journal();
    tamper(&p, "UPDATE attempts SET command = 'Remove-Item C:\\' WHERE step = 'install-update'");
    assert_eq!(verify(&j), vec![finding("attempts", r#"["fe01.contoso.local","install-update",1]"#, Tamper::Edited)]);
}

#[test]
fn a_deleted_attempt_is_found() {
    let (_d, p, j) = journal();
    tamper(&p, "DELETE FROM attempts WHERE step = 'stop-services'");
    assert_eq!(verify(&j), vec![finding("attempts", r#"["fe01.contoso.local","stop-services",1]"#, Tamper::Deleted)]);
}

#[test]
fn an_inserted_success_is_found() {
    let (_d, p, j) = journal();
    tamper(
        &p,
        "INSERT INTO attempts(run_id, server, step, attempt, started_ms, finished_ms, outcome)
         VALUES ('r', 'fe01.contoso.local', 'verify', 1, 50, 51, 'succeeded')",
    );
    assert_eq!(verify(&j), vec![finding("attempts", r#"["fe01.contoso.local","verify",1]"#, Tamper::Inserted)]);
}

#[test]
fn reordered_attempts_are_found() {
    let (_d, p, j) = journal();
    tamper(
        &p,
        "UPDATE attempts SET step = 'x' WHERE step = 'stop-services';
         UPDATE attempts SET step = 'stop-services' WHERE step = 'install-update';
         UPDATE attempts SET step = 'install-update' WHERE step = 'x';",
    );
    let stop = r#"["fe01.contoso.local","stop-services",1]"#;
    let install = r#"["fe01.contoso.local","install-update",1]"#;
    assert_eq!(
        verify(&j),
        vec![
            finding("attempts", install, Tamper::Reordered { with: stop.into() }),
            finding("attempts", stop, Tamper::Reordered { with: install.into() }),
        ]
    );
}

#[test]
fn a_deleted_chain_entry_breaks_the_chain() {
    let (_d, p, j) = journal();
    tamper(&p, "DELETE FROM chain WHERE seq = 3");
    let f = verify(&j);
    assert_eq!(f.first(), Some(&finding("chain", "4", Tamper::ChainBroken { seq: 4 })), "{f:?}");
}

#[test]
fn records_without_a_hash_in_a_run_begun_before_version_4_are_unchained_not_tampering() {
    let (_d, p, j) = journal();
    // As a version 3 journal left it: no chain, no hashes.
    tamper(
        &p,
        "DELETE FROM chain; UPDATE servers SET hash = NULL; UPDATE attempts SET hash = NULL; UPDATE outages SET hash = NULL; UPDATE warnings SET hash = NULL;",
    );
    let f = verify(&j);
    assert_eq!(f.len(), 5, "{f:?}");
    assert!(f.iter().all(|x| x.what == Tamper::Unchained && !x.is_tampering()), "{f:?}");
}

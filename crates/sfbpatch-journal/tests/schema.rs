//! Schema versions: a journal of every earlier version opens (migrated) and resumes; one of a
//! later version is refused and left byte for byte as it was; an unknown word in a column is
//! reported as corrupt data, not a panic.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, Outcome, RunState, ServerResult, ServerState};
use sfbpatch_engine::event::{AttemptOutput, Event, EventSink, StepOutcome};
use sfbpatch_journal::{CURRENT_VERSION, Journal, JournalError};

/// The journal a run of the first release left when it was killed (SIGKILL) with three
/// servers in their outage (see `testdata/journal/README.md`).
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/journal/v1-killed/journal.db")
}

fn user_version(path: &Path) -> i64 {
    let c = Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"))
}

fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

/// A version-1 journal (the tables the first release created, emptied) with one run cut short
/// the way that release left it: sql01 in its outage with `install-update` started and not
/// finished, se01 updated, the leases held; and the older word `ok` for a success.
fn v1_journal(path: &Path) {
    std::fs::copy(fixture(), path).unwrap_or_else(|e| panic!("{e}"));
    let c = Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    for table in ["runs", "servers", "attempts", "outages", "warnings", "leases", "lease_breaks"] {
        c.execute(&format!("DELETE FROM {table}"), []).unwrap_or_else(|e| panic!("{e}"));
    }
    let exec = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
        c.execute(sql, p).unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    exec(
        "INSERT INTO runs(id, started_at, state, plan, params, holder) VALUES ('r1', '1795720772.579', 'running', '{}', '{}', 'op@host pid 1')",
        &[],
    );
    for (server, state, current) in
        [("sql01.contoso.local", "running", Some("install-update")), ("se01.contoso.local", "updated", None)]
    {
        exec(
            "INSERT INTO servers(run_id, server, state, current_step, build_before) VALUES ('r1', ?1, ?2, ?3, '7.0.2046.385')",
            params![server, state, current].as_ref(),
        );
        exec(
            "INSERT INTO leases(server, run_id, holder, acquired_at) VALUES (?1, 'r1', 'op@host pid 1', '1795720772.579')",
            params![server].as_ref(),
        );
    }
    let mut t = 0_i64;
    for step in StepId::ALL {
        t += 1000;
        let outcome = if step.as_str() == "check-role" { "ok" } else { "succeeded" };
        exec(
            "INSERT INTO attempts(run_id, server, step, attempt, command, started_ms, finished_ms, outcome, exit_code, stdout)
             VALUES ('r1', 'se01.contoso.local', ?1, 1, 'x', ?2, ?3, ?4, 0, 'out')",
            params![step.as_str(), t, t + 500, outcome].as_ref(),
        );
        if step == StepId::InstallUpdate {
            exec(
                "INSERT INTO attempts(run_id, server, step, attempt, command, started_ms) VALUES ('r1', 'sql01.contoso.local', ?1, 1, 'x', ?2)",
                params![step.as_str(), t].as_ref(),
            );
            break;
        }
        exec(
            "INSERT INTO attempts(run_id, server, step, attempt, command, started_ms, finished_ms, outcome, exit_code, stdout)
             VALUES ('r1', 'sql01.contoso.local', ?1, 1, 'x', ?2, ?3, ?4, 0, 'out')",
            params![step.as_str(), t, t + 500, outcome].as_ref(),
        );
    }
    exec("INSERT INTO outages(run_id, server, opened_ms) VALUES ('r1', 'sql01.contoso.local', 3000)", &[]);
    exec(
        "INSERT INTO outages(run_id, server, opened_ms, closed_ms) VALUES ('r1', 'se01.contoso.local', 3000, 9000)",
        &[],
    );
    exec("INSERT INTO warnings(run_id, server, at_ms, message) VALUES ('r1', NULL, 10, 'careful')", &[]);
}

#[test]
fn a_version_1_journal_is_migrated_reads_typed_and_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("journal.db");
    v1_journal(&path);
    assert_eq!(user_version(&path), 0, "the first releases did not set a version");

    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(user_version(&path), CURRENT_VERSION);
    let status = j.status("r1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.state, RunState::Running);
    let sql01 = &status.servers[0];
    assert_eq!(sql01.state, ServerState::Running);
    assert_eq!(sql01.current_step, Some(StepId::InstallUpdate));
    assert_eq!(sql01.completed_steps.first(), Some(&StepId::CheckRole), "the older word 'ok' counts as succeeded");
    assert_eq!(status.servers[1].state, ServerState::Updated);

    let resume = j.resume_state("r1").unwrap_or_else(|e| panic!("{e}"));
    let s = &resume.servers["sql01.contoso.local"];
    assert_eq!(s.in_flight, Some(StepId::InstallUpdate));
    assert!(s.outage_open);
    assert_eq!(s.finished, None);
    assert_eq!(s.build_before.as_ref().map(|b| b.to_string()).as_deref(), Some("7.0.2046.385"));
    assert!(s.completed.contains(&StepId::StopServices) && !s.completed.contains(&StepId::InstallUpdate));
    assert_eq!(resume.servers["se01.contoso.local"].finished, Some(ServerResult::Updated));

    // The resume takes the run up again: its lease, then new attempts numbered after the old.
    let servers = ["sql01.contoso.local".to_owned(), "se01.contoso.local".to_owned()];
    j.begin_run("r1", "{}", "{}", &servers, "op@host pid 2", false).unwrap_or_else(|e| panic!("{e}"));
    j.mark_running("r1").unwrap_or_else(|e| panic!("{e}"));
    let sink = j.sink("r1");
    let host = fqdn("sql01.contoso.local");
    let step = Activity::Step(StepId::InstallUpdate);
    for e in [
        Event::StepStarted { server: host.clone(), step, attempt: 1, at_ms: 20_000, command: Some("x".into()) },
        Event::StepFinished {
            server: host.clone(),
            step,
            attempt: 1,
            at_ms: 21_000,
            outcome: StepOutcome::Succeeded,
            output: AttemptOutput {
                exit_code: Some(0),
                stdout: "Updates were installed".into(),
                stderr: String::new(),
            },
        },
    ] {
        sink.emit(&e).unwrap_or_else(|e| panic!("{e}"));
    }
    let installs: Vec<_> = j
        .attempt_records("r1")
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|a| a.server == "sql01.contoso.local" && a.step == step)
        .map(|a| (a.attempt, a.outcome, a.stdout))
        .collect();
    assert_eq!(installs, [(1, None, String::new()), (2, Some(Outcome::Succeeded), "Updates were installed".into())]);
    assert_eq!(j.warnings("r1").map(|w| w.len()).ok(), Some(1));
}

#[test]
fn the_journal_a_killed_release_1_run_left_opens_with_its_servers_where_they_were() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("journal.db");
    std::fs::copy(fixture(), &path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(user_version(&path), 0);
    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(user_version(&path), CURRENT_VERSION);
    let runs = j.history().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, RunState::Running);
    let id = runs[0].run_id.clone();
    let resume = j.resume_state(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resume.servers.len(), 3);
    let sql01 = &resume.servers["sql01.contoso.local"];
    assert_eq!(sql01.in_flight, Some(StepId::InstallUpdate), "killed during the install");
    assert!(sql01.outage_open);
    for s in resume.servers.values() {
        assert_eq!(s.finished, None);
        assert!(s.completed.contains(&StepId::StopServices));
    }
    let records = j.attempt_records(&id).unwrap_or_else(|e| panic!("{e}"));
    assert!(records.iter().any(|a| a.outcome.is_none()), "attempts cut short are kept");
    assert!(records.iter().filter_map(|a| a.outcome).all(Outcome::is_success));
}

#[test]
fn a_journal_of_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("journal.db");
    {
        let c = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        c.execute_batch("CREATE TABLE future(x TEXT); INSERT INTO future VALUES ('from a later release');")
            .unwrap_or_else(|e| panic!("{e}"));
        c.pragma_update(None, "user_version", CURRENT_VERSION + 1).unwrap_or_else(|e| panic!("{e}"));
    }
    let before = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    match Journal::open(&path) {
        Err(JournalError::TooNew { found, known, .. }) => {
            assert_eq!((found, known), (CURRENT_VERSION + 1, CURRENT_VERSION));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer journal was opened"),
    }
    let message = Journal::open(&path).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("newer"), "{message}");
    assert_eq!(std::fs::read(&path).unwrap_or_default(), before, "not one byte changed");
    assert!(!dir.path().join("journal.db-wal").exists(), "not even switched to WAL");
}

#[test]
fn an_unknown_word_in_a_column_is_corrupt_data_not_a_panic() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("journal.db");
    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    j.begin_run("r1", "{}", "{}", &["sql01.contoso.local".to_owned()], "me", false).unwrap_or_else(|e| panic!("{e}"));
    let c = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
    c.execute("UPDATE servers SET state = 'exploded'", []).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(j.status("r1"), Err(JournalError::Corrupt { what: "server state", .. })));
    assert!(matches!(j.resume_state("r1"), Err(JournalError::Corrupt { .. })));
    c.execute("UPDATE servers SET state = 'running'", []).unwrap_or_else(|e| panic!("{e}"));
    c.execute("UPDATE runs SET state = 'exploded'", []).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(j.history(), Err(JournalError::Corrupt { what: "run state", .. })));
    assert!(matches!(j.run("r1"), Err(JournalError::Corrupt { .. })));
    c.execute("UPDATE runs SET state = 'running'", []).unwrap_or_else(|e| panic!("{e}"));
    c.execute(
        "INSERT INTO attempts(run_id, server, step, attempt, started_ms, outcome) VALUES ('r1', 'sql01.contoso.local', 'dance', 1, 0, 'succeeded')",
        [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = j.attempt_records("r1").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("dance"), "{err}");
    assert!(matches!(j.attempts("r1"), Err(JournalError::Corrupt { what: "activity", .. })));
}

//! The sink records each attempt's output from the event that ends it (issue 9): servers of
//! different pools interleaving their events lose nothing, and the live output stream is not
//! what is kept.

use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, Outcome, RunState, ServerResult, ServerState, Stream};
use sfbpatch_engine::event::{AttemptOutput, Event, EventSink, StepOutcome};
use sfbpatch_journal::{Journal, OUTPUT_LIMIT};

fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

fn out(stdout: &str, stderr: &str, code: i32) -> AttemptOutput {
    AttemptOutput { exit_code: Some(code), stdout: stdout.into(), stderr: stderr.into() }
}

#[test]
fn interleaved_servers_keep_every_attempts_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let j = Journal::open(&dir.path().join("j.db")).unwrap_or_else(|e| panic!("{e}"));
    let names = ["sql01.contoso.local".to_owned(), "sql02.contoso.local".to_owned(), "se01.contoso.local".to_owned()];
    j.begin_run("r", "{}", "{}", &names, "me", false).unwrap_or_else(|e| panic!("{e}"));
    let hosts: Vec<Fqdn> = names.iter().map(|n| fqdn(n)).collect();
    let install = Activity::Step(StepId::InstallUpdate);
    let mut events = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        events.push(Event::ServerStarted { server: h.clone(), at_ms: 0, build_before: None });
        events.push(Event::StepStarted {
            server: h.clone(),
            step: install,
            attempt: 1,
            at_ms: i as u64,
            command: None,
        });
    }
    // Every server prints, then every server ends, with other servers' events in between.
    for h in &hosts {
        events.push(Event::StepOutput {
            server: h.clone(),
            step: install,
            stream: Stream::Stdout,
            text: "live".into(),
        });
    }
    events.push(Event::Warning { server: None, at_ms: 5, message: "between".into() });
    for (i, h) in hosts.iter().enumerate().rev() {
        let failed = i == 2;
        events.push(Event::StepFinished {
            server: h.clone(),
            step: install,
            attempt: 1,
            at_ms: 100 + i as u64,
            outcome: if failed { StepOutcome::Failed { reason: "exit 1603".into() } } else { StepOutcome::Succeeded },
            output: out(&format!("installed on {h}\n"), if failed { "fatal <error> & more" } else { "" }, i as i32),
        });
    }
    events.push(Event::ServerFinished {
        server: hosts[2].clone(),
        at_ms: 200,
        result: ServerResult::Failed,
        error: Some("install".into()),
        recovery: vec!["Start-CsWindowsService".into()],
    });
    events.push(Event::RunFinished { at_ms: 300, state: RunState::Failed });
    let sink = j.sink("r");
    for e in &events {
        sink.emit(e).unwrap_or_else(|e| panic!("{e}"));
    }
    let records = j.attempt_records("r").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(records.len(), 3);
    for a in &records {
        assert_eq!(
            a.stdout,
            format!("installed on {}\n", a.server),
            "the output of the attempt's end, not the live text"
        );
        assert_eq!(a.step, install);
    }
    let se01 = records.iter().find(|a| a.server == "se01.contoso.local").unwrap_or_else(|| panic!("no se01"));
    assert_eq!((se01.exit_code, se01.stderr.as_str()), (Some(2), "fatal <error> & more"));
    assert_eq!((se01.outcome, se01.reason.as_deref()), (Some(Outcome::Failed), Some("exit 1603")));
    let status = j.status("r").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.state, RunState::Failed);
    assert_eq!(status.servers[2].state, ServerState::Failed);
    assert_eq!(status.servers[2].current_step, Some(StepId::InstallUpdate));
    assert_eq!(status.servers[2].recovery, ["Start-CsWindowsService"]);
    assert_eq!(status.servers[0].completed_steps, [StepId::InstallUpdate]);
    // The JSON keeps the words.
    let json = serde_json::to_value(&status).unwrap_or_default();
    assert_eq!(json["state"], "failed");
    assert_eq!(json["servers"][2]["current_step"], "install-update");
    assert_eq!(json["servers"][0]["state"], "running");
}

#[test]
fn output_beyond_the_limit_is_cut_with_a_marker() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let j = Journal::open(&dir.path().join("j.db")).unwrap_or_else(|e| panic!("{e}"));
    j.begin_run("r", "{}", "{}", &["sql01.contoso.local".to_owned()], "me", false).unwrap_or_else(|e| panic!("{e}"));
    let h = fqdn("sql01.contoso.local");
    let verify = Activity::Step(StepId::Verify);
    let sink = j.sink("r");
    let big = "x".repeat(OUTPUT_LIMIT + 10);
    for e in [
        Event::StepStarted { server: h.clone(), step: verify, attempt: 1, at_ms: 0, command: None },
        Event::StepFinished {
            server: h.clone(),
            step: verify,
            attempt: 1,
            at_ms: 1,
            outcome: StepOutcome::Succeeded,
            output: out(&big, &big, 0),
        },
    ] {
        sink.emit(&e).unwrap_or_else(|e| panic!("{e}"));
    }
    let a = &j.attempt_records("r").unwrap_or_else(|e| panic!("{e}"))[0];
    for s in [&a.stdout, &a.stderr] {
        assert!(s.starts_with(&big[..OUTPUT_LIMIT]));
        assert!(s.ends_with("[… 10 more bytes not kept]"), "{}", &s[OUTPUT_LIMIT..]);
    }
}

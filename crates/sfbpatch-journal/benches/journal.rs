//! Journal overhead: the events of 13 steps on 10 servers (start, output, end of each),
//! recorded durably (SQLite WAL, synchronous=FULL, on this machine's disk) against an
//! in-memory recorder, side by side. Target (issue 4): a few milliseconds per step at most.
//! Run with `cargo bench -p sfbpatch-journal`.

use std::time::{Duration, Instant};

use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, Stream};
use sfbpatch_engine::event::{AttemptOutput, Event, EventSink, Recorder, StepOutcome};
use sfbpatch_journal::Journal;

const OUT: &str = "Status Name\n------ ----\nStopped RTCSRV\n";

fn events(servers: &[Fqdn]) -> Vec<Event> {
    let mut v = Vec::new();
    let mut t = 0;
    for s in servers {
        v.push(Event::ServerStarted { server: s.clone(), at_ms: t, build_before: Some("7.0.2046.385".into()) });
        for id in StepId::ALL {
            t += 1000;
            v.push(Event::StepStarted {
                server: s.clone(),
                step: Activity::Step(id),
                attempt: 1,
                at_ms: t,
                command: Some("Stop-CsWindowsService".into()),
            });
            v.push(Event::StepOutput {
                server: s.clone(),
                step: Activity::Step(id),
                stream: Stream::Stdout,
                text: OUT.into(),
            });
            t += 60_000;
            v.push(Event::StepFinished {
                server: s.clone(),
                step: Activity::Step(id),
                attempt: 1,
                at_ms: t,
                outcome: StepOutcome::Succeeded,
                output: AttemptOutput { exit_code: Some(0), stdout: OUT.into(), stderr: String::new() },
            });
        }
    }
    v
}

fn time(sink: &dyn EventSink, evs: &[Event]) -> Duration {
    let start = Instant::now();
    for e in evs {
        if let Err(err) = sink.emit(e) {
            eprintln!("{err}");
            std::process::exit(2);
        }
    }
    start.elapsed()
}

fn main() {
    let servers: Vec<Fqdn> = (0..10).filter_map(|i| Fqdn::parse(&format!("sql{i:02}.contoso.local")).ok()).collect();
    let evs = events(&servers);
    let steps = (servers.len() * StepId::ALL.len()) as f64;
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let journal = match Journal::open(&dir.path().join("journal.db")) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let names: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
    if let Err(e) = journal.begin_run("bench", "{}", "{}", &names, "bench", false) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let recorder = Recorder::default();
    let mem = time(&recorder, &evs);
    let sink = journal.sink("bench");
    let durable = time(&sink, &evs);
    let per_step = durable.as_secs_f64() * 1000.0 / steps;
    println!(
        "in-memory recorder: {:>8.3} ms for {steps} steps ({:.4} ms/step)",
        mem.as_secs_f64() * 1e3,
        mem.as_secs_f64() * 1e3 / steps
    );
    println!("SQLite journal:     {:>8.3} ms for {steps} steps ({per_step:.3} ms/step)", durable.as_secs_f64() * 1e3);
    println!("ratio journal / memory: {:.0}x", durable.as_secs_f64() / mem.as_secs_f64().max(1e-9));
    if per_step > 5.0 {
        println!("FAIL: more than 5 ms per step");
        std::process::exit(1);
    }
    println!("ok: {per_step:.3} ms per step (target: a few ms at most)");
}

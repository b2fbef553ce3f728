//! A Front End that is failed over is always failed back (DOMAIN.md §2: failover stops and
//! disables its services): `sfbpatch run` killed with SIGKILL between a failover and its
//! failback, many times, and resumed each time, ends with every Front End failed back, each
//! updated exactly once, never two Front Ends of one pool failed over together; and a Ctrl-C
//! between failover and failback fails the Front End back before the process exits.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

fn sfbpatch(args: &[&str]) -> std::process::Output {
    Proc::new(bin()).args(args).env("LANG", "C.UTF-8").output().unwrap_or_else(|e| panic!("{e}"))
}

fn estate_json(estate: &Path) -> Value {
    let text = std::fs::read_to_string(estate.join("estate.json")).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// The Front Ends the journal shows failed over and not failed back (an attempt of
/// `failover` succeeded, and no later `failback`, nor a `recovery` — which fails back — did).
fn failed_over_now(journal: &str) -> Vec<String> {
    let Ok(c) = rusqlite::Connection::open(journal) else { return Vec::new() };
    let q = "SELECT a.server FROM attempts a WHERE a.step = 'failover' AND a.outcome = 'succeeded'
             AND NOT EXISTS (SELECT 1 FROM attempts b WHERE b.server = a.server AND b.step IN ('failback', 'recovery')
                             AND b.outcome = 'succeeded' AND b.started_ms >= a.started_ms)";
    let Ok(mut st) = c.prepare(q) else { return Vec::new() };
    st.query_map([], |r| r.get::<_, String>(0)).map(|rows| rows.filter_map(Result::ok).collect()).unwrap_or_default()
}

fn latest_run(journal: &str) -> Option<(String, String)> {
    let o = sfbpatch(&["status", "--journal", journal, "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).ok()?;
    Some((v["run_id"].as_str()?.to_owned(), v["state"].as_str()?.to_owned()))
}

fn start(est: &str, journal: &str, dir: &Path) -> Child {
    let mut cmd = Proc::new(bin());
    match latest_run(journal) {
        Some((id, _)) => cmd.args(["resume", &id, "--journal", journal]),
        None => cmd.args([
            "run",
            "--transport",
            "sim",
            "--estate",
            est,
            "--package",
            "SkypeServerUpdateInstaller.exe",
            "--time-scale",
            "0.004",
            "--journal",
            journal,
            "--yes",
        ]),
    };
    let log = std::fs::File::create(dir.join("last.log")).unwrap_or_else(|e| panic!("{e}"));
    cmd.env("LANG", "C.UTF-8").stdout(Stdio::null()).stderr(Stdio::from(log)).spawn().unwrap_or_else(|e| panic!("{e}"))
}

/// Every Front End's services enabled and running, every failover of the estate closed.
fn assert_every_front_end_back(e: &Value, when: &str) {
    for h in e["hosts"].as_array().into_iter().flatten().filter(|h| h["role"] == "front-end") {
        for s in h["services"].as_array().into_iter().flatten() {
            assert_eq!(s["disabled"], false, "{when}: {} {} is disabled", h["fqdn"], s["name"]);
            assert_eq!(s["running"], true, "{when}: {} {} is not running", h["fqdn"], s["name"]);
        }
    }
    for p in e["pools"].as_array().into_iter().flatten() {
        for f in p["failovers"].as_array().into_iter().flatten() {
            assert!(!f[2].is_null(), "{when}: {} still failed over in {}", f[0], p["fqdn"]);
        }
    }
}

/// SIGKILLs, each between a failover and its failback.
const KILLS: u32 = 10;

#[test]
fn killed_between_failover_and_failback_and_resumed_it_always_fails_back() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate");
    let journal = dir.path().join("journal.db").display().to_string();
    let est = estate.display().to_string();
    assert!(sfbpatch(&["sim", "init", "--estate", &est, "--seed", "7"]).status.success());
    let mut kills = 0;
    let mut delay_ms = 0u64;
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(300), "no completion after {kills} kills");
        if latest_run(&journal).is_some_and(|(_, s)| s == "completed") {
            break;
        }
        let mut child = start(&est, &journal, dir.path());
        // Wait for a Front End to be failed over, then kill the process at a moment inside
        // the window (during the install, the shell, IIS or the failback itself).
        let mut exited = None;
        let mut window_since: Option<Instant> = None;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                break;
            }
            if window_since.is_none() && !failed_over_now(&journal).is_empty() {
                window_since = Some(Instant::now());
            }
            if kills < KILLS && window_since.is_some_and(|t| t.elapsed() >= Duration::from_millis(delay_ms)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        match exited {
            Some(status) if status.success() => break,
            Some(status) => {
                let log = std::fs::read_to_string(dir.path().join("last.log")).unwrap_or_default();
                panic!("exited with {status:?} before completing:\n{log}");
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                kills += 1;
                delay_ms = (delay_ms + 250) % 1000;
            }
        }
    }
    assert!(kills >= KILLS, "only {kills} kills landed between a failover and its failback");
    let (id, state) = latest_run(&journal).unwrap_or_default();
    assert_eq!(state, "completed", "{id}");
    let e = estate_json(&estate);
    assert_every_front_end_back(&e, "after the last resume");
    // Each Front End updated exactly once; never two Front Ends of one pool failed over at once.
    for h in e["hosts"].as_array().into_iter().flatten().filter(|h| h["role"] == "front-end") {
        let installs = h["oplog"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|op| op["step"] == "install-update" && op["applied"] == true)
            .count();
        assert_eq!(installs, 1, "{}: the install was applied {installs} times", h["fqdn"]);
    }
    for p in e["pools"].as_array().into_iter().flatten() {
        common::assert_failovers_never_overlap(p, "after the last resume");
        assert!(p["quorum_lost_since"].is_null(), "{} lost quorum", p["fqdn"]);
    }
    eprintln!("completed after {kills} SIGKILLs between a failover and its failback");
}

#[test]
fn ctrl_c_between_failover_and_failback_fails_the_front_end_back_before_exiting() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate");
    let journal = dir.path().join("journal.db").display().to_string();
    let est = estate.display().to_string();
    assert!(sfbpatch(&["sim", "init", "--estate", &est, "--seed", "8"]).status.success());
    let mut child = start(&est, &journal, dir.path());
    let t0 = Instant::now();
    let during = loop {
        assert!(t0.elapsed() < Duration::from_secs(120), "no failover seen");
        let now = failed_over_now(&journal);
        if !now.is_empty() {
            break now;
        }
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the run ended ({s:?}) before any failover");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(!status.success(), "an interrupted run does not exit 0");
    let log = std::fs::read_to_string(dir.path().join("last.log")).unwrap_or_default();
    assert!(failed_over_now(&journal).is_empty(), "{during:?} left failed over:\n{log}");
    assert_every_front_end_back(&estate_json(&estate), "after Ctrl-C");
}

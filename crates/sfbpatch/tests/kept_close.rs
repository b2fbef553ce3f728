//! Kept shell processes (issue 14) after the review: out of the terminal's process group, so
//! that a Ctrl-C reaches this program and not the shells its clean stop still needs.

#![cfg(unix)]

mod common;

use std::os::unix::process::CommandExt as _;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

/// The Front Ends the journal shows failed over and not failed back (as in failover.rs).
fn failed_over_now(journal: &str) -> Vec<String> {
    let Ok(c) = rusqlite::Connection::open(journal) else { return Vec::new() };
    let q = "SELECT a.server FROM attempts a WHERE a.step = 'failover' AND a.outcome = 'succeeded'
             AND NOT EXISTS (SELECT 1 FROM attempts b WHERE b.server = a.server AND b.step IN ('failback', 'recovery')
                             AND b.outcome = 'succeeded' AND b.started_ms >= a.started_ms)";
    let Ok(mut st) = c.prepare(q) else { return Vec::new() };
    st.query_map([], |r| r.get::<_, String>(0)).map(|rows| rows.filter_map(Result::ok).collect()).unwrap_or_default()
}

/// A terminal's Ctrl-C goes to the whole foreground process group: the run's, and before
/// the fix its kept shells', which died idle so that the clean stop's failback failed.
#[test]
fn ctrl_c_to_the_whole_process_group_still_fails_the_front_end_back_over_local_shells() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let o = Proc::new(bin()).args(["sim", "init", "--estate", &estate, "--seed", "8"]).output();
    assert!(o.unwrap_or_else(|e| panic!("{e}")).status.success());
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let shell = format!("{} sim shell --estate {estate} --host {{host}}", bin().display());
    let log = std::fs::File::create(dir.path().join("run.log")).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Proc::new(bin())
        .args(["run", "--transport", "local", "--shell", &shell, "--package", &package.display().to_string()])
        .args(["--journal", &journal, "--yes"])
        .env("LANG", "C.UTF-8")
        // The run in a group of its own, as a shell's foreground job is.
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    let during = loop {
        assert!(t0.elapsed() < Duration::from_secs(180), "no failover seen");
        let now = failed_over_now(&journal);
        if !now.is_empty() {
            break now;
        }
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the run ended ({s:?}) before any failover");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let pgid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT).unwrap_or_else(|e| panic!("{e}"));
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "an interrupted run exits 1:\n{log}");
    assert!(failed_over_now(&journal).is_empty(), "{during:?} left failed over:\n{log}");
}

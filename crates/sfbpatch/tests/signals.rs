//! SIGTERM and SIGHUP stop a run as Ctrl-C does: the steps in progress finish, the journal
//! records the run `interrupted`, the summary and the resume hint are printed, exit 1.

#![cfg(unix)]

use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

/// The latest run's id and state, and whether a server of it has started.
fn latest(journal: &str) -> Option<(String, String, bool)> {
    let o = Proc::new(bin())
        .args(["status", "--journal", journal, "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_slice(&o.stdout).ok()?;
    let started = v["servers"].as_array().into_iter().flatten().any(|s| s["state"] != "pending");
    Some((v["run_id"].as_str()?.to_owned(), v["state"].as_str()?.to_owned(), started))
}

fn stopped_by(signal: Signal) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate").display().to_string();
    let journal = dir.path().join("j.db").display().to_string();
    let init = Proc::new(bin()).args(["sim", "init", "--estate", &estate]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(init.status.success());
    let child = Proc::new(bin())
        .args([
            "run",
            "--transport",
            "sim",
            "--estate",
            &estate,
            "--package",
            "SkypeServerUpdateInstaller.exe",
            "--journal",
            &journal,
            "--yes",
            "--time-scale",
            "0.01",
        ])
        .env("LANG", "C.UTF-8")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Once a server has started, the engine (and its signal handlers) is running.
    let start = Instant::now();
    let id = loop {
        if let Some((id, _, true)) = latest(&journal) {
            break id;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the run never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    nix::sys::signal::kill(pid, signal).unwrap_or_else(|e| panic!("{e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{signal}: {stderr}");
    assert!(stderr.contains("Interrupted: finishing the steps in progress, then stopping"), "{signal}: {stderr}");
    assert_eq!(latest(&journal).map(|(i, s, _)| (i, s)), Some((id.clone(), "interrupted".to_owned())));
    assert!(stdout.contains(&format!("Run {id} INTERRUPTED.")), "{signal}: the summary: {stdout}");
    assert!(stdout.contains(&format!("  sfbpatch resume {id} --journal '{journal}'")), "{signal}: {stdout}");
}

#[test]
fn sigterm_interrupts_the_run_cleanly() {
    stopped_by(Signal::SIGTERM);
}

#[test]
fn sighup_interrupts_the_run_cleanly() {
    stopped_by(Signal::SIGHUP);
}

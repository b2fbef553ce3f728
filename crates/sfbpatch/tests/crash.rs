//! Crash safety: `sfbpatch run` killed with SIGKILL (30 times) and interrupted with Ctrl-C
//! (once) at random moments, resumed each time,
//! ends with every server updated, the run completed, and no install applied twice (on every
//! server that carries Skype for Business: the Front Ends and the Standard Edition server).

#![cfg(unix)]

use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

fn sfbpatch(args: &[&str]) -> std::process::Output {
    Proc::new(bin()).args(args).env("LANG", "C.UTF-8").output().unwrap_or_else(|e| panic!("{e}"))
}

fn latest_run(journal: &str) -> Option<(String, String)> {
    let o = sfbpatch(&["status", "--journal", journal, "--format", "json"]);
    if !o.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&o.stdout).ok()?;
    Some((v["run_id"].as_str()?.to_owned(), v["state"].as_str()?.to_owned()))
}

/// A small deterministic generator for the kill delays.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

fn installs_applied(estate: &Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(estate.join("estate.json")).unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["role"] == "front-end" || h["role"] == "standard-edition")
        .map(|h| {
            let n = h["oplog"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|op| op["step"] == "install-update" && op["applied"] == true)
                .count();
            (h["fqdn"].as_str().unwrap_or("").to_owned(), n)
        })
        .collect()
}

#[test]
fn killed_at_random_moments_and_resumed_it_completes_without_installing_twice() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate");
    let journal = dir.path().join("journal.db").display().to_string();
    let est = estate.display().to_string();
    assert!(sfbpatch(&["sim", "init", "--estate", &est, "--seed", "5"]).status.success());

    let mut rng = Lcg(0x5eed);
    let mut kills = 0;
    let mut interrupted_cleanly = false;
    let started = Instant::now();
    let completed = loop {
        assert!(started.elapsed() < Duration::from_secs(240), "no completion after {kills} kills");
        let run = latest_run(&journal);
        let mut cmd = Proc::new(bin());
        match &run {
            Some((id, state)) if state == "completed" => break true,
            Some((id, _)) => {
                cmd.args(["resume", id, "--journal", &journal]);
            }
            None => {
                cmd.args([
                    "run",
                    "--transport",
                    "sim",
                    "--estate",
                    &est,
                    "--package",
                    "SkypeServerUpdateInstaller.exe",
                    "--time-scale",
                    "0.005",
                    "--journal",
                    &journal,
                    "--yes",
                ]);
            }
        }
        let log = dir.path().join("last.log");
        let err_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let mut child =
            cmd.stdout(Stdio::null()).stderr(Stdio::from(err_file)).spawn().unwrap_or_else(|e| panic!("{e}"));
        let delay = if kills < 31 { rng.next(20, 150) } else { 60_000 };
        let deadline = Instant::now() + Duration::from_millis(delay);
        let mut exited = None;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        match exited {
            Some(status) => {
                if status.success() {
                    break true;
                }
                // A run that ended without completing (it should not, without faults).
                let log = std::fs::read_to_string(dir.path().join("last.log")).unwrap_or_default();
                panic!("run exited with {status:?} before completing:\n{log}");
            }
            None => {
                if kills == 30 && !interrupted_cleanly {
                    // Once, last: a clean interruption (Ctrl-C) instead of a kill. Ctrl-C lets
                    // the servers already started finish, so it may complete the run: done
                    // last, after the 30 kills, so that it cannot end the test early.
                    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
                    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
                    // Exit 0 only when the run had finished its work before the signal was
                    // handled (a loaded machine); an interrupted run never says it completed.
                    let state = latest_run(&journal).map(|(_, s)| s).unwrap_or_default();
                    assert_eq!(status.success(), state == "completed", "exit {status:?} with the run {state}");
                    interrupted_cleanly = true;
                } else {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                kills += 1;
            }
        }
    };
    assert!(completed);
    assert!(kills >= 31, "only {kills} kills");
    let (id, state) = latest_run(&journal).unwrap_or_default();
    assert_eq!(state, "completed", "{id}");
    let o = sfbpatch(&["status", &id, "--journal", &journal, "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    for s in v["servers"].as_array().into_iter().flatten() {
        assert_eq!(s["state"], "updated", "{s}");
    }
    for (host, n) in installs_applied(&estate) {
        assert_eq!(n, 1, "{host}: the install was applied {n} times");
    }
    let show = sfbpatch(&["sim", "show", "--estate", &est, "--format", "json"]);
    let e: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|e| panic!("{e}"));
    // The roles the default scope updates on the host itself (Front Ends are checked by their
    // state; the example's Director, Edge, Mediation and Persistent Chat servers are
    // --scope all's, issue 12).
    let not_in_run = ["front-end", "edge", "director", "mediation", "persistent-chat"];
    for h in e["hosts"].as_array().into_iter().flatten().filter(|h| !not_in_run.iter().any(|r| h["role"] == *r)) {
        let builds: Vec<&str> =
            h["components"].as_array().into_iter().flatten().filter_map(|c| c[1].as_str()).collect();
        assert!(builds.iter().all(|b| *b == "7.0.2046.530"), "{}: {builds:?}", h["fqdn"]);
    }
    eprintln!("completed after {kills} interruptions: {} SIGKILL and one Ctrl-C", kills - 1);
}

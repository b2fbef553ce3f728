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

/// A kept process that died while idle is not written to: the session's next command starts
/// a new process and succeeds (before the fix it came back `NoResult`, cut short).
#[test]
fn a_kept_local_shell_killed_while_idle_is_replaced_and_the_next_command_succeeds() {
    use sfbpatch_engine::Transport as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let o = Proc::new(bin()).args(["sim", "init", "--estate", &estate, "--seed", "5"]).output();
    assert!(o.unwrap_or_else(|e| panic!("{e}")).status.success());
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let pids = dir.path().join("pids");
    // Records each shell's process id, then becomes the simulator's shell.
    let record = format!("echo $$ >> '{}'; exec \"$@\"", pids.display());
    let shell: Vec<String> = ["sh", "-c", &record, "sh", &bin().display().to_string(), "sim", "shell"]
        .into_iter()
        .map(str::to_owned)
        .chain(["--estate".to_owned(), estate.clone(), "--host".to_owned(), "{host}".to_owned()])
        .collect();
    let t = sfbpatch_transport::local::LocalTransport::new(shell, &package).unwrap_or_else(|e| panic!("{e}"));
    let host = sfbpatch_core::Fqdn::parse("se01.contoso.local").unwrap_or_else(|e| panic!("{e:?}"));
    let probe = "Get-Service -Name 'W3SVC'";
    let long = Duration::from_secs(60);
    let read_pids = || -> Vec<i32> {
        let text = std::fs::read_to_string(&pids).unwrap_or_default();
        text.lines().filter_map(|l| l.trim().parse().ok()).collect()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let s = t.open_session(&host).await.unwrap_or_else(|e| panic!("{e}"));
        let o = t.run(&host, Some(s), None, probe, long).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.exit_code, 0, "{o:?}");
        let first = read_pids();
        assert_eq!(first.len(), 1, "one kept process: {first:?}");
        let pid = nix::unistd::Pid::from_raw(first[0]);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap_or_else(|e| panic!("{e}"));
        // Dead (a zombie until the transport reaps it): signal 0 to a zombie still succeeds,
        // so wait for its state in /proc instead.
        let t0 = Instant::now();
        while !std::fs::read_to_string(format!("/proc/{}/stat", first[0]))
            .map_or(true, |s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        {
            assert!(t0.elapsed() < Duration::from_secs(10), "the kept process did not die");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let o = t.run(&host, Some(s), None, probe, long).await.unwrap_or_else(|e| panic!("the next command: {e}"));
        assert_eq!(o.exit_code, 0, "{o:?}");
        assert_eq!(read_pids().len(), 2, "a new process for the session");
        t.close_all().await;
    });
}

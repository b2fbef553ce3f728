//! Two runs on overlapping servers: the second is refused while the first holds its leases,
//! even with `--force-recover` while the first's process is alive; `--force-recover` breaks a
//! stale lease (its holder dead) and the journal records it. A run that fails at start-up is
//! recorded as failed and holds no lease.

#![cfg(unix)]

use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

fn init(dir: &std::path::Path, name: &str) -> String {
    let e = dir.join(name).display().to_string();
    let o = Proc::new(bin()).args(["sim", "init", "--estate", &e]).output().unwrap_or_else(|x| panic!("{x}"));
    assert!(o.status.success());
    e
}

fn run_args<'a>(estate: &'a str, journal: &'a str, server: &'a str, scale: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--transport",
        "sim",
        "--estate",
        estate,
        "--server",
        server,
        "--package",
        "SkypeServerUpdateInstaller.exe",
        "--journal",
        journal,
        "--yes",
        "--time-scale",
        scale,
    ]
}

#[test]
fn a_second_run_on_an_overlapping_server_is_refused_and_a_stale_lease_can_be_broken() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let e1 = init(dir.path(), "e1");
    let e2 = init(dir.path(), "e2");
    let mut first = Proc::new(bin())
        .args(run_args(&e1, &journal, "se01.contoso.local", "0.003"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|x| panic!("{x}"));
    // Wait until the first run holds its lease.
    let start = Instant::now();
    loop {
        let o = Proc::new(bin())
            .args(["status", "--journal", &journal, "--format", "json"])
            .output()
            .unwrap_or_else(|x| panic!("{x}"));
        if o.status.success() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the first run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = Proc::new(bin())
        .args(run_args(&e2, &journal, "se01.contoso.local", "0"))
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("se01.contoso.local is being patched by run"), "{err}");
    let pid = first.id();
    let alive = format!("whose process {pid} is still running on this host");
    assert!(err.contains(&alive), "{err}");
    assert!(!err.contains("--force-recover"), "the flag is not suggested while the holder lives: {err}");
    // --force-recover does not break the lease of a live holder: it says who and how to stop it.
    let mut forced_args = run_args(&e2, &journal, "se01.contoso.local", "0");
    forced_args.push("--force-recover");
    let refused = Proc::new(bin()).args(&forced_args).output().unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains(&alive), "{err}");
    assert!(err.contains(&format!("kill {pid}")), "{err}");
    assert!(err.contains("sfbpatch resume run-"), "{err}");
    assert!(!err.contains("lease broken"), "{err}");
    // A different server is not blocked (a Front End: a back end alone would be its
    // databases' update, which needs its pool's Front Ends updated first).
    let other = Proc::new(bin())
        .args(run_args(&e2, &journal, "fe11.contoso.local", "0"))
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(other.status.code(), Some(0), "{}", String::from_utf8_lossy(&other.stderr));

    // The first run dies: its lease is stale. Only --force-recover breaks it, and says so.
    let _ = first.kill();
    let _ = first.wait();
    let again = Proc::new(bin())
        .args(run_args(&e2, &journal, "se01.contoso.local", "0"))
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("or break its lease with --force-recover"), "{err}");
    let mut args = run_args(&e2, &journal, "se01.contoso.local", "0");
    args.push("--force-recover");
    let forced = Proc::new(bin()).args(&args).output().unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(forced.status.code(), Some(0), "{}", String::from_utf8_lossy(&forced.stderr));
    assert!(String::from_utf8_lossy(&forced.stderr).contains("lease broken"));
    let j = sfbpatch_journal::Journal::open(std::path::Path::new(&journal)).unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(j.lease_breaks("se01.contoso.local").unwrap_or_default().len(), 1);
}

fn history(journal: &str) -> Vec<(String, String)> {
    let o = Proc::new(bin())
        .args(["history", "--journal", journal, "--format", "json"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|x| panic!("{x}"));
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["run_id"].as_str().unwrap_or("").to_owned(), r["state"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[test]
fn a_run_whose_estate_is_in_use_is_not_recorded_and_holds_no_lease() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let e1 = init(dir.path(), "e1");
    let e2 = init(dir.path(), "e2");
    let mut first = Proc::new(bin())
        .args(run_args(&e1, &journal, "se01.contoso.local", "0.003"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|x| panic!("{x}"));
    let start = Instant::now();
    // (`history` does not create a missing journal: it refuses it, so the file is waited for.)
    while !std::path::Path::new(&journal).exists() || history(&journal).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "the first run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another server of the same estate: its lease is free, but the estate is in use.
    let phantom = Proc::new(bin())
        .args(run_args(&e1, &journal, "fe11.contoso.local", "0"))
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(phantom.status.code(), Some(1), "{}", String::from_utf8_lossy(&phantom.stderr));
    // The estate's lock is taken before the journal records anything (README, "Bad input",
    // B43): the first run alone is in the journal.
    let runs = history(&journal);
    let states: Vec<&str> = runs.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(states, ["running"], "{runs:?}");
    // It took no lease: fe11 can be run at once, without --force-recover.
    let next = Proc::new(bin())
        .args(run_args(&e2, &journal, "fe11.contoso.local", "0"))
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(next.status.code(), Some(0), "{}", String::from_utf8_lossy(&next.stderr));
    assert!(!String::from_utf8_lossy(&next.stderr).contains("lease broken"));
    let _ = first.kill();
    let _ = first.wait();
}

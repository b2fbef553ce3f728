//! Two runs on overlapping servers: the second is refused while the first holds its leases;
//! `--force-recover` breaks a stale lease and the journal records it.

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
    let mut args = run_args(&e2, &journal, "se01.contoso.local", "0");
    args.push("--force-recover");
    let forced = Proc::new(bin()).args(&args).output().unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(forced.status.code(), Some(0), "{}", String::from_utf8_lossy(&forced.stderr));
    assert!(String::from_utf8_lossy(&forced.stderr).contains("lease broken"));
    let j = sfbpatch_journal::Journal::open(std::path::Path::new(&journal)).unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(j.lease_breaks("se01.contoso.local").unwrap_or_default().len(), 1);
}

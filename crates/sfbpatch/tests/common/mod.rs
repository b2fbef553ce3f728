//! Helpers shared by the binary's tests (`cli.rs`, `plan_contract.rs`, `estates.rs`, `failover.rs`).
#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

pub fn testdata(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel).display().to_string()
}

pub fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env_remove("SFBPATCH_LANG").env("LANG", "C.UTF-8").env_remove("LC_ALL").env_remove("LC_MESSAGES");
    c
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Out {
    let o = sfbpatch().args(args).output().unwrap_or_else(|e| panic!("{e}"));
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn json(args: &[&str]) -> Value {
    let o = run(args);
    assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

/// Asserts a clean refusal: exit 1, a message on stderr, nothing that looks like a panic.
pub fn assert_refused(o: &Out, needle: &str) {
    assert_eq!(o.code, 1, "stderr: {}", o.stderr);
    assert!(o.stderr.starts_with("sfbpatch: "), "{}", o.stderr);
    assert!(o.stderr.contains(needle), "expected {needle:?} in {}", o.stderr);
    for bad in ["panicked", "RUST_BACKTRACE", "internal error", "⟦"] {
        assert!(!o.stderr.contains(bad), "{bad} in {}", o.stderr);
    }
    assert!(o.stdout.is_empty(), "stdout: {}", o.stdout);
}

/// A pool's failover windows from `sim show` JSON, sorted: (start, end; open ones end at the
/// end of time).
pub fn failover_windows(pool: &Value) -> Vec<(u64, u64)> {
    let mut w: Vec<(u64, u64)> = pool["failovers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| (f[1].as_u64().unwrap_or(0), f[2].as_u64().unwrap_or(u64::MAX)))
        .collect();
    w.sort_unstable();
    w
}

/// Asserts that no two Front Ends of `pool` were failed over at the same time.
pub fn assert_failovers_never_overlap(pool: &Value, what: &str) {
    for w in failover_windows(pool).windows(2) {
        assert!(w[0].1 <= w[1].0, "{what}: two Front Ends of {} failed over together: {w:?}", pool["fqdn"]);
    }
}

/// Runs the whole estate of `topology` after `edit`; returns (exit code, what it said, the
/// estate after, from `sim show`).
pub fn run_estate(topology: &str, dir: &std::path::Path, edit: impl FnOnce(&mut Value)) -> (i32, String, Value) {
    let estate = dir.join("e").display().to_string();
    let journal = dir.join("j.db").display().to_string();
    let o = sfbpatch()
        .args(["sim", "init", topology, "--estate", &estate, "--seed", "11"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = dir.join("e").join("estate.json");
    let mut e: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_default()).unwrap_or_else(|x| panic!("{x}"));
    edit(&mut e);
    std::fs::write(&file, e.to_string()).unwrap_or_else(|x| panic!("{x}"));
    let o = sfbpatch()
        .args(["run", topology, "--transport", "sim", "--estate", &estate, "--journal", &journal])
        .args(["--package", "SkypeServerUpdateInstaller.exe", "--yes", "--accept-resiliency"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    let shown = sfbpatch()
        .args(["sim", "show", "--estate", &estate, "--format", "json"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout),
        serde_json::from_slice(&shown.stdout).unwrap_or_else(|x| panic!("{x}")),
    )
}

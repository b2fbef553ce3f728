//! The journal's and the estate's files (issue 13, item 6), through the built binary: created
//! 0600 whatever the umask; the commands that only read the journal never create it (a
//! missing one is a clear error, exit 1) and read one the operator cannot write.
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{assert_refused, run};

const PKG: &str = "SkypeServerUpdateInstaller.exe";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

/// sfbpatch with `args`, under umask 000 (so that only sfbpatch itself can make a file private).
fn run_umask_000(args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sfbpatch"))
        .args(args)
        .env("LANG", "C.UTF-8")
        .env_remove("SFBPATCH_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_journal_and_the_estate_are_created_0600_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate");
    let journal = dir.path().join("journal.db");
    let (e, j) = (estate.display().to_string(), journal.display().to_string());
    let init = run_umask_000(&["sim", "init", "--estate", &e]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    assert_eq!(mode(&estate.join("estate.json")), 0o600);
    let r = run_umask_000(&["run", "--transport", "sim", "--estate", &e, "--package", PKG, "--yes", "--journal", &j]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(mode(&journal), 0o600);
    assert_eq!(mode(&estate.join("estate.json")), 0o600, "rewritten after every operation, still private");
    assert_eq!(mode(&estate.join("estate.lock")), 0o600);
    for suffix in ["-wal", "-shm"] {
        let p = dir.path().join(format!("journal.db{suffix}"));
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
}

#[test]
fn read_only_commands_never_create_a_missing_journal() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let parent = dir.path().join("nonexistent");
    let j = parent.join("x.db").display().to_string();
    for args in [
        vec!["status", "--journal", &j],
        vec!["history", "--journal", &j],
        vec!["report", "run-1", "--journal", &j],
        vec!["journal", "verify", "--journal", &j],
    ] {
        let o = run(&args);
        assert_refused(
            &o,
            &format!(
                "there is no journal {j} (a command that only reads the journal does not create one; give the right one with --journal)"
            ),
        );
        assert!(!parent.exists(), "{args:?} created {}", parent.display());
    }
}

#[test]
fn history_reads_a_journal_the_operator_cannot_write() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.db");
    let j = journal.display().to_string();
    let r = run(&["run", "--transport", "sim", "--package", PKG, "--yes", "--journal", &j]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o400)).unwrap_or_else(|e| panic!("{e}"));
    // (As root the mode does not stop a write: the file's bytes are compared as well.)
    let bytes = std::fs::read(&journal).unwrap_or_else(|e| panic!("{e}"));
    let h = run(&["history", "--journal", &j, "--format", "json"]);
    assert_eq!(h.code, 0, "{}", h.stderr);
    let rows: serde_json::Value = serde_json::from_str(&h.stdout).unwrap_or_else(|e| panic!("{e}: {}", h.stdout));
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["state"], "completed", "{rows}");
    assert_eq!(mode(&journal), 0o400, "left as it was");
    assert!(std::fs::read(&journal).ok() == Some(bytes), "history wrote to the journal");
    let v = run(&["journal", "verify", "--journal", &j]);
    assert_eq!(v.code, 0, "{}", v.stderr);
}

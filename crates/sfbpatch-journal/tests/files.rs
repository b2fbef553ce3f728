//! The journal's files are private on unix (issue 13, item 6): the database, and the `-wal`
//! and `-shm` SQLite keeps beside it while it is open, are 0600.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;

use sfbpatch_journal::{Journal, JournalError};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[test]
fn the_journal_its_wal_and_its_shm_are_0600_while_it_is_open() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("j.db");
    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    j.begin_run("r", "{}", "{}", &["fe01.contoso.local".to_owned()], "me", false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        assert_eq!(mode(&dir.path().join(format!("j.db{suffix}"))), 0o600, "{suffix}");
    }
}

#[test]
fn a_missing_journal_is_not_created_by_a_read_only_open() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("sub").join("j.db");
    assert!(matches!(Journal::open_read_only(&path), Err(JournalError::Missing { .. })));
    assert!(!dir.path().join("sub").exists());
}

#[test]
fn a_read_only_journal_refuses_writes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("j.db");
    drop(Journal::open(&path).unwrap_or_else(|e| panic!("{e}")));
    let j = Journal::open_read_only(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(j.history().map(|h| h.len()).ok(), Some(0));
    let e = j.begin_run("r", "{}", "{}", &[], "me", false).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("readonly"), "{e}");
}

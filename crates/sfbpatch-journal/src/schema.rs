//! The journal's schema and its versions (`PRAGMA user_version`).
//!
//! Version 1 is the schema of the first releases, which did not set `user_version` (it reads
//! 0 in their files). Every later version is one migration, applied in order inside one
//! transaction that also sets `user_version`, so that a journal is at one version or the
//! next, never in between. A new file goes through the same path as an old one: version 1's
//! tables, then every migration. A file of a version this build does not know (a newer
//! release wrote it) is refused before anything is written to it.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = 4;

/// Version 1: the tables as the first releases created them (text kept byte for byte).
pub(crate) const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS runs(
  id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, state TEXT NOT NULL,
  plan TEXT NOT NULL, params TEXT NOT NULL, holder TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS servers(
  run_id TEXT NOT NULL, server TEXT NOT NULL, state TEXT NOT NULL, current_step TEXT,
  build_before TEXT, error TEXT, recovery TEXT, PRIMARY KEY(run_id, server));
CREATE TABLE IF NOT EXISTS attempts(
  run_id TEXT NOT NULL, server TEXT NOT NULL, step TEXT NOT NULL, attempt INTEGER NOT NULL,
  command TEXT, started_ms INTEGER NOT NULL, finished_ms INTEGER, outcome TEXT, reason TEXT,
  exit_code INTEGER, stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(run_id, server, step, attempt));
CREATE TABLE IF NOT EXISTS outages(
  run_id TEXT NOT NULL, server TEXT NOT NULL, opened_ms INTEGER NOT NULL, closed_ms INTEGER);
CREATE TABLE IF NOT EXISTS warnings(
  run_id TEXT NOT NULL, server TEXT, at_ms INTEGER NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases(
  server TEXT PRIMARY KEY, run_id TEXT NOT NULL, holder TEXT NOT NULL, acquired_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lease_breaks(
  server TEXT NOT NULL, old_run TEXT NOT NULL, new_run TEXT NOT NULL, at TEXT NOT NULL, holder TEXT NOT NULL);
";

/// Migrations: `MIGRATIONS[i]` takes a journal from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    // 1 → 2: a run's outages and warnings are read in one query each (indexes by run; the
    // other tables' primary keys already start with the run), and the older word for a
    // successful attempt is written as today's, so that queries filtering on the word see it.
    "
CREATE INDEX IF NOT EXISTS outages_by_run ON outages(run_id, server);
CREATE INDEX IF NOT EXISTS warnings_by_run ON warnings(run_id);
UPDATE attempts SET outcome = 'succeeded' WHERE outcome = 'ok';
",
    // 2 → 3: a lease names its holder process (host name, pid, start time), so that
    // `--force-recover` can refuse while it is alive; a lease of an earlier version has none
    // (NULL: its holder's liveness is unknown, as before).
    "
ALTER TABLE leases ADD COLUMN holder_host TEXT;
ALTER TABLE leases ADD COLUMN holder_pid INTEGER;
ALTER TABLE leases ADD COLUMN holder_start INTEGER;
",
    // 3 → 4: a run's records carry a SHA-256 hash chained to the record written before them
    // (see chain.rs); outages and warnings get a number in their run (`rec`) to be named by.
    // Records of earlier versions keep no hash (NULL): they are unchained, not tampered with.
    "
ALTER TABLE servers ADD COLUMN hash TEXT;
ALTER TABLE attempts ADD COLUMN hash TEXT;
ALTER TABLE outages ADD COLUMN rec INTEGER;
ALTER TABLE outages ADD COLUMN hash TEXT;
ALTER TABLE warnings ADD COLUMN rec INTEGER;
ALTER TABLE warnings ADD COLUMN hash TEXT;
CREATE TABLE IF NOT EXISTS chain(
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL,
  prev TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY(run_id, seq));
",
];

/// Why a journal's schema cannot be used.
#[derive(Debug)]
pub(crate) enum SchemaError {
    /// SQLite said no.
    Sql(rusqlite::Error),
    /// A newer release wrote it.
    TooNew(i64),
}

impl From<rusqlite::Error> for SchemaError {
    fn from(e: rusqlite::Error) -> Self {
        SchemaError::Sql(e)
    }
}

pub(crate) fn version(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Refuses a journal of a version this build does not know, without writing to it.
pub(crate) fn check_known(c: &Connection) -> Result<(), SchemaError> {
    let v = version(c)?;
    if v > CURRENT_VERSION { Err(SchemaError::TooNew(v)) } else { Ok(()) }
}

/// Brings a journal (new, or of any earlier version) to [`CURRENT_VERSION`], in one
/// transaction; a journal already there is only read.
pub(crate) fn migrate(c: &mut Connection) -> Result<(), SchemaError> {
    check_known(c)?;
    if version(c)? == CURRENT_VERSION {
        return Ok(());
    }
    // Another process may be migrating the same file: the immediate transaction waits for
    // it (busy timeout), and the version is read again inside.
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let from = version(&tx)?;
    if from > CURRENT_VERSION {
        return Err(SchemaError::TooNew(from));
    }
    if from < 1 {
        tx.execute_batch(SCHEMA_V1)?;
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let target = i as i64 + 2;
        if from < target {
            tx.execute_batch(sql)?;
        }
    }
    tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_its_migration() {
        assert_eq!(MIGRATIONS.len() as i64, CURRENT_VERSION - 1);
    }

    #[test]
    fn a_new_journal_is_at_the_current_version_and_migrating_twice_changes_nothing() {
        let mut c = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        migrate(&mut c).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(version(&c).ok(), Some(CURRENT_VERSION));
        migrate(&mut c).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(version(&c).ok(), Some(CURRENT_VERSION));
    }

    #[test]
    fn a_newer_journal_is_refused() {
        let mut c = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        c.pragma_update(None, "user_version", CURRENT_VERSION + 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(migrate(&mut c), Err(SchemaError::TooNew(v)) if v == CURRENT_VERSION + 1));
    }
}

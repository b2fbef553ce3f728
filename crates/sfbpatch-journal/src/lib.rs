//! The journal: SQLite (WAL, `synchronous=FULL`), one file per operator.
//!
//! It records each run with the plan it executes and its parameters (so that a resume needs
//! neither the topology nor the package again), every step attempt (start, end, exit code,
//! output truncated at [`OUTPUT_LIMIT`] bytes per stream), outage windows and warnings, and a
//! lease per server so that two runs cannot patch the same server at once.
//!
//! [`JournalSink`] consumes the engine's events: a step's start is committed before its
//! command is sent, its end (with its output) before the next step starts.
//!
//! The file carries its schema version (`PRAGMA user_version`, [`CURRENT_VERSION`]): a
//! journal of an earlier version is migrated when opened, one of a later version is refused
//! untouched. Values of a closed set (states, outcomes, steps) are the core's vocabulary in
//! every record returned; words exist only in the columns.

mod chain;
mod holder;
mod private;
mod read;
mod records;
mod schema;
mod sink;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use sfbpatch_core::vocab::RunState;

pub use chain::{Finding, Tamper};
pub use holder::{HolderProcess, host_name, start_time};
pub use records::{
    AttemptRecord, AttemptRow, OutageRecord, RunRow, RunStatus, ServerReport, ServerStatus, StepMinutes, StoredRun,
};
pub use schema::CURRENT_VERSION;
pub use sink::JournalSink;

/// Output kept per stream and attempt; the rest is cut with a marker.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// Journal errors.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite said no.
    #[error("journal {path}: {source}")]
    Sql {
        /// The journal file.
        path: String,
        /// The error.
        source: rusqlite::Error,
    },
    /// A server is leased by another run.
    #[error(
        "{server} is being patched by run {run} ({holder}); wait for it, resume it, or break its lease with --force-recover"
    )]
    LeaseHeld {
        /// The server.
        server: String,
        /// The run holding it.
        run: String,
        /// Who.
        holder: String,
    },
    /// A server is leased by another run whose process is still running on this host: its
    /// lease is not broken, even with `--force-recover`.
    #[error(
        "{server} is being patched by run {run} ({holder}), whose process {pid} is still running on this host; wait for it to finish, or stop it (Ctrl-C in its terminal, or kill {pid}) and resume it with: sfbpatch resume {run}"
    )]
    LeaseHolderAlive {
        /// The server.
        server: String,
        /// The run holding it.
        run: String,
        /// Who.
        holder: String,
        /// Its process id.
        pid: u32,
    },
    /// No such run.
    #[error("there is no run {run} in the journal {path}")]
    NoRun {
        /// The journal file.
        path: String,
        /// The run asked for.
        run: String,
    },
    /// A newer release wrote this journal: it is left as it is.
    #[error(
        "journal {path} has schema version {found}, newer than this sfbpatch knows ({known}): it was written by a newer release; use that release (this one does not change the file)"
    )]
    TooNew {
        /// The journal file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The journal's file could not be created or its permissions set.
    #[error("journal {path}: {source}")]
    Io {
        /// The journal file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A read-only command was given a journal that does not exist (none is created).
    #[error("there is no journal {path}")]
    Missing {
        /// The journal file.
        path: String,
    },
    /// Stored data that does not parse.
    #[error("run {run}: stored {what} is unreadable: {why}")]
    Corrupt {
        /// The run.
        run: String,
        /// What.
        what: &'static str,
        /// Why.
        why: String,
    },
}

/// The journal.
pub struct Journal {
    conn: Mutex<Connection>,
    path: String,
}

pub(crate) fn now_text() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// A column's word as the core's vocabulary; a word this build does not know is
/// [`JournalError::Corrupt`].
pub(crate) fn word<T>(run: &str, what: &'static str, s: &str) -> Result<T, JournalError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| JournalError::Corrupt { run: run.to_owned(), what, why: e.to_string() })
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`, migrating one of an earlier schema
    /// version; refuses one of a later version ([`JournalError::TooNew`]) before writing to it.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let p = path.display().to_string();
        let sql = |source| JournalError::Sql { path: p.clone(), source };
        let schema = |e| match e {
            schema::SchemaError::Sql(source) => JournalError::Sql { path: p.clone(), source },
            schema::SchemaError::TooNew(found) => {
                JournalError::TooNew { path: p.clone(), found, known: CURRENT_VERSION }
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let io = |source| JournalError::Io { path: p.clone(), source };
        private::create(path).map_err(io)?;
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        // Nothing is written (not even the journal mode) to a file of a newer version.
        schema::check_known(&conn).map_err(schema)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        schema::migrate(&mut conn).map_err(schema)?;
        private::restrict_companions(path).map_err(io)?;
        Ok(Self { conn: Mutex::new(conn), path: p })
    }

    /// Opens the journal at `path` for reading only (`SQLITE_OPEN_READ_ONLY`): a missing file
    /// is [`JournalError::Missing`] and nothing is created. A journal of an earlier schema
    /// version is first migrated as [`Journal::open`] does (the reads are the current
    /// schema's), then opened read-only; one of a later version is refused untouched.
    pub fn open_read_only(path: &Path) -> Result<Self, JournalError> {
        let p = path.display().to_string();
        if !path.is_file() {
            return Err(JournalError::Missing { path: p });
        }
        let sql = |source| JournalError::Sql { path: p.clone(), source };
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = || -> Result<Connection, JournalError> {
            let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
            conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
            Ok(conn)
        };
        let conn = open()?;
        let found = schema::version(&conn).map_err(sql)?;
        if found > CURRENT_VERSION {
            return Err(JournalError::TooNew { path: p.clone(), found, known: CURRENT_VERSION });
        }
        let conn = if found < CURRENT_VERSION {
            drop(conn);
            drop(Self::open(path)?);
            open()?
        } else {
            conn
        };
        Ok(Self { conn: Mutex::new(conn), path: p })
    }

    fn sql(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sql { path: self.path.clone(), source }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> Result<R, JournalError> {
        let mut c = match self.conn.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        f(&mut c).map_err(|e| self.sql(e))
    }

    /// Starts a run: stores its plan and parameters and takes a lease on every server in the
    /// name of this process ([`HolderProcess::current`]), or refuses if another run holds one
    /// (unless `force`, which breaks and records it). A lease whose holder process is alive on
    /// this host is never broken ([`JournalError::LeaseHolderAlive`]), nor taken over by a
    /// resume of the same run.
    pub fn begin_run(
        &self,
        run_id: &str,
        plan_json: &str,
        params_json: &str,
        servers: &[String],
        holder: &str,
        force: bool,
    ) -> Result<Vec<String>, JournalError> {
        let mut held: Option<JournalError> = None;
        let me = HolderProcess::current();
        let broken = self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut broken = Vec::new();
            for s in servers {
                let lease: Option<(String, String, Option<HolderProcess>)> = tx
                    .query_row(
                        "SELECT run_id, holder, holder_host, holder_pid, holder_start FROM leases WHERE server = ?1",
                        params![s],
                        |r| Ok((r.get(0)?, r.get(1)?, holder_process(r.get(2)?, r.get(3)?, r.get(4)?))),
                    )
                    .optional()?;
                if let Some((run, h, process)) = lease {
                    if let Some(p) = process.filter(HolderProcess::alive_elsewhere) {
                        held = Some(JournalError::LeaseHolderAlive { server: s.clone(), run, holder: h, pid: p.pid });
                        return Ok(broken);
                    }
                    if run == run_id {
                        continue;
                    }
                    if !force {
                        held = Some(JournalError::LeaseHeld { server: s.clone(), run, holder: h });
                        return Ok(broken);
                    }
                    tx.execute(
                        "INSERT INTO lease_breaks(server, old_run, new_run, at, holder) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![s, run, run_id, now_text(), holder],
                    )?;
                    broken.push(format!("{s} (run {run}, {h})"));
                }
            }
            let new = tx.execute(
                "INSERT OR IGNORE INTO runs(id, started_at, state, plan, params, holder) VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
                params![run_id, now_text(), plan_json, params_json, holder],
            )?;
            if new == 1 {
                chain::begin(&tx, run_id)?;
            }
            for s in servers {
                tx.execute(
                    "INSERT INTO leases(server, run_id, holder, acquired_at, holder_host, holder_pid, holder_start)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(server) DO UPDATE SET run_id = excluded.run_id, holder = excluded.holder,
                       acquired_at = excluded.acquired_at, holder_host = excluded.holder_host,
                       holder_pid = excluded.holder_pid, holder_start = excluded.holder_start",
                    params![
                        s,
                        run_id,
                        holder,
                        now_text(),
                        me.host,
                        i64::from(me.pid),
                        me.start.and_then(|t| i64::try_from(t).ok())
                    ],
                )?;
                chain::write(
                    &tx,
                    run_id,
                    chain::Table::Servers,
                    "INSERT OR IGNORE INTO servers(run_id, server, state) VALUES (?1, ?2, 'pending') RETURNING rowid",
                    params![run_id, s],
                )?;
            }
            tx.commit()?;
            Ok(broken)
        })?;
        if let Some(e) = held {
            return Err(e);
        }
        Ok(broken)
    }

    /// A run that failed before its engine started (its estate in use, a transport that
    /// could not be set up): a new run (`previous` `None`) is recorded as failed and its
    /// leases released; a resumed one gets its previous state back (its leases stay, as an
    /// interrupted run's do).
    pub fn abandon_start(&self, run_id: &str, previous: Option<RunState>) -> Result<(), JournalError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            match previous {
                None => {
                    tx.execute(
                        "UPDATE runs SET state = 'failed', finished_at = ?2 WHERE id = ?1",
                        params![run_id, now_text()],
                    )?;
                    tx.execute("DELETE FROM leases WHERE run_id = ?1", params![run_id])?;
                }
                Some(state) => {
                    tx.execute("UPDATE runs SET state = ?2 WHERE id = ?1", params![run_id, state.as_str()])?;
                }
            }
            tx.commit()
        })
    }

    /// Marks a run resumed (state running again).
    pub fn mark_running(&self, run_id: &str) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute("UPDATE runs SET state = 'running', finished_at = NULL WHERE id = ?1", params![run_id])
                .map(|_| ())
        })
    }

    /// Replaces a run's stored parameters (a JSON text: `resume --window-end` and the like
    /// give a run new ones from then on; no schema change, the column holds JSON).
    pub fn set_params(&self, run_id: &str, params_json: &str) -> Result<(), JournalError> {
        self.with(|c| c.execute("UPDATE runs SET params = ?2 WHERE id = ?1", params![run_id, params_json]).map(|_| ()))
    }

    /// The event sink that records `run_id`.
    pub fn sink<'a>(&'a self, run_id: &'a str) -> JournalSink<'a> {
        JournalSink { journal: self, run_id }
    }
}

/// A lease's holder process, when its row names one (leases of schema version 2 and earlier
/// do not).
fn holder_process(host: Option<String>, pid: Option<i64>, start: Option<i64>) -> Option<HolderProcess> {
    Some(HolderProcess {
        host: host?,
        pid: u32::try_from(pid?).ok()?,
        start: start.and_then(|t| u64::try_from(t).ok()),
    })
}

/// The journal file used when neither `--journal` nor `SFBPATCH_JOURNAL` says otherwise:
/// `%LOCALAPPDATA%\sfbpatch\journal.db` on Windows, `$XDG_STATE_HOME/sfbpatch/journal.db`
/// (default `~/.local/state/sfbpatch/journal.db`) elsewhere.
pub fn default_path() -> PathBuf {
    if let (true, Some(d)) = (cfg!(windows), std::env::var_os("LOCALAPPDATA")) {
        return PathBuf::from(d).join("sfbpatch").join("journal.db");
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("sfbpatch").join("journal.db");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".local").join("state").join("sfbpatch").join("journal.db");
    }
    PathBuf::from("sfbpatch-journal.db")
}

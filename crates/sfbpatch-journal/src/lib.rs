//! The journal: SQLite (WAL, `synchronous=FULL`), one file per operator.
//!
//! It records each run with the plan it executes and its parameters (so that a resume needs
//! neither the topology nor the package again), every step attempt (start, end, exit code,
//! output truncated at [`OUTPUT_LIMIT`] bytes per stream), outage windows and warnings, and a
//! lease per server so that two runs cannot patch the same server at once.
//!
//! [`JournalSink`] consumes the engine's events: a step's start is committed before its
//! command is sent, its end before the next step starts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::event::{Event, EventSink, StepOutcome};
use sfbpatch_engine::{ResumeState, ServerResume};

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
    /// No such run.
    #[error("there is no run {0} in this journal")]
    NoRun(String),
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

const SCHEMA: &str = "
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

fn now_text() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

fn truncate(s: &str) -> String {
    if s.len() <= OUTPUT_LIMIT {
        return s.to_owned();
    }
    let mut end = OUTPUT_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes not kept]", &s[..end], s.len() - end)
}

/// (server, state, current step, error, recovery JSON) of one server row.
type ServerRow = (String, String, Option<String>, Option<String>, Option<String>);

/// ((server, step), mean minutes).
pub type StepMinutes = ((String, String), f64);

/// (server, step, attempt, outcome) of one attempt.
pub type AttemptRow = (String, String, u32, Option<String>);

/// A run as listed by `history`.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Unix seconds.
    pub started_at: String,
    /// Unix seconds.
    pub finished_at: Option<String>,
    /// `running`, `completed`, `failed`, `interrupted`.
    pub state: String,
    /// Servers in scope.
    pub servers: usize,
}

/// One server in `status`.
#[derive(Clone, Debug, Serialize)]
pub struct ServerStatus {
    /// The server.
    pub fqdn: String,
    /// `pending`, `running`, `updated`, `failed`, `not-started`, `interrupted`.
    pub state: String,
    /// The step in flight.
    pub current_step: Option<String>,
    /// Steps that succeeded.
    pub completed_steps: Vec<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Commands to bring service back.
    pub recovery: Vec<String>,
}

/// `status` JSON.
#[derive(Clone, Debug, Serialize)]
pub struct RunStatus {
    /// Run id.
    pub run_id: String,
    /// `running`, `completed`, `failed`, `interrupted`.
    pub state: String,
    /// Per server.
    pub servers: Vec<ServerStatus>,
}

/// What the end-of-run summary shows for one server, from the journal (so it covers every
/// resume of the run, not only the last process).
#[derive(Clone, Debug, Serialize)]
pub struct ServerReport {
    /// The server.
    pub fqdn: String,
    /// Build before the run touched it.
    pub build_before: Option<String>,
    /// Build read back by the last successful `verify`.
    pub build_after: Option<String>,
    /// Minutes of users' outage recorded (open outages count until now).
    pub outage_minutes: f64,
    /// An outage is still open.
    pub outage_open: bool,
    /// The installer asked for a restart that has not been done.
    pub reboot_pending: bool,
}

/// One step attempt, whole, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct AttemptRecord {
    /// The server.
    pub server: String,
    /// Step id (or `reboot`, `recovery`, hooks, `install-logs`).
    pub step: String,
    /// Attempt, from 1, numbered across resumes.
    pub attempt: u32,
    /// The command sent.
    pub command: Option<String>,
    /// Start, in the transport's milliseconds.
    pub started_ms: i64,
    /// End, if it ended.
    pub finished_ms: Option<i64>,
    /// `succeeded`, `succeeded-reboot-pending`, `failed`, or none (cut short).
    pub outcome: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Output kept.
    pub stdout: String,
    /// Errors kept.
    pub stderr: String,
}

/// An outage window.
#[derive(Clone, Debug, Serialize)]
pub struct OutageRecord {
    /// The server.
    pub server: String,
    /// Opened, in the transport's milliseconds.
    pub opened_ms: i64,
    /// Closed, if it was.
    pub closed_ms: Option<i64>,
}

/// A stored run.
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// Run id.
    pub id: String,
    /// State.
    pub state: String,
    /// The plan (JSON, `sfbpatch.plan/1` plus internal fields).
    pub plan: String,
    /// The run's parameters (JSON, the caller's format).
    pub params: String,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let p = path.display().to_string();
        let sql = |source| JournalError::Sql { path: p.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Self { conn: Mutex::new(conn), path: p })
    }

    fn sql(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sql { path: self.path.clone(), source }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> Result<R, JournalError> {
        let mut c = match self.conn.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        f(&mut c).map_err(|e| self.sql(e))
    }

    /// Starts a run: stores its plan and parameters and takes a lease on every server, or
    /// refuses if another run holds one (unless `force`, which breaks and records it).
    pub fn begin_run(
        &self,
        run_id: &str,
        plan_json: &str,
        params_json: &str,
        servers: &[String],
        holder: &str,
        force: bool,
    ) -> Result<Vec<String>, JournalError> {
        let mut held: Option<(String, String, String)> = None;
        let broken = self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut broken = Vec::new();
            for s in servers {
                let lease: Option<(String, String)> = tx
                    .query_row("SELECT run_id, holder FROM leases WHERE server = ?1", params![s], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((run, h)) = lease {
                    if run == run_id {
                        continue;
                    }
                    if !force {
                        held = Some((s.clone(), run, h));
                        return Ok(broken);
                    }
                    tx.execute(
                        "INSERT INTO lease_breaks(server, old_run, new_run, at, holder) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![s, run, run_id, now_text(), holder],
                    )?;
                    broken.push(format!("{s} (run {run}, {h})"));
                }
            }
            tx.execute(
                "INSERT OR IGNORE INTO runs(id, started_at, state, plan, params, holder) VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
                params![run_id, now_text(), plan_json, params_json, holder],
            )?;
            for s in servers {
                tx.execute(
                    "INSERT INTO leases(server, run_id, holder, acquired_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(server) DO UPDATE SET run_id = excluded.run_id, holder = excluded.holder, acquired_at = excluded.acquired_at",
                    params![s, run_id, holder, now_text()],
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO servers(run_id, server, state) VALUES (?1, ?2, 'pending')",
                    params![run_id, s],
                )?;
            }
            tx.commit()?;
            Ok(broken)
        })?;
        if let Some((server, run, holder)) = held {
            return Err(JournalError::LeaseHeld { server, run, holder });
        }
        Ok(broken)
    }

    /// Marks a run resumed (state running again).
    pub fn mark_running(&self, run_id: &str) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute("UPDATE runs SET state = 'running', finished_at = NULL WHERE id = ?1", params![run_id])
                .map(|_| ())
        })
    }

    /// A stored run.
    pub fn run(&self, run_id: &str) -> Result<StoredRun, JournalError> {
        let row = self.with(|c| {
            c.query_row("SELECT id, state, plan, params FROM runs WHERE id = ?1", params![run_id], |r| {
                Ok(StoredRun { id: r.get(0)?, state: r.get(1)?, plan: r.get(2)?, params: r.get(3)? })
            })
            .optional()
        })?;
        row.ok_or_else(|| JournalError::NoRun(run_id.to_owned()))
    }

    /// The most recent run's id.
    pub fn latest(&self) -> Result<Option<String>, JournalError> {
        self.with(|c| {
            c.query_row("SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1", [], |r| r.get(0)).optional()
        })
    }

    /// Every run, newest first.
    pub fn history(&self) -> Result<Vec<RunRow>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT r.id, r.started_at, r.finished_at, r.state, (SELECT COUNT(*) FROM servers s WHERE s.run_id = r.id)
                 FROM runs r ORDER BY r.started_at DESC, r.rowid DESC",
            )?;
            let rows = st.query_map([], |r| {
                Ok(RunRow { run_id: r.get(0)?, started_at: r.get(1)?, finished_at: r.get(2)?, state: r.get(3)?, servers: r.get::<_, i64>(4)? as usize })
            })?;
            rows.collect()
        })
    }

    fn completed_steps(&self, run_id: &str, server: &str) -> Result<Vec<String>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT step FROM attempts WHERE run_id = ?1 AND server = ?2 AND outcome IN ('succeeded', 'succeeded-reboot-pending')
                 GROUP BY step ORDER BY MIN(started_ms)",
            )?;
            let rows = st.query_map(params![run_id, server], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
        })
        .map(|v| v.into_iter().filter(|s| s.parse::<StepId>().is_ok()).collect())
    }

    /// `status` for a run.
    pub fn status(&self, run_id: &str) -> Result<RunStatus, JournalError> {
        let run = self.run(run_id)?;
        let rows: Vec<ServerRow> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, state, current_step, error, recovery FROM servers WHERE run_id = ?1 ORDER BY rowid",
            )?;
            let rows =
                st.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
            rows.collect()
        })?;
        let mut servers = Vec::new();
        for (fqdn, state, current_step, error, recovery) in rows {
            let completed_steps = self.completed_steps(run_id, &fqdn)?;
            let recovery = recovery.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default();
            servers.push(ServerStatus { fqdn, state, current_step, completed_steps, error, recovery });
        }
        Ok(RunStatus { run_id: run.id, state: run.state, servers })
    }

    /// Where an interrupted run left each server, for `resume`.
    pub fn resume_state(&self, run_id: &str) -> Result<ResumeState, JournalError> {
        let status = self.status(run_id)?;
        let mut out = ResumeState::default();
        for s in status.servers {
            let completed: Vec<StepId> = s.completed_steps.iter().filter_map(|x| x.parse().ok()).collect();
            let in_flight: Option<StepId> =
                s.current_step.as_deref().and_then(|x| x.parse().ok()).filter(|x| !completed.contains(x));
            let open: bool = self.with(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM outages WHERE run_id = ?1 AND server = ?2 AND closed_ms IS NULL",
                    params![run_id, s.fqdn],
                    |r| r.get::<_, i64>(0),
                )
            })? > 0;
            let build_before: Option<String> = self.with(|c| {
                c.query_row(
                    "SELECT build_before FROM servers WHERE run_id = ?1 AND server = ?2",
                    params![run_id, s.fqdn],
                    |r| r.get(0),
                )
            })?;
            let finished = match s.state.as_str() {
                "updated" => Some("updated".to_owned()),
                _ => None,
            };
            let reboot_pending = self
                .server_reports(run_id, 0)?
                .into_iter()
                .find(|r| r.fqdn == s.fqdn)
                .is_some_and(|r| r.reboot_pending);
            out.servers.insert(
                s.fqdn.clone(),
                ServerResume {
                    completed,
                    in_flight,
                    outage_open: open,
                    finished,
                    build_before: build_before.and_then(|b| b.parse().ok()),
                    reboot_pending,
                },
            );
        }
        Ok(out)
    }

    /// Mean measured minutes of each (server, step) that succeeded in earlier runs.
    pub fn step_history(&self) -> Result<Vec<StepMinutes>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, step, AVG(finished_ms - started_ms) / 60000.0 FROM attempts
                 WHERE outcome = 'succeeded' AND finished_ms IS NOT NULL GROUP BY server, step",
            )?;
            let rows = st.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
            rows.collect()
        })
    }

    /// Per-server figures for the end-of-run summary. `now_ms` closes open outages.
    pub fn server_reports(&self, run_id: &str, now_ms: u64) -> Result<Vec<ServerReport>, JournalError> {
        let servers: Vec<(String, Option<String>)> = self.with(|c| {
            let mut st = c.prepare("SELECT server, build_before FROM servers WHERE run_id = ?1 ORDER BY rowid")?;
            let rows = st.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let mut out = Vec::new();
        for (fqdn, build_before) in servers {
            let (ms, open): (i64, i64) = self.with(|c| {
                c.query_row(
                    "SELECT COALESCE(SUM(COALESCE(closed_ms, ?3) - opened_ms), 0), COALESCE(SUM(closed_ms IS NULL), 0)
                     FROM outages WHERE run_id = ?1 AND server = ?2",
                    params![run_id, fqdn, now_ms as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })?;
            let verify: Option<String> = self.with(|c| {
                c.query_row(
                    "SELECT stdout FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = 'verify' AND outcome = 'succeeded'
                     ORDER BY attempt DESC LIMIT 1",
                    params![run_id, fqdn],
                    |r| r.get(0),
                )
                .optional()
            })?;
            let build_after = verify.and_then(|v| {
                sfbpatch_core::readback::parse_patch_versions(&v)
                    .into_iter()
                    .map(|(_, b)| b)
                    .min()
                    .map(|b| b.to_string())
            });
            let last_install: Option<String> = self
                .with(|c| {
                    c.query_row(
                        "SELECT outcome FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = 'install-update' ORDER BY attempt DESC LIMIT 1",
                        params![run_id, fqdn],
                        |r| r.get::<_, Option<String>>(0),
                    )
                    .optional()
                })?
                .flatten();
            let rebooted: i64 = self.with(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = 'reboot' AND outcome = 'succeeded'",
                    params![run_id, fqdn],
                    |r| r.get(0),
                )
            })?;
            let reboot_pending = last_install.as_deref() == Some("succeeded-reboot-pending") && rebooted == 0;
            out.push(ServerReport {
                fqdn,
                build_before,
                build_after,
                outage_minutes: (ms.max(0) as f64 / 600.0).round() / 100.0,
                outage_open: open > 0,
                reboot_pending,
            });
        }
        Ok(out)
    }

    /// Every attempt of a run, in order.
    pub fn attempt_records(&self, run_id: &str) -> Result<Vec<AttemptRecord>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, step, attempt, command, started_ms, finished_ms, outcome, reason, exit_code, stdout, stderr
                 FROM attempts WHERE run_id = ?1 ORDER BY started_ms, rowid",
            )?;
            let rows = st.query_map(params![run_id], |r| {
                Ok(AttemptRecord {
                    server: r.get(0)?,
                    step: r.get(1)?,
                    attempt: r.get::<_, i64>(2)? as u32,
                    command: r.get(3)?,
                    started_ms: r.get(4)?,
                    finished_ms: r.get(5)?,
                    outcome: r.get(6)?,
                    reason: r.get(7)?,
                    exit_code: r.get(8)?,
                    stdout: r.get(9)?,
                    stderr: r.get(10)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Every outage window of a run.
    pub fn outages(&self, run_id: &str) -> Result<Vec<OutageRecord>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, opened_ms, closed_ms FROM outages WHERE run_id = ?1 ORDER BY opened_ms, rowid",
            )?;
            let rows = st.query_map(params![run_id], |r| {
                Ok(OutageRecord { server: r.get(0)?, opened_ms: r.get(1)?, closed_ms: r.get(2)? })
            })?;
            rows.collect()
        })
    }

    /// Every warning of a run: (server, at, message).
    pub fn warnings(&self, run_id: &str) -> Result<Vec<(Option<String>, i64, String)>, JournalError> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT server, at_ms, message FROM warnings WHERE run_id = ?1 ORDER BY at_ms, rowid")?;
            let rows = st.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    /// The standard output kept for the last attempt of a step.
    pub fn attempt_output(&self, run_id: &str, server: &str, step: &str) -> Result<Option<String>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT stdout FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = ?3 ORDER BY attempt DESC LIMIT 1",
                params![run_id, server, step],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Lease breaks recorded for a server.
    pub fn lease_breaks(&self, server: &str) -> Result<Vec<(String, String)>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT old_run, new_run FROM lease_breaks WHERE server = ?1 ORDER BY rowid")?;
            let rows = st.query_map(params![server], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Every attempt of a run: (server, step, attempt, outcome).
    pub fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRow>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, step, attempt, outcome FROM attempts WHERE run_id = ?1 ORDER BY started_ms, rowid",
            )?;
            let rows =
                st.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u32, r.get(3)?)))?;
            rows.collect()
        })
    }

    /// The event sink that records `run_id`.
    pub fn sink<'a>(&'a self, run_id: &'a str) -> JournalSink<'a> {
        JournalSink { journal: self, run_id, pending: Mutex::new(Vec::new()) }
    }
}

/// Records the engine's events into the journal.
pub struct JournalSink<'a> {
    journal: &'a Journal,
    run_id: &'a str,
    /// Output waiting for its step's end (written in the same transaction).
    pending: Mutex<Vec<(String, String, &'static str, String)>>,
}

impl EventSink for JournalSink<'_> {
    fn emit(&self, e: &Event) -> Result<(), String> {
        let run = self.run_id;
        if let Event::StepOutput { server, step, stream, text } = e {
            if let Ok(mut p) = self.pending.lock() {
                p.push((server.to_string(), step.clone(), stream, text.clone()));
            }
            return Ok(());
        }
        let pending: Vec<_> = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => Vec::new(),
        };
        self.journal
            .with(|c| {
                let tx = c.transaction()?;
                match e {
                    Event::RunStarted { .. } => {}
                    Event::ServerStarted { server, build_before, .. } => {
                        tx.execute(
                            "UPDATE servers SET state = 'running', build_before = COALESCE(build_before, ?3) WHERE run_id = ?1 AND server = ?2",
                            params![run, server.as_str(), build_before],
                        )?;
                    }
                    Event::StepStarted { server, step, at_ms, command, .. } => {
                        // Attempts are numbered by the journal across resumes, so that an attempt
                        // cut short by a crash is kept next to the one that followed it.
                        tx.execute(
                            "INSERT INTO attempts(run_id, server, step, attempt, command, started_ms)
                             VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = ?3), ?4, ?5)",
                            params![run, server.as_str(), step, command, *at_ms as i64],
                        )?;
                        if step.parse::<StepId>().is_ok() {
                            tx.execute(
                                "UPDATE servers SET current_step = ?3 WHERE run_id = ?1 AND server = ?2",
                                params![run, server.as_str(), step],
                            )?;
                        }
                    }
                    Event::StepFinished { server, step, at_ms, outcome, exit_code, .. } => {
                        let (mut out, mut err) = (String::new(), String::new());
                        for (s, st, stream, text) in &pending {
                            if s == server.as_str() && st == step {
                                if *stream == "stderr" { err.push_str(text) } else { out.push_str(text) }
                            }
                        }
                        let reason = match outcome {
                            StepOutcome::Failed { reason } => Some(reason.clone()),
                            _ => None,
                        };
                        tx.execute(
                            "UPDATE attempts SET finished_ms = ?4, outcome = ?5, reason = ?6, exit_code = ?7, stdout = ?8, stderr = ?9
                             WHERE run_id = ?1 AND server = ?2 AND step = ?3
                               AND attempt = (SELECT MAX(attempt) FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = ?3)",
                            params![run, server.as_str(), step, *at_ms as i64, outcome.name(), reason, exit_code, truncate(&out), truncate(&err)],
                        )?;
                        if outcome.is_success() && step.parse::<StepId>().is_ok() {
                            tx.execute(
                                "UPDATE servers SET current_step = NULL WHERE run_id = ?1 AND server = ?2 AND current_step = ?3",
                                params![run, server.as_str(), step],
                            )?;
                        }
                    }
                    Event::OutageOpened { server, at_ms } => {
                        tx.execute(
                            "INSERT INTO outages(run_id, server, opened_ms) VALUES (?1, ?2, ?3)",
                            params![run, server.as_str(), *at_ms as i64],
                        )?;
                    }
                    Event::OutageClosed { server, at_ms } => {
                        tx.execute(
                            "UPDATE outages SET closed_ms = ?3 WHERE run_id = ?1 AND server = ?2 AND closed_ms IS NULL",
                            params![run, server.as_str(), *at_ms as i64],
                        )?;
                    }
                    Event::Warning { server, at_ms, message } => {
                        tx.execute(
                            "INSERT INTO warnings(run_id, server, at_ms, message) VALUES (?1, ?2, ?3, ?4)",
                            params![run, server.as_ref().map(|s| s.to_string()), *at_ms as i64, message],
                        )?;
                    }
                    Event::ServerFinished { server, result, error, recovery, .. } => {
                        let rec = serde_json::to_string(recovery).unwrap_or_else(|_| "[]".into());
                        tx.execute(
                            "UPDATE servers SET state = ?3, error = ?4, recovery = ?5, current_step = CASE WHEN ?3 = 'updated' THEN NULL ELSE current_step END
                             WHERE run_id = ?1 AND server = ?2",
                            params![run, server.as_str(), result, error, rec],
                        )?;
                    }
                    Event::RunFinished { state, .. } => {
                        tx.execute("UPDATE runs SET state = ?2, finished_at = ?3 WHERE id = ?1", params![run, state, now_text()])?;
                        if *state != "interrupted" {
                            tx.execute("DELETE FROM leases WHERE run_id = ?1", params![run])?;
                        }
                    }
                    Event::StepOutput { .. } => {}
                }
                tx.commit()
            })
            .map_err(|e| e.to_string())
    }
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

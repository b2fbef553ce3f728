//! Reading the journal back: runs, a run's servers (status, resume, summary figures), its
//! attempts, outages and warnings.
//!
//! A run's per-server views are assembled in Rust from one query per table (servers,
//! attempts, outages), whatever the number of servers. Words read from a column are parsed
//! into the core's vocabulary; a word this build does not know is [`JournalError::Corrupt`].

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, EngineWork, Outcome, ServerResult, ServerState};
use sfbpatch_engine::{ResumeState, ServerResume};

use crate::records::{
    AttemptRecord, AttemptRow, OutageRecord, RunRow, RunStatus, ServerReport, ServerStatus, StepMinutes, StoredRun,
};
use crate::{Journal, JournalError, word};

/// One row of `servers`, typed.
struct ServerFacts {
    fqdn: String,
    state: ServerState,
    current_step: Option<StepId>,
    build_before: Option<String>,
    error: Option<String>,
    recovery: Vec<String>,
}

/// One row of `attempts`, without its output (but with a successful `verify`'s, which the
/// summary reads the build from).
struct AttemptFacts {
    step: Activity,
    attempt: u32,
    outcome: Option<Outcome>,
    verify_stdout: Option<String>,
}

/// A run's servers with their attempts and outages, each table read once.
struct RunFacts {
    servers: Vec<ServerFacts>,
    attempts: HashMap<String, Vec<AttemptFacts>>,
    outages: HashMap<String, Vec<OutageRecord>>,
}

/// Raw `servers` columns: (server, state, current step, build before, error, recovery JSON).
type RawServer = (String, String, Option<String>, Option<String>, Option<String>, Option<String>);

/// Raw `attempts` columns: (server, step, attempt, outcome, verify's output).
type RawAttempt = (String, String, i64, Option<String>, Option<String>);

impl RunFacts {
    /// Steps that succeeded, in the order they first did (attempts are read in start order).
    fn completed(&self, server: &str) -> Vec<StepId> {
        let mut done = Vec::new();
        for a in self.attempts.get(server).into_iter().flatten() {
            if let (Some(id), Some(true)) = (a.step.step(), a.outcome.map(Outcome::is_success))
                && !done.contains(&id)
            {
                done.push(id);
            }
        }
        done
    }

    /// The last attempt (highest number) of an activity on a server.
    fn last(&self, server: &str, step: Activity) -> Option<&AttemptFacts> {
        self.attempts.get(server).into_iter().flatten().filter(|a| a.step == step).max_by_key(|a| a.attempt)
    }

    /// The installer asked for a restart (its last attempt) and no restart succeeded since.
    fn reboot_pending(&self, server: &str) -> bool {
        let install = self.last(server, Activity::Step(StepId::InstallUpdate)).and_then(|a| a.outcome);
        let rebooted = self
            .attempts
            .get(server)
            .into_iter()
            .flatten()
            .any(|a| a.step == Activity::Engine(EngineWork::Reboot) && a.outcome == Some(Outcome::Succeeded));
        install == Some(Outcome::SucceededRebootPending) && !rebooted
    }

    /// The build the last successful `verify` read back.
    fn build_after(&self, server: &str) -> Option<String> {
        self.attempts
            .get(server)
            .into_iter()
            .flatten()
            .filter(|a| a.step == Activity::Step(StepId::Verify) && a.outcome == Some(Outcome::Succeeded))
            .max_by_key(|a| a.attempt)
            .and_then(|a| a.verify_stdout.as_deref())
            .and_then(|v| {
                sfbpatch_core::readback::parse_patch_versions(v)
                    .into_iter()
                    .map(|(_, b)| b)
                    .min()
                    .map(|b| b.to_string())
            })
    }

    /// Milliseconds of outage (open ones until `now_ms`) and whether one is open.
    fn outage(&self, server: &str, now_ms: i64) -> (i64, bool) {
        let windows = self.outages.get(server).map(Vec::as_slice).unwrap_or_default();
        let ms = windows.iter().map(|o| o.closed_ms.unwrap_or(now_ms) - o.opened_ms).sum();
        (ms, windows.iter().any(|o| o.closed_ms.is_none()))
    }
}

impl Journal {
    /// A stored run.
    pub fn run(&self, run_id: &str) -> Result<StoredRun, JournalError> {
        let row: Option<(String, String, String, String)> = self.with(|c| {
            c.query_row("SELECT id, state, plan, params FROM runs WHERE id = ?1", params![run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })?;
        let (id, state, plan, params) =
            row.ok_or_else(|| JournalError::NoRun { path: self.path.clone(), run: run_id.to_owned() })?;
        let state = word(&id, "run state", &state)?;
        Ok(StoredRun { id, state, plan, params })
    }

    /// The most recent run's id.
    pub fn latest(&self) -> Result<Option<String>, JournalError> {
        self.with(|c| {
            c.query_row("SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1", [], |r| r.get(0)).optional()
        })
    }

    /// Every run, newest first.
    pub fn history(&self) -> Result<Vec<RunRow>, JournalError> {
        let rows: Vec<(String, String, Option<String>, String, i64)> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT r.id, r.started_at, r.finished_at, r.state, (SELECT COUNT(*) FROM servers s WHERE s.run_id = r.id)
                 FROM runs r ORDER BY r.started_at DESC, r.rowid DESC",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(run_id, started_at, finished_at, state, servers)| {
                let state = word(&run_id, "run state", &state)?;
                Ok(RunRow { run_id, started_at, finished_at, state, servers: usize::try_from(servers).unwrap_or(0) })
            })
            .collect()
    }

    /// Reads a run's servers, attempts and outages: one query per table.
    fn facts(&self, run_id: &str) -> Result<RunFacts, JournalError> {
        let (servers, attempts, outages): (Vec<RawServer>, Vec<RawAttempt>, Vec<OutageRecord>) = self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, state, current_step, build_before, error, recovery FROM servers WHERE run_id = ?1 ORDER BY rowid",
            )?;
            let servers = st
                .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                .collect::<rusqlite::Result<Vec<RawServer>>>()?;
            let mut st = c.prepare(
                "SELECT server, step, attempt, outcome, CASE WHEN step = 'verify' AND outcome = 'succeeded' THEN stdout END
                 FROM attempts WHERE run_id = ?1 ORDER BY started_ms, rowid",
            )?;
            let attempts = st
                .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<Vec<RawAttempt>>>()?;
            Ok((servers, attempts, outages_of(c, run_id)?))
        })?;
        let servers = servers
            .into_iter()
            .map(|(fqdn, state, current_step, build_before, error, recovery)| {
                Ok(ServerFacts {
                    state: word(run_id, "server state", &state)?,
                    current_step: current_step.map(|s| word(run_id, "step", &s)).transpose()?,
                    recovery: recovery.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default(),
                    fqdn,
                    build_before,
                    error,
                })
            })
            .collect::<Result<Vec<_>, JournalError>>()?;
        let mut by_server: HashMap<String, Vec<AttemptFacts>> = HashMap::new();
        for (server, step, attempt, outcome, verify_stdout) in attempts {
            let a = AttemptFacts {
                step: word(run_id, "activity", &step)?,
                attempt: u32::try_from(attempt).unwrap_or(0),
                outcome: outcome.map(|o| word(run_id, "outcome", &o)).transpose()?,
                verify_stdout,
            };
            by_server.entry(server).or_default().push(a);
        }
        let mut outages_by_server: HashMap<String, Vec<OutageRecord>> = HashMap::new();
        for o in outages {
            outages_by_server.entry(o.server.clone()).or_default().push(o);
        }
        Ok(RunFacts { servers, attempts: by_server, outages: outages_by_server })
    }

    /// `status` for a run.
    pub fn status(&self, run_id: &str) -> Result<RunStatus, JournalError> {
        let run = self.run(run_id)?;
        let facts = self.facts(run_id)?;
        let servers = facts
            .servers
            .iter()
            .map(|s| ServerStatus {
                fqdn: s.fqdn.clone(),
                state: s.state,
                current_step: s.current_step,
                completed_steps: facts.completed(&s.fqdn),
                error: s.error.clone(),
                recovery: s.recovery.clone(),
            })
            .collect();
        Ok(RunStatus { run_id: run.id, state: run.state, servers })
    }

    /// Where an interrupted run left each server, for `resume`. Only an updated (or already
    /// current) server has `finished` set (it is left alone): a failed, not-started or interrupted one is taken
    /// up again by the resume.
    pub fn resume_state(&self, run_id: &str) -> Result<ResumeState, JournalError> {
        self.run(run_id)?;
        let facts = self.facts(run_id)?;
        let mut out = ResumeState::default();
        for s in &facts.servers {
            let completed = facts.completed(&s.fqdn);
            let in_flight = s.current_step.filter(|x| !completed.contains(x));
            let (_, outage_open) = facts.outage(&s.fqdn, 0);
            out.servers.insert(
                s.fqdn.clone(),
                ServerResume {
                    completed,
                    in_flight,
                    outage_open,
                    finished: match s.state {
                        ServerState::Updated => Some(ServerResult::Updated),
                        ServerState::AlreadyCurrent => Some(ServerResult::AlreadyCurrent),
                        _ => None,
                    },
                    build_before: s.build_before.as_deref().and_then(|b| b.parse().ok()),
                    reboot_pending: facts.reboot_pending(&s.fqdn),
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
        let facts = self.facts(run_id)?;
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(facts
            .servers
            .iter()
            .map(|s| {
                let (ms, open) = facts.outage(&s.fqdn, now);
                ServerReport {
                    fqdn: s.fqdn.clone(),
                    build_before: s.build_before.clone(),
                    build_after: facts.build_after(&s.fqdn),
                    outage_minutes: (ms.max(0) as f64 / 600.0).round() / 100.0,
                    outage_open: open,
                    reboot_pending: facts.reboot_pending(&s.fqdn),
                }
            })
            .collect())
    }

    /// Every attempt of a run, in order.
    pub fn attempt_records(&self, run_id: &str) -> Result<Vec<AttemptRecord>, JournalError> {
        type Raw = (
            String,
            String,
            i64,
            Option<String>,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i32>,
            String,
            String,
        );
        let rows: Vec<Raw> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, step, attempt, command, started_ms, finished_ms, outcome, reason, exit_code, stdout, stderr
                 FROM attempts WHERE run_id = ?1 ORDER BY started_ms, rowid",
            )?;
            let rows = st.query_map(params![run_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(
                |(
                    server,
                    step,
                    attempt,
                    command,
                    started_ms,
                    finished_ms,
                    outcome,
                    reason,
                    exit_code,
                    stdout,
                    stderr,
                )| {
                    Ok(AttemptRecord {
                        server,
                        step: word(run_id, "activity", &step)?,
                        attempt: u32::try_from(attempt).unwrap_or(0),
                        command,
                        started_ms,
                        finished_ms,
                        outcome: outcome.map(|o| word(run_id, "outcome", &o)).transpose()?,
                        reason,
                        exit_code,
                        stdout,
                        stderr,
                    })
                },
            )
            .collect()
    }

    /// Every outage window of a run.
    pub fn outages(&self, run_id: &str) -> Result<Vec<OutageRecord>, JournalError> {
        self.with(|c| outages_of(c, run_id))
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

    /// The standard output kept for the last attempt of a step (its word: a step id, or
    /// `install-logs`, `reboot`…).
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
        let rows: Vec<(String, String, i64, Option<String>)> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT server, step, attempt, outcome FROM attempts WHERE run_id = ?1 ORDER BY started_ms, rowid",
            )?;
            let rows = st.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(server, step, attempt, outcome)| {
                Ok((
                    server,
                    word(run_id, "activity", &step)?,
                    u32::try_from(attempt).unwrap_or(0),
                    outcome.map(|o| word(run_id, "outcome", &o)).transpose()?,
                ))
            })
            .collect()
    }
}

/// A run's outage windows, in order.
fn outages_of(c: &rusqlite::Connection, run_id: &str) -> rusqlite::Result<Vec<OutageRecord>> {
    let mut st =
        c.prepare("SELECT server, opened_ms, closed_ms FROM outages WHERE run_id = ?1 ORDER BY opened_ms, rowid")?;
    let rows = st.query_map(params![run_id], |r| {
        Ok(OutageRecord { server: r.get(0)?, opened_ms: r.get(1)?, closed_ms: r.get(2)? })
    })?;
    rows.collect()
}

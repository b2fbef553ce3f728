//! Reports of a run (or a rehearsal, recorded the same way): what happened to each server,
//! how long each pool's users were affected, and every step's output.
//!
//! [`Report::from_journal`] gathers the facts from the journal and the run's stored plan;
//! [`html`], [`markdown`] and JSON (serde) render the same facts. The HTML is one
//! self-contained file: inline CSS and SVG, no script, no font, no external resource.

mod html;
mod markdown;

pub use html::html;
pub use markdown::markdown;

use serde::{Serialize, Serializer};
use sfbpatch_core::plan::Plan;
use sfbpatch_core::readback;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::vocab::{Activity, Outcome, RunState, ServerState, minutes_up, resiliency_ms};
use sfbpatch_journal::{AttemptRecord, Journal, JournalError};

/// How a bar of the timeline ended: an attempt's outcome, or cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarOutcome {
    /// The attempt ended.
    Ended(Outcome),
    /// It never ended (the run was interrupted or killed during it).
    Interrupted,
}

impl BarOutcome {
    /// The word: an outcome's, or `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            BarOutcome::Ended(o) => o.as_str(),
            BarOutcome::Interrupted => "interrupted",
        }
    }
}

impl Serialize for BarOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One bar of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct StepBar {
    /// A step, or the engine's own work (`reboot`, `recovery`, hooks).
    pub step: Activity,
    /// Attempt.
    pub attempt: u32,
    /// Start, minutes from the run's start.
    pub start_minutes: f64,
    /// End, minutes from the run's start (the report's end when it never ended).
    pub end_minutes: f64,
    /// `succeeded`, `succeeded-reboot-pending`, `failed`, `interrupted`.
    pub outcome: BarOutcome,
    /// Why it failed.
    pub reason: Option<String>,
    /// The command.
    pub command: Option<String>,
    /// The host that ran it (from the stored plan: a back end's database steps run on an
    /// updated Front End); the server itself for the engine's own work and older plans.
    pub runs_on: String,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Output kept by the journal.
    pub stdout: String,
    /// Errors kept by the journal.
    pub stderr: String,
}

/// One server.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRow {
    /// The server.
    pub fqdn: String,
    /// Its role.
    pub role: String,
    /// Its runbook (`standard-edition`, `front-end`, `backend-databases`, `seed-backend`).
    pub runbook: Runbook,
    /// Why that runbook, as the plan said it.
    pub runbook_reason: String,
    /// The servers it waited for.
    pub after: Vec<String>,
    /// Its pool.
    pub pool: Option<String>,
    /// `updated`, `failed`, `not-started`, `interrupted`, `pending`, `running`.
    pub result: ServerState,
    /// Why it failed.
    pub error: Option<String>,
    /// Build before.
    pub build_before: Option<String>,
    /// Build after (read back by verify).
    pub build_after: Option<String>,
    /// Users' outage, minutes.
    pub outage_minutes: f64,
    /// The outage windows, minutes from the run's start.
    pub outages: Vec<(f64, f64)>,
    /// Its steps.
    pub steps: Vec<StepBar>,
}

/// One pool's users.
#[derive(Clone, Debug, Serialize)]
pub struct PoolRow {
    /// The pool.
    pub fqdn: String,
    /// Minutes in resiliency mode (back end down beyond 30 minutes).
    pub resiliency_minutes: f64,
    /// Minutes signed out (Standard Edition services stopped).
    pub signed_out_minutes: f64,
    /// Moves of its users to the pool's other Front Ends: one per Front End failed over.
    pub moves: u64,
}

/// A whole report (`sfbpatch.report/1`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `sfbpatch.report/1`.
    pub schema: &'static str,
    /// The run.
    pub run_id: String,
    /// `completed`, `failed`, `interrupted`, `running`.
    pub state: RunState,
    /// What it was: `run` or `rehearsal`.
    pub kind: String,
    /// The package.
    pub package: String,
    /// The outage budget, minutes.
    pub outage_budget_minutes: f64,
    /// From the first step to the last, minutes.
    pub span_minutes: f64,
    /// Per server, in plan order.
    pub servers: Vec<ServerRow>,
    /// Per pool.
    pub pools: Vec<PoolRow>,
    /// Warnings: (server, minutes from start, message).
    pub warnings: Vec<(Option<String>, f64, String)>,
}

fn minutes(ms: i64) -> f64 {
    (ms as f64 / 600.0).round() / 100.0
}

/// A number of minutes as the reports print it: one decimal, none when it is whole.
pub(crate) fn num(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Catalogue keys (under `report.`) of the servers table's columns.
pub(crate) const SERVER_COLUMNS: [&str; 8] =
    ["col.server", "col.role", "col.runbook", "col.pool", "col.result", "col.before", "col.after", "col.outage"];

/// Catalogue keys of the pools table's columns.
pub(crate) const POOL_COLUMNS: [&str; 4] = ["col.pool", "col.resiliency", "col.signed-out", "col.moves"];

/// Catalogue keys of a server's step log (`#`, the attempt number, is itself).
pub(crate) const STEP_COLUMNS: [&str; 6] = ["col.step", "#", "col.runs-on", "col.start", "col.duration", "col.outcome"];

/// A table's column headings, from the catalogue.
pub(crate) fn labels(lang: sfbpatch_i18n::Lang, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(
            |k| if k.starts_with("col.") { sfbpatch_i18n::text(lang, &format!("report.{k}")) } else { (*k).to_owned() },
        )
        .collect()
}

impl ServerRow {
    /// The servers table's cells, as text (each renderer escapes them its way).
    pub(crate) fn cells(&self) -> [String; 8] {
        [
            self.fqdn.clone(),
            self.role.clone(),
            self.runbook.as_str().to_owned(),
            self.pool.clone().unwrap_or_else(|| "-".into()),
            self.result.as_str().to_owned(),
            self.build_before.clone().unwrap_or_else(|| "?".into()),
            self.build_after.clone().unwrap_or_else(|| "?".into()),
            num(self.outage_minutes),
        ]
    }
}

impl PoolRow {
    /// The pools table's cells.
    pub(crate) fn cells(&self) -> [String; 4] {
        [self.fqdn.clone(), num(self.resiliency_minutes), num(self.signed_out_minutes), self.moves.to_string()]
    }
}

impl StepBar {
    /// The step log's cells: step, attempt, host, start, duration, outcome (with its reason).
    pub(crate) fn cells(&self) -> [String; 6] {
        let reason = self.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
        [
            self.step.as_str().to_owned(),
            self.attempt.to_string(),
            self.runs_on.clone(),
            num(self.start_minutes),
            num(self.end_minutes - self.start_minutes),
            format!("{}{reason}", self.outcome.as_str()),
        ]
    }
}

impl Report {
    /// One sentence: what ran, how it ended, how long, against which budget.
    pub fn summary_line(&self, lang: sfbpatch_i18n::Lang) -> String {
        sfbpatch_i18n::fmt(
            lang,
            "report.meta",
            &sfbpatch_i18n::Args::new()
                .with("kind", sfbpatch_i18n::text(lang, &format!("report.kind.{}", self.kind)))
                .with("state", self.state)
                .with("package", &self.package)
                .with("updated", self.servers.iter().filter(|s| s.result == ServerState::Updated).count())
                .with("total", self.servers.len())
                .with("span", num(self.span_minutes))
                .with("budget", num(self.outage_budget_minutes)),
        )
    }

    /// Gathers a run's facts from the journal. `kind` labels it (`run`, `rehearsal`).
    pub fn from_journal(journal: &Journal, run_id: &str, kind: &str) -> Result<Report, JournalError> {
        let stored = journal.run(run_id)?;
        let plan: Plan = serde_json::from_str(&stored.plan).map_err(|e| JournalError::Corrupt {
            run: run_id.to_owned(),
            what: "plan",
            why: e.to_string(),
        })?;
        let status = journal.status(run_id)?;
        let attempts = journal.attempt_records(run_id)?;
        let outages = journal.outages(run_id)?;
        let warnings = journal.warnings(run_id)?;
        let t0 = attempts.iter().map(|a| a.started_ms).chain(outages.iter().map(|o| o.opened_ms)).min().unwrap_or(0);
        let t_end = attempts
            .iter()
            .map(|a| a.finished_ms.unwrap_or(a.started_ms))
            .chain(outages.iter().map(|o| o.closed_ms.unwrap_or(o.opened_ms)))
            .max()
            .unwrap_or(t0);
        let reports = journal.server_reports(run_id, u64::try_from(t_end).unwrap_or(0))?;
        let rel = |ms: i64| minutes(ms - t0);
        let bar = |a: &AttemptRecord| StepBar {
            runs_on: plan
                .servers
                .iter()
                .find(|sp| sp.fqdn.as_str() == a.server)
                .and_then(|sp| {
                    let st = sp.steps.iter().find(|st| Some(st.id) == a.step.step())?;
                    Some(sp.host_of(st).to_string())
                })
                .unwrap_or_else(|| a.server.clone()),
            step: a.step,
            attempt: a.attempt,
            start_minutes: rel(a.started_ms),
            end_minutes: rel(a.finished_ms.unwrap_or(t_end)),
            outcome: a.outcome.map_or(BarOutcome::Interrupted, BarOutcome::Ended),
            reason: a.reason.clone(),
            command: a.command.clone(),
            exit_code: a.exit_code,
            stdout: a.stdout.clone(),
            stderr: a.stderr.clone(),
        };
        let servers: Vec<ServerRow> = plan
            .servers
            .iter()
            .map(|sp| {
                let fqdn = sp.fqdn.to_string();
                let st = status.servers.iter().find(|s| s.fqdn == fqdn);
                let r = reports.iter().find(|r| r.fqdn == fqdn);
                let windows: Vec<(i64, i64)> = outages
                    .iter()
                    .filter(|o| o.server == fqdn)
                    .map(|o| (o.opened_ms, o.closed_ms.unwrap_or(t_end)))
                    .collect();
                ServerRow {
                    fqdn: fqdn.clone(),
                    role: sp.role.as_str().to_owned(),
                    runbook: sp.runbook,
                    runbook_reason: sp.runbook_reason.clone(),
                    after: sp.after.iter().map(|a| a.to_string()).collect(),
                    pool: sp.pool.as_ref().map(|p| p.to_string()),
                    result: st.map_or(ServerState::Pending, |s| s.state),
                    error: st.and_then(|s| s.error.clone()),
                    build_before: r.and_then(|r| r.build_before.clone()),
                    build_after: r.and_then(|r| r.build_after.clone()).or_else(|| last_build(&attempts, &fqdn)),
                    outage_minutes: minutes(windows.iter().map(|(a, b)| b - a).sum()),
                    outages: windows.iter().map(|(a, b)| (rel(*a), rel(*b))).collect(),
                    steps: attempts.iter().filter(|a| a.server == fqdn).map(bar).collect(),
                }
            })
            .collect();
        // Per pool, milliseconds summed over its servers' windows, then rounded once: the
        // simulator's computation and rounding (`vocab::resiliency_ms`, `minutes_up`).
        let mut pools: Vec<(String, u64, u64, u64)> = Vec::new();
        for sp in &plan.servers {
            let windows: Vec<u64> = outages
                .iter()
                .filter(|o| o.server == sp.fqdn.as_str())
                .map(|o| u64::try_from(o.closed_ms.unwrap_or(t_end) - o.opened_ms).unwrap_or(0))
                .collect();
            for pool in &sp.pools {
                let i = match pools.iter().position(|p| p.0 == pool.as_str()) {
                    Some(i) => i,
                    None => {
                        pools.push((pool.to_string(), 0, 0, 0));
                        pools.len() - 1
                    }
                };
                if sp.role == sfbpatch_core::topology::Role::StandardEdition {
                    pools[i].2 += windows.iter().sum::<u64>();
                } else {
                    pools[i].1 += resiliency_ms(windows.iter().copied());
                }
                // Each failover of one of its Front Ends moved its users once.
                let failovers = attempts.iter().filter(|a| {
                    a.server == sp.fqdn.as_str()
                        && a.step == Activity::Step(StepId::Failover)
                        && a.outcome.is_some_and(Outcome::is_success)
                });
                pools[i].3 += failovers.count() as u64;
            }
        }
        let pools = pools
            .into_iter()
            .map(|(fqdn, resiliency, signed_out, moves)| PoolRow {
                fqdn,
                resiliency_minutes: minutes_up(resiliency),
                signed_out_minutes: minutes_up(signed_out),
                moves,
            })
            .collect();
        Ok(Report {
            schema: "sfbpatch.report/1",
            run_id: run_id.to_owned(),
            state: stored.state,
            kind: kind.to_owned(),
            package: plan.package.clone(),
            outage_budget_minutes: plan.outage_budget_minutes,
            span_minutes: minutes(t_end - t0),
            servers,
            pools,
            warnings: warnings.into_iter().map(|(s, at, m)| (s, rel(at), m)).collect(),
        })
    }
}

/// The build the last successful read of patch versions showed, if any.
fn last_build(attempts: &[AttemptRecord], server: &str) -> Option<String> {
    attempts
        .iter()
        .rev()
        .filter(|a| a.server == server && a.outcome == Some(Outcome::Succeeded))
        .find_map(|a| readback::parse_patch_versions(&a.stdout).into_iter().map(|(_, b)| b).min())
        .map(|b| b.to_string())
}

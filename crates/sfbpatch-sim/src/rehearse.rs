//! A rehearsal: a plan run step by step against a fresh simulated estate.
//!
//! Servers of different pools run side by side in virtual time; the servers of one pool run
//! one after another (they share the pool's users), and a pool's remaining servers are not
//! started after one of them fails. Every step's success is read back from the host (exit
//! codes, role assignment, file hash, service states, installed builds), never assumed.
//! The plan runs through the execution engine, on a paused (virtual) tokio clock.

use serde::Serialize;
use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::{Plan, ServerPlan};
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::topology::{Role, Topology};
use sfbpatch_core::vocab::{self, Activity, EngineWork, hex};
use sfbpatch_engine::event::{Event, Recorder, StepOutcome};
use sfbpatch_engine::{RunOptions, engine};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::estate::{Estate, EstateOptions};
use crate::fault::Fault;
use crate::lag::SchemaLag;
use crate::transport::SimTransport;
use crate::users::{self, PoolUsers};
use crate::{Ms, minutes};

/// The schema name of [`Rehearsal`]'s JSON.
pub const REHEARSAL_SCHEMA: &str = "sfbpatch.rehearsal/1";

/// What to rehearse.
#[derive(Clone, Debug)]
pub struct RehearseOptions {
    /// The estate as it is before the update.
    pub estate: EstateOptions,
    /// The build the package installs.
    pub package_build: Build,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// How the engine runs (retries, on-failure, guard…).
    pub run: RunOptions,
}

/// One line of a server's timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// Step id (or `reboot`, `recovery`, `pre-hook`, `post-hook`, `install-logs`).
    pub step: Activity,
    /// Attempt, from 1 (0: settled from the host's state on resume).
    pub attempt: u32,
    /// Virtual start, in minutes from the start of the rehearsal.
    pub start_minutes: f64,
    /// Duration in minutes.
    pub duration_minutes: f64,
    /// `succeeded`, `succeeded-reboot-pending`, `failed`: the words of every schema
    /// (earlier releases wrote `ok` and `reboot-pending` here).
    pub status: vocab::Outcome,
    /// Exit code, when the command completed.
    pub exit_code: Option<i32>,
    /// Inside the users' outage window of the plan.
    pub in_outage: bool,
    /// What went wrong, or what the operator should know.
    pub message: Option<String>,
}

/// One server's rehearsal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerResult {
    /// The server.
    pub fqdn: Fqdn,
    /// Its role.
    pub role: Role,
    /// Its (first) pool.
    pub pool: Option<Fqdn>,
    /// `updated`, `failed` or `not-started` (a server the run stopped before it finished is
    /// reported not started: a rehearsal is never interrupted).
    pub result: vocab::ServerResult,
    /// The step that failed.
    pub failed_step: Option<Activity>,
    /// Why.
    pub error: Option<String>,
    /// Build before.
    pub build_before: Build,
    /// Build after (read from the host).
    pub build_after: Build,
    /// Every Skype for Business service and W3SVC running at the end (read from the host).
    pub services_running: bool,
    /// A restart is still pending.
    pub reboot_pending: bool,
    /// Minutes the server's services were down (from the service states).
    pub outage_minutes: f64,
    /// The longest single outage, in minutes.
    pub longest_outage_minutes: f64,
    /// Its users' outage reached the budget: the plan counts this server's outage (steps
    /// inside the users' outage window: a Standard Edition server, a back end's databases, a
    /// Director, Edge, Mediation or Persistent Chat server alone in its pool) and its services
    /// were down `outage_budget_minutes` or more ("down for 30 minutes or more": DOMAIN.md §1,
    /// the 30-minute rule). A server whose pool served its users meanwhile is never over.
    pub over_budget: bool,
    /// When the server failed inside its outage: the commands that bring service back.
    pub recovery: Vec<String>,
    /// What happened, step by step.
    pub timeline: Vec<TimelineEntry>,
}

/// A notice for the whole run (no server): a `--warn-before` mark before the window's end,
/// the window ended, the failure budget spent — what `run` prints as a `!` line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunWarning {
    /// When, in minutes from the start of the rehearsal.
    pub at_minutes: f64,
    /// The sentence, in the run's language.
    pub message: String,
}

/// A pool's users during the rehearsal.
pub type PoolResult = PoolUsers;

/// The whole rehearsal (`sfbpatch.rehearsal/1`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rehearsal {
    /// `sfbpatch.rehearsal/1`.
    pub schema: &'static str,
    /// The seed.
    pub seed: u64,
    /// From the first step to the last, in minutes.
    pub makespan_minutes: f64,
    /// The outage budget of the plan.
    pub outage_budget_minutes: f64,
    /// The package.
    pub package: String,
    /// The build it installs.
    pub build_target: Build,
    /// Faults injected.
    pub faults: Vec<Fault>,
    /// Steps left out.
    pub skipped_steps: Vec<String>,
    /// Per server in scope.
    pub servers: Vec<ServerResult>,
    /// Per user pool: resiliency and signed-out minutes, users' moves.
    pub pools: Vec<PoolResult>,
    /// Databases left older than a serving server of their pool at the end (DOMAIN.md §4
    /// rule 6: the Front Ends keep running; the run is not "updated" while any lags).
    pub lagging_databases: Vec<SchemaLag>,
    /// The run's own notices, in order (servers' warnings are in their timelines' messages).
    pub warnings: Vec<RunWarning>,
}

impl Rehearsal {
    /// Whether every server in scope ended `updated` (or `already-current`: nothing to do).
    pub fn all_updated(&self) -> bool {
        self.servers.iter().all(|s| s.result.is_done())
    }
}

/// The simulation's default builds for a product: (servers before, package).
pub fn default_builds(product: sfbpatch_core::runbook::Product) -> (Build, Build) {
    use sfbpatch_core::runbook::Product::*;
    match product {
        Lync2013 => (Build([5, 0, 8308, 1001]), Build([5, 0, 8308, 1182])),
        Sfb2015 => (Build([6, 0, 9319, 606]), Build([6, 0, 9319, 640])),
        Sfb2019 => (Build([7, 0, 2046, 385]), Build([7, 0, 2046, 530])),
        SfbSe => (Build([16, 0, 19512, 100]), Build([16, 0, 19512, 200])),
    }
}

/// The SHA-256 of the simulated package.
pub fn package_sha256(name: &str, build: &Build) -> String {
    hex(&Sha256::digest(format!("sfbpatch simulated update package {name} {build}").as_bytes()))
}

/// Runs `plan` through the execution engine against a fresh estate made from `topology`, on
/// a paused (virtual) clock.
pub fn rehearse(topology: &Topology, plan: &Plan, opts: &RehearseOptions) -> (Rehearsal, Estate) {
    rehearse_into(topology, plan, opts, None)
}

/// [`rehearse`], also handing every event to `sink` (a journal, for a report).
pub fn rehearse_into(
    topology: &Topology,
    plan: &Plan,
    opts: &RehearseOptions,
    sink: Option<&dyn sfbpatch_engine::event::EventSink>,
) -> (Rehearsal, Estate) {
    let mut estate = Estate::new(topology, &opts.estate);
    estate.faults = opts.faults.clone();
    estate.package_build = Some(opts.package_build.clone());
    let name = plan.staged_installer.rsplit('\\').next().unwrap_or("").to_owned();
    let sha256 = package_sha256(&name, &opts.package_build);
    let before: Vec<Build> =
        plan.servers.iter().map(|s| estate.host(s.fqdn.as_str()).map(|h| h.build()).unwrap_or(Build([0; 4]))).collect();
    let recorder = Recorder::default();
    let mut run_opts = opts.run.clone();
    run_opts.target_build = Some(opts.package_build.clone());
    run_opts.outage_budget_minutes = plan.outage_budget_minutes;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build();
    let estate = match runtime {
        Ok(rt) => {
            let transport = SimTransport::new(estate, sha256, opts.package_build.clone(), 1.0);
            let (_tx, rx) = watch::channel(false);
            let mut sinks: Vec<&dyn sfbpatch_engine::event::EventSink> = vec![&recorder];
            sinks.extend(sink);
            let fan = sfbpatch_engine::event::Fanout(sinks);
            rt.block_on(engine::run(plan, &transport, &fan, &run_opts, None, rx));
            transport.into_estate()
        }
        // Without a runtime nothing ran: every server is reported not started.
        Err(_) => estate,
    };
    let events = recorder.events();
    let mut by_server: std::collections::HashMap<&Fqdn, Vec<&Event>> = std::collections::HashMap::new();
    for e in &events {
        if let Some(server) = e.server() {
            by_server.entry(server).or_default().push(e);
        }
    }
    let warnings = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { server: None, at_ms, message } => {
                Some(RunWarning { at_minutes: minutes(*at_ms), message: message.clone() })
            }
            _ => None,
        })
        .collect();
    let end = estate.now();
    let servers = plan
        .servers
        .iter()
        .zip(before)
        .map(|(sp, build_before)| {
            let evs = by_server.get(&sp.fqdn).map(Vec::as_slice).unwrap_or(&[]);
            server_result(sp, build_before, evs, &estate, end, plan.outage_budget_minutes)
        })
        .collect();
    let pools = users::pool_users(topology, &estate, end);
    // Steps of a server's own runbook that its plan leaves out (`--skip-step`); steps of
    // other runbooks are not "skipped".
    let skipped: Vec<String> = StepId::ALL
        .into_iter()
        .filter(|id| {
            plan.servers.iter().any(|s| s.runbook.steps().contains(id) && !s.steps.iter().any(|st| st.id == *id))
        })
        .map(|id| id.as_str().to_owned())
        .collect();
    let rehearsal = Rehearsal {
        schema: REHEARSAL_SCHEMA,
        seed: opts.estate.seed,
        makespan_minutes: minutes(end),
        outage_budget_minutes: plan.outage_budget_minutes,
        package: plan.package.clone(),
        build_target: opts.package_build.clone(),
        faults: opts.faults.clone(),
        skipped_steps: skipped,
        servers,
        pools,
        lagging_databases: estate.schema_lag(),
        warnings,
    };
    (rehearsal, estate)
}

fn server_result(
    sp: &ServerPlan,
    build_before: Build,
    events: &[&Event],
    estate: &Estate,
    end: Ms,
    budget: f64,
) -> ServerResult {
    let host = estate.host(sp.fqdn.as_str());
    // A SQL Server entry named by its cluster (a failover cluster's network name, no machine
    // of that name): its nodes, unavailable only while every one is.
    let nodes: Vec<&crate::estate::Host> = match host {
        Some(h) => vec![h],
        None => estate.sql_nodes(sp.fqdn.as_str()).iter().filter_map(|&i| estate.hosts.get(i)).collect(),
    };
    let intervals = crate::estate::intersect(&nodes.iter().map(|h| h.outage_intervals_until(end)).collect::<Vec<_>>());
    let mut timeline = Vec::new();
    let mut open: Option<(Activity, u32, u64)> = None;
    let mut last_failed: Option<Activity> = None;
    let (mut result, mut error, mut recovery) = (vocab::ServerResult::NotStarted, None, Vec::new());
    let mut outage = false;
    for e in events {
        match *e {
            Event::StepStarted { server, step, attempt, at_ms, .. } if *server == sp.fqdn => {
                open = Some((*step, *attempt, *at_ms));
            }
            Event::OutageOpened { server, .. } if *server == sp.fqdn => outage = true,
            Event::OutageClosed { server, .. } if *server == sp.fqdn => outage = false,
            Event::StepFinished { server, step, attempt, at_ms, outcome, output } if *server == sp.fqdn => {
                let start = open.take().filter(|(s, a, _)| s == step && a == attempt).map_or(*at_ms, |(_, _, t)| t);
                let in_outage = sp.steps.iter().find(|s| step.step() == Some(s.id)).map_or(outage, |s| s.in_outage);
                let message = match outcome {
                    StepOutcome::Succeeded | StepOutcome::SucceededRebootPending => None,
                    StepOutcome::Failed { reason } => {
                        if matches!(step, Activity::Step(_) | Activity::Engine(EngineWork::Reboot)) {
                            last_failed = Some(*step);
                        }
                        Some(reason.clone())
                    }
                };
                let status = outcome.kind();
                timeline.push(TimelineEntry {
                    step: *step,
                    attempt: *attempt,
                    start_minutes: minutes(start),
                    duration_minutes: minutes(at_ms.saturating_sub(start)),
                    status,
                    exit_code: output.exit_code,
                    in_outage,
                    message,
                });
            }
            Event::ServerFinished { server, result: r, error: err, recovery: rec, .. } if *server == sp.fqdn => {
                // The engine's word, as it said it (a rehearsal used to report `interrupted` as
                // `not-started`).
                result = *r;
                error = err.clone();
                recovery = rec.clone();
            }
            _ => {}
        }
    }
    let outage_minutes = minutes(intervals.iter().map(|(s, e)| e - s).sum());
    let counts_outage = sp.steps.iter().any(|st| st.in_outage);
    let services_running =
        !nodes.is_empty() && nodes.iter().all(|h| h.services_running() && h.unreachable_until <= end);
    ServerResult {
        fqdn: sp.fqdn.clone(),
        role: sp.role,
        pool: sp.pool.clone(),
        result,
        failed_step: if result.is_done() { None } else { last_failed },
        error,
        build_before,
        build_after: host.map(|h| h.build()).unwrap_or(Build([0; 4])),
        services_running,
        reboot_pending: host.is_some_and(|h| h.pending_reboot),
        outage_minutes,
        longest_outage_minutes: minutes(intervals.iter().map(|(s, e)| e - s).max().unwrap_or(0)),
        over_budget: counts_outage && outage_minutes >= budget,
        recovery,
        timeline,
    }
}

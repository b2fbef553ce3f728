//! A rehearsal: a plan run step by step against a fresh simulated estate.
//!
//! Servers of different pools run side by side in virtual time; the servers of one pool run
//! one after another (they share the pool's users), and a pool's remaining servers are not
//! started after one of them fails. Every step's success is read back from the host (exit
//! codes, role assignment, file hash, service states, installed builds), never assumed.
//! This is the minimal sequential driver; the execution engine will replace it.

use serde::Serialize;
use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::{Plan, ServerPlan};
use sfbpatch_core::readback::{self, Build};
use sfbpatch_core::runbook::{InstallOutcome, StepId, classify_install_exit};
use sfbpatch_core::topology::{Role, Topology};
use sha2::{Digest, Sha256};

use crate::estate::{Estate, EstateOptions};
use crate::exec::{self, ExecStatus, Execution, Request};
use crate::fault::Fault;
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
}

/// One line of a server's timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// Step id (or `reboot`).
    pub step: String,
    /// Virtual start, in minutes from the start of the rehearsal.
    pub start_minutes: f64,
    /// Duration in minutes.
    pub duration_minutes: f64,
    /// `ok`, `reboot-pending`, `failed`, `timed-out`, `disconnected`, `unreachable`.
    pub status: &'static str,
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
    /// `updated`, `failed` or `not-started`.
    pub result: &'static str,
    /// The step that failed.
    pub failed_step: Option<String>,
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
    /// When the server failed inside its outage: the commands that bring service back.
    pub recovery: Vec<String>,
    /// What happened, step by step.
    pub timeline: Vec<TimelineEntry>,
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
    /// Per user pool.
    pub pools: Vec<PoolResult>,
}

impl Rehearsal {
    /// Whether every server in scope ended `updated`.
    pub fn all_updated(&self) -> bool {
        self.servers.iter().all(|s| s.result == "updated")
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
    let digest = Sha256::digest(format!("sfbpatch simulated update package {name} {build}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

struct Driver<'a> {
    estate: &'a mut Estate,
    plan: &'a Plan,
    build: Build,
    sha256: String,
}

enum StepEnd {
    Ok,
    Failed(String),
}

fn entry(
    step: &str,
    start: Ms,
    e: &Execution,
    in_outage: bool,
    status: &'static str,
    message: Option<String>,
) -> TimelineEntry {
    let start = start.min(e.start_ms);
    TimelineEntry {
        step: step.to_owned(),
        start_minutes: minutes(start),
        duration_minutes: minutes(e.end_ms.saturating_sub(start)),
        status,
        exit_code: (e.status == ExecStatus::Completed).then_some(e.exit_code),
        in_outage,
        message,
    }
}

fn failure_text(e: &Execution) -> String {
    match e.status {
        ExecStatus::TimedOut => "the step did not finish within its timeout".to_owned(),
        ExecStatus::Disconnected => "the session dropped during the step".to_owned(),
        ExecStatus::Unreachable => "the server did not answer".to_owned(),
        ExecStatus::Completed => {
            let text = if e.stderr.trim().is_empty() { e.stdout.trim() } else { e.stderr.trim() };
            format!("exit code {}: {}", e.exit_code, text.lines().next().unwrap_or(""))
        }
    }
}

fn status_of(e: &Execution) -> &'static str {
    match e.status {
        ExecStatus::Completed if e.exit_code == 0 => "ok",
        ExecStatus::Completed => "failed",
        ExecStatus::TimedOut => "timed-out",
        ExecStatus::Disconnected => "disconnected",
        ExecStatus::Unreachable => "unreachable",
    }
}

impl Driver<'_> {
    fn run(
        &mut self,
        host: &str,
        session: Option<u64>,
        step: Option<StepId>,
        script: &str,
        at: Ms,
        timeout_ms: Ms,
    ) -> Execution {
        self.estate.execute(&Request { host, session, step, script, at, timeout_ms })
    }

    /// Waits for a restarting host to answer again, polling every 30 seconds.
    fn wait_for(&self, host: &str, from: Ms) -> Ms {
        let back = self.estate.host(host).map_or(from, |h| h.unreachable_until);
        let mut t = from;
        while t < back {
            t += 30_000;
        }
        t
    }

    fn server(
        &mut self,
        sp: &ServerPlan,
        start: Ms,
        timeline: &mut Vec<TimelineEntry>,
    ) -> (Ms, StepEnd, Option<String>) {
        let host = sp.fqdn.to_string();
        let mut t = start;
        let mut session: Option<u64> = None;
        for st in &sp.steps {
            let id = st.id;
            let timeout = st.timeout_seconds * 1000;
            let name = id.as_str();
            let step_start = t;
            if id == StepId::CloseShells {
                self.estate.close_sessions(&host);
                session = None;
                timeline.push(TimelineEntry {
                    step: name.into(),
                    start_minutes: minutes(t),
                    duration_minutes: 0.0,
                    status: "ok",
                    exit_code: None,
                    in_outage: st.in_outage,
                    message: None,
                });
                continue;
            }
            if id == StepId::StagePackage {
                let copy = self.estate.put_file(
                    &host,
                    Some(id),
                    &self.plan.staged_installer,
                    exec::package(&self.sha256, self.build.clone()),
                    t,
                    timeout,
                );
                t = copy.end_ms;
                if !copy.succeeded() {
                    let why = failure_text(&copy);
                    timeline.push(entry(name, step_start, &copy, st.in_outage, status_of(&copy), Some(why.clone())));
                    return (t, StepEnd::Failed(why), Some(name.into()));
                }
            }
            if matches!(id, StepId::OpenShell | StepId::ReopenShell) || session.is_none() {
                session = self.estate.open_session(&host, t);
            }
            let Some(script) = &st.command else {
                timeline.push(TimelineEntry {
                    step: name.into(),
                    start_minutes: minutes(t),
                    duration_minutes: 0.0,
                    status: "ok",
                    exit_code: None,
                    in_outage: st.in_outage,
                    message: None,
                });
                continue;
            };
            let e = self.run(&host, session, Some(id), script, t, timeout);
            t = e.end_ms;
            if e.status == ExecStatus::Disconnected {
                session = None;
            }
            let verdict = self.check(id, &e);
            match verdict {
                Check::Ok => timeline.push(entry(name, step_start, &e, st.in_outage, "ok", None)),
                Check::RebootPending(msg) => {
                    timeline.push(entry(name, step_start, &e, st.in_outage, "reboot-pending", Some(msg)));
                    let r = self.run(&host, None, None, "Restart-Computer -Force", t, 60_000);
                    let back = self.wait_for(&host, r.end_ms);
                    timeline.push(TimelineEntry {
                        step: "reboot".into(),
                        start_minutes: minutes(t),
                        duration_minutes: minutes(back - t),
                        status: status_of(&r),
                        exit_code: Some(r.exit_code),
                        in_outage: st.in_outage,
                        message: None,
                    });
                    t = back;
                    session = None;
                }
                Check::Failed(why) => {
                    let status = if e.status == ExecStatus::Completed { "failed" } else { status_of(&e) };
                    timeline.push(entry(name, step_start, &e, st.in_outage, status, Some(why.clone())));
                    return (t, StepEnd::Failed(why), Some(name.into()));
                }
            }
        }
        (t, StepEnd::Ok, None)
    }

    fn check(&self, id: StepId, e: &Execution) -> Check {
        if e.status != ExecStatus::Completed {
            return Check::Failed(failure_text(e));
        }
        match id {
            StepId::InstallUpdate => match classify_install_exit(i64::from(e.exit_code)) {
                InstallOutcome::Succeeded => Check::Ok,
                InstallOutcome::SucceededRebootPending => {
                    Check::RebootPending(format!("the installer returned {}: a restart is required", e.exit_code))
                }
                InstallOutcome::Failed => Check::Failed(failure_text(e)),
            },
            StepId::StartW3svc | StepId::StopW3svc
                if readback::net_already_in_state(id == StepId::StartW3svc, e.exit_code, &e.stderr) =>
            {
                Check::Ok
            }
            _ if e.exit_code != 0 => Check::Failed(failure_text(e)),
            StepId::CheckRole if !readback::has_role(&e.stdout, "CsAdministrator") => {
                Check::Failed("the account is not a member of CsAdministrator".into())
            }
            StepId::StagePackage => match readback::parse_file_hash(&e.stdout) {
                Some(h) if h == self.sha256 => Check::Ok,
                Some(h) => Check::Failed(format!("the staged package's SHA-256 is {h}, expected {}", self.sha256)),
                None => Check::Failed("no SHA-256 in the output".into()),
            },
            StepId::Verify => {
                let services = readback::parse_services(&e.stdout);
                let stopped: Vec<String> =
                    services.iter().filter(|s| !s.is_running()).map(|s| s.name.clone()).collect();
                if services.is_empty() {
                    return Check::Failed("no service states in the output".into());
                }
                if !stopped.is_empty() {
                    return Check::Failed(format!("services not running: {}", stopped.join(", ")));
                }
                let builds = readback::parse_patch_versions(&e.stdout);
                let old: Vec<String> =
                    builds.iter().filter(|(_, b)| *b != self.build).map(|(c, b)| format!("{c} {b}")).collect();
                if builds.is_empty() {
                    Check::Failed("no component builds in the output".into())
                } else if !old.is_empty() {
                    Check::Failed(format!("components not at {}: {}", self.build, old.join("; ")))
                } else {
                    Check::Ok
                }
            }
            _ => Check::Ok,
        }
    }
}

/// (result, failed step, error, timeline) of one server.
type Outcome = (&'static str, Option<String>, Option<String>, Vec<TimelineEntry>);

enum Check {
    Ok,
    RebootPending(String),
    Failed(String),
}

/// Runs `plan` against a fresh estate made from `topology`.
pub fn rehearse(topology: &Topology, plan: &Plan, opts: &RehearseOptions) -> (Rehearsal, Estate) {
    let mut estate = Estate::new(topology, &opts.estate);
    estate.faults = opts.faults.clone();
    let name = plan.staged_installer.rsplit('\\').next().unwrap_or("").to_owned();
    let sha256 = package_sha256(&name, &opts.package_build);
    let before: Vec<Build> =
        plan.servers.iter().map(|s| estate.host(s.fqdn.as_str()).map(|h| h.build()).unwrap_or(Build([0; 4]))).collect();

    // Lanes: one per pool; servers of a pool one after another.
    let mut lanes: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, s) in plan.servers.iter().enumerate() {
        let key = s.pool.as_ref().map(|p| p.to_string()).unwrap_or_else(|| s.fqdn.to_string());
        match lanes.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => lanes.push((key, vec![i])),
        }
    }
    let mut outcomes: Vec<Outcome> = plan.servers.iter().map(|_| ("not-started", None, None, Vec::new())).collect();
    let mut driver = Driver { estate: &mut estate, plan, build: opts.package_build.clone(), sha256 };
    for (_, servers) in &lanes {
        let mut t: Ms = 0;
        for &i in servers {
            let mut timeline = Vec::new();
            let (end, result, failed_step) = driver.server(&plan.servers[i], t, &mut timeline);
            t = end;
            let failed = matches!(result, StepEnd::Failed(_));
            outcomes[i] = match result {
                StepEnd::Ok => ("updated", None, None, timeline),
                StepEnd::Failed(why) => ("failed", failed_step, Some(why), timeline),
            };
            if failed {
                break;
            }
        }
    }
    let end = estate.now();
    let servers = plan
        .servers
        .iter()
        .zip(outcomes)
        .zip(before)
        .map(|((sp, (result, failed_step, error, timeline)), build_before)| {
            let h = estate.host(sp.fqdn.as_str());
            let intervals = h.map(|h| h.down_intervals_until(end)).unwrap_or_default();
            let services_running = h.is_some_and(|h| h.services_running() && h.unreachable_until <= end);
            let recovery = match failed_step.as_deref().map(str::parse::<StepId>) {
                Some(Ok(step)) if !services_running => sp.recovery(step),
                _ => Vec::new(),
            };
            ServerResult {
                fqdn: sp.fqdn.clone(),
                role: sp.role,
                pool: sp.pool.clone(),
                result,
                failed_step,
                error,
                build_before,
                build_after: h.map(|h| h.build()).unwrap_or(Build([0; 4])),
                services_running,
                recovery,
                reboot_pending: h.is_some_and(|h| h.pending_reboot),
                outage_minutes: minutes(intervals.iter().map(|(s, e)| e - s).sum()),
                longest_outage_minutes: minutes(intervals.iter().map(|(s, e)| e - s).max().unwrap_or(0)),
                timeline,
            }
        })
        .collect();
    let pools = users::pool_users(topology, &estate, end);
    let mut skipped: Vec<String> = Vec::new();
    if let Some(s) = plan.servers.first() {
        for id in StepId::ALL {
            if !s.steps.iter().any(|st| st.id == id) {
                skipped.push(id.as_str().to_owned());
            }
        }
    }
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
    };
    (rehearsal, estate)
}

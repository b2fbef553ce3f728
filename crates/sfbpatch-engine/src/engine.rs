//! The engine proper.

use std::collections::BTreeMap;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::{Plan, ServerPlan};
use sfbpatch_core::readback::{self, Build};
use sfbpatch_core::runbook::{InstallOutcome, StepId, classify_install_exit};
use tokio::sync::{Semaphore, watch};

use sfbpatch_core::vocab::{Activity, EngineWork, RunState, ServerResult, Stream};

use crate::event::{AttemptOutput, Event, EventSink, StepOutcome};
use crate::transport::{CommandOutput, SessionId, Transport, TransportError};

/// What to do when a step fails inside the outage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Bring service back where that is safe, then mark the server failed.
    #[default]
    Restore,
    /// Leave the server as it is and report.
    Stop,
}

/// Timeouts of a restart's stages.
#[derive(Clone, Copy, Debug)]
pub struct RebootTimeouts {
    /// From the request until the host stops answering (or its boot time changes).
    pub down: Duration,
    /// Until it answers again.
    pub back: Duration,
    /// Until its services answer.
    pub healthy: Duration,
    /// Between polls.
    pub poll: Duration,
}

impl Default for RebootTimeouts {
    fn default() -> Self {
        Self {
            down: Duration::from_secs(600),
            back: Duration::from_secs(1800),
            healthy: Duration::from_secs(900),
            poll: Duration::from_secs(15),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// At most this many servers at once (default: one per pool, every pool at once).
    pub max_parallel: Option<usize>,
    /// The outage budget in minutes.
    pub outage_budget_minutes: f64,
    /// Open an outage even when its projection reaches the budget.
    pub accept_resiliency: bool,
    /// Restore service, or stop, when a step fails inside the outage.
    pub on_failure: OnFailure,
    /// The build the package installs, when known (else: newer than before).
    pub target_build: Option<Build>,
    /// Warn when an open outage is this many minutes from the budget (e.g. 10 and 5).
    pub warn_before_budget: Vec<f64>,
    /// Extra attempts for steps safe to run twice.
    pub retries: u32,
    /// First back-off between attempts (doubles each time).
    pub backoff: Duration,
    /// Run on each server before it is touched; if it fails the server is not touched.
    pub pre_hook: Option<String>,
    /// Run on each server after it was updated.
    pub post_hook: Option<String>,
    /// Per-server hooks replacing the two above: FQDN → (pre, post).
    pub server_hooks: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Measured minutes of earlier runs, by (server, step): they replace the estimates in
    /// the outage projection.
    pub history_minutes: BTreeMap<(String, String), f64>,
    /// Restart stage timeouts.
    pub reboot: RebootTimeouts,
    /// Every step's timeout and back-off is multiplied by this (1.0; smaller for fast test estates).
    pub timeout_scale: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_parallel: None,
            outage_budget_minutes: sfbpatch_core::plan::RESILIENCY_MINUTES,
            accept_resiliency: false,
            on_failure: OnFailure::Restore,
            target_build: None,
            warn_before_budget: vec![10.0, 5.0],
            retries: 2,
            backoff: Duration::from_secs(10),
            pre_hook: None,
            post_hook: None,
            server_hooks: BTreeMap::new(),
            history_minutes: BTreeMap::new(),
            reboot: RebootTimeouts::default(),
            timeout_scale: 1.0,
        }
    }
}

impl RunOptions {
    /// The (pre, post) hooks of a server.
    pub fn hooks(&self, server: &Fqdn) -> (Option<&String>, Option<&String>) {
        match self.server_hooks.get(server.as_str()) {
            Some((pre, post)) => (pre.as_ref().or(self.pre_hook.as_ref()), post.as_ref().or(self.post_hook.as_ref())),
            None => (self.pre_hook.as_ref(), self.post_hook.as_ref()),
        }
    }
}

/// Where an interrupted run left a server (from the journal).
#[derive(Clone, Debug, Default)]
pub struct ServerResume {
    /// Steps that finished successfully.
    pub completed: Vec<StepId>,
    /// A step that started and did not finish: ambiguous.
    pub in_flight: Option<StepId>,
    /// The outage was open.
    pub outage_open: bool,
    /// The server had already finished (updated, failed…): leave it.
    pub finished: Option<ServerResult>,
    /// The build before the run first touched it.
    pub build_before: Option<Build>,
    /// The installer asked for a restart that was not completed before the interruption.
    pub reboot_pending: bool,
}

/// Where an interrupted run left every server.
#[derive(Clone, Debug, Default)]
pub struct ResumeState {
    /// By server FQDN.
    pub servers: BTreeMap<String, ServerResume>,
}

/// One server's end.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSummary {
    /// The server.
    pub fqdn: Fqdn,
    /// `updated`, `failed`, `not-started`, `interrupted`.
    pub result: ServerResult,
    /// Why.
    pub error: Option<String>,
    /// Commands to bring service back, if it is down.
    pub recovery: Vec<String>,
}

/// The whole run's end.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// `completed`, `failed`, `interrupted`.
    pub state: RunState,
    /// Per server, in plan order.
    pub servers: Vec<ServerSummary>,
}

struct Ctx<'a, T: Transport, S: EventSink> {
    plan: &'a Plan,
    transport: &'a T,
    sink: &'a S,
    opts: &'a RunOptions,
    stop: watch::Receiver<bool>,
    sink_failed: std::sync::Mutex<Option<String>>,
}

impl<T: Transport, S: EventSink> Ctx<'_, T, S> {
    fn emit(&self, e: Event) {
        if let Err(err) = self.sink.emit(&e)
            && let Ok(mut f) = self.sink_failed.lock()
        {
            f.get_or_insert(err);
        }
    }

    fn now(&self) -> u64 {
        self.transport.now_ms()
    }

    fn started(&self, server: Fqdn, step: Activity, attempt: u32, command: Option<String>) {
        self.emit(Event::StepStarted { server, step, attempt, at_ms: self.now(), command });
    }

    fn finished(&self, server: Fqdn, step: Activity, attempt: u32, outcome: StepOutcome, output: AttemptOutput) {
        self.emit(Event::StepFinished { server, step, attempt, at_ms: self.now(), outcome, output });
    }

    fn halted(&self) -> bool {
        *self.stop.borrow() || self.sink_failed.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    async fn call(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        match tokio::time::timeout(
            self.transport.real(timeout),
            self.transport.run(host, session, step, script, timeout),
        )
        .await
        {
            Err(_) => Err(format!("no answer within {} min", timeout.as_secs_f64() / 60.0)),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(o)) => Ok(o),
        }
    }
}

/// Why a step attempt failed, and whether trying again can help.
struct Attempt {
    outcome: StepOutcome,
    output: AttemptOutput,
    lost_session: bool,
    /// No answer, or a dropped session: the step may or may not have been applied, and
    /// trying again may help. A definite error (an exit code) is not retried.
    transient: bool,
}

fn failed(reason: impl Into<String>) -> Attempt {
    Attempt {
        outcome: StepOutcome::Failed { reason: reason.into() },
        output: AttemptOutput::default(),
        lost_session: false,
        transient: false,
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `plan` through `transport`, handing every event to `sink`. `stop` set to true asks
/// for a clean interruption: the current steps finish, no new step starts.
pub async fn run<T: Transport, S: EventSink>(
    plan: &Plan,
    transport: &T,
    sink: &S,
    opts: &RunOptions,
    resume: Option<&ResumeState>,
    stop: watch::Receiver<bool>,
) -> RunSummary {
    let cx = Ctx { plan, transport, sink, opts, stop, sink_failed: std::sync::Mutex::new(None) };
    cx.emit(Event::RunStarted { at_ms: cx.now(), servers: plan.servers.iter().map(|s| s.fqdn.clone()).collect() });

    // A transport that executes on one of the servers may only patch that one.
    if let Some(local) = transport.executes_on()
        && plan.servers.iter().any(|s| s.fqdn == local)
        && plan.servers.len() > 1
    {
        let msg = format!(
            "the transport runs on {local}, which this run would patch together with other servers: run it from another machine, or for {local} alone"
        );
        cx.emit(Event::Warning { server: Some(local.clone()), at_ms: cx.now(), message: msg.clone() });
        let servers: Vec<ServerSummary> = plan
            .servers
            .iter()
            .map(|s| ServerSummary {
                fqdn: s.fqdn.clone(),
                result: ServerResult::NotStarted,
                error: Some(msg.clone()),
                recovery: Vec::new(),
            })
            .collect();
        for s in &servers {
            cx.emit(Event::ServerFinished {
                server: s.fqdn.clone(),
                at_ms: cx.now(),
                result: ServerResult::NotStarted,
                error: s.error.clone(),
                recovery: Vec::new(),
            });
        }
        cx.emit(Event::RunFinished { at_ms: cx.now(), state: RunState::Failed });
        return RunSummary { state: RunState::Failed, servers };
    }

    let mut lanes: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, s) in plan.servers.iter().enumerate() {
        let key = s.pool.as_ref().map(|p| p.to_string()).unwrap_or_else(|| s.fqdn.to_string());
        match lanes.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => lanes.push((key, vec![i])),
        }
    }
    let permits = opts.max_parallel.unwrap_or(lanes.len()).max(1);
    let semaphore = Semaphore::new(permits);
    let cxr = &cx;
    let sem = &semaphore;
    let lane_futures = lanes.iter().map(|(_, servers)| async move {
        let mut out = Vec::new();
        let mut stop_lane = false;
        for &i in servers {
            let sp = &plan.servers[i];
            let prior = resume.and_then(|r| r.servers.get(sp.fqdn.as_str()));
            if prior.and_then(|p| p.finished) == Some(ServerResult::Updated) {
                out.push((
                    i,
                    ServerSummary {
                        fqdn: sp.fqdn.clone(),
                        result: ServerResult::Updated,
                        error: None,
                        recovery: Vec::new(),
                    },
                ));
                continue;
            }
            if stop_lane || cxr.halted() {
                let result = if cxr.halted() { ServerResult::Interrupted } else { ServerResult::NotStarted };
                cxr.emit(Event::ServerFinished {
                    server: sp.fqdn.clone(),
                    at_ms: cxr.now(),
                    result,
                    error: None,
                    recovery: Vec::new(),
                });
                out.push((i, ServerSummary { fqdn: sp.fqdn.clone(), result, error: None, recovery: Vec::new() }));
                continue;
            }
            let Ok(_permit) = sem.acquire().await else { break };
            let summary = server(cxr, sp, prior).await;
            if summary.result != ServerResult::Updated {
                stop_lane = true;
            }
            out.push((i, summary));
        }
        out
    });
    let mut results: Vec<(usize, ServerSummary)> =
        futures::future::join_all(lane_futures).await.into_iter().flatten().collect();
    results.sort_by_key(|(i, _)| *i);
    let servers: Vec<ServerSummary> = results.into_iter().map(|(_, s)| s).collect();
    let state = if servers.iter().all(|s| s.result == ServerResult::Updated) {
        RunState::Completed
    } else if servers.iter().any(|s| s.result == ServerResult::Interrupted) || cx.halted() {
        RunState::Interrupted
    } else {
        RunState::Failed
    };
    cx.emit(Event::RunFinished { at_ms: cx.now(), state });
    RunSummary { state, servers }
}

fn step_minutes<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, sp: &ServerPlan, id: StepId) -> f64 {
    cx.opts
        .history_minutes
        .get(&(sp.fqdn.to_string(), id.as_str().to_owned()))
        .copied()
        .or_else(|| sp.steps.iter().find(|s| s.id == id).map(|s| s.estimated_minutes))
        .unwrap_or(0.0)
}

async fn server<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    prior: Option<&ServerResume>,
) -> ServerSummary {
    let host = &sp.fqdn;
    let summary = |result: ServerResult, error: Option<String>, recovery: Vec<String>| {
        cx.emit(Event::ServerFinished {
            server: host.clone(),
            at_ms: cx.now(),
            result,
            error: error.clone(),
            recovery: recovery.clone(),
        });
        ServerSummary { fqdn: host.clone(), result, error, recovery }
    };
    let completed: Vec<StepId> = prior.map(|p| p.completed.clone()).unwrap_or_default();
    let mut outage_open = prior.is_some_and(|p| p.outage_open);
    let fresh = completed.is_empty() && prior.and_then(|p| p.in_flight).is_none();

    // The build before, for the install's postcondition when the target is not known.
    let before = match prior.and_then(|p| p.build_before.clone()) {
        Some(b) => Some(b),
        None => match cx.call(host, None, None, "Get-CsServerPatchVersion", PROBE_TIMEOUT).await {
            Ok(o) => readback::parse_patch_versions(&o.stdout).into_iter().map(|(_, b)| b).min(),
            Err(_) => None,
        },
    };
    cx.emit(Event::ServerStarted {
        server: host.clone(),
        at_ms: cx.now(),
        build_before: before.as_ref().map(|b| b.to_string()),
    });
    if fresh
        && let Some(hook) = cx.opts.hooks(host).0
        && let Err(why) = hook_step(cx, host, EngineWork::PreHook, hook).await
    {
        return summary(
            ServerResult::NotStarted,
            Some(format!("the pre-hook failed, the server was not touched: {why}")),
            Vec::new(),
        );
    }
    let mut session: Option<SessionId> = None;
    if prior.is_some_and(|p| p.reboot_pending) {
        cx.emit(Event::Warning {
            server: Some(host.clone()),
            at_ms: cx.now(),
            message: "the restart the installer asked for was interrupted: restarting first".into(),
        });
        if let Err(why) = reboot(cx, host).await {
            return summary(ServerResult::Failed, Some(format!("restart after install-update: {why}")), Vec::new());
        }
    }
    let mut outage_started_ms: Option<u64> = if outage_open { Some(cx.now()) } else { None };
    let mut warned: Vec<f64> = Vec::new();
    let mut installed = completed.contains(&StepId::InstallUpdate);

    for st in &sp.steps {
        let id = st.id;
        if completed.contains(&id) {
            continue;
        }
        if cx.halted() {
            let why = "the run was interrupted before this server finished".to_owned();
            let recovery = if outage_open { sp.recovery(id) } else { Vec::new() };
            return summary(ServerResult::Interrupted, Some(why), recovery);
        }
        // An ambiguous step: decide from the host's actual state.
        if prior.and_then(|p| p.in_flight) == Some(id) {
            match postcondition(cx, sp, id, &before, &mut session).await {
                Ok(true) => {
                    let note = "resumed: the host shows this step done".to_owned();
                    cx.started(host.clone(), Activity::Step(id), 0, None);
                    cx.emit(Event::StepOutput {
                        server: host.clone(),
                        step: Activity::Step(id),
                        stream: Stream::Stdout,
                        text: note.clone(),
                    });
                    let out = AttemptOutput { exit_code: None, stdout: note, stderr: String::new() };
                    cx.finished(host.clone(), Activity::Step(id), 0, StepOutcome::Succeeded, out);
                    if id == StepId::StartServices {
                        outage_open = false;
                        cx.emit(Event::OutageClosed { server: host.clone(), at_ms: cx.now() });
                    }
                    continue;
                }
                Ok(false) if !st.safe_to_repeat && id != StepId::InstallUpdate => {
                    let why = format!(
                        "step {id} started before the interruption and is not safe to repeat: check the server, then resume"
                    );
                    return summary(ServerResult::Failed, Some(why), sp.recovery(id));
                }
                Ok(false) => {
                    cx.emit(Event::Warning {
                        server: Some(host.clone()),
                        at_ms: cx.now(),
                        message: format!("step {id} was interrupted and the host shows it not done: running it again"),
                    });
                }
                Err(why) => {
                    return summary(
                        ServerResult::Failed,
                        Some(format!("cannot tell whether the interrupted step {id} was applied: {why}")),
                        Vec::new(),
                    );
                }
            }
        }
        if id == StepId::StopServices && !outage_open {
            let from = sp.steps.iter().position(|s| s.id == id).unwrap_or(0);
            let projected: f64 =
                sp.steps[from..].iter().filter(|s| s.in_outage).map(|s| step_minutes(cx, sp, s.id)).sum();
            if projected >= cx.opts.outage_budget_minutes && !cx.opts.accept_resiliency {
                let why = format!(
                    "projected outage {projected:.1} min reaches the {} min budget: the outage was not opened (use --accept-resiliency to go ahead)",
                    cx.opts.outage_budget_minutes
                );
                cx.emit(Event::Warning { server: Some(host.clone()), at_ms: cx.now(), message: why.clone() });
                return summary(ServerResult::NotStarted, Some(why), Vec::new());
            }
            outage_open = true;
            outage_started_ms = Some(cx.now());
            cx.emit(Event::OutageOpened { server: host.clone(), at_ms: cx.now() });
        }
        // While the outage is open, its timer runs alongside the step: the marks before the
        // budget are announced when they pass, not when a long step ends.
        let outcome = match outage_started_ms.filter(|_| outage_open) {
            Some(start) => {
                tokio::select! {
                    o = step(cx, sp, id, &before, &mut session) => o,
                    () = outage_marks(cx, host, start, &mut warned) => StepOutcome::Failed { reason: "unreachable".into() },
                }
            }
            None => step(cx, sp, id, &before, &mut session).await,
        };
        // The installer's logs are collected once the outage is over (or service is back):
        // nothing that can wait runs inside the outage.
        installed |= id == StepId::InstallUpdate;
        match outcome {
            StepOutcome::Succeeded => {}
            StepOutcome::SucceededRebootPending => {
                if let Err(why) = reboot(cx, host).await {
                    let s = fail(cx, sp, id, outage_open, format!("restart after {id}: {why}"), &mut session).await;
                    collect_install_logs(cx, sp).await;
                    return s;
                }
                session = None;
            }
            StepOutcome::Failed { reason } => {
                let s = fail(cx, sp, id, outage_open, reason, &mut session).await;
                if installed {
                    collect_install_logs(cx, sp).await;
                }
                return s;
            }
        }
        if id == StepId::StartServices && outage_open {
            outage_open = false;
            cx.emit(Event::OutageClosed { server: host.clone(), at_ms: cx.now() });
        }
    }
    if installed {
        collect_install_logs(cx, sp).await;
    }
    if let Some(hook) = cx.opts.hooks(host).1
        && let Err(why) = hook_step(cx, host, EngineWork::PostHook, hook).await
    {
        cx.emit(Event::Warning {
            server: Some(host.clone()),
            at_ms: cx.now(),
            message: format!("the post-hook failed: {why}"),
        });
    }
    summary(ServerResult::Updated, None, Vec::new())
}

/// Copies the installer's log files (written in the run's own staging folder) into the event
/// stream, hence the journal. Failing to read them is a warning, never a failure.
async fn collect_install_logs<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, sp: &ServerPlan) {
    let host = &sp.fqdn;
    let dir = cx.plan.staged_installer.rsplit_once('\\').map_or("", |(d, _)| d);
    let cmd = sfbpatch_pwsh::Command::named(sfbpatch_pwsh::Word::fixed("Get-Content"))
        .arg(sfbpatch_pwsh::Arg::Named(sfbpatch_pwsh::Word::fixed("Path"), format!("{dir}\\*.log")))
        .render();
    let name = Activity::Engine(EngineWork::InstallLogs);
    cx.started(host.clone(), name, 1, Some(cmd.clone()));
    let mut out = AttemptOutput::default();
    let outcome = match cx.call(host, None, None, &cmd, PROBE_TIMEOUT).await {
        Ok(o) if o.exit_code == 0 => {
            out = output(cx, host, name, &o);
            StepOutcome::Succeeded
        }
        Ok(o) => StepOutcome::Failed { reason: first_line(&o) },
        Err(e) => StepOutcome::Failed { reason: e },
    };
    if let StepOutcome::Failed { reason } = &outcome {
        cx.emit(Event::Warning {
            server: Some(host.clone()),
            at_ms: cx.now(),
            message: format!("the installer's logs could not be collected: {reason}"),
        });
    }
    cx.finished(host.clone(), name, 1, outcome, out);
}

/// Announces each mark before the budget as the open outage passes it; never returns.
async fn outage_marks<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, host: &Fqdn, start: u64, warned: &mut Vec<f64>) {
    let budget = cx.opts.outage_budget_minutes;
    loop {
        let now = cx.now();
        let elapsed = now.saturating_sub(start) as f64 / 60_000.0;
        for mark in &cx.opts.warn_before_budget {
            if elapsed >= budget - mark && !warned.contains(mark) {
                warned.push(*mark);
                cx.emit(Event::Warning {
                    server: Some(host.clone()),
                    at_ms: now,
                    message: format!("outage at {elapsed:.1} min: less than {mark} min to the {budget} min budget"),
                });
            }
        }
        let next = cx
            .opts
            .warn_before_budget
            .iter()
            .filter(|m| !warned.contains(m))
            .map(|m| start + ((budget - m).max(0.0) * 60_000.0) as u64)
            .min();
        match next {
            Some(at) if at > now => tokio::time::sleep(cx.transport.real(Duration::from_millis(at - now))).await,
            Some(_) => tokio::task::yield_now().await,
            None => std::future::pending::<()>().await,
        }
    }
}

async fn hook_step<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    work: EngineWork,
    script: &str,
) -> Result<(), String> {
    let name = Activity::Engine(work);
    cx.started(host.clone(), name, 1, Some(script.into()));
    let r = cx.call(host, None, None, script, Duration::from_secs(600)).await;
    let (outcome, exit, result) = match &r {
        Ok(o) if o.exit_code == 0 => (StepOutcome::Succeeded, Some(0), Ok(())),
        Ok(o) => (
            StepOutcome::Failed { reason: format!("exit code {}", o.exit_code) },
            Some(o.exit_code),
            Err(first_line(o)),
        ),
        Err(e) => (StepOutcome::Failed { reason: e.clone() }, None, Err(e.clone())),
    };
    let mut out = match &r {
        Ok(o) => output(cx, host, name, o),
        Err(_) => AttemptOutput::default(),
    };
    out.exit_code = exit;
    cx.finished(host.clone(), name, 1, outcome, out);
    result
}

fn first_line(o: &CommandOutput) -> String {
    let text = if o.stderr.trim().is_empty() { o.stdout.trim() } else { o.stderr.trim() };
    format!("exit code {}: {}", o.exit_code, text.lines().next().unwrap_or(""))
}

/// Streams a command's output for live display and returns it for the attempt's end.
fn output<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    step: Activity,
    o: &CommandOutput,
) -> AttemptOutput {
    for (stream, text) in [(Stream::Stdout, &o.stdout), (Stream::Stderr, &o.stderr)] {
        if !text.trim().is_empty() {
            cx.emit(Event::StepOutput { server: host.clone(), step, stream, text: text.clone() });
        }
    }
    AttemptOutput { exit_code: Some(o.exit_code), stdout: o.stdout.clone(), stderr: o.stderr.clone() }
}

/// A failure: restore service where the state allows, and report.
async fn fail<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    failed_step: StepId,
    outage_open: bool,
    reason: String,
    session: &mut Option<SessionId>,
) -> ServerSummary {
    let host = &sp.fqdn;
    let recovery = sp.recovery(failed_step);
    let mut still_down = false;
    if outage_open {
        if cx.opts.on_failure == OnFailure::Restore && !recovery.is_empty() {
            let name = Activity::Engine(EngineWork::Recovery);
            cx.started(host.clone(), name, 1, Some(recovery.join("; ")));
            let mut ok = true;
            let mut out = AttemptOutput::default();
            for c in &recovery {
                match cx.call(host, *session, None, c, Duration::from_secs(1800)).await {
                    Ok(o) => {
                        let part = output(cx, host, name, &o);
                        out.stdout.push_str(&part.stdout);
                        out.stderr.push_str(&part.stderr);
                        out.exit_code = part.exit_code;
                        let already = readback::net_already_in_state(true, o.exit_code, &o.stderr);
                        if o.exit_code != 0 && !already {
                            ok = false;
                            break;
                        }
                    }
                    Err(_) => {
                        *session = None;
                        ok = false;
                        break;
                    }
                }
            }
            let outcome = if ok {
                StepOutcome::Succeeded
            } else {
                StepOutcome::Failed { reason: "a recovery command failed".into() }
            };
            cx.finished(host.clone(), name, 1, outcome, out);
        }
        // Read the state back: never claim service is back, or down, without looking.
        still_down = !services_running(cx, host).await.unwrap_or(false);
        if !still_down {
            cx.emit(Event::OutageClosed { server: host.clone(), at_ms: cx.now() });
        }
    }
    let (error, recovery) = if still_down {
        (
            format!("{failed_step} failed: {reason}. SERVICES ARE STOPPED: run the recovery commands on the server."),
            recovery,
        )
    } else if outage_open {
        (format!("{failed_step} failed: {reason}. Service was brought back; the server is not updated."), Vec::new())
    } else {
        (format!("{failed_step} failed: {reason}"), Vec::new())
    };
    cx.emit(Event::ServerFinished {
        server: host.clone(),
        at_ms: cx.now(),
        result: ServerResult::Failed,
        error: Some(error.clone()),
        recovery: recovery.clone(),
    });
    ServerSummary { fqdn: host.clone(), result: ServerResult::Failed, error: Some(error), recovery }
}

async fn services_running<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, host: &Fqdn) -> Result<bool, String> {
    let o = cx.call(host, None, None, "Get-CsWindowsService", PROBE_TIMEOUT).await?;
    let s = readback::parse_services(&o.stdout);
    let w = cx.call(host, None, None, "Get-Service -Name 'W3SVC'", PROBE_TIMEOUT).await?;
    let w = readback::parse_services(&w.stdout);
    Ok(o.exit_code == 0
        && !s.is_empty()
        && s.iter().all(|x| x.is_running())
        && w.iter().all(|x| x.is_running())
        && !w.is_empty())
}

/// Whether a step's effect is visible on the host (for resuming an ambiguous step).
async fn postcondition<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    before: &Option<Build>,
    _session: &mut Option<SessionId>,
) -> Result<bool, String> {
    let host = &sp.fqdn;
    let services = |all_running: bool| async move {
        let o = cx.call(host, None, None, "Get-CsWindowsService", PROBE_TIMEOUT).await?;
        let s = readback::parse_services(&o.stdout);
        Ok::<bool, String>(!s.is_empty() && s.iter().all(|x| x.is_running() == all_running))
    };
    let w3svc = |running: bool| async move {
        let o = cx.call(host, None, None, "Get-Service -Name 'W3SVC'", PROBE_TIMEOUT).await?;
        Ok::<bool, String>(readback::parse_services(&o.stdout).iter().all(|x| x.is_running() == running))
    };
    match id {
        StepId::StopServices | StepId::StopServicesAgain => services(false).await,
        StepId::StartServices => services(true).await,
        StepId::StopW3svc => w3svc(false).await,
        StepId::StartW3svc => w3svc(true).await,
        StepId::InstallUpdate => {
            let o = cx.call(host, None, None, "Get-CsServerPatchVersion", PROBE_TIMEOUT).await?;
            let builds: Vec<Build> = readback::parse_patch_versions(&o.stdout).into_iter().map(|(_, b)| b).collect();
            Ok(build_reached(&builds, cx.opts.target_build.as_ref(), before.as_ref()))
        }
        // Reading steps and re-runnable ones: running them again is the check.
        _ => Ok(false),
    }
}

fn build_reached(builds: &[Build], target: Option<&Build>, before: Option<&Build>) -> bool {
    if builds.is_empty() {
        return false;
    }
    match (target, before) {
        (Some(t), _) => builds.iter().all(|b| b >= t),
        (None, Some(b0)) => builds.iter().all(|b| b > b0),
        (None, None) => false,
    }
}

/// One step, with retries for steps safe to run twice.
async fn step<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    before: &Option<Build>,
    session: &mut Option<SessionId>,
) -> StepOutcome {
    let host = &sp.fqdn;
    let Some(st) = sp.steps.iter().find(|s| s.id == id) else { return StepOutcome::Succeeded };
    let attempts = if st.safe_to_repeat { 1 + cx.opts.retries } else { 1 };
    let scale =
        if cx.opts.timeout_scale.is_finite() && cx.opts.timeout_scale > 0.0 { cx.opts.timeout_scale } else { 1.0 };
    let timeout = Duration::from_secs(st.timeout_seconds).mul_f64(scale);
    let mut last = StepOutcome::Failed { reason: "not run".into() };
    for attempt in 1..=attempts {
        cx.started(host.clone(), Activity::Step(id), attempt, st.command.clone());
        let a = attempt_step(cx, sp, id, st.command.as_deref(), timeout, before, session).await;
        if a.lost_session {
            *session = None;
        }
        cx.finished(host.clone(), Activity::Step(id), attempt, a.outcome.clone(), a.output.clone());
        if a.outcome.is_success() {
            return a.outcome;
        }
        if a.transient && !st.safe_to_repeat {
            // Not safe to run again: decide from what the host shows.
            if let Ok(true) = postcondition(cx, sp, id, before, session).await {
                cx.emit(Event::Warning {
                    server: Some(host.clone()),
                    at_ms: cx.now(),
                    message: format!("{id} lost its connection, but the host shows it done"),
                });
                return StepOutcome::Succeeded;
            }
        }
        let transient = a.transient;
        last = a.outcome;
        if !transient {
            break;
        }
        if attempt < attempts && !cx.halted() {
            let wait = (cx.opts.backoff * 2u32.saturating_pow(attempt - 1)).mul_f64(scale);
            tokio::time::sleep(cx.transport.real(wait)).await;
        }
    }
    last
}

async fn attempt_step<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    command: Option<&str>,
    timeout: Duration,
    before: &Option<Build>,
    session: &mut Option<SessionId>,
) -> Attempt {
    let host = &sp.fqdn;
    match id {
        StepId::CloseShells => {
            return match cx.transport.close_sessions(host).await {
                Ok(()) => {
                    *session = None;
                    Attempt {
                        outcome: StepOutcome::Succeeded,
                        output: AttemptOutput::default(),
                        lost_session: true,
                        transient: false,
                    }
                }
                Err(e) => failed(e.to_string()),
            };
        }
        StepId::StagePackage => {
            // Enough free space first, with a clear error, before anything is copied.
            if let Some(size) = cx.transport.package_size() {
                let drive = cx.plan.staged_installer.get(..1).unwrap_or("C").to_owned();
                let probe = sfbpatch_pwsh::Command::named(sfbpatch_pwsh::Word::fixed("Get-PSDrive"))
                    .arg(sfbpatch_pwsh::Arg::Named(sfbpatch_pwsh::Word::fixed("Name"), drive.clone()))
                    .render();
                if let Ok(o) = cx.call(host, None, None, &probe, PROBE_TIMEOUT).await
                    && let Some(free) = readback::parse_free_bytes(&o.stdout, &drive)
                {
                    // The package, its extraction and the installer's logs: twice its size
                    // and a gigabyte to spare.
                    let need = size.saturating_mul(2).saturating_add(1 << 30);
                    if free < need {
                        return failed(format!(
                            "not enough free space on {drive}: {:.1} GB free, {:.1} GB needed for a {:.0} MB package. Nothing was changed.",
                            free as f64 / 1_073_741_824.0,
                            need as f64 / 1_073_741_824.0,
                            size as f64 / 1_048_576.0
                        ));
                    }
                }
            }
            let staged = tokio::time::timeout(
                cx.transport.real(timeout),
                cx.transport.stage(host, Some(id), &cx.plan.staged_installer, timeout),
            )
            .await;
            match staged {
                Err(_) => return failed("the copy did not finish within the step's timeout"),
                Ok(Err(e)) => return failed(format!("copying the package: {e}")),
                Ok(Ok(())) => {}
            }
        }
        StepId::OpenShell | StepId::ReopenShell => {
            *session = None;
        }
        _ => {}
    }
    if session.is_none() {
        match tokio::time::timeout(cx.transport.real(timeout), cx.transport.open_session(host)).await {
            Ok(Ok(s)) => *session = Some(s),
            Ok(Err(e)) => return failed(format!("opening a session: {e}")),
            Err(_) => return failed("opening a session timed out"),
        }
    }
    let Some(script) = command else {
        return Attempt {
            outcome: StepOutcome::Succeeded,
            output: AttemptOutput::default(),
            lost_session: false,
            transient: false,
        };
    };
    let r =
        tokio::time::timeout(cx.transport.real(timeout), cx.transport.run(host, *session, Some(id), script, timeout))
            .await;
    let o = match r {
        Err(_) => {
            return Attempt {
                outcome: StepOutcome::Failed {
                    reason: format!("no answer within the step's timeout ({} min)", timeout.as_secs() / 60),
                },
                output: AttemptOutput::default(),
                lost_session: true,
                transient: true,
            };
        }
        Ok(Err(e @ (TransportError::Disconnected(_) | TransportError::Unreachable(_)))) => {
            return Attempt {
                outcome: StepOutcome::Failed { reason: e.to_string() },
                output: AttemptOutput::default(),
                lost_session: true,
                transient: true,
            };
        }
        Ok(Err(e)) => return failed(e.to_string()),
        Ok(Ok(o)) => o,
    };
    let out = output(cx, host, Activity::Step(id), &o);
    let verdict = |outcome| Attempt { outcome, output: out.clone(), lost_session: false, transient: false };
    let fail_with = |reason: String| verdict(StepOutcome::Failed { reason });
    match id {
        StepId::InstallUpdate => {
            let outcome = match classify_install_exit(i64::from(o.exit_code)) {
                InstallOutcome::Failed => return fail_with(first_line(&o)),
                InstallOutcome::Succeeded => StepOutcome::Succeeded,
                InstallOutcome::SucceededRebootPending => StepOutcome::SucceededRebootPending,
            };
            // The installer's exit codes are undocumented: the build read back decides.
            if outcome == StepOutcome::Succeeded {
                match cx.call(host, None, None, "Get-CsServerPatchVersion", PROBE_TIMEOUT).await {
                    Ok(p) => {
                        let builds: Vec<Build> =
                            readback::parse_patch_versions(&p.stdout).into_iter().map(|(_, b)| b).collect();
                        if !build_reached(&builds, cx.opts.target_build.as_ref(), before.as_ref()) {
                            let shown: Vec<String> = builds.iter().map(|b| b.to_string()).collect();
                            return fail_with(format!(
                                "the installer exited 0 but the installed build is {}",
                                shown.join(", ")
                            ));
                        }
                    }
                    Err(e) => return fail_with(format!("could not read the installed build back: {e}")),
                }
            }
            verdict(outcome)
        }
        StepId::StartW3svc | StepId::StopW3svc
            if readback::net_already_in_state(id == StepId::StartW3svc, o.exit_code, &o.stderr) =>
        {
            verdict(StepOutcome::Succeeded)
        }
        _ if o.exit_code != 0 => fail_with(first_line(&o)),
        StepId::CheckRole if !readback::has_role(&o.stdout, "CsAdministrator") => {
            fail_with("the account is not a member of CsAdministrator".into())
        }
        StepId::StagePackage => {
            let want = cx.transport.package_sha256();
            match readback::parse_file_hash(&o.stdout) {
                Some(h) if h == want => verdict(StepOutcome::Succeeded),
                Some(h) => fail_with(format!("the staged package's SHA-256 is {h}, expected {want}")),
                None => fail_with("no SHA-256 in the output".into()),
            }
        }
        StepId::StopServices | StepId::StopServicesAgain | StepId::StartServices => {
            let want_running = id == StepId::StartServices;
            match postcondition_services(cx, host, want_running).await {
                Ok(true) => verdict(StepOutcome::Succeeded),
                Ok(false) if want_running => fail_with("not every Skype for Business service is running".into()),
                Ok(false) => fail_with("not every Skype for Business service stopped".into()),
                Err(e) => fail_with(format!("could not read the services back: {e}")),
            }
        }
        StepId::Verify => {
            let services = readback::parse_services(&o.stdout);
            let stopped: Vec<String> = services.iter().filter(|s| !s.is_running()).map(|s| s.name.clone()).collect();
            let builds: Vec<Build> = readback::parse_patch_versions(&o.stdout).into_iter().map(|(_, b)| b).collect();
            if services.is_empty() {
                fail_with("no service states in the output".into())
            } else if !stopped.is_empty() {
                fail_with(format!("services not running: {}", stopped.join(", ")))
            } else if !build_reached(&builds, cx.opts.target_build.as_ref(), before.as_ref()) {
                let shown: Vec<String> = builds.iter().map(|b| b.to_string()).collect();
                fail_with(format!("components not at the new build: {}", shown.join(", ")))
            } else {
                verdict(StepOutcome::Succeeded)
            }
        }
        _ => verdict(StepOutcome::Succeeded),
    }
}

async fn postcondition_services<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    running: bool,
) -> Result<bool, String> {
    let o = cx.call(host, None, None, "Get-CsWindowsService", PROBE_TIMEOUT).await?;
    let s = readback::parse_services(&o.stdout);
    Ok(!s.is_empty() && s.iter().all(|x| x.is_running() == running))
}

/// A restart, in stages: requested, host went down (or boot time changed), host back,
/// boot time changed, services answering. A lost connection here is expected.
async fn reboot<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, host: &Fqdn) -> Result<(), String> {
    let t = &cx.opts.reboot;
    let name = Activity::Engine(EngineWork::Reboot);
    cx.started(host.clone(), name, 1, Some("Restart-Computer -Force".into()));
    let stages = std::sync::Mutex::new(String::new());
    let stage = |text: &str| {
        if let Ok(mut s) = stages.lock() {
            s.push_str(text);
            s.push('\n');
        }
        cx.emit(Event::StepOutput { server: host.clone(), step: name, stream: Stream::Stdout, text: text.into() })
    };
    let boot =
        |o: &CommandOutput| o.stdout.lines().find(|l| l.contains("Statistics since")).map(|l| l.trim().to_owned());
    let boot_before =
        cx.call(host, None, None, "net statistics workstation", PROBE_TIMEOUT).await.ok().and_then(|o| boot(&o));
    let result: Result<(), String> = async {
        // A dropped connection is what a restart looks like.
        let _ = cx.call(host, None, None, "Restart-Computer -Force", Duration::from_secs(60)).await;
        stage("requested");
        let deadline = cx.now() + t.down.as_millis() as u64;
        let mut went_down = false;
        while cx.now() < deadline {
            match cx.call(host, None, None, "net statistics workstation", t.poll).await {
                Err(_) => {
                    went_down = true;
                    break;
                }
                Ok(o) if boot(&o).is_some() && boot(&o) != boot_before => break,
                Ok(_) => tokio::time::sleep(cx.transport.real(t.poll)).await,
            }
        }
        if !went_down && cx.now() >= deadline {
            return Err(format!("the host did not go down within {} min", t.down.as_secs() / 60));
        }
        stage("host went down");
        let deadline = cx.now() + t.back.as_millis() as u64;
        let boot_after = loop {
            if cx.now() >= deadline {
                return Err(format!("the host did not come back within {} min", t.back.as_secs() / 60));
            }
            match cx.call(host, None, None, "net statistics workstation", t.poll).await {
                Ok(o) if o.exit_code == 0 => break boot(&o),
                _ => tokio::time::sleep(cx.transport.real(t.poll)).await,
            }
        };
        stage("transport back");
        if boot_after.is_none() || boot_after == boot_before {
            return Err("the boot time did not change: the host did not restart".into());
        }
        stage("boot time changed");
        let deadline = cx.now() + t.healthy.as_millis() as u64;
        loop {
            if cx.now() >= deadline {
                return Err(format!("the services did not answer within {} min", t.healthy.as_secs() / 60));
            }
            match cx.call(host, None, None, "Get-CsWindowsService", t.poll).await {
                Ok(o) if o.exit_code == 0 => break,
                _ => tokio::time::sleep(cx.transport.real(t.poll)).await,
            }
        }
        stage("services answering");
        Ok(())
    }
    .await;
    let outcome = match &result {
        Ok(()) => StepOutcome::Succeeded,
        Err(e) => StepOutcome::Failed { reason: e.clone() },
    };
    let stdout = stages.into_inner().unwrap_or_default();
    cx.finished(host.clone(), name, 1, outcome, AttemptOutput { exit_code: None, stdout, stderr: String::new() });
    result
}

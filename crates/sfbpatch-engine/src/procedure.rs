//! One server's procedure: the plan's steps in order, from where the journal says the server
//! stands. Its state is explicit ([`Progress`]); each step goes through the outage guard,
//! [`crate::attempt::run_step`], restarts and recovery.

use sfbpatch_core::plan::ServerPlan;
use sfbpatch_core::probe::Probe;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::vocab::{Activity, EngineWork, ServerResult};

use crate::attempt::run_step;
use crate::context::{Ctx, PROBE_TIMEOUT};
use crate::event::{AttemptOutput, Event, EventSink, StepOutcome};
use crate::guard;
use crate::options::ServerResume;
use crate::recovery::{end_server, fail_and_restore, postcondition};
use crate::restart::reboot;
use crate::schedule::ServerSummary;
use crate::transport::{SessionId, Transport};

/// The users' outage on the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Outage {
    /// Services up (or never stopped by this run).
    Closed,
    /// Services stopped since `since_ms` (the transport's clock); the marks already announced.
    Open {
        /// When the guard's timer started.
        since_ms: u64,
        /// Marks before the budget already announced.
        announced: Vec<f64>,
    },
}

/// Where one server's procedure stands.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Steps done (from the journal, then this run).
    pub completed: Vec<StepId>,
    /// A step that started before an interruption and did not finish: ambiguous.
    pub in_flight: Option<StepId>,
    /// The outage.
    pub outage: Outage,
    /// The installer ran in this procedure (its logs are collected after the outage).
    pub installed: bool,
    /// The build before the run first touched the server.
    pub before: Option<Build>,
    /// The installer's restart was interrupted: restart first.
    pub reboot_pending: bool,
    /// A Front End failed over and not yet failed back: its services are disabled, and it
    /// must be failed back whatever happens (DOMAIN.md §2).
    pub failed_over: bool,
}

impl Progress {
    /// The state a resumed server starts from (a fresh one when there is no record). An outage
    /// left open is timed from `now_ms`.
    pub fn resume(prior: Option<&ServerResume>, now_ms: u64) -> Self {
        let completed = prior.map(|p| p.completed.clone()).unwrap_or_default();
        let failed_over = completed.contains(&StepId::Failover) && !completed.contains(&StepId::Failback);
        let outage = if prior.is_some_and(|p| p.outage_open) {
            Outage::Open { since_ms: now_ms, announced: Vec::new() }
        } else {
            Outage::Closed
        };
        Self {
            installed: completed.contains(&StepId::InstallUpdate),
            in_flight: prior.and_then(|p| p.in_flight),
            completed,
            outage,
            before: prior.and_then(|p| p.build_before.clone()),
            reboot_pending: prior.is_some_and(|p| p.reboot_pending),
            failed_over,
        }
    }

    /// Nothing was done on this server yet.
    pub fn fresh(&self) -> bool {
        self.completed.is_empty() && self.in_flight.is_none()
    }

    /// The outage is open.
    pub fn outage_open(&self) -> bool {
        matches!(self.outage, Outage::Open { .. })
    }

    /// The server is out of service because of this run: services stopped, or failed over.
    /// Services stopped by this run and not started again count even where no users' outage
    /// opens (a Lync Server 2013 Front End, whose pool serves its users meanwhile:
    /// `scope::Runbook::LyncFrontEnd`).
    pub fn out_of_service(&self) -> bool {
        let stopped =
            self.completed.contains(&StepId::StopServices) && !self.completed.contains(&StepId::StartServices);
        self.outage_open() || self.failed_over || stopped
    }
}

/// Runs the procedure of `sp` and returns how it ended. The server's own session is closed
/// when the procedure ends, however it ends: its shell process (or channel) is not kept to
/// the end of the run.
pub(crate) async fn run_server<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    prior: Option<&ServerResume>,
) -> ServerSummary {
    let mut session = None;
    let summary = procedure(cx, sp, prior, &mut session).await;
    if let Some(s) = session {
        let _ = cx.transport.close_session(&sp.fqdn, s).await;
    }
    // The installer's session started ahead and not used (the server ended before its install).
    cx.close_spare(&sp.fqdn).await;
    summary
}

/// [`run_server`]'s procedure; `session` is the server's own, left open for it to close.
async fn procedure<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    prior: Option<&ServerResume>,
    session: &mut Option<SessionId>,
) -> ServerSummary {
    let host = &sp.fqdn;
    // A back end's databases are updated from a Front End against a remote SQL Server: a
    // logon without network credentials cannot (the double hop). What counts is the logon to
    // the host that runs the steps (`host_of`). Refused before anything runs.
    if sp.runbook == Runbook::BackendDatabases
        && let Some((from, command)) = sp.finishing_database_command()
        && (!cx.transport.network_credentials(&from)
            || sp.steps.iter().any(|st| !cx.transport.network_credentials(sp.host_of(st))))
    {
        let args = [("sql", host.to_string()), ("host", from.to_string()), ("command", command)];
        let key = match cx.transport.credential_gap() {
            crate::transport::CredentialGap::SshKey => "double-hop",
            crate::transport::CredentialGap::KerberosRemoting => "double-hop-kerberos",
        };
        return end_server(cx, host, ServerResult::NotStarted, Some(cx.say(key, &args)), Vec::new());
    }
    let mut p = Progress::resume(prior, cx.now());
    // The server's own session: the preflight's on this host when it opened one (no install
    // has run in this run yet), so that its shell process serves the steps before the install.
    *session = cx.take_preflight_session(host);
    // The build before, for the install's postcondition when the target is not known (a
    // SQL-only machine has no SfB build to read). The same read says whether an untouched
    // server is already at the target ([`already_current`]).
    if p.before.is_none() && sp.runbook.has_sfb() {
        let builds = match cx.probe_in(host, session, &Probe::builds(sp.product), PROBE_TIMEOUT).await {
            Ok(o) => crate::verdict::builds(&o.stdout),
            Err(_) => Vec::new(),
        };
        let target = cx.opts.target_build.as_ref();
        let current = target.filter(|t| !builds.is_empty() && builds.iter().all(|b| b == *t));
        if let Some(t) = current.filter(|_| p.fresh() && !p.reboot_pending && !p.outage_open()) {
            cx.emit(Event::ServerStarted { server: host.clone(), at_ms: cx.now(), build_before: Some(t.to_string()) });
            return end_server(cx, host, ServerResult::AlreadyCurrent, None, Vec::new());
        }
        p.before = builds.into_iter().min();
    }
    // A restart already pending is refused by the run's pre-flight (`rights::check_tokens`),
    // before any server of the pool starts.
    cx.emit(Event::ServerStarted {
        server: host.clone(),
        at_ms: cx.now(),
        build_before: p.before.as_ref().map(ToString::to_string),
    });
    if p.fresh()
        && let Some(hook) = cx.opts.hooks(host).0
        && let Err(why) = cx.engine_attempt(host, EngineWork::PreHook, hook, HOOK_TIMEOUT).await
    {
        return end_server(
            cx,
            host,
            ServerResult::NotStarted,
            Some(cx.say("pre-hook-failed", &[("why", why)])),
            Vec::new(),
        );
    }
    if p.reboot_pending {
        *session = None;
        // A restart ends every process on the host, a spare started ahead too.
        cx.close_spare(host).await;
        cx.warn(host, cx.say("reboot-interrupted", &[]));
        if let Err(why) = reboot(cx, host).await {
            let why = cx.say("restart-failed", &[("step", StepId::InstallUpdate.to_string()), ("why", why)]);
            return end_server(cx, host, ServerResult::Failed, Some(why), Vec::new());
        }
    }
    // An outage left open by an interrupted run is timed from here, once the read-back, the
    // pre-hook and any pending restart are behind us, as the guard's marks always were.
    if let Outage::Open { since_ms, .. } = &mut p.outage {
        *since_ms = cx.now();
    }
    for st in &sp.steps {
        let id = st.id;
        if p.completed.contains(&id) {
            continue;
        }
        if cx.halted() {
            // A failed-over Front End is failed back before the run stops (DOMAIN.md §2).
            if p.failed_over {
                cx.warn(host, cx.say("failed-over-interrupted", &[]));
                let s =
                    fail_and_restore(cx, sp, id, (true, p.outage_open()), cx.say("interrupted", &[]), session).await;
                return ServerSummary { result: ServerResult::Interrupted, ..s };
            }
            let recovery = if p.outage_open() { sp.recovery(id) } else { Vec::new() };
            return end_server(cx, host, ServerResult::Interrupted, Some(cx.say("interrupted", &[])), recovery);
        }
        if p.in_flight == Some(id) {
            match settle_in_flight(cx, sp, id, st.safe_to_repeat, &mut p).await {
                Settled::Done => continue,
                Settled::RunAgain => {}
                Settled::Stop(summary) => return summary,
            }
        }
        // The installer's session, started before the outage if the preflight did not start it
        // (`crate::spare`), once the host has answered this run (its own session is open): a
        // host that does not answer is not asked again for it.
        if !p.outage_open() && !p.installed && session.is_some() {
            cx.prestart(sp, prior).await;
        }
        // The outage opens at the first step of the plan inside the window, whichever stops a
        // user-facing service first (IIS too, when stop-services is left out).
        let bounds = sp.runbook.outage_bounds();
        if st.in_outage && bounds.is_some() && !p.outage_open() {
            let projected = guard::projected_minutes(sp, &cx.opts.history_minutes);
            let budget = cx.opts.outage_budget_minutes;
            if !guard::may_open(projected, budget, cx.opts.accept_resiliency) {
                let why = cx
                    .say("budget-refused", &[("projected", format!("{projected:.1}")), ("budget", budget.to_string())]);
                cx.warn(host, why.clone());
                return end_server(cx, host, ServerResult::NotStarted, Some(why), Vec::new());
            }
            p.outage = Outage::Open { since_ms: cx.now(), announced: Vec::new() };
            cx.emit(Event::OutageOpened { server: host.clone(), at_ms: cx.now() });
        }
        // While the outage is open, its timer runs alongside the step: the marks before the
        // budget are announced when they pass, not when a long step ends.
        let before = p.before.clone();
        let outcome = match &mut p.outage {
            Outage::Open { since_ms, announced } => {
                tokio::select! {
                    o = run_step(cx, sp, id, before.as_ref(), session) => o,
                    () = guard::marks(cx, host, *since_ms, announced) => StepOutcome::Failed { reason: String::new() },
                }
            }
            Outage::Closed => run_step(cx, sp, id, before.as_ref(), session).await,
        };
        p.installed |= id == StepId::InstallUpdate;
        match outcome {
            StepOutcome::Succeeded => {}
            StepOutcome::SucceededRebootPending => {
                // A restart ends every session on the host.
                *session = None;
                if let Err(why) = reboot(cx, host).await {
                    let why = cx.say("restart-failed", &[("step", id.to_string()), ("why", why)]);
                    let s = fail_and_restore(cx, sp, id, (p.out_of_service(), p.outage_open()), why, session).await;
                    collect_install_logs(cx, sp, *session).await;
                    return s;
                }
            }
            StepOutcome::Failed { reason } => {
                // A failover that failed may already have stopped and disabled the services
                // (an engine timeout, a dropped session): it is failed back too.
                let out = p.out_of_service() || id == StepId::Failover;
                let s = fail_and_restore(cx, sp, id, (out, p.outage_open()), reason, session).await;
                // The installer's logs are collected once the outage is over (or service is
                // back): nothing that can wait runs inside the outage.
                if p.installed {
                    collect_install_logs(cx, sp, *session).await;
                }
                return s;
            }
        }
        p.completed.push(id);
        p.failed_over = (p.failed_over || id == StepId::Failover) && id != StepId::Failback;
        if bounds.is_some_and(|(_, close)| close == id) && p.outage_open() {
            p.outage = Outage::Closed;
            cx.emit(Event::OutageClosed { server: host.clone(), at_ms: cx.now() });
        }
    }
    if p.installed {
        collect_install_logs(cx, sp, *session).await;
    }
    if let Some(hook) = cx.opts.hooks(host).1
        && let Err(why) = cx.engine_attempt(host, EngineWork::PostHook, hook, HOOK_TIMEOUT).await
    {
        cx.warn(host, cx.say("post-hook-failed", &[("why", why)]));
    }
    end_server(cx, host, ServerResult::Updated, None, Vec::new())
}

/// Whether a database entry the run has not touched is already current (issue 13,
/// idempotent runs), read before anything changes: then it is reported `already-current` and
/// left alone (no outage, no `Install-CsDatabase`). An SfB server is decided the same way by
/// [`run_server`] from the build it reads first (every component's build, `Probe::builds`, at
/// the target), so that a run that changes something sends no extra read. A database entry
/// (`Runbook::BackendDatabases`, no SfB of its own): the servers it comes after all ended
/// `already-current` in this run (`after_current`; with none, its host's build is read),
/// so the host that runs `Test-CsDatabase` carries the target, and `Test-CsDatabase` from
/// there says every database is at the version that build expects (`verdict::
/// databases_current`, as `check-databases` reads it).
///
/// The target is `RunOptions::target_build` (`--version`, or the simulator's package build).
/// Without one (a real run without `--version`) nothing is decided here: the build before is
/// all the engine knows, and neither it nor the installer's own "no applicable updates" can
/// be read before the outage opens (the installer runs inside it), so such a run goes on as
/// before. A read that fails is not a decision either: the procedure meets it and says so.
pub(crate) async fn already_current<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    prior: Option<&ServerResume>,
    after_current: bool,
) -> Option<ServerSummary> {
    let target = cx.opts.target_build.as_ref()?;
    if !Progress::resume(prior, 0).fresh() || prior.is_some_and(|p| p.reboot_pending || p.outage_open) {
        return None;
    }
    if sp.runbook.has_sfb() {
        return None;
    }
    let (host, _) = sp.finishing_database_command()?;
    let sql = sp.sql_server_fqdn.as_ref()?;
    let host_current = if sp.after.is_empty() { at_target(cx, sp, &host, target).await } else { after_current };
    let current = host_current
        && match cx.probe(&host, &Probe::ConfiguredDatabases { sql: sql.to_string() }, PROBE_TIMEOUT).await {
            Ok(o) if o.exit_code == 0 => {
                crate::verdict::databases_current(&o.stdout) == crate::verdict::Verdict::Succeeded
            }
            _ => false,
        };
    if !current {
        return None;
    }
    cx.emit(Event::ServerStarted { server: sp.fqdn.clone(), at_ms: cx.now(), build_before: None });
    Some(end_server(cx, &sp.fqdn, ServerResult::AlreadyCurrent, None, Vec::new()))
}

/// Whether every SfB component `host` reports is at `target`.
async fn at_target<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    host: &sfbpatch_core::Fqdn,
    target: &Build,
) -> bool {
    match cx.probe(host, &Probe::builds(sp.product), PROBE_TIMEOUT).await {
        Ok(o) if o.exit_code == 0 => {
            let b = crate::verdict::builds(&o.stdout);
            !b.is_empty() && b.iter().all(|x| x == target)
        }
        _ => false,
    }
}

/// What the host shows of a step an interruption left ambiguous.
enum Settled {
    /// It is done: recorded as attempt 0.
    Done,
    /// Not done, and safe (or necessary) to run again.
    RunAgain,
    /// The server's procedure ends here.
    Stop(ServerSummary),
}

async fn settle_in_flight<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    safe_to_repeat: bool,
    p: &mut Progress,
) -> Settled {
    let host = &sp.fqdn;
    match postcondition(cx, sp, id, p.before.as_ref()).await {
        Ok(true) => {
            let step = Activity::Step(id);
            cx.started(host, step, 0, None);
            let mut kept = AttemptOutput::default();
            cx.note(host, step, &mut kept, cx.say("resumed-done", &[]));
            cx.finished(host, step, 0, StepOutcome::Succeeded, kept);
            p.completed.push(id);
            p.failed_over = (p.failed_over || id == StepId::Failover) && id != StepId::Failback;
            if sp.runbook.outage_bounds().is_some_and(|(_, close)| close == id) && p.outage_open() {
                p.outage = Outage::Closed;
                cx.emit(Event::OutageClosed { server: host.clone(), at_ms: cx.now() });
            }
            Settled::Done
        }
        // The install is settled from the build: when it did not take, it runs again.
        Ok(false) if !safe_to_repeat && id != StepId::InstallUpdate => {
            let why = cx.say("not-safe-to-repeat", &[("step", id.to_string())]);
            Settled::Stop(end_server(cx, host, ServerResult::Failed, Some(why), sp.recovery(id)))
        }
        Ok(false) => {
            cx.warn(host, cx.say("rerun", &[("step", id.to_string())]));
            Settled::RunAgain
        }
        Err(why) => {
            let why = cx.say("cannot-tell", &[("step", id.to_string()), ("why", why)]);
            // Out of service (services stopped, or failed over): say how to bring it back.
            let recovery = if p.out_of_service() || id == StepId::Failover { sp.recovery(id) } else { Vec::new() };
            Settled::Stop(end_server(cx, host, ServerResult::Failed, Some(why), recovery))
        }
    }
}

/// Copies the installer's log files (written in the run's own staging folder) into the
/// journal. Failing to read them is a warning, never a failure.
/// The installer's logs, in the server's session when it has one (always one opened after
/// the install, which never leaves its own).
async fn collect_install_logs<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    session: Option<SessionId>,
) {
    let dir = cx.plan.staged_installer.rsplit_once('\\').map_or("", |(d, _)| d).to_owned();
    let command = Probe::InstallLogs { dir }.command();
    if let Err(why) = cx.engine_attempt_in(&sp.fqdn, session, EngineWork::InstallLogs, &command, PROBE_TIMEOUT).await {
        cx.warn(&sp.fqdn, cx.say("logs-failed", &[("why", why)]));
    }
}

/// How long an operator's hook may run.
const HOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_resumes_from_the_journal() {
        let fresh = Progress::resume(None, 5);
        assert!(fresh.fresh() && !fresh.outage_open() && !fresh.installed);
        let prior = ServerResume {
            completed: vec![
                StepId::CheckRole,
                StepId::StagePackage,
                StepId::OpenShell,
                StepId::StopServices,
                StepId::InstallUpdate,
            ],
            in_flight: Some(StepId::ReopenShell),
            outage_open: true,
            finished: None,
            build_before: None,
            reboot_pending: false,
        };
        let p = Progress::resume(Some(&prior), 42);
        assert!(!p.fresh());
        assert!(p.installed, "the install is done: its logs are still collected");
        assert_eq!(p.outage, Outage::Open { since_ms: 42, announced: Vec::new() });
        assert_eq!(p.in_flight, Some(StepId::ReopenShell));
        let only_in_flight = ServerResume { in_flight: Some(StepId::CheckRole), ..ServerResume::default() };
        assert!(!Progress::resume(Some(&only_in_flight), 0).fresh(), "a step in flight means the server was touched");
    }
}

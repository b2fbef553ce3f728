//! One step: its attempts, each under the step's timeout, retried only when that can help.
//!
//! A step safe to run twice is tried again after no answer or a dropped session (back-off
//! doubling from `--backoff`); a definite error (an exit code) is never retried, since
//! retrying it only lengthens the outage. A step not safe to repeat whose session dropped is
//! settled from what the host shows.

use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::ServerPlan;
use sfbpatch_core::probe::Probe;
use sfbpatch_core::readback::{self, Build};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::Activity;

use crate::context::{Ctx, PROBE_TIMEOUT, minutes};
use crate::event::{AttemptOutput, EventSink, StepOutcome};
use crate::recovery::postcondition;
use crate::transport::{SessionId, Transport, TransportError};
use crate::verdict::{self, Expect, Failure, Verdict};

/// How an attempt ended, and whether trying again can help.
pub(crate) struct Attempt {
    pub outcome: StepOutcome,
    pub output: AttemptOutput,
    /// The session is gone (closed, timed out, dropped).
    pub lost_session: bool,
    /// No answer, or a dropped session: it may or may not have been applied.
    pub transient: bool,
    /// The pool answered Busy: ask again later.
    pub busy: bool,
}

impl Attempt {
    fn done(outcome: StepOutcome, output: AttemptOutput) -> Self {
        Self { outcome, output, lost_session: false, transient: false, busy: false }
    }

    fn failed(reason: String) -> Self {
        Self::done(StepOutcome::Failed { reason }, AttemptOutput::default())
    }

    fn cut_short(reason: String) -> Self {
        Self {
            outcome: StepOutcome::Failed { reason },
            output: AttemptOutput::default(),
            lost_session: true,
            transient: true,
            busy: false,
        }
    }
}

/// What to do after an attempt that did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again after this back-off (the transport's time, before scaling).
    RetryAfter(Duration),
    /// Ask the host whether it was applied (not safe to repeat, cut short).
    AskTheHost,
    /// Give up: report the failure.
    GiveUp,
}

/// The retry rule, pure: `attempt` (from 1) of a step with `retries` extra attempts allowed
/// when it is safe to repeat.
pub fn next(attempt: u32, retries: u32, safe_to_repeat: bool, transient: bool, backoff: Duration) -> Next {
    if !transient {
        Next::GiveUp
    } else if !safe_to_repeat {
        Next::AskTheHost
    } else if attempt <= retries {
        Next::RetryAfter(backoff * 2u32.saturating_pow(attempt - 1))
    } else {
        Next::GiveUp
    }
}

/// Runs step `id` of `sp` with its retries and returns how it ended. The step runs on the
/// host the plan names (`runs_on`); `session` is the server's own and serves only its steps.
pub(crate) async fn run_step<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    before: Option<&Build>,
    session: &mut Option<SessionId>,
) -> StepOutcome {
    let Some(st) = sp.steps.iter().find(|s| s.id == id) else { return StepOutcome::Succeeded };
    let mut elsewhere: Option<SessionId> = None;
    let outcome = run_step_in(cx, sp, id, before, session, &mut elsewhere).await;
    // A session opened on another host for this step (a back end's database steps run on a
    // Front End) ends with it: several back ends' steps from one Front End would otherwise
    // gather its processes, or its SSH channels up to sshd's `MaxSessions` (10 by default,
    // sshd_config(5)). Only this session: another back end's may be running there.
    if let Some(s) = elsewhere {
        let _ = cx.transport.close_session(sp.host_of(st), s).await;
    }
    outcome
}

/// [`run_step`]'s attempts, `elsewhere` the session opened on another host for the step.
async fn run_step_in<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    before: Option<&Build>,
    session: &mut Option<SessionId>,
    elsewhere: &mut Option<SessionId>,
) -> StepOutcome {
    let server = &sp.fqdn;
    let Some(st) = sp.steps.iter().find(|s| s.id == id) else { return StepOutcome::Succeeded };
    let host = sp.host_of(st);
    let timeout = cx.opts.scaled(Duration::from_secs(st.timeout_seconds));
    let mut attempt = 1;
    loop {
        cx.started(server, Activity::Step(id), attempt, st.command.clone());
        let session = if host == server { &mut *session } else { &mut *elsewhere };
        let a = attempt_step(cx, sp, host, id, st.command.as_deref(), timeout, before, session).await;
        if a.lost_session {
            *session = None;
        }
        cx.finished(server, Activity::Step(id), attempt, a.outcome.clone(), a.output);
        if a.outcome.is_success() {
            return a.outcome;
        }
        // The pool is Busy: ask again after ten minutes, three answers at most (research §4.2).
        if a.busy {
            if attempt < BUSY_ANSWERS && !cx.halted() {
                cx.pause(BUSY_WAIT).await;
                attempt += 1;
                continue;
            }
            return a.outcome;
        }
        match next(attempt, cx.opts.retries, st.safe_to_repeat, a.transient, cx.opts.backoff) {
            // A stop asked for during the back-off does not cut the step short: it is finished.
            Next::RetryAfter(wait) => {
                if !cx.halted() {
                    cx.pause(wait).await;
                }
            }
            Next::AskTheHost => {
                if let Ok(true) = postcondition(cx, sp, id, before).await {
                    cx.warn(server, cx.say("lost-but-done", &[("step", id.to_string())]));
                    return StepOutcome::Succeeded;
                }
                return a.outcome;
            }
            Next::GiveUp => return a.outcome,
        }
        attempt += 1;
    }
}

/// How many Busy answers end the wait for a pool's readiness.
const BUSY_ANSWERS: u32 = 3;

/// How long to wait after a Busy answer.
const BUSY_WAIT: Duration = Duration::from_secs(600);

/// One attempt of a step: what the step needs before its command (a session, the package
/// on the server), the command under `timeout`, and the verdict on what it printed.
#[allow(clippy::too_many_arguments)]
async fn attempt_step<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    host: &Fqdn,
    id: StepId,
    command: Option<&str>,
    timeout: Duration,
    before: Option<&Build>,
    session: &mut Option<SessionId>,
) -> Attempt {
    let real = cx.transport.real(timeout);
    match id {
        StepId::CloseShells => {
            return match cx.transport.close_sessions(host).await {
                Ok(()) => {
                    Attempt { lost_session: true, ..Attempt::done(StepOutcome::Succeeded, AttemptOutput::default()) }
                }
                Err(e) => Attempt::failed(cx.transport_error(&e)),
            };
        }
        StepId::StagePackage => match stage(cx, host, id, timeout, session).await {
            Ok(()) => {}
            // A copy that got no answer, or whose session dropped, is tried again like any
            // step safe to repeat (the retry rule, [`next`]); the copy replaces a partial one.
            Err(Staging::CutShort(why)) => return Attempt::cut_short(why),
            Err(Staging::Failed(why)) => return Attempt::failed(why),
        },
        // The Management Shell (re)opened: the server's session goes on when it has one. Before
        // the install every session of this run is one opened before it, and after the install
        // the only one left is one opened after it: the install step never keeps its own (below),
        // and `close-shells` ends the others (DOMAIN.md §1 steps 3, 6 and 8).
        StepId::OpenShell | StepId::ReopenShell => {}
        // The installer runs in a session opened for it, and, when the plan closes the shells
        // (`close-shells` not skipped), with none of this run left open on the host (DOMAIN.md
        // §4 rule 2) even when `close-shells` did not just run: a resumed run whose install did
        // not take runs it again after read-backs that opened a session and loaded the module.
        // The session opened for it is the one started before the outage (`crate::spare`),
        // which ran nothing, so loaded no module, and which `close_sessions` leaves open; when
        // there is none, one is opened here as before.
        StepId::InstallUpdate => {
            *session = None;
            if sp.steps.iter().any(|s| s.id == StepId::CloseShells)
                && let Err(e) = cx.transport.close_sessions(host).await
            {
                return Attempt::failed(cx.transport_error(&e));
            }
            *session = cx.take_spare(host);
        }
        _ => {}
    }
    if session.is_none() {
        match tokio::time::timeout(real, cx.transport.open_session(host)).await {
            Ok(Ok(s)) => *session = Some(s),
            Ok(Err(e)) => return Attempt::failed(cx.say("session-failed", &[("why", cx.transport_error(&e))])),
            Err(_) => return Attempt::failed(cx.say("session-timeout", &[])),
        }
    }
    let Some(script) = command else { return Attempt::done(StepOutcome::Succeeded, AttemptOutput::default()) };
    let ran = tokio::time::timeout(real, cx.transport.run(host, *session, Some(id), script, timeout)).await;
    if id == StepId::InstallUpdate {
        // The process that ran the installer was started before the install: nothing after
        // the install runs in it (the seed's step 8; DOMAIN.md §4 rule 3), and it is ended
        // now rather than kept to the end of the run. Its read-back below opens the session
        // the steps after the install go on in.
        if let Some(s) = session.take() {
            let _ = cx.transport.close_session(host, s).await;
        }
    }
    let o = match ran {
        Err(_) => return Attempt::cut_short(cx.say("step-timeout", &[("minutes", minutes(timeout))])),
        // No answer, or an answer without its result line: whether the command changed
        // anything is unknown, and the step is settled (or retried) as a cut-short one.
        Ok(Err(
            e @ (TransportError::Disconnected(_) | TransportError::Unreachable(_) | TransportError::NoResult { .. }),
        )) => {
            return Attempt::cut_short(cx.transport_error(&e));
        }
        Ok(Err(e)) => return Attempt::failed(cx.transport_error(&e)),
        Ok(Ok(o)) => o,
    };
    let output = cx.output(host, Activity::Step(id), &o);
    let sha256 = cx.transport.package_sha256();
    let x = Expect { target: cx.opts.target_build.as_ref(), before, sha256: &sha256 };
    let mut v = verdict::judge(id, &o, &x);
    // Read-backs the verdict asked for: never claim a state without looking.
    match v {
        Verdict::CheckBuild => {
            v = match cx.probe_in(host, session, &Probe::builds(sp.product), PROBE_TIMEOUT).await {
                Ok(p) => verdict::judge_build(&p.stdout, &x),
                Err(e) => return Attempt::done(failed(cx.say("build-unreadable", &[("why", e)])), output),
            }
        }
        Verdict::CheckServices { running } => {
            v = match cx.probe_in(host, session, &Probe::SfbServices, PROBE_TIMEOUT).await {
                Ok(p) => verdict::judge_services(&p.stdout, running),
                Err(e) => return Attempt::done(failed(cx.say("services-unreadable", &[("why", e)])), output),
            }
        }
        _ => {}
    }
    let busy = v == Verdict::Failed(Failure::Busy);
    let outcome = match v {
        Verdict::Succeeded | Verdict::CheckBuild | Verdict::CheckServices { .. } => StepOutcome::Succeeded,
        Verdict::SucceededRebootPending => StepOutcome::SucceededRebootPending,
        Verdict::Failed(f) => failed(reason(cx, sp, &f, &o)),
    };
    Attempt { busy, ..Attempt::done(outcome, output) }
}

fn failed(reason: String) -> StepOutcome {
    StepOutcome::Failed { reason }
}

/// A failure's sentence, in the run's language.
fn reason<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    f: &Failure,
    o: &crate::CommandOutput,
) -> String {
    let shown = |b: &[Build]| b.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    match f {
        Failure::ExitCode => cx.exit_line(o),
        Failure::InstallerBuild(b) => cx.say("installer-build", &[("builds", shown(b))]),
        Failure::NotCsAdministrator => cx.say("not-csadmin", &[]),
        Failure::HashMismatch { got } => {
            cx.say("hash-mismatch", &[("got", got.clone()), ("want", cx.transport.package_sha256())])
        }
        Failure::NoHash => cx.say("no-hash", &[]),
        Failure::Services { want_running: true } => cx.say("services-not-running", &[]),
        Failure::Services { want_running: false } => cx.say("services-not-stopped", &[]),
        Failure::NoServiceStates => cx.say("no-service-states", &[]),
        Failure::Stopped(names) => cx.say("services-stopped-list", &[("names", names.join(", "))]),
        Failure::BuildNotReached(b) => cx.say("build-not-reached", &[("builds", shown(b))]),
        Failure::MissingReplicas(n) => {
            let pool = sp.pool.as_ref().unwrap_or(&sp.fqdn).to_string();
            let command = Probe::ResetRegistrar { pool }.command();
            cx.say("missing-replicas", &[("count", n.to_string()), ("command", command)])
        }
        Failure::Busy => cx.say("pool-busy", &[("answers", BUSY_ANSWERS.to_string())]),
        Failure::InsufficientActiveFrontEnds => cx.say("insufficient-front-ends", &[]),
        Failure::NoReadiness => cx.say("no-readiness", &[]),
        Failure::NoDatabases => cx.say("no-databases", &[]),
        Failure::Mirrored { mirror } => {
            let sql = sp.sql_server_fqdn.as_ref().unwrap_or(&sp.fqdn).to_string();
            let (host, command) = sp
                .finishing_database_command()
                .map_or_else(|| ("?".to_owned(), String::new()), |(h, c)| (h.to_string(), c));
            let pool = sp.pool.as_ref().map_or_else(|| "<pool>".to_owned(), ToString::to_string);
            cx.say(
                "mirrored",
                &[("sql", sql), ("mirror", mirror.clone()), ("pool", pool), ("host", host), ("command", command)],
            )
        }
        Failure::DatabasesBehind(list) => {
            let (host, command) = sp
                .finishing_database_command()
                .map_or_else(|| ("?".to_owned(), String::new()), |(h, c)| (h.to_string(), c));
            cx.say("databases-behind", &[("databases", list.join(", ")), ("host", host), ("command", command)])
        }
    }
}

/// Why staging did not end with the package on the server.
enum Staging {
    /// No answer within the timeout, or the session dropped: whether it landed is unknown.
    CutShort(String),
    /// A definite error (no space, a refused copy).
    Failed(String),
}

/// Free space checked (a clear error, nothing changed), then the package put on the server.
async fn stage<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    id: StepId,
    timeout: Duration,
    session: &mut Option<SessionId>,
) -> Result<(), Staging> {
    if let Some(size) = cx.transport.package_size() {
        let drive = cx.plan.staged_installer.get(..1).unwrap_or("C").to_owned();
        if let Ok(o) = cx.probe_in(host, session, &Probe::FreeSpace { drive: drive.clone() }, PROBE_TIMEOUT).await
            && let Some(free) = readback::parse_free_bytes(&o.stdout, &drive)
        {
            let need = space_needed(size);
            if free < need {
                let gb = |b: u64| format!("{:.1}", b as f64 / 1_073_741_824.0);
                let mb = format!("{:.0}", size as f64 / 1_048_576.0);
                return Err(Staging::Failed(
                    cx.say("no-space", &[("drive", drive), ("free", gb(free)), ("need", gb(need)), ("size", mb)]),
                ));
            }
        }
    }
    match tokio::time::timeout(
        cx.transport.real(timeout),
        cx.transport.stage_in(host, *session, Some(id), &cx.plan.staged_installer, timeout),
    )
    .await
    {
        Err(_) => {
            *session = None;
            Err(Staging::CutShort(cx.say("copy-timeout", &[])))
        }
        Ok(Err(e)) => {
            *session = None;
            let why = cx.say("copy-failed", &[("why", cx.transport_error(&e))]);
            match e {
                TransportError::Disconnected(_) | TransportError::Unreachable(_) | TransportError::NoResult { .. } => {
                    Err(Staging::CutShort(why))
                }
                _ => Err(Staging::Failed(why)),
            }
        }
        Ok(Ok(())) => Ok(()),
    }
}

/// Free bytes the package needs on the server: the package, its extraction and the
/// installer's logs — twice its size and a gigabyte to spare.
pub fn space_needed(package_bytes: u64) -> u64 {
    package_bytes.saturating_mul(2).saturating_add(1 << 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_may_help_is_retried() {
        let b = Duration::from_secs(10);
        // (attempt, retries, safe to repeat, transient) → next
        let cases = [
            ((1, 2, true, true), Next::RetryAfter(Duration::from_secs(10))),
            ((2, 2, true, true), Next::RetryAfter(Duration::from_secs(20))),
            ((3, 2, true, true), Next::GiveUp),
            ((1, 0, true, true), Next::GiveUp),
            ((1, 2, true, false), Next::GiveUp),
            ((1, 2, false, false), Next::GiveUp),
            ((1, 2, false, true), Next::AskTheHost),
        ];
        for ((attempt, retries, safe, transient), want) in cases {
            assert_eq!(
                next(attempt, retries, safe, transient, b),
                want,
                "attempt {attempt}/{retries} safe {safe} transient {transient}"
            );
        }
    }

    #[test]
    fn space_for_the_package_its_extraction_and_logs() {
        assert_eq!(space_needed(0), 1 << 30);
        assert_eq!(space_needed(500 << 20), (1000 << 20) + (1 << 30));
        assert_eq!(space_needed(u64::MAX), u64::MAX);
    }
}

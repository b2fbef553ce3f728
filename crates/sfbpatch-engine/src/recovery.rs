//! After a failure: service brought back where that is safe (`--on-failure restore`), the
//! state read back before claiming service is back or down, and the operator told — loudly,
//! with the commands that bring it back — when it is still down. Also the read-backs that
//! settle a step whose result is unknown (resume, a dropped session).

use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::ServerPlan;
use sfbpatch_core::probe::Probe;
use sfbpatch_core::readback::{self, Build};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::vocab::{Activity, EngineWork, ServerResult};

use crate::context::{Ctx, PROBE_TIMEOUT};
use crate::event::{AttemptOutput, Event, EventSink, StepOutcome};
use crate::options::OnFailure;
use crate::schedule::ServerSummary;
use crate::transport::{SessionId, Transport};
use crate::verdict::{self, Expect};

/// How long each recovery command may take.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(1800);

/// A server's procedure ends with `result`: the event, and its summary.
pub(crate) fn end_server<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    result: ServerResult,
    error: Option<String>,
    recovery: Vec<String>,
) -> ServerSummary {
    cx.emit(Event::ServerFinished {
        server: host.clone(),
        at_ms: cx.now(),
        result,
        error: error.clone(),
        recovery: recovery.clone(),
    });
    ServerSummary { fqdn: host.clone(), result, error, recovery }
}

/// A failure of `failed_step`: restore service where the state allows, read it back, report.
/// `(out_of_service, outage_open)`: the server is out of service because of this run, and a
/// users' outage window is open on it (only then is its closing announced: a pooled Director
/// whose services were stopped had none).
pub(crate) async fn fail_and_restore<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    failed_step: StepId,
    (out_of_service, outage_open): (bool, bool),
    reason: String,
    session: &mut Option<SessionId>,
) -> ServerSummary {
    let host = &sp.fqdn;
    let recovery = sp.recovery(failed_step);
    let mut still_down = false;
    if out_of_service {
        // A failed-over Front End is always failed back: its services stay disabled otherwise.
        let restore_now = cx.opts.on_failure == OnFailure::Restore || sp.runbook == Runbook::FrontEnd;
        if restore_now && !recovery.is_empty() {
            restore(cx, host, &recovery, session).await;
        }
        // Read the state back: never claim service is back, or down, without looking. A back
        // end's databases are available again once the database command has ended.
        still_down = sp.runbook.has_sfb() && !services_running(cx, host, has_iis(sp.runbook)).await.unwrap_or(false);
        if !still_down && outage_open {
            cx.emit(Event::OutageClosed { server: host.clone(), at_ms: cx.now() });
        }
    }
    let args = [("step", failed_step.to_string()), ("why", reason)];
    let (error, recovery) = if still_down {
        (cx.say("failed-down", &args), recovery)
    } else if out_of_service {
        (cx.say("failed-restored", &args), Vec::new())
    } else {
        (cx.say("failed", &args), Vec::new())
    };
    end_server(cx, host, ServerResult::Failed, Some(error), recovery)
}

/// Runs the recovery commands in order, as one `recovery` attempt; stops at the first that fails.
async fn restore<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    recovery: &[String],
    session: &mut Option<SessionId>,
) {
    let name = Activity::Engine(EngineWork::Recovery);
    cx.started(host, name, 1, Some(recovery.join("; ")));
    let mut kept = AttemptOutput::default();
    let mut ok = true;
    for c in recovery {
        match cx.call(host, *session, None, c, RECOVERY_TIMEOUT).await {
            Ok(o) => {
                let part = cx.output(host, name, &o);
                kept.stdout.push_str(&part.stdout);
                kept.stderr.push_str(&part.stderr);
                kept.exit_code = part.exit_code;
                if o.exit_code != 0 && !readback::net_already_in_state(true, o.exit_code, &o.stderr) {
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
    let outcome =
        if ok { StepOutcome::Succeeded } else { StepOutcome::Failed { reason: cx.say("recovery-failed", &[]) } };
    cx.finished(host, name, 1, outcome, kept);
}

/// Whether the runbook's server runs IIS: the runbooks that stop and start W3SVC. An Edge,
/// Mediation or Persistent Chat server has no SfB web site (docs/research/issue12-roles.md
/// §1.1), so no W3SVC to find running.
fn has_iis(runbook: Runbook) -> bool {
    runbook.steps().contains(&StepId::StartW3svc)
}

/// Whether every SfB service, and IIS where the server has it (`iis`), run on `host`.
pub(crate) async fn services_running<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    iis: bool,
) -> Result<bool, String> {
    let o = cx.probe(host, &Probe::SfbServices, PROBE_TIMEOUT).await?;
    if o.exit_code != 0 || !verdict::services_in_state(&o.stdout, true) {
        return Ok(false);
    }
    if !iis {
        return Ok(true);
    }
    let w = cx.probe(host, &Probe::W3svc, PROBE_TIMEOUT).await?;
    let w3svc = readback::parse_services(&w.stdout);
    Ok(!w3svc.is_empty() && w3svc.iter().all(|x| x.is_running()))
}

/// Whether a step's effect is visible on the host (a resumed ambiguous step, or a step not
/// safe to repeat whose session dropped). Reading steps and re-runnable ones answer `false`:
/// running them again is the check.
pub(crate) async fn postcondition<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    id: StepId,
    before: Option<&Build>,
) -> Result<bool, String> {
    let host = &sp.fqdn;
    let sfb = |running: bool| async move {
        let o = cx.probe(host, &Probe::SfbServices, PROBE_TIMEOUT).await?;
        Ok::<bool, String>(verdict::services_in_state(&o.stdout, running))
    };
    let w3svc = |running: bool| async move {
        let o = cx.probe(host, &Probe::W3svc, PROBE_TIMEOUT).await?;
        let w3svc = readback::parse_services(&o.stdout);
        // An empty answer proves nothing: the step runs again (it is safe to repeat).
        Ok::<bool, String>(o.exit_code == 0 && !w3svc.is_empty() && w3svc.iter().all(|x| x.is_running() == running))
    };
    match id {
        StepId::StopServices | StepId::StopServicesAgain | StepId::Failover => sfb(false).await,
        StepId::StartServices | StepId::Failback => sfb(true).await,
        StepId::StopW3svc => w3svc(false).await,
        StepId::StartW3svc => w3svc(true).await,
        StepId::InstallUpdate => {
            let o = cx.probe(host, &Probe::builds(sp.product), PROBE_TIMEOUT).await?;
            let x = Expect { target: cx.opts.target_build.as_ref(), before, sha256: "" };
            Ok(verdict::build_reached(&verdict::builds(&o.stdout), &x))
        }
        _ => Ok(false),
    }
}

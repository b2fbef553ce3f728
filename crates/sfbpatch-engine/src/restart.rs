//! A restart the installer asked for, in stages: requested, the host went down (or its boot
//! time changed), the transport answers again, the boot time changed, the services answer.
//! A lost connection here is what a restart looks like, not a failure. Every stage's timeout
//! and poll goes through `--timeout-scale`.

use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::probe::Probe;
use sfbpatch_core::vocab::{Activity, EngineWork};

use crate::context::{Ctx, PROBE_TIMEOUT, minutes};
use crate::event::{AttemptOutput, EventSink, StepOutcome};
use crate::transport::{CommandOutput, Transport};

/// The restart request itself may take this long before its connection drops.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The "Statistics since" line of `net statistics workstation`: it changes when the host restarts.
pub fn boot_line(o: &CommandOutput) -> Option<String> {
    o.stdout.lines().find(|l| l.contains("Statistics since")).map(|l| l.trim().to_owned())
}

/// Restarts `host` and waits for it, stage by stage, as one `reboot` attempt.
pub(crate) async fn reboot<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, host: &Fqdn) -> Result<(), String> {
    let name = Activity::Engine(EngineWork::Reboot);
    cx.started(host, name, 1, Some(Probe::Restart.command()));
    let mut kept = AttemptOutput::default();
    let result = stages(cx, host, &mut kept).await;
    let outcome = match &result {
        Ok(()) => StepOutcome::Succeeded,
        Err(e) => StepOutcome::Failed { reason: e.clone() },
    };
    cx.finished(host, name, 1, outcome, kept);
    result
}

async fn stages<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    kept: &mut AttemptOutput,
) -> Result<(), String> {
    let t = &cx.opts.reboot;
    // Deadlines are in the transport's time, scaled; probes and pauses scale the poll themselves.
    let (down, back, healthy) = (cx.opts.scaled(t.down), cx.opts.scaled(t.back), cx.opts.scaled(t.healthy));
    let name = Activity::Engine(EngineWork::Reboot);
    let mut stage = |key: &str| cx.note(host, name, kept, cx.say(&format!("reboot.{key}"), &[]));
    let boot_before = cx.probe(host, &Probe::BootTime, PROBE_TIMEOUT).await.ok().and_then(|o| boot_line(&o));
    // A dropped connection is what a restart looks like.
    let _ = cx.probe(host, &Probe::Restart, REQUEST_TIMEOUT).await;
    stage("requested");
    // Down: no answer, or already back with another boot time.
    poll_until(cx, host, &Probe::BootTime, down, |r| match r {
        Err(_) => Some(()),
        Ok(o) => (boot_line(o).is_some() && boot_line(o) != boot_before).then_some(()),
    })
    .await
    .ok_or_else(|| cx.say("reboot-not-down", &[("minutes", minutes(down))]))?;
    stage("down");
    let boot_after = poll_until(cx, host, &Probe::BootTime, back, |r| match r {
        Ok(o) if o.exit_code == 0 => Some(boot_line(o)),
        _ => None,
    })
    .await
    .ok_or_else(|| cx.say("reboot-not-back", &[("minutes", minutes(back))]))?;
    stage("back");
    if boot_after.is_none() || boot_after == boot_before {
        return Err(cx.say("reboot-same-boot", &[]));
    }
    stage("boot-changed");
    poll_until(cx, host, &Probe::SfbServices, healthy, |r| matches!(r, Ok(o) if o.exit_code == 0).then_some(()))
        .await
        .ok_or_else(|| cx.say("reboot-no-services", &[("minutes", minutes(healthy))]))?;
    stage("healthy");
    Ok(())
}

/// Sends `probe` every poll interval until `done` makes something of the answer, or `within`
/// (the transport's time, scaled) has passed: `None`.
async fn poll_until<T: Transport, S: EventSink, R>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    probe: &Probe,
    within: Duration,
    mut done: impl FnMut(Result<&CommandOutput, &String>) -> Option<R>,
) -> Option<R> {
    let poll = cx.opts.reboot.poll;
    let deadline = cx.now().saturating_add(u64::try_from(within.as_millis()).unwrap_or(u64::MAX));
    while cx.now() < deadline {
        if let Some(x) = done(cx.probe(host, probe, poll).await.as_ref()) {
            return Some(x);
        }
        cx.pause(poll).await;
    }
    None
}

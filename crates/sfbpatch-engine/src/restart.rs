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
    // Deadlines are in the transport's time, scaled; `call` and `pause` scale the poll themselves.
    let (down, back, healthy, poll) =
        (cx.opts.scaled(t.down), cx.opts.scaled(t.back), cx.opts.scaled(t.healthy), t.poll);
    let name = Activity::Engine(EngineWork::Reboot);
    let mut stage = |key: &str| cx.note(host, name, kept, cx.say(&format!("reboot.{key}"), &[]));
    let boot_before = cx.probe(host, &Probe::BootTime, PROBE_TIMEOUT).await.ok().and_then(|o| boot_line(&o));
    // A dropped connection is what a restart looks like.
    let _ = cx.probe(host, &Probe::Restart, REQUEST_TIMEOUT).await;
    stage("requested");
    let deadline = cx.now() + down.as_millis() as u64;
    let mut went_down = false;
    while cx.now() < deadline {
        match cx.call(host, None, None, &Probe::BootTime.command(), poll).await {
            Err(_) => {
                went_down = true;
                break;
            }
            Ok(o) if boot_line(&o).is_some() && boot_line(&o) != boot_before => break,
            Ok(_) => cx.pause(poll).await,
        }
    }
    if !went_down && cx.now() >= deadline {
        return Err(cx.say("reboot-not-down", &[("minutes", minutes(down))]));
    }
    stage("down");
    let deadline = cx.now() + back.as_millis() as u64;
    let boot_after = loop {
        if cx.now() >= deadline {
            return Err(cx.say("reboot-not-back", &[("minutes", minutes(back))]));
        }
        match cx.call(host, None, None, &Probe::BootTime.command(), poll).await {
            Ok(o) if o.exit_code == 0 => break boot_line(&o),
            _ => cx.pause(poll).await,
        }
    };
    stage("back");
    if boot_after.is_none() || boot_after == boot_before {
        return Err(cx.say("reboot-same-boot", &[]));
    }
    stage("boot-changed");
    let deadline = cx.now() + healthy.as_millis() as u64;
    loop {
        if cx.now() >= deadline {
            return Err(cx.say("reboot-no-services", &[("minutes", minutes(healthy))]));
        }
        match cx.call(host, None, None, &Probe::SfbServices.command(), poll).await {
            Ok(o) if o.exit_code == 0 => break,
            _ => cx.pause(poll).await,
        }
    }
    stage("healthy");
    Ok(())
}

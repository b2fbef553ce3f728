//! Front End pools (DOMAIN.md §4 rule 7; §2; issue10-sources.md §2.2–2.5, §3, §4):
//! `Get-CsPoolFabricState`, `Reset-CsPoolRegistrarState`, `Get-CsPoolUpgradeReadinessState`,
//! `Invoke-CsComputerFailOver`, `Invoke-CsComputerFailBack`.

use sfbpatch_core::readback_pool::quorum;
use sfbpatch_core::runbook::Product;

use super::{Call, Cmdlet, Cx, Family, Out, SFB, me};
use crate::Ms;
use crate::estate::{Estate, ServiceKind};

const F: Family = Family::Pool;

pub(super) const CMDLETS: &[Cmdlet] = &[
    Cmdlet::new(
        F,
        SFB,
        "Get-CsPoolFabricState",
        &["Force", "HealthState", "ShowAll", "Verbose"],
        &["PoolFqdn", "Type", "ServiceName", "OutputCsvFile"],
        fabric_state,
    ),
    Cmdlet::new(
        F,
        SFB,
        "Reset-CsPoolRegistrarState",
        &["Confirm", "Force", "NoReStart", "ResetLocalDatabases", "WhatIf", "Verbose"],
        &["PoolFqdn", "ResetType", "MachineFqdn", "ServicesStopDelayMins"],
        reset_registrar,
    ),
    Cmdlet::new(
        F,
        SFB,
        "Get-CsPoolUpgradeReadinessState",
        &["Force", "SkipIdleSecondaryVerification", "Confirm", "WhatIf", "Verbose"],
        &[],
        readiness,
    ),
    Cmdlet::new(
        F,
        SFB,
        "Invoke-CsComputerFailOver",
        &["Confirm", "Force", "NoStop", "WhatIf", "SkipFabricHealthCheck", "Verbose"],
        &["ComputerName", "WaitTime", "DrainingTimeout", "Report"],
        failover,
    )
    // Skype for Business Server 2015 and 2019 only: not in Lync Server 2013 (the cmdlet
    // references' applicability lists, issue10-sources.md §2.4).
    .missing_in(&[Product::Lync2013]),
    Cmdlet::new(
        F,
        SFB,
        "Invoke-CsComputerFailBack",
        &["Confirm", "NoStart", "WhatIf", "SkipFabricHealthCheck", "Verbose"],
        &["ComputerName", "WaitTime", "Report"],
        failback,
    )
    .missing_in(&[Product::Lync2013]),
];

/// The Fabric pool named by `-PoolFqdn`, or why not.
fn named_pool(e: &Estate, call: &Call<'_>) -> Result<usize, String> {
    let Some(pool) = call.params.get("PoolFqdn") else {
        return Err(format!(
            "{} : Cannot process command because of one or more missing mandatory parameters: PoolFqdn.",
            call.name
        ));
    };
    e.pool_index(pool)
        .filter(|&i| e.pools[i].has_fabric())
        // Wording UNVERIFIED.
        .ok_or_else(|| format!("{} : Pool \"{pool}\" was not found or is not a Front End pool.", call.name))
}

/// `Get-CsPoolFabricState -PoolFqdn P`. Microsoft documents the check ("if this cmdlet shows
/// any missing replicas") but publishes no sample of the output (issue10-sources.md §2.2):
/// this list format with a `MissingReplicas` property is the simulator's own, matched by
/// the core's `readback_pool::missing_replicas`. Replicas go missing when the pool loses
/// quorum and stay missing until `Reset-CsPoolRegistrarState -ResetType QuorumLossRecovery`
/// (§2.2 field report, §2.5).
fn fabric_state(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let ms = me(e, cx).rng.secs(5.0, 40.0);
    let pi = match named_pool(e, call) {
        Ok(i) => i,
        Err(why) => return Out::err(why, ms),
    };
    let p = &e.pools[pi];
    Out::ok(format!("\nPoolFqdn        : {}\nMissingReplicas : {}\n\n", p.fqdn, p.missing_replicas), ms)
}

/// `Reset-CsPoolRegistrarState -PoolFqdn P [-ResetType T] -Confirm:$false` (§2.5): it asks
/// for confirmation unless `-Confirm:$false` (an unattended shell then waits for an answer
/// that never comes). QuorumLossRecovery reloads the routing groups in quorum loss (the
/// missing replicas); ServiceReset (the default) restarts RtcSrv and FabricHostSvc, which
/// leaves the state as it was; FullReset "can cause previously disabled nodes to be
/// reenabled": failed-over servers come back into service.
fn reset_registrar(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let ms = me(e, cx).rng.secs(5.0, 20.0);
    let pi = match named_pool(e, call) {
        Ok(i) => i,
        Err(why) => return Out::err(why, ms),
    };
    if !call.params.get("Confirm").is_some_and(|v| v.eq_ignore_ascii_case("$false")) {
        // The confirmation prompt waits for an answer.
        return Out::exit(i32::MIN, "", Ms::MAX / 4);
    }
    let kind = call.params.get("ResetType").unwrap_or("ServiceReset").to_ascii_lowercase();
    let ms = me(e, cx).rng.secs(120.0, 420.0);
    match kind.as_str() {
        "quorumlossrecovery" => {
            cx.touch_pool(e, pi);
            e.pools[pi].missing_replicas = 0;
        }
        "servicereset" => {}
        "fullreset" => {
            cx.touch_pool(e, pi);
            e.pools[pi].missing_replicas = 0;
            let end = cx.now + cx.dur(ms);
            for m in e.pools[pi].machines.clone() {
                if let Some(j) = e.host_index(m.as_str()) {
                    cx.touch(e, j);
                    enable(e, j, true, end);
                }
            }
        }
        _ => {
            return Out::err(
                format!(
                    "{} : Cannot bind parameter 'ResetType'. Cannot convert value \"{kind}\" to type \"PoolResetType\".",
                    call.name
                ),
                1000,
            );
        }
    }
    Out::ok("", ms)
}

/// `Get-CsPoolUpgradeReadinessState` (§2.3): runs only locally on a Front End of the pool.
/// `PoolUpgradeState` is `InsufficientActiveFrontEnds` when taking one more server out would
/// leave fewer serving Front Ends than the pool's quorum (the core's `readback_pool::quorum`,
/// DOMAIN.md §2), `Busy` only through a `busy` fault, else `Ready`. By default it waits until
/// the replicas are rebuilt (after a failback) unless `-SkipIdleSecondaryVerification`.
/// Property names other than `PoolUpgradeState` are not published (§2.3): `PoolFqdn` and
/// `UpgradeDomains` (the pool's machines, each its own upgrade domain as in the bundled
/// topologies) are the simulator's.
fn readiness(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let ms = me(e, cx).rng.secs(5.0, 30.0);
    let here = e.hosts[cx.hi].fqdn.to_string();
    let Some(pi) = e.pool_of(&here) else {
        return Out::err(
            format!("{} : This cmdlet must be run locally on a Front End server in the pool being checked.", call.name),
            ms,
        );
    };
    let wait = if call.params.has("SkipIdleSecondaryVerification") {
        0
    } else {
        e.pools[pi].replicas_ready_at.saturating_sub(cx.now)
    };
    let at = cx.now + wait;
    let n = e.pools[pi].machines.len();
    let (_, counted) = e.serving(pi, at, None);
    let state = if cx.busy {
        "Busy"
    } else if counted.saturating_sub(1) < quorum(n) {
        "InsufficientActiveFrontEnds"
    } else {
        "Ready"
    };
    let p = &e.pools[pi];
    let domains: Vec<&str> = p.machines.iter().map(|m| m.as_str()).collect();
    Out::ok(
        format!(
            "\nPoolFqdn         : {}\nPoolUpgradeState : {state}\nUpgradeDomains   : {{{}}}\n\n",
            p.fqdn,
            domains.join(", ")
        ),
        ms + wait,
    )
}

/// A PowerShell TimeSpan from text: `[d.]hh:mm[:ss]`.
fn timespan(s: &str) -> Option<Ms> {
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if !d.contains(':') => (d.parse::<u64>().ok()?, r),
        _ => (0, s),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse::<u64>().ok()).collect::<Option<_>>()?;
    let (h, m, sec) = match parts.as_slice() {
        [h, m] => (*h, *m, 0),
        [h, m, sec] => (*h, *m, *sec),
        _ => return None,
    };
    (m < 60 && sec < 60).then_some((((days * 24 + h) * 60 + m) * 60 + sec) * 1000)
}

fn timespan_param(call: &Call<'_>, name: &str) -> Result<Option<Ms>, String> {
    match call.params.get(name) {
        None => Ok(None),
        Some(v) => timespan(v).map(Some).ok_or_else(|| {
            format!(
                "{} : Cannot bind parameter '{name}'. Cannot convert value \"{v}\" to type \"System.TimeSpan\". Error: \"String was not recognized as a valid TimeSpan.\"",
                call.name
            )
        }),
    }
}

/// The Front End named by `-ComputerName` (the local computer without it), its pool, or why
/// not.
fn target(e: &Estate, cx: &Cx, call: &Call<'_>) -> Result<(usize, usize), String> {
    let name = call.params.first_of(&["ComputerName"]).map_or_else(|| e.hosts[cx.hi].fqdn.to_string(), str::to_owned);
    let (Some(j), Some(pi)) = (e.host_index(&name), e.pool_of(&name.to_ascii_lowercase())) else {
        // Wording UNVERIFIED.
        return Err(format!("{} : \"{name}\" is not a Front End server of a Front End pool.", call.name));
    };
    if cx.now < e.hosts[j].unreachable_until {
        return Err(format!("{} : Cannot connect to computer \"{name}\".", call.name));
    }
    Ok((j, pi))
}

/// Enables a Front End's SfB services again (and starts them unless `no_start`).
fn enable(e: &mut Estate, j: usize, start: bool, end: Ms) {
    let h = &mut e.hosts[j];
    for s in h.services.iter_mut().filter(|s| s.kind == ServiceKind::Sfb) {
        s.disabled = false;
        s.auto_start = true;
        if start {
            s.running = true;
        }
    }
    h.failed_over = false;
    h.track(end);
}

/// `Invoke-CsComputerFailOver -ComputerName F [-WaitTime T] [-DrainingTimeout T] [-Force]
/// [-NoStop]` (§2.4): drains F, moves its users to the pool's other Front Ends (counted as a
/// move), then stops and disables its SfB services "to prevent accidental restart when
/// computer is rebooted". It refuses, changing nothing, when the pool could not absorb the
/// load — fewer serving Front Ends than the quorum without F — unless `-Force`. Past
/// `-WaitTime` (default one hour) "the cmdlet fails and no action is taken". Draining takes a
/// few minutes, sometimes much longer (a field report saw it run for the hour), bounded by
/// `-DrainingTimeout`. `-WhatIf` does nothing, except with `-Force`, which ignores it (§2.4).
fn failover(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let ms0 = me(e, cx).rng.secs(5.0, 20.0);
    let (j, pi) = match target(e, cx, call) {
        Ok(t) => t,
        Err(why) => return Out::err(why, ms0),
    };
    let (wait, draining) = match (timespan_param(call, "WaitTime"), timespan_param(call, "DrainingTimeout")) {
        (Ok(w), Ok(d)) => (w.unwrap_or(3_600_000), d),
        (Err(why), _) | (_, Err(why)) => return Out::err(why, 1000),
    };
    let (force, fqdn) = (call.params.has("Force"), e.hosts[j].fqdn.clone());
    if call.params.has("WhatIf") && !force {
        return Out::ok(
            format!("What if: Performing the operation \"Invoke-CsComputerFailOver\" on target \"{fqdn}\".\n"),
            ms0,
        );
    }
    if e.hosts[j].failed_over {
        // UNVERIFIED: a second failover of a failed-over server is taken as done.
        return Out::ok("", ms0);
    }
    if !force && !e.has_quorum(pi, cx.now, Some(fqdn.as_str())) {
        let n = e.pools[pi].machines.len();
        return Out::err(
            format!(
                "{} : The pool {} cannot absorb the workload of {fqdn}: failing it over would leave fewer Front End servers running than the {} of {n} the pool needs. No action was taken. (Use -Force to fail over anyway.)",
                call.name,
                e.pools[pi].fqdn,
                quorum(n)
            ),
            ms0 + 30_000,
        );
    }
    let h = &mut e.hosts[j];
    let mut drain = h.rng.triangular_minutes(1.0, 4.0, 30.0);
    if let Some(d) = draining {
        drain = drain.min(d);
    }
    let stop = if call.params.has("NoStop") { 0 } else { h.rng.secs(60.0, 180.0) };
    let ms = ms0 + drain + stop;
    if cx.dur(ms) > wait {
        return Out::err(
            format!(
                "{} : The wait time of {} minutes was exceeded while failing over {fqdn}. No action was taken on the server.",
                call.name,
                wait / 60_000
            ),
            wait,
        );
    }
    let end = cx.now + cx.dur(ms);
    let serving = h.serving(cx.now);
    cx.touch(e, j);
    cx.touch_pool(e, pi);
    let h = &mut e.hosts[j];
    h.failed_over = true;
    if !call.params.has("NoStop") {
        for s in h.services.iter_mut().filter(|s| s.kind == ServiceKind::Sfb) {
            s.running = false;
            s.disabled = true;
            s.auto_start = false;
        }
    }
    h.track(end);
    let p = &mut e.pools[pi];
    if serving {
        p.moves += 1;
    }
    p.failovers.push((fqdn, cx.now, None));
    Out::ok("", ms)
}

/// `Invoke-CsComputerFailBack -ComputerName F [-NoStart]` (§2.4): enables F's SfB services
/// and, without `-NoStart`, starts them; the pool rebalances its users and rebuilds replicas
/// (which `Get-CsPoolUpgradeReadinessState` waits for). The services cannot start while a
/// restart is pending; then it fails and enables nothing ("not … started or enabled").
fn failback(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let ms0 = me(e, cx).rng.secs(5.0, 20.0);
    let (j, pi) = match target(e, cx, call) {
        Ok(t) => t,
        Err(why) => return Out::err(why, ms0),
    };
    if call.params.has("WhatIf") {
        let fqdn = &e.hosts[j].fqdn;
        return Out::ok(
            format!("What if: Performing the operation \"Invoke-CsComputerFailBack\" on target \"{fqdn}\".\n"),
            ms0,
        );
    }
    let start = !call.params.has("NoStart");
    let h = &mut e.hosts[j];
    if start && h.pending_reboot {
        return Out::err(
            format!(
                "{} : The Skype for Business Server services on {} cannot start: a restart of the computer is pending. The services were not started or enabled.",
                call.name, h.fqdn
            ),
            ms0 + h.rng.secs(30.0, 90.0),
        );
    }
    if !h.failed_over && h.services.iter().all(|s| !s.disabled) && (!start || h.all_sfb_running(cx.now)) {
        // UNVERIFIED: failing back a server in service is taken as done.
        return Out::ok("", ms0);
    }
    let ms = ms0 + h.rng.secs(120.0, 360.0);
    let end = cx.now + cx.dur(ms);
    let fqdn = h.fqdn.clone();
    cx.touch(e, j);
    cx.touch_pool(e, pi);
    enable(e, j, start, end);
    let p = &mut e.pools[pi];
    p.replicas_ready_at = end + p.rng.triangular_minutes(2.0, 5.0, 15.0);
    if let Some(f) = p.failovers.iter_mut().rev().find(|(f, _, until)| *f == fqdn && until.is_none()) {
        f.2 = Some(end);
    }
    Out::ok("", ms)
}

#[cfg(test)]
mod tests {
    use super::timespan;

    #[test]
    fn timespans_as_powershell_converts_them() {
        assert_eq!(timespan("01:00:00"), Some(3_600_000));
        assert_eq!(timespan("0:05"), Some(300_000));
        assert_eq!(timespan("1.00:00:30"), Some(86_430_000));
        assert_eq!(timespan("90"), None);
        assert_eq!(timespan("00:61:00"), None);
    }
}

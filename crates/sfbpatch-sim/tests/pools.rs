//! DOMAIN.md §4 rule 7 (§2; issue10-sources.md §2.2–2.5, §4): Front End pools — fabric
//! state, readiness, failover and failback, users moved, quorum loss, the slow cold start.
//! pool01 has three Front Ends (quorum 2), pool02 two (quorum 1).

mod common;

use common::*;
use sfbpatch_core::readback_pool::{PoolUpgradeState, missing_replicas, parse_readiness};
use sfbpatch_sim::estate::{Estate, Host, ServiceKind};
use sfbpatch_sim::exec::{ExecStatus, Execution, Request};
use sfbpatch_sim::users::pool_users;

const FE1: &str = "fe01.contoso.local";
const FE2: &str = "fe02.contoso.local";
const FE3: &str = "fe03.contoso.local";
const FE11: &str = "fe11.contoso.local";
const SE: &str = "se01.contoso.local";
const POOL1: &str = "pool01.contoso.local";

/// Runs a script at the estate's current time (the latest end of any host's last command),
/// as the engine does: a command on one Front End that acts on another happens after what
/// that other one did.
fn run(e: &mut Estate, h: &str, session: Option<u64>, script: &str) -> Execution {
    let at = e.hosts.iter().map(|x| x.clock_ms).max().unwrap_or(0);
    e.execute(&Request { host: h, session, step: None, script, at, timeout_ms: 3_600_000 })
}

fn host<'a>(e: &'a Estate, h: &str) -> &'a Host {
    e.host(h).unwrap_or_else(|| panic!("no host {h}"))
}

fn sfb(h: &Host) -> Vec<(bool, bool)> {
    h.services.iter().filter(|s| s.kind == ServiceKind::Sfb).map(|s| (s.running, s.disabled)).collect()
}

fn failover(e: &mut Estate, on: &str, fe: &str, extra: &str) -> Execution {
    run(e, on, None, &format!("Invoke-CsComputerFailOver -ComputerName '{fe}'{extra}"))
}

fn failback(e: &mut Estate, on: &str, fe: &str) -> Execution {
    run(e, on, None, &format!("Invoke-CsComputerFailBack -ComputerName '{fe}'"))
}

fn pool_state(e: &Estate) -> &sfbpatch_sim::pools::PoolState {
    e.pool_index(POOL1).and_then(|i| e.pools.get(i)).unwrap_or_else(|| panic!("no pool"))
}

fn readiness(e: &mut Estate, on: &str) -> Option<PoolUpgradeState> {
    let r = run(e, on, None, "Get-CsPoolUpgradeReadinessState");
    assert!(r.succeeded(), "{r:?}");
    parse_readiness(&r.stdout)
}

#[test]
fn failover_stops_and_disables_the_services_and_moves_the_users_failback_brings_them_back() {
    let mut e = estate(1);
    let r = failover(&mut e, FE1, FE1, "");
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.stdout, "", "the cmdlet returns nothing (OUTPUTS None)");
    let h = host(&e, FE1);
    assert!(h.failed_over);
    assert!(sfb(h).iter().all(|&(running, disabled)| !running && disabled), "{:?}", h.services);
    assert!(h.services.iter().any(|s| s.name == "W3SVC" && s.running), "IIS is not an SfB service");
    assert_eq!(pool_state(&e).moves, 1);
    // A restart does not start disabled services; neither does Start-CsWindowsService.
    assert!(run(&mut e, FE1, None, "Restart-Computer -Force").succeeded());
    let back = host(&e, FE1).unreachable_until;
    let r = e.execute(&Request {
        host: FE1,
        session: None,
        step: None,
        script: "Start-CsWindowsService",
        at: back,
        timeout_ms: 600_000,
    });
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    assert!(sfb(host(&e, FE1)).iter().all(|&(running, _)| !running));
    // Failback, run on another Front End of the pool.
    let r = failback(&mut e, FE2, FE1);
    assert!(r.succeeded(), "{r:?}");
    let h = host(&e, FE1);
    assert!(!h.failed_over);
    assert!(sfb(h).iter().all(|&(running, disabled)| running && !disabled));
    // Users moved, never signed out.
    let pools = pool_users(&example(), &e, e.now());
    let p = pools.iter().find(|p| p.fqdn.as_str() == POOL1).unwrap_or_else(|| panic!("pool"));
    assert_eq!((p.moves, p.signed_out_minutes), (1, 0.0));
    let fo = &pool_state(&e).failovers;
    assert_eq!(fo.len(), 1);
    assert!(fo[0].2.is_some_and(|end| end > fo[0].1));
}

#[test]
fn failover_refuses_to_drop_the_pool_below_quorum_unless_forced() {
    let mut e = estate(2);
    assert!(failover(&mut e, FE1, FE1, "").succeeded());
    // Two of three left: taking one more out leaves 1 < 2.
    assert_eq!(readiness(&mut e, FE3), Some(PoolUpgradeState::InsufficientActiveFrontEnds));
    let before = host(&e, FE2).services.clone();
    let r = failover(&mut e, FE2, FE2, "");
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stderr.contains("No action was taken"), "{}", r.stderr);
    assert_eq!(host(&e, FE2).services, before);
    assert!(!host(&e, FE2).failed_over);
    assert_eq!(pool_state(&e).moves, 1);
    assert!(pool_state(&e).quorum_lost_since.is_none());
}

#[test]
fn quorum_loss_signs_users_out_and_the_cold_start_is_long_and_seeded() {
    let mut colds = Vec::new();
    for seed in 0..8 {
        let mut e = estate(seed);
        assert!(failover(&mut e, FE1, FE1, "").succeeded());
        let r = failover(&mut e, FE2, FE2, " -Force");
        assert!(r.succeeded(), "{r:?}");
        let p = pool_state(&e);
        let lost = p.quorum_lost_since.unwrap_or_else(|| panic!("quorum kept with 1 of 3"));
        assert_eq!(p.signed_out_since, Some(lost));
        // The fabric shows missing replicas.
        let r = run(&mut e, FE3, None, "Get-CsPoolFabricState -PoolFqdn 'pool01.contoso.local'");
        assert!(r.succeeded(), "{r:?}");
        assert!(missing_replicas(&r.stdout) > 0, "{}", r.stdout);
        // Quorum back with the failback: users return only after the cold start.
        let r = failback(&mut e, FE2, FE2);
        assert!(r.succeeded(), "{r:?}");
        let p = pool_state(&e);
        assert!(p.quorum_lost_since.is_none());
        let (from, to) = *p.signed_out.last().unwrap_or_else(|| panic!("no signed-out interval"));
        assert_eq!(from, lost);
        let cold = to - r.end_ms;
        assert!((15 * 60_000..=60 * 60_000).contains(&cold), "cold start {cold} ms");
        colds.push(cold);
        let pools = pool_users(&example(), &e, e.now());
        let pu = pools.iter().find(|x| x.fqdn.as_str() == POOL1).unwrap_or_else(|| panic!("pool"));
        assert_eq!(pu.signed_out_minutes, sfbpatch_core::vocab::minutes_up(to - from));
        assert_eq!(pu.moves, 2);
        // Missing replicas stay until QuorumLossRecovery, which is not confirmed without
        // -Confirm:$false (the prompt waits for an answer).
        let r = e.execute(&Request {
            host: FE3,
            session: None,
            step: None,
            script: "Reset-CsPoolRegistrarState -PoolFqdn 'pool01.contoso.local' -ResetType QuorumLossRecovery",
            at: host(&e, FE3).clock_ms,
            timeout_ms: 600_000,
        });
        assert_eq!(r.status, ExecStatus::TimedOut);
        let reset =
            "Reset-CsPoolRegistrarState -PoolFqdn 'pool01.contoso.local' -ResetType QuorumLossRecovery -Confirm:$false";
        let r = run(&mut e, FE3, None, reset);
        assert!(r.succeeded(), "{r:?}");
        let r = run(&mut e, FE3, None, "Get-CsPoolFabricState -PoolFqdn 'pool01.contoso.local'");
        assert_eq!(missing_replicas(&r.stdout), 0, "{}", r.stdout);
    }
    colds.sort_unstable();
    colds.dedup();
    assert!(colds.len() > 4, "seeded: {colds:?}");
}

#[test]
fn stopping_every_front_end_without_failover_loses_quorum_too() {
    let mut e = estate(3);
    for fe in ["fe11.contoso.local", "fe12.contoso.local"] {
        assert!(run(&mut e, fe, None, "Stop-CsWindowsService").succeeded());
    }
    let i = e.pool_index("pool02.contoso.local").unwrap_or_else(|| panic!("pool"));
    assert!(e.pools[i].quorum_lost_since.is_some());
    assert_eq!(e.pools[i].moves, 0, "no failover, no move");
}

#[test]
fn readiness_runs_locally_on_a_front_end_and_says_busy_only_through_a_fault() {
    let mut e = estate(4);
    assert_eq!(readiness(&mut e, FE1), Some(PoolUpgradeState::Ready));
    let r = run(&mut e, FE1, None, "Get-CsPoolUpgradeReadinessState");
    assert_eq!(
        r.stdout,
        "\nPoolFqdn         : pool01.contoso.local\nPoolUpgradeState : Ready\nUpgradeDomains   : {fe01.contoso.local, fe02.contoso.local, fe03.contoso.local}\n\n"
    );
    let r = run(&mut e, SE, None, "Get-CsPoolUpgradeReadinessState");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("must be run locally on a Front End server"), "{}", r.stderr);
    // It has no pool parameter.
    let r = run(&mut e, FE1, None, "Get-CsPoolUpgradeReadinessState -PoolFqdn 'pool01.contoso.local'");
    assert!(r.stderr.contains("A parameter cannot be found that matches parameter name 'PoolFqdn'"), "{}", r.stderr);
    e.faults = vec!["fe01.contoso.local:verify:busy".parse().unwrap_or_else(|x| panic!("{x}"))];
    let step = Some(sfbpatch_core::runbook::StepId::Verify);
    let at = host(&e, FE1).clock_ms;
    let script = "Get-CsPoolUpgradeReadinessState";
    let r = e.execute(&Request { host: FE1, session: None, step, script, at, timeout_ms: 600_000 });
    assert_eq!(parse_readiness(&r.stdout), Some(PoolUpgradeState::Busy));
    let at = host(&e, FE1).clock_ms;
    let r = e.execute(&Request { host: FE1, session: None, step, script, at, timeout_ms: 600_000 });
    assert_eq!(parse_readiness(&r.stdout), Some(PoolUpgradeState::Ready), "a fault fires once");
}

#[test]
fn readiness_waits_for_replicas_rebuilt_after_a_failback_unless_told_not_to() {
    let mut e = estate(5);
    assert!(failover(&mut e, FE1, FE1, "").succeeded());
    let back = failback(&mut e, FE1, FE1);
    let ready_at = pool_state(&e).replicas_ready_at;
    assert!(ready_at > back.end_ms);
    let skip = run(&mut e, FE2, None, "Get-CsPoolUpgradeReadinessState -SkipIdleSecondaryVerification");
    assert!(skip.end_ms < ready_at);
    let r = run(&mut e, FE2, None, "Get-CsPoolUpgradeReadinessState");
    assert!(r.end_ms >= ready_at, "{} < {ready_at}", r.end_ms);
}

#[test]
fn failover_past_its_wait_time_fails_and_takes_no_action() {
    let mut e = estate(6);
    let r = failover(&mut e, FE1, FE1, " -WaitTime '00:00:30'");
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stderr.contains("wait time"), "{}", r.stderr);
    assert!(!host(&e, FE1).failed_over);
    assert!(sfb(host(&e, FE1)).iter().all(|&(running, _)| running));
    let r = failover(&mut e, FE1, FE1, " -WaitTime 'soon'");
    assert!(r.stderr.contains("System.TimeSpan"), "{}", r.stderr);
    // -DrainingTimeout bounds the draining.
    let r = failover(&mut e, FE1, FE1, " -DrainingTimeout '00:00:01' -WaitTime '00:10:00'");
    assert!(r.succeeded(), "{r:?}");
    // -WhatIf does nothing…
    let r = failover(&mut e, FE11, FE11, " -WhatIf");
    assert!(r.stdout.starts_with("What if:"), "{r:?}");
    assert!(!host(&e, FE11).failed_over);
    // …except with -Force, which ignores it (issue10-sources.md §2.4).
    assert!(failover(&mut e, FE11, FE11, " -WhatIf -Force").succeeded());
    assert!(host(&e, FE11).failed_over);
}

#[test]
fn failover_of_a_server_that_is_not_a_front_end_is_refused() {
    let mut e = estate(7);
    let r = failover(&mut e, FE1, SE, "");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("is not a Front End server"), "{}", r.stderr);
    let r = run(&mut e, FE1, None, "Get-CsPoolFabricState -PoolFqdn 'se01.contoso.local'");
    assert_eq!(r.exit_code, 1);
    let r = run(&mut e, FE1, None, "Get-CsPoolFabricState -PoolFqdn 'pool01.contoso.local'");
    assert_eq!(r.stdout, "\nPoolFqdn        : pool01.contoso.local\nMissingReplicas : 0\n\n");
}

#[test]
fn one_front_end_at_a_time_is_never_below_quorum_and_moves_are_counted_per_failover() {
    let mut e = estate(8);
    for fe in [FE1, FE2, FE3] {
        assert_eq!(readiness(&mut e, fe), Some(PoolUpgradeState::Ready));
        assert!(failover(&mut e, fe, fe, "").succeeded());
        assert!(failback(&mut e, fe, fe).succeeded());
    }
    let p = pool_state(&e);
    assert_eq!(p.moves, 3);
    assert!(p.signed_out.is_empty() && p.quorum_lost_since.is_none());
    for w in p.failovers.windows(2) {
        let end = w[0].2.unwrap_or(u64::MAX);
        assert!(w[1].1 >= end, "two failed over together: {:?}", p.failovers);
    }
}

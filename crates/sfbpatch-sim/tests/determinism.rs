//! Same seed, same rehearsal; resiliency exactly when a back end is unavailable (its
//! databases being updated, here) for 30 minutes or more.

mod common;

use common::*;

#[test]
fn the_same_seed_gives_identical_json() {
    for seed in [0, 7, 123_456] {
        let a = serde_json::to_string(&rehearsal(seed, &[], &[]).0).unwrap_or_default();
        let b = serde_json::to_string(&rehearsal(seed, &[], &[]).0).unwrap_or_default();
        assert_eq!(a, b);
    }
    let a = serde_json::to_string(&rehearsal(1, &[], &[]).0).unwrap_or_default();
    let b = serde_json::to_string(&rehearsal(2, &[], &[]).0).unwrap_or_default();
    assert_ne!(a, b, "different seeds, different durations");
}

/// Checks, from the estate's own service-state intervals (in milliseconds), that a pool's
/// resiliency minutes are zero exactly when its back end was never down longer than 30 minutes.
fn check_iff(r: &sfbpatch_sim::rehearse::Rehearsal, e: &sfbpatch_sim::estate::Estate) -> (usize, usize) {
    let (mut zero, mut positive) = (0, 0);
    let end = e.now();
    for (pool, be) in [("pool01.contoso.local", "sql01.contoso.local"), ("pool02.contoso.local", "sql02.contoso.local")]
    {
        let p = r.pools.iter().find(|p| p.fqdn.as_str() == pool).unwrap_or_else(|| panic!("{pool}"));
        let longest =
            e.host(be).map(|h| h.down_intervals_until(end).iter().map(|(s, e)| e - s).max().unwrap_or(0)).unwrap_or(0);
        assert_eq!(p.resiliency_minutes == 0.0, longest <= 30 * 60_000, "seed {}: {p:?} vs {longest} ms", r.seed);
        if p.resiliency_minutes == 0.0 { zero += 1 } else { positive += 1 }
    }
    (zero, positive)
}

/// A slow database step on pool01's back end (run from a Front End, the fault set on the SQL
/// Server the command names), by seed: none, or 2, 3 or 5 times as long.
fn slow_database_step(seed: u64) -> Vec<String> {
    match seed % 4 {
        0 => Vec::new(),
        k => vec![format!("sql01.contoso.local:update-databases:slow={}", [2.0, 3.0, 5.0][(k - 1) as usize])],
    }
}

/// Timeouts four times as long: the database step's own timeout (30 minutes) would
/// otherwise end a slow update before the 30-minute rule could apply.
fn patient(seed: u64, faults: &[&str]) -> (sfbpatch_sim::rehearse::Rehearsal, sfbpatch_sim::estate::Estate) {
    let mut o = opts(seed, faults);
    o.run.timeout_scale = 4.0;
    sfbpatch_sim::rehearse::rehearse(&example(), &make_plan(&[]), &o)
}

#[test]
fn resiliency_is_zero_exactly_when_every_back_end_outage_is_under_30_minutes() {
    let (mut zero, mut positive) = (0, 0);
    for seed in 0..120 {
        let faults = slow_database_step(seed);
        let faults: Vec<&str> = faults.iter().map(String::as_str).collect();
        let (r, e) = patient(seed, &faults);
        let (z, p) = check_iff(&r, &e);
        zero += z;
        positive += p;
    }
    assert!(zero > 0 && positive > 0, "both cases seen: {zero} zero, {positive} positive");
}

#[test]
fn slow_faults_push_one_back_end_past_the_threshold() {
    let mut pushed = 0;
    for seed in 0..30 {
        let (base, _) = patient(seed, &[]);
        let (r, e) = patient(seed, &["sql01.contoso.local:update-databases:slow=5"]);
        check_iff(&r, &e);
        let s = server(&r, "sql01.contoso.local");
        if s.result.as_str() == "failed" {
            // A slowed database update can outrun the step's timeout: that is the timeout's job.
            assert_eq!(s.failed_step.map(|a| a.as_str()), Some("update-databases"), "{:?}", s.error);
            continue;
        }
        assert!(s.outage_minutes > server(&base, "sql01.contoso.local").outage_minutes);
        let p = r.pools.iter().find(|p| p.fqdn.as_str() == "pool01.contoso.local").unwrap_or_else(|| panic!("pool"));
        if p.resiliency_minutes > 0.0 {
            pushed += 1;
        }
        // The other pool is untouched by the fault.
        let other =
            r.pools.iter().find(|p| p.fqdn.as_str() == "pool02.contoso.local").unwrap_or_else(|| panic!("pool"));
        let base_other =
            base.pools.iter().find(|p| p.fqdn.as_str() == "pool02.contoso.local").unwrap_or_else(|| panic!("pool"));
        assert_eq!(other, base_other);
    }
    assert!(pushed >= 25, "only {pushed} of 30 seeds pushed past 30 minutes");
}

#[test]
fn the_rehearsal_json_writes_one_word_per_outcome() {
    let (r, _) = rehearsal(1, &[], &["se01.contoso.local:stop-services:fail"]);
    let v = serde_json::to_value(&r).unwrap_or_else(|e| panic!("{e}"));
    let servers = v["servers"].as_array().cloned().unwrap_or_default();
    let statuses: Vec<String> = servers
        .iter()
        .flat_map(|s| s["timeline"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["status"].as_str().map(str::to_owned))
        .collect();
    assert!(statuses.iter().any(|s| s == "succeeded"), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| ["succeeded", "succeeded-reboot-pending", "failed"].contains(&s.as_str())),
        "{statuses:?}"
    );
    let se = servers.iter().find(|s| s["fqdn"] == "se01.contoso.local").cloned().unwrap_or_default();
    assert_eq!(se["result"], "failed");
    assert_eq!(se["failed_step"], "stop-services");
    assert!(v["pools"].as_array().is_some_and(|p| p.iter().all(|p| p["moves"].is_u64())), "{}", v["pools"]);
    assert!(servers.iter().all(|s| ["updated", "failed", "not-started"].contains(&s["result"].as_str().unwrap_or(""))));
}

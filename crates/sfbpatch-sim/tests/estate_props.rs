//! Rehearsals over random generated estates (issue 12, Done when): Enterprise pools of 2–12
//! Front Ends, Standard Edition servers, paired pools, user stores on shared and separate SQL
//! Servers, and in some sites a Director pool, an Edge pool and a stand-alone Mediation pool
//! (`generate::estate`). Every rehearsal of a plan whose outages fit their budget ends with
//! every server updated, no Enterprise pool ever signed out (quorum held: DOMAIN.md §2) and no
//! resiliency minutes (no back end unavailable past 30 minutes: DOMAIN.md §4 rule 10); a
//! Standard Edition pool is signed out only while its own server's services are stopped (the
//! seed's outage, DOMAIN.md §1a). That outage is the rehearsed one, which may pass the budget
//! its estimate fits (seeded install times, DOMAIN.md §4.9). Planned with `--scope all`, the
//! same holds for every role, and the rehearsal keeps the plan's constraints
//! (crates/sfbpatch-core/src/waves.rs): one server of a pool — or of two paired pools — at a
//! time, and every server after the servers it comes `after`.

use std::collections::HashMap;

use proptest::prelude::*;
use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::{Plan, PlanRequest, plan};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Scope;
use sfbpatch_core::topology::{self, PoolKind, Role, Topology};
use sfbpatch_core::vocab::Activity;
use sfbpatch_sim::estate::EstateOptions;
use sfbpatch_sim::generate::{Spec, estate};
use sfbpatch_sim::rehearse::{Rehearsal, RehearseOptions, ServerResult, rehearse};

fn spec(servers: std::ops::Range<usize>) -> impl Strategy<Value = Spec> {
    (servers, 1usize..4, 0u32..=100, 0u32..=100, 0u32..=100, 0u32..=100, 2usize..6, any::<u64>()).prop_map(
        |(servers, sites, enterprise, shared, paired, roles, most, seed)| Spec {
            servers,
            sites,
            enterprise_percent: enterprise,
            // Small pools keep each case to tens of servers with several pools.
            front_ends: (2, most),
            shared_sql_percent: shared,
            paired_percent: paired,
            site_roles_percent: roles,
            broken_references: 0,
            seed,
        },
    )
}

fn load(spec: &Spec) -> Topology {
    topology::load("generated.xml", estate(spec).as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn opts(seed: u64) -> RehearseOptions {
    RehearseOptions {
        estate: EstateOptions { seed, ..EstateOptions::default() },
        package_build: sfbpatch_core::readback::Build([7, 0, 2046, 530]),
        faults: Vec::new(),
        run: Default::default(),
    }
}

/// Every server updated, no lagging database, and per user pool: no resiliency minutes, no
/// Enterprise pool signed out, a Standard Edition pool signed out only while its own server
/// is down. Director pools carry no users (docs/research/issue12-roles.md §1.1) and are not
/// among the rehearsal's user pools.
fn assert_users_kept(t: &Topology, r: &Rehearsal) -> Result<(), TestCaseError> {
    for s in &r.servers {
        prop_assert_eq!(s.result.as_str(), "updated", "{}: {:?}", s.fqdn, s.error);
    }
    prop_assert!(r.lagging_databases.is_empty(), "{:?}", r.lagging_databases);
    prop_assert_eq!(r.pools.len(), t.pools.iter().filter(|p| p.kind != PoolKind::Director).count());
    for pool in &r.pools {
        prop_assert_eq!(pool.resiliency_minutes, 0.0, "{}", pool.fqdn);
        match pool.kind {
            PoolKind::Enterprise => prop_assert_eq!(pool.signed_out_minutes, 0.0, "{}", pool.fqdn),
            _ => {
                // Only while its one server's own services are stopped (the seed's outage,
                // which the plan warns of), no more: signed-out minutes are rounded up to
                // 0.01, a server's outage to the nearest 0.01.
                let own = r.servers.iter().find(|s| s.fqdn == pool.fqdn).map_or(0.0, |s| s.outage_minutes);
                let hundredths = |m: f64| (m * 100.0).round() as i64;
                prop_assert!(
                    hundredths(pool.signed_out_minutes) <= hundredths(own) + 1,
                    "{}: {} > {own}",
                    pool.fqdn,
                    pool.signed_out_minutes
                );
            }
        }
    }
    Ok(())
}

/// Start and end, in minutes.
type Span = (f64, f64);

/// A server's span: its first step's start to its last step's end, in minutes; the
/// preflight's read-only `test-databases` of a back end, run before any server starts, aside
/// (as in tests/waves.rs).
fn span(s: &ServerResult) -> Option<Span> {
    let steps = s.timeline.iter().filter(|t| t.step != Activity::Step(StepId::TestDatabases));
    let start = steps.clone().map(|t| t.start_minutes).fold(f64::INFINITY, f64::min);
    let end = steps.map(|t| t.start_minutes + t.duration_minutes).fold(0.0, f64::max);
    start.is_finite().then_some((start, end))
}

/// The plan's exclusive group of each entry: its pool, merged with its paired pool
/// (crates/sfbpatch-core/src/waves.rs); an entry without a pool is a group of its own.
fn groups(p: &Plan) -> HashMap<&Fqdn, &Fqdn> {
    let partner: HashMap<&Fqdn, &Fqdn> = p.pairs.iter().flat_map(|[a, b]| [(a, b), (b, a)]).collect();
    p.servers
        .iter()
        .map(|s| {
            let group = match &s.pool {
                // The smaller name of the pair stands for both pools.
                Some(pool) => partner.get(pool).map_or(pool, |other| (*other).min(pool)),
                None => &s.fqdn,
            };
            (&s.fqdn, group)
        })
        .collect()
}

/// The rehearsal's timelines keep the plan's constraints: never two entries of one group at
/// once, every entry after the entries it comes `after` have finished.
fn assert_constraints_kept(p: &Plan, r: &Rehearsal) -> Result<(), TestCaseError> {
    let spans: HashMap<&Fqdn, Span> = r.servers.iter().filter_map(|s| span(s).map(|x| (&s.fqdn, x))).collect();
    prop_assert_eq!(spans.len(), p.servers.len(), "every entry ran");
    let group = groups(p);
    let mut by_group: HashMap<&Fqdn, Vec<(&Fqdn, Span)>> = HashMap::new();
    for s in &p.servers {
        if let (Some(g), Some(x)) = (group.get(&s.fqdn), spans.get(&s.fqdn)) {
            by_group.entry(g).or_default().push((&s.fqdn, *x));
        }
    }
    for (g, mut members) in by_group {
        members.sort_by(|a, b| a.1.0.total_cmp(&b.1.0));
        for w in members.windows(2) {
            let ((a, x), (b, y)) = (w[0], w[1]);
            prop_assert!(x.1 <= y.0, "{g}: {a} {x:?} and {b} {y:?} overlap");
        }
    }
    for s in &p.servers {
        let Some(&(start, _)) = spans.get(&s.fqdn) else { continue };
        for a in &s.after {
            if let Some(&(_, end)) = spans.get(a) {
                prop_assert!(end <= start, "{} starts at {start}, before {a} ends at {end}", s.fqdn);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_plan_within_its_budget_rehearses_without_sign_outs_or_resiliency(spec in spec(8..40), seed in 0u64..1_000) {
        let t = load(&spec);
        prop_assert_eq!(t.servers.len(), spec.servers);
        let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
        let budget = p.outage_budget_minutes;
        // Only plans whose every estimated outage fits the budget.
        prop_assume!(p.servers.iter().all(|s| s.estimated_outage_minutes < budget));
        let (r, _) = rehearse(&t, &p, &opts(seed));
        assert_users_kept(&t, &r)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_whole_estate_rehearses_every_role_within_the_plans_constraints(
        spec in spec(20..60).prop_map(|s| Spec { site_roles_percent: s.site_roles_percent.max(60), ..s }),
        seed in 0u64..1_000,
    ) {
        let t = load(&spec);
        prop_assert_eq!(t.servers.len(), spec.servers);
        // Estates with at least one Director, Edge or Mediation server (most of them).
        prop_assume!(t.servers.iter().any(|s| matches!(s.role, Role::Director | Role::Edge | Role::Mediation)));
        let request = PlanRequest { scope: Scope::All, ..PlanRequest::new("SkypeServerUpdateInstaller.exe") };
        let p = plan(&t, &request).unwrap_or_else(|e| panic!("{e}"));
        let budget = p.outage_budget_minutes;
        prop_assume!(p.servers.iter().all(|s| s.estimated_outage_minutes < budget));
        // Every machine of the generated estate has a runbook with --scope all.
        prop_assert!(p.out_of_scope.is_empty(), "{:?}", p.out_of_scope);
        prop_assert_eq!(p.servers.len(), spec.servers);
        let (r, _) = rehearse(&t, &p, &opts(seed));
        prop_assert_eq!(r.servers.len(), p.servers.len());
        assert_users_kept(&t, &r)?;
        assert_constraints_kept(&p, &r)?;
    }
}

//! Rehearsals over random generated estates (issue 12, Done when): Enterprise pools of 2–12
//! Front Ends, Standard Edition servers, paired pools, user stores on shared and separate SQL
//! Servers (`generate::estate`). Every rehearsal of a plan whose outages fit their budget
//! ends with every server updated, no Enterprise pool ever signed out (quorum held: DOMAIN.md
//! §2) and no resiliency minutes (no back end unavailable past 30 minutes: DOMAIN.md §4 rule
//! 10); a Standard Edition pool is signed out only while its own server's services are
//! stopped (the seed's outage, DOMAIN.md §1a). That outage is the rehearsed one, which may
//! pass the budget its estimate fits (seeded install times, DOMAIN.md §4.9).

use proptest::prelude::*;
use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::topology::{self, PoolKind};
use sfbpatch_sim::estate::EstateOptions;
use sfbpatch_sim::generate::{Spec, estate};
use sfbpatch_sim::rehearse::{RehearseOptions, rehearse};

fn spec() -> impl Strategy<Value = Spec> {
    (8usize..40, 1usize..4, 0u32..=100, 0u32..=100, 0u32..=100, 2usize..6, any::<u64>()).prop_map(
        |(servers, sites, enterprise, shared, paired, most, seed)| Spec {
            servers,
            sites,
            enterprise_percent: enterprise,
            // Small pools keep each case to tens of servers with several pools.
            front_ends: (2, most),
            shared_sql_percent: shared,
            paired_percent: paired,
            broken_references: 0,
            seed,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_plan_within_its_budget_rehearses_without_sign_outs_or_resiliency(spec in spec(), seed in 0u64..1_000) {
        let xml = estate(&spec);
        let t = topology::load("generated.xml", xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(t.servers.len(), spec.servers);
        let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
        let budget = p.outage_budget_minutes;
        // Only plans whose every estimated outage fits the budget.
        prop_assume!(p.servers.iter().all(|s| s.estimated_outage_minutes < budget));
        let opts = RehearseOptions {
            estate: EstateOptions { seed, ..EstateOptions::default() },
            package_build: sfbpatch_core::readback::Build([7, 0, 2046, 530]),
            faults: Vec::new(),
            run: Default::default(),
        };
        let (r, _) = rehearse(&t, &p, &opts);
        for s in &r.servers {
            prop_assert_eq!(s.result.as_str(), "updated", "{}: {:?}", s.fqdn, s.error);
        }
        prop_assert!(r.lagging_databases.is_empty(), "{:?}", r.lagging_databases);
        prop_assert_eq!(r.pools.len(), t.pools.len());
        for pool in &r.pools {
            prop_assert_eq!(pool.resiliency_minutes, 0.0, "{}", pool.fqdn);
            match pool.kind {
                PoolKind::Enterprise => prop_assert_eq!(pool.signed_out_minutes, 0.0, "{}", pool.fqdn),
                _ => {
                    // Only while its one server's own services are stopped (the seed's
                    // outage, which the plan warns of), no more: signed-out minutes are
                    // rounded up to 0.01, a server's outage to the nearest 0.01.
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
    }
}

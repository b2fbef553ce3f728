use std::collections::{BTreeMap, BTreeSet};

use sfbpatch_core::topology::{self, ErrorKind, PoolKind, Role};

use super::*;

fn load(xml: &str) -> topology::Topology {
    topology::load("generated.xml", xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_scale_estate_has_exactly_its_servers_in_its_proportions() {
    let spec = Spec::servers(2_000, 7);
    let t = load(&estate(&spec));
    assert_eq!(t.servers.len(), 2_000);
    assert_eq!(t.sites.len(), 20);
    let enterprise: Vec<_> = t.pools.iter().filter(|p| p.kind == PoolKind::Enterprise).collect();
    let standard = t.pools.iter().filter(|p| p.kind == PoolKind::Standard).count();
    let pools = enterprise.len() + standard;
    assert!((300..=500).contains(&pools), "{pools} pools");
    assert!(enterprise.iter().all(|p| (2..=12).contains(&p.machines.len())));
    let sizes: BTreeSet<usize> = enterprise.iter().map(|p| p.machines.len()).collect();
    assert_eq!(sizes.first(), Some(&2));
    assert_eq!(sizes.last(), Some(&12));
    // Back ends shared by several pools, and back ends of one pool.
    let mut served: BTreeMap<String, usize> = BTreeMap::new();
    for p in &enterprise {
        *served.entry(p.backend.as_ref().map(|b| b.to_string()).unwrap_or_default()).or_default() += 1;
    }
    assert!(served.values().any(|&n| n > 1) && served.values().any(|&n| n == 1));
    assert!(served.values().all(|&n| n <= 3));
    let backends = t.servers.iter().filter(|s| s.role == Role::EnterpriseBackend).count();
    assert_eq!(backends, served.len());
    assert!(t.servers.iter().filter(|s| s.role == Role::EnterpriseBackend).all(|s| !s.sfb_installed));
}

#[test]
fn pairs_are_reciprocal_one_to_one_and_inside_a_site() {
    let xml = estate(&Spec::servers(500, 3));
    // Registrar instance → the instance it backs up with.
    let mut pair: BTreeMap<String, String> = BTreeMap::new();
    for line in xml.lines().filter(|l| l.contains("RoleName=\"Registrar\" Instance=")) {
        let inst = |from: &str| from.split("Instance=\"").nth(1).and_then(|r| r.split('"').next()).map(str::to_owned);
        let me = inst(line).unwrap_or_else(|| panic!("{line}"));
        let usage = format!("Usage=\"{PAIR_USAGE}\"");
        if let Some(at) = line.find(&usage) {
            let other = inst(&line[at..]).unwrap_or_else(|| panic!("{line}"));
            assert!(pair.insert(me, other).is_none());
        }
    }
    assert!(pair.len() >= 20, "{} paired pools", pair.len());
    for (a, b) in &pair {
        assert_eq!(pair.get(b), Some(a), "{a} → {b} is not reciprocal");
    }
    load(&xml);
}

#[test]
fn the_same_seed_gives_the_same_text_and_another_seed_another() {
    let a = estate(&Spec::servers(300, 1));
    assert_eq!(a, estate(&Spec::servers(300, 1)));
    assert_ne!(a, estate(&Spec::servers(300, 2)));
    for n in [1, 2, 3, 13, 99] {
        assert_eq!(load(&estate(&Spec::servers(n, 5))).servers.len(), n);
    }
}

#[test]
fn some_sites_have_a_director_pool_an_edge_pool_and_a_mediation_pool() {
    let spec = Spec::servers(2_000, 7);
    let t = load(&estate(&spec));
    assert_eq!(t.servers.len(), 2_000);
    // Per role: its clusters' sizes, by site.
    let mut clusters: BTreeMap<(Role, String), BTreeMap<String, usize>> = BTreeMap::new();
    for s in &t.servers {
        *clusters.entry((s.role, s.site.clone())).or_default().entry(s.cluster.to_string()).or_default() += 1;
    }
    let sites_with = |role: Role| clusters.keys().filter(|(r, _)| *r == role).count();
    for (role, sizes) in [(Role::Director, 2..=2), (Role::Edge, 1..=2), (Role::Mediation, 1..=2)] {
        let n = sites_with(role);
        // Some sites, not all (seeded: half of them on average).
        assert!((3..20).contains(&n), "{role:?} in {n} sites");
        for ((r, site), pools) in &clusters {
            if *r == role {
                assert_eq!(pools.len(), 1, "one {role:?} pool in {site}");
                assert!(pools.values().all(|n| sizes.contains(n)), "{role:?} in {site}: {pools:?}");
            }
        }
    }
    for role in [Role::Edge, Role::Mediation] {
        let sizes: BTreeSet<usize> =
            clusters.iter().filter(|((r, _), _)| *r == role).flat_map(|(_, pools)| pools.values().copied()).collect();
        assert_eq!(sizes, BTreeSet::from([1, 2]), "{role:?} pools of one and of two");
    }
    // Director pools are pools of two, with no back end.
    let directors: Vec<_> = t.pools.iter().filter(|p| p.kind == PoolKind::Director).collect();
    assert_eq!(directors.len(), sites_with(Role::Director));
    assert!(directors.iter().all(|p| p.machines.len() == 2 && p.backend.is_none()));
    // Their roles as the exports write them, and their next hops in their site.
    for s in t.servers.iter().filter(|s| matches!(s.role, Role::Director | Role::Edge | Role::Mediation)) {
        let roles: Vec<&str> = s.topology_roles.iter().map(String::as_str).collect();
        let expected: &[&str] = match s.role {
            Role::Director => &["Registrar"],
            Role::Edge => &["EdgeServer", "ManagementServices"],
            _ => &["MediationServer"],
        };
        assert_eq!(roles, expected, "{}", s.fqdn);
        assert!(s.sfb_installed, "{}", s.fqdn);
        assert_eq!(s.depends_on.len(), 1, "{}: one next hop", s.fqdn);
        let hop = t.servers.iter().find(|h| h.cluster == s.depends_on[0]);
        let hop = hop.unwrap_or_else(|| panic!("{}: next hop {} has no server", s.fqdn, s.depends_on[0]));
        assert_eq!(hop.site, s.site, "{}", s.fqdn);
        let director_here = clusters.contains_key(&(Role::Director, s.site.clone()));
        let want = if s.role == Role::Edge && director_here {
            vec![Role::Director]
        } else {
            vec![Role::FrontEnd, Role::StandardEdition]
        };
        assert!(want.contains(&hop.role), "{}: next hop {} is a {:?}", s.fqdn, hop.fqdn, hop.role);
    }
    // No Persistent Chat (Skype for Business Server 2019).
    assert!(t.servers.iter().all(|s| s.role != Role::PersistentChat));
}

#[test]
fn without_site_roles_there_are_none() {
    let t = load(&estate(&Spec { site_roles_percent: 0, ..Spec::servers(400, 2) }));
    assert_eq!(t.servers.len(), 400);
    assert!(
        t.servers.iter().all(|s| matches!(
            s.role,
            Role::FrontEnd | Role::StandardEdition | Role::EnterpriseBackend | Role::SqlStore
        )),
        "{:?}",
        t.servers.iter().map(|s| s.role).collect::<BTreeSet<_>>()
    );
}

#[test]
fn broken_references_are_each_one_unknown_service() {
    let spec = Spec { broken_references: 500, ..Spec::servers(200, 4) };
    let errs = topology::load("generated.xml", estate(&spec).as_bytes())
        .err()
        .unwrap_or_else(|| panic!("a topology with broken references loaded"));
    assert_eq!(errs.0.len(), 500);
    assert!(errs.0.iter().all(|e| matches!(e.kind, ErrorKind::UnknownService { .. })));
}

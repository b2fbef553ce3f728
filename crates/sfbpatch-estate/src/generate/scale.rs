//! The scale estate ([`estate`]): a [`Spec`]'s Enterprise and Standard Edition pools, shared
//! SQL Servers, paired pools and each site's Director, Edge and Mediation pools.

use std::fmt::Write as _;

use super::writer::{NS_ROLES, Writer, on_cluster, on_sql};

/// The shape of a generated estate ([`estate`]): the issue 12 scale estate is
/// [`Spec::servers`]`(2_000, seed)` — about 400 pools over 20 sites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Machines to generate (Front Ends, Standard Edition servers, SQL Servers, Directors,
    /// Edge and Mediation servers), exactly.
    pub servers: usize,
    /// Sites; pools are dealt to them in turn.
    pub sites: usize,
    /// Out of 100 pools, how many are Enterprise pools (the rest are Standard Edition).
    pub enterprise_percent: u32,
    /// Front Ends per Enterprise pool, drawn uniformly between these two (inclusive).
    pub front_ends: (usize, usize),
    /// Out of 100 Enterprise pools, how many put their user store on a SQL Server another
    /// pool of the site already uses (at most three pools per SQL Server).
    pub shared_sql_percent: u32,
    /// Out of 100 Enterprise pools, how many are paired with the previous unpaired
    /// Enterprise pool of their site (docs/research/issue12-roles.md §3: pairs are 1:1).
    pub paired_percent: u32,
    /// Out of 100 sites, how many get each of a Director pool of 2, an Edge pool of 1–2 and
    /// a stand-alone Mediation pool of 1–2 (each drawn on its own; together at most a quarter
    /// of the servers). No Persistent Chat: the generated estates are Skype for Business
    /// Server 2019, which does not support it (docs/research/issue12-roles.md §1.1).
    pub site_roles_percent: u32,
    /// Services given a dependency on a service that does not exist (each one a topology
    /// error: for tests of the error report), spread over the pools.
    pub broken_references: usize,
    /// The seed: the same spec gives the same text.
    pub seed: u64,
}

impl Spec {
    /// An estate of `servers` machines in the proportions of issue 12's scale estate (2,000
    /// servers: 400 pools over 20 sites — one site per 100 servers; Enterprise pools of
    /// 2–12 Front Ends).
    pub fn servers(servers: usize, seed: u64) -> Self {
        Self {
            servers,
            sites: (servers / 100).max(1),
            // 60% Enterprise pools of 7 Front Ends on average and 40% single-server Standard
            // Edition pools: about 5 machines per pool, 400 pools for 2,000 servers.
            enterprise_percent: 60,
            front_ends: (2, 12),
            shared_sql_percent: 35,
            paired_percent: 50,
            site_roles_percent: 50,
            broken_references: 0,
            seed,
        }
    }
}

/// The `Usage` of the dependency that pairs two pools' Registrars. The export's shape of a
/// pair is NOT FOUND publicly (docs/research/issue12-roles.md §3); the research proposes a
/// reciprocal Registrar→Registrar dependency with a `Usage` other than `Default`, perhaps
/// the name `Set-CsRegistrar -BackupRegistrar` uses.
pub const PAIR_USAGE: &str = "BackupRegistrar";

/// A SQL Server of a site that holds user stores, and how many pools use it.
struct SqlServer {
    number: u32,
    pools: usize,
}

/// One Enterprise pool, as written: its site, `UserServices`/`Registrar` instance, and the
/// pool it is paired with (by instance).
struct EnterprisePool {
    site: usize,
    instance: usize,
    pair: Option<usize>,
}

/// The pools of a site other than its user pools and SQL Servers: machines in each (0: none).
#[derive(Default)]
struct SiteRoles {
    directors: usize,
    edges: usize,
    mediation: usize,
}

/// A generated estate in the real `Get-CsTopology -AsXml` format: exactly `spec.servers`
/// machines in `spec.sites` sites — Enterprise pools (Front Ends with `UserServices` and a
/// `Registrar`, user stores on SQL-only back ends, `RequiresSetup="false"`, some shared by
/// up to three pools of a site; the first back end also holds the Archiving store; from 10
/// servers on, a SQL Server of the Monitoring store alone), paired pools (each pool's `Registrar` depending on the
/// other's with [`PAIR_USAGE`]), Standard Edition servers (user store on their own
/// `rtc` instance, a `Registrar` on the server, as the bundled example's `se01`), and in some
/// sites ([`Spec::site_roles_percent`]) a Director pool, an Edge pool and a stand-alone
/// Mediation pool ([`site_roles`]). Seeded: the same spec gives the same text.
pub fn estate(spec: &Spec) -> String {
    let mut rng = crate::rng::HostRng::new(spec.seed, "generate::estate");
    let sites = spec.sites.max(1);
    let mut w =
        Writer { clusters: String::new(), sql: String::new(), services: String::new(), number: vec![0; sites + 1] };
    let (lo, hi) = (spec.front_ends.0.max(1), spec.front_ends.1.max(spec.front_ends.0.max(1)));
    // Per site: SQL Servers holding user stores, the last Enterprise pool not yet paired.
    let mut sql_servers: Vec<Vec<SqlServer>> = (0..=sites).map(|_| Vec::new()).collect();
    let mut unpaired: Vec<Option<usize>> = vec![None; sites + 1];
    let mut enterprise: Vec<EnterprisePool> = Vec::new();
    let mut user_services: Vec<(usize, usize, String)> = Vec::new();
    let mut remaining = spec.servers;
    let mut pool = 0usize;
    // The estate's Monitoring store on a SQL Server of its own, and its Archiving store beside
    // the first back end's user store (collocated). Once per estate, not per site: sfbpatch
    // treats such a store as serving every pool (scope.rs), so its SQL Server waits for every
    // SfB server, and one per site would make the plan's `after` lists grow as n × sites.
    let mut archiving = false;
    if remaining >= 10 {
        let mon = "sqlmon.contoso.local";
        let n = w.cluster(1, mon, false, &[mon.to_owned()]);
        w.sql_instance(1, n, "mon");
        w.service((1, "MonitoringStore", "1"), &[], &on_sql(1, n, "mon"), "");
        remaining -= 1;
    }
    // The sites' Director, Edge and Mediation pools: drawn first, their machines set aside.
    let mut roles: Vec<SiteRoles> = (0..=sites).map(|_| SiteRoles::default()).collect();
    let budget = spec.servers / 4;
    let mut reserved = 0usize;
    for site_roles in roles.iter_mut().skip(1) {
        for which in 0..3 {
            if !rng.chance(f64::from(spec.site_roles_percent) / 100.0) {
                continue;
            }
            let n = if which == 0 { 2 } else { 1 + usize::from(rng.chance(0.5)) };
            if reserved + n > budget {
                continue;
            }
            reserved += n;
            match which {
                0 => site_roles.directors = n,
                1 => site_roles.edges = n,
                _ => site_roles.mediation = n,
            }
        }
    }
    remaining -= reserved;
    // Per site, its first user pool's `Registrar` instance: the next hop of its other pools.
    let mut first_pool: Vec<Option<usize>> = vec![None; sites + 1];
    let mut standard: Vec<(usize, usize, String)> = Vec::new();
    while remaining > 0 {
        let site = pool % sites + 1;
        let instance = pool + 1;
        first_pool[site].get_or_insert(instance);
        // Room for `lo` Front Ends and a back end.
        let enterprise_pool = remaining > lo && rng.chance(f64::from(spec.enterprise_percent) / 100.0);
        if !enterprise_pool {
            let se = format!("se{pool:04}.contoso.local");
            let n = w.cluster(site, &se, true, std::slice::from_ref(&se));
            w.sql_instance(site, n, "rtc");
            w.service((site, "UserStore", &instance.to_string()), &[], &on_sql(site, n, "rtc"), "");
            user_services.push((site, instance, on_cluster(site, n)));
            standard.push((site, instance, on_cluster(site, n)));
            remaining -= 1;
            pool += 1;
            continue;
        }
        let share = rng.chance(f64::from(spec.shared_sql_percent) / 100.0);
        let shared = if share { sql_servers[site].iter_mut().find(|s| s.pools < 3) } else { None };
        let backend = match shared {
            Some(s) => {
                s.pools += 1;
                s.number
            }
            None => {
                let be = format!("sql{pool:04}.contoso.local");
                let n = w.cluster(site, &be, false, std::slice::from_ref(&be));
                w.sql_instance(site, n, "sfbbe");
                if !archiving {
                    archiving = true;
                    w.service((site, "ArchivingStore", &instance.to_string()), &[], &on_sql(site, n, "sfbbe"), "");
                }
                sql_servers[site].push(SqlServer { number: n, pools: 1 });
                remaining -= 1;
                n
            }
        };
        let span = hi - lo + 1;
        let drawn = lo + ((rng.unit() * span as f64) as usize).min(span - 1);
        let count = drawn.min(remaining).max(1);
        let machines: Vec<String> = (1..=count).map(|k| format!("fe{pool:04}-{k:02}.contoso.local")).collect();
        let n = w.cluster(site, &format!("pool{pool:04}.contoso.local"), true, &machines);
        remaining -= count;
        w.service((site, "UserStore", &instance.to_string()), &[], &on_sql(site, backend, "sfbbe"), "");
        user_services.push((site, instance, on_cluster(site, n)));
        let me = enterprise.len();
        let pair = match unpaired[site] {
            Some(other) if rng.chance(f64::from(spec.paired_percent) / 100.0) => {
                unpaired[site] = None;
                enterprise[other].pair = Some(instance);
                enterprise.get(other).map(|o| o.instance)
            }
            _ => {
                unpaired[site] = Some(me);
                None
            }
        };
        enterprise.push(EnterprisePool { site, instance, pair });
        pool += 1;
    }
    // Broken references: dependencies on services no site has (instance 0 is never written).
    let broken = spec.broken_references;
    for (i, (site, instance, on)) in user_services.iter().enumerate() {
        let mut deps = vec![("Default", *site, "UserStore", instance.to_string())];
        let mut k = i;
        while k < broken {
            deps.push(("Default", *site, "ArchivingStore", format!("0{k}")));
            k += user_services.len();
        }
        w.service((*site, "UserServices", &instance.to_string()), &deps, on, "");
    }
    let user_on: std::collections::HashMap<usize, (usize, String)> =
        user_services.into_iter().map(|(s, i, on)| (i, (s, on))).collect();
    let site_of: std::collections::HashMap<usize, usize> = enterprise.iter().map(|p| (p.instance, p.site)).collect();
    for p in &enterprise {
        let Some((_, on)) = user_on.get(&p.instance) else { continue };
        let mut deps = vec![("Default", p.site, "UserServices", p.instance.to_string())];
        if let Some(other) = p.pair {
            let other_site = site_of.get(&other).copied().unwrap_or(p.site);
            deps.push((PAIR_USAGE, other_site, "Registrar", other.to_string()));
        }
        let extra = format!(
            "<RegistrarService xmlns=\"{NS_ROLES}\" IsDirector=\"false\" IsPoolEnabledForSAOnEdge=\"false\" />"
        );
        w.service((p.site, "Registrar", &p.instance.to_string()), &deps, on, &extra);
    }
    for (site, instance, on) in &standard {
        let deps = [("Default", *site, "UserServices", instance.to_string())];
        let extra = format!(
            "<RegistrarService xmlns=\"{NS_ROLES}\" IsDirector=\"false\" IsPoolEnabledForSAOnEdge=\"false\" />"
        );
        w.service((*site, "Registrar", &instance.to_string()), &deps, on, &extra);
    }
    site_roles(&mut w, &roles, &first_pool, pool + 1);
    let mut site_xml = String::new();
    for s in 1..=sites {
        let _ = write!(site_xml, "<CentralSite SiteId=\"{s}\"><Name>Site {s}</Name><Location /></CentralSite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Topology xmlns=\"urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008\">\n<InternalDomains AllowAllDomains=\"false\" DefaultDomain=\"contoso.local\"><InternalDomain Name=\"contoso.local\" Authoritative=\"false\" AllowSubDomains=\"false\" /></InternalDomains>\n<Sites>{site_xml}</Sites>\n<Clusters>\n{}</Clusters>\n<SqlInstances>\n{}</SqlInstances>\n<Services>\n{}</Services>\n</Topology>\n",
        w.clusters, w.sql, w.services
    )
}

/// Each site's Director, Edge and Mediation pools, written as the bundled exports write them
/// (crates/sfbpatch-core/data/example-topology.xml and testdata/topology/roles.xml;
/// docs/research/issue12-roles.md §2): a Director pool is a `Registrar` with
/// `RegistrarService IsDirector="true"` depending on a user pool's `Registrar`; an Edge pool
/// is `EdgeServer` (depending on its next hop's `Registrar`: the site's Director pool, else
/// its first user pool) and `ManagementServices` on one cluster; a stand-alone Mediation pool
/// is `MediationServer` on a cluster of its own, depending on the user pool's `Registrar`.
/// A site with no user pool (more sites than pools) uses the estate's first pool (site 1).
/// Instances are numbered from `instance` on.
fn site_roles(w: &mut Writer, roles: &[SiteRoles], first_pool: &[Option<usize>], mut instance: usize) {
    let mut next = || {
        instance += 1;
        (instance - 1).to_string()
    };
    for (site, r) in roles.iter().enumerate().skip(1) {
        let hop = match first_pool.get(site).copied().flatten() {
            Some(i) => (site, i.to_string()),
            None => (1, "1".to_owned()),
        };
        let machines = |prefix: &str, n: usize| -> Vec<String> {
            (1..=n).map(|k| format!("{prefix}{site:03}-{k:02}.contoso.local")).collect()
        };
        let mut edge_hop = hop.clone();
        if r.directors > 0 {
            let n = w.cluster(site, &format!("dirpool{site:03}.contoso.local"), true, &machines("dir", r.directors));
            let me = next();
            let extra = format!(
                "<RegistrarService xmlns=\"{NS_ROLES}\" IsDirector=\"true\" IsPoolEnabledForSAOnEdge=\"false\" />"
            );
            let deps = [("Default", hop.0, "Registrar", hop.1.clone())];
            w.service((site, "Registrar", &me), &deps, &on_cluster(site, n), &extra);
            edge_hop = (site, me);
        }
        if r.edges > 0 {
            let fqdn = format!("edgepool{site:03}.contoso.local");
            let n = w.cluster_of(site, &fqdn, true, &machines("edge", r.edges), true);
            let deps = [("Default", edge_hop.0, "Registrar", edge_hop.1.clone())];
            w.service((site, "EdgeServer", &next()), &deps, &on_cluster(site, n), "");
            w.service((site, "ManagementServices", &next()), &[], &on_cluster(site, n), "");
        }
        if r.mediation > 0 {
            let n = w.cluster(site, &format!("medpool{site:03}.contoso.local"), true, &machines("med", r.mediation));
            let deps = [("Default", hop.0, "Registrar", hop.1.clone())];
            w.service((site, "MediationServer", &next()), &deps, &on_cluster(site, n), "");
        }
    }
}

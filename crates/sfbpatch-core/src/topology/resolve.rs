//! From a [`RawTopology`] to a [`Topology`]: validate every name and reference, then derive
//! what each server is (DOMAIN.md §3). Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::{ErrorKind, Pos, TopologyError, TopologyErrors};
use super::model::{Pool, PoolKind, Role, Server, Site, StorePlacement, Topology};
use super::raw::{ClusterKey, InstalledOn, RawTopology, ServiceKey, SqlKey};
use crate::fqdn::Fqdn;
use crate::runbook::Product;

/// Stores that belong to an Enterprise pool's back end itself; any other store on the same
/// SQL Server is a collocated database in the seed's sense (Archiving, Monitoring, …).
pub const BACK_END_OWN_STORES: [&str; 3] = ["UserStore", "ApplicationStore", "CentralMgmtStore"];

struct Ctx<'a> {
    file: &'a str,
    errors: Vec<TopologyError>,
}

impl Ctx<'_> {
    fn err(&mut self, pos: Pos, kind: ErrorKind) {
        self.errors.push(TopologyError::new(self.file, pos, kind));
    }

    fn fqdn(&mut self, text: &str, pos: Pos) -> Option<Fqdn> {
        match Fqdn::parse(text) {
            Ok(f) => Some(f),
            Err(problem) => {
                self.err(pos, ErrorKind::InvalidFqdn { value: text.to_owned(), problem });
                None
            }
        }
    }
}

struct Cluster {
    fqdn: Fqdn,
    site: String,
    machines: Vec<Fqdn>,
    requires_setup: Option<bool>,
    product: Option<Product>,
}

/// Validates `raw` (read from `file`) and derives every server's role.
pub fn resolve(file: &str, raw: &RawTopology) -> Result<Topology, TopologyErrors> {
    let mut cx = Ctx { file, errors: Vec::new() };

    let mut sites: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &raw.sites {
        sites.entry(s.id.as_str()).or_insert(s.name.as_str());
    }

    // Clusters and machines.
    let mut clusters: BTreeMap<&ClusterKey, Cluster> = BTreeMap::new();
    let mut first_key: HashMap<&ClusterKey, u32> = HashMap::new();
    let mut first_fqdn: HashMap<Fqdn, u32> = HashMap::new();
    let mut first_machine: HashMap<Fqdn, u32> = HashMap::new();
    for c in &raw.clusters {
        if !sites.contains_key(c.key.site.as_str()) {
            cx.err(c.pos, ErrorKind::UnknownSite { site: c.key.site.clone() });
        }
        if let Some(line) = first_key.get(&c.key) {
            cx.err(c.pos, ErrorKind::DuplicateCluster { id: c.key.to_string(), first_line: *line });
            continue;
        }
        first_key.insert(&c.key, c.pos.line);
        let fqdn = cx.fqdn(&c.fqdn, c.pos);
        if let Some(f) = &fqdn {
            if let Some(line) = first_fqdn.get(f) {
                cx.err(c.pos, ErrorKind::DuplicateCluster { id: f.to_string(), first_line: *line });
            } else {
                first_fqdn.insert(f.clone(), c.pos.line);
            }
        }
        if c.machines.is_empty() {
            cx.err(c.pos, ErrorKind::Missing { what: "Machine".into(), within: format!("Cluster {}", c.fqdn) });
        }
        let mut machines = Vec::new();
        for m in &c.machines {
            let Some(mf) = cx.fqdn(&m.fqdn, m.pos) else {
                continue;
            };
            if let Some(line) = first_machine.get(&mf) {
                cx.err(m.pos, ErrorKind::DuplicateMachine { fqdn: mf.to_string(), first_line: *line });
                continue;
            }
            first_machine.insert(mf.clone(), m.pos.line);
            machines.push(mf);
        }
        if let Some(fqdn) = fqdn {
            let site = sites.get(c.key.site.as_str()).copied().unwrap_or(c.key.site.as_str());
            let site = if site.is_empty() { c.key.site.clone() } else { site.to_owned() };
            clusters
                .insert(&c.key, Cluster { fqdn, site, machines, requires_setup: c.requires_setup, product: c.product });
        }
    }

    // SQL instances.
    let mut sql: HashMap<&SqlKey, u32> = HashMap::new();
    for s in &raw.sql_instances {
        if !first_key.contains_key(&s.key.cluster) {
            cx.err(s.pos, ErrorKind::UnknownCluster { id: s.key.cluster.to_string() });
        }
        if let Some(line) = sql.get(&s.key) {
            cx.err(s.pos, ErrorKind::DuplicateSqlInstance { id: s.key.to_string(), first_line: *line });
        } else {
            sql.insert(&s.key, s.pos.line);
        }
    }

    // Services and their references.
    let mut services: HashMap<&ServiceKey, usize> = HashMap::new();
    for (i, s) in raw.services.iter().enumerate() {
        if let Some(&j) = services.get(&s.key) {
            let first_line = raw.services[j].pos.line;
            cx.err(s.pos, ErrorKind::DuplicateService { id: s.key.to_string(), first_line });
            continue;
        }
        services.insert(&s.key, i);
        match &s.installed_on {
            InstalledOn::Cluster(k) if !first_key.contains_key(k) => {
                cx.err(s.installed_on_pos, ErrorKind::UnknownCluster { id: k.to_string() })
            }
            InstalledOn::Sql(k) if !sql.contains_key(k) => {
                cx.err(s.installed_on_pos, ErrorKind::UnknownSqlInstance { id: k.to_string() })
            }
            _ => {}
        }
    }
    for s in &raw.services {
        for d in &s.depends_on {
            if !services.contains_key(&d.key) {
                cx.err(d.pos, ErrorKind::UnknownService { id: d.key.to_string() });
            }
        }
    }
    if !cx.errors.is_empty() {
        return Err(TopologyErrors(cx.errors));
    }

    // What each cluster is.
    let mut user_pools: BTreeMap<&ClusterKey, (PoolKind, &ClusterKey)> = BTreeMap::new();
    let mut backends: BTreeMap<&ClusterKey, Vec<&ClusterKey>> = BTreeMap::new();
    let mut directors: BTreeSet<&ClusterKey> = BTreeSet::new();
    let mut roles_on: BTreeMap<&ClusterKey, BTreeSet<&str>> = BTreeMap::new();
    let mut stores_on: BTreeMap<&ClusterKey, BTreeSet<&str>> = BTreeMap::new();
    // The newest product generation of the services on each cluster (or its SQL instances):
    // after an in-place upgrade every service of a pool carries the new one.
    let mut product_on: BTreeMap<&ClusterKey, Product> = BTreeMap::new();
    for s in &raw.services {
        let on = match &s.installed_on {
            InstalledOn::Cluster(k) => {
                roles_on.entry(k).or_default().insert(&s.key.role);
                k
            }
            InstalledOn::Sql(k) => {
                roles_on.entry(&k.cluster).or_default().insert(&s.key.role);
                stores_on.entry(&k.cluster).or_default().insert(&s.key.role);
                &k.cluster
            }
        };
        if let Some(p) = s.service_version.and_then(Product::from_service_version) {
            let e = product_on.entry(on).or_insert(p);
            if p.generation() > e.generation() {
                *e = p;
            }
        }
    }
    for s in &raw.services {
        let InstalledOn::Cluster(pool) = &s.installed_on else {
            continue;
        };
        if s.key.role == "Registrar" && s.is_director {
            directors.insert(pool);
        }
        if s.key.role != "UserServices" {
            continue;
        }
        let store = s
            .depends_on
            .iter()
            .filter(|d| d.key.role == "UserStore")
            .find_map(|d| services.get(&d.key).map(|&i| &raw.services[i]));
        let Some(store) = store else {
            let name = clusters.get(pool).map(|c| c.fqdn.to_string()).unwrap_or_else(|| pool.to_string());
            cx.err(s.pos, ErrorKind::PoolWithoutUserStore { pool: name });
            continue;
        };
        let InstalledOn::Sql(at) = &store.installed_on else {
            cx.err(store.installed_on_pos, ErrorKind::StoreNotOnSql { id: store.key.to_string() });
            continue;
        };
        let backend = &at.cluster;
        if backend == pool {
            user_pools.insert(pool, (PoolKind::Standard, backend));
        } else {
            user_pools.insert(pool, (PoolKind::Enterprise, backend));
            let served = backends.entry(backend).or_default();
            if !served.contains(&pool) {
                served.push(pool);
            }
        }
    }
    if !cx.errors.is_empty() {
        return Err(TopologyErrors(cx.errors));
    }

    let mut topo = Topology {
        sites: raw.sites.iter().map(|s| Site { id: s.id.clone(), name: s.name.clone() }).collect(),
        ..Topology::default()
    };
    let fqdn_of = |k: &ClusterKey| clusters.get(k).map(|c| c.fqdn.clone());
    // The stores on each cluster's SQL instances, in one pass over the services (not one
    // pass per cluster: issue 12, item 4).
    let mut placed: HashMap<&ClusterKey, Vec<StorePlacement>> = HashMap::new();
    for s in &raw.services {
        if let InstalledOn::Sql(k) = &s.installed_on {
            placed
                .entry(&k.cluster)
                .or_default()
                .push(StorePlacement { instance: k.name.clone(), role: s.key.role.clone() });
        }
    }
    // The clusters each cluster's services depend on (a store's SQL Server counts by its
    // cluster), itself excluded, in document order.
    let mut depends_of: BTreeMap<&ClusterKey, Vec<&ClusterKey>> = BTreeMap::new();
    for s in &raw.services {
        let InstalledOn::Cluster(from) = &s.installed_on else { continue };
        for d in &s.depends_on {
            let Some(&i) = services.get(&d.key) else { continue };
            let to = match &raw.services[i].installed_on {
                InstalledOn::Cluster(k) => k,
                InstalledOn::Sql(k) => &k.cluster,
            };
            let list = depends_of.entry(from).or_default();
            if to != from && !list.contains(&to) {
                list.push(to);
            }
        }
    }
    for raw_c in &raw.clusters {
        let key = &raw_c.key;
        let Some(c) = clusters.get(key) else { continue };
        let roles = roles_on.get(key);
        let (role, pools) = if let Some((kind, backend)) = user_pools.get(key) {
            topo.pools.push(Pool {
                fqdn: c.fqdn.clone(),
                site: c.site.clone(),
                kind: *kind,
                machines: c.machines.clone(),
                backend: fqdn_of(backend),
                backup: None,
            });
            let role = if *kind == PoolKind::Standard { Role::StandardEdition } else { Role::FrontEnd };
            (role, vec![c.fqdn.clone()])
        } else if directors.contains(key) {
            topo.pools.push(Pool {
                fqdn: c.fqdn.clone(),
                site: c.site.clone(),
                kind: PoolKind::Director,
                machines: c.machines.clone(),
                backend: None,
                backup: None,
            });
            (Role::Director, vec![c.fqdn.clone()])
        } else if let Some(served) = backends.get(key) {
            (Role::EnterpriseBackend, served.iter().filter_map(|p| fqdn_of(p)).collect())
        } else if let Some(role) = roles.and_then(|set| cluster_role(set)) {
            (role, Vec::new())
        } else if stores_on.contains_key(key) {
            (Role::SqlStore, Vec::new())
        } else {
            (Role::Other, Vec::new())
        };
        let collocated: Vec<String> = if role.is_back_end_procedure() {
            stores_on
                .get(key)
                .into_iter()
                .flatten()
                .filter(|r| !BACK_END_OWN_STORES.contains(r))
                .map(|r| (*r).to_owned())
                .collect()
        } else {
            Vec::new()
        };
        let sql_server_fqdn = (role == Role::EnterpriseBackend).then(|| c.fqdn.clone());
        let topology_roles: Vec<String> = roles.into_iter().flatten().map(|r| (*r).to_owned()).collect();
        let mut stores: Vec<StorePlacement> = placed.get(key).cloned().unwrap_or_default();
        stores.sort();
        stores.dedup();
        // DOMAIN.md §3: `RequiresSetup` says whether SfB is installed; without it (the TOML
        // format), SfB is on pools, Edge and Mediation servers and not on SQL-only machines.
        let sfb_installed = c.requires_setup.unwrap_or(matches!(
            role,
            Role::StandardEdition | Role::FrontEnd | Role::Director | Role::Edge | Role::Mediation
        ));
        let product = c.product.or_else(|| product_on.get(key).copied());
        let depends_on: Vec<Fqdn> = depends_of.get(key).into_iter().flatten().filter_map(|k| fqdn_of(k)).collect();
        for m in &c.machines {
            topo.servers.push(Server {
                product,
                sfb_installed,
                fqdn: m.clone(),
                role,
                site: c.site.clone(),
                cluster: c.fqdn.clone(),
                pools: pools.clone(),
                sql_server_fqdn: sql_server_fqdn.clone(),
                collocated_stores: collocated.clone(),
                topology_roles: topology_roles.clone(),
                stores: stores.clone(),
                depends_on: depends_on.clone(),
            });
        }
    }
    pairs(raw, &services, &user_pools, &fqdn_of, &mut topo);
    if topo.servers.is_empty() {
        return Err(TopologyErrors::one(TopologyError::new(file, Pos::default(), ErrorKind::NoServers)));
    }
    Ok(topo)
}

/// The role of a cluster that is not a user pool, a Director pool or a back end, from the
/// services installed on it (docs/research/issue12-roles.md §2):
/// * `EdgeServer` (with `ManagementServices`, the Edge's replica of the Central Management
///   store, on the same cluster: public Contoso.tbxml) is an Edge; `ManagementServices`
///   alone is taken for an Edge too (no other role is seen carrying it).
/// * `MediationServer` on a cluster of its own is a stand-alone Mediation pool (collocated
///   Mediation is on the Front End cluster, which is a user pool and never gets here).
/// * Persistent Chat: the role's name in an export is UNVERIFIED (§2 "probably
///   `PersistentChatService`"); any service role whose name starts with `PersistentChat`
///   installed on a cluster (stores are on SQL instances) is taken for one.
/// * `WacService`: Office Web Apps / Office Online Server (Contoso.tbxml).
/// * Survivable Branch Appliance/Server, Video Interop Server, Trusted Application pools: no
///   public sample (§2, UNVERIFIED); the plausible names are recognised so that they are
///   reported as what they are.
fn cluster_role(roles: &BTreeSet<&str>) -> Option<Role> {
    let any = |f: &dyn Fn(&str) -> bool| roles.iter().any(|r| f(r));
    if any(&|r| r == "EdgeServer" || r == "ManagementServices") {
        Some(Role::Edge)
    } else if any(&|r| r == "MediationServer") {
        Some(Role::Mediation)
    } else if any(&|r| r.starts_with("PersistentChat") && !r.ends_with("Store")) {
        Some(Role::PersistentChat)
    } else if any(&|r| r == "WacService") {
        Some(Role::OfficeWebApps)
    } else if any(&|r| r.contains("Branch") || r.starts_with("Survivable") || r == "Sba" || r == "Sbs") {
        Some(Role::Branch)
    } else if any(&|r| r.starts_with("VideoInterop") || r == "Vis") {
        Some(Role::VideoInterop)
    } else if any(&|r| r.starts_with("TrustedApplication") || r == "ExternalServer") {
        Some(Role::TrustedApplication)
    } else {
        None
    }
}

/// Paired pools and undocumented `Usage` values (docs/research/issue12-roles.md §3): two user
/// pools are paired when each one's `Registrar` depends on the other's `Registrar`, whatever
/// the `Usage` (backup Registrar relationships between Front End pools are "always 1:1 and
/// reciprocal", DOC). A one-way Registrar→Registrar link (a branch's backup Registrar) is not
/// a pair; Edge→Registrar and Mediation→Registrar are next hops.
fn pairs(
    raw: &RawTopology,
    services: &HashMap<&ServiceKey, usize>,
    user_pools: &BTreeMap<&ClusterKey, (PoolKind, &ClusterKey)>,
    fqdn_of: &dyn Fn(&ClusterKey) -> Option<Fqdn>,
    topo: &mut Topology,
) {
    let mut links: BTreeSet<(&ClusterKey, &ClusterKey)> = BTreeSet::new();
    // Each undocumented Usage once, with how many dependencies carry it and the first one:
    // an estate of hundreds of pairs gives one line, not hundreds.
    let mut usages: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for s in &raw.services {
        for d in &s.depends_on {
            if !d.usage.is_empty() && d.usage != super::raw::DEFAULT_USAGE {
                usages.entry(d.usage.as_str()).or_insert_with(|| (0, format!("{} → {}", s.key, d.key))).0 += 1;
            }
        }
        let InstalledOn::Cluster(from) = &s.installed_on else { continue };
        if s.key.role != "Registrar" || !user_pools.contains_key(from) {
            continue;
        }
        for d in s.depends_on.iter().filter(|d| d.key.role == "Registrar") {
            if let Some(&i) = services.get(&d.key)
                && let InstalledOn::Cluster(to) = &raw.services[i].installed_on
                && to != from
                && user_pools.contains_key(to)
            {
                links.insert((from, to));
            }
        }
    }
    topo.unknown_usages =
        usages.into_iter().map(|(usage, (n, first))| format!("{usage} ×{n} (first: {first})")).collect();
    let order: HashMap<&ClusterKey, usize> = raw.clusters.iter().enumerate().map(|(i, c)| (&c.key, i)).collect();
    let mut found: Vec<(usize, usize, &ClusterKey, &ClusterKey)> = links
        .iter()
        .filter(|(a, b)| links.contains(&(*b, *a)))
        .filter_map(|(a, b)| Some((*order.get(a)?, *order.get(b)?, *a, *b)))
        .filter(|(i, j, _, _)| i < j)
        .collect();
    found.sort();
    for (_, _, a, b) in found {
        if let (Some(a), Some(b)) = (fqdn_of(a), fqdn_of(b)) {
            topo.pairs.push((a, b));
        }
    }
    let pairs = topo.pairs.clone();
    for pool in &mut topo.pools {
        pool.backup = pairs.iter().find_map(|(a, b)| {
            if a == &pool.fqdn {
                Some(b.clone())
            } else if b == &pool.fqdn {
                Some(a.clone())
            } else {
                None
            }
        });
    }
}

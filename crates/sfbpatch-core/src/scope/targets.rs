//! Every plan entry of a topology in update order: its runbook, the host of its database
//! steps, what it waits for (`after`) and its lane.

use std::collections::{HashMap, HashSet};

use super::{Runbook, Scope, pc_only_store};
use crate::fqdn::Fqdn;
use crate::runbook::Product;
use crate::topology::{PoolKind, Role, Server, Topology};

/// One entry of a plan before its steps are rendered: what is updated, how, from where, and
/// after what.
#[derive(Clone, Debug, PartialEq)]
pub struct Target<'t> {
    /// The server (a Front End, an SE server, a seed back end's machine), or the SQL Server
    /// (cluster FQDN, once: never per node) whose databases are updated.
    pub fqdn: Fqdn,
    /// The topology's server (for a SQL cluster: its first machine).
    pub server: &'t Server,
    /// The procedure.
    pub runbook: Runbook,
    /// Where its database steps run (a Front End or SE server that carries SfB); the server
    /// itself for every other step.
    pub database_host: Fqdn,
    /// Servers that must be updated first (in the plan's scope).
    pub after: Vec<Fqdn>,
    /// The lane: servers of one pool never run together.
    pub pool: Option<Fqdn>,
}

/// The product a server runs: `over` (the operator's `--product`) when given, else what its
/// topology entry says, else the default (the plan warns).
pub fn product_of(server: &Server, over: Option<Product>) -> Product {
    over.or(server.product).unwrap_or_default()
}

/// Every target of `topology`, in update order: Front Ends and Standard Edition servers in
/// topology order, then back ends and other SQL servers.
pub fn targets(topology: &Topology) -> Vec<Target<'_>> {
    targets_for(topology, None)
}

/// [`targets`], each server's product overridden by `over` when given (a Lync Server 2013
/// Front End gets [`Runbook::LyncFrontEnd`]).
pub fn targets_for(topology: &Topology, over: Option<Product>) -> Vec<Target<'_>> {
    targets_in(topology, over, Scope::Backends)
}

/// [`targets_for`] under `scope`. With [`Scope::All`], between the Front End/SE servers and
/// the SQL Servers come (docs/research/issue12-roles.md §4, "Proposed order", INFERRED from
/// field sources: msxfaq, datawan, tsoorad — Microsoft publishes no estate order) Persistent
/// Chat, Director, Mediation and Edge servers, each one's `after` saying what it waits for:
/// * Persistent Chat: the Front End and SE servers of its site (order 1 → 2).
/// * Director: those, and the site's Persistent Chat servers (→ 3; "zuerst die Pools und dann
///   die Edge und Director Server", msxfaq).
/// * Mediation: those, the site's Directors, and the pools it depends on (its next hop's
///   Registrar, `DependsOn`) (→ 4; its place has no source).
/// * Edge: every internal SfB server of its site and the servers of the pools it depends on,
///   whatever their site (its next hop: "work your way out from Front-End server to Edge
///   server", datawan) (→ 5).
/// * A SQL Server with Persistent Chat stores also waits for the Persistent Chat servers that
///   use them; one with only those stores has its databases updated from one of them.
pub fn targets_in(topology: &Topology, over: Option<Product>, scope: Scope) -> Vec<Target<'_>> {
    let mut first: Vec<Target<'_>> = Vec::new();
    let mut middle: Vec<Target<'_>> = Vec::new();
    let mut last: Vec<Target<'_>> = Vec::new();
    let sfb_hosts: Vec<&Server> =
        topology.servers.iter().filter(|s| matches!(s.role, Role::FrontEnd | Role::StandardEdition)).collect();
    // Each pool's SfB hosts with their place in `sfb_hosts`: a back end's users are found
    // from its pools, not by scanning every host per back end (issue 12, item 4).
    let mut hosts_of_pool: HashMap<&Fqdn, Vec<(usize, &Server)>> = HashMap::new();
    for (i, h) in sfb_hosts.iter().enumerate() {
        for p in &h.pools {
            hosts_of_pool.entry(p).or_default().push((i, *h));
        }
    }
    // The FQDNs `last` holds, for the once-per-SQL-cluster check.
    let mut in_last: HashSet<Fqdn> = HashSet::new();
    let all = scope == Scope::All;
    let pc_servers: Vec<&Server> =
        if all { topology.servers.iter().filter(|s| s.role == Role::PersistentChat).collect() } else { Vec::new() };
    for s in &topology.servers {
        match s.role {
            Role::FrontEnd => first.push(Target {
                fqdn: s.fqdn.clone(),
                server: s,
                runbook: if product_of(s, over).has_computer_failover() {
                    Runbook::FrontEnd
                } else {
                    Runbook::LyncFrontEnd
                },
                database_host: s.fqdn.clone(),
                after: Vec::new(),
                pool: s.pools.first().cloned(),
            }),
            Role::StandardEdition => first.push(Target {
                fqdn: s.fqdn.clone(),
                server: s,
                runbook: Runbook::StandardEdition,
                database_host: s.fqdn.clone(),
                after: Vec::new(),
                pool: s.pools.first().cloned(),
            }),
            Role::Director | Role::Edge | Role::Mediation | Role::PersistentChat if all => {
                middle.push(Target {
                    fqdn: s.fqdn.clone(),
                    server: s,
                    runbook: match s.role {
                        Role::Director => Runbook::Director,
                        Role::Edge => Runbook::Edge,
                        Role::Mediation => Runbook::Mediation,
                        _ => Runbook::PersistentChat,
                    },
                    database_host: s.fqdn.clone(),
                    after: role_after(topology, s),
                    // One lane per pool (the cluster), so never two servers of it at once
                    // (§4: "never all servers of an Edge, Director, Mediation or PC pool at once").
                    pool: Some(s.cluster.clone()),
                });
            }
            Role::EnterpriseBackend | Role::SqlStore => {
                // A SQL failover cluster is addressed by its cluster FQDN, once.
                if !s.sfb_installed && in_last.contains(&s.cluster) {
                    continue;
                }
                let pc_only = pc_only_store(s);
                if pc_only && !all {
                    continue;
                }
                // Whose stores live here: the pools whose UserStore it holds; every pool when it
                // holds any other store (Archiving, Monitoring, Persistent Chat… serve them all).
                let served: Vec<&Fqdn> = s.pools.iter().collect();
                let shared = !pc_only && (served.is_empty() || !s.collocated_stores.is_empty());
                let users_of_these: Vec<&Server> = if pc_only {
                    Vec::new()
                } else if shared {
                    sfb_hosts.clone()
                } else {
                    // The hosts of the pools served, in `sfb_hosts` order, once each.
                    let mut found: Vec<(usize, &Server)> =
                        served.iter().filter_map(|p| hosts_of_pool.get(p)).flatten().copied().collect();
                    found.sort_by_key(|(i, _)| *i);
                    found.dedup_by_key(|(i, _)| *i);
                    found.into_iter().map(|(_, h)| h).collect()
                };
                let mut after: Vec<Fqdn> = users_of_these.iter().map(|h| h.fqdn.clone()).collect();
                // Persistent Chat servers whose stores are here (their `DependsOn`; every
                // Persistent Chat server when none says).
                let has_pc = s.stores.iter().any(|p| p.role.starts_with("PersistentChat"));
                let pc_users: Vec<&Server> = if has_pc {
                    let named: Vec<&Server> =
                        pc_servers.iter().copied().filter(|p| p.depends_on.contains(&s.cluster)).collect();
                    if named.is_empty() { pc_servers.clone() } else { named }
                } else {
                    Vec::new()
                };
                after.extend(pc_users.iter().map(|h| h.fqdn.clone()));
                if s.sfb_installed {
                    // SfB on the back end itself: the seed's procedure, on it, after its users.
                    in_last.insert(s.fqdn.clone());
                    last.push(Target {
                        fqdn: s.fqdn.clone(),
                        server: s,
                        runbook: Runbook::SeedBackend,
                        database_host: s.fqdn.clone(),
                        after,
                        pool: s.pools.first().cloned(),
                    });
                    continue;
                }
                // The database command runs from an updated Front End of a pool it serves
                // (else a Standard Edition server it serves, else any Front End), which is
                // always among the servers it waits for; a Persistent Chat store's, from an
                // updated Persistent Chat server of its pool (it has the Management Shell:
                // docs/research/issue12-roles.md §1.1).
                let own_pool_front_end = users_of_these
                    .iter()
                    .find(|h| h.role == Role::FrontEnd && h.pools.iter().any(|p| served.contains(&p)));
                let host = if pc_only {
                    pc_users.first()
                } else {
                    own_pool_front_end
                        .or_else(|| users_of_these.iter().find(|h| h.role == Role::FrontEnd))
                        .or_else(|| users_of_these.first())
                        .or_else(|| sfb_hosts.iter().find(|h| h.role == Role::FrontEnd))
                        .or_else(|| sfb_hosts.first())
                };
                let Some(host) = host else { continue };
                if !after.contains(&host.fqdn) {
                    after.push(host.fqdn.clone());
                }
                in_last.insert(s.cluster.clone());
                last.push(Target {
                    fqdn: s.cluster.clone(),
                    server: s,
                    runbook: Runbook::BackendDatabases,
                    database_host: host.fqdn.clone(),
                    after,
                    pool: if pc_only { pc_users.first().map(|h| h.cluster.clone()) } else { s.pools.first().cloned() },
                });
            }
            _ => {}
        }
    }
    // Inside out (§4): Persistent Chat, Directors, Mediation, Edge, each group in topology order.
    let rank = |r: Runbook| match r {
        Runbook::PersistentChat => 0,
        Runbook::Director => 1,
        Runbook::Mediation => 2,
        _ => 3,
    };
    middle.sort_by_key(|t| rank(t.runbook));
    first.extend(middle);
    first.extend(last);
    first
}

/// What a Director, Edge, Mediation or Persistent Chat server waits for (see
/// [`targets_in`]): the inner roles of its site, and the servers of the pools it depends on.
fn role_after(topology: &Topology, s: &Server) -> Vec<Fqdn> {
    let inner: &[Role] = match s.role {
        Role::PersistentChat => &[Role::FrontEnd, Role::StandardEdition],
        Role::Director => &[Role::FrontEnd, Role::StandardEdition, Role::PersistentChat],
        Role::Mediation => &[Role::FrontEnd, Role::StandardEdition, Role::PersistentChat, Role::Director],
        _ => &[Role::FrontEnd, Role::StandardEdition, Role::PersistentChat, Role::Director, Role::Mediation],
    };
    let hop = |o: &Server| {
        s.role != Role::PersistentChat
            && matches!(o.role, Role::FrontEnd | Role::StandardEdition | Role::Director)
            && s.depends_on.contains(&o.cluster)
    };
    topology
        .servers
        .iter()
        .filter(|o| o.cluster != s.cluster && ((o.site == s.site && inner.contains(&o.role)) || hop(o)))
        .map(|o| o.fqdn.clone())
        .collect()
}

/// Whether the pool of a Front End is an Enterprise pool of one machine (failover has nowhere
/// to move its users).
pub fn lone_front_end(topology: &Topology, pool: &Fqdn) -> bool {
    topology.pool(pool).is_some_and(|p| p.kind == PoolKind::Enterprise && p.machines.len() < 2)
}

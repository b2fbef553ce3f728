//! Which servers a plan covers, which runbook each gets, and where each step runs
//! (DOMAIN.md §1a, §2): pure functions of the resolved topology.
//!
//! * A Standard Edition server carries everything: the seed's procedure on itself.
//! * An Enterprise pool: the update is installed on each **Front End**, one at a time, with
//!   failover and failback around it (`patch-or-update-front-end-servers.md`).
//! * The pool's back end is a SQL Server machine with no Skype for Business on it: its
//!   databases are updated **once**, with `Install-CsDatabase -Update -ConfiguredDatabases
//!   -SqlServerFqdn`, from a Front End that already has the update, after every Front End of
//!   every pool whose stores live there. So are SQL servers holding other stores.
//! * A back end whose cluster has `RequiresSetup="true"` carries SfB: the seed's literal
//!   procedure still applies to it.
//! * A Lync Server 2013 Front End has no computer failover (`Invoke-CsComputerFailOver` came
//!   with Skype for Business Server 2015): Microsoft's Lync 2013 procedure ("Upgrade or update
//!   Front End Servers in Lync Server 2013", docs/research/issue11-products.md §3) checks the
//!   pool's upgrade readiness, stops the server's services, installs, and brings it back,
//!   one upgrade domain at a time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fqdn::Fqdn;
use crate::runbook::{Product, StepId};
use crate::topology::{PoolKind, Role, Server, Topology};

/// The procedure a server gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Runbook {
    /// The seed's procedure on a Standard Edition server.
    StandardEdition,
    /// A Front End of an Enterprise pool: failover, install, failback.
    FrontEnd,
    /// A Lync Server 2013 Front End: readiness, services stopped, install, services started.
    LyncFrontEnd,
    /// A SQL Server's databases, updated from an updated Front End.
    BackendDatabases,
    /// The seed's literal procedure on a back end that carries SfB (`RequiresSetup="true"`),
    /// and the reading of plans stored by releases before runbooks existed.
    #[default]
    SeedBackend,
}

const STANDARD_EDITION: &[StepId] = &[
    StepId::CheckRole,
    StepId::StagePackage,
    StepId::OpenShell,
    StepId::StopServices,
    StepId::StopW3svc,
    StepId::CloseShells,
    StepId::InstallUpdate,
    StepId::ReopenShell,
    StepId::StopServicesAgain,
    StepId::StartW3svc,
    StepId::UpdateDatabases,
    StepId::StartServices,
    StepId::CheckDatabases,
    StepId::Verify,
];

const FRONT_END: &[StepId] = &[
    StepId::CheckRole,
    StepId::StagePackage,
    StepId::OpenShell,
    StepId::FabricCheck,
    StepId::Readiness,
    StepId::Failover,
    StepId::StopW3svc,
    StepId::CloseShells,
    StepId::InstallUpdate,
    StepId::ReopenShell,
    StepId::StartW3svc,
    StepId::Failback,
    StepId::Verify,
];

/// Lync Server 2013 Front End (docs/research/issue11-products.md §3): the pool's fabric and
/// upgrade readiness (both cmdlets exist from Lync Server 2013 on), then the seed's steps on
/// the server itself without the database update (done once from the pool, as for any
/// Front End).
const LYNC_FRONT_END: &[StepId] = &[
    StepId::CheckRole,
    StepId::StagePackage,
    StepId::OpenShell,
    StepId::FabricCheck,
    StepId::Readiness,
    StepId::StopServices,
    StepId::StopW3svc,
    StepId::CloseShells,
    StepId::InstallUpdate,
    StepId::ReopenShell,
    StepId::StopServicesAgain,
    StepId::StartW3svc,
    StepId::StartServices,
    StepId::Verify,
];

const BACKEND_DATABASES: &[StepId] = &[StepId::TestDatabases, StepId::UpdateDatabases, StepId::CheckDatabases];

impl Runbook {
    /// Every runbook.
    pub const ALL: [Runbook; 5] = [
        Runbook::StandardEdition,
        Runbook::FrontEnd,
        Runbook::LyncFrontEnd,
        Runbook::BackendDatabases,
        Runbook::SeedBackend,
    ];

    /// The public word (`servers[].runbook`).
    pub fn as_str(self) -> &'static str {
        match self {
            Runbook::StandardEdition => "standard-edition",
            Runbook::FrontEnd => "front-end",
            Runbook::LyncFrontEnd => "lync-front-end",
            Runbook::BackendDatabases => "backend-databases",
            Runbook::SeedBackend => "seed-backend",
        }
    }

    /// Its steps, in order.
    pub fn steps(self) -> &'static [StepId] {
        match self {
            Runbook::StandardEdition | Runbook::SeedBackend => STANDARD_EDITION,
            Runbook::FrontEnd => FRONT_END,
            Runbook::LyncFrontEnd => LYNC_FRONT_END,
            Runbook::BackendDatabases => BACKEND_DATABASES,
        }
    }

    /// Whether `step` lies inside the users' outage window: services stopped on a server that
    /// carries everything, or a back end's databases being updated (DOMAIN.md §4 rule 10). A
    /// Front End's failover moves its users: no outage; nor do a Lync Server 2013 Front End's
    /// stopped services (the pool's other Front Ends serve its users while quorum holds:
    /// DOMAIN.md §2, rule 10).
    pub fn in_outage(self, step: StepId) -> bool {
        match self {
            Runbook::StandardEdition | Runbook::SeedBackend => step.spec().in_outage,
            Runbook::BackendDatabases => step == StepId::UpdateDatabases,
            Runbook::FrontEnd | Runbook::LyncFrontEnd => false,
        }
    }
}

impl Runbook {
    /// The steps that open and close the users' outage: `stop-services` … `start-services`
    /// where services stop, the database update on a back end. A Front End has none.
    pub fn outage_bounds(self) -> Option<(StepId, StepId)> {
        match self {
            Runbook::StandardEdition | Runbook::SeedBackend => Some((StepId::StopServices, StepId::StartServices)),
            Runbook::BackendDatabases => Some((StepId::UpdateDatabases, StepId::UpdateDatabases)),
            Runbook::FrontEnd | Runbook::LyncFrontEnd => None,
        }
    }

    /// Whether the server itself carries Skype for Business (services, IIS, the module).
    pub fn has_sfb(self) -> bool {
        self != Runbook::BackendDatabases
    }
}

impl fmt::Display for Runbook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Runbook {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Runbook::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| format!("unknown runbook {s:?}"))
    }
}

impl Serialize for Runbook {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Runbook {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

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

/// Whether a server of this role is updated by sfbpatch today (Edge, Director and Mediation
/// servers are not yet).
pub fn in_scope(role: Role) -> bool {
    matches!(role, Role::StandardEdition | Role::FrontEnd | Role::EnterpriseBackend | Role::SqlStore)
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
    let mut first: Vec<Target<'_>> = Vec::new();
    let mut last: Vec<Target<'_>> = Vec::new();
    let sfb_hosts: Vec<&Server> =
        topology.servers.iter().filter(|s| matches!(s.role, Role::FrontEnd | Role::StandardEdition)).collect();
    // Each pool's SfB hosts with their place in `sfb_hosts`: a back end's users are found
    // from its pools, not by scanning every host per back end (issue 12, item 4).
    let mut hosts_of_pool: std::collections::HashMap<&Fqdn, Vec<(usize, &Server)>> = std::collections::HashMap::new();
    for (i, h) in sfb_hosts.iter().enumerate() {
        for p in &h.pools {
            hosts_of_pool.entry(p).or_default().push((i, *h));
        }
    }
    // The FQDNs `last` holds, for the once-per-SQL-cluster check.
    let mut in_last: std::collections::HashSet<Fqdn> = std::collections::HashSet::new();
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
            Role::EnterpriseBackend | Role::SqlStore => {
                // A SQL failover cluster is addressed by its cluster FQDN, once.
                if !s.sfb_installed && in_last.contains(&s.cluster) {
                    continue;
                }
                // Whose stores live here: the pools whose UserStore it holds; every pool when it
                // holds any other store (Archiving, Monitoring, Persistent Chat… serve them all).
                let served: Vec<&Fqdn> = s.pools.iter().collect();
                let shared = served.is_empty() || !s.collocated_stores.is_empty();
                let users_of_these: Vec<&Server> = if shared {
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
                // always among the servers it waits for.
                let own_pool_front_end = users_of_these
                    .iter()
                    .find(|h| h.role == Role::FrontEnd && h.pools.iter().any(|p| served.contains(&p)));
                let host = own_pool_front_end
                    .or_else(|| users_of_these.iter().find(|h| h.role == Role::FrontEnd))
                    .or_else(|| users_of_these.first())
                    .or_else(|| sfb_hosts.iter().find(|h| h.role == Role::FrontEnd))
                    .or_else(|| sfb_hosts.first());
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
                    pool: s.pools.first().cloned(),
                });
            }
            _ => {}
        }
    }
    first.extend(last);
    first
}

/// Whether the pool of a Front End is an Enterprise pool of one machine (failover has nowhere
/// to move its users).
pub fn lone_front_end(topology: &Topology, pool: &Fqdn) -> bool {
    topology.pool(pool).is_some_and(|p| p.kind == PoolKind::Enterprise && p.machines.len() < 2)
}

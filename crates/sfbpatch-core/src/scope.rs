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

use crate::vocab::UnknownWord;

use crate::fqdn::Fqdn;
use crate::runbook::{EDGE_SERVICES, MEDIATION_SERVICE, Product, ServiceControl, StepId};
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
    /// A Director: the generic SfB server runbook with IIS (docs/research/issue12-roles.md
    /// §1.0, §1.1: Directors run Web Services behind a load balancer; no user databases).
    Director,
    /// An Edge server: Windows service cmdlets, no IIS, nothing that needs AD or the CMS.
    Edge,
    /// A stand-alone Mediation server: its Mediation service drained first.
    Mediation,
    /// A Persistent Chat server (its stores are updated once per pool, as `backend-databases`,
    /// from an updated Persistent Chat server).
    PersistentChat,
}

crate::vocab::words! {
    /// Which servers a plan covers (`--scope`).
    #[derive(Default)]
    Scope, "scope" {
        /// What the seed covers: Standard Edition servers, Enterprise back ends and the Front
        /// End work their update needs, SQL Servers of other stores.
        #[default]
        Backends => "backends",
        /// Every role sfbpatch has a runbook for (Directors, Edge, Mediation, Persistent Chat
        /// too).
        All => "all",
    }
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

/// The generic SfB server runbook with IIS (docs/research/issue12-roles.md §1.0: the Back
/// End/SE page's server steps without the database step, `Start-CsWindowsService`, a build
/// check): a Director.
const DIRECTOR: &[StepId] = &[
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
    StepId::StartServices,
    StepId::Verify,
];

/// The same without IIS (no SfB web site there, §1.1): Mediation and Persistent Chat.
const GENERIC_NO_IIS: &[StepId] = &[
    StepId::CheckRole,
    StepId::StagePackage,
    StepId::OpenShell,
    StepId::StopServices,
    StepId::CloseShells,
    StepId::InstallUpdate,
    StepId::ReopenShell,
    StepId::StopServicesAgain,
    StepId::StartServices,
    StepId::Verify,
];

/// An Edge: no `check-role` (`Get-CsAdminRoleAssignment` reads Active Directory, and an Edge
/// is not a domain member: §1.1), no IIS.
const EDGE: &[StepId] = &[
    StepId::StagePackage,
    StepId::OpenShell,
    StepId::StopServices,
    StepId::CloseShells,
    StepId::InstallUpdate,
    StepId::ReopenShell,
    StepId::StopServicesAgain,
    StepId::StartServices,
    StepId::Verify,
];

const BACKEND_DATABASES: &[StepId] = &[StepId::TestDatabases, StepId::UpdateDatabases, StepId::CheckDatabases];

impl Runbook {
    /// Every runbook.
    pub const ALL: [Runbook; 9] = [
        Runbook::StandardEdition,
        Runbook::FrontEnd,
        Runbook::LyncFrontEnd,
        Runbook::BackendDatabases,
        Runbook::SeedBackend,
        Runbook::Director,
        Runbook::Edge,
        Runbook::Mediation,
        Runbook::PersistentChat,
    ];

    /// The public word (`servers[].runbook`).
    pub fn as_str(self) -> &'static str {
        match self {
            Runbook::StandardEdition => "standard-edition",
            Runbook::FrontEnd => "front-end",
            Runbook::LyncFrontEnd => "lync-front-end",
            Runbook::BackendDatabases => "backend-databases",
            Runbook::SeedBackend => "seed-backend",
            Runbook::Director => "director",
            Runbook::Edge => "edge",
            Runbook::Mediation => "mediation",
            Runbook::PersistentChat => "persistent-chat",
        }
    }

    /// Its steps, in order.
    pub fn steps(self) -> &'static [StepId] {
        match self {
            Runbook::StandardEdition | Runbook::SeedBackend => STANDARD_EDITION,
            Runbook::FrontEnd => FRONT_END,
            Runbook::LyncFrontEnd => LYNC_FRONT_END,
            Runbook::BackendDatabases => BACKEND_DATABASES,
            Runbook::Director => DIRECTOR,
            Runbook::Edge => EDGE,
            Runbook::Mediation | Runbook::PersistentChat => GENERIC_NO_IIS,
        }
    }

    /// How its services are stopped, started and checked (docs/research/issue12-roles.md §1).
    pub fn service_control(self) -> ServiceControl {
        match self {
            Runbook::Director | Runbook::PersistentChat => {
                ServiceControl::Graceful { iis: self == Runbook::Director, drain_first: None }
            }
            Runbook::Mediation => ServiceControl::Graceful { iis: false, drain_first: Some(MEDIATION_SERVICE) },
            Runbook::Edge => ServiceControl::Windows(&EDGE_SERVICES),
            _ => ServiceControl::Seed,
        }
    }

    /// Whether `step` lies inside the users' outage window: services stopped on a server that
    /// carries everything, or a back end's databases being updated (DOMAIN.md §4 rule 10). A
    /// Front End's failover moves its users: no outage; nor do a Lync Server 2013 Front End's
    /// stopped services (the pool's other Front Ends serve its users while quorum holds:
    /// DOMAIN.md §2, rule 10).
    ///
    /// Directors, Edge, Mediation and Persistent Chat servers home no users (a Director
    /// "doesn't home any user accounts"; docs/research/issue12-roles.md §1.1), so no users'
    /// outage window opens on one server: what they serve is lost only while *every* server
    /// of their pool is down — DNS load balancing fails over to the servers that are up, an
    /// Edge pool loses external access only with its last Edge, a Persistent Chat pool's
    /// users move to its other servers (§5, DOC) — and a pool's servers never run together
    /// (one lane per pool). A pool of one server is another matter: see [`Runbook::in_outage_in_pool`].
    pub fn in_outage(self, step: StepId) -> bool {
        match self {
            Runbook::StandardEdition | Runbook::SeedBackend => step.spec().in_outage,
            Runbook::BackendDatabases => step == StepId::UpdateDatabases,
            Runbook::FrontEnd
            | Runbook::LyncFrontEnd
            | Runbook::Director
            | Runbook::Edge
            | Runbook::Mediation
            | Runbook::PersistentChat => false,
        }
    }

    /// [`Runbook::in_outage`] for a server whose pool has `pool_size` servers. A Director,
    /// Edge, Mediation or Persistent Chat server **alone** in its pool has no other server to
    /// fail over to (docs/research/issue12-roles.md §5: DNS load balancing "fails over only to
    /// running servers"; a single-Edge site "has no redundancy (its update is an outage of
    /// external access)"): what it serves — sign-ins through the Director, external access,
    /// PSTN calls through its gateways, chat rooms — is down for users from `stop-services`
    /// until `start-services` succeeds, as on a Standard Edition server (DOMAIN.md §2 step 4 to
    /// step 12), so those steps open the users' outage window and count against the budget. A
    /// server whose pool keeps another one up opens none ([`Runbook::in_outage`]).
    pub fn in_outage_in_pool(self, step: StepId, pool_size: usize) -> bool {
        match self {
            Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat if pool_size < 2 => {
                step.spec().in_outage
            }
            _ => self.in_outage(step),
        }
    }
}

impl Runbook {
    /// The steps that open and close the users' outage: `stop-services` … `start-services`
    /// where services stop (for a Director, Edge, Mediation or Persistent Chat server, only
    /// when it is alone in its pool), the database update on a back end. A Front End has none.
    pub fn outage_bounds(self) -> Option<(StepId, StepId)> {
        match self {
            Runbook::StandardEdition | Runbook::SeedBackend => Some((StepId::StopServices, StepId::StartServices)),
            Runbook::BackendDatabases => Some((StepId::UpdateDatabases, StepId::UpdateDatabases)),
            // Where services stop, when the server is alone in its pool (`in_outage_in_pool`):
            // the window opens only at a step the plan marks inside it, so a server of a pool
            // that keeps another one up never opens it.
            Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat => {
                Some((StepId::StopServices, StepId::StartServices))
            }
            // No users' outage: the pool's other Front Ends serve (see `in_outage`).
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

/// Whether a server of this role is updated under the default scope (`--scope backends`).
pub fn in_scope(role: Role) -> bool {
    in_scope_of(role, Scope::Backends)
}

/// Whether a server of this role gets a runbook under `scope`.
pub fn in_scope_of(role: Role, scope: Scope) -> bool {
    match role {
        Role::StandardEdition | Role::FrontEnd | Role::EnterpriseBackend | Role::SqlStore => true,
        Role::Director | Role::Edge | Role::Mediation | Role::PersistentChat => scope == Scope::All,
        Role::OfficeWebApps | Role::Branch | Role::VideoInterop | Role::TrustedApplication | Role::Other => false,
    }
}

/// Why a server gets no runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutOfScopeReason {
    /// A role `--scope all` updates, left out by `--scope backends`.
    NeedsScopeAll,
    /// Office Web Apps / Office Online Server: not Skype for Business (its own updates).
    OfficeWebApps,
    /// A Survivable Branch Appliance/Server: updated through its vendor's or Microsoft's
    /// branch procedure, which sfbpatch does not have (docs/research/issue12-roles.md §7).
    Branch,
    /// A Video Interop Server: no documented update procedure found (§7).
    VideoInterop,
    /// A Trusted Application server: third-party software on it (§7).
    TrustedApplication,
    /// A machine with no Skype for Business Server on it and no database store.
    NoSfb,
    /// A role sfbpatch does not know.
    UnknownRole,
}

impl OutOfScopeReason {
    /// The public word (catalogue key `plan.out-of-scope.<word>`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutOfScopeReason::NeedsScopeAll => "needs-scope-all",
            OutOfScopeReason::OfficeWebApps => "office-web-apps",
            OutOfScopeReason::Branch => "branch",
            OutOfScopeReason::VideoInterop => "video-interop",
            OutOfScopeReason::TrustedApplication => "trusted-application",
            OutOfScopeReason::NoSfb => "no-sfb",
            OutOfScopeReason::UnknownRole => "unknown-role",
        }
    }
}

/// Every server of `topology` that gets no runbook under `scope`, with why, in topology order.
pub fn out_of_scope(topology: &Topology, scope: Scope) -> Vec<(&Server, OutOfScopeReason)> {
    let pc_only = |s: &Server| scope == Scope::Backends && pc_only_store(s);
    topology
        .servers
        .iter()
        .filter(|s| !in_scope_of(s.role, scope) || pc_only(s))
        .map(|s| {
            let why = match s.role {
                Role::OfficeWebApps => OutOfScopeReason::OfficeWebApps,
                Role::Branch => OutOfScopeReason::Branch,
                Role::VideoInterop => OutOfScopeReason::VideoInterop,
                Role::TrustedApplication => OutOfScopeReason::TrustedApplication,
                // A file share (`FileStore`) or any machine without SfB and without a store.
                Role::Other if !s.sfb_installed => OutOfScopeReason::NoSfb,
                Role::Other => OutOfScopeReason::UnknownRole,
                _ => OutOfScopeReason::NeedsScopeAll,
            };
            (s, why)
        })
        .collect()
}

/// A SQL Server whose stores are all Persistent Chat stores: its users are Persistent Chat
/// servers, so it belongs with them (`--scope all`), updated after them.
fn pc_only_store(s: &Server) -> bool {
    s.role == Role::SqlStore && !s.stores.is_empty() && s.stores.iter().all(|p| p.role.starts_with("PersistentChat"))
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
    let mut hosts_of_pool: std::collections::HashMap<&Fqdn, Vec<(usize, &Server)>> = std::collections::HashMap::new();
    for (i, h) in sfb_hosts.iter().enumerate() {
        for p in &h.pools {
            hosts_of_pool.entry(p).or_default().push((i, *h));
        }
    }
    // The FQDNs `last` holds, for the once-per-SQL-cluster check.
    let mut in_last: std::collections::HashSet<Fqdn> = std::collections::HashSet::new();
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

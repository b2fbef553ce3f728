//! The runbooks: each one's steps in order, how it controls services, and which of its
//! steps lie inside the users' outage window.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runbook::{EDGE_SERVICES, MEDIATION_SERVICE, ServiceControl, StepId};

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

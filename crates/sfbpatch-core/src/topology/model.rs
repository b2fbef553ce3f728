//! The resolved topology: what each server is. Both readers (XML and TOML) end here, through
//! [`super::resolve`], so a topology means the same whichever format it came in.

use serde::{Deserialize, Serialize};

use crate::fqdn::Fqdn;
use crate::runbook::Product;

/// What a server is, as DOMAIN.md §3 derives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A Standard Edition server: a pool whose UserStore is on its own SQL instance.
    StandardEdition,
    /// The SQL Server hosting an Enterprise pool's UserStore.
    EnterpriseBackend,
    /// A machine of an Enterprise pool.
    FrontEnd,
    /// A machine of a Director pool.
    Director,
    /// An Edge server.
    Edge,
    /// A standalone Mediation server.
    Mediation,
    /// A Persistent Chat server (docs/research/issue12-roles.md §2: role name UNVERIFIED).
    PersistentChat,
    /// A SQL Server hosting only other stores (Archiving, Monitoring, Persistent Chat, …).
    SqlStore,
    /// Office Web Apps / Office Online Server (`WacService`): not Skype for Business.
    OfficeWebApps,
    /// A Survivable Branch Appliance or Server (role name UNVERIFIED).
    Branch,
    /// A Video Interop Server (role name UNVERIFIED).
    VideoInterop,
    /// A Trusted Application server (role name UNVERIFIED).
    TrustedApplication,
    /// Anything else: a role sfbpatch does not know (listed in `topology_roles`), or a
    /// machine with no role and no store. Plans report it as out of scope, never silently.
    Other,
}

impl Role {
    /// The public name, as in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::StandardEdition => "standard-edition",
            Role::EnterpriseBackend => "enterprise-backend",
            Role::FrontEnd => "front-end",
            Role::Director => "director",
            Role::Edge => "edge",
            Role::Mediation => "mediation",
            Role::PersistentChat => "persistent-chat",
            Role::SqlStore => "sql-store",
            Role::OfficeWebApps => "office-web-apps",
            Role::Branch => "branch",
            Role::VideoInterop => "video-interop",
            Role::TrustedApplication => "trusted-application",
            Role::Other => "other",
        }
    }

    /// Whether the back-end procedure (the seed) applies to servers of this role.
    pub fn is_back_end_procedure(self) -> bool {
        matches!(self, Role::StandardEdition | Role::EnterpriseBackend)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of pool a user-facing cluster is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolKind {
    /// An Enterprise Edition Front End pool with a separate back end.
    Enterprise,
    /// A Standard Edition server (a pool of one, with its databases local).
    Standard,
    /// A Director pool.
    Director,
}

/// A site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Site {
    /// `SiteId`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A pool that users or traffic are homed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// The pool's FQDN.
    pub fqdn: Fqdn,
    /// The site's name.
    pub site: String,
    /// Enterprise, Standard Edition or Director.
    pub kind: PoolKind,
    /// Its machines.
    pub machines: Vec<Fqdn>,
    /// The SQL Server hosting its UserStore (itself, for Standard Edition).
    pub backend: Option<Fqdn>,
    /// The pool paired with it as its backup (see [`Topology::pairs`]).
    pub backup: Option<Fqdn>,
}

/// A computer and what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Server {
    /// The machine's FQDN.
    pub fqdn: Fqdn,
    /// What it is.
    pub role: Role,
    /// The site's name.
    pub site: String,
    /// The cluster (pool, or SQL Server name) it belongs to.
    pub cluster: Fqdn,
    /// The user pools it belongs to or serves (its own pool for a Front End or Standard
    /// Edition server; the pools whose UserStore it hosts for a back end).
    pub pools: Vec<Fqdn>,
    /// For an Enterprise back end: the `<SQL Server FQDN>` of step 11 (its cluster's FQDN).
    pub sql_server_fqdn: Option<Fqdn>,
    /// Stores other than the back end's own (UserStore, ApplicationStore, CentralMgmtStore)
    /// on any SQL instance of the same server: Archiving, Monitoring, Persistent Chat, ….
    pub collocated_stores: Vec<String>,
    /// Every topology role installed on its cluster or on its SQL instances.
    pub topology_roles: Vec<String>,
    /// The database stores on its SQL instances, in document order.
    pub stores: Vec<StorePlacement>,
    /// Skype for Business Server is installed on it (its cluster's `RequiresSetup`): SfB
    /// services, IIS site, Management Shell. SQL-only machines have none of them (DOMAIN.md §1a).
    pub sfb_installed: bool,
    /// The product its topology entry names: the TOML format's `product` key, else the
    /// newest `ServiceVersion` of the services on its cluster or its SQL instances
    /// (docs/research/issue11-products.md §1). `None`: the document does not say.
    pub product: Option<Product>,
    /// The other clusters (pools, SQL Servers) its cluster's services depend on
    /// (`DependsOn`): an Edge's or Mediation server's next hop, a Persistent Chat pool's
    /// store. In document order, once each.
    pub depends_on: Vec<Fqdn>,
}

/// A database store on one of a server's SQL instances.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct StorePlacement {
    /// The SQL instance name (lower case).
    pub instance: String,
    /// The store's role name (`UserStore`, `MonitoringStore`, …).
    pub role: String,
}

/// A resolved topology.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// Sites, in document order.
    pub sites: Vec<Site>,
    /// User and Director pools, in document order.
    pub pools: Vec<Pool>,
    /// Every machine, in document order.
    pub servers: Vec<Server>,
    /// Paired (backup) pools, each pair once, the first in document order: two user pools
    /// whose Registrars depend on each other (docs/research/issue12-roles.md §3).
    pub pairs: Vec<(Fqdn, Fqdn)>,
    /// `Dependency/@Usage` values other than `Default`, each with where it is
    /// (`1:Registrar:1 → 2:Registrar:1 (BackupRegistrar)`): undocumented, so reported.
    pub unknown_usages: Vec<String>,
}

impl Topology {
    /// The server with this FQDN (case-insensitive).
    pub fn server(&self, fqdn: &str) -> Option<&Server> {
        let want = fqdn.to_ascii_lowercase();
        self.servers.iter().find(|s| s.fqdn.as_str() == want)
    }

    /// The pool with this FQDN.
    pub fn pool(&self, fqdn: &Fqdn) -> Option<&Pool> {
        self.pools.iter().find(|p| &p.fqdn == fqdn)
    }
}

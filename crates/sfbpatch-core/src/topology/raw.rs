//! The topology document as written, before references are resolved: what the XML and TOML
//! readers produce. Names are still unvalidated strings; every item keeps its position so
//! that [`super::resolve`] can point at it.

use super::error::Pos;
use crate::runbook::Product;

/// `ClusterId[@SiteId,@Number]`: identifies a pool or standalone server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    /// The site's `SiteId`.
    pub site: String,
    /// The cluster's number within the site.
    pub number: u32,
}

impl std::fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.site, self.number)
    }
}

/// `ServiceId[@SiteId,@RoleName,@Instance]`: identifies a role instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// The site's `SiteId`.
    pub site: String,
    /// The `RoleName` (`UserStore`, `UserServices`, …).
    pub role: String,
    /// The instance number.
    pub instance: u32,
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.site, self.role, self.instance)
    }
}

/// `SqlInstanceId[@Name]/ClusterId`: a SQL Server instance on a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlKey {
    /// Instance name, lower case (SQL instance names are case-insensitive).
    pub name: String,
    /// The cluster it runs on.
    pub cluster: ClusterKey,
}

impl std::fmt::Display for SqlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.name, self.cluster)
    }
}

/// A site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSite {
    /// `SiteId`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Where it is defined.
    pub pos: Pos,
}

/// A machine of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMachine {
    /// Its FQDN as written.
    pub fqdn: String,
    /// Where it is defined.
    pub pos: Pos,
}

/// A cluster: a pool or a standalone server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCluster {
    /// Its identity.
    pub key: ClusterKey,
    /// Its FQDN as written (the pool FQDN, or the server's for a one-machine cluster).
    pub fqdn: String,
    /// The computers in it.
    pub machines: Vec<RawMachine>,
    /// `RequiresSetup`: whether Skype for Business Server is installed on its machines, when
    /// the document says (the XML export always does; the TOML format derives it from roles).
    pub requires_setup: Option<bool>,
    /// The product its machines run, when the document names it (the TOML format's
    /// `product` key; the XML export carries it on each service instead, as `ServiceVersion`).
    pub product: Option<Product>,
    /// Where it is defined.
    pub pos: Pos,
}

/// A SQL Server instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSqlInstance {
    /// Its identity.
    pub key: SqlKey,
    /// Where it is defined.
    pub pos: Pos,
}

/// Where a service is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstalledOn {
    /// On a cluster (a server role).
    Cluster(ClusterKey),
    /// On a SQL instance (a database store).
    Sql(SqlKey),
}

/// `DependsOn/Dependency`: a link from one service to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The service depended on.
    pub key: ServiceKey,
    /// `Dependency/@Usage` as written (`Default` in every public export; any other value is
    /// kept and reported, docs/research/issue12-roles.md §3). Empty when absent.
    pub usage: String,
    /// Where the dependency is written.
    pub pos: Pos,
}

/// The `Usage` every documented dependency carries (docs/research/issue12-roles.md §3).
pub const DEFAULT_USAGE: &str = "Default";

/// A service (a role instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawService {
    /// Its identity.
    pub key: ServiceKey,
    /// Where it runs.
    pub installed_on: InstalledOn,
    /// Where the `InstalledOn` reference is written.
    pub installed_on_pos: Pos,
    /// The services it depends on (`DependsOn/Dependency`), with each one's `Usage` and
    /// where it is written.
    pub depends_on: Vec<Dependency>,
    /// `RegistrarService[@IsDirector="true"]`.
    pub is_director: bool,
    /// `Service[@ServiceVersion]`: the product generation of the role instance
    /// (docs/research/issue11-products.md §1), when written and a number.
    pub service_version: Option<u32>,
    /// Where it is defined.
    pub pos: Pos,
}

/// A whole topology document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawTopology {
    /// Sites.
    pub sites: Vec<RawSite>,
    /// Pools and standalone servers.
    pub clusters: Vec<RawCluster>,
    /// SQL instances.
    pub sql_instances: Vec<RawSqlInstance>,
    /// Services.
    pub services: Vec<RawService>,
}

//! One simulated server: its services, files, sessions, databases, accounts, operation log
//! and the intervals during which it was down.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sfbpatch_core::Fqdn;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::Product;
use sfbpatch_core::topology::Role;

use super::intervals::{merge, step_interval};
use crate::Ms;
use crate::rng::HostRng;

/// What a Windows service is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// A Skype for Business Server service (stopped by `Stop-CsWindowsService`).
    Sfb,
    /// IIS (`W3SVC`).
    Iis,
    /// A SQL Server instance.
    Sql,
    /// Windows Fabric (`FabricHostSvc`, Front Ends): not an SfB service.
    Fabric,
}

/// A Windows service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Service name (`RTCSRV`).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// What it is.
    pub kind: ServiceKind,
    /// Running or stopped.
    pub running: bool,
    /// Start type Automatic: comes back after a restart.
    pub auto_start: bool,
    /// Start type Disabled: cannot be started (a failed-over Front End's SfB services,
    /// issue10-sources.md §2.4 "stopped and disabled").
    #[serde(default)]
    pub disabled: bool,
}

/// A file on the host's local disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimFile {
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
    /// The build an update package installs, when the file is one.
    pub installs: Option<Build>,
    /// False when the copy was cut short: the hash differs and the installer refuses it.
    pub intact: bool,
    /// Text content, for files the simulator writes itself (installer logs).
    #[serde(default)]
    pub content: Option<String>,
}

/// A PowerShell session on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: u64,
    /// Still open.
    pub open: bool,
    /// The install generation at which the Management Shell module was loaded into it
    /// (`None`: not loaded). A session whose module predates the last install holds the old
    /// assemblies (DOMAIN.md §4 rule 4).
    pub module_generation: Option<u32>,
    /// The process that holds it, for a session kept by a shell process of its own
    /// (`sim shell` reading its commands line by line): a process killed cannot close its
    /// session, so a session whose process is gone counts as closed ([`Estate::close_orphans`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<SessionProcess>,
}

/// The process holding a session: its id and start time (a pid alone is reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionProcess {
    /// Its process id.
    pub pid: u32,
    /// Its start time, as the operating system gives it, when known.
    pub start: Option<u64>,
}

/// A program running on its own, not waited for (DOMAIN.md §5: a GUI-subsystem program
/// started with `&` returns at once; the update installer is one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Background {
    /// The program's path, as started.
    pub program: String,
    /// When it ends (virtual time).
    pub end_ms: Ms,
    /// Its exit code then, which no one reads (`&` sets no `$LASTEXITCODE`).
    pub exit_code: i32,
    /// What the update installer changes when it ends (`None`: it changes nothing).
    pub install: Option<InstallEffects>,
    /// The log it writes into and what it adds there at its end.
    #[serde(default)]
    pub log: Option<(String, String)>,
}

/// What an update installer that went through changes, at its end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallEffects {
    /// The build every component reaches.
    pub target: Build,
    /// A restart is needed to finish (3010: files held by an open Management Shell, or the
    /// update asks for one).
    pub restart: bool,
    /// The Skype for Business services it starts again (DOMAIN.md §4 rule 2), by name.
    pub restarts: Vec<String>,
}

/// A database store with its schema version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// SQL instance.
    pub instance: String,
    /// Store role (`UserStore`, `MonitoringStore`, …).
    pub store: String,
    /// Database name (`rtcxds`, `LcsCDR`, …).
    #[serde(default)]
    pub name: String,
    /// The build whose schema it has.
    pub schema: Build,
}

/// One command (or transport action) applied to a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRecord {
    /// Sequence number on this host, from 1.
    pub seq: u64,
    /// The step it belonged to, if the driver said.
    pub step: Option<String>,
    /// The command text (or a description of a transport action).
    pub command: String,
    /// Virtual start.
    pub start_ms: Ms,
    /// Virtual end.
    pub end_ms: Ms,
    /// Exit code.
    pub exit_code: i32,
    /// `completed`, `timed-out`, `disconnected`, `unreachable`.
    pub status: String,
    /// Whether the command changed the host.
    pub applied: bool,
}

/// A simulated server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Host {
    /// Its FQDN.
    pub fqdn: Fqdn,
    /// Its role in the topology.
    pub role: Role,
    /// The pools whose users it serves.
    pub pools: Vec<Fqdn>,
    /// For a back end: its SQL Server FQDN.
    pub sql_server_fqdn: Option<Fqdn>,
    /// Collocated stores.
    pub collocated_stores: Vec<String>,
    /// The product installed.
    pub product: Product,
    /// Windows services.
    pub services: Vec<Service>,
    /// Installed build per component.
    pub components: Vec<(String, Build)>,
    /// The release build (`Get-CsServerVersion`), which updates do not change.
    pub release_build: Build,
    /// Files on the local disk by path (case-insensitive, stored lower-case).
    pub files: BTreeMap<String, SimFile>,
    /// Free space on C:, in bytes.
    #[serde(default = "default_free")]
    pub free_bytes: u64,
    /// Shell sessions.
    pub sessions: Vec<Session>,
    /// Incremented by every install that changed the binaries.
    pub install_generation: u32,
    /// Databases on its SQL instances.
    pub databases: Vec<Database>,
    /// Accounts (`DOMAIN\user`) and their RBAC roles.
    pub accounts: BTreeMap<String, Vec<String>>,
    /// The account sfbpatch runs as.
    pub account: String,
    /// A restart is pending (an installer returned 3010).
    pub pending_reboot: bool,
    /// When the host last booted.
    pub boot_ms: Ms,
    /// Unreachable (restarting) until this time.
    pub unreachable_until: Ms,
    /// The end of the last operation applied: operations are sequential per host.
    pub clock_ms: Ms,
    /// Down since (a Skype for Business service not running, or the host restarting).
    pub down_since: Option<Ms>,
    /// Closed down intervals.
    pub down_intervals: Vec<(Ms, Ms)>,
    /// IIS (W3SVC) stopped since, on a host that has it: the Web Services it hosts (address
    /// book, meeting join, mobility's UCWA, web scheduling) are down for users meanwhile
    /// (Microsoft, "Plan for Web Services in Skype for Business Server": IIS hosts them). Users'
    /// outage, though not a sign-out of desktop clients (DOMAIN.md §4 counts those apart).
    #[serde(default)]
    pub web_down_since: Option<Ms>,
    /// Closed intervals of IIS stopped.
    #[serde(default)]
    pub web_down_intervals: Vec<(Ms, Ms)>,
    /// Every command applied.
    pub oplog: Vec<OpRecord>,
    /// Skype for Business Server is installed (its cluster's `RequiresSetup`): SfB services,
    /// the Management Shell module, the IIS site (DOMAIN.md §4 rule 1).
    #[serde(default = "yes")]
    pub sfb_installed: bool,
    /// A member of the Active Directory domain. An Edge is not ("not domain members":
    /// docs/research/issue12-roles.md §1.1, FIELD): SfB cmdlets that need AD or the Central
    /// Management store fail there.
    #[serde(default = "yes")]
    pub domain_joined: bool,
    /// Its cluster (pool or SQL Server FQDN).
    #[serde(default)]
    pub cluster: Option<Fqdn>,
    /// Sessions on it have network credentials (a password logon). A public-key SSH logon
    /// has none (DOMAIN.md §5, the double hop): nothing remote, such as another SQL Server,
    /// can be reached from it.
    #[serde(default = "yes")]
    pub network_credentials: bool,
    /// The operator's account is a SQL sysadmin on this machine's instances (rule 8:
    /// `Install-CsDatabase` needs it on the target).
    #[serde(default = "yes")]
    pub sql_sysadmin: bool,
    /// Its databases are mirrored: `Install-CsDatabase -Update` fails against them
    /// (cmdlet reference, issue10-sources.md §2.6). No topology marks mirrors yet (§1).
    #[serde(default)]
    pub mirrored: bool,
    /// Failed over (`Invoke-CsComputerFailOver`) and not failed back.
    #[serde(default)]
    pub failed_over: bool,
    /// Intervals during which its databases were being updated (unavailable, rule 10).
    #[serde(default)]
    pub busy_intervals: Vec<(Ms, Ms)>,
    /// Since when this server has run at a build newer than its pool's databases (rule 6:
    /// Front Ends keep running; recorded, since a real estate degrades in undocumented ways).
    #[serde(default)]
    pub ahead_of_databases_since: Option<Ms>,
    /// A program the shell did not wait for, still running on the host's clock: a GUI
    /// program started with `&`, or `Start-Process` without `-Wait` (DOMAIN.md §5). What it
    /// does lands when the host's clock passes its end.
    #[serde(default)]
    pub background: Option<Background>,
    /// Sessions on it run elevated (High Mandatory Level; DOMAIN.md §5: stopping services
    /// needs it). `whoami /groups` answers from it.
    #[serde(default = "yes")]
    pub elevated: bool,
    /// The account is a member of its local Administrators group (`S-1-5-32-544`).
    #[serde(default = "yes")]
    pub local_admin: bool,
    /// The account's domain groups (without `DOMAIN\`), besides its RBAC roles' groups.
    #[serde(default = "default_groups")]
    pub account_groups: Vec<String>,
    pub(crate) rng: HostRng,
    pub(crate) next_session: u64,
}

fn yes() -> bool {
    true
}

/// What an SfB administrator's account is a member of (estates written before the field).
pub(super) fn default_groups() -> Vec<String> {
    vec!["Domain Users".to_owned(), "RTCUniversalServerAdmins".to_owned()]
}

pub(super) fn default_free() -> u64 {
    60 * 1024 * 1024 * 1024
}

impl Host {
    /// The lowest installed component build (the server's build); `0.0.0.0` on a machine
    /// without Skype for Business.
    pub fn build(&self) -> Build {
        self.components.iter().map(|(_, b)| b.clone()).min().unwrap_or(Build([0; 4]))
    }

    /// Whether the host is up at `at` with every Skype for Business service and every SQL
    /// Server instance it has running: what its users (or, for a back end, its pool's Front
    /// Ends) need. W3SVC and Windows Fabric are not counted.
    pub fn all_sfb_running(&self, at: Ms) -> bool {
        at >= self.unreachable_until
            && self.services.iter().filter(|s| matches!(s.kind, ServiceKind::Sfb | ServiceKind::Sql)).all(|s| s.running)
    }

    /// Whether any Skype for Business service or W3SVC runs.
    pub fn any_sfb_or_iis_running(&self) -> Option<&Service> {
        self.services.iter().find(|s| s.running && matches!(s.kind, ServiceKind::Sfb | ServiceKind::Iis))
    }

    /// Whether every Skype for Business service, W3SVC and SQL instance runs.
    pub fn services_running(&self) -> bool {
        self.services.iter().filter(|s| s.kind != ServiceKind::Fabric).all(|s| s.running)
    }

    /// Whether this machine's cluster (or itself) is the SQL Server `fqdn`.
    pub fn is_sql_server(&self, fqdn: &str) -> bool {
        !self.databases.is_empty()
            && (self.fqdn.as_str().eq_ignore_ascii_case(fqdn)
                || self.cluster.as_ref().is_some_and(|c| c.as_str().eq_ignore_ascii_case(fqdn)))
    }

    /// Whether the SQL instance `instance` runs and the host answers at `at`.
    pub fn sql_up(&self, instance: &str, at: Ms) -> bool {
        let (name, _) = crate::inventory::sql_service(instance);
        at >= self.unreachable_until && self.services.iter().any(|s| s.name == name && s.running)
    }

    /// An open session, by id.
    pub(crate) fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id && s.open)
    }

    /// Records a change of the down state at `at`.
    pub(crate) fn track(&mut self, at: Ms) {
        let up = self.all_sfb_running(at);
        step_interval(&mut self.down_since, &mut self.down_intervals, up, at);
        let web_up = at >= self.unreachable_until
            && self.services.iter().filter(|s| s.kind == ServiceKind::Iis).all(|s| s.running);
        step_interval(&mut self.web_down_since, &mut self.web_down_intervals, web_up, at);
    }

    /// Every interval during which users lost a service of this host: down (see
    /// [`Host::down_intervals_until`]) or its IIS stopped; the open ones ending at `end`.
    pub fn outage_intervals_until(&self, end: Ms) -> Vec<(Ms, Ms)> {
        let mut v = self.down_intervals_until(end);
        v.extend(self.web_down_intervals.iter().copied());
        if let Some(s) = self.web_down_since {
            v.push((s, end.max(s)));
        }
        merge(v)
    }

    /// Every interval during which the host was down or (a SQL Server) its databases were
    /// being updated, the open one ending at `end`; overlapping or touching intervals are one.
    pub fn down_intervals_until(&self, end: Ms) -> Vec<(Ms, Ms)> {
        let mut v = self.down_intervals.clone();
        if let Some(s) = self.down_since {
            v.push((s, end.max(s)));
        }
        v.extend(self.busy_intervals.iter().copied());
        merge(v)
    }

    /// The Management Shell module of this host's product.
    pub fn module(&self) -> &'static str {
        self.product.shell_module()
    }

    /// The product's display name, as `Get-CsServerVersion` shows it.
    pub fn product_name(&self) -> &'static str {
        crate::inventory::product_name(self.product)
    }
}

//! The simulated estate: one host per server of a topology.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sfbpatch_core::Fqdn;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::Product;
use sfbpatch_core::topology::resolve::BACK_END_OWN_STORES;
use sfbpatch_core::topology::{Role, Topology};

use crate::Ms;
use crate::fault::Fault;
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
}

/// A database store with its schema version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// SQL instance.
    pub instance: String,
    /// Store role (`UserStore`, `MonitoringStore`, …).
    pub store: String,
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
    /// Every command applied.
    pub oplog: Vec<OpRecord>,
    pub(crate) rng: HostRng,
    pub(crate) next_session: u64,
}

/// Options for a new estate.
#[derive(Clone, Debug)]
pub struct EstateOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// The build every server starts at.
    pub initial_build: Build,
    /// The product installed.
    pub product: Product,
    /// The account the operator uses (`DOMAIN\user`).
    pub account: String,
    /// Whether that account is a member of CsAdministrator.
    pub account_is_admin: bool,
}

impl Default for EstateOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            initial_build: Build([7, 0, 2046, 385]),
            product: Product::Sfb2019,
            account: "CONTOSO\\sfbadmin".to_owned(),
            account_is_admin: true,
        }
    }
}

/// The simulated estate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Estate {
    /// The seed it was made with.
    pub seed: u64,
    /// Its hosts, in topology order.
    pub hosts: Vec<Host>,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// Indices of the faults that have fired: each fires once, on the first attempt of its
    /// step, so that a retry can show whether the engine recovers.
    pub fired: Vec<usize>,
    /// The build that an update package copied into the estate (`Copy-Item`) installs.
    #[serde(default)]
    pub package_build: Option<Build>,
    /// Reads a file of the machine the simulator runs on (for `Copy-Item` from it): set by
    /// the shell that drives the estate; the simulator itself does no I/O.
    #[serde(skip)]
    pub local_reader: Option<LocalReader>,
    /// Host index by FQDN (rebuilt on load).
    #[serde(skip)]
    index: std::collections::HashMap<String, usize>,
}

/// Reads a local file's bytes.
pub type LocalReader = fn(&str) -> Option<Vec<u8>>;

fn default_free() -> u64 {
    60 * 1024 * 1024 * 1024
}

fn svc(name: &str, display: &str, kind: ServiceKind) -> Service {
    Service { name: name.to_owned(), display_name: display.to_owned(), kind, running: true, auto_start: true }
}

fn sfb_services(role: Role) -> Vec<Service> {
    use ServiceKind::Sfb;
    let mut v = vec![
        svc("RTCSRV", "Skype for Business Server Front-End", Sfb),
        svc("RTCCLSAGT", "Skype for Business Server Centralized Logging Service Agent", Sfb),
        svc("REPLICA", "Skype for Business Server Replica Replicator Agent", Sfb),
    ];
    if matches!(role, Role::StandardEdition | Role::FrontEnd) {
        for (n, d) in [
            ("RTCMRAUTH", "Skype for Business Server Audio/Video Authentication"),
            ("RTCASMCU", "Skype for Business Server Application Sharing"),
            ("RTCAVMCU", "Skype for Business Server Audio/Video Conferencing"),
            ("RTCDATAMCU", "Skype for Business Server Web Conferencing"),
            ("RTCIMMCU", "Skype for Business Server IM Conferencing"),
            ("RTCMEDSRV", "Skype for Business Server Mediation"),
        ] {
            v.push(svc(n, d, Sfb));
        }
    }
    v
}

fn components(role: Role, product: Product, build: &Build) -> Vec<(String, Build)> {
    let name = match product {
        Product::Lync2013 => "Lync Server 2013",
        Product::Sfb2015 => "Skype for Business Server 2015",
        Product::Sfb2019 => "Skype for Business Server 2019",
        Product::SfbSe => "Skype for Business Server Subscription Edition",
    };
    let mut parts = vec!["Core Components", "Administrative Tools"];
    parts.push(match role {
        Role::EnterpriseBackend => "Back End Server",
        _ => "Front End Server",
    });
    parts.into_iter().map(|p| (format!("{name}, {p}"), build.clone())).collect()
}

fn release_build(build: &Build) -> Build {
    let [a, b, c, _] = build.0;
    Build([a, b, c, 0])
}

impl Estate {
    /// A fresh estate for `topology`: every server at `initial_build`, every service running.
    pub fn new(topology: &Topology, opts: &EstateOptions) -> Self {
        let hosts = topology
            .servers
            .iter()
            .map(|s| {
                let mut services = sfb_services(s.role);
                services.push(svc("W3SVC", "World Wide Web Publishing Service", ServiceKind::Iis));
                let mut instances: Vec<&str> = s.stores.iter().map(|p| p.instance.as_str()).collect();
                instances.dedup();
                for i in instances {
                    let upper = if i.is_empty() {
                        "MSSQLSERVER".to_owned()
                    } else {
                        format!("MSSQL${}", i.to_ascii_uppercase())
                    };
                    services.push(svc(&upper, &format!("SQL Server ({})", i.to_ascii_uppercase()), ServiceKind::Sql));
                }
                let databases = s
                    .stores
                    .iter()
                    .map(|p| Database {
                        instance: p.instance.clone(),
                        store: p.role.clone(),
                        schema: opts.initial_build.clone(),
                    })
                    .collect();
                let mut accounts = BTreeMap::new();
                let roles = if opts.account_is_admin {
                    vec!["CsAdministrator".to_owned()]
                } else {
                    vec!["CsViewOnlyAdministrator".to_owned()]
                };
                accounts.insert(opts.account.to_ascii_lowercase(), roles);
                Host {
                    fqdn: s.fqdn.clone(),
                    role: s.role,
                    pools: s.pools.clone(),
                    sql_server_fqdn: s.sql_server_fqdn.clone(),
                    collocated_stores: s.collocated_stores.clone(),
                    product: opts.product,
                    services,
                    components: components(s.role, opts.product, &opts.initial_build),
                    release_build: release_build(&opts.initial_build),
                    files: BTreeMap::new(),
                    free_bytes: default_free(),
                    sessions: Vec::new(),
                    install_generation: 0,
                    databases,
                    accounts,
                    account: opts.account.clone(),
                    pending_reboot: false,
                    boot_ms: 0,
                    unreachable_until: 0,
                    clock_ms: 0,
                    down_since: None,
                    down_intervals: Vec::new(),
                    oplog: Vec::new(),
                    rng: HostRng::new(opts.seed, s.fqdn.as_str()),
                    next_session: 1,
                }
            })
            .collect::<Vec<Host>>();
        let index = hosts.iter().enumerate().map(|(i, h)| (h.fqdn.to_string(), i)).collect();
        Estate {
            seed: opts.seed,
            hosts,
            faults: Vec::new(),
            fired: Vec::new(),
            package_build: None,
            local_reader: None,
            index,
        }
    }

    /// Rebuilds the host index (after deserializing).
    pub fn reindex(&mut self) {
        self.index = self.hosts.iter().enumerate().map(|(i, h)| (h.fqdn.to_string(), i)).collect();
    }

    /// The host with this FQDN.
    pub fn host(&self, fqdn: &str) -> Option<&Host> {
        let i = *self.index.get(&fqdn.to_ascii_lowercase())?;
        self.hosts.get(i)
    }

    /// The host with this FQDN, mutable.
    pub fn host_mut(&mut self, fqdn: &str) -> Option<&mut Host> {
        let i = *self.index.get(&fqdn.to_ascii_lowercase())?;
        self.hosts.get_mut(i)
    }

    /// The time at which every host is idle: the end of the simulation so far.
    pub fn now(&self) -> Ms {
        self.hosts.iter().map(|h| h.clock_ms.max(h.unreachable_until)).max().unwrap_or(0)
    }
}

impl Host {
    /// The lowest installed component build (the server's build).
    pub fn build(&self) -> Build {
        self.components.iter().map(|(_, b)| b.clone()).min().unwrap_or(Build([0; 4]))
    }

    /// Whether every Skype for Business service is running and the host is up.
    pub fn all_sfb_running(&self, at: Ms) -> bool {
        at >= self.unreachable_until && self.services.iter().filter(|s| s.kind == ServiceKind::Sfb).all(|s| s.running)
    }

    /// Whether any Skype for Business service or W3SVC runs.
    pub fn any_sfb_or_iis_running(&self) -> Option<&Service> {
        self.services.iter().find(|s| s.running && s.kind != ServiceKind::Sql)
    }

    /// Whether every Skype for Business service and W3SVC runs.
    pub fn services_running(&self) -> bool {
        self.services.iter().filter(|s| s.kind != ServiceKind::Sql).all(|s| s.running)
    }

    /// The stores that the server's own services depend on (rule 7 checks these).
    pub fn own_databases(&self) -> impl Iterator<Item = &Database> {
        self.databases.iter().filter(|d| BACK_END_OWN_STORES.contains(&d.store.as_str()))
    }

    /// An open session, by id.
    pub(crate) fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id && s.open)
    }

    /// Records a change of the down state at `at`.
    pub(crate) fn track(&mut self, at: Ms) {
        let up = self.all_sfb_running(at);
        match (self.down_since, up) {
            (None, false) => self.down_since = Some(at),
            (Some(since), true) => {
                self.down_intervals.push((since, at.max(since)));
                self.down_since = None;
            }
            _ => {}
        }
    }

    /// Every down interval, the open one ending at `end`.
    pub fn down_intervals_until(&self, end: Ms) -> Vec<(Ms, Ms)> {
        let mut v = self.down_intervals.clone();
        if let Some(s) = self.down_since {
            v.push((s, end.max(s)));
        }
        v
    }

    /// The Management Shell module of this host's product.
    pub fn module(&self) -> &'static str {
        self.product.shell_module()
    }

    /// The product's display name, as `Get-CsServerVersion` shows it.
    pub fn product_name(&self) -> &'static str {
        match self.product {
            Product::Lync2013 => "Lync Server 2013",
            Product::Sfb2015 => "Skype for Business Server 2015",
            Product::Sfb2019 => "Skype for Business Server 2019",
            Product::SfbSe => "Skype for Business Server Subscription Edition",
        }
    }
}

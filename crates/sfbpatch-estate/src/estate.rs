//! The simulated estate: one host per server of a topology.
//!
//! `host`: one server ([`Host`]) and what it holds; `intervals`: down intervals merged and
//! intersected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::Product;
use sfbpatch_core::topology::Topology;

use crate::Ms;
use crate::fault::Fault;
use crate::inventory;
use crate::pools::PoolState;
use crate::rng::HostRng;

mod host;
mod intervals;

pub use host::{
    Background, Database, Host, InstallEffects, OpRecord, Service, ServiceKind, Session, SessionProcess, SimFile,
};
use host::{default_free, default_groups};
pub use intervals::{intersect, merge};

/// Options for a new estate.
#[derive(Clone, Debug)]
pub struct EstateOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// The build every server of `product` starts at.
    pub initial_build: Build,
    /// The product of servers whose topology entry names none.
    pub product: Product,
    /// Every server's product, whatever the topology says (`--product`).
    pub force_product: Option<Product>,
    /// The build servers of each listed product start at (those not listed: `initial_build`).
    pub other_builds: Vec<(Product, Build)>,
    /// The account the operator uses (`DOMAIN\user`).
    pub account: String,
    /// Whether that account is a member of CsAdministrator (what
    /// `Get-CsAdminRoleAssignment` answers; the shell does not enforce it, rule 8).
    pub account_is_admin: bool,
    /// Sessions have network credentials (DOMAIN.md §5; `false`: public-key SSH logons).
    pub network_credentials: bool,
    /// The account is a SQL sysadmin on every SQL Server (rule 8).
    pub sql_sysadmin: bool,
}

impl Default for EstateOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            initial_build: Build([7, 0, 2046, 385]),
            product: Product::Sfb2019,
            force_product: None,
            other_builds: Vec::new(),
            account: "CONTOSO\\sfbadmin".to_owned(),
            account_is_admin: true,
            network_credentials: true,
            sql_sysadmin: true,
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
    /// The user pools (Front End pools' quorum, users' moves, signed-out time).
    #[serde(default)]
    pub pools: Vec<PoolState>,
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
    /// Lookups rebuilt with the index: hosts by SQL Server name (cluster or machine), pools
    /// by FQDN and by machine.
    #[serde(skip)]
    pub(crate) lookup: Lookup,
}

/// Lookups derived from the hosts and pools (not persisted).
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookup {
    /// Hosts holding databases, by SQL Server FQDN (their cluster's and their own).
    pub(crate) sql_nodes: std::collections::HashMap<String, Vec<usize>>,
    /// Pools by FQDN.
    pub(crate) pools: std::collections::HashMap<String, usize>,
    /// Windows Fabric pools by machine FQDN.
    pub(crate) fabric_pool: std::collections::HashMap<String, usize>,
    /// The machines of the pools whose back end is a SQL Server, by its FQDN.
    pub(crate) served_by: std::collections::HashMap<String, Vec<usize>>,
}

/// Reads a local file's bytes.
pub type LocalReader = fn(&str) -> Option<Vec<u8>>;

fn release_build(build: &Build) -> Build {
    let [a, b, c, _] = build.0;
    Build([a, b, c, 0])
}

impl EstateOptions {
    /// The product a server runs: the forced one, else its topology's, else the default.
    pub fn product_of(&self, s: &sfbpatch_core::topology::Server) -> Product {
        self.force_product.or(s.product).unwrap_or(self.product)
    }

    /// The build servers of `product` start at: `other_builds`' when listed, else `initial_build`.
    pub fn build_of(&self, product: Product) -> Build {
        let listed = self.other_builds.iter().find(|(p, _)| *p == product);
        listed.map_or_else(|| self.initial_build.clone(), |(_, b)| b.clone())
    }
}

impl Estate {
    /// A fresh estate for `topology`: every server at its product's initial build (each
    /// server's product from the topology: `EstateOptions::product_of`), every service running.
    /// Each machine has what the topology installs on it, nothing more ([`crate::inventory`]).
    pub fn new(topology: &Topology, opts: &EstateOptions) -> Self {
        let hosts = topology
            .servers
            .iter()
            .map(|s| {
                let mut accounts = BTreeMap::new();
                let roles = if opts.account_is_admin {
                    vec!["CsAdministrator".to_owned()]
                } else {
                    vec!["CsViewOnlyAdministrator".to_owned()]
                };
                accounts.insert(opts.account.to_ascii_lowercase(), roles);
                let product = opts.product_of(s);
                let build = opts.build_of(product);
                Host {
                    fqdn: s.fqdn.clone(),
                    role: s.role,
                    pools: s.pools.clone(),
                    sql_server_fqdn: s.sql_server_fqdn.clone(),
                    collocated_stores: s.collocated_stores.clone(),
                    product,
                    services: inventory::services(s),
                    components: inventory::components(s, product, &build),
                    release_build: release_build(&build),
                    files: BTreeMap::new(),
                    free_bytes: default_free(),
                    sessions: Vec::new(),
                    install_generation: 0,
                    databases: inventory::databases(s, &build),
                    accounts,
                    account: opts.account.clone(),
                    pending_reboot: false,
                    boot_ms: 0,
                    unreachable_until: 0,
                    clock_ms: 0,
                    down_since: None,
                    down_intervals: Vec::new(),
                    web_down_since: None,
                    web_down_intervals: Vec::new(),
                    oplog: Vec::new(),
                    sfb_installed: s.sfb_installed,
                    domain_joined: s.role != sfbpatch_core::topology::Role::Edge,
                    cluster: Some(s.cluster.clone()),
                    network_credentials: opts.network_credentials,
                    sql_sysadmin: opts.sql_sysadmin,
                    mirrored: false,
                    failed_over: false,
                    busy_intervals: Vec::new(),
                    ahead_of_databases_since: None,
                    background: None,
                    elevated: true,
                    local_admin: true,
                    account_groups: default_groups(),
                    rng: HostRng::new(opts.seed, s.fqdn.as_str()),
                    next_session: 1,
                }
            })
            .collect::<Vec<Host>>();
        let mut e = Estate {
            seed: opts.seed,
            hosts,
            pools: PoolState::from_topology(topology, opts.seed),
            faults: Vec::new(),
            fired: Vec::new(),
            package_build: None,
            local_reader: None,
            index: Default::default(),
            lookup: Lookup::default(),
        };
        e.reindex();
        e
    }

    /// Rebuilds the host index and lookups (after deserializing).
    pub fn reindex(&mut self) {
        self.index = self.hosts.iter().enumerate().map(|(i, h)| (h.fqdn.to_string(), i)).collect();
        let mut l = Lookup::default();
        for (i, h) in self.hosts.iter().enumerate().filter(|(_, h)| !h.databases.is_empty()) {
            l.sql_nodes.entry(h.fqdn.to_string()).or_default().push(i);
            if let Some(c) = h.cluster.as_ref().filter(|c| **c != h.fqdn) {
                l.sql_nodes.entry(c.to_string()).or_default().push(i);
            }
        }
        for (pi, p) in self.pools.iter().enumerate() {
            l.pools.insert(p.fqdn.to_string(), pi);
            let machines: Vec<usize> = p.machines.iter().filter_map(|m| self.index.get(m.as_str()).copied()).collect();
            if p.has_fabric() {
                for m in &p.machines {
                    l.fabric_pool.entry(m.to_string()).or_insert(pi);
                }
            }
            if let Some(b) = &p.backend {
                l.served_by.entry(b.to_string()).or_default().extend(machines);
            }
        }
        self.lookup = l;
    }

    /// The host with this FQDN.
    pub fn host(&self, fqdn: &str) -> Option<&Host> {
        let i = *self.index.get(&fqdn.to_ascii_lowercase())?;
        self.hosts.get(i)
    }

    /// The index of the host with this FQDN in [`Estate::hosts`].
    pub fn host_index(&self, fqdn: &str) -> Option<usize> {
        self.index.get(&fqdn.to_ascii_lowercase()).copied()
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

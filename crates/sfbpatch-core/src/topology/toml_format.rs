//! sfbpatch's hand-written TOML topology format, for operators without an export.
//! It is lowered into the same [`RawTopology`] as the XML export, so both formats go through
//! the same validation and role derivation. The README documents it with a full example.

use std::collections::HashMap;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ErrorKind, Pos, TopologyError, TopologyErrors};
use super::raw::{
    ClusterKey, DEFAULT_USAGE, Dependency, InstalledOn, RawCluster, RawMachine, RawService, RawSite, RawSqlInstance,
    RawTopology, ServiceKey, SqlKey,
};
use super::text::pos_at;
use crate::runbook::Product;

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Int(u32),
    Str(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Id::Int(i) => i.to_string(),
            Id::Str(s) => s.trim().to_owned(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    site: Vec<Spanned<SiteDef>>,
    #[serde(default)]
    pool: Vec<Spanned<PoolDef>>,
    #[serde(default)]
    sql_server: Vec<Spanned<HostDef>>,
    #[serde(default)]
    store: Vec<Spanned<StoreDef>>,
    #[serde(default)]
    server: Vec<Spanned<HostDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteDef {
    id: Id,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRef {
    sql_server: Spanned<String>,
    #[serde(default)]
    instance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolDef {
    fqdn: Spanned<String>,
    site: Id,
    #[serde(default)]
    machines: Vec<Spanned<String>>,
    user_store: Option<Spanned<SqlRef>>,
    #[serde(default)]
    director: bool,
    /// The product its machines run (`lync2013`, `sfb2015`, `sfb2019`, `sfbse`).
    product: Option<Spanned<String>>,
    /// The pool paired with this one as its backup (Topology Builder's "Associated Backup
    /// Pool"). Pairs are 1:1 and reciprocal from Lync Server 2013 on (docs/research/
    /// issue12-roles.md §3, DOC), so one side saying so is enough: both Registrars are made
    /// to depend on each other, the shape [`super::resolve`] reads as a pair.
    backup: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostDef {
    fqdn: Spanned<String>,
    site: Id,
    #[serde(default)]
    machines: Vec<Spanned<String>>,
    #[serde(default)]
    instances: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    /// The product its machines run, as for a pool.
    product: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreDef {
    role: Spanned<String>,
    sql_server: Spanned<String>,
    #[serde(default)]
    instance: String,
}

/// Store roles a `[[store]]` entry may name.
pub const STORE_ROLES: [&str; 7] = [
    "ArchivingStore",
    "MonitoringStore",
    "PersistentChatStore",
    "PersistentChatComplianceStore",
    "ApplicationStore",
    "CentralMgmtStore",
    "UserStore",
];

struct Lowering<'a> {
    file: &'a str,
    lines: super::text::LineIndex<'a>,
    raw: RawTopology,
    errors: Vec<TopologyError>,
    by_fqdn: HashMap<String, ClusterKey>,
    next_cluster: HashMap<String, u32>,
    next_service: HashMap<(String, String), u32>,
}

impl Lowering<'_> {
    fn pos<T>(&self, s: &Spanned<T>) -> Pos {
        self.lines.pos(s.span().start)
    }

    /// The `product` key's value, or an error pointing at it.
    fn product(&mut self, product: Option<&Spanned<String>>) -> Option<Product> {
        let p = product?;
        match p.get_ref().trim().parse::<Product>() {
            Ok(v) => Some(v),
            Err(_) => {
                let pos = self.pos(p);
                let allowed = Product::ALL.map(Product::as_str).join(", ");
                self.errors.push(TopologyError::new(
                    self.file,
                    pos,
                    ErrorKind::UnknownKind { value: p.get_ref().trim().to_owned(), allowed },
                ));
                None
            }
        }
    }

    fn cluster(
        &mut self,
        fqdn: &Spanned<String>,
        site: &Id,
        machines: &[Spanned<String>],
        product: Option<Product>,
        at: Pos,
    ) -> ClusterKey {
        // Names are checked here, before any reference is resolved: a host whose name is no
        // FQDN is reported as that, not as "referenced but defined by no [[pool]]" where it is
        // referenced (README, "Bad input", B10/B11).
        // As `resolve` does: the cluster at its table, each machine (the cluster itself when
        // none is listed) at its own value.
        self.check_fqdn(fqdn.get_ref(), at);
        for m in if machines.is_empty() { std::slice::from_ref(fqdn) } else { machines } {
            let pos = self.pos(m);
            self.check_fqdn(m.get_ref(), pos);
        }
        let site = site.text();
        let n = self.next_cluster.entry(site.clone()).or_insert(0);
        *n += 1;
        let key = ClusterKey { site, number: *n };
        let machines = if machines.is_empty() {
            vec![RawMachine { fqdn: fqdn.get_ref().trim().to_owned(), pos: self.pos(fqdn) }]
        } else {
            machines.iter().map(|m| RawMachine { fqdn: m.get_ref().trim().to_owned(), pos: self.pos(m) }).collect()
        };
        self.by_fqdn.entry(fqdn.get_ref().trim().to_ascii_lowercase()).or_insert_with(|| key.clone());
        self.raw.clusters.push(RawCluster {
            key: key.clone(),
            fqdn: fqdn.get_ref().trim().to_owned(),
            machines,
            requires_setup: None,
            product,
            pos: at,
        });
        key
    }

    /// Records [`ErrorKind::InvalidFqdn`] at `pos` when `text` is no FQDN (the same check
    /// and position as `resolve`'s, which never sees a name that fails here).
    fn check_fqdn(&mut self, text: &str, pos: Pos) {
        if let Err(problem) = crate::fqdn::Fqdn::parse(text.trim()) {
            let kind = ErrorKind::InvalidFqdn { value: text.trim().to_owned(), problem };
            self.errors.push(TopologyError::new(self.file, pos, kind));
        }
    }

    fn service_key(&mut self, site: &str, role: &str) -> ServiceKey {
        let n = self.next_service.entry((site.to_owned(), role.to_owned())).or_insert(0);
        *n += 1;
        ServiceKey { site: site.to_owned(), role: role.to_owned(), instance: *n }
    }

    /// The SQL instance `instance` on the server named `server`, declared on first use.
    fn sql(&mut self, server: &Spanned<String>, instance: &str, at: Pos) -> Option<SqlKey> {
        let name = server.get_ref().trim().to_ascii_lowercase();
        let Some(cluster) = self.by_fqdn.get(&name).cloned() else {
            let pos = self.pos(server);
            self.errors.push(TopologyError::new(self.file, pos, ErrorKind::UnknownServer { fqdn: name }));
            return None;
        };
        let key = SqlKey { name: instance.trim().to_ascii_lowercase(), cluster };
        if !self.raw.sql_instances.iter().any(|s| s.key == key) {
            self.raw.sql_instances.push(RawSqlInstance { key: key.clone(), pos: at });
        }
        Some(key)
    }

    fn store_service(&mut self, role: &str, at_sql: SqlKey, at: Pos) -> ServiceKey {
        if role == "UserStore" {
            let existing =
                self.raw.services.iter().find(|s| {
                    s.key.role == "UserStore" && matches!(&s.installed_on, InstalledOn::Sql(k) if *k == at_sql)
                });
            if let Some(s) = existing {
                return s.key.clone();
            }
        }
        let key = self.service_key(&at_sql.cluster.site.clone(), role);
        self.raw.services.push(RawService {
            key: key.clone(),
            installed_on: InstalledOn::Sql(at_sql),
            installed_on_pos: at,
            depends_on: Vec::new(),
            is_director: false,
            service_version: None,
            pos: at,
        });
        key
    }
}

/// Reads the TOML topology format from `text`.
pub fn read(file: &str, text: &str) -> Result<RawTopology, TopologyErrors> {
    let doc: Doc = toml::from_str(text).map_err(|e| {
        let pos = e.span().map_or_else(Pos::default, |s| pos_at(text, s.start));
        let detail = e.message().trim().to_owned();
        TopologyErrors::one(TopologyError::new(file, pos, ErrorKind::Toml { detail }))
    })?;
    let mut lw = Lowering {
        file,
        lines: super::text::LineIndex::new(text),
        raw: RawTopology::default(),
        errors: Vec::new(),
        by_fqdn: HashMap::new(),
        next_cluster: HashMap::new(),
        next_service: HashMap::new(),
    };
    for s in &doc.site {
        let pos = lw.pos(s);
        lw.raw.sites.push(RawSite { id: s.get_ref().id.text(), name: s.get_ref().name.trim().to_owned(), pos });
    }
    // Every host first, so that references may point forwards.
    let mut pool_keys = Vec::new();
    for p in &doc.pool {
        let at = lw.pos(p);
        let d = p.get_ref();
        let product = lw.product(d.product.as_ref());
        pool_keys.push(lw.cluster(&d.fqdn, &d.site, &d.machines, product, at));
    }
    for h in doc.sql_server.iter().chain(&doc.server) {
        let at = lw.pos(h);
        let d = h.get_ref();
        let product = lw.product(d.product.as_ref());
        let key = lw.cluster(&d.fqdn, &d.site, &d.machines, product, at);
        for inst in &d.instances {
            let k = SqlKey { name: inst.trim().to_ascii_lowercase(), cluster: key.clone() };
            lw.raw.sql_instances.push(RawSqlInstance { key: k, pos: at });
        }
        for role in &d.roles {
            let sk = lw.service_key(&key.site, role.trim());
            lw.raw.services.push(RawService {
                key: sk,
                installed_on: InstalledOn::Cluster(key.clone()),
                installed_on_pos: at,
                depends_on: Vec::new(),
                is_director: false,
                service_version: None,
                pos: at,
            });
        }
    }
    for s in &doc.store {
        let at = lw.pos(s);
        let d = s.get_ref();
        let role = d.role.get_ref().trim();
        if !STORE_ROLES.contains(&role) {
            let pos = lw.pos(&d.role);
            lw.errors.push(TopologyError::new(
                file,
                pos,
                ErrorKind::UnknownKind { value: role.to_owned(), allowed: STORE_ROLES.join(", ") },
            ));
            continue;
        }
        if let Some(k) = lw.sql(&d.sql_server, &d.instance, at) {
            lw.store_service(role, k, at);
        }
    }
    let mut registrars: Vec<(String, ServiceKey, usize)> = Vec::new();
    for (p, key) in doc.pool.iter().zip(pool_keys) {
        let at = lw.pos(p);
        let d = p.get_ref();
        let registrar = lw.service_key(&key.site, "Registrar");
        let name = d.fqdn.get_ref().trim().to_ascii_lowercase();
        if d.director {
            registrars.push((name, registrar.clone(), lw.raw.services.len()));
            lw.raw.services.push(RawService {
                key: registrar,
                installed_on: InstalledOn::Cluster(key.clone()),
                installed_on_pos: at,
                depends_on: Vec::new(),
                is_director: true,
                service_version: None,
                pos: at,
            });
            continue;
        }
        let mut depends_on = Vec::new();
        if let Some(us) = &d.user_store {
            let us_at = lw.pos(us);
            if let Some(k) = lw.sql(&us.get_ref().sql_server, &us.get_ref().instance, us_at) {
                let key = lw.store_service("UserStore", k, us_at);
                depends_on.push(Dependency { key, usage: DEFAULT_USAGE.to_owned(), pos: us_at });
            } else {
                continue;
            }
        }
        let user_services = lw.service_key(&key.site, "UserServices");
        lw.raw.services.push(RawService {
            key: user_services.clone(),
            installed_on: InstalledOn::Cluster(key.clone()),
            installed_on_pos: at,
            depends_on,
            is_director: false,
            service_version: None,
            pos: at,
        });
        registrars.push((name, registrar.clone(), lw.raw.services.len()));
        lw.raw.services.push(RawService {
            key: registrar,
            installed_on: InstalledOn::Cluster(key),
            installed_on_pos: at,
            depends_on: vec![Dependency { key: user_services, usage: DEFAULT_USAGE.to_owned(), pos: at }],
            is_director: false,
            service_version: None,
            pos: at,
        });
    }
    // Backup pools: each Registrar depends on the other's (both directions).
    for p in &doc.pool {
        let Some(b) = &p.get_ref().backup else { continue };
        let at = lw.pos(b);
        let me = p.get_ref().fqdn.get_ref().trim().to_ascii_lowercase();
        let other = b.get_ref().trim().to_ascii_lowercase();
        let find = |f: &str| registrars.iter().find(|(n, _, _)| n == f).map(|(_, k, i)| (k.clone(), *i));
        let (Some((mine, i)), Some((theirs, j))) = (find(&me), find(&other)) else {
            lw.errors.push(TopologyError::new(file, at, ErrorKind::UnknownServer { fqdn: other }));
            continue;
        };
        for (idx, dep) in [(i, theirs), (j, mine)] {
            if let Some(s) = lw.raw.services.get_mut(idx)
                && !s.depends_on.iter().any(|d| d.key == dep)
            {
                s.depends_on.push(Dependency { key: dep, usage: DEFAULT_USAGE.to_owned(), pos: at });
            }
        }
    }
    if lw.errors.is_empty() { Ok(lw.raw) } else { Err(TopologyErrors(lw.errors)) }
}

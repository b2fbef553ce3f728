//! Reading `Get-CsTopology -AsXml` documents (and `DocItemSet.xml` from
//! `Export-CsConfiguration`) into a [`RawTopology`].
//!
//! Namespace-aware: elements are matched by namespace URI and local name, never by prefix.
//! Elements and attributes this tool does not use are ignored. DTDs are refused (no entity
//! expansion at all), and the node count is capped.

use roxmltree::{Document, Node, ParsingOptions};

use super::error::{ErrorKind, Pos, TopologyError, TopologyErrors};
use super::raw::{
    ClusterKey, Dependency, InstalledOn, RawCluster, RawMachine, RawService, RawSite, RawSqlInstance, RawTopology,
    ServiceKey, SqlKey,
};

/// The topology document's namespace.
pub const NS: &str = "urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008";

/// The most XML nodes a topology may have (a 1,000-server estate has well under 100,000).
pub const MAX_NODES: u32 = 2_000_000;

/// The deepest element nesting accepted (real topologies nest fewer than 12 levels).
pub const MAX_DEPTH: u32 = 256;

struct Reader<'a, 'input> {
    file: &'a str,
    lines: super::text::LineIndex<'a>,
    errors: Vec<TopologyError>,
    _doc: std::marker::PhantomData<&'a Document<'input>>,
}

impl<'a, 'input> Reader<'a, 'input> {
    fn pos(&self, n: Node) -> Pos {
        self.lines.pos(n.range().start)
    }

    fn err(&mut self, n: Node, kind: ErrorKind) {
        let pos = self.pos(n);
        self.errors.push(TopologyError::new(self.file, pos, kind));
    }

    fn child(&mut self, n: Node<'a, 'input>, local: &str) -> Option<Node<'a, 'input>> {
        let found = n.children().find(|c| c.has_tag_name((NS, local)));
        if found.is_none() {
            let within = describe(n);
            self.err(n, ErrorKind::Missing { what: format!("<{local}>"), within });
        }
        found
    }

    fn attr(&mut self, n: Node<'a, 'input>, name: &str) -> Option<&'a str> {
        let v = n.attribute(name);
        if v.is_none() {
            let within = describe(n);
            self.err(n, ErrorKind::Missing { what: format!("{name}=\"…\""), within });
        }
        v
    }

    fn number(&mut self, n: Node<'a, 'input>, name: &str) -> Option<u32> {
        let v = self.attr(n, name)?;
        match v.trim().parse::<u32>() {
            Ok(x) => Some(x),
            Err(_) => {
                self.err(n, ErrorKind::BadNumber { attribute: name.to_owned(), value: v.to_owned() });
                None
            }
        }
    }

    fn cluster_key(&mut self, n: Node<'a, 'input>) -> Option<ClusterKey> {
        let site = self.attr(n, "SiteId");
        let number = self.number(n, "Number");
        Some(ClusterKey { site: site?.trim().to_owned(), number: number? })
    }

    fn sql_key(&mut self, n: Node<'a, 'input>) -> Option<SqlKey> {
        let name = self.attr(n, "Name");
        let cluster = self.child(n, "ClusterId").and_then(|c| self.cluster_key(c));
        Some(SqlKey { name: name?.trim().to_ascii_lowercase(), cluster: cluster? })
    }

    fn service_key(&mut self, n: Node<'a, 'input>) -> Option<ServiceKey> {
        let site = self.attr(n, "SiteId");
        let role = self.attr(n, "RoleName");
        let instance = self.number(n, "Instance");
        Some(ServiceKey { site: site?.trim().to_owned(), role: role?.trim().to_owned(), instance: instance? })
    }
}

fn describe(n: Node) -> String {
    let name = n.tag_name().name();
    match n.attribute("Fqdn").or_else(|| n.attribute("Name")) {
        Some(id) => format!("<{name}> {id}"),
        None => format!("<{name}>"),
    }
}

fn elements<'a, 'input>(n: Node<'a, 'input>, local: &'a str) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    n.children().filter(move |c| c.has_tag_name((NS, local)))
}

/// Reads a topology document from `text` (already decoded, see [`super::text::decode`]).
pub fn read(file: &str, text: &str) -> Result<RawTopology, TopologyErrors> {
    let one = |pos: Pos, kind| TopologyErrors::one(TopologyError::new(file, pos, kind));
    if let Some(pos) = too_deep(text) {
        return Err(one(pos, ErrorKind::TooDeep { limit: MAX_DEPTH }));
    }
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(text, opts).map_err(|e| {
        let p = e.pos();
        let pos = Pos::new(p.row, p.col);
        match e {
            roxmltree::Error::DtdDetected => one(pos, ErrorKind::DtdRefused),
            roxmltree::Error::NodesLimitReached => one(Pos::default(), ErrorKind::TooManyNodes { limit: MAX_NODES }),
            other => one(pos, ErrorKind::Xml { detail: other.to_string() }),
        }
    })?;
    let root = doc.root_element();
    let mut r =
        Reader { file, lines: super::text::LineIndex::new(text), errors: Vec::new(), _doc: std::marker::PhantomData };
    if !root.has_tag_name((NS, "Topology")) {
        let found = match root.tag_name().namespace() {
            Some(ns) => format!("<{}> ({ns})", root.tag_name().name()),
            None => format!("<{}>", root.tag_name().name()),
        };
        r.err(root, ErrorKind::NotATopology { found });
        return Err(TopologyErrors(r.errors));
    }
    let mut raw = RawTopology::default();

    if let Some(sites) = r.child(root, "Sites") {
        for s in sites.children().filter(|c| c.is_element() && c.tag_name().namespace() == Some(NS)) {
            let Some(id) = r.attr(s, "SiteId") else {
                continue;
            };
            let name = elements(s, "Name").next().and_then(|n| n.text()).unwrap_or("").trim().to_owned();
            let pos = r.pos(s);
            raw.sites.push(RawSite { id: id.trim().to_owned(), name, pos });
        }
    }

    if let Some(clusters) = r.child(root, "Clusters") {
        for c in elements(clusters, "Cluster") {
            let fqdn = r.attr(c, "Fqdn");
            let key = r.child(c, "ClusterId").and_then(|k| r.cluster_key(k));
            let mut machines = Vec::new();
            for m in elements(c, "Machine") {
                if let Some(f) = r.attr(m, "Fqdn") {
                    let pos = r.pos(m);
                    machines.push(RawMachine { fqdn: f.trim().to_owned(), pos });
                }
            }
            let requires_setup =
                r.attr(c, "RequiresSetup").and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                });
            if let (Some(fqdn), Some(key)) = (fqdn, key) {
                let pos = r.pos(c);
                let fqdn = fqdn.trim().to_owned();
                raw.clusters.push(RawCluster { key, fqdn, machines, requires_setup, product: None, pos });
            }
        }
    }

    // A topology without SQL instances (an Edge-only export, say) has no <SqlInstances>.
    if let Some(instances) = elements(root, "SqlInstances").next() {
        for s in elements(instances, "SqlInstance") {
            let key = r.child(s, "SqlInstanceId").and_then(|k| r.sql_key(k));
            if let Some(key) = key {
                let pos = r.pos(s);
                raw.sql_instances.push(RawSqlInstance { key, pos });
            }
        }
    }

    if let Some(services) = r.child(root, "Services") {
        for s in elements(services, "Service") {
            let key = r.child(s, "ServiceId").and_then(|k| r.service_key(k));
            let installed = r.child(s, "InstalledOn");
            let installed_on = installed.and_then(|on| {
                if let Some(c) = elements(on, "ClusterId").next() {
                    r.cluster_key(c).map(InstalledOn::Cluster)
                } else if let Some(q) = elements(on, "SqlInstanceId").next() {
                    r.sql_key(q).map(InstalledOn::Sql)
                } else {
                    r.err(
                        on,
                        ErrorKind::Missing {
                            what: "<ClusterId> / <SqlInstanceId>".into(),
                            within: "<InstalledOn>".into(),
                        },
                    );
                    None
                }
            });
            let mut depends_on = Vec::new();
            for dep_on in elements(s, "DependsOn") {
                for d in elements(dep_on, "Dependency") {
                    if let Some(key) = r.child(d, "ServiceId").and_then(|k| r.service_key(k)) {
                        // Kept as written: a non-Default Usage is reported by the plan
                        // (docs/research/issue12-roles.md §3, item 3).
                        let usage = d.attribute("Usage").unwrap_or("").trim().to_owned();
                        depends_on.push(Dependency { key, usage, pos: r.pos(d) });
                    }
                }
            }
            let is_director = s.children().any(|c| {
                c.tag_name().name() == "RegistrarService"
                    && c.attribute("IsDirector").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            });
            // The product generation (docs/research/issue11-products.md §1); a value that is
            // not a number is ignored like any attribute this tool does not use.
            let service_version = s.attribute("ServiceVersion").and_then(|v| v.trim().parse::<u32>().ok());
            if let (Some(key), Some(installed_on), Some(on)) = (key, installed_on, installed) {
                let installed_on_pos = r.pos(on);
                let pos = r.pos(s);
                raw.services.push(RawService {
                    key,
                    installed_on,
                    installed_on_pos,
                    depends_on,
                    is_director,
                    service_version,
                    pos,
                });
            }
        }
    }

    if r.errors.is_empty() { Ok(raw) } else { Err(TopologyErrors(r.errors)) }
}

/// A cheap scan for element nesting deeper than [`MAX_DEPTH`], before any tree is built.
/// Skips comments, CDATA, processing instructions and declarations; returns where the limit
/// was passed.
fn too_deep(text: &str) -> Option<Pos> {
    let b = text.as_bytes();
    let mut depth: u32 = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        let skip_to = |end: &[u8]| rest.windows(end.len()).position(|w| w == end).map(|p| p + end.len());
        if rest.starts_with(b"<!--") {
            i += skip_to(b"-->").unwrap_or(rest.len());
        } else if rest.starts_with(b"<![CDATA[") {
            i += skip_to(b"]]>").unwrap_or(rest.len());
        } else if rest.starts_with(b"<?") {
            i += skip_to(b"?>").unwrap_or(rest.len());
        } else if rest.starts_with(b"<!") {
            i += skip_to(b">").unwrap_or(rest.len());
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i += 2;
        } else {
            // An opening tag: find its end, honouring quoted attribute values.
            let mut j = 1;
            let mut quote: Option<u8> = None;
            while j < rest.len() {
                match (quote, rest[j]) {
                    (Some(q), c) if c == q => quote = None,
                    (None, b'"' | b'\'') => quote = Some(rest[j]),
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            let self_closing = j > 1 && rest.get(j - 1) == Some(&b'/');
            if !self_closing {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(super::text::pos_at(text, i));
                }
            }
            i += j + 1;
        }
    }
    None
}

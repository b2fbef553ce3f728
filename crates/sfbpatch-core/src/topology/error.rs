//! Errors found while reading a topology: each names the file, the line and column where the
//! reader knows them, what is wrong, and what to do about it, in the operator's language.

use std::fmt;

use sfbpatch_i18n::{Args, Lang, fmt as tr};

use crate::fqdn::FqdnProblem;

/// A position in an input file (1-based; `line == 0` means unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl Pos {
    /// A known position.
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

/// What went wrong, with the data the message needs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file is larger than sfbpatch reads.
    TooLarge {
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// Not text: invalid UTF-8/UTF-16, or control characters.
    NotText,
    /// UTF-16 without its byte-order mark (a NUL every other byte).
    Utf16WithoutBom,
    /// Not well-formed XML.
    Xml {
        /// The XML parser's description.
        detail: String,
    },
    /// The document carries a DTD (entity declarations are refused: entity bombs).
    DtdRefused,
    /// Too many XML nodes.
    TooManyNodes {
        /// The limit.
        limit: u32,
    },
    /// Nesting deeper than any topology has.
    TooDeep {
        /// The limit.
        limit: u32,
    },
    /// The root element is not a topology.
    NotATopology {
        /// The root element's name and namespace as found.
        found: String,
    },
    /// A required element or attribute is missing.
    Missing {
        /// What is missing (`Fqdn attribute`, `ClusterId element`).
        what: String,
        /// The element it belongs in.
        within: String,
    },
    /// An attribute that must be a number is not.
    BadNumber {
        /// Attribute name.
        attribute: String,
        /// Value found.
        value: String,
    },
    /// A server or pool name is not a valid FQDN.
    InvalidFqdn {
        /// The text found.
        value: String,
        /// Why it is invalid.
        problem: FqdnProblem,
    },
    /// The same machine appears twice.
    DuplicateMachine {
        /// The machine.
        fqdn: String,
        /// Line of its first appearance.
        first_line: u32,
    },
    /// Two clusters (pools) share an identity or FQDN.
    DuplicateCluster {
        /// `site:number` or the FQDN.
        id: String,
        /// Line of the first one.
        first_line: u32,
    },
    /// Two SQL instances with the same name on the same cluster.
    DuplicateSqlInstance {
        /// `name` on `site:number`.
        id: String,
        /// Line of the first one.
        first_line: u32,
    },
    /// Two services with the same identity.
    DuplicateService {
        /// `site:role:instance`.
        id: String,
        /// Line of the first one.
        first_line: u32,
    },
    /// A reference to a site that is not defined.
    UnknownSite {
        /// The site id.
        site: String,
    },
    /// A `ClusterId` that names no cluster.
    UnknownCluster {
        /// `site:number`.
        id: String,
    },
    /// A `SqlInstanceId` that names no SQL instance.
    UnknownSqlInstance {
        /// `name` on `site:number`.
        id: String,
    },
    /// A `Dependency` on a service that does not exist.
    UnknownService {
        /// `site:role:instance`.
        id: String,
    },
    /// A user pool whose `UserServices` depends on no `UserStore`.
    PoolWithoutUserStore {
        /// The pool.
        pool: String,
    },
    /// A `UserStore` installed on a cluster instead of a SQL instance.
    StoreNotOnSql {
        /// `site:role:instance`.
        id: String,
    },
    /// The topology defines no servers at all.
    NoServers,
    /// Not valid TOML, or a TOML value of the wrong shape.
    Toml {
        /// The TOML parser's description.
        detail: String,
    },
    /// A TOML reference to a server that is not defined in the file.
    UnknownServer {
        /// The name referenced.
        fqdn: String,
    },
    /// A TOML `kind` or `role` value that is not one of the allowed ones.
    UnknownKind {
        /// The value found.
        value: String,
        /// The allowed values.
        allowed: String,
    },
}

impl ErrorKind {
    /// The catalogue key for this kind (`topology.error.<key>` is the message,
    /// `topology.fix.<key>` the advice).
    pub fn key(&self) -> &'static str {
        match self {
            ErrorKind::TooLarge { .. } => "too-large",
            ErrorKind::NotText => "not-text",
            ErrorKind::Utf16WithoutBom => "utf16-no-bom",
            ErrorKind::Xml { .. } => "xml",
            ErrorKind::DtdRefused => "dtd",
            ErrorKind::TooManyNodes { .. } => "too-many-nodes",
            ErrorKind::TooDeep { .. } => "too-deep",
            ErrorKind::NotATopology { .. } => "not-a-topology",
            ErrorKind::Missing { .. } => "missing",
            ErrorKind::BadNumber { .. } => "bad-number",
            ErrorKind::InvalidFqdn { .. } => "invalid-fqdn",
            ErrorKind::DuplicateMachine { .. } => "duplicate-machine",
            ErrorKind::DuplicateCluster { .. } => "duplicate-cluster",
            ErrorKind::DuplicateSqlInstance { .. } => "duplicate-sql-instance",
            ErrorKind::DuplicateService { .. } => "duplicate-service",
            ErrorKind::UnknownSite { .. } => "unknown-site",
            ErrorKind::UnknownCluster { .. } => "unknown-cluster",
            ErrorKind::UnknownSqlInstance { .. } => "unknown-sql-instance",
            ErrorKind::UnknownService { .. } => "unknown-service",
            ErrorKind::PoolWithoutUserStore { .. } => "pool-without-user-store",
            ErrorKind::StoreNotOnSql { .. } => "store-not-on-sql",
            ErrorKind::NoServers => "no-servers",
            ErrorKind::Toml { .. } => "toml",
            ErrorKind::UnknownServer { .. } => "unknown-server",
            ErrorKind::UnknownKind { .. } => "unknown-kind",
        }
    }

    fn args(&self, lang: Lang) -> Args<'static> {
        let a = Args::new();
        match self {
            ErrorKind::TooLarge { limit_mib } => a.with("limit", limit_mib),
            ErrorKind::NotText | ErrorKind::Utf16WithoutBom | ErrorKind::DtdRefused | ErrorKind::NoServers => a,
            ErrorKind::Xml { detail } | ErrorKind::Toml { detail } => a.with("detail", detail),
            ErrorKind::TooManyNodes { limit } | ErrorKind::TooDeep { limit } => a.with("limit", limit),
            ErrorKind::NotATopology { found } => a.with("found", found),
            ErrorKind::Missing { what, within } => a.with("what", what).with("within", within),
            ErrorKind::BadNumber { attribute, value } => a.with("attribute", attribute).with("value", value),
            ErrorKind::InvalidFqdn { value, problem } => {
                let bad = match problem {
                    FqdnProblem::BadCharacter(c) => format!("{c:?}"),
                    _ => String::new(),
                };
                let why = sfbpatch_i18n::fmt(lang, problem.key(), &Args::new().with("char", bad));
                a.with("value", format!("{value:?}")).with("why", why)
            }
            ErrorKind::DuplicateMachine { fqdn, first_line } => a.with("fqdn", fqdn).with("first_line", first_line),
            ErrorKind::DuplicateCluster { id, first_line }
            | ErrorKind::DuplicateSqlInstance { id, first_line }
            | ErrorKind::DuplicateService { id, first_line } => a.with("id", id).with("first_line", first_line),
            ErrorKind::UnknownSite { site } => a.with("site", site),
            ErrorKind::UnknownCluster { id }
            | ErrorKind::UnknownSqlInstance { id }
            | ErrorKind::UnknownService { id }
            | ErrorKind::StoreNotOnSql { id } => a.with("id", id),
            ErrorKind::PoolWithoutUserStore { pool } => a.with("pool", pool),
            ErrorKind::UnknownServer { fqdn } => a.with("fqdn", fqdn),
            ErrorKind::UnknownKind { value, allowed } => a.with("value", value).with("allowed", allowed),
        }
    }
}

/// One problem in a topology file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyError {
    /// The file, as the operator named it.
    pub file: String,
    /// Where in it (line 0: unknown, or the whole file).
    pub pos: Pos,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl TopologyError {
    /// A new error.
    pub fn new(file: &str, pos: Pos, kind: ErrorKind) -> Self {
        Self { file: file.to_owned(), pos, kind }
    }

    /// `file:line:column: message. fix` in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let key = self.kind.key();
        let args = self.kind.args(lang);
        let msg = tr(lang, &format!("topology.error.{key}"), &args);
        let fix = tr(lang, &format!("topology.fix.{key}"), &args);
        let place = if self.pos.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.pos.line, self.pos.column)
        };
        format!("{place}: {msg} {fix}")
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for TopologyError {}

/// Every problem found in a topology (never empty), in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyErrors(pub Vec<TopologyError>);

/// How many problems a report lists before it says how many more there are: a topology
/// with thousands of broken references reads as its first problems and a count, not as
/// thousands of lines (issue 12, item 5).
pub const LISTED: usize = 20;

impl TopologyErrors {
    /// One error.
    pub fn one(e: TopologyError) -> Self {
        Self(vec![e])
    }

    /// The report's lines in `lang`: the first [`LISTED`] problems, each rendered, then —
    /// when there are more — one sentence saying how many are not listed.
    pub fn report_lines(&self, lang: Lang) -> Vec<String> {
        let mut lines: Vec<String> = self.0.iter().take(LISTED).map(|e| e.render(lang)).collect();
        let more = self.0.len().saturating_sub(LISTED);
        if more > 0 {
            lines.push(tr(lang, "topology.report.more", &Args::new().with("count", more)));
        }
        lines
    }
}

impl fmt::Display for TopologyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report_lines(Lang::En).join("\n"))
    }
}

impl std::error::Error for TopologyErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(n: usize) -> TopologyErrors {
        TopologyErrors(
            (0..n)
                .map(|i| {
                    let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    TopologyError::new("t.xml", Pos::new(line, 3), ErrorKind::UnknownSite { site: i.to_string() })
                })
                .collect(),
        )
    }

    #[test]
    fn a_report_lists_every_problem_up_to_twenty() {
        for n in [1, 19, 20] {
            let lines = errors(n).report_lines(Lang::En);
            assert_eq!(lines.len(), n);
            assert!(lines.iter().all(|l| l.starts_with("t.xml:")), "{lines:?}");
        }
    }

    #[test]
    fn past_twenty_it_lists_twenty_and_counts_the_rest() {
        let lines = errors(500).report_lines(Lang::En);
        assert_eq!(lines.len(), LISTED + 1);
        assert!(lines[19].starts_with("t.xml:20:3: "), "{}", lines[19]);
        assert!(lines[20].starts_with("… and 480 more problem(s), not listed"), "{}", lines[20]);
        let es = errors(21).report_lines(Lang::Es);
        assert!(es[20].starts_with("… y 1 problema(s) más"), "{}", es[20]);
        assert_eq!(errors(500).to_string().lines().count(), LISTED + 1);
    }
}

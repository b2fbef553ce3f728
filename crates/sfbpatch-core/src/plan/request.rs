//! What a plan is asked for (`PlanRequest`) and why one cannot be made (`PlanError`).

use serde::{Deserialize, Serialize};
use sfbpatch_i18n::{Args, Lang, fmt as tr};

use super::{DEFAULT_STAGE_DIR, RESILIENCY_MINUTES};
use crate::runbook::{Product, StepId};
use crate::scope::Scope;
use crate::topology::Role;

/// What to plan. Stored with a run's parameters (the journal's `inputs`, beside the topology
/// read), so that `resume` makes the plan again from it: its JSON field names are a stored
/// contract, those of the journals earlier releases wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// The package as the operator named it (a local path).
    pub package: String,
    /// `--product`: every server's product, overriding what the topology says (each server's
    /// own product otherwise: `servers[].product`).
    pub product: Option<Product>,
    /// Installer switches overriding the product's defaults.
    pub installer_switches: Option<Vec<String>>,
    /// Servers to plan (FQDNs); empty: every back end and Standard Edition server.
    pub servers: Vec<String>,
    /// Steps to leave out (what-if rehearsals).
    pub skip: Vec<StepId>,
    /// The folder on each server where the package is staged.
    pub stage_dir: String,
    /// The outage budget in minutes (default [`RESILIENCY_MINUTES`]).
    pub outage_budget_minutes: f64,
    /// The language of titles and warnings (stored as its code: `en`, `es`).
    #[serde(with = "lang_code")]
    pub lang: Lang,
    /// `Invoke-CsComputerFailOver -WaitTime` in minutes (the cmdlet's default: 60).
    pub failover_wait_minutes: Option<u32>,
    /// `Invoke-CsComputerFailOver -DrainingTimeout` in minutes (none: the cmdlet's default).
    pub draining_timeout_minutes: Option<u32>,
    /// `--max-parallel`: the waves depend on it (none: unlimited).
    pub max_parallel: Option<usize>,
    /// `--scope`: which roles get a runbook.
    pub scope: Scope,
    /// `--pool` (repeatable): only the entries of these pools (a Front End's pool, a SQL
    /// Server's pools, a Director/Edge/Mediation/Persistent Chat pool's cluster).
    pub pools: Vec<String>,
    /// `--site` (repeatable): only the entries of these sites (by name or `SiteId`).
    pub sites: Vec<String>,
}

/// A [`Lang`] as its code (`en`, `es`); a code this build does not know reads as the default
/// language, as it always has.
mod lang_code {
    use serde::{Deserialize, Deserializer, Serializer};
    use sfbpatch_i18n::Lang;

    pub fn serialize<S: Serializer>(lang: &Lang, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(lang.code())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Lang, D::Error> {
        Ok(Lang::from_locale(&String::deserialize(d)?).unwrap_or_default())
    }
}

impl PlanRequest {
    /// A request with every default: all servers in scope, each server's product from the
    /// topology (Skype for Business Server 2019 where it says nothing).
    pub fn new(package: impl Into<String>) -> Self {
        Self {
            package: package.into(),
            product: None,
            installer_switches: None,
            servers: Vec::new(),
            skip: Vec::new(),
            stage_dir: DEFAULT_STAGE_DIR.to_owned(),
            outage_budget_minutes: RESILIENCY_MINUTES,
            lang: Lang::En,
            failover_wait_minutes: None,
            draining_timeout_minutes: None,
            max_parallel: None,
            scope: Scope::Backends,
            pools: Vec::new(),
            sites: Vec::new(),
        }
    }
}

/// Why a plan could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// `--server` names a server the topology does not have.
    UnknownServer {
        /// The name given.
        fqdn: String,
        /// Servers in scope, for the message.
        known: Vec<String>,
    },
    /// `--server` names a server this procedure does not apply to.
    NotInScope {
        /// The server.
        fqdn: String,
        /// Its role.
        role: Role,
    },
    /// The topology has no back-end or Standard Edition server.
    NothingToPlan,
    /// `--pool` names no pool of the topology.
    UnknownPool {
        /// The name given.
        fqdn: String,
    },
    /// `--site` names no site of the topology.
    UnknownSite {
        /// The name given.
        name: String,
        /// The topology's sites.
        known: Vec<String>,
    },
    /// The package path has no usable file name.
    BadPackage {
        /// The path given.
        path: String,
    },
    /// The staging folder is not an absolute Windows path.
    BadStageDir {
        /// The path given.
        path: String,
    },
    /// An installer switch is not a plain word.
    BadSwitch {
        /// The switch given.
        switch: String,
    },
    /// The outage budget is not a positive number of minutes.
    BadBudget,
}

impl PlanError {
    /// The message in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            PlanError::UnknownServer { fqdn, known } => {
                tr(lang, "plan.error.unknown-server", &Args::new().with("fqdn", fqdn).with("known", known.join(", ")))
            }
            PlanError::NotInScope { fqdn, role } => {
                let role = sfbpatch_i18n::text(lang, &format!("role.{}", role.as_str()));
                tr(lang, "plan.error.not-in-scope", &Args::new().with("fqdn", fqdn).with("role", role))
            }
            PlanError::NothingToPlan => tr(lang, "plan.error.nothing-to-plan", &Args::new()),
            PlanError::UnknownPool { fqdn } => tr(lang, "plan.error.unknown-pool", &Args::new().with("fqdn", fqdn)),
            PlanError::UnknownSite { name, known } => {
                tr(lang, "plan.error.unknown-site", &Args::new().with("name", name).with("known", known.join(", ")))
            }
            PlanError::BadPackage { path } => {
                tr(lang, "plan.error.bad-package", &Args::new().with("path", format!("{path:?}")))
            }
            PlanError::BadStageDir { path } => {
                tr(lang, "plan.error.bad-stage-dir", &Args::new().with("path", format!("{path:?}")))
            }
            PlanError::BadSwitch { switch } => {
                tr(lang, "plan.error.bad-switch", &Args::new().with("switch", format!("{switch:?}")))
            }
            PlanError::BadBudget => tr(lang, "plan.error.bad-budget", &Args::new()),
        }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for PlanError {}

//! The planner: topology + package + selection → the ordered procedure for every server in
//! scope. Pure: no I/O.

use serde::{Deserialize, Serialize};
use sfbpatch_i18n::{Args, Lang, fmt as tr};
use sfbpatch_pwsh::Word;

use crate::fqdn::Fqdn;
use crate::runbook::{self, CommandContext, DatabaseUpdate, Product, StepId};
use crate::scope::{self, OutOfScopeReason, Runbook, Scope};
use crate::topology::{Role, Server, Topology};

/// The resiliency threshold: a back end down this long puts its pool's users into
/// resiliency mode (DOMAIN.md §1).
pub const RESILIENCY_MINUTES: f64 = 30.0;

/// A plan warns when its estimated outage leaves less than this margin to the budget.
pub const OUTAGE_MARGIN_MINUTES: f64 = 5.0;

/// Where packages are staged on a server unless told otherwise.
pub const DEFAULT_STAGE_DIR: &str = r"C:\ProgramData\sfbpatch\stage";

/// What to plan.
#[derive(Clone, Debug)]
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
    /// The language of titles and warnings.
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

/// Something the operator should know about a server's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanWarning {
    /// Stable code: `outage-near-budget`, `outage-over-budget`, `users-signed-out`,
    /// `collocated-stores-excluded`, `unexpected-installer-name`, `step-skipped`.
    pub code: String,
    /// The sentence, in the plan's language.
    pub message: String,
}

/// One step of one server's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// Stable step id.
    pub id: StepId,
    /// The seed's step number (1–11), or null for the two steps the seed leaves out.
    pub seed_step: Option<u8>,
    /// Title in the plan's language.
    pub title: String,
    /// The PowerShell to run, or null when the step has no command.
    pub command: Option<String>,
    /// The host that executes it: the server itself, or (a back end's database steps) an
    /// updated Front End. Null in plans stored by earlier releases: the server itself.
    #[serde(default)]
    pub runs_on: Option<Fqdn>,
    /// Inside the users' outage window.
    pub in_outage: bool,
    /// Safe to run twice.
    pub safe_to_repeat: bool,
    /// Default timeout.
    pub timeout_seconds: u64,
    /// Estimated duration.
    pub estimated_minutes: f64,
}

/// One server's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerPlan {
    /// The server.
    pub fqdn: Fqdn,
    /// `enterprise-backend` or `standard-edition`.
    pub role: Role,
    /// The (first) pool whose users it serves.
    pub pool: Option<Fqdn>,
    /// Every pool whose users it serves.
    pub pools: Vec<Fqdn>,
    /// The site's name.
    pub site: String,
    /// Step 11's `-SqlServerFqdn` (null for Standard Edition).
    pub sql_server_fqdn: Option<Fqdn>,
    /// Collocated stores found on this server.
    pub collocated_stores: Vec<String>,
    /// Step 11's variant.
    pub database_update: String,
    /// Estimated users' outage (sum of the in-outage steps' estimates).
    pub estimated_outage_minutes: f64,
    /// Warnings.
    pub warnings: Vec<PlanWarning>,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
    /// The product it runs (installer, shell module, the commands that exist there): the
    /// topology's, or `--product`'s.
    #[serde(default)]
    pub product: Product,
    /// The procedure it gets (`standard-edition`, `front-end`, `backend-databases`,
    /// `seed-backend`; plans stored by earlier releases read as `seed-backend`).
    #[serde(default)]
    pub runbook: Runbook,
    /// Why that procedure, in the plan's language.
    #[serde(default)]
    pub runbook_reason: String,
    /// Servers of this plan that must be updated before it starts.
    #[serde(default)]
    pub after: Vec<Fqdn>,
    /// Its wave (from 1: [`crate::waves`]): it may start once every earlier wave has finished.
    /// 0 in plans stored by earlier releases.
    #[serde(default)]
    pub wave: u32,
}

impl ServerPlan {
    /// The host that executes `step` (the server itself unless the plan says otherwise).
    pub fn host_of<'a>(&'a self, step: &'a PlannedStep) -> &'a Fqdn {
        step.runs_on.as_ref().unwrap_or(&self.fqdn)
    }

    /// The database update that finishes this server's databases: the host it runs on and
    /// the command, when the runbook has one.
    pub fn database_command(&self) -> Option<(&Fqdn, &str)> {
        let st = self.steps.iter().find(|s| s.id == StepId::UpdateDatabases)?;
        Some((self.host_of(st), st.command.as_deref()?))
    }

    /// The Persistent Chat server that updates this entry's databases, when it is a SQL Server
    /// holding only Persistent Chat stores: `scope::targets_in` puts such an entry in the lane
    /// of the Persistent Chat pool it serves (`pool`), which is none of the user pools whose
    /// stores it holds (`pools`); every other SQL Server's lane is its first user pool, or none.
    pub fn persistent_chat_host(&self) -> Option<&Fqdn> {
        let chat_lane = self.pool.as_ref().is_some_and(|p| !self.pools.contains(p));
        if self.runbook != Runbook::BackendDatabases || self.role != Role::SqlStore || !chat_lane {
            return None;
        }
        let st = self.steps.iter().find(|s| s.runs_on.is_some())?;
        Some(self.host_of(st))
    }

    /// The database update that finishes this server's databases and the host it runs on,
    /// also when the plan leaves `update-databases` out (`--skip-step`): what a failed
    /// `check-databases` tells the operator to run. `None` for a runbook without databases.
    pub fn finishing_database_command(&self) -> Option<(Fqdn, String)> {
        if let Some((host, command)) = self.database_command() {
            return Some((host.clone(), command.to_owned()));
        }
        if !self.runbook.steps().contains(&StepId::UpdateDatabases) {
            return None;
        }
        let host = self
            .steps
            .iter()
            .find(|s| matches!(s.id, StepId::TestDatabases | StepId::CheckDatabases))
            .map_or(&self.fqdn, |s| self.host_of(s))
            .clone();
        Some((host, self.rendered(StepId::UpdateDatabases)?))
    }

    /// Step 11's variant with its data.
    pub fn variant(&self) -> DatabaseUpdate {
        match (self.database_update.as_str(), &self.sql_server_fqdn) {
            ("exclude-collocated-stores", Some(f)) => {
                DatabaseUpdate::ExcludeCollocatedStores { sql_server_fqdn: f.clone() }
            }
            (_, Some(f)) => DatabaseUpdate::ConfiguredDatabases { sql_server_fqdn: f.clone() },
            _ => DatabaseUpdate::LocalDatabases,
        }
    }

    /// The commands that bring service back on this server after `failed` failed, in
    /// order: the seed's own commands, all safe to run twice.
    ///
    /// Before the binaries changed (up to and including a failed install), starting IIS and
    /// the services again is enough. After the install, the databases must match the new
    /// build before the Front-End service can start, so the rest of the procedure is the
    /// recovery: stop what the installer restarted, update the databases, start IIS and the
    /// services. `verify`'s commands close the list so the operator sees the result.
    ///
    /// A Front End that failed after its failover is brought back with IIS started and
    /// `Invoke-CsComputerFailBack` (which enables and starts its services). A back end's
    /// database update leaves nothing stopped: no commands.
    pub fn recovery(&self, failed: StepId) -> Vec<String> {
        let steps = self.runbook.steps();
        let order = |id: StepId| steps.iter().position(|s| *s == id);
        // A step the runbook does not have (the database update of a Lync Server 2013 Front
        // End, asked for by the scripts' "after the install" recovery) counts as its last.
        let (Some(at), window_start) = (order(failed).or(steps.len().checked_sub(1)), self.runbook_window_start())
        else {
            return Vec::new();
        };
        if window_start.and_then(order).is_none_or(|w| at < w) {
            return Vec::new();
        }
        let wanted: &[StepId] = match self.runbook {
            Runbook::BackendDatabases => &[],
            Runbook::FrontEnd => &[StepId::StartW3svc, StepId::Failback, StepId::Verify],
            Runbook::LyncFrontEnd => &[StepId::StartW3svc, StepId::StartServices, StepId::Verify],
            // The generic SfB server runbook (docs/research/issue12-roles.md §1.0): no
            // databases, so the services (and IIS where the runbook has it) back, then verify.
            Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat => {
                &[StepId::StartW3svc, StepId::StartServices, StepId::Verify]
            }
            Runbook::StandardEdition | Runbook::SeedBackend => {
                if order(StepId::InstallUpdate).is_some_and(|i| at > i) {
                    &[
                        StepId::StopServicesAgain,
                        StepId::UpdateDatabases,
                        StepId::StartW3svc,
                        StepId::StartServices,
                        StepId::Verify,
                    ]
                } else {
                    &[StepId::StartW3svc, StepId::StartServices, StepId::Verify]
                }
            }
        };
        wanted
            .iter()
            .filter(|id| steps.contains(id))
            .filter_map(|id| {
                self.steps.iter().find(|s| s.id == *id).and_then(|s| s.command.clone()).or_else(|| self.rendered(*id))
            })
            .collect()
    }

    /// A step's command rendered again for this server, when the plan left the step out (a
    /// step with no installer: recovery and the database update).
    fn rendered(&self, id: StepId) -> Option<String> {
        let switches: [Word; 0] = [];
        let variant = self.variant();
        let cx = CommandContext {
            product: self.product,
            staged_installer: "",
            installer_switches: &switches,
            database_update: &variant,
            server: &self.fqdn,
            pool: self.pool.as_ref(),
            failover: runbook::FailoverTimes::default(),
            services: self.runbook.service_control(),
        };
        crate::runbook::command_text(id, &cx)
    }

    /// The step that opens the window in which a failure leaves the server out of service:
    /// `stop-services` (services stopped), `failover` (a Front End out of its pool).
    fn runbook_window_start(&self) -> Option<StepId> {
        match self.runbook {
            Runbook::StandardEdition
            | Runbook::SeedBackend
            | Runbook::LyncFrontEnd
            | Runbook::Director
            | Runbook::Edge
            | Runbook::Mediation
            | Runbook::PersistentChat => Some(StepId::StopServices),
            Runbook::FrontEnd => Some(StepId::Failover),
            Runbook::BackendDatabases => None,
        }
    }
}

/// A whole plan (`sfbpatch.plan/1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `sfbpatch.plan/1`.
    pub schema: String,
    /// The package as given.
    pub package: String,
    /// The installer's path on each server once staged.
    pub staged_installer: String,
    /// The product of the package: `--product`, else the one product of the servers planned
    /// (the first server's when they run several: see [`Plan::products`]).
    pub product: Product,
    /// The outage budget in minutes.
    pub outage_budget_minutes: f64,
    /// The language of titles and warnings.
    pub lang: String,
    /// One entry per server in scope.
    pub servers: Vec<ServerPlan>,
    /// `--scope` (plans stored by earlier releases: `backends`).
    #[serde(default)]
    pub scope: Scope,
    /// The topology's servers that get no runbook, each with why: never silently skipped.
    #[serde(default)]
    pub out_of_scope: Vec<OutOfScope>,
    /// Warnings about the topology as a whole (undocumented `Usage` values).
    #[serde(default)]
    pub warnings: Vec<PlanWarning>,
    /// Pools paired as backups of each other (never updated at once), among the plan's pools.
    #[serde(default)]
    pub pairs: Vec<[Fqdn; 2]>,
    /// `--max-parallel` the waves were computed with (null: unlimited).
    #[serde(default)]
    pub max_parallel: Option<usize>,
    /// When the waves' list schedule ends, from the steps' estimates ([`crate::waves`]).
    #[serde(default)]
    pub estimated_makespan_minutes: f64,
    /// No schedule under the plan's constraints can end sooner ([`crate::waves`]).
    #[serde(default)]
    pub makespan_lower_bound_minutes: f64,
}

impl Plan {
    /// The products of the servers planned, in plan order, once each. A run stages one
    /// package: a plan with more than one is run one product at a time.
    pub fn products(&self) -> Vec<Product> {
        let mut v: Vec<Product> = Vec::new();
        for s in &self.servers {
            if !v.contains(&s.product) {
                v.push(s.product);
            }
        }
        v
    }
}

/// A server the plan does not update, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutOfScope {
    /// The server.
    pub fqdn: Fqdn,
    /// Its role.
    pub role: Role,
    /// Why (`needs-scope-all`, `office-web-apps`, `branch`, `video-interop`,
    /// `trusted-application`, `no-sfb`, `unknown-role`).
    pub reason_code: OutOfScopeReason,
    /// The sentence, in the plan's language.
    pub reason: String,
}

/// The schema name of [`Plan`]'s JSON.
pub const PLAN_SCHEMA: &str = "sfbpatch.plan/1";

/// The last component of a Windows or POSIX path.
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn valid_windows_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.ends_with(['.', ' '])
        && !name.chars().any(|c| c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*'))
}

fn valid_stage_dir(dir: &str) -> bool {
    let b = dir.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_alphabetic() || b[1] != b':' || b[2] != b'\\' {
        return false;
    }
    dir[3..].split('\\').filter(|p| !p.is_empty()).all(valid_windows_name)
}

/// Step 11's variant for a server, from its role and its collocated stores.
pub fn database_update_for(server: &Server) -> Option<DatabaseUpdate> {
    match server.role {
        Role::StandardEdition => Some(DatabaseUpdate::LocalDatabases),
        Role::EnterpriseBackend | Role::SqlStore => {
            // The SQL Server's FQDN is its cluster's: a failover cluster's network name, never a node.
            let sql_server_fqdn = server.sql_server_fqdn.clone().unwrap_or_else(|| server.cluster.clone());
            Some(if server.collocated_stores.is_empty() {
                DatabaseUpdate::ConfiguredDatabases { sql_server_fqdn }
            } else {
                DatabaseUpdate::ExcludeCollocatedStores { sql_server_fqdn }
            })
        }
        _ => None,
    }
}

/// Plans the update of every server in scope.
pub fn plan(topology: &Topology, req: &PlanRequest) -> Result<Plan, PlanError> {
    if !(req.outage_budget_minutes.is_finite() && req.outage_budget_minutes > 0.0) {
        return Err(PlanError::BadBudget);
    }
    let name = file_name(&req.package);
    if !valid_windows_name(name) {
        return Err(PlanError::BadPackage { path: req.package.clone() });
    }
    let stage_dir = req.stage_dir.trim_end_matches('\\');
    if !valid_stage_dir(&req.stage_dir) {
        return Err(PlanError::BadStageDir { path: req.stage_dir.clone() });
    }
    let staged_installer = format!("{stage_dir}\\{name}");
    let custom: Option<Vec<Word>> = match &req.installer_switches {
        Some(list) => Some(
            list.iter()
                .map(|s| Word::new(s).map_err(|_| PlanError::BadSwitch { switch: s.clone() }))
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };

    let targets = scope::targets_in(topology, req.product, req.scope);
    let narrowed = narrow(topology, &targets, req)?;
    let targets: Vec<scope::Target<'_>> = targets.into_iter().filter(|t| narrowed(t)).collect();
    let selected: Vec<&scope::Target<'_>> = if req.servers.is_empty() {
        targets.iter().collect()
    } else {
        let mut out: Vec<&scope::Target<'_>> = Vec::new();
        for want in &req.servers {
            let want_l = want.trim().to_ascii_lowercase();
            let found = targets.iter().find(|t| t.fqdn.as_str() == want_l || t.server.fqdn.as_str() == want_l);
            let Some(t) = found else {
                return Err(match topology.server(want.trim()) {
                    Some(s) => PlanError::NotInScope { fqdn: s.fqdn.to_string(), role: s.role },
                    None => PlanError::UnknownServer {
                        fqdn: want.clone(),
                        known: targets.iter().map(|t| t.fqdn.to_string()).collect(),
                    },
                });
            };
            if !out.iter().any(|o| o.fqdn == t.fqdn) {
                out.push(t);
            }
        }
        // Keep the update order, whatever order the flags came in.
        targets.iter().filter(|t| out.iter().any(|o| o.fqdn == t.fqdn)).collect()
    };
    if selected.is_empty() {
        return Err(PlanError::NothingToPlan);
    }
    // Sets: every entry's `after` is filtered through `planned` (a shared store's SQL Server
    // waits for every SfB server: n lookups each), and every Front End asks whether its
    // back end is a target (issue 12, item 4: planning no worse than n log n).
    let planned: std::collections::HashSet<&Fqdn> = selected.iter().map(|t| &t.fqdn).collect();
    let target_fqdns: std::collections::HashSet<&Fqdn> = targets.iter().map(|t| &t.fqdn).collect();
    // Servers and pools by FQDN, the first of each name as `Topology::server`/`pool` find it.
    let mut server_by: std::collections::HashMap<&str, &Server> = std::collections::HashMap::new();
    for x in &topology.servers {
        server_by.entry(x.fqdn.as_str()).or_insert(x);
    }
    let mut pool_by: std::collections::HashMap<&Fqdn, &crate::topology::Pool> = std::collections::HashMap::new();
    for x in &topology.pools {
        pool_by.entry(&x.fqdn).or_insert(x);
    }
    let mut lone: std::collections::HashMap<&Fqdn, bool> = std::collections::HashMap::new();
    // Servers per cluster (a Director, Edge, Mediation or Persistent Chat pool's size: its
    // cluster's machines), counted once rather than per server (issue 12, item 4).
    let mut cluster_size: std::collections::HashMap<&Fqdn, usize> = std::collections::HashMap::new();
    for x in &topology.servers {
        *cluster_size.entry(&x.cluster).or_default() += 1;
    }

    let lang = req.lang;
    let mut servers = Vec::with_capacity(selected.len());
    for t in &selected {
        let s = t.server;
        // The commands of a back end's database steps run on its host: that host's product.
        let runs_as = match t.runbook {
            Runbook::BackendDatabases => server_by.get(t.database_host.as_str()).copied().unwrap_or(s),
            _ => s,
        };
        let product = scope::product_of(runs_as, req.product);
        let switches: Vec<Word> =
            custom.clone().unwrap_or_else(|| product.installer_switches().iter().map(|s| Word::fixed(s)).collect());
        let db = match t.runbook {
            Runbook::FrontEnd
            | Runbook::LyncFrontEnd
            | Runbook::Director
            | Runbook::Edge
            | Runbook::Mediation
            | Runbook::PersistentChat => DatabaseUpdate::LocalDatabases,
            _ => match database_update_for(s) {
                Some(db) => db,
                None => continue,
            },
        };
        let cx = CommandContext {
            product,
            staged_installer: &staged_installer,
            installer_switches: &switches,
            database_update: &db,
            server: &t.fqdn,
            pool: t.pool.as_ref(),
            failover: runbook::FailoverTimes {
                wait_minutes: req.failover_wait_minutes,
                draining_minutes: req.draining_timeout_minutes,
            },
            services: t.runbook.service_control(),
        };
        // A server alone in its pool is a users' outage of what it serves (`in_outage_in_pool`).
        let pool_size = cluster_size.get(&s.cluster).copied().unwrap_or(1);
        let steps: Vec<PlannedStep> = t
            .runbook
            .steps()
            .iter()
            .copied()
            .filter(|id| !req.skip.contains(id))
            .map(|id| {
                let spec = id.spec();
                let database_step =
                    matches!(id, StepId::TestDatabases | StepId::UpdateDatabases | StepId::CheckDatabases);
                let runs_on = if database_step { t.database_host.clone() } else { t.fqdn.clone() };
                PlannedStep {
                    id,
                    seed_step: id.seed_number(),
                    title: id.title(lang),
                    command: runbook::command_text(id, &cx),
                    runs_on: Some(runs_on),
                    in_outage: t.runbook.in_outage_in_pool(id, pool_size),
                    safe_to_repeat: spec.safe_to_repeat,
                    // The failover step outlasts the cmdlet's own wait (past it, the cmdlet fails
                    // and does nothing).
                    timeout_seconds: match (id, req.failover_wait_minutes) {
                        (StepId::Failover, Some(w)) => (u64::from(w) + 5) * 60,
                        _ => spec.timeout_seconds,
                    },
                    estimated_minutes: spec.estimated_minutes,
                }
            })
            .collect();
        let outage: f64 = steps.iter().filter(|st| st.in_outage).map(|st| st.estimated_minutes).sum();
        // `+ 0.0`: an empty sum is -0.0, which JSON and text would print as "-0".
        let outage = (outage * 100.0).round() / 100.0 + 0.0;
        let mut warnings = Vec::new();
        let warn = |code: &str, args: Args<'_>| PlanWarning {
            code: code.to_owned(),
            message: tr(lang, &format!("plan.warning.{code}"), &args),
        };
        let budget = req.outage_budget_minutes;
        if outage >= budget {
            warnings.push(warn("outage-over-budget", Args::new().with("estimate", outage).with("budget", budget)));
        } else if outage > 0.0 && outage >= budget - OUTAGE_MARGIN_MINUTES {
            warnings.push(warn("outage-near-budget", Args::new().with("estimate", outage).with("budget", budget)));
        }
        if s.role == Role::StandardEdition {
            warnings.push(warn("users-signed-out", Args::new().with("pool", &s.cluster)));
        }
        // A Director, Edge, Mediation or Persistent Chat pool of one server: what it serves is
        // down while it is updated (docs/research/issue12-roles.md §5: DNS load balancing
        // fails over only to servers that are up).
        let pooled_role =
            matches!(t.runbook, Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat);
        if pooled_role && pool_size < 2 {
            warnings.push(warn(&format!("lone-{}", t.runbook.as_str()), Args::new().with("pool", &s.cluster)));
        }
        // "Persistent chat is available in Skype for Business Server 2015 but is no longer
        // supported in Skype for Business Server 2019" (docs/research/issue12-roles.md §1.1, DOC).
        if t.runbook == Runbook::PersistentChat && !matches!(product, Product::Lync2013 | Product::Sfb2015) {
            warnings.push(warn(
                "persistent-chat-unsupported",
                Args::new().with("server", &s.fqdn).with("product", product.as_str()),
            ));
        }
        let front_end = matches!(t.runbook, Runbook::FrontEnd | Runbook::LyncFrontEnd);
        if front_end
            && t.pool.as_ref().is_some_and(|p| *lone.entry(p).or_insert_with(|| scope::lone_front_end(topology, p)))
        {
            warnings.push(warn("lone-front-end", Args::new().with("pool", &s.cluster)));
        }
        // A Front End updated without its back end's databases runs ahead of them, silently
        // (DOMAIN.md §1a): say so, with the server that finishes it.
        if front_end
            && let Some(backend) = t.pool.as_ref().and_then(|p| pool_by.get(p)).and_then(|p| p.backend.as_ref())
            && target_fqdns.contains(backend)
            && !planned.contains(backend)
        {
            warnings.push(warn("databases-not-planned", Args::new().with("pool", &s.cluster).with("sql", backend)));
        }
        if matches!(db, DatabaseUpdate::ExcludeCollocatedStores { .. }) {
            warnings
                .push(warn("collocated-stores-excluded", Args::new().with("stores", s.collocated_stores.join(", "))));
        }
        // Neither the operator nor the topology names the product: the default, said aloud.
        if req.product.is_none() && runs_as.product.is_none() && runs_as.sfb_installed {
            warnings.push(warn(
                "product-unknown",
                Args::new().with("server", &runs_as.fqdn).with("product", product.as_str()),
            ));
        }
        if t.runbook != Runbook::BackendDatabases && !name.eq_ignore_ascii_case(product.installer_name()) {
            warnings.push(warn(
                "unexpected-installer-name",
                Args::new()
                    .with("found", name)
                    .with("expected", product.installer_name())
                    .with("product", product.as_str()),
            ));
        }
        for skipped in &req.skip {
            if t.runbook.steps().contains(skipped) {
                warnings.push(warn("step-skipped", Args::new().with("step", skipped)));
            }
        }
        // A SQL Server of Persistent Chat stores only is updated from a Persistent Chat server
        // (`scope::targets_in`), after the servers of that pool: its own reason.
        let chat_store = t.runbook == Runbook::BackendDatabases
            && server_by.get(t.database_host.as_str()).is_some_and(|h| h.role == Role::PersistentChat);
        let reason_key = if chat_store { "persistent-chat-store" } else { t.runbook.as_str() };
        let reason = tr(
            lang,
            &format!("plan.runbook.{reason_key}"),
            &Args::new().with("host", &t.database_host).with("sql", &t.fqdn),
        );
        servers.push(ServerPlan {
            fqdn: t.fqdn.clone(),
            role: s.role,
            pool: t.pool.clone(),
            pools: s.pools.clone(),
            site: s.site.clone(),
            sql_server_fqdn: match &db {
                DatabaseUpdate::LocalDatabases => None,
                other => Some(other.sql_server(&t.fqdn).clone()),
            },
            collocated_stores: s.collocated_stores.clone(),
            database_update: if t.runbook.steps().contains(&StepId::UpdateDatabases) {
                db.name().to_owned()
            } else {
                "none".to_owned()
            },
            estimated_outage_minutes: outage,
            warnings,
            steps,
            product,
            runbook: t.runbook,
            runbook_reason: reason,
            after: t.after.iter().filter(|a| planned.contains(a)).cloned().collect(),
            wave: 0,
        });
    }
    let first = servers.first().map(|s| s.product).unwrap_or_default();
    let pairs = plan_pairs(topology, &servers);
    let mut plan = Plan {
        schema: PLAN_SCHEMA.to_owned(),
        package: req.package.clone(),
        staged_installer,
        product: req.product.unwrap_or(first),
        outage_budget_minutes: req.outage_budget_minutes,
        lang: lang.code().to_owned(),
        servers,
        scope: req.scope,
        out_of_scope: scope::out_of_scope(topology, req.scope)
            .into_iter()
            .map(|(s, why)| OutOfScope {
                fqdn: s.fqdn.clone(),
                role: s.role,
                reason_code: why,
                reason: tr(
                    lang,
                    &format!("plan.out-of-scope.{}", why.as_str()),
                    &Args::new().with("roles", s.topology_roles.join(", ")),
                ),
            })
            .collect(),
        warnings: if topology.unknown_usages.is_empty() {
            Vec::new()
        } else {
            vec![PlanWarning {
                code: "unknown-usage".to_owned(),
                message: tr(
                    lang,
                    "plan.warning.unknown-usage",
                    &Args::new().with("usages", topology.unknown_usages.join("; ")),
                ),
            }]
        },
        pairs,
        max_parallel: req.max_parallel,
        estimated_makespan_minutes: 0.0,
        makespan_lower_bound_minutes: 0.0,
    };
    let waves = crate::waves::of_plan(&plan, req.max_parallel);
    for (s, w) in plan.servers.iter_mut().zip(&waves.wave) {
        s.wave = *w;
    }
    plan.estimated_makespan_minutes = waves.estimated_makespan_minutes;
    plan.makespan_lower_bound_minutes = waves.makespan_lower_bound_minutes;
    Ok(plan)
}

/// The topology's paired pools of which both are among the plan's pools.
fn plan_pairs(topology: &Topology, servers: &[ServerPlan]) -> Vec<[Fqdn; 2]> {
    let pools: std::collections::HashSet<&Fqdn> = servers.iter().filter_map(|s| s.pool.as_ref()).collect();
    topology
        .pairs
        .iter()
        .filter(|(a, b)| pools.contains(a) && pools.contains(b))
        .map(|(a, b)| [a.clone(), b.clone()])
        .collect()
}

/// `--pool` and `--site`: which targets stay. Each name must be the topology's.
fn narrow<'a>(
    topology: &'a Topology,
    _targets: &[scope::Target<'_>],
    req: &'a PlanRequest,
) -> Result<impl Fn(&scope::Target<'_>) -> bool + 'a, PlanError> {
    let pools: Vec<String> = req.pools.iter().map(|p| p.trim().to_ascii_lowercase()).collect();
    for (p, given) in pools.iter().zip(&req.pools) {
        let known = topology.pools.iter().any(|x| x.fqdn.as_str() == p)
            || topology.servers.iter().any(|s| s.cluster.as_str() == p);
        if !known {
            return Err(PlanError::UnknownPool { fqdn: given.clone() });
        }
    }
    for name in &req.sites {
        let n = name.trim();
        if !topology.sites.iter().any(|s| s.name.eq_ignore_ascii_case(n) || s.id == n) {
            let known = topology.sites.iter().map(|s| s.name.clone()).collect();
            return Err(PlanError::UnknownSite { name: name.clone(), known });
        }
    }
    let site_names: Vec<String> = req
        .sites
        .iter()
        .filter_map(|n| topology.sites.iter().find(|s| s.name.eq_ignore_ascii_case(n.trim()) || s.id == n.trim()))
        .map(|s| if s.name.is_empty() { s.id.clone() } else { s.name.clone() })
        .collect();
    Ok(move |t: &scope::Target<'_>| {
        let in_pool = pools.is_empty()
            || pools.iter().any(|p| {
                t.pool.as_ref().is_some_and(|x| x.as_str() == p)
                    || t.server.cluster.as_str() == p
                    || t.server.pools.iter().any(|x| x.as_str() == p)
            });
        let in_site = site_names.is_empty() || site_names.iter().any(|n| t.server.site.eq_ignore_ascii_case(n));
        in_pool && in_site
    })
}

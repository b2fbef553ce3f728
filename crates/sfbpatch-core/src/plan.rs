//! The planner: topology + package + selection → the ordered procedure for every server in
//! scope. Pure: no I/O.

use serde::{Deserialize, Serialize};
use sfbpatch_i18n::{Args, fmt as tr};
use sfbpatch_pwsh::Word;

use crate::fqdn::Fqdn;
use crate::runbook::{self, CommandContext, DatabaseUpdate, Product, StepId};
use crate::scope::{self, OutOfScopeReason, Runbook, Scope};
use crate::topology::{Role, Server, Topology};

mod request;
mod server;

pub use request::{PlanError, PlanRequest};
pub use server::{PlanWarning, PlannedStep, ServerPlan};

/// The resiliency threshold: a back end down this long puts its pool's users into
/// resiliency mode (DOMAIN.md §1).
pub const RESILIENCY_MINUTES: f64 = 30.0;

/// A plan warns when its estimated outage leaves less than this margin to the budget.
pub const OUTAGE_MARGIN_MINUTES: f64 = 5.0;

/// Where packages are staged on a server unless told otherwise.
pub const DEFAULT_STAGE_DIR: &str = r"C:\ProgramData\sfbpatch\stage";

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

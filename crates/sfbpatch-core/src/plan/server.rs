//! One server's plan: its steps, where each runs, its warnings, and what the engine asks of
//! it (the host of a step, the database command that finishes it, its recovery commands).

use serde::{Deserialize, Serialize};
use sfbpatch_pwsh::Word;

use crate::fqdn::Fqdn;
use crate::runbook::{self, CommandContext, DatabaseUpdate, Product, StepId};
use crate::scope::Runbook;
use crate::topology::Role;

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

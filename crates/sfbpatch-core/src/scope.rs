//! Which servers a plan covers, which runbook each gets, and where each step runs
//! (DOMAIN.md §1a, §2): pure functions of the resolved topology.
//!
//! * A Standard Edition server carries everything: the seed's procedure on itself.
//! * An Enterprise pool: the update is installed on each **Front End**, one at a time, with
//!   failover and failback around it (`patch-or-update-front-end-servers.md`).
//! * The pool's back end is a SQL Server machine with no Skype for Business on it: its
//!   databases are updated **once**, with `Install-CsDatabase -Update -ConfiguredDatabases
//!   -SqlServerFqdn`, from a Front End that already has the update, after every Front End of
//!   every pool whose stores live there. So are SQL servers holding other stores.
//! * A back end whose cluster has `RequiresSetup="true"` carries SfB: the seed's literal
//!   procedure still applies to it.
//! * A Lync Server 2013 Front End has no computer failover (`Invoke-CsComputerFailOver` came
//!   with Skype for Business Server 2015): Microsoft's Lync 2013 procedure ("Upgrade or update
//!   Front End Servers in Lync Server 2013", docs/research/issue11-products.md §3) checks the
//!   pool's upgrade readiness, stops the server's services, installs, and brings it back,
//!   one upgrade domain at a time.
//!
//! Here: the `--scope` and why a server gets no runbook; `runbooks`: each [`Runbook`]'s steps
//! and outage window; `targets`: every plan entry in update order ([`targets_in`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::topology::{Role, Server, Topology};
use crate::vocab::UnknownWord;

mod runbooks;
mod targets;

pub use runbooks::Runbook;
pub use targets::{Target, lone_front_end, product_of, targets, targets_for, targets_in};

crate::vocab::words! {
    /// Which servers a plan covers (`--scope`).
    #[derive(Default)]
    Scope, "scope" {
        /// What the seed covers: Standard Edition servers, Enterprise back ends and the Front
        /// End work their update needs, SQL Servers of other stores.
        #[default]
        Backends => "backends",
        /// Every role sfbpatch has a runbook for (Directors, Edge, Mediation, Persistent Chat
        /// too).
        All => "all",
    }
}

/// Whether a server of this role is updated under the default scope (`--scope backends`).
pub fn in_scope(role: Role) -> bool {
    in_scope_of(role, Scope::Backends)
}

/// Whether a server of this role gets a runbook under `scope`.
pub fn in_scope_of(role: Role, scope: Scope) -> bool {
    match role {
        Role::StandardEdition | Role::FrontEnd | Role::EnterpriseBackend | Role::SqlStore => true,
        Role::Director | Role::Edge | Role::Mediation | Role::PersistentChat => scope == Scope::All,
        Role::OfficeWebApps | Role::Branch | Role::VideoInterop | Role::TrustedApplication | Role::Other => false,
    }
}

/// Why a server gets no runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutOfScopeReason {
    /// A role `--scope all` updates, left out by `--scope backends`.
    NeedsScopeAll,
    /// Office Web Apps / Office Online Server: not Skype for Business (its own updates).
    OfficeWebApps,
    /// A Survivable Branch Appliance/Server: updated through its vendor's or Microsoft's
    /// branch procedure, which sfbpatch does not have (docs/research/issue12-roles.md §7).
    Branch,
    /// A Video Interop Server: no documented update procedure found (§7).
    VideoInterop,
    /// A Trusted Application server: third-party software on it (§7).
    TrustedApplication,
    /// A machine with no Skype for Business Server on it and no database store.
    NoSfb,
    /// A role sfbpatch does not know.
    UnknownRole,
}

impl OutOfScopeReason {
    /// The public word (catalogue key `plan.out-of-scope.<word>`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutOfScopeReason::NeedsScopeAll => "needs-scope-all",
            OutOfScopeReason::OfficeWebApps => "office-web-apps",
            OutOfScopeReason::Branch => "branch",
            OutOfScopeReason::VideoInterop => "video-interop",
            OutOfScopeReason::TrustedApplication => "trusted-application",
            OutOfScopeReason::NoSfb => "no-sfb",
            OutOfScopeReason::UnknownRole => "unknown-role",
        }
    }
}

/// Every server of `topology` that gets no runbook under `scope`, with why, in topology order.
pub fn out_of_scope(topology: &Topology, scope: Scope) -> Vec<(&Server, OutOfScopeReason)> {
    let pc_only = |s: &Server| scope == Scope::Backends && pc_only_store(s);
    topology
        .servers
        .iter()
        .filter(|s| !in_scope_of(s.role, scope) || pc_only(s))
        .map(|s| {
            let why = match s.role {
                Role::OfficeWebApps => OutOfScopeReason::OfficeWebApps,
                Role::Branch => OutOfScopeReason::Branch,
                Role::VideoInterop => OutOfScopeReason::VideoInterop,
                Role::TrustedApplication => OutOfScopeReason::TrustedApplication,
                // A file share (`FileStore`) or any machine without SfB and without a store.
                Role::Other if !s.sfb_installed => OutOfScopeReason::NoSfb,
                Role::Other => OutOfScopeReason::UnknownRole,
                _ => OutOfScopeReason::NeedsScopeAll,
            };
            (s, why)
        })
        .collect()
}

/// A SQL Server whose stores are all Persistent Chat stores: its users are Persistent Chat
/// servers, so it belongs with them (`--scope all`), updated after them.
pub(super) fn pc_only_store(s: &Server) -> bool {
    s.role == Role::SqlStore && !s.stores.is_empty() && s.stores.iter().all(|p| p.role.starts_with("PersistentChat"))
}

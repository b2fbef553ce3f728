//! The seed's procedure as typed data.
//!
//! Thirteen steps with stable ids (a public contract: JSON, journal, reports and flags use
//! them): the seed's eleven, plus `start-services` and `verify`, which the seed leaves out and
//! every operator does. Each step knows whether it lies inside the users' outage window
//! (from `stop-services` until `start-services` has succeeded), whether it is safe to run
//! twice, its default timeout and its estimated duration. [`command`] renders the exact
//! PowerShell for one server.
//!
//! * `step`: the ids ([`StepId`]) and their fixed properties ([`StepSpec`]).
//! * `product`: the [`Product`] profiles and the installer's exit codes.
//! * `command`: each step's commands for one server ([`command`], [`statements`]).

mod command;
mod product;
mod step;

pub use command::{
    CommandContext, DatabaseUpdate, EDGE_SERVICES, FailoverTimes, INSTALLER_PROCESS, MEDIATION_SERVICE, ServiceControl,
    command, command_text, statements,
};
pub use product::{InstallOutcome, Product, UNINSTALL_KEYS, build_readback, classify_install_exit};
pub use step::{StepId, StepSpec, UnknownStep};

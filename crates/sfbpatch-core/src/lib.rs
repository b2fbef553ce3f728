//! sfbpatch's functional core: topology in, plan out.
//!
//! * [`topology`] reads a topology (the real `Get-CsTopology -AsXml` export, or a small TOML
//!   format), validates it and derives what each server is.
//! * [`runbook`] is the seed's procedure as typed data: stable step ids, commands, outage
//!   window, timeouts and estimates.
//! * [`plan`] turns a topology, a package and a selection of servers into the ordered steps
//!   for every server in scope, with the step-11 variant chosen from the topology.
//!
//! * [`probe`] renders the read-backs and other commands the engine sends besides the steps.
//! * [`scope`] decides which servers a plan covers, their runbook and where each step runs.
//! * [`vocab`] is the typed vocabulary of results, states, outcomes and activities.
//!
//! Nothing here reads files, talks to the network, or looks at the clock.

pub mod envelope;
pub mod example;
pub mod fqdn;
pub mod plan;
pub mod printable;
pub mod probe;
pub mod readback;
pub mod readback_pool;
pub mod remoting;
pub mod runbook;
pub mod scope;
pub mod script;
pub mod topology;
pub mod vocab;
pub mod waves;

pub use fqdn::Fqdn;
pub use sfbpatch_i18n::Lang;

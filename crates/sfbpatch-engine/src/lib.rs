//! The execution engine: a plan, run through a [`Transport`], one step at a time.
//!
//! Small parts, one idea each:
//! * [`schedule`]: lanes (one per pool, never two servers of a pool at once), `--max-parallel`,
//!   the run's end;
//! * [`procedure`]: one server's procedure as an explicit state ([`procedure::Progress`]),
//!   resumable from the journal;
//! * [`attempt`]: one step's attempts under its timeout, and the retry rule;
//! * [`verdict`]: pure verdicts on what a command printed;
//! * [`guard`]: the outage guard (projection against the budget, marks before it);
//! * `restart` and `recovery`: restarts in stages; service brought back after a failure and
//!   read back before anything is claimed;
//! * `spare`: the installer's shell process started before the outage (issue 14);
//! * [`options`]: what the caller asks for, with the one timing rule (`--timeout-scale`).
//!
//! Every command it sends comes from the core (`runbook` for steps, `probe` for the rest);
//! every sentence from the catalogue, in the run's language. Everything that happens is an
//! [`event::Event`] handed to an [`event::EventSink`]: the journal, the terminal display and
//! the reports are sinks, as in cargo-nextest's reporter. The engine itself keeps no records.

pub mod attempt;
mod context;
pub mod event;
pub mod guard;
pub mod options;
pub mod procedure;
mod recovery;
mod restart;
mod rights;
pub mod schedule;
mod spare;
pub mod transport;
pub mod verdict;

pub use event::{AttemptOutput, Event, EventSink, StepOutcome};
pub use options::{OnFailure, RebootTimeouts, ResumeState, RunOptions, ServerResume};
pub use schedule::{RunSummary, ServerSummary, run};
pub use transport::{CommandOutput, SessionId, Transport, TransportError};

/// The engine's entry points under their former path (`sfbpatch_engine::engine::run`).
pub mod engine {
    pub use crate::options::{OnFailure, RebootTimeouts, ResumeState, RunOptions, ServerResume};
    pub use crate::schedule::{RunSummary, ServerSummary, run};
}

//! The execution engine: a plan, run through a [`Transport`], one step at a time.
//!
//! Per step: the outage guard (before `stop-services`), execution with the step's timeout,
//! classification of the result, a postcondition read back from the host, retries (only for
//! steps safe to run twice), and, on failure inside the outage, service brought back. A
//! restart requested by the installer is a step of its own, with stages. Servers of
//! different pools run concurrently; never two of one pool.
//!
//! Everything that happens is an [`event::Event`] handed to an [`event::EventSink`]: the
//! journal, the terminal display and the reports are sinks, as in cargo-nextest's reporter.
//! The engine itself keeps no records.

pub mod engine;
pub mod event;
pub mod transport;

pub use engine::{OnFailure, ResumeState, RunOptions, RunSummary, ServerResume, run};
pub use event::{AttemptOutput, Event, EventSink, StepOutcome};
pub use transport::{CommandOutput, SessionId, Transport, TransportError};

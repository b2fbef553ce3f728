//! The typed event stream.

use serde::Serialize;
use sfbpatch_core::Fqdn;
use sfbpatch_core::vocab::{Activity, Outcome, RunState, ServerResult, Stream};

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum StepOutcome {
    /// It did what it should (postcondition read back).
    Succeeded,
    /// It succeeded and the server needs a restart (installer 3010/1641, or detected).
    SucceededRebootPending,
    /// It failed.
    Failed {
        /// Why.
        reason: String,
    },
}

impl StepOutcome {
    /// Succeeded, with or without a restart pending.
    pub fn is_success(&self) -> bool {
        !matches!(self, StepOutcome::Failed { .. })
    }

    /// The outcome's word, without its reason.
    pub fn kind(&self) -> Outcome {
        match self {
            StepOutcome::Succeeded => Outcome::Succeeded,
            StepOutcome::SucceededRebootPending => Outcome::SucceededRebootPending,
            StepOutcome::Failed { .. } => Outcome::Failed,
        }
    }

    /// Why it failed, if it did.
    pub fn reason(&self) -> Option<&str> {
        match self {
            StepOutcome::Failed { reason } => Some(reason),
            _ => None,
        }
    }
}

/// What an attempt's command printed and returned: carried by the event that ends the
/// attempt, so that a consumer never has to reassemble it from the live stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AttemptOutput {
    /// Exit code, when a command completed.
    pub exit_code: Option<i32>,
    /// Everything it printed on standard output.
    pub stdout: String,
    /// Everything it printed on standard error.
    pub stderr: String,
}

impl AttemptOutput {
    /// The text of one stream.
    pub fn stream(&self, stream: Stream) -> &str {
        match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }
}

/// Something that happened during a run. `at_ms` counts from the transport's epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The run began.
    RunStarted {
        /// When.
        at_ms: u64,
        /// Servers in scope.
        servers: Vec<Fqdn>,
    },
    /// A server's procedure began (or resumed).
    ServerStarted {
        /// The server.
        server: Fqdn,
        /// When.
        at_ms: u64,
        /// The build installed before this run touched it, if known.
        build_before: Option<String>,
    },
    /// An attempt of a step (or of the engine's own work: hooks, restart, recovery, logs) began.
    StepStarted {
        /// The server.
        server: Fqdn,
        /// What.
        step: Activity,
        /// Attempt, from 1.
        attempt: u32,
        /// When.
        at_ms: u64,
        /// The command, if any.
        command: Option<String>,
    },
    /// Output of an attempt, for live display. The attempt's whole output also travels with
    /// its [`Event::StepFinished`]: consumers that keep records read it there.
    StepOutput {
        /// The server.
        server: Fqdn,
        /// What.
        step: Activity,
        /// Which stream.
        stream: Stream,
        /// The text.
        text: String,
    },
    /// An attempt ended, with everything it printed.
    StepFinished {
        /// The server.
        server: Fqdn,
        /// What.
        step: Activity,
        /// Attempt.
        attempt: u32,
        /// When.
        at_ms: u64,
        /// How.
        outcome: StepOutcome,
        /// Exit code and output.
        output: AttemptOutput,
    },
    /// The users' outage on a server began (services being stopped).
    OutageOpened {
        /// The server.
        server: Fqdn,
        /// When.
        at_ms: u64,
    },
    /// The outage ended (services started).
    OutageClosed {
        /// The server.
        server: Fqdn,
        /// When.
        at_ms: u64,
    },
    /// Something the operator should know.
    Warning {
        /// The server, if it concerns one.
        server: Option<Fqdn>,
        /// When.
        at_ms: u64,
        /// The sentence.
        message: String,
    },
    /// A server's procedure ended.
    ServerFinished {
        /// The server.
        server: Fqdn,
        /// When.
        at_ms: u64,
        /// How it ended.
        result: ServerResult,
        /// Why it failed.
        error: Option<String>,
        /// Commands an operator runs next to bring service back, if it is still down.
        recovery: Vec<String>,
    },
    /// The run ended.
    RunFinished {
        /// When.
        at_ms: u64,
        /// How it ended.
        state: RunState,
    },
}

impl Event {
    /// The server an event concerns, if any.
    pub fn server(&self) -> Option<&Fqdn> {
        match self {
            Event::ServerStarted { server, .. }
            | Event::StepStarted { server, .. }
            | Event::StepOutput { server, .. }
            | Event::StepFinished { server, .. }
            | Event::OutageOpened { server, .. }
            | Event::OutageClosed { server, .. }
            | Event::ServerFinished { server, .. } => Some(server),
            Event::Warning { server, .. } => server.as_ref(),
            Event::RunStarted { .. } | Event::RunFinished { .. } => None,
        }
    }
}

/// A consumer of events. A sink that fails (a journal that cannot write) stops the run
/// before the next step.
pub trait EventSink {
    /// Takes one event.
    fn emit(&self, event: &Event) -> Result<(), String>;
}

/// Several sinks in order.
pub struct Fanout<'a>(pub Vec<&'a dyn EventSink>);

impl EventSink for Fanout<'_> {
    fn emit(&self, event: &Event) -> Result<(), String> {
        for s in &self.0 {
            s.emit(event)?;
        }
        Ok(())
    }
}

/// A sink that keeps every event in memory (rehearsals, tests).
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn emit(&self, event: &Event) -> Result<(), String> {
        self.0.lock().map_err(|e| e.to_string())?.push(event.clone());
        Ok(())
    }
}

impl Recorder {
    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

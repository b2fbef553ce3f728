//! What the journal returns: typed records (the core's vocabulary, never a free string for
//! a value of a closed set). Their JSON is the same words the columns hold.

use serde::Serialize;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, Outcome, RunState, ServerState};

/// ((server, step), mean minutes).
pub type StepMinutes = ((String, String), f64);

/// (server, step, attempt, outcome) of one attempt.
pub type AttemptRow = (String, Activity, u32, Option<Outcome>);

/// A run as listed by `history`.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Unix seconds.
    pub started_at: String,
    /// Unix seconds.
    pub finished_at: Option<String>,
    /// How it stands or ended.
    pub state: RunState,
    /// Servers in scope.
    pub servers: usize,
}

/// One server in `status`.
#[derive(Clone, Debug, Serialize)]
pub struct ServerStatus {
    /// The server.
    pub fqdn: String,
    /// Where it stands.
    pub state: ServerState,
    /// The step in flight (or the one that failed).
    pub current_step: Option<StepId>,
    /// Steps that succeeded, in the order they first did.
    pub completed_steps: Vec<StepId>,
    /// Why it failed.
    pub error: Option<String>,
    /// Commands to bring service back.
    pub recovery: Vec<String>,
}

/// `status` JSON.
#[derive(Clone, Debug, Serialize)]
pub struct RunStatus {
    /// Run id.
    pub run_id: String,
    /// How it stands or ended.
    pub state: RunState,
    /// Per server.
    pub servers: Vec<ServerStatus>,
}

/// What the end-of-run summary shows for one server, from the journal (so it covers every
/// resume of the run, not only the last process).
#[derive(Clone, Debug, Serialize)]
pub struct ServerReport {
    /// The server.
    pub fqdn: String,
    /// Build before the run touched it.
    pub build_before: Option<String>,
    /// Build read back by the last successful `verify`.
    pub build_after: Option<String>,
    /// Minutes of users' outage recorded (open outages count until now).
    pub outage_minutes: f64,
    /// An outage is still open.
    pub outage_open: bool,
    /// The installer asked for a restart that has not been done.
    pub reboot_pending: bool,
}

/// One step attempt, whole, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct AttemptRecord {
    /// The server.
    pub server: String,
    /// A step of the runbook, or the engine's own work (`reboot`, `recovery`, hooks,
    /// `install-logs`).
    pub step: Activity,
    /// Attempt, from 1, numbered across resumes.
    pub attempt: u32,
    /// The command sent.
    pub command: Option<String>,
    /// Start, in the transport's milliseconds.
    pub started_ms: i64,
    /// End, if it ended.
    pub finished_ms: Option<i64>,
    /// How it ended, or none (cut short).
    pub outcome: Option<Outcome>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Output kept.
    pub stdout: String,
    /// Errors kept.
    pub stderr: String,
}

/// An outage window.
#[derive(Clone, Debug, Serialize)]
pub struct OutageRecord {
    /// The server.
    pub server: String,
    /// Opened, in the transport's milliseconds.
    pub opened_ms: i64,
    /// Closed, if it was.
    pub closed_ms: Option<i64>,
}

/// A stored run.
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// Run id.
    pub id: String,
    /// How it stands or ended.
    pub state: RunState,
    /// The plan (JSON, `sfbpatch.plan/1` plus internal fields).
    pub plan: String,
    /// The run's parameters (JSON, the caller's format).
    pub params: String,
}

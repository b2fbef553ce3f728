//! What each cell of the fault matrix must end as, written from the engine's and the
//! simulator's rules (not from observed output). Each rule cites where it lives.

use sfbpatch_core::plan::ServerPlan;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::vocab::ServerResult;
use sfbpatch_sim::fault::FaultKind;

/// The fault kinds of the matrix, in column order (`Slow` with one factor).
pub const SLOW: f64 = 3.0;

pub fn kinds() -> [FaultKind; 7] {
    [
        FaultKind::Fail,
        FaultKind::Hang,
        FaultKind::Slow(SLOW),
        FaultKind::Reboot,
        FaultKind::Disconnect,
        FaultKind::Busy,
        FaultKind::NoCredentials,
    ]
}

/// A column's word (as `--fault` writes it).
pub fn kind_word(k: &FaultKind) -> String {
    match k {
        FaultKind::Slow(f) => format!("slow={f}"),
        FaultKind::Fail => "fail".into(),
        FaultKind::Hang => "hang".into(),
        FaultKind::Reboot => "reboot".into(),
        FaultKind::Disconnect => "disconnect".into(),
        FaultKind::Busy => "busy".into(),
        FaultKind::NoCredentials => "no-credentials".into(),
    }
}

/// A cell's expected end.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// `--fault` refuses the spec (fault.rs: reboot faults apply to install-update only).
    Refused,
    /// The server's procedure ends with these facts.
    Ends(End),
}

/// The facts a cell asserts exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct End {
    /// The server's result word.
    pub result: ServerResult,
    /// Attempts of the faulted step (1: no retry).
    pub attempts: u32,
    /// The engine restarted the server (the installer's 3010).
    pub reboot: bool,
    /// A `recovery` attempt ran (service brought back by `--on-failure restore`).
    pub restored: bool,
    /// Every SfB service, IIS and SQL instance runs at the end.
    pub services_running: bool,
    /// The server is failed over at the end.
    pub failed_over: bool,
    /// The server's result lists recovery commands for the operator.
    pub recovery_listed: bool,
    /// The loud "SERVICES ARE STOPPED" message (catalogue `failed-down`).
    pub loud: bool,
    /// The server's users' outage reached the budget (rehearse.rs `over_budget`), where the
    /// rules decide it; `None` where it rests on seeded durations (a Standard Edition
    /// server's whole procedure is drawn close to the 30-minute budget).
    pub over_budget: Option<bool>,
    /// Why this is a known defect instead of the rule's outcome (listed in the report).
    pub known_defect: Option<&'static str>,
    /// How the step ended, for the table: `ok`, `retry`, `busy`, `reboot`, `fail`, `lost-done`.
    pub word: &'static str,
}

impl End {
    fn updated(attempts: u32, word: &'static str) -> Self {
        End {
            result: ServerResult::Updated,
            attempts,
            reboot: false,
            restored: false,
            services_running: true,
            failed_over: false,
            recovery_listed: false,
            loud: false,
            over_budget: None,
            known_defect: None,
            word,
        }
    }
}

/// How the faulted step itself ends, before the server's consequences.
enum StepEnd {
    /// The fault never fires (nothing of the step reaches the simulator with that fault).
    NoOp,
    /// Succeeds after `n` attempts.
    Succeeds(u32, &'static str),
    /// Fails after `n` attempts.
    Fails(u32),
    /// The installer asks for a restart; the engine restarts and goes on.
    Reboots,
}

/// Whether the step sends anything the fault can act on. `close-shells` is a transport
/// action (`Transport::close_sessions`, attempt.rs `attempt_step`), never a command: no
/// fault fires there.
fn sends_command(step: StepId) -> bool {
    step != StepId::CloseShells
}

/// Whether the step's database cmdlet reaches a SQL Server on another machine: only a
/// `backend-databases` entry (its steps run from a Front End, scope.rs `targets`); a Standard
/// Edition server's and a seed back end's databases are local (estate cmdlets/database.rs:
/// `remote && no_credentials`).
fn remote_database(runbook: Runbook, step: StepId) -> bool {
    runbook == Runbook::BackendDatabases
        && matches!(step, StepId::TestDatabases | StepId::UpdateDatabases | StepId::CheckDatabases)
}

/// The step's own end under `kind`, from the rules:
/// * a definite error (an exit code) is never retried (attempt.rs `next`: `GiveUp` unless
///   transient);
/// * no answer or a dropped session is retried when the step is safe to repeat (runbook.rs
///   `spec().safe_to_repeat`, `RunOptions::retries` = 2 by default), and the fault fires once
///   (estate exec.rs `fault_for`), so the second attempt succeeds; a step not safe to repeat
///   (the install) is settled from the host (`Next::AskTheHost`, recovery.rs `postcondition`:
///   the build reached);
/// * staging is a transport copy (attempt.rs `stage`): a copy without an answer or whose
///   session dropped is retried like any step, a refused one is a definite error;
/// * Busy only changes `Get-CsPoolUpgradeReadinessState` (fault.rs), asked again after 10
///   minutes (attempt.rs `BUSY_WAIT`); NoCredentials only a remote database cmdlet; Reboot
///   only the install (the installer's 3010, then restart.rs `reboot`);
/// * Slow(3) stretches a step: nothing changes but time, unless the step's (seeded) duration
///   × 3 passes its timeout (runbook.rs `spec`): then it is a step that did not answer.
fn step_end(runbook: Runbook, step: StepId, kind: &FaultKind, seeded: Seeded) -> StepEnd {
    if !sends_command(step) {
        return StepEnd::NoOp;
    }
    let safe = step.spec().safe_to_repeat;
    match kind {
        FaultKind::Fail => StepEnd::Fails(1),
        // Stretched past its timeout, a step is a step that does not answer in time.
        FaultKind::Slow(_) if seeded.past_timeout => step_end(runbook, step, &FaultKind::Hang, seeded),
        FaultKind::Slow(_) => StepEnd::NoOp,
        FaultKind::Busy if step == StepId::Readiness => StepEnd::Succeeds(2, "busy"),
        FaultKind::NoCredentials if remote_database(runbook, step) => StepEnd::Fails(1),
        // A kind that does not act on this step leaves it to its own (seeded) duration, which
        // may pass its timeout by itself: then it is a step that did not answer in time.
        FaultKind::Busy | FaultKind::NoCredentials if seeded.past_timeout => {
            step_end(runbook, step, &FaultKind::Hang, seeded)
        }
        FaultKind::Busy | FaultKind::NoCredentials => StepEnd::NoOp,
        FaultKind::Reboot => StepEnd::Reboots,
        FaultKind::Hang | FaultKind::Disconnect if safe => StepEnd::Succeeds(2, "retry"),
        // Not safe to repeat: settled from the host. A hang applied nothing (exec.rs
        // `cut_short`); a dropped session applied it or not (seeded: `applied`).
        FaultKind::Disconnect if seeded.applied => StepEnd::Succeeds(1, "lost-done"),
        FaultKind::Hang | FaultKind::Disconnect => StepEnd::Fails(1),
    }
}

/// Whether the server is out of service because of this run when `step` fails
/// (procedure.rs `Progress::out_of_service`, and a failed failover counts: `run_server`):
/// inside the users' outage window the plan marks, failed over (a Front End from `failover`
/// until `failback` completes), or services stopped and not yet started.
fn out_of_service(sp: &ServerPlan, step: StepId) -> bool {
    let order: Vec<StepId> = sp.steps.iter().map(|s| s.id).collect();
    let at = order.iter().position(|s| *s == step).unwrap_or(0);
    let done = |id: StepId| order.iter().position(|s| *s == id).is_some_and(|i| i < at);
    let in_outage = sp.steps.get(at).is_some_and(|s| s.in_outage);
    let failed_over = step == StepId::Failover || (done(StepId::Failover) && !done(StepId::Failback));
    let stopped = done(StepId::StopServices) && !done(StepId::StartServices);
    in_outage || failed_over || stopped
}

/// What the seed decides in a cell (the simulator's draws, seeded per host: estate rng.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Seeded {
    /// A dropped session's command was applied (exec.rs `rng.chance(0.5)`); it matters only
    /// for the install, the one step not safe to repeat.
    pub applied: bool,
    /// The step's drawn duration (× the factor, for a slow one) passed its timeout.
    pub past_timeout: bool,
}

/// The expected end of `kind` at `step` of `sp` (a fresh estate, `--on-failure restore`, the
/// default), given what the seed drew.
pub fn expected(sp: &ServerPlan, step: StepId, kind: &FaultKind, seeded: Seeded) -> Expected {
    if *kind == FaultKind::Reboot && step != StepId::InstallUpdate {
        return Expected::Refused;
    }
    // A back end's `test-databases` runs first in the run's preflight (schedule.rs: every SQL
    // Server the run updates is tested before anything changes, with the step's retries), and
    // again as the entry's first step: one attempt more when the preflight passes.
    let preflight = u32::from(sp.runbook == Runbook::BackendDatabases && step == StepId::TestDatabases);
    Expected::Ends(End { over_budget: over_budget(sp, step, kind, seeded), ..ends(sp, step, kind, seeded, preflight) })
}

/// The outage bucket, where the rules decide it: a server whose plan opens no users' outage
/// (a Front End, a server whose pool keeps another up: scope.rs `in_outage_in_pool`) is never
/// over budget; a step inside the window that does not answer keeps it open for the step's
/// whole timeout (procedure.rs: the guard's marks only announce), so a timeout of the budget
/// or more puts it over. The simulated databases of a back end are not held by a command
/// that never answers (exec.rs: a hang changes nothing), so that rule is for SfB servers.
fn over_budget(sp: &ServerPlan, step: StepId, kind: &FaultKind, seeded: Seeded) -> Option<bool> {
    // The plan's default budget (DOMAIN.md §1: the 30-minute rule); the fixtures keep it.
    let budget = sfbpatch_core::plan::RESILIENCY_MINUTES;
    let window = sp.steps.iter().find(|s| s.id == step).is_some_and(|s| s.in_outage);
    let no_answer = *kind == FaultKind::Hang || (matches!(kind, FaultKind::Slow(_)) && seeded.past_timeout);
    let timeout_minutes = step.spec().timeout_seconds as f64 / 60.0;
    if !sp.steps.iter().any(|s| s.in_outage) {
        Some(false)
    } else if sp.runbook.has_sfb() && window && no_answer && timeout_minutes >= budget {
        Some(true)
    } else {
        None
    }
}

fn ends(sp: &ServerPlan, step: StepId, kind: &FaultKind, seeded: Seeded, preflight: u32) -> End {
    match step_end(sp.runbook, step, kind, seeded) {
        StepEnd::NoOp => End::updated(1 + preflight, "ok"),
        StepEnd::Succeeds(n, word) => End::updated(n + preflight, word),
        StepEnd::Reboots => End { reboot: true, ..End::updated(1, "reboot") },
        // recovery.rs `fail_and_restore`: out of service → the plan's recovery commands run
        // (a failed-over Front End always, others by `--on-failure restore`), the state is
        // read back, and only a server still down keeps them listed with the loud message.
        // Service is back in every cell (the fault fired once), so none is listed.
        StepEnd::Fails(n) => {
            let out = out_of_service(sp, step);
            End {
                result: ServerResult::Failed,
                attempts: n,
                restored: out && !sp.recovery(step).is_empty(),
                word: if out { "restored" } else { "fail" },
                ..End::updated(n, "fail")
            }
        }
    }
}

/// A definite failure (`fail`) at `step` with `--on-failure stop`: nothing is brought back
/// except a failed-over Front End, which is always failed back (recovery.rs
/// `fail_and_restore`: `restore_now`). A server whose services this run stopped (a completed
/// `stop-services` before `start-services`, procedure.rs `Progress::out_of_service`) is left
/// so, and must say so loudly with the commands that bring it back; a back end's databases
/// are available again once the command has ended (`has_sfb`), and a server the failing
/// step found running is read back running.
pub fn expected_stop(sp: &ServerPlan, step: StepId) -> End {
    if !sends_command(step) {
        return End::updated(1, "ok");
    }
    let out = out_of_service(sp, step);
    let order: Vec<StepId> = sp.steps.iter().map(|s| s.id).collect();
    let at = order.iter().position(|s| *s == step).unwrap_or(0);
    let done = |id: StepId| order.iter().position(|s| *s == id).is_some_and(|i| i < at);
    let front_end = sp.runbook == Runbook::FrontEnd;
    let down = !front_end && sp.runbook.has_sfb() && done(StepId::StopServices) && !done(StepId::StartServices);
    End {
        result: ServerResult::Failed,
        restored: out && front_end,
        services_running: !down,
        recovery_listed: down,
        loud: down,
        word: if down {
            "down"
        } else if out && front_end {
            "restored"
        } else {
            "fail"
        },
        ..End::updated(1, "fail")
    }
}

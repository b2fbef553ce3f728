//! The model of a simulated Skype for Business estate, faithful to the documented rules
//! (DOMAIN.md §4), on a virtual clock.
//!
//! * [`estate`]: one [`estate::Host`] per server of a topology: services, builds, files,
//!   shell sessions, databases with schema versions, accounts, an operation log, and the
//!   intervals during which each server was down.
//! * [`exec`]: hosts execute the *text* of PowerShell commands, parsed with a real
//!   PowerShell grammar; what a real server would refuse, the simulator refuses too. The
//!   cmdlets themselves are a table, one module per family (`cmdlets`).
//! * [`pools`]: Front End pools: quorum, failovers, users moved, quorum loss.
//! * [`fault`]: faults injected per server and step (`SERVER:STEP:KIND`).
//! * [`users`]: what the users of each pool lived through (resiliency, signed out), from the
//!   service states over virtual time.
//! * [`generate`]: generated topologies in the real XML format.
//!
//! Time is virtual (milliseconds) and randomness comes from a per-host seeded generator:
//! the same seed gives the same rehearsal, byte for byte. No I/O and no async runtime: the
//! rehearsal, the engine's transport and the `sim shell` endpoint live in `sfbpatch-sim`.

mod bind;
mod cmdlets;
pub mod estate;
pub mod exec;
pub mod fault;
pub mod generate;
mod inventory;
pub mod lag;
pub mod pools;
mod rng;
pub mod users;
mod vars;

/// Virtual time, in milliseconds since the start of the simulation.
pub type Ms = u64;

/// Milliseconds in a minute.
pub const MINUTE: Ms = 60_000;

/// Minutes as a float, rounded to 0.01, for reports.
pub fn minutes(ms: Ms) -> f64 {
    ((ms as f64) / (MINUTE as f64) * 100.0).round() / 100.0
}

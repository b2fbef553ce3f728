//! The typed vocabulary every crate shares: how a server ended, how a run ended, how an
//! attempt ended, which output stream, and what kind of work an attempt was.
//!
//! Closed enums, as systemd's `job.h` keeps job types, states and results: strings exist only
//! at the edges (JSON, the journal's columns, flags), through `as_str` and `FromStr`, so one
//! word names one outcome in every schema. Older words that earlier releases wrote are read
//! back by `FromStr` (`ok` for `succeeded`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runbook::StepId;

/// A word that is not one of a vocabulary's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?}")]
pub struct UnknownWord {
    /// Which vocabulary.
    pub what: &'static str,
    /// The word.
    pub word: String,
}

/// Declares a closed enum with its public words (the first word is the one written; any
/// further words are older ones still read), `as_str`, `Display`, `FromStr` and serde.
macro_rules! words {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident => $w:literal $(| $old:literal)*,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)+];

            /// The public word.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $w,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($w $(| $old)* => Ok($name::$v),)+
                    _ => Err(UnknownWord { what: $what, word: s.to_owned() }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The same declaration for the other modules' words (`scope::Scope`).
pub(crate) use words;

words! {
    /// How a server's procedure ended.
    ServerResult, "server result" {
        /// Every step done and checked.
        Updated => "updated",
        /// A step failed (service brought back or not: see the recovery commands).
        Failed => "failed",
        /// Never touched (a failure earlier in its pool, a refused outage, a pre-hook).
        NotStarted => "not-started",
        /// The run stopped before this server finished.
        Interrupted => "interrupted",
        /// Already at the target before anything changed (its build, and for a database
        /// entry its databases): left alone, no outage (issue 13, idempotent runs).
        AlreadyCurrent => "already-current",
    }
}

impl ServerResult {
    /// Nothing is left to do on the server: updated by this run, or already current.
    pub fn is_done(self) -> bool {
        matches!(self, ServerResult::Updated | ServerResult::AlreadyCurrent)
    }
}

words! {
    /// Where a server stands in a run (the journal's `servers.state`).
    ServerState, "server state" {
        /// Not reached yet.
        Pending => "pending",
        /// Being worked on.
        Running => "running",
        /// Ended: updated.
        Updated => "updated",
        /// Ended: failed.
        Failed => "failed",
        /// Ended: not started.
        NotStarted => "not-started",
        /// Ended: interrupted.
        Interrupted => "interrupted",
        /// Ended: already at the target, left alone.
        AlreadyCurrent => "already-current",
    }
}

impl From<ServerResult> for ServerState {
    fn from(r: ServerResult) -> Self {
        match r {
            ServerResult::Updated => ServerState::Updated,
            ServerResult::Failed => ServerState::Failed,
            ServerResult::NotStarted => ServerState::NotStarted,
            ServerResult::Interrupted => ServerState::Interrupted,
            ServerResult::AlreadyCurrent => ServerState::AlreadyCurrent,
        }
    }
}

words! {
    /// How a run stands or ended.
    RunState, "run state" {
        /// In progress (or its process died: `resume` it).
        Running => "running",
        /// Every server updated.
        Completed => "completed",
        /// At least one server failed or was not started.
        Failed => "failed",
        /// Stopped cleanly before the end (Ctrl-C, a journal that could not write).
        Interrupted => "interrupted",
    }
}

words! {
    /// How one attempt of a step (or of the engine's own work) ended.
    Outcome, "outcome" {
        /// It did what it should (read back).
        Succeeded => "succeeded" | "ok",
        /// It succeeded and the server needs a restart.
        SucceededRebootPending => "succeeded-reboot-pending",
        /// It failed.
        Failed => "failed",
    }
}

impl Outcome {
    /// Succeeded, with or without a restart pending.
    pub fn is_success(self) -> bool {
        self != Outcome::Failed
    }
}

words! {
    /// Which output stream.
    Stream, "stream" {
        /// Standard output.
        Stdout => "stdout",
        /// Standard error.
        Stderr => "stderr",
    }
}

/// The engine's own work, beside the runbook's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineWork {
    /// The operator's hook before a server is touched.
    PreHook,
    /// The operator's hook after a server was updated.
    PostHook,
    /// A restart the installer asked for, in stages.
    Reboot,
    /// Commands that bring service back after a failure inside the outage.
    Recovery,
    /// The installer's logs copied into the journal.
    InstallLogs,
}

impl EngineWork {
    /// Every kind.
    pub const ALL: [EngineWork; 5] =
        [EngineWork::PreHook, EngineWork::PostHook, EngineWork::Reboot, EngineWork::Recovery, EngineWork::InstallLogs];

    /// The public word.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineWork::PreHook => "pre-hook",
            EngineWork::PostHook => "post-hook",
            EngineWork::Reboot => "reboot",
            EngineWork::Recovery => "recovery",
            EngineWork::InstallLogs => "install-logs",
        }
    }
}

/// What an attempt was: a runbook step, or the engine's own work. Its word is the step id,
/// or `pre-hook`, `post-hook`, `reboot`, `recovery`, `install-logs` (the journal's
/// `attempts.step` column and every JSON schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activity {
    /// A step of the runbook.
    Step(StepId),
    /// The engine's own work.
    Engine(EngineWork),
}

impl Activity {
    /// The public word.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Step(s) => s.as_str(),
            Activity::Engine(w) => w.as_str(),
        }
    }

    /// The runbook step, if it is one.
    pub fn step(self) -> Option<StepId> {
        match self {
            Activity::Step(s) => Some(s),
            Activity::Engine(_) => None,
        }
    }
}

impl From<StepId> for Activity {
    fn from(s: StepId) -> Self {
        Activity::Step(s)
    }
}

impl From<EngineWork> for Activity {
    fn from(w: EngineWork) -> Self {
        Activity::Engine(w)
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Activity {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(step) = s.parse::<StepId>() {
            return Ok(Activity::Step(step));
        }
        EngineWork::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .map(Activity::Engine)
            .ok_or_else(|| UnknownWord { what: "activity", word: s.to_owned() })
    }
}

impl Serialize for Activity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Activity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Milliseconds of resiliency mode that a back end's outage windows give its pool's users
/// (DOMAIN.md §1 and §4 rule 10): nothing for the first [`crate::plan::RESILIENCY_MINUTES`]
/// of each window, every millisecond after that. Two short outages are not one long one.
/// The one computation the simulator and the reports share.
pub fn resiliency_ms(windows: impl IntoIterator<Item = u64>) -> u64 {
    let threshold = (crate::plan::RESILIENCY_MINUTES * 60_000.0) as u64;
    windows.into_iter().map(|w| w.saturating_sub(threshold)).sum()
}

/// Milliseconds as minutes rounded *up* to 0.01, so that a positive duration never reads as
/// zero: the one rounding of users' minutes (resiliency, signed out) in every report.
pub fn minutes_up(ms: u64) -> f64 {
    ((ms as f64) / 60_000.0 * 100.0).ceil() / 100.0
}

/// Lower-case hexadecimal of a digest (SHA-256 values everywhere in sfbpatch).
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for r in ServerResult::ALL {
            assert_eq!(r.as_str().parse::<ServerResult>(), Ok(*r));
        }
        for r in ServerState::ALL {
            assert_eq!(r.as_str().parse::<ServerState>(), Ok(*r));
        }
        for r in RunState::ALL {
            assert_eq!(r.as_str().parse::<RunState>(), Ok(*r));
        }
        for r in Outcome::ALL {
            assert_eq!(r.as_str().parse::<Outcome>(), Ok(*r));
        }
        for s in StepId::ALL {
            assert_eq!(s.as_str().parse::<Activity>(), Ok(Activity::Step(s)));
        }
        for w in EngineWork::ALL {
            assert_eq!(w.as_str().parse::<Activity>(), Ok(Activity::Engine(w)));
        }
    }

    #[test]
    fn words_line_up_in_text_tables() {
        assert_eq!(format!("{:<12}|", ServerState::Updated), "updated     |");
        assert_eq!(format!("{:<20}|", Activity::Step(StepId::Verify)), "verify              |");
        assert_eq!(format!("{:>8}", RunState::Failed), "  failed");
    }

    #[test]
    fn the_older_word_for_success_is_still_read() {
        assert_eq!("ok".parse::<Outcome>(), Ok(Outcome::Succeeded));
        assert_eq!(Outcome::Succeeded.as_str(), "succeeded");
        assert!("done".parse::<Outcome>().is_err());
    }

    #[test]
    fn resiliency_starts_at_the_threshold() {
        assert_eq!(resiliency_ms([29 * 60_000]), 0);
        assert_eq!(resiliency_ms([30 * 60_000]), 0);
        assert_eq!(resiliency_ms([36 * 60_000]), 6 * 60_000);
        assert_eq!(resiliency_ms([20 * 60_000, 20 * 60_000]), 0, "two short outages are not one long one");
        assert_eq!(minutes_up(90_001), 1.51);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}

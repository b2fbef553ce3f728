//! Step ids and their fixed properties: the stable vocabulary of every runbook.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use sfbpatch_i18n::{Lang, text};

/// A step of the procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepId {
    /// 1. Log on as a member of CsAdministrator.
    CheckRole,
    /// 2. Put the update on the server's local disk (and check it).
    StagePackage,
    /// 3. Start the Management Shell.
    OpenShell,
    /// 4. `Stop-CsWindowsService`: the users' outage starts here.
    StopServices,
    /// 5. `net stop w3svc`.
    StopW3svc,
    /// 6. Close every Management Shell.
    CloseShells,
    /// 7. Install the update.
    InstallUpdate,
    /// 8. Start a new Management Shell.
    ReopenShell,
    /// 9. `Stop-CsWindowsService` again (services the installer restarted; GAC assemblies).
    StopServicesAgain,
    /// 10. `net start w3svc`.
    StartW3svc,
    /// 11. `Install-CsDatabase -Update …`, one of three variants.
    UpdateDatabases,
    /// `Start-CsWindowsService`: the users' outage ends when this succeeds.
    StartServices,
    /// Every SfB service running and the new build installed.
    Verify,
    /// Front End: `Get-CsPoolFabricState -PoolFqdn` (missing replicas stop the pool's update).
    FabricCheck,
    /// Front End: `Get-CsPoolUpgradeReadinessState` (Busy: wait 10 minutes and ask again).
    Readiness,
    /// Front End: `Invoke-CsComputerFailOver` (users moved, services stopped and disabled).
    Failover,
    /// Front End: `Invoke-CsComputerFailBack` (back into service).
    Failback,
    /// `Test-CsDatabase` before the database update: what needs updating.
    TestDatabases,
    /// `Test-CsDatabase` after it: every database at its expected version.
    CheckDatabases,
}

impl StepId {
    /// Every step of every runbook.
    pub const ALL: [StepId; 19] = [
        StepId::CheckRole,
        StepId::StagePackage,
        StepId::OpenShell,
        StepId::FabricCheck,
        StepId::Readiness,
        StepId::TestDatabases,
        StepId::Failover,
        StepId::StopServices,
        StepId::StopW3svc,
        StepId::CloseShells,
        StepId::InstallUpdate,
        StepId::ReopenShell,
        StepId::StopServicesAgain,
        StepId::StartW3svc,
        StepId::UpdateDatabases,
        StepId::StartServices,
        StepId::CheckDatabases,
        StepId::Failback,
        StepId::Verify,
    ];

    /// The seed's procedure (its eleven steps, `start-services` and `verify`), in order.
    pub const SEED: [StepId; 13] = [
        StepId::CheckRole,
        StepId::StagePackage,
        StepId::OpenShell,
        StepId::StopServices,
        StepId::StopW3svc,
        StepId::CloseShells,
        StepId::InstallUpdate,
        StepId::ReopenShell,
        StepId::StopServicesAgain,
        StepId::StartW3svc,
        StepId::UpdateDatabases,
        StepId::StartServices,
        StepId::Verify,
    ];

    /// The stable id.
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::CheckRole => "check-role",
            StepId::StagePackage => "stage-package",
            StepId::OpenShell => "open-shell",
            StepId::StopServices => "stop-services",
            StepId::StopW3svc => "stop-w3svc",
            StepId::CloseShells => "close-shells",
            StepId::InstallUpdate => "install-update",
            StepId::ReopenShell => "reopen-shell",
            StepId::StopServicesAgain => "stop-services-again",
            StepId::StartW3svc => "start-w3svc",
            StepId::UpdateDatabases => "update-databases",
            StepId::StartServices => "start-services",
            StepId::Verify => "verify",
            StepId::FabricCheck => "fabric-check",
            StepId::Readiness => "readiness",
            StepId::Failover => "failover",
            StepId::Failback => "failback",
            StepId::TestDatabases => "test-databases",
            StepId::CheckDatabases => "check-databases",
        }
    }

    /// The step's number in the seed document (1–11), if it is one of the seed's.
    pub fn seed_number(self) -> Option<u8> {
        let i = StepId::SEED.iter().position(|s| *s == self)?;
        (i < 11).then(|| u8::try_from(i + 1).unwrap_or(0))
    }

    /// The step's title in `lang`.
    pub fn title(self, lang: Lang) -> String {
        text(lang, &format!("step.{}.title", self.as_str()))
    }

    /// A sentence on what the step does and why, in `lang`.
    pub fn detail(self, lang: Lang) -> String {
        text(lang, &format!("step.{}.detail", self.as_str()))
    }

    /// The fixed properties of this step.
    pub fn spec(self) -> StepSpec {
        // (in outage, safe to run twice, timeout minutes, estimated minutes)
        let (in_outage, repeatable, timeout, estimate) = match self {
            StepId::CheckRole => (false, true, 2, 0.2),
            StepId::StagePackage => (false, true, 30, 1.0),
            StepId::OpenShell => (false, true, 3, 0.3),
            StepId::StopServices => (true, true, 15, 2.5),
            StepId::StopW3svc => (true, true, 5, 0.5),
            StepId::CloseShells => (true, true, 2, 0.1),
            StepId::InstallUpdate => (true, false, 60, 12.0),
            StepId::ReopenShell => (true, true, 3, 0.4),
            StepId::StopServicesAgain => (true, true, 15, 1.5),
            StepId::StartW3svc => (true, true, 5, 0.5),
            StepId::UpdateDatabases => (true, true, 30, 3.0),
            StepId::StartServices => (true, true, 20, 3.0),
            StepId::Verify => (false, true, 5, 0.5),
            StepId::FabricCheck => (false, true, 5, 0.5),
            // Three Busy answers ten minutes apart are the documented limit (research §4.2).
            // It answers once the pool's replicas are placed, which takes minutes after a failback.
            StepId::Readiness => (false, true, 20, 0.3),
            // `-WaitTime` defaults to one hour (DOMAIN.md §2).
            StepId::Failover => (false, true, 65, 6.0),
            StepId::Failback => (false, true, 30, 4.0),
            StepId::TestDatabases | StepId::CheckDatabases => (false, true, 5, 0.5),
        };
        StepSpec { in_outage, safe_to_repeat: repeatable, timeout_seconds: timeout * 60, estimated_minutes: estimate }
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for StepId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Returned by [`StepId::from_str`] for an unknown id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown step {0:?}")]
pub struct UnknownStep(pub String);

impl FromStr for StepId {
    type Err = UnknownStep;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StepId::ALL.into_iter().find(|id| id.as_str() == s).ok_or_else(|| UnknownStep(s.to_owned()))
    }
}

/// Fixed properties of a step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepSpec {
    /// Inside the users' outage window (from `stop-services` until `start-services` succeeds).
    pub in_outage: bool,
    /// Running it a second time does no harm (the engine may retry it, or re-run it on resume).
    pub safe_to_repeat: bool,
    /// Default timeout.
    pub timeout_seconds: u64,
    /// Typical duration, for outage projections.
    pub estimated_minutes: f64,
}

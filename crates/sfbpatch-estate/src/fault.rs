//! Faults injected into a rehearsal: `SERVER:STEP:KIND`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;

/// What goes wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The command exits non-zero with an error message.
    Fail,
    /// The command never completes: the step's timeout must catch it.
    Hang,
    /// The command takes this many times as long.
    Slow(f64),
    /// The installer returns 3010 and services stay down until a restart.
    Reboot,
    /// The session drops mid-step; the operation may or may not have been applied (seeded).
    Disconnect,
    /// `Get-CsPoolUpgradeReadinessState` answers `Busy` (issue10-sources.md §4.2: retry
    /// after 10 minutes). Other commands are unaffected.
    Busy,
    /// The session has no network credentials (DOMAIN.md §5, the double hop): a remote SQL
    /// Server cannot be reached from it.
    NoCredentials,
}

/// A fault on one step of one server.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// The server.
    pub server: Fqdn,
    /// The step.
    pub step: StepId,
    /// What happens.
    pub kind: FaultKind,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            FaultKind::Fail => "fail".to_owned(),
            FaultKind::Hang => "hang".to_owned(),
            FaultKind::Slow(x) => format!("slow={x}"),
            FaultKind::Reboot => "reboot".to_owned(),
            FaultKind::Disconnect => "disconnect".to_owned(),
            FaultKind::Busy => "busy".to_owned(),
            FaultKind::NoCredentials => "no-credentials".to_owned(),
        };
        write!(f, "{}:{}:{kind}", self.server, self.step)
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a fault specification was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// Not three `:`-separated parts.
    #[error("{0:?} is not SERVER:STEP:KIND")]
    Shape(String),
    /// The server part is not an FQDN.
    #[error("{0:?} is not a valid server FQDN")]
    Server(String),
    /// Unknown step id.
    #[error("{0:?} is not a step id")]
    Step(String),
    /// Unknown kind, or a bad factor.
    #[error("{0:?} is not a fault kind (fail, hang, slow=F with F > 0, reboot, disconnect, busy, no-credentials)")]
    Kind(String),
    /// `reboot` on a step other than the install.
    #[error("reboot faults apply to install-update only")]
    RebootStep,
}

impl FromStr for Fault {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [server, step, kind] = parts.as_slice() else {
            return Err(FaultError::Shape(s.to_owned()));
        };
        let server = Fqdn::parse(server.trim()).map_err(|_| FaultError::Server((*server).to_owned()))?;
        let step: StepId = step.trim().parse().map_err(|_| FaultError::Step((*step).to_owned()))?;
        let kind = match kind.trim() {
            "fail" => FaultKind::Fail,
            "hang" => FaultKind::Hang,
            "reboot" => FaultKind::Reboot,
            "disconnect" => FaultKind::Disconnect,
            "busy" => FaultKind::Busy,
            "no-credentials" => FaultKind::NoCredentials,
            k => match k.strip_prefix("slow=").map(str::parse::<f64>) {
                Some(Ok(f)) if f.is_finite() && f > 0.0 && f <= 1000.0 => FaultKind::Slow(f),
                _ => return Err(FaultError::Kind(k.to_owned())),
            },
        };
        if kind == FaultKind::Reboot && step != StepId::InstallUpdate {
            return Err(FaultError::RebootStep);
        }
        Ok(Fault { server, step, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_refuses_nonsense() {
        let f: Fault = "sql01.contoso.local:install-update:slow=2.5".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.kind, FaultKind::Slow(2.5));
        assert_eq!(f.to_string(), "sql01.contoso.local:install-update:slow=2.5");
        for ok in [
            "a.b:stop-services:fail",
            "a.b:verify:hang",
            "a.b:install-update:reboot",
            "a.b:start-w3svc:disconnect",
            "a.b:verify:busy",
            "a.b:update-databases:no-credentials",
        ] {
            assert!(ok.parse::<Fault>().is_ok(), "{ok}");
        }
        for bad in [
            "a.b:stop-services",
            "a.b:nope:fail",
            "a b:verify:fail",
            "a.b:verify:slow=0",
            "a.b:verify:slow=x",
            "a.b:verify:reboot",
            "a.b:verify:explode",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }
}

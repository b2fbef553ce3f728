//! Pure verdicts: what a completed command's output means for its step. No I/O, no clock:
//! the attempt module runs the command, these functions decide, and a verdict that needs the
//! host's state says which read-back it needs.

use sfbpatch_core::readback::{self, Build};
use sfbpatch_core::readback_pool::{self, PoolUpgradeState};
use sfbpatch_core::runbook::{InstallOutcome, StepId, classify_install_exit};

use crate::transport::CommandOutput;

/// Why a step failed, as data: the sentence is written by the caller, from the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A non-zero exit code (with the first line of what the command said).
    ExitCode,
    /// The installer exited 0 but the build read back is not the new one.
    InstallerBuild(Vec<Build>),
    /// The account lacks CsAdministrator.
    NotCsAdministrator,
    /// The staged package's hash differs.
    HashMismatch {
        /// What the server computed.
        got: String,
    },
    /// No hash in the output.
    NoHash,
    /// Services are not all in the wanted state.
    Services {
        /// Whether they should be running.
        want_running: bool,
    },
    /// `verify` printed no service states.
    NoServiceStates,
    /// `verify`: these services are not running.
    Stopped(Vec<String>),
    /// `verify`: components not at the new build.
    BuildNotReached(Vec<Build>),
    /// The pool's fabric shows missing replicas.
    MissingReplicas(usize),
    /// The pool says Busy: ask again in 10 minutes (three times at most).
    Busy,
    /// The pool says too few Front Ends run to take one out.
    InsufficientActiveFrontEnds,
    /// No `PoolUpgradeState` in the output.
    NoReadiness,
    /// `Test-CsDatabase`: these databases are not at their expected version.
    DatabasesBehind(Vec<String>),
    /// `Test-CsDatabase` listed no database.
    NoDatabases,
    /// The databases are mirrored (`MirrorSqlServerFqdn`): `-Update` cannot be used against
    /// them (cmdlet reference); the documented manual steps come first.
    Mirrored {
        /// The mirror.
        mirror: String,
    },
}

/// What a step's output means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Done.
    Succeeded,
    /// Done, and the server needs a restart (installer 3010/1641).
    SucceededRebootPending,
    /// Failed.
    Failed(Failure),
    /// The output alone cannot tell: read the SfB services back (running or stopped).
    CheckServices {
        /// Whether they should all be running.
        running: bool,
    },
    /// The installer said 0: read the installed build back before believing it.
    CheckBuild,
}

/// What the verdicts compare against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect<'a> {
    /// The build the package installs, when known.
    pub target: Option<&'a Build>,
    /// The build before the run touched the server.
    pub before: Option<&'a Build>,
    /// The package's SHA-256 (lower-case hex).
    pub sha256: &'a str,
}

/// The builds `Get-CsServerPatchVersion` printed.
pub fn builds(stdout: &str) -> Vec<Build> {
    readback::parse_patch_versions(stdout).into_iter().map(|(_, b)| b).collect()
}

/// Whether every component reached the new build: the target when known, else newer than
/// before. With neither, nothing can be claimed.
pub fn build_reached(builds: &[Build], x: &Expect<'_>) -> bool {
    if builds.is_empty() {
        return false;
    }
    match (x.target, x.before) {
        (Some(t), _) => builds.iter().all(|b| b >= t),
        (None, Some(b0)) => builds.iter().all(|b| b > b0),
        (None, None) => false,
    }
}

/// Whether `Get-CsWindowsService`'s output shows every SfB service running (or stopped).
pub fn services_in_state(stdout: &str, running: bool) -> bool {
    let s = readback::parse_services(stdout);
    !s.is_empty() && s.iter().all(|x| x.is_running() == running)
}

/// The verdict on a step's completed command.
pub fn judge(step: StepId, o: &CommandOutput, x: &Expect<'_>) -> Verdict {
    match step {
        StepId::InstallUpdate => match classify_install_exit(i64::from(o.exit_code)) {
            InstallOutcome::Failed => Verdict::Failed(Failure::ExitCode),
            // The installer's exit codes are undocumented (DOMAIN.md §2): the build decides.
            InstallOutcome::Succeeded => Verdict::CheckBuild,
            InstallOutcome::SucceededRebootPending => Verdict::SucceededRebootPending,
        },
        StepId::StartW3svc | StepId::StopW3svc
            if readback::net_already_in_state(step == StepId::StartW3svc, o.exit_code, &o.stderr) =>
        {
            Verdict::Succeeded
        }
        _ if o.exit_code != 0 => Verdict::Failed(Failure::ExitCode),
        StepId::CheckRole if !readback::has_role(&o.stdout, "CsAdministrator") => {
            Verdict::Failed(Failure::NotCsAdministrator)
        }
        StepId::StagePackage => match readback::parse_file_hash(&o.stdout) {
            Some(h) if h == x.sha256 => Verdict::Succeeded,
            Some(got) => Verdict::Failed(Failure::HashMismatch { got }),
            None => Verdict::Failed(Failure::NoHash),
        },
        // Failover stops (and disables) the server's services; failback starts them.
        StepId::StopServices | StepId::StopServicesAgain | StepId::Failover => {
            Verdict::CheckServices { running: false }
        }
        StepId::StartServices | StepId::Failback => Verdict::CheckServices { running: true },
        StepId::FabricCheck => match readback_pool::missing_replicas(&o.stdout) {
            0 => Verdict::Succeeded,
            n => Verdict::Failed(Failure::MissingReplicas(n)),
        },
        StepId::Readiness => match readback_pool::parse_readiness(&o.stdout) {
            Some(PoolUpgradeState::Ready) => Verdict::Succeeded,
            Some(PoolUpgradeState::Busy) => Verdict::Failed(Failure::Busy),
            Some(PoolUpgradeState::InsufficientActiveFrontEnds) => {
                Verdict::Failed(Failure::InsufficientActiveFrontEnds)
            }
            None => Verdict::Failed(Failure::NoReadiness),
        },
        StepId::CheckDatabases => databases_current(&o.stdout),
        // Before the update: a mirrored back end is refused here, before its outage, rather
        // than failing halfway (`Install-CsDatabase -Update` refuses mirrored databases).
        StepId::TestDatabases => {
            match readback_pool::parse_test_database(&o.stdout).into_iter().find(|d| !d.mirror.is_empty()) {
                Some(d) => Verdict::Failed(Failure::Mirrored { mirror: d.mirror }),
                None => Verdict::Succeeded,
            }
        }
        StepId::Verify => verify(o, x),
        _ => Verdict::Succeeded,
    }
}

/// `check-databases`: every database `Test-CsDatabase` lists is at its expected version.
pub(crate) fn databases_current(stdout: &str) -> Verdict {
    let dbs = readback_pool::parse_test_database(stdout);
    let behind: Vec<String> = dbs
        .iter()
        // Behind: `Succeed` false, or an installed version shown and not the expected one
        // (Microsoft's sample leaves it blank on success: research §2.1).
        .filter(|d| !d.current || (!d.installed.is_empty() && !d.expected.is_empty() && d.installed != d.expected))
        .map(|d| format!("{}\\{}\\{} ({} → {})", d.sql_server_fqdn, d.instance, d.database, d.installed, d.expected))
        .collect();
    if dbs.is_empty() {
        Verdict::Failed(Failure::NoDatabases)
    } else if !behind.is_empty() {
        Verdict::Failed(Failure::DatabasesBehind(behind))
    } else {
        Verdict::Succeeded
    }
}

/// `verify`: every SfB service and IIS running, every component at the new build.
fn verify(o: &CommandOutput, x: &Expect<'_>) -> Verdict {
    let services = readback::parse_services(&o.stdout);
    let stopped: Vec<String> = services.iter().filter(|s| !s.is_running()).map(|s| s.name.clone()).collect();
    let builds = builds(&o.stdout);
    if services.is_empty() {
        Verdict::Failed(Failure::NoServiceStates)
    } else if !stopped.is_empty() {
        Verdict::Failed(Failure::Stopped(stopped))
    } else if !build_reached(&builds, x) {
        Verdict::Failed(Failure::BuildNotReached(builds))
    } else {
        Verdict::Succeeded
    }
}

/// The verdict once the build was read back after an installer exit 0.
pub fn judge_build(patch_versions_stdout: &str, x: &Expect<'_>) -> Verdict {
    let b = builds(patch_versions_stdout);
    if build_reached(&b, x) { Verdict::Succeeded } else { Verdict::Failed(Failure::InstallerBuild(b)) }
}

/// The verdict once the services were read back.
pub fn judge_services(services_stdout: &str, running: bool) -> Verdict {
    if services_in_state(services_stdout, running) {
        Verdict::Succeeded
    } else {
        Verdict::Failed(Failure::Services { want_running: running })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(exit_code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput { exit_code, stdout: stdout.into(), stderr: stderr.into() }
    }

    fn build(s: &str) -> Build {
        match s.parse() {
            Ok(b) => b,
            Err(e) => panic!("{s}: {e:?}"),
        }
    }

    const RUNNING: &str = "Status   Name     DisplayName\n------   ----     -----------\nRunning  RTCSRV   Skype for Business Server Front-End\nRunning  REPLICA  Skype for Business Server Replica Replicator Agent\nRunning  W3SVC    World Wide Web Publishing Service\n";
    const ONE_STOPPED: &str = "Status   Name     DisplayName\n------   ----     -----------\nRunning  RTCSRV   Skype for Business Server Front-End\nStopped  REPLICA  Skype for Business Server Replica Replicator Agent\n";
    const STOPPED: &str = "Status   Name     DisplayName\n------   ----     -----------\nStopped  RTCSRV   Skype for Business Server Front-End\nStopped  REPLICA  Skype for Business Server Replica Replicator Agent\n";

    fn db(current: bool) -> String {
        let (installed, ok) = if current { ("15.13.13", "True") } else { ("15.13.12", "False") };
        format!(
            "SqlServerFqdn         : sql01.contoso.local\nSqlInstanceName       : rtc\nDatabaseName          : rtcxds\nExpectedVersion       : 15.13.13\nInstalledVersion      : {installed}\nSucceed               : {ok}\n"
        )
    }

    fn patch(build: &str) -> String {
        format!(
            "ComponentName                         Version      Status\n-------------                         -------      ------\nSkype for Business Server 2019, Core  {build}  The version is up to date\n"
        )
    }

    #[test]
    fn what_each_output_means() {
        let old = build("7.0.2046.0");
        let new = build("7.0.2046.520");
        let sha = "ab".repeat(32);
        let x = Expect { target: Some(&new), before: Some(&old), sha256: &sha };
        let verified = format!("{RUNNING}{}", patch("7.0.2046.520"));
        let verified_old = format!("{RUNNING}{}", patch("7.0.2046.0"));
        let hash = format!("Algorithm Hash Path\n--------- ---- ----\nSHA256    {}  C:\\p.exe\n", "AB".repeat(32));
        let cases: Vec<(StepId, CommandOutput, Verdict)> = vec![
            (StepId::InstallUpdate, out(0, "", ""), Verdict::CheckBuild),
            (StepId::InstallUpdate, out(3010, "", ""), Verdict::SucceededRebootPending),
            (StepId::InstallUpdate, out(1641, "", ""), Verdict::SucceededRebootPending),
            (StepId::InstallUpdate, out(1603, "", "fatal"), Verdict::Failed(Failure::ExitCode)),
            (StepId::InstallUpdate, out(1618, "", ""), Verdict::Failed(Failure::ExitCode)),
            (StepId::StopServices, out(0, "", ""), Verdict::CheckServices { running: false }),
            (StepId::StopServicesAgain, out(0, "", ""), Verdict::CheckServices { running: false }),
            (StepId::StartServices, out(0, "", ""), Verdict::CheckServices { running: true }),
            (StepId::StartServices, out(1, "", "boom"), Verdict::Failed(Failure::ExitCode)),
            (
                StepId::StopW3svc,
                out(
                    2,
                    "",
                    "The World Wide Web Publishing Service service is not started.\n\nMore help is available by typing NET HELPMSG 3521.",
                ),
                Verdict::Succeeded,
            ),
            (
                StepId::StartW3svc,
                out(
                    2,
                    "",
                    "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.",
                ),
                Verdict::Succeeded,
            ),
            (StepId::StartW3svc, out(2, "", "The service name is invalid."), Verdict::Failed(Failure::ExitCode)),
            (
                StepId::CheckRole,
                out(0, "Role\n----\nCsViewOnlyAdministrator\n", ""),
                Verdict::Failed(Failure::NotCsAdministrator),
            ),
            (StepId::CheckRole, out(0, "Role\n----\nCsAdministrator\n", ""), Verdict::Succeeded),
            (StepId::StagePackage, out(0, &hash, ""), Verdict::Succeeded),
            (
                StepId::StagePackage,
                out(0, &hash.replace("AB", "CD"), ""),
                Verdict::Failed(Failure::HashMismatch { got: "cd".repeat(32) }),
            ),
            (StepId::StagePackage, out(0, "", ""), Verdict::Failed(Failure::NoHash)),
            (StepId::Verify, out(0, &verified, ""), Verdict::Succeeded),
            (StepId::Verify, out(0, &verified_old, ""), Verdict::Failed(Failure::BuildNotReached(vec![old.clone()]))),
            (StepId::Verify, out(0, ONE_STOPPED, ""), Verdict::Failed(Failure::Stopped(vec!["REPLICA".into()]))),
            (StepId::Verify, out(0, "", ""), Verdict::Failed(Failure::NoServiceStates)),
            (StepId::UpdateDatabases, out(0, "", ""), Verdict::Succeeded),
            (StepId::UpdateDatabases, out(1, "", "denied"), Verdict::Failed(Failure::ExitCode)),
            (StepId::Failover, out(0, "", ""), Verdict::CheckServices { running: false }),
            (StepId::Failover, out(1, "", "Insufficient"), Verdict::Failed(Failure::ExitCode)),
            (StepId::Failback, out(0, "", ""), Verdict::CheckServices { running: true }),
            (StepId::FabricCheck, out(0, "PoolFqdn        : p\nMissingReplicas : 0\n", ""), Verdict::Succeeded),
            (
                StepId::FabricCheck,
                out(0, "PoolFqdn        : p\nMissingReplicas : 2\n", ""),
                Verdict::Failed(Failure::MissingReplicas(2)),
            ),
            (StepId::Readiness, out(0, "PoolUpgradeState : Ready\n", ""), Verdict::Succeeded),
            (StepId::Readiness, out(0, "PoolUpgradeState : Busy\n", ""), Verdict::Failed(Failure::Busy)),
            (
                StepId::Readiness,
                out(0, "PoolUpgradeState : InsufficientActiveFrontEnds\n", ""),
                Verdict::Failed(Failure::InsufficientActiveFrontEnds),
            ),
            (StepId::Readiness, out(0, "", ""), Verdict::Failed(Failure::NoReadiness)),
            (StepId::TestDatabases, out(0, &db(false), ""), Verdict::Succeeded),
            (
                StepId::TestDatabases,
                out(0, &format!("MirrorSqlServerFqdn   : sqlm.contoso.local\n{}", db(true)), ""),
                Verdict::Failed(Failure::Mirrored { mirror: "sqlm.contoso.local".into() }),
            ),
            (StepId::CheckDatabases, out(0, &db(true), ""), Verdict::Succeeded),
            (
                StepId::CheckDatabases,
                out(0, &db(false), ""),
                Verdict::Failed(Failure::DatabasesBehind(vec![
                    "sql01.contoso.local\\rtc\\rtcxds (15.13.12 → 15.13.13)".into(),
                ])),
            ),
            (StepId::CheckDatabases, out(0, "", ""), Verdict::Failed(Failure::NoDatabases)),
            (
                StepId::CheckDatabases,
                out(0, &db(true).replace("InstalledVersion      : 15.13.13", "InstalledVersion      : 15.13.11"), ""),
                Verdict::Failed(Failure::DatabasesBehind(vec![
                    "sql01.contoso.local\\rtc\\rtcxds (15.13.11 → 15.13.13)".into(),
                ])),
            ),
        ];
        for (step, o, want) in cases {
            assert_eq!(judge(step, &o, &x), want, "{step} with exit {} / {:?}", o.exit_code, o.stderr);
        }
    }

    #[test]
    fn the_build_decides_after_an_installer_exit_zero() {
        let old = build("7.0.2046.0");
        let new = build("7.0.2046.520");
        let with_target = Expect { target: Some(&new), before: Some(&old), sha256: "" };
        let without_target = Expect { target: None, before: Some(&old), sha256: "" };
        let blind = Expect::default();
        let cases = [
            (patch("7.0.2046.520"), with_target, true),
            (patch("7.0.2046.0"), with_target, false),
            (patch("7.0.2046.1"), without_target, true),
            (patch("7.0.2046.0"), without_target, false),
            (patch("7.0.2046.520"), blind, false),
            (String::new(), with_target, false),
        ];
        for (text, x, ok) in cases {
            let v = judge_build(&text, &x);
            assert_eq!(v == Verdict::Succeeded, ok, "{text:?}: {v:?}");
        }
    }

    #[test]
    fn services_are_read_back_not_assumed() {
        assert_eq!(judge_services(RUNNING, true), Verdict::Succeeded);
        assert_eq!(judge_services(STOPPED, false), Verdict::Succeeded);
        assert_eq!(judge_services(ONE_STOPPED, true), Verdict::Failed(Failure::Services { want_running: true }));
        assert_eq!(judge_services(ONE_STOPPED, false), Verdict::Failed(Failure::Services { want_running: false }));
        assert_eq!(
            judge_services("", true),
            Verdict::Failed(Failure::Services { want_running: true }),
            "no table is no proof"
        );
    }
}

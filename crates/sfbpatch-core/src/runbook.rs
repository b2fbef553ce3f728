//! The seed's procedure as typed data.
//!
//! Thirteen steps with stable ids (a public contract: JSON, journal, reports and flags use
//! them): the seed's eleven, plus `start-services` and `verify`, which the seed leaves out and
//! every operator does. Each step knows whether it lies inside the users' outage window
//! (from `stop-services` until `start-services` has succeeded), whether it is safe to run
//! twice, its default timeout and its estimated duration. [`command`] renders the exact
//! PowerShell for one server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use sfbpatch_i18n::{Lang, text};
use sfbpatch_pwsh::{Arg, Command, Line, Variable, Word};

use crate::fqdn::Fqdn;

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

/// The product being updated: it decides the installer's name and switches and the
/// Management Shell module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Product {
    /// Lync Server 2013.
    Lync2013,
    /// Skype for Business Server 2015.
    Sfb2015,
    /// Skype for Business Server 2019 (the default).
    #[default]
    Sfb2019,
    /// Skype for Business Server Subscription Edition.
    SfbSe,
}

impl Product {
    /// Every product, for help texts.
    pub const ALL: [Product; 4] = [Product::Lync2013, Product::Sfb2015, Product::Sfb2019, Product::SfbSe];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Lync2013 => "lync2013",
            Product::Sfb2015 => "sfb2015",
            Product::Sfb2019 => "sfb2019",
            Product::SfbSe => "sfbse",
        }
    }

    /// The cumulative-update installer's usual file name.
    pub fn installer_name(self) -> &'static str {
        match self {
            Product::Lync2013 => "LyncServerUpdateInstaller.exe",
            _ => "SkypeServerUpdateInstaller.exe",
        }
    }

    /// The installer's default switches for an unattended run.
    pub fn installer_switches(self) -> &'static [&'static str] {
        &["/silentmode"]
    }

    /// The PowerShell module of the Management Shell.
    pub fn shell_module(self) -> &'static str {
        match self {
            Product::Lync2013 => "Lync",
            _ => "SkypeForBusiness",
        }
    }

    /// The product of a topology service's `ServiceVersion` (docs/research/issue11-products.md
    /// §1): 6 Lync Server 2013, 7 Skype for Business Server 2015, 8 Skype for Business Server
    /// 2019. Any other value (5 is Lync Server 2010, which sfbpatch does not update; the
    /// Subscription Edition's is not published) names no product.
    pub fn from_service_version(v: u32) -> Option<Product> {
        match v {
            6 => Some(Product::Lync2013),
            7 => Some(Product::Sfb2015),
            8 => Some(Product::Sfb2019),
            _ => None,
        }
    }

    /// The release order (newer is greater).
    pub fn generation(self) -> u8 {
        match self {
            Product::Lync2013 => 0,
            Product::Sfb2015 => 1,
            Product::Sfb2019 => 2,
            Product::SfbSe => 3,
        }
    }

    /// Whether the product has `Get-CsServerPatchVersion`: from the Skype for Business
    /// Server 2015 November 2015 cumulative update on; Lync Server 2013 has no such cmdlet
    /// (DOMAIN.md §5; the cmdlet reference, docs/research/issue11-products.md §2).
    pub fn has_patch_version_cmdlet(self) -> bool {
        self != Product::Lync2013
    }

    /// Whether the product has `Invoke-CsComputerFailOver`/`-FailBack` (introduced in Skype
    /// for Business Server 2015; a Lync Server 2013 Front End is updated by upgrade domain,
    /// docs/research/issue11-products.md §3).
    pub fn has_computer_failover(self) -> bool {
        self != Product::Lync2013
    }
}

/// The Uninstall key of 64-bit Windows Installer products: their `DisplayName` and
/// `DisplayVersion` are what Programs and Features shows (docs/research/issue11-products.md §2).
pub const UNINSTALL_KEYS: &str = r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*";

/// The command that reads back the installed build of each component of `product`:
/// `Get-CsServerPatchVersion` where the product has it, else (Lync Server 2013) the installed
/// products' entries of the Uninstall key, read without `Win32_Product` (whose query runs a
/// Windows Installer consistency check of every product: KB974524). Parsed by
/// [`crate::readback::parse_patch_versions`].
pub fn build_readback(product: Product) -> Command {
    if product.has_patch_version_cmdlet() {
        Command::named(word("Get-CsServerPatchVersion"))
    } else {
        Command::named(word("Get-ItemProperty")).arg(Arg::Named(word("Path"), UNINSTALL_KEYS.to_owned()))
    }
}

impl FromStr for Product {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Product::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown product {s:?}"))
    }
}

/// How the installer's exit code is read. The codes are Windows Installer's; the
/// installer does not document its own, so `verify` confirms the build in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallOutcome {
    /// Exit 0.
    Succeeded,
    /// Exit 3010 (reboot required) or 1641 (reboot started).
    SucceededRebootPending,
    /// Anything else.
    Failed,
}

/// Classifies an installer exit code.
pub fn classify_install_exit(code: i64) -> InstallOutcome {
    match code {
        0 => InstallOutcome::Succeeded,
        3010 | 1641 => InstallOutcome::SucceededRebootPending,
        _ => InstallOutcome::Failed,
    }
}

/// Step 11's three variants, chosen from the topology.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "variant", rename_all = "kebab-case")]
pub enum DatabaseUpdate {
    /// An Enterprise back end with no collocated databases.
    ConfiguredDatabases {
        /// `-SqlServerFqdn`.
        sql_server_fqdn: Fqdn,
    },
    /// An Enterprise back end with collocated databases (Archiving, Monitoring, …).
    ExcludeCollocatedStores {
        /// `-SqlServerFqdn`.
        sql_server_fqdn: Fqdn,
    },
    /// A Standard Edition server.
    LocalDatabases,
}

impl DatabaseUpdate {
    /// The public name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            DatabaseUpdate::ConfiguredDatabases { .. } => "configured-databases",
            DatabaseUpdate::ExcludeCollocatedStores { .. } => "exclude-collocated-stores",
            DatabaseUpdate::LocalDatabases => "local-databases",
        }
    }
}

/// What [`command`] needs to know about one server and the update.
#[derive(Clone, Debug)]
pub struct CommandContext<'a> {
    /// The product (installer and module).
    pub product: Product,
    /// The installer's path on the server once staged.
    pub staged_installer: &'a str,
    /// The installer's switches (validated words).
    pub installer_switches: &'a [Word],
    /// Step 11's variant for this server.
    pub database_update: &'a DatabaseUpdate,
    /// The server the step acts for (a Front End's own name for its failover).
    pub server: &'a Fqdn,
    /// Its pool (`-PoolFqdn` of the fabric check).
    pub pool: Option<&'a Fqdn>,
    /// The failover's `-WaitTime` and `-DrainingTimeout`.
    pub failover: FailoverTimes,
    /// How the server's services are stopped, started and checked.
    pub services: ServiceControl,
}

/// The Edge Server's Windows services: "Edge Server services: REPLICA, RTCSRV, RTCDATAPROXY,
/// RTCMRAUTH, RTCMEDIARELAY" (DOC: the Cloud Connector monitoring list,
/// docs/research/issue12-roles.md §1.1). The Centralized Logging agent and an XMPP proxy
/// service on an Edge are UNVERIFIED and left out.
pub const EDGE_SERVICES: [&str; 5] = ["REPLICA", "RTCSRV", "RTCDATAPROXY", "RTCMRAUTH", "RTCMEDIARELAY"];

/// The Mediation service (DOMAIN.md §2; docs/research/issue12-roles.md §1.1).
pub const MEDIATION_SERVICE: &str = "RTCMEDSRV";

/// How a runbook stops, starts and checks a server's services.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceControl {
    /// The seed's commands: `Stop-CsWindowsService`, `Start-CsWindowsService`; `verify` reads
    /// IIS too.
    #[default]
    Seed,
    /// The generic SfB server runbook (docs/research/issue12-roles.md §1.0): the first stop
    /// `-Graceful` (the service accepts no new requests and stops once the existing ones end:
    /// the cmdlet reference), after draining `drain_first` alone when given (Mediation:
    /// `Stop-CsWindowsService -Name RTCMEDSRV -Graceful`, §1.1 FIELD); `verify` reads IIS
    /// only where the role has it.
    Graceful {
        /// The server runs IIS (Directors: their Web Services, §1.1).
        iis: bool,
        /// A service drained on its own before the rest.
        drain_first: Option<&'static str>,
    },
    /// Windows service cmdlets on these services (`Stop-Service`/`Start-Service -Name`): an
    /// Edge is not a domain member, so nothing that needs Active Directory or the Central
    /// Management store (issue 12; §1.1). No IIS.
    Windows(&'static [&'static str]),
}

/// `Invoke-CsComputerFailOver`'s waits (docs/research/issue10-sources.md §2.4), in minutes;
/// `None` leaves the cmdlet's default (one hour for `-WaitTime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailoverTimes {
    /// `-WaitTime`: past it the cmdlet fails and does nothing.
    pub wait_minutes: Option<u32>,
    /// `-DrainingTimeout`: how long conferences are drained before services stop.
    pub draining_minutes: Option<u32>,
}

/// A TimeSpan literal (`hh:mm:ss`) of `minutes`.
fn timespan(minutes: u32) -> String {
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

impl DatabaseUpdate {
    /// The SQL Server whose databases the update and `Test-CsDatabase` address (the server
    /// itself for Standard Edition).
    pub fn sql_server<'a>(&'a self, server: &'a Fqdn) -> &'a Fqdn {
        match self {
            DatabaseUpdate::ConfiguredDatabases { sql_server_fqdn }
            | DatabaseUpdate::ExcludeCollocatedStores { sql_server_fqdn } => sql_server_fqdn,
            DatabaseUpdate::LocalDatabases => server,
        }
    }
}

fn word(s: &'static str) -> Word {
    Word::fixed(s)
}

/// The PowerShell commands of `step` for one server, in order (empty when the step has
/// none: the transport or the operator performs it).
pub fn command(step: StepId, cx: &CommandContext<'_>) -> Vec<Command> {
    match step {
        StepId::CheckRole => vec![
            Command::named(word("Get-CsAdminRoleAssignment"))
                .arg(Arg::Switch(word("Identity")))
                // The SamAccountName, not DOMAIN\user (DOMAIN.md §5, the cmdlet reference).
                .arg(Arg::Raw("\"$env:USERNAME\"")),
        ],
        StepId::StagePackage => vec![
            Command::named(word("Get-FileHash"))
                .arg(Arg::Named(word("Algorithm"), "SHA256".into()))
                .arg(Arg::Named(word("LiteralPath"), cx.staged_installer.to_owned())),
        ],
        StepId::OpenShell | StepId::ReopenShell => {
            vec![Command::named(word("Import-Module")).arg(Arg::Value(cx.product.shell_module().to_owned()))]
        }
        StepId::StopServices | StepId::StopServicesAgain => match cx.services {
            ServiceControl::Windows(names) => vec![windows_services("Stop-Service", names)],
            ServiceControl::Graceful { drain_first, .. } if step == StepId::StopServices => {
                let mut v: Vec<Command> = drain_first
                    .map(|n| {
                        Command::named(word("Stop-CsWindowsService"))
                            .arg(Arg::Named(word("Name"), n.to_owned()))
                            .arg(Arg::Switch(word("Graceful")))
                    })
                    .into_iter()
                    .collect();
                v.push(Command::named(word("Stop-CsWindowsService")).arg(Arg::Switch(word("Graceful"))));
                v
            }
            _ => vec![Command::named(word("Stop-CsWindowsService"))],
        },
        StepId::StopW3svc => {
            vec![Command::named(word("net")).arg(Arg::Bare(word("stop"))).arg(Arg::Bare(word("w3svc")))]
        }
        StepId::CloseShells => Vec::new(),
        // What runs; `statements` keeps its process and passes its exit code on.
        StepId::InstallUpdate => vec![start_installer(cx)],
        StepId::StartW3svc => {
            vec![Command::named(word("net")).arg(Arg::Bare(word("start"))).arg(Arg::Bare(word("w3svc")))]
        }
        StepId::UpdateDatabases => {
            let base = Command::named(word("Install-CsDatabase")).arg(Arg::Switch(word("Update")));
            vec![match cx.database_update {
                DatabaseUpdate::ConfiguredDatabases { sql_server_fqdn } => base
                    .arg(Arg::Switch(word("ConfiguredDatabases")))
                    .arg(Arg::Named(word("SqlServerFqdn"), sql_server_fqdn.to_string())),
                DatabaseUpdate::ExcludeCollocatedStores { sql_server_fqdn } => base
                    .arg(Arg::Switch(word("ConfiguredDatabases")))
                    .arg(Arg::Named(word("SqlServerFqdn"), sql_server_fqdn.to_string()))
                    .arg(Arg::Switch(word("ExcludeCollocatedStores"))),
                DatabaseUpdate::LocalDatabases => base.arg(Arg::Switch(word("LocalDatabases"))),
            }]
        }
        StepId::StartServices => match cx.services {
            ServiceControl::Windows(names) => vec![windows_services("Start-Service", names)],
            _ => vec![Command::named(word("Start-CsWindowsService"))],
        },
        StepId::FabricCheck => vec![
            Command::named(word("Get-CsPoolFabricState"))
                .arg(Arg::Named(word("PoolFqdn"), cx.pool.unwrap_or(cx.server).to_string())),
        ],
        StepId::Readiness => vec![Command::named(word("Get-CsPoolUpgradeReadinessState"))],
        StepId::Failover => {
            let mut c = Command::named(word("Invoke-CsComputerFailOver"))
                .arg(Arg::Named(word("ComputerName"), cx.server.to_string()));
            if let Some(m) = cx.failover.wait_minutes {
                c = c.arg(Arg::Named(word("WaitTime"), timespan(m)));
            }
            if let Some(m) = cx.failover.draining_minutes {
                c = c.arg(Arg::Named(word("DrainingTimeout"), timespan(m)));
            }
            vec![c]
        }
        StepId::Failback => {
            vec![
                Command::named(word("Invoke-CsComputerFailBack"))
                    .arg(Arg::Named(word("ComputerName"), cx.server.to_string())),
            ]
        }
        StepId::TestDatabases | StepId::CheckDatabases => vec![
            Command::named(word("Test-CsDatabase"))
                .arg(Arg::Switch(word("ConfiguredDatabases")))
                .arg(Arg::Named(word("SqlServerFqdn"), cx.database_update.sql_server(cx.server).to_string())),
        ],
        StepId::Verify => {
            let iis = match cx.services {
                ServiceControl::Seed => true,
                ServiceControl::Graceful { iis, .. } => iis,
                ServiceControl::Windows(_) => false,
            };
            let mut v = vec![Command::named(word("Get-CsWindowsService"))];
            if iis {
                v.push(Command::named(word("Get-Service")).arg(Arg::Named(word("Name"), "W3SVC".into())));
            }
            v.push(build_readback(cx.product));
            v
        }
    }
}

/// `Stop-Service`/`Start-Service -Name <names>` (Windows cmdlets: the cmdlet reference,
/// https://learn.microsoft.com/powershell/module/microsoft.powershell.management/stop-service?view=powershell-5.1,
/// `-Name` takes a string array).
fn windows_services(verb: &'static str, names: &[&str]) -> Command {
    Command::named(word(verb)).arg(Arg::NamedList(word("Name"), names.iter().map(|n| (*n).to_owned()).collect()))
}

/// The variable the install step keeps the installer's process object in (a name sfbpatch
/// writes, never input).
pub const INSTALLER_PROCESS: &str = "sfbpatchInstaller";

/// `Start-Process -FilePath <staged installer> -ArgumentList <switches> -Wait -PassThru`.
/// The update installer is a GUI-subsystem program: started with `&` it is not waited for
/// and sets no `$LASTEXITCODE`; `Start-Process -Wait -PassThru` waits for it and gives its
/// `.ExitCode` (DOMAIN.md §5; the cmdlet reference,
/// https://learn.microsoft.com/powershell/module/microsoft.powershell.management/start-process?view=powershell-5.1:
/// `-ArgumentList` takes a string array, `-Wait` waits for the process, `-PassThru` returns it).
fn start_installer(cx: &CommandContext<'_>) -> Command {
    let mut c = Command::named(word("Start-Process")).arg(Arg::Named(word("FilePath"), cx.staged_installer.to_owned()));
    if !cx.installer_switches.is_empty() {
        let switches = cx.installer_switches.iter().map(|w| w.as_str().to_owned()).collect();
        c = c.arg(Arg::NamedList(word("ArgumentList"), switches));
    }
    c.arg(Arg::Switch(word("Wait"))).arg(Arg::Switch(word("PassThru")))
}

/// The statements of `step`, in order: its [`command`]s, except the install, whose process is
/// kept in `$sfbpatchInstaller` and whose exit code is copied into `$global:LASTEXITCODE`,
/// where the result protocol (`envelope`) and the standalone scripts read it.
pub fn statements(step: StepId, cx: &CommandContext<'_>) -> Vec<Line> {
    match step {
        StepId::InstallUpdate => {
            let process = Variable::fixed(INSTALLER_PROCESS);
            vec![
                Line::Capture(process.clone(), start_installer(cx)),
                Line::member(Variable::global("LASTEXITCODE"), process, "ExitCode"),
            ]
        }
        _ => command(step, cx).into_iter().map(Line::from).collect(),
    }
}

/// Renders a step's statements as one line of PowerShell (`; `-separated), or `None`.
pub fn command_text(step: StepId, cx: &CommandContext<'_>) -> Option<String> {
    let lines = statements(step, cx);
    if lines.is_empty() { None } else { Some(lines.iter().map(Line::render).collect::<Vec<_>>().join("; ")) }
}

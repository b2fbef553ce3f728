//! The exact PowerShell of each step for one server: step 11's variants, how services are
//! controlled, the failover's waits, and the install's statements.

use serde::Serialize;
use sfbpatch_pwsh::{Arg, Command, Line, Variable, Word};

use super::Product;
use super::product::build_readback;
use super::step::StepId;
use crate::fqdn::Fqdn;

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

pub(super) fn word(s: &'static str) -> Word {
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

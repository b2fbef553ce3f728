//! The arguments of `run` and `resume`, and the engine's, which `rehearse` shares.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use sfbpatch_core::readback::Build;

use super::parse::*;
use super::{FailoverArgs, ProductArg, ReportFormat, ScopeArgs};

/// How the engine runs: shared by `rehearse` and `run`.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// At most this many servers at once (default: one per pool, every pool at once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(MAX_PARALLEL))]
    pub max_parallel: Option<u32>,
    /// Open a server's outage even when its projection reaches the budget.
    #[arg(long)]
    pub accept_resiliency: bool,
    /// When a step fails inside the outage: bring service back (restore), or leave the server as it is (stop).
    #[arg(long, value_enum, default_value_t = OnFailureArg::Restore)]
    pub on_failure: OnFailureArg,
    /// Multiply every wait by F: step, hook and recovery timeouts, back-offs, restart stages
    /// and polls (read-backs keep at least 10 s, an SSH connection and logon at least 5 s) — for fast test estates; 0 < F <= 1000, default 1.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale)]
    pub timeout_scale: f64,
    /// A TOML file with hooks for every server and per server (see README).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Warn when an open outage is this many minutes from the budget, and this many minutes
    /// before --window-end (repeatable; default 10 and 5; 0 <= MINUTES <= 1440).
    #[arg(long = "warn-before", value_name = "MINUTES", value_parser = parse_warn_before)]
    pub warn_before: Vec<f64>,
    /// End of the maintenance window: after it no new server starts (those running finish;
    /// the rest are not-started, with the reason), except a pool's database update once this
    /// run updated its Front Ends: it finishes work begun. RFC 3339 with its offset
    /// (2026-11-28T06:00:00+01:00, or Z), or +MINUTES / +Nh from now. Rehearsals start their
    /// virtual clock now.
    #[arg(long, value_name = "TIME", value_parser = crate::engine_params::parse_window_end)]
    pub window_end: Option<crate::engine_params::WindowEnd>,
    /// Once more servers have failed than N, or than P% of the plan's servers, no new server
    /// starts (those running finish; the rest are not-started, with the reason). A failure is a
    /// server that ended failed in this run; 0 stops at the first.
    #[arg(long, value_name = "N|P%", value_parser = parse_failures)]
    pub max_failures: Option<sfbpatch_engine::options::FailureBudget>,
    /// PowerShell run on each server before it is touched; if it fails, the server is left alone.
    #[arg(long, value_name = "COMMAND", value_parser = parse_hook)]
    pub pre_hook: Option<String>,
    /// PowerShell run on each server after it was updated (e.g. to start a third-party service again).
    #[arg(long, value_name = "COMMAND", value_parser = parse_hook)]
    pub post_hook: Option<String>,
}

/// `--max-parallel`: at least one server at a time (`resume` checks a stored value against it).
pub(crate) const MAX_PARALLEL: std::ops::RangeFrom<i64> = 1..;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailureArg {
    /// Start IIS and the services again where the server's state allows, then report.
    Restore,
    /// Leave the server as it is and report the commands to run.
    Stop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportArg {
    /// The simulated estate (in memory, or persisted with --estate).
    Sim,
    /// A local shell process per command (PowerShell on the server itself, or --shell).
    Local,
    /// SSH to each server (Windows OpenSSH with PowerShell), settings from --connections.
    Ssh,
    /// PowerShell remoting (WinRM) from a local Windows PowerShell: a New-PSSession per
    /// server, each step with Invoke-Command -Session, staging with Copy-Item -ToSession.
    Psremoting,
}

/// How PowerShell remoting sessions authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsRemotingAuthArg {
    /// Kerberos, as the account running sfbpatch: no credentials reach a third machine (the
    /// double hop), so back ends' database updates are refused with where to run them.
    #[default]
    Kerberos,
    /// CredSSP: the credential saved with Export-Clixml (--psremoting-credential) is delegated
    /// to the servers, which can then reach the SQL Servers.
    Credssp,
}

#[derive(Debug, Args)]
pub struct JournalArg {
    /// The journal file (default: SFBPATCH_JOURNAL, else the per-user default; see README).
    #[arg(long, value_name = "FILE", env = "SFBPATCH_JOURNAL")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Topology file (.xml export or .toml); without it, the bundled example estate.
    pub file: Option<PathBuf>,
    /// The update package, as a local path.
    #[arg(long, value_name = "PATH")]
    pub package: String,
    /// The build the package installs (checked with Get-CsServerPatchVersion after the install).
    #[arg(long = "version", value_name = "BUILD", value_parser = parse_build)]
    pub target_build: Option<Build>,
    /// Patch only this server (repeatable); default: every Front End, Standard Edition server and back end.
    #[arg(long = "server", value_name = "FQDN")]
    pub servers: Vec<String>,
    /// How commands reach the servers.
    #[arg(long, value_enum)]
    pub transport: TransportArg,
    /// A persisted simulated estate (see `sfbpatch sim init`); without it, a fresh one in memory.
    #[arg(long, value_name = "DIR")]
    pub estate: Option<PathBuf>,
    /// With --transport local or psremoting: the shell program and its arguments, reading
    /// PowerShell on stdin; `{host}` is replaced by the server's FQDN (default: Windows PowerShell).
    #[arg(long, value_name = "COMMAND", value_parser = parse_shell)]
    pub shell: Option<String>,
    /// With --transport ssh: the connections file (TOML; see README).
    #[arg(long, value_name = "FILE")]
    pub connections: Option<PathBuf>,
    /// With --transport ssh: record host keys not yet in known_hosts (a changed key is always refused).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// With --transport psremoting: kerberos (default) or credssp.
    #[arg(long, value_enum, value_name = "MECHANISM")]
    pub psremoting_authentication: Option<PsRemotingAuthArg>,
    /// With --psremoting-authentication credssp: the credential to delegate, saved on this
    /// computer by this account with Get-Credential | Export-Clixml -Path FILE.
    #[arg(long, value_name = "FILE")]
    pub psremoting_credential: Option<PathBuf>,
    /// Real seconds per virtual second of a simulated operation (e.g. 0.001); 0: no waiting
    /// (0 <= F <= 1000).
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_time_scale)]
    pub time_scale: f64,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Users' outage budget in minutes (the resiliency threshold is 30; 0 < MINUTES <= 1440).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES, value_parser = parse_budget)]
    pub outage_budget: f64,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Every server's product, overriding the topology's: without it, each server's own
    /// (the export's ServiceVersion: 6 Lync Server 2013, 7 Skype for Business Server 2015,
    /// 8 Skype for Business Server 2019; the TOML format's `product`), and sfb2019 where the
    /// topology says nothing (the plan warns). It decides the installer, the shell module and
    /// the commands that exist there (Lync Server 2013: no failover, no Get-CsServerPatchVersion).
    #[arg(long, value_enum)]
    pub product: Option<ProductArg>,
    /// Front End failover waits.
    #[command(flatten)]
    pub failover: FailoverArgs,
    /// Which servers the plan covers.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Break another run's leases on these servers (recorded in the journal).
    #[arg(long)]
    pub force_recover: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Output format of the final report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run to continue (see `sfbpatch history`).
    pub run_id: String,
    /// The run's topology file, given again and unchanged (.xml export or .toml); without it,
    /// the bundled example estate, as for run. The servers contacted are those it names.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub journal: JournalArg,
    /// A new end of the maintenance window (as run's --window-end), for this resume and the
    /// run's later ones; without it, the run's own (a run stopped by its window needs a new one).
    #[arg(long, value_name = "TIME", value_parser = crate::engine_params::parse_window_end)]
    pub window_end: Option<crate::engine_params::WindowEnd>,
    /// New marks before the window's end and the outage budget (repeatable), replacing the run's.
    #[arg(long = "warn-before", value_name = "MINUTES", value_parser = parse_warn_before)]
    pub warn_before: Vec<f64>,
    /// A new failure budget (as run's --max-failures), replacing the run's.
    #[arg(long, value_name = "N|P%", value_parser = parse_failures)]
    pub max_failures: Option<sfbpatch_engine::options::FailureBudget>,
    /// The run's --shell, given again (sfbpatch starts no program it finds only in the journal).
    #[arg(long, value_name = "COMMAND", value_parser = parse_shell)]
    pub shell: Option<String>,
    /// The run's --pre-hook, given again.
    #[arg(long, value_name = "COMMAND", value_parser = parse_hook)]
    pub pre_hook: Option<String>,
    /// The run's --post-hook, given again.
    #[arg(long, value_name = "COMMAND", value_parser = parse_hook)]
    pub post_hook: Option<String>,
    /// The run's --config (hooks), given again.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The run's --package, given again (the file copied to the servers by the real transports).
    #[arg(long, value_name = "PATH")]
    pub package: Option<String>,
    /// The run's --connections, given again (with --transport ssh: where each server is and
    /// how to log on; never taken from the journal alone).
    #[arg(long, value_name = "FILE")]
    pub connections: Option<String>,
    /// With --transport ssh: record host keys not yet in known_hosts, for this resume (the
    /// run's own choice is not taken from the journal).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// The run's --psremoting-authentication, given again (how the servers are logged on to
    /// is never taken from the journal alone).
    #[arg(long, value_enum, value_name = "MECHANISM")]
    pub psremoting_authentication: Option<PsRemotingAuthArg>,
    /// The run's --psremoting-credential, given again.
    #[arg(long, value_name = "FILE")]
    pub psremoting_credential: Option<String>,
    /// The run's --accept-resiliency, given again.
    #[arg(long)]
    pub accept_resiliency: bool,
    /// The run's --on-failure, given again (default restore, as for run).
    #[arg(long, value_enum, default_value_t = OnFailureArg::Restore)]
    pub on_failure: OnFailureArg,
    /// The run's --version (the build the package installs), given again.
    #[arg(long = "version", value_name = "BUILD", value_parser = parse_build)]
    pub target_build: Option<Build>,
    /// Output format of the final report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

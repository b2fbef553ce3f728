//! The command line, as clap types. Parsing only: `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use sfbpatch_core::Lang;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::{Product, StepId};
use sfbpatch_i18n::Args as TrArgs;
use sfbpatch_sim::fault::Fault;

/// Plans, rehearses and runs the documented update of a Skype for Business Server estate
/// (Front Ends, Standard Edition servers, back ends' databases), from the topology you already have.
#[derive(Debug, Parser)]
#[command(name = "sfbpatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Language of messages and documents: en or es (default: SFBPATCH_LANG, then the locale).
    #[arg(long, global = true, value_name = "LANG", value_parser = ["en", "es"])]
    pub lang: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and validate a topology (Get-CsTopology -AsXml export, or TOML).
    #[command(subcommand)]
    Topology(TopologyCommand),
    /// Plan the update of the estate: each server's runbook, the host of every step, the exact commands.
    Plan(PlanArgs),
    /// Write one server's standalone PowerShell script (for running by hand on the server).
    Script(ScriptArgs),
    /// Rehearse the update against a simulated estate: the whole procedure, in virtual time.
    #[command(disable_version_flag = true)]
    Rehearse(RehearseArgs),
    /// Run the update for real through a transport, with a durable journal.
    #[command(disable_version_flag = true)]
    Run(RunArgs),
    /// Continue a run that was interrupted (crash, Ctrl-C, lost connection).
    #[command(disable_version_flag = true)]
    Resume(ResumeArgs),
    /// Show a run's state (default: the latest run).
    Status(StatusArgs),
    /// List the runs in the journal.
    History(HistoryArgs),
    /// Report a run: HTML with a timeline, Markdown for a ticket, or JSON.
    Report(ReportArgs),
    /// Check the journal itself.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// A simulated estate persisted in a directory (for runs, crash tests and demos).
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Validate a topology file: exit 0 with a summary, or exit 1 with its errors (the first 20,
    /// then how many more).
    Check {
        /// Topology file (.xml export or .toml); - reads standard input.
        file: PathBuf,
    },
    /// Show the sites, pools and servers of a topology, with each server's role.
    Show {
        /// Topology file (.xml export or .toml); - reads standard input.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Human-readable text.
    Text,
    /// JSON for automation.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Human-readable text.
    Text,
    /// JSON (schema sfbpatch.plan/1).
    Json,
    /// A change checklist in Markdown.
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProductArg {
    /// Lync Server 2013 (LyncServerUpdateInstaller.exe).
    Lync2013,
    /// Skype for Business Server 2015.
    Sfb2015,
    /// Skype for Business Server 2019.
    Sfb2019,
    /// Skype for Business Server Subscription Edition.
    Sfbse,
}

impl From<ProductArg> for Product {
    fn from(p: ProductArg) -> Self {
        match p {
            ProductArg::Lync2013 => Product::Lync2013,
            ProductArg::Sfb2015 => Product::Sfb2015,
            ProductArg::Sfb2019 => Product::Sfb2019,
            ProductArg::Sfbse => Product::SfbSe,
        }
    }
}

/// `--failover-wait` and `--draining-timeout`, in minutes (`resume` checks stored ones too).
pub(crate) const FAILOVER_MINUTES: std::ops::RangeInclusive<i64> = 1..=1440;

/// `Invoke-CsComputerFailOver`'s waits, for every command that plans.
#[derive(Debug, Clone, Default, Args)]
pub struct FailoverArgs {
    /// Minutes a Front End's failover may take before the cmdlet gives up and changes nothing
    /// (-WaitTime; the cmdlet's default is 60).
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(FAILOVER_MINUTES))]
    pub failover_wait: Option<u32>,
    /// Minutes conferences are drained before a Front End's services stop (-DrainingTimeout).
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(FAILOVER_MINUTES))]
    pub draining_timeout: Option<u32>,
}

impl FailoverArgs {
    /// Into the plan request.
    pub fn apply(&self, req: &mut sfbpatch_core::plan::PlanRequest) {
        req.failover_wait_minutes = self.failover_wait;
        req.draining_timeout_minutes = self.draining_timeout;
    }
}

/// Which servers a plan covers (issue 12), for every command that plans.
#[derive(Debug, Clone, Default, Args)]
pub struct ScopeArgs {
    /// backends (default: Standard Edition servers, Enterprise back ends with the Front End
    /// work they need, SQL Servers of other stores) or all (also Director, Edge, Mediation and
    /// Persistent Chat servers; the plan lists every other server as out of scope).
    #[arg(long, value_name = "SCOPE", default_value = "backends")]
    pub scope: String,
    /// Only the servers of this pool (repeatable): a Front End pool, or a Director, Edge,
    /// Mediation or Persistent Chat pool, and the SQL Servers of its databases.
    #[arg(long = "pool", value_name = "FQDN")]
    pub pools: Vec<String>,
    /// Only the servers of this site, by name or SiteId (repeatable).
    #[arg(long = "site", value_name = "NAME")]
    pub sites: Vec<String>,
}

impl ScopeArgs {
    /// Into the plan request; an unknown scope is refused with the catalogue's sentence (an
    /// operator's error, exit 1, like an unknown server).
    pub fn apply(&self, req: &mut sfbpatch_core::plan::PlanRequest, lang: sfbpatch_core::Lang) -> Result<(), String> {
        use sfbpatch_core::scope::Scope;
        req.scope = self.scope.trim().parse::<Scope>().map_err(|_| {
            let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            sfbpatch_i18n::fmt(
                lang,
                "cli.error.bad-scope",
                &sfbpatch_i18n::Args::new().with("scope", &self.scope).with("known", known.join(", ")),
            )
        })?;
        req.pools = self.pools.clone();
        req.sites = self.sites.clone();
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Topology file (.xml export or .toml); without it, the bundled example estate.
    pub file: Option<PathBuf>,
    /// The update package (the cumulative update installer), as a local path.
    #[arg(long, value_name = "PATH")]
    pub package: String,
    /// Plan only this server (repeatable); default: every Front End, Standard Edition server and back end.
    #[arg(long = "server", value_name = "FQDN")]
    pub servers: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
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
    /// Installer switch replacing the product's defaults (repeatable), e.g. /silentmode.
    #[arg(long = "installer-switch", value_name = "SWITCH", allow_hyphen_values = true)]
    pub installer_switches: Vec<String>,
    /// Folder on each server where the package is staged.
    #[arg(long, value_name = "DIR", default_value = sfbpatch_core::plan::DEFAULT_STAGE_DIR)]
    pub stage_dir: String,
    /// Users' outage budget in minutes (the resiliency threshold is 30; 0 < MINUTES <= 1440).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES, value_parser = parse_budget)]
    pub outage_budget: f64,
    /// The waves for at most this many servers at once (as run and rehearse --max-parallel; default: unlimited).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// Topology file (.xml export or .toml); without it, the bundled example estate.
    pub file: Option<PathBuf>,
    /// The update package, as a local path (default: the product's installer name).
    #[arg(long, value_name = "PATH")]
    pub package: Option<String>,
    /// The build the package installs (default: the product's simulation default).
    #[arg(long = "version", value_name = "BUILD", value_parser = parse_build)]
    pub target_build: Option<Build>,
    /// The build the simulated servers start at (default: the product's simulation default).
    #[arg(long = "from-build", value_name = "BUILD", value_parser = parse_build)]
    pub from_build: Option<Build>,
    /// Rehearse only this server (repeatable); default: every Front End, Standard Edition server and back end.
    #[arg(long = "server", value_name = "FQDN")]
    pub servers: Vec<String>,
    /// Seed of every random duration and choice: the same seed gives the same rehearsal.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Inject a fault: SERVER:STEP:KIND, KIND one of fail, hang, slow=F, reboot, disconnect (repeatable).
    #[arg(long = "fault", value_name = "SPEC", value_parser = parse_fault)]
    pub faults: Vec<Fault>,
    /// Leave a step out, to see what breaks (repeatable), e.g. stop-services-again.
    #[arg(long = "skip-step", value_name = "ID", value_parser = parse_step)]
    pub skip: Vec<StepId>,
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
    /// Users' outage budget in minutes (the resiliency threshold is 30; 0 < MINUTES <= 1440).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES, value_parser = parse_budget)]
    pub outage_budget: f64,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Also write the rehearsal's HTML report to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

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

/// A hook is the operator's own PowerShell, run as given: it must at least parse.
fn parse_hook(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(sfbpatch_i18n::text(usage_lang(), "cli.usage.hook-empty"));
    }
    sfbpatch_pwsh::syntax::check(s).map_err(|e| e.to_string())?;
    Ok(s.to_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailureArg {
    /// Start IIS and the services again where the server's state allows, then report.
    Restore,
    /// Leave the server as it is and report the commands to run.
    Stop,
}

/// `--config FILE`.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub hooks: HooksConfig,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    pub pre: Option<String>,
    pub post: Option<String>,
    #[serde(default)]
    pub servers: std::collections::BTreeMap<String, ServerHooks>,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerHooks {
    pub pre: Option<String>,
    pub post: Option<String>,
}

impl ConfigFile {
    /// Reads and checks a config file: every hook must parse, every server key be an FQDN.
    pub fn load(path: &std::path::Path, lang: Lang) -> Result<Self, String> {
        let say = |key: &str, a: TrArgs<'_>| sfbpatch_i18n::fmt(lang, key, &a.with("path", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| say("cli.config.read", TrArgs::new().with("why", e)))?;
        let c: ConfigFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1).unwrap_or(0);
            say("cli.config.syntax", TrArgs::new().with("line", line).with("why", e.message().trim()))
        })?;
        let mut hooks: Vec<(&str, &Option<String>)> = vec![("pre", &c.hooks.pre), ("post", &c.hooks.post)];
        for (server, h) in &c.hooks.servers {
            sfbpatch_core::Fqdn::parse(server)
                .map_err(|_| say("cli.config.server", TrArgs::new().with("server", format!("{server:?}"))))?;
            hooks.push(("pre", &h.pre));
            hooks.push(("post", &h.post));
        }
        for (which, hook) in hooks {
            if let Some(h) = hook {
                parse_hook(h).map_err(|e| {
                    say(
                        "cli.config.hook",
                        TrArgs::new().with("which", which).with("hook", format!("{h:?}")).with("why", e),
                    )
                })?;
            }
        }
        Ok(c)
    }
}

pub(crate) fn parse_failures(s: &str) -> Result<sfbpatch_engine::options::FailureBudget, String> {
    s.parse()
}

pub(crate) fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(not_a_number(s, false, 0.0, 1000.0)),
    }
}

/// The language of a usage error found while the command line is parsed, before `--lang` is
/// known to clap: `--lang` read from the arguments as given, else SFBPATCH_LANG and the
/// locale, as for every other message (`crate::language`). Clap's own words around it stay
/// English.
fn usage_lang() -> Lang {
    let args: Vec<String> = std::env::args().collect();
    let flag = args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--lang") {
        Some(v) if v.starts_with('=') => Some(v[1..].to_owned()),
        Some("") => args.get(i + 1).cloned(),
        _ => None,
    });
    crate::language(flag.as_deref())
}

/// "VALUE is not a number greater than LO (or at least LO) and at most HI", in the usage language.
fn not_a_number(s: &str, lo_included: bool, lo: f64, hi: f64) -> String {
    let key = if lo_included { "cli.usage.number-from" } else { "cli.usage.number-above" };
    let a = TrArgs::new().with("value", format!("{s:?}")).with("lo", lo).with("hi", hi);
    sfbpatch_i18n::fmt(usage_lang(), key, &a)
}

/// A finite number in `lo..=hi` (`lo` itself only when `lo_included`): NaN, infinities and
/// numbers out of range are usage errors (issue 13 item 8: a budget of 5e14 minutes or a NaN
/// mark made the outage timer spin; a NaN time scale was accepted).
fn parse_in_range(s: &str, lo: f64, lo_included: bool, hi: f64) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (f > lo || (lo_included && f == lo)) && f <= hi => Ok(f),
        _ => Err(not_a_number(s, lo_included, lo, hi)),
    }
}

/// `--outage-budget`: minutes, more than 0 and at most a day (1440).
pub(crate) fn parse_budget(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, false, 1440.0)
}

/// `--warn-before`: minutes, 0 to a day (1440).
pub(crate) fn parse_warn_before(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, true, 1440.0)
}

/// `--time-scale`: 0 (no waiting) to 1000 real seconds per virtual second.
pub(crate) fn parse_time_scale(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, true, 1000.0)
}

fn parse_build(s: &str) -> Result<Build, String> {
    s.parse()
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    s.parse().map_err(|e: sfbpatch_sim::fault::FaultError| e.to_string())
}

fn parse_step(s: &str) -> Result<StepId, String> {
    s.parse().map_err(|_| {
        let ids: Vec<&str> = StepId::ALL.iter().map(|s| s.as_str()).collect();
        let a = TrArgs::new().with("value", format!("{s:?}")).with("steps", ids.join(", "));
        sfbpatch_i18n::fmt(usage_lang(), "cli.usage.unknown-step", &a)
    })
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
    #[arg(long, value_name = "COMMAND")]
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
    #[arg(long, value_name = "COMMAND")]
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

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run (default: the latest).
    pub run_id: Option<String>,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// Topology file (.xml export or .toml); without it, the bundled example estate.
    pub file: Option<PathBuf>,
    /// The update package, as a local path (if it is here, its SHA-256 goes into the script).
    #[arg(long, value_name = "PATH")]
    pub package: String,
    /// The server the script is for.
    #[arg(long, value_name = "FQDN")]
    pub server: String,
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
    /// Users' outage budget in minutes (the script warns past it; 0 < MINUTES <= 1440).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES, value_parser = parse_budget)]
    pub outage_budget: f64,
    /// Write to this file (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportKind {
    /// One self-contained HTML page with an SVG timeline.
    Html,
    /// Markdown, for a change ticket.
    Markdown,
    /// JSON (schema sfbpatch.report/1).
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run (see `sfbpatch history`).
    pub run_id: String,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportKind::Html)]
    pub format: ReportKind,
    /// Write to this file (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check that a run's records are as sfbpatch wrote them (their hash chain): exit 0 when
    /// intact, 1 with each record edited, deleted, inserted or reordered.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run (default: the latest).
    pub run_id: Option<String>,
    #[command(flatten)]
    pub journal: JournalArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub journal: JournalArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Create a simulated estate from a topology, persisted in DIR.
    #[command(disable_version_flag = true)]
    Init {
        /// Topology file (.xml export or .toml); without it, the bundled example estate.
        file: Option<PathBuf>,
        /// The directory to create it in.
        #[arg(long, value_name = "DIR")]
        estate: PathBuf,
        /// The build every server starts at (default: the product's simulation default).
        #[arg(long = "version", value_name = "BUILD", value_parser = parse_build)]
        version: Option<Build>,
        /// Seed of every random duration and choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Every server's product, overriding the topology's (as for plan).
        #[arg(long, value_enum)]
        product: Option<ProductArg>,
        /// Inject a fault (as for rehearse), kept with the estate (repeatable).
        #[arg(long = "fault", value_name = "SPEC", value_parser = parse_fault)]
        faults: Vec<Fault>,
    },
    /// Execute a script (stdin, or SSH_ORIGINAL_COMMAND) on one host of a persisted estate.
    Shell {
        /// The estate directory.
        #[arg(long, value_name = "DIR")]
        estate: PathBuf,
        /// The host.
        #[arg(long, value_name = "FQDN")]
        host: String,
    },
    /// Stand in for the local Windows PowerShell of --transport psremoting: answer its
    /// New-PSSession, Invoke-Command -Session, Copy-Item -ToSession and Remove-PSSession lines
    /// (stdin) over the hosts of a persisted estate.
    Remoting {
        /// The estate directory.
        #[arg(long, value_name = "DIR")]
        estate: PathBuf,
    },
    /// Show a persisted estate: services, builds, databases, operation log.
    Show {
        /// The estate directory.
        #[arg(long, value_name = "DIR")]
        estate: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Write a generated topology export (Get-CsTopology -AsXml format) of N servers: one site
    /// per 100 servers, Enterprise pools of 2-12 Front Ends, Standard Edition servers, paired
    /// pools, user stores on shared and separate SQL Servers (for scale tests and benchmarks).
    Generate {
        /// How many servers (machines), exactly.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_GENERATED))]
        servers: u32,
        /// Seed of every random choice: the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The file to write.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
}

/// The most servers `sim generate` writes: 20,000 servers' export is about 10 MB, well under
/// the topology reader's 32 MiB limit (`topology::text::MAX_BYTES`).
pub const MAX_GENERATED: i64 = 20_000;

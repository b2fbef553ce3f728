//! The command line, as clap types. Parsing only: `main.rs` dispatches.

mod config;
mod parse;
mod run;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::{Product, StepId};
use sfbpatch_sim::fault::Fault;

pub use config::ConfigFile;
pub(crate) use parse::*;
pub use run::*;

/// Plans, rehearses and runs the documented update of a Skype for Business Server estate
/// (Front Ends, Standard Edition servers, back ends' databases), from the topology you already have.
#[derive(Debug, Parser)]
#[command(name = "sfbpatch", version, about, long_about = None)]
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

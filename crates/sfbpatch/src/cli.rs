//! The command line, as clap types. Parsing only: `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::{Product, StepId};
use sfbpatch_sim::fault::Fault;

/// Plans, rehearses and runs the documented update of Skype for Business Server back-end and
/// Standard Edition servers, from the topology you already have.
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
    /// Plan the update of back-end and Standard Edition servers: the exact steps per server.
    Plan(PlanArgs),
    /// Rehearse the update against a simulated estate: the whole procedure, in virtual time.
    #[command(disable_version_flag = true)]
    Rehearse(RehearseArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Validate a topology file: exit 0 with a summary, or exit 1 with every error.
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

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Topology file (.xml export or .toml); without it, the bundled example estate.
    pub file: Option<PathBuf>,
    /// The update package (the cumulative update installer), as a local path.
    #[arg(long, value_name = "PATH")]
    pub package: String,
    /// Plan only this server (repeatable); default: every back-end and Standard Edition server.
    #[arg(long = "server", value_name = "FQDN")]
    pub servers: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// The product being updated (installer name and switches, shell module).
    #[arg(long, value_enum, default_value_t = ProductArg::Sfb2019)]
    pub product: ProductArg,
    /// Installer switch replacing the product's defaults (repeatable), e.g. /silentmode.
    #[arg(long = "installer-switch", value_name = "SWITCH", allow_hyphen_values = true)]
    pub installer_switches: Vec<String>,
    /// Folder on each server where the package is staged.
    #[arg(long, value_name = "DIR", default_value = sfbpatch_core::plan::DEFAULT_STAGE_DIR)]
    pub stage_dir: String,
    /// Users' outage budget in minutes (the resiliency threshold is 30).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES)]
    pub outage_budget: f64,
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
    /// Rehearse only this server (repeatable); default: every back-end and Standard Edition server.
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
    /// The product being updated.
    #[arg(long, value_enum, default_value_t = ProductArg::Sfb2019)]
    pub product: ProductArg,
    /// Users' outage budget in minutes (the resiliency threshold is 30).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES)]
    pub outage_budget: f64,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// How the engine runs: shared by `rehearse` and `run`.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// At most this many servers at once (default: one per pool, every pool at once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// Open a server's outage even when its projection reaches the budget.
    #[arg(long)]
    pub accept_resiliency: bool,
    /// When a step fails inside the outage: bring service back (restore), or leave the server as it is (stop).
    #[arg(long, value_enum, default_value_t = OnFailureArg::Restore)]
    pub on_failure: OnFailureArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnFailureArg {
    /// Start IIS and the services again where the server's state allows, then report.
    Restore,
    /// Leave the server as it is and report the commands to run.
    Stop,
}

impl EngineArgs {
    /// The engine's options.
    pub fn options(&self, budget: f64) -> sfbpatch_engine::RunOptions {
        sfbpatch_engine::RunOptions {
            max_parallel: self.max_parallel.map(|n| n as usize),
            accept_resiliency: self.accept_resiliency,
            on_failure: match self.on_failure {
                OnFailureArg::Restore => sfbpatch_engine::OnFailure::Restore,
                OnFailureArg::Stop => sfbpatch_engine::OnFailure::Stop,
            },
            outage_budget_minutes: budget,
            ..sfbpatch_engine::RunOptions::default()
        }
    }
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
        format!("unknown step {s:?}; steps: {}", ids.join(", "))
    })
}

//! The command line, as clap types. Parsing only: `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use sfbpatch_core::runbook::Product;

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
    #[arg(
        long = "installer-switch",
        value_name = "SWITCH",
        allow_hyphen_values = true
    )]
    pub installer_switches: Vec<String>,
    /// Folder on each server where the package is staged.
    #[arg(long, value_name = "DIR", default_value = sfbpatch_core::plan::DEFAULT_STAGE_DIR)]
    pub stage_dir: String,
    /// Users' outage budget in minutes (the resiliency threshold is 30).
    #[arg(long, value_name = "MINUTES", default_value_t = sfbpatch_core::plan::RESILIENCY_MINUTES)]
    pub outage_budget: f64,
}

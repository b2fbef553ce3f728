//! `sfbpatch`: the command-line shell around sfbpatch-core. It reads files, parses flags,
//! prints; every decision is made in the core.

mod cli;
mod engine_params;
mod estate_dir;
mod input;
mod inspect;
mod journal_verify;
mod output;
mod plan_inputs;
mod products;
mod psremoting;
mod render;
mod resume_checks;
mod runner;
mod sim_shell;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::topology::{self, TopologyErrors};
use sfbpatch_core::{Lang, example};
use sfbpatch_i18n::{Args, fmt as tr};

use cli::{Cli, Command, PlanFormat, ReportFormat, TopologyCommand};

/// Why a command failed: rendered in the operator's language on stderr, exit code 1.
pub enum Failure {
    /// One sentence (already in the operator's language).
    Message(String),
    /// Every problem of a topology file.
    Topology(TopologyErrors),
}

impl Failure {
    fn render(&self, lang: Lang) -> String {
        match self {
            Failure::Message(m) => format!("sfbpatch: {m}\n"),
            Failure::Topology(errs) => {
                let file = errs.0.first().map(|e| e.file.clone()).unwrap_or_default();
                let mut out = format!(
                    "sfbpatch: {}\n",
                    tr(lang, "cli.error.topology-invalid", &Args::new().with("file", file).with("count", errs.0.len()))
                );
                // The first problems and how many more (issue 12, item 5).
                for line in errs.report_lines(lang) {
                    out.push_str("  ");
                    out.push_str(&line);
                    out.push('\n');
                }
                out
            }
        }
    }
}

/// A failure that is sfbpatch's own or the system's, not the operator's input (a runtime that
/// cannot start, a value that cannot be encoded): said as such, with the way to report it.
pub(crate) fn internal(lang: Lang, why: impl std::fmt::Display) -> Failure {
    Failure::Message(tr(lang, "cli.failure.internal", &Args::new().with("why", why)))
}

fn language(flag: Option<&str>) -> Lang {
    if let Some(l) = flag.and_then(|f| f.parse().ok()) {
        return l;
    }
    for var in ["SFBPATCH_LANG", "LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Some(l) = std::env::var(var).ok().filter(|v| !v.is_empty()).and_then(|v| Lang::from_locale(&v)) {
            return l;
        }
    }
    Lang::En
}

/// What a command printed and whether it succeeded (a rehearsal prints its report either
/// way and exits 1 when a server was not updated).
pub struct Output {
    pub(crate) text: String,
    pub(crate) success: bool,
    /// An exit code of its own (the simulator's shell passes the script's through).
    pub(crate) code: Option<u8>,
    /// Written to stderr after `text`.
    pub(crate) errors: String,
}

impl From<String> for Output {
    fn from(text: String) -> Self {
        Output { text, success: true, code: None, errors: String::new() }
    }
}

pub(crate) fn load_or_example(file: Option<&std::path::Path>, lang: Lang) -> Result<topology::Topology, Failure> {
    match file {
        Some(f) => input::load_topology(f, lang),
        None => topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).map_err(Failure::Topology),
    }
}

fn rehearse(args: cli::RehearseArgs, lang: Lang) -> Result<Output, Failure> {
    use sfbpatch_sim::rehearse::{RehearseOptions, default_builds};
    let t = load_or_example(args.file.as_deref(), lang)?;
    let over: Option<sfbpatch_core::runbook::Product> = args.product.map(Into::into);
    let guess = over.unwrap_or_default().installer_name().to_owned();
    let mut req = PlanRequest::new(args.package.clone().unwrap_or(guess));
    req.product = over;
    req.servers = args.servers.clone();
    req.skip = args.skip.clone();
    args.failover.apply(&mut req);
    args.scope.apply(&mut req, lang).map_err(Failure::Message)?;
    req.outage_budget_minutes = args.outage_budget;
    req.max_parallel = args.engine.max_parallel.map(|n| n as usize);
    req.lang = lang;
    let mut p = plan(&t, &req).map_err(|e| Failure::Message(e.render(lang)))?;
    // Without --package, the simulated package is the servers' own product's installer.
    if args.package.is_none() && req.package != p.product.installer_name() {
        req.package = p.product.installer_name().to_owned();
        p = plan(&t, &req).map_err(|e| Failure::Message(e.render(lang)))?;
    }
    products::one_product(&p, lang)?;
    let (from, to) = default_builds(p.product);
    let from = args.from_build.clone().unwrap_or(from);
    let to = args.target_build.clone().unwrap_or(to);
    // The same build is rehearsed: every server is reported already current (issue 13).
    if to < from {
        return Err(Failure::Message(tr(
            lang,
            "cli.error.build-not-newer",
            &Args::new().with("to", &to).with("from", &from),
        )));
    }
    for f in &args.faults {
        if !p.servers.iter().any(|s| s.fqdn == f.server) {
            return Err(Failure::Message(tr(
                lang,
                "cli.error.fault-server",
                &Args::new().with("fault", f).with("server", &f.server),
            )));
        }
        if !p.servers.iter().any(|s| s.steps.iter().any(|st| st.id == f.step)) {
            return Err(Failure::Message(tr(
                lang,
                "cli.error.fault-step",
                &Args::new().with("fault", f).with("step", f.step),
            )));
        }
    }
    let opts = RehearseOptions {
        estate: products::estate_options(over, p.product, &from, args.seed),
        package_build: to,
        faults: args.faults.clone(),
        run: args.engine.params(args.outage_budget, lang).map_err(Failure::Message)?.run_options(lang),
    };
    let (r, html) = match &args.report {
        None => (sfbpatch_sim::rehearse::rehearse(&t, &p, &opts).0, None),
        Some(path) => {
            // The rehearsal is recorded in a journal of its own, and reported from it like a run.
            let dir = std::env::temp_dir().join(format!("sfbpatch-rehearsal-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&dir);
            let jpath = dir.join("journal.db");
            let _ = std::fs::remove_file(&jpath);
            let journal = sfbpatch_journal::Journal::open(&jpath).map_err(|e| inspect::journal_failure(lang, &e))?;
            let id = format!("rehearsal-seed-{}", args.seed);
            let plan_json = serde_json::to_string(&p).map_err(|e| crate::internal(lang, e))?;
            let servers: Vec<String> = p.servers.iter().map(|s| s.fqdn.to_string()).collect();
            journal
                .begin_run(&id, &plan_json, "{}", &servers, "rehearsal", true)
                .map_err(|e| inspect::journal_failure(lang, &e))?;
            let sink = journal.sink(&id);
            let (r, _) = sfbpatch_sim::rehearse::rehearse_into(&t, &p, &opts, Some(&sink));
            let report = sfbpatch_report::Report::from_journal(&journal, &id, "rehearsal")
                .map_err(|e| inspect::journal_failure(lang, &e))?;
            drop(journal);
            let _ = std::fs::remove_dir_all(&dir);
            (r, Some((path.clone(), sfbpatch_report::html(&report, lang))))
        }
    };
    if let Some((path, html)) = html {
        output::write_atomically(lang, &path, html.as_bytes()).map_err(Failure::Message)?;
    }
    let text = match args.format {
        ReportFormat::Text => render::rehearsal_text(&r, &p, lang),
        ReportFormat::Json => render::json(&r),
    };
    // A rehearsal answers "may this plan run as it is?": an operator scripting
    // `rehearse && run` must be stopped by a users' outage that went past the budget as by a
    // server that was not updated (exit 1, the report printed either way), though nothing
    // failed. `--accept-resiliency` says outages reaching the budget are accepted (`run`
    // then opens them: `guard::may_open`), so with it an overrun is reported, not failed.
    let over = r.servers.iter().any(|s| s.over_budget) && !opts.run.accept_resiliency;
    Ok(Output { text, success: r.all_updated() && !over, code: None, errors: String::new() })
}

fn script(args: cli::ScriptArgs, lang: Lang) -> Result<Output, Failure> {
    use sha2::Digest as _;
    let t = load_or_example(args.file.as_deref(), lang)?;
    let mut req = PlanRequest::new(args.package.clone());
    req.product = args.product.map(Into::into);
    req.servers = vec![args.server.clone()];
    args.failover.apply(&mut req);
    req.outage_budget_minutes = args.outage_budget;
    req.lang = lang;
    let one = plan(&t, &req).map_err(|e| Failure::Message(e.render(lang)))?;
    let Some(chosen) = one.servers.first() else {
        return Err(Failure::Message(sfbpatch_core::plan::PlanError::NothingToPlan.render(lang)));
    };
    // The whole estate's plan, for the servers this one comes after (a plan of one server
    // leaves them out) and the host its database steps run on.
    let mut everything = req.clone();
    everything.servers.clear();
    let p = plan(&t, &everything).unwrap_or_else(|_| one.clone());
    let sp = p.servers.iter().find(|s| s.fqdn == chosen.fqdn).unwrap_or(chosen);
    // The package's hash, when it is at hand: the script checks the staged copy against it.
    let sha = std::fs::read(&args.package)
        .ok()
        .map(|bytes| sfbpatch_core::vocab::hex(&sha2::Sha256::digest(&bytes)).to_ascii_uppercase());
    let text = sfbpatch_core::script::render(&p, sp, lang, sha.as_deref());
    match &args.output {
        Some(path) => {
            // UTF-8 with a byte-order mark: Windows PowerShell 5.1 reads it right (DOMAIN.md §5).
            output::write_atomically(lang, path, &sfbpatch_core::script::file_bytes(&text))
                .map_err(Failure::Message)?;
            Ok(String::new().into())
        }
        None => Ok(format!("{}{text}", sfbpatch_core::script::BOM).into()),
    }
}

fn run(command: Command, lang: Lang) -> Result<Output, Failure> {
    match command {
        Command::Topology(TopologyCommand::Check { file }) => {
            let t = input::load_topology(&file, lang)?;
            Ok(render::topology_summary(&file.display().to_string(), &t, lang).into())
        }
        Command::Topology(TopologyCommand::Show { file, format }) => {
            let t = input::load_topology(&file, lang)?;
            Ok(match format {
                ReportFormat::Text => render::topology_text(&t, lang),
                ReportFormat::Json => render::json(&render::TopologyJson::new(&t)),
            }
            .into())
        }
        Command::Plan(args) => {
            let t = load_or_example(args.file.as_deref(), lang)?;
            let mut req = PlanRequest::new(args.package.clone());
            req.product = args.product.map(Into::into);
            req.servers = args.servers.clone();
            args.failover.apply(&mut req);
            args.scope.apply(&mut req, lang).map_err(Failure::Message)?;
            req.installer_switches = (!args.installer_switches.is_empty()).then(|| args.installer_switches.clone());
            req.stage_dir = args.stage_dir.clone();
            req.outage_budget_minutes = args.outage_budget;
            req.max_parallel = args.max_parallel.map(|n| n as usize);
            req.lang = lang;
            let p = plan(&t, &req).map_err(|e| Failure::Message(e.render(lang)))?;
            Ok(match args.format {
                PlanFormat::Text => render::plan_text(&p, lang),
                PlanFormat::Json => render::json(&p),
                PlanFormat::Markdown => render::plan_markdown(&p, lang),
            }
            .into())
        }
        Command::Rehearse(args) => rehearse(args, lang),
        Command::Run(args) => runner::run(args, lang),
        Command::Report(args) => inspect::report(args, lang),
        Command::Script(args) => script(args, lang),
        Command::Resume(args) => runner::resume(args, lang),
        Command::Status(args) => inspect::status(args, lang),
        Command::History(args) => inspect::history(args, lang),
        Command::Journal(cli::JournalCommand::Verify(args)) => journal_verify::verify(args, lang),
        Command::Sim(cmd) => inspect::sim(cmd, lang),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sfbpatch", &mut buf);
            Ok(String::from_utf8_lossy(&buf).into_owned().into())
        }
    }
}

/// Writes to stdout; a closed pipe (`sfbpatch … | head`) is not an error.
fn emit(text: &str) -> Result<(), std::io::Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn main() -> ExitCode {
    // A bug must never show a Rust backtrace to an operator: one line, and a way to report it.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "sfbpatch: internal error ({info}); please report it.");
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let lang = language(cli.lang.as_deref());
    match run(cli.command, lang) {
        Ok(out) => match emit(&out.text) {
            Ok(()) if out.code.is_some() => {
                let _ = std::io::stderr().write_all(out.errors.as_bytes());
                ExitCode::from(out.code.unwrap_or(1))
            }
            Ok(()) if out.success => ExitCode::SUCCESS,
            Ok(()) => ExitCode::from(1),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "sfbpatch: {e}");
                ExitCode::from(1)
            }
        },
        Err(f) => {
            let _ = std::io::stderr().write_all(f.render(lang).as_bytes());
            ExitCode::from(1)
        }
    }
}

//! The commands that run no procedure: `status`, `report` and `history`, which only read the
//! journal, and `sim init|show|generate|shell|remoting`; and how every command opens the journal.

use std::path::{Path, PathBuf};

use sfbpatch_core::Lang;
use sfbpatch_core::plan::Plan;
use sfbpatch_i18n::{Args, fmt as tr, text};
use sfbpatch_journal::{Journal, JournalError};
use sfbpatch_sim::estate::Estate;
use sfbpatch_sim::rehearse::default_builds;

use crate::cli::{HistoryArgs, ReportFormat, SimCommand, StatusArgs};
use crate::estate_dir::{self, EstateDir};
use crate::{Failure, Output, load_or_example, render};

pub(crate) fn journal_path(arg: Option<&PathBuf>) -> PathBuf {
    arg.cloned().unwrap_or_else(sfbpatch_journal::default_path)
}

pub(crate) fn open_journal(path: &Path, lang: Lang) -> Result<Journal, Failure> {
    Journal::open(path).map_err(|e| journal_failure(lang, &e))
}

/// For `status`, `history`, `report` and `journal verify`: read-only, never created.
pub(crate) fn open_journal_read_only(path: &Path, lang: Lang) -> Result<Journal, Failure> {
    Journal::open_read_only(path).map_err(|e| journal_failure(lang, &e))
}

/// A journal error, in the operator's language (the SQLite error itself stays as SQLite says it).
pub(crate) fn journal_failure(lang: Lang, e: &JournalError) -> Failure {
    let msg = match e {
        JournalError::Sql { path, source } => {
            tr(lang, "cli.journal.sql", &Args::new().with("path", path).with("why", source))
        }
        JournalError::Io { path, source } => {
            tr(lang, "cli.journal.sql", &Args::new().with("path", path).with("why", source))
        }
        JournalError::Missing { path } => tr(lang, "cli.journal.missing", &Args::new().with("path", path)),
        JournalError::LeaseHeld { server, run, holder } => tr(
            lang,
            "cli.journal.lease-held",
            &Args::new().with("server", server).with("run", run).with("holder", holder),
        ),
        JournalError::LeaseHolderAlive { server, run, holder, pid } => tr(
            lang,
            "cli.journal.lease-holder-alive",
            &Args::new().with("server", server).with("run", run).with("holder", holder).with("pid", pid),
        ),
        JournalError::NoRun { path, run } => {
            tr(lang, "cli.journal.no-run", &Args::new().with("id", run).with("path", path))
        }
        JournalError::TooNew { path, found, known } => {
            tr(lang, "cli.journal.too-new", &Args::new().with("path", path).with("found", found).with("known", known))
        }
        JournalError::Corrupt { run, what, why } => {
            // `what` is one of the journal's fixed labels; each has its words in the catalogue.
            let key = format!("cli.journal.what.{}", what.replace(' ', "-"));
            let what =
                if sfbpatch_i18n::catalogue(lang).get(&key).is_some() { text(lang, &key) } else { (*what).to_owned() };
            tr(lang, "cli.journal.corrupt", &Args::new().with("run", run).with("what", what).with("why", why))
        }
    };
    Failure::Message(msg)
}

/// The run `id` names, else the journal's latest (refused when it holds none).
pub(crate) fn run_or_latest(journal: &Journal, id: Option<String>, lang: Lang) -> Result<String, Failure> {
    match id {
        Some(id) => Ok(id),
        None => journal
            .latest()
            .map_err(|e| journal_failure(lang, &e))?
            .ok_or_else(|| Failure::Message(text(lang, "cli.run.no-runs"))),
    }
}

/// `sfbpatch status`.
pub fn status(args: StatusArgs, lang: Lang) -> Result<Output, Failure> {
    let jpath = journal_path(args.journal.journal.as_ref());
    let journal = open_journal_read_only(&jpath, lang)?;
    let id = run_or_latest(&journal, args.run_id, lang)?;
    let s = journal.status(&id).map_err(|e| journal_failure(lang, &e))?;
    Ok(match args.format {
        ReportFormat::Json => render::json(&s),
        ReportFormat::Text => {
            let plan: Option<Plan> = journal.run(&id).ok().and_then(|r| serde_json::from_str(&r.plan).ok());
            render::status_text(&s, plan.as_ref(), lang)
        }
    }
    .into())
}

/// `sfbpatch report`.
pub fn report(args: crate::cli::ReportArgs, lang: Lang) -> Result<Output, Failure> {
    let jpath = journal_path(args.journal.journal.as_ref());
    let journal = open_journal_read_only(&jpath, lang)?;
    let r =
        sfbpatch_report::Report::from_journal(&journal, &args.run_id, "run").map_err(|e| journal_failure(lang, &e))?;
    let body = match args.format {
        crate::cli::ReportKind::Html => sfbpatch_report::html(&r, lang),
        crate::cli::ReportKind::Markdown => sfbpatch_report::markdown(&r, lang),
        crate::cli::ReportKind::Json => render::json(&r),
    };
    match &args.output {
        Some(path) => {
            crate::output::write_atomically(lang, path, body.as_bytes()).map_err(Failure::Message)?;
            Ok(String::new().into())
        }
        None => Ok(body.into()),
    }
}

/// `sfbpatch history`.
pub fn history(args: HistoryArgs, lang: Lang) -> Result<Output, Failure> {
    let jpath = journal_path(args.journal.journal.as_ref());
    let journal = open_journal_read_only(&jpath, lang)?;
    let rows = journal.history().map_err(|e| journal_failure(lang, &e))?;
    Ok(match args.format {
        ReportFormat::Json => render::history_json(&rows),
        ReportFormat::Text => render::history_text(&rows, lang),
    }
    .into())
}

/// `sfbpatch sim init|show|generate`.
pub fn sim(cmd: SimCommand, lang: Lang) -> Result<Output, Failure> {
    match cmd {
        SimCommand::Init { file, estate, version, seed, product, faults } => {
            let t = load_or_example(file.as_deref(), lang)?;
            let over: Option<sfbpatch_core::runbook::Product> = product.map(Into::into);
            // The package's product: the override, else the first server's that carries one.
            let product = over
                .or_else(|| t.servers.iter().filter(|s| s.sfb_installed).find_map(|s| s.product))
                .unwrap_or_default();
            let initial_build = version.unwrap_or(default_builds(product).0);
            let mut e = Estate::new(&t, &crate::products::estate_options(over, product, &initial_build, seed));
            e.faults = faults;
            e.package_build = Some(default_builds(product).1);
            EstateDir::create(&estate, &e).map_err(|e| Failure::Message(e.render(lang)))?;
            Ok((tr(lang, "cli.sim.created", &Args::new().with("dir", estate.display()).with("count", e.hosts.len()))
                + "\n")
                .into())
        }
        SimCommand::Generate { servers, seed, output } => {
            let spec = sfbpatch_sim::generate::Spec::servers(servers as usize, seed);
            let xml = sfbpatch_sim::generate::estate(&spec);
            crate::output::write_atomically(lang, &output, xml.as_bytes()).map_err(Failure::Message)?;
            let args = Args::new().with("count", servers).with("sites", spec.sites).with("file", output.display());
            Ok((tr(lang, "cli.sim.generated", &args) + "\n").into())
        }
        SimCommand::Shell { estate, host } => crate::sim_shell::sim_shell(&estate, &host, lang),
        SimCommand::Remoting { estate } => crate::psremoting::sim_remoting(&estate, lang),
        SimCommand::Show { estate, format } => {
            let e = estate_dir::load(&estate).map_err(|e| Failure::Message(e.render(lang)))?;
            Ok(match format {
                ReportFormat::Json => render::json(&e),
                ReportFormat::Text => render::estate_text(&e, lang),
            }
            .into())
        }
    }
}

//! `run` and `resume`: the imperative shell around the engine, the journal and a persisted (or
//! in-memory) simulated estate. How a run shows itself is in `display`; the commands that run no
//! procedure (`status`, `report`, `history`, `sim`) are in `crate::inspect`.

mod display;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sfbpatch_core::Lang;
use sfbpatch_core::plan::{Plan, PlanRequest};
use sfbpatch_core::readback::Build;
use sfbpatch_core::vocab::RunState;
use sfbpatch_engine::event::{EventSink, Fanout};
use sfbpatch_engine::{ResumeState, RunOptions, RunSummary};
use sfbpatch_i18n::{Args, fmt as tr, text};
use sfbpatch_journal::{Journal, JournalError};
use sfbpatch_sim::estate::Estate;
use sfbpatch_sim::rehearse::{default_builds, package_sha256};
use sfbpatch_sim::transport::SimTransport;
use tokio::sync::watch;

use crate::cli::{ReportFormat, ResumeArgs, RunArgs, TransportArg};
use crate::engine_params::EngineParams;
use crate::estate_dir::{self, EstateDir};
use crate::inspect::{journal_failure, journal_path, open_journal};
use crate::{Failure, Output, render};
use display::{Bars, Display};

/// What a run needs to be resumed, stored in the journal with the plan. The field names and
/// words are those earlier journals were written with (the engine's are flattened in).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunParams {
    transport: TransportArg,
    #[serde(default)]
    shell: Option<Vec<String>>,
    #[serde(default)]
    package_path: Option<PathBuf>,
    #[serde(default)]
    connections: Option<PathBuf>,
    #[serde(default)]
    accept_new_host_keys: bool,
    /// `--psremoting-authentication` and the canonical `--psremoting-credential`.
    #[serde(default)]
    psremoting: crate::psremoting::Settings,
    estate: Option<PathBuf>,
    time_scale: f64,
    target_build: Option<Build>,
    #[serde(flatten)]
    engine: EngineParams,
    /// What the plan was made from: `resume` makes it again (none: an earlier release's run).
    #[serde(default)]
    inputs: Option<crate::plan_inputs::PlanInputs>,
}

fn run_id() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("run-{}-{:04x}", d.as_secs(), (d.subsec_nanos() ^ std::process::id()) & 0xffff)
}

fn holder() -> String {
    let user = std::env::var("USERNAME").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
    let host =
        std::env::var("COMPUTERNAME").or_else(|_| std::env::var("HOSTNAME")).unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host} pid {}", std::process::id())
}

fn confirm(p: &Plan, yes: bool, lang: Lang) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Message(text(lang, "cli.run.need-yes")));
    }
    let _ = write!(std::io::stderr(), "{}", render::plan_text(p, lang));
    let _ = write!(std::io::stderr(), "{} ", text(lang, "cli.run.confirm"));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    let a = answer.trim().to_ascii_lowercase();
    if a == "y" || a == "yes" || a == "s" || a == "si" || a == "sí" {
        Ok(())
    } else {
        Err(Failure::Message(text(lang, "cli.run.cancelled")))
    }
}

/// The run's transport, over an in-memory or persisted estate.
fn transport(params: &RunParams, estate: Estate, dir: Option<&EstateDir>, p: &Plan, lang: Lang) -> SimTransport {
    let (_, default_to) = default_builds(p.product);
    let build = params.target_build.clone().unwrap_or(default_to);
    let name = p.staged_installer.rsplit('\\').next().unwrap_or("").to_owned();
    let sha = package_sha256(&name, &build);
    let scale = if params.time_scale > 0.0 { params.time_scale } else { 1.0 };
    let t = SimTransport::new(estate, sha, build, scale);
    match dir {
        Some(d) => {
            let path = d.path().to_owned();
            t.with_save(Box::new(move |e: &Estate| estate_dir::save(&path, e).map_err(|x| x.render(lang))))
        }
        None => t,
    }
}

fn options(params: &RunParams, journal: &Journal, lang: Lang) -> RunOptions {
    let mut o = params.engine.run_options(lang);
    o.target_build = params.target_build.clone();
    if let Ok(h) = journal.step_history() {
        o.history_minutes = h.into_iter().collect();
    }
    o
}

/// How the SSH transport reaches each server of `p`: the connections file's settings and
/// every password they name (a private file, or a prompt on the terminal), read before
/// anything is contacted. A password is never in a message.
fn ssh_logons(p: &Plan, params: &RunParams, lang: Lang) -> Result<SshLogons, Failure> {
    let servers: Vec<sfbpatch_core::Fqdn> = p.servers.iter().map(|s| s.fqdn.clone()).collect();
    let file = params.connections.clone().unwrap_or_default();
    let hosts = sfbpatch_transport::ssh::connections(&file, &servers).map_err(|e| Failure::Message(e.render(lang)))?;
    // A key logon needs the key file, else ssh-agent (README, "Keys come from files, or from
    // ssh-agent"; the Windows agent's pipe is not read): with neither, each server would fail
    // only once contacted.
    let agent = !cfg!(windows) && std::env::var_os("SSH_AUTH_SOCK").is_some_and(|v| !v.is_empty());
    let keyless: Vec<(&String, &sfbpatch_transport::ssh::HostConfig)> = hosts
        .iter()
        .filter(|(_, h)| h.auth == sfbpatch_transport::ssh::Auth::Key && !agent && !h.identity_file.is_file())
        .collect();
    if let Some((_, first)) = keyless.first() {
        let names: Vec<&str> = keyless.iter().map(|(n, _)| n.as_str()).collect();
        let a = Args::new()
            .with("file", first.identity_file.display())
            .with("hosts", names.join(", "))
            .with("connections", file.display());
        return Err(Failure::Message(tr(lang, "cli.bad-input.key-missing", &a)));
    }
    let passwords = sfbpatch_transport::ssh::Passwords::collect(&hosts, &file, lang)
        .map_err(|e| Failure::Message(e.render(lang)))?;
    Ok((hosts, passwords))
}

type SshLogons =
    (std::collections::BTreeMap<String, sfbpatch_transport::ssh::HostConfig>, sfbpatch_transport::ssh::Passwords);

/// The simulated estate of a `--transport sim` run, locked for this process: taken before the
/// journal records (or resumes) the run, so that an estate in use by another process leaves
/// no record behind (README, "Bad input", B43). `None` for the other transports.
fn hold_estate(params: &RunParams, lang: Lang) -> Result<Option<(EstateDir, Estate)>, Failure> {
    if params.transport != TransportArg::Sim {
        return Ok(None);
    }
    match &params.estate {
        Some(dir) => EstateDir::open(dir).map(Some).map_err(|e| Failure::Message(e.render(lang))),
        None => Err(Failure::Message(text(lang, "cli.run.no-estate"))),
    }
}

/// Drives the engine to the end (or a clean interruption on Ctrl-C). `logons`: the SSH
/// transport's, when already read; `held`: the simulated estate, from [`hold_estate`].
#[allow(clippy::too_many_arguments)]
fn run_engine(
    p: &Plan,
    params: &RunParams,
    journal: &Journal,
    id: &str,
    resume: Option<&ResumeState>,
    logons: Option<SshLogons>,
    held: Option<(EstateDir, Estate)>,
    lang: Lang,
) -> Result<(RunSummary, u64), Failure> {
    let opts = options(params, journal, lang);
    let sink_journal = journal.sink(id);
    let display = Display { lang };
    let bars = Bars::new(lang);
    let live: &dyn EventSink = if std::io::stderr().is_terminal() { &bars } else { &display };
    let sink = Fanout(vec![&sink_journal, live]);
    if params.transport == TransportArg::Ssh {
        let (hosts, passwords) = match logons {
            Some(l) => l,
            None => ssh_logons(p, params, lang)?,
        };
        let package = params.package_path.clone().unwrap_or_default();
        let t = sfbpatch_transport::ssh::SshTransport::new(hosts, params.accept_new_host_keys, &package)
            .map_err(|e| Failure::Message(e.render(lang)))?
            .with_passwords(passwords, lang)
            .with_connect_timeout(opts.scaled(sfbpatch_transport::ssh::CONNECT_TIMEOUT));
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| crate::internal(lang, e))?;
        // The remote shells kept per session end with the run, their input closed.
        return Ok(rt.block_on(async {
            let done = engine_until_done(p, &t, &sink, &opts, resume, lang).await;
            t.close_all().await;
            done
        }));
    }
    if params.transport == TransportArg::Psremoting {
        let package = params.package_path.clone().unwrap_or_default();
        let t = crate::psremoting::transport(params.shell.clone(), &package, params.psremoting.clone(), lang)?;
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| crate::internal(lang, e))?;
        return Ok(rt.block_on(engine_until_done(p, &t, &sink, &opts, resume, lang)));
    }
    if params.transport == TransportArg::Local {
        let shell = params.shell.clone().unwrap_or_else(sfbpatch_transport::local::default_shell);
        let package = params.package_path.clone().unwrap_or_default();
        let t = sfbpatch_transport::local::LocalTransport::new(shell, &package)
            .map_err(|e| Failure::Message(e.render(lang)))?
            .with_lang(lang);
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| crate::internal(lang, e))?;
        // The shells kept per session end with the run, their input closed (none killed).
        return Ok(rt.block_on(async {
            let done = engine_until_done(p, &t, &sink, &opts, resume, lang).await;
            t.close_all().await;
            done
        }));
    }
    let (dir, estate) = match held {
        Some(h) => h,
        None => return Err(Failure::Message(text(lang, "cli.run.no-estate"))),
    };
    let virtual_clock = params.time_scale <= 0.0;
    let rt = if virtual_clock {
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }
    .map_err(|e| crate::internal(lang, e))?;
    // The simulator's package installs a known build (`transport`): the run's target, so a
    // server already at it is left alone (issue 13, idempotent runs).
    let mut opts = opts;
    opts.target_build = opts.target_build.or_else(|| Some(default_builds(p.product).1));
    Ok(rt.block_on(async {
        let t = transport(params, estate, Some(&dir), p, lang);
        engine_until_done(p, &t, &sink, &opts, resume, lang).await
    }))
}

/// Runs the engine to its end, or to a clean stop on Ctrl-C; returns the transport's time.
async fn engine_until_done<T: sfbpatch_engine::Transport>(
    p: &Plan,
    t: &T,
    sink: &dyn EventSink,
    opts: &RunOptions,
    resume: Option<&ResumeState>,
    lang: Lang,
) -> (RunSummary, u64) {
    let (tx, rx) = watch::channel(false);
    let sink = Fanout(vec![sink]);
    let engine = sfbpatch_engine::run(p, t, &sink, opts, resume, rx);
    tokio::pin!(engine);
    let s = tokio::select! {
        s = &mut engine => s,
        _ = stop_signal() => {
            let _ = writeln!(std::io::stderr(), "{}", text(lang, "cli.run.interrupting"));
            let _ = tx.send(true);
            engine.await
        }
    };
    (s, t.now_ms())
}

/// Ctrl-C (SIGINT), and on Unix SIGTERM and SIGHUP (a `kill`, a closed terminal or SSH
/// session): each stops the run cleanly. The handlers are installed when this is first polled.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn run_output(
    (summary, now_ms): (RunSummary, u64),
    id: &str,
    journal: &Journal,
    journal_path: &Path,
    budget: f64,
    format: ReportFormat,
    lang: Lang,
) -> Output {
    let summary = &summary;
    let reports = journal.server_reports(id, now_ms).unwrap_or_default();
    let text_out = match format {
        ReportFormat::Json => render::json(&render::RunJson::new(id, summary, &reports)),
        ReportFormat::Text => render::run_summary(id, summary, &reports, budget, journal_path, lang),
    };
    Output { text: text_out, success: summary.state == RunState::Completed, code: None, errors: String::new() }
}

/// `sfbpatch run`.
pub fn run(args: RunArgs, lang: Lang) -> Result<Output, Failure> {
    let (t, source) = crate::plan_inputs::TopologySource::read(args.file.as_deref(), lang)?;
    let over: Option<sfbpatch_core::runbook::Product> = args.product.map(Into::into);
    let mut req = PlanRequest::new(args.package.clone());
    req.product = over;
    req.servers = args.servers.clone();
    req.outage_budget_minutes = args.outage_budget;
    req.max_parallel = args.engine.max_parallel.map(|n| n as usize);
    args.failover.apply(&mut req);
    args.scope.apply(&mut req, lang).map_err(Failure::Message)?;
    req.lang = lang;
    // The installer runs from a folder of its own per run (its logs land there).
    let id = run_id();
    req.stage_dir = format!("{}\\{id}", sfbpatch_core::plan::DEFAULT_STAGE_DIR);
    // The plan is made from its stored inputs, as `resume` makes it again; one package per
    // run (servers of several products are refused before anything starts).
    let inputs = crate::plan_inputs::PlanInputs::new(source, &req);
    let p = inputs.plan(&t, lang)?;
    let jpath = journal_path(args.journal.journal.as_ref());
    let estate_path = match &args.estate {
        Some(d) => Some(existing(d, "cli.bad-input.estate-missing", lang)?),
        None => None,
    };
    window_not_past(args.engine.window_end.as_ref(), lang)?;
    let engine = args.engine.params(args.outage_budget, lang).map_err(Failure::Message)?;
    let local = args.transport != TransportArg::Sim;
    let ssh = args.transport == TransportArg::Ssh;
    // A flag of another transport is refused rather than silently ignored (issue 13 item 10).
    let shell_ok = matches!(args.transport, TransportArg::Local | TransportArg::Psremoting);
    for (given, ok, flag, transports) in [
        (args.shell.is_some(), shell_ok, "--shell", "--transport local, --transport psremoting"),
        (args.accept_new_host_keys, ssh, "--accept-new-host-keys", "--transport ssh"),
        (args.connections.is_some(), ssh, "--connections", "--transport ssh"),
    ] {
        if given && !ok {
            let a = Args::new().with("flag", flag).with("transports", transports);
            return Err(Failure::Message(tr(lang, "cli.run.transport-only", &a)));
        }
    }
    if ssh && args.connections.is_none() {
        return Err(Failure::Message(text(lang, "cli.run.need-connections")));
    }
    let psremoting = crate::psremoting::check(&args, lang)?;
    let connections = match &args.connections {
        Some(c) => Some(existing(c, "cli.bad-input.connections-missing", lang)?),
        None => None,
    };
    let package_path = if local {
        Some(readable_file(Path::new(&args.package), "cli.bad-input.package-missing", lang)?)
    } else {
        None
    };
    let params = RunParams {
        transport: args.transport,
        connections,
        accept_new_host_keys: args.accept_new_host_keys,
        psremoting,
        shell: args.shell.as_ref().map(|s| s.split_whitespace().map(str::to_owned).collect()),
        package_path,
        estate: estate_path,
        time_scale: args.time_scale,
        target_build: args.target_build.clone(),
        engine,
        inputs: Some(inputs),
    };
    confirm(&p, args.yes, lang)?;
    // Without --estate, a fresh in-memory estate: persisted in a temporary directory for the
    // life of the run, so that the same code path serves both.
    let tmp_dir;
    let params = if params.estate.is_none() && !local {
        let from = default_builds(p.product).0;
        let mut e = Estate::new(&t, &crate::products::estate_options(over, p.product, &from, 1));
        e.reindex();
        tmp_dir = std::env::temp_dir().join(format!("sfbpatch-estate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp_dir);
        EstateDir::create(&tmp_dir, &e).map_err(|e| Failure::Message(e.render(lang)))?;
        RunParams { estate: Some(tmp_dir.clone()), ..params }
    } else {
        params
    };
    // Every password is read (and its file checked) before the journal records the run or
    // anything is contacted.
    let logons = if params.transport == TransportArg::Ssh { Some(ssh_logons(&p, &params, lang)?) } else { None };
    // The estate is locked before the journal records the run: one in use leaves no record.
    let held = hold_estate(&params, lang)?;
    let journal = open_journal(&jpath, lang)?;
    let plan_json = serde_json::to_string(&p).map_err(|e| crate::internal(lang, e))?;
    let params_json = serde_json::to_string(&params).map_err(|e| crate::internal(lang, e))?;
    let servers: Vec<String> = p.servers.iter().map(|s| s.fqdn.to_string()).collect();
    let broken = journal
        .begin_run(&id, &plan_json, &params_json, &servers, &holder(), args.force_recover)
        .map_err(|e| journal_failure(lang, &e))?;
    for b in broken {
        let _ = writeln!(std::io::stderr(), "{}", tr(lang, "cli.run.lease-broken", &Args::new().with("lease", b)));
    }
    let _ = writeln!(
        std::io::stderr(),
        "{}",
        tr(lang, "cli.run.started", &Args::new().with("id", &id).with("journal", jpath.display()))
    );
    // A run that cannot start (its estate in use, a transport that cannot be set up) does not
    // stay "running" holding its leases.
    let done = run_engine(&p, &params, &journal, &id, None, logons, held, lang).inspect_err(|_| {
        let _ = journal.abandon_start(&id, None);
    })?;
    Ok(run_output(done, &id, &journal, &jpath, params.engine.outage_budget, args.format, lang))
}

/// `sfbpatch resume`.
pub fn resume(args: ResumeArgs, lang: Lang) -> Result<Output, Failure> {
    window_not_past(args.window_end.as_ref(), lang)?;
    let jpath = journal_path(args.journal.journal.as_ref());
    let journal = open_journal(&jpath, lang)?;
    let stored = journal.run(&args.run_id).map_err(|e| journal_failure(lang, &e))?;
    // A run whose records were edited is not resumed: what it would do rests on them.
    crate::journal_verify::refuse_tampered(&journal, &stored.id, lang)?;
    if stored.state == sfbpatch_core::vocab::RunState::Completed {
        return Err(Failure::Message(tr(lang, "cli.run.already-completed", &Args::new().with("id", &stored.id))));
    }
    let corrupt = |what: &'static str, e: serde_json::Error| {
        journal_failure(lang, &JournalError::Corrupt { run: stored.id.clone(), what, why: e.to_string() })
    };
    let mut params: RunParams = serde_json::from_str(&stored.params).map_err(|e| corrupt("parameters", e))?;
    // Every stored number is checked as the command line checks it, before anything else.
    crate::resume_checks::engine_numbers(&stored.id, &params.engine, params.time_scale, lang)?;
    crate::resume_checks::real_transport_has_package(
        &stored.id,
        params.transport,
        params.package_path.as_deref(),
        lang,
    )?;
    let e = &params.engine;
    crate::resume_checks::switches(
        &stored.id,
        (e.accept_resiliency, e.on_failure, params.target_build.as_ref()),
        &args,
        lang,
    )?;
    // Programs and commands are started or sent only when the operator gives them again.
    let kept = crate::plan_inputs::Stored {
        shell: params.shell.as_deref(),
        hooks: params.engine.hooks(),
        package_path: params.package_path.as_deref(),
        connections: params.connections.as_deref(),
        psremoting: &params.psremoting,
    };
    let given = crate::plan_inputs::given_again(&stored.id, &kept, &args, lang)?;
    (params.shell, params.package_path, params.connections, params.psremoting) =
        (given.shell, given.package_path, given.connections, given.psremoting);
    // New host keys are recorded only when this resume says so, never because the journal does.
    params.accept_new_host_keys = args.accept_new_host_keys;
    // The plan executed is made again from the run's inputs and the operator's topology file
    // (which must be the stored one), never read from stored text.
    let (t, source) = crate::plan_inputs::TopologySource::read(args.file.as_deref(), lang)?;
    let p = crate::plan_inputs::regenerate(&stored.id, params.inputs.as_ref(), (&t, &source), &stored.plan, lang)?;
    // As in `run`: the estate is locked before the journal marks the run running again.
    let held = hold_estate(&params, lang)?;
    let servers: Vec<String> = p.servers.iter().map(|s| s.fqdn.to_string()).collect();
    journal
        .begin_run(&stored.id, &stored.plan, &stored.params, &servers, &holder(), false)
        .map_err(|e| journal_failure(lang, &e))?;
    journal.mark_running(&stored.id).map_err(|e| journal_failure(lang, &e))?;
    // A new window, marks or failure budget are the run's parameters from now on.
    if params.engine.replace_gates(args.window_end, &args.warn_before, args.max_failures) {
        let json = serde_json::to_string(&params).map_err(|e| crate::internal(lang, e))?;
        journal.set_params(&stored.id, &json).map_err(|e| journal_failure(lang, &e))?;
    }
    let state = journal.resume_state(&stored.id).map_err(|e| journal_failure(lang, &e))?;
    let _ = writeln!(std::io::stderr(), "{}", tr(lang, "cli.run.resuming", &Args::new().with("id", &stored.id)));
    let done = run_engine(&p, &params, &journal, &stored.id, Some(&state), None, held, lang).inspect_err(|_| {
        let _ = journal.abandon_start(&stored.id, Some(stored.state));
    })?;
    Ok(run_output(done, &stored.id, &journal, &jpath, params.engine.outage_budget, args.format, lang))
}

/// `path` as an absolute path, or the catalogue's sentence `key` (naming it, the reason and
/// the fix) when it does not exist or cannot be reached: before anything is recorded.
fn existing(path: &Path, key: &str, lang: Lang) -> Result<PathBuf, Failure> {
    std::fs::canonicalize(path).map_err(|e| {
        Failure::Message(tr(lang, key, &Args::new().with("path", path.display()).with("why", e.to_string())))
    })
}

/// [`existing`], and a file that can be opened and read: a folder or a file this account
/// cannot read is refused here, before anything is recorded, rather than by the transport
/// once the run is in the journal (README, "Bad input", B47).
fn readable_file(path: &Path, key: &str, lang: Lang) -> Result<PathBuf, Failure> {
    let full = existing(path, key, lang)?;
    let why = match std::fs::File::open(&full).and_then(|f| f.metadata()) {
        Ok(m) if m.is_file() => return Ok(full),
        Ok(_) => text(lang, "cli.bad-input.not-a-file"),
        Err(e) => e.to_string(),
    };
    Err(Failure::Message(tr(lang, key, &Args::new().with("path", path.display()).with("why", why))))
}

/// A window that ended before the run starts would record a run that starts nothing: refused.
fn window_not_past(end: Option<&crate::engine_params::WindowEnd>, lang: Lang) -> Result<(), Failure> {
    match end {
        Some(w) if w.unix_ms <= crate::engine_params::now_unix_ms() => {
            Err(Failure::Message(tr(lang, "cli.bad-input.window-past", &Args::new().with("end", &w.label))))
        }
        _ => Ok(()),
    }
}

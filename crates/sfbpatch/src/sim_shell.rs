//! `sfbpatch sim shell --estate DIR --host FQDN`: a host's shell over a persisted estate
//! (the endpoint is `sfbpatch_sim::shell`; kept for many commands: `sfbpatch_sim::stream`).
//! The estate's lock is taken per command: concurrent shells wait for it in turn.

use std::path::Path;

use sfbpatch_sim::estate::{Estate, SessionProcess};
use sfbpatch_sim::remoting::EstateStore;
use sfbpatch_sim::shell::{Ending, Invocation, ORIGINAL_COMMAND_VAR, script_in_command};
use sfbpatch_sim::stream::{self, ServeError, Served};
use sfbpatch_transport::local::{SIM_DISCONNECTED, SIM_UNREACHABLE};

use sfbpatch_i18n::{Args, Lang, fmt as tr};

use crate::estate_dir::{self, EstateDir};
use crate::{Failure, Output};

/// Whether the process holding a session still runs: same pid and start time (a pid alone
/// is reused; `sfbpatch_journal::start_time`, as the journal's leases check their holder).
/// A start time this system does not give (outside Linux) cannot be checked: such a session
/// is never taken for an orphan.
fn alive(p: &SessionProcess) -> bool {
    p.start.is_none() || sfbpatch_journal::start_time(p.pid) == p.start
}

/// An estate directory: locked, loaded, its orphaned sessions closed, changed and saved, per
/// command.
struct Dir<'a>(&'a Path, Lang);

impl EstateStore for Dir<'_> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Estate) -> R) -> Result<R, String> {
        let (_lock, mut estate) = EstateDir::open_blocking(self.0).map_err(|e| e.render(self.1))?;
        estate.close_orphans(alive);
        let r = f(&mut estate);
        estate_dir::save(self.0, &estate).map_err(|e| e.render(self.1))?;
        Ok(r)
    }
}

/// `sim shell`: a script in `SSH_ORIGINAL_COMMAND` runs alone; else standard input is
/// served line by line when it is wrapped (a kept process), or read whole as one script.
pub(crate) fn sim_shell(dir: &Path, host: &str, lang: Lang) -> Result<Output, Failure> {
    let original = std::env::var(ORIGINAL_COMMAND_VAR).ok();
    if let Some(script) = script_in_command(original.as_deref()) {
        return one_script(dir, Invocation::from_env(host, script.to_owned()), lang);
    }
    let me = std::process::id();
    let process = SessionProcess { pid: me, start: sfbpatch_journal::start_time(me) };
    let template = Invocation::from_env(host, String::new());
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let served = stream::serve(&mut Dir(dir, lang), &template, process, stdin.lock(), stdout.lock(), stderr.lock())
        .map_err(|e| match e {
            ServeError::Store(message) => Failure::Message(message),
            ServeError::NoHost(host) => no_host(&host, dir, lang),
            ServeError::Io(why) => Failure::Message(tr(lang, "cli.sim-shell.io", &Args::new().with("why", why))),
        })?;
    match served {
        Served::Script(script) => one_script(dir, Invocation { script, ..template }, lang),
        Served::Ended => Ok(String::new().into()),
        Served::Cut(ending) => Ok(answer(ending)),
    }
}

/// One script, as a process per command runs it.
fn one_script(dir: &Path, invocation: Invocation, lang: Lang) -> Result<Output, Failure> {
    let host = invocation.host.clone();
    let x = Dir(dir, lang).with(|e| invocation.execute(e)).map_err(Failure::Message)?;
    let x = x.ok_or_else(|| no_host(&host, dir, lang))?;
    Ok(answer(invocation.finish(x)))
}

/// The estate at `dir` has no host `host`.
fn no_host(host: &str, dir: &Path, lang: Lang) -> Failure {
    let a = Args::new()
        .with("host", sfbpatch_core::printable::field(host))
        .with("path", sfbpatch_core::printable::field(&dir.display().to_string()));
    Failure::Message(tr(lang, "cli.estate.no-host", &a))
}

/// What the process answers for an ending.
fn answer(ending: Ending) -> Output {
    let failed = |errors: String| Output { text: String::new(), success: false, code: Some(255), errors };
    match ending {
        Ending::Completed { code, success, stdout, stderr } => {
            Output { text: stdout, success, code: Some(code), errors: stderr }
        }
        Ending::NeverCompleted => failed(String::new()),
        Ending::Disconnected => failed(format!("{SIM_DISCONNECTED}\n")),
        Ending::Unreachable => failed(format!("{SIM_UNREACHABLE}\n")),
    }
}

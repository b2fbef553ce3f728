//! `--transport psremoting` (its flags, checked before anything runs, and the transport) and
//! `sim remoting` (the simulator's stand-in for the local Windows PowerShell, over an estate
//! directory whose lock it takes per request).

use std::path::{Path, PathBuf};

use sfbpatch_core::Lang;
use sfbpatch_i18n::{Args, fmt as tr, text};
use sfbpatch_sim::estate::Estate;
use sfbpatch_sim::remoting::{EstateStore, Remoting};
use sfbpatch_transport::psremoting::{Logon, PsRemotingTransport};

use crate::cli::{PsRemotingAuthArg, RunArgs, TransportArg};
use crate::estate_dir::{self, EstateDir};
use crate::{Failure, Output};

/// The remoting settings of a run, as the journal keeps them for `resume`.
pub(crate) type Settings = (Option<PsRemotingAuthArg>, Option<PathBuf>);

/// `run`'s remoting flags, checked before anything is contacted or recorded: they belong to
/// `--transport psremoting`; outside Windows it needs `--shell` (there is no powershell.exe);
/// CredSSP needs the credential file, which must exist (it is read by the local PowerShell,
/// never by sfbpatch).
pub(crate) fn check(args: &RunArgs, lang: Lang) -> Result<Settings, Failure> {
    let say = |key: &str, flag: &str| Failure::Message(tr(lang, key, &Args::new().with("flag", flag)));
    if args.transport != TransportArg::Psremoting {
        if args.psremoting_authentication.is_some() {
            return Err(say("cli.run.psremoting-only", "--psremoting-authentication"));
        }
        if args.psremoting_credential.is_some() {
            return Err(say("cli.run.psremoting-only", "--psremoting-credential"));
        }
        return Ok((None, None));
    }
    if args.shell.is_none() && !cfg!(windows) {
        return Err(Failure::Message(text(lang, "cli.run.psremoting-needs-shell")));
    }
    let credssp = args.psremoting_authentication == Some(PsRemotingAuthArg::Credssp);
    match (&args.psremoting_credential, credssp) {
        (None, true) => Err(Failure::Message(text(lang, "cli.run.psremoting-need-credential"))),
        (Some(_), false) => Err(Failure::Message(text(lang, "cli.run.psremoting-credential-unused"))),
        (None, false) => Ok((args.psremoting_authentication, None)),
        (Some(c), true) => {
            let c = std::fs::canonicalize(c).map_err(|e| {
                let a = Args::new().with("path", c.display()).with("why", e);
                Failure::Message(tr(lang, "cli.psremoting.credential-unreadable", &a))
            })?;
            Ok((args.psremoting_authentication, Some(c)))
        }
    }
}

/// The transport of a run (or a resumed one).
pub(crate) fn transport(
    shell: Option<Vec<String>>,
    package: &Path,
    (authentication, credential): Settings,
    lang: Lang,
) -> Result<PsRemotingTransport, Failure> {
    let shell = shell.unwrap_or_else(sfbpatch_transport::local::default_shell);
    let logon = match (authentication.unwrap_or_default(), credential) {
        (PsRemotingAuthArg::Credssp, Some(credential)) => Logon::CredSsp { credential },
        (PsRemotingAuthArg::Credssp, None) => {
            return Err(Failure::Message(text(lang, "cli.run.psremoting-need-credential")));
        }
        (PsRemotingAuthArg::Kerberos, _) => Logon::Kerberos,
    };
    PsRemotingTransport::new(shell, package, logon)
        .map(|t| t.with_lang(lang))
        .map_err(|e| Failure::Message(e.render(lang)))
}

/// An estate directory: locked, loaded, changed and saved per request.
struct DirStore<'a>(&'a Path, Lang);

impl EstateStore for DirStore<'_> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Estate) -> R) -> Result<R, String> {
        let (_lock, mut estate) = EstateDir::open_blocking(self.0).map_err(|e| e.render(self.1))?;
        let r = f(&mut estate);
        estate_dir::save(self.0, &estate).map_err(|e| e.render(self.1))?;
        Ok(r)
    }
}

/// `sfbpatch sim remoting --estate DIR`: answers its standard input until it ends.
pub(crate) fn sim_remoting(dir: &Path, lang: Lang) -> Result<Output, Failure> {
    use sfbpatch_sim::shell::{TIME_SCALE_VAR, time_scale};
    estate_dir::load(dir).map_err(|e| Failure::Message(e.render(lang)))?;
    let scale = time_scale(std::env::var(TIME_SCALE_VAR).ok().as_deref());
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    Remoting::new(scale)
        .serve(&mut DirStore(dir, lang), stdin.lock(), stdout.lock(), stderr.lock())
        .map_err(Failure::Message)?;
    Ok(String::new().into())
}

//! The `sim remoting` endpoint: a stand-in for the local `powershell.exe` that the PowerShell
//! remoting transport drives (`--transport psremoting --shell "sfbpatch sim remoting --estate
//! DIR"`). It reads its standard input line by line, as `powershell.exe -Command -` does, and
//! answers exactly the requests the transport renders (`sfbpatch_core::remoting::Request`,
//! parsed there, so the two cannot drift): it does not interpret arbitrary PowerShell.
//!
//! * `New-PSSession` opens a session on the host in the estate (`Estate::open_session`); a
//!   host the estate does not have gives PowerShell's error and no session.
//! * `Invoke-Command -Session` runs the script in that session with `Estate::execute`, and
//!   prints its output and the result line the envelope would print. A session opened with
//!   CredSSP carries the operator's credentials to the host, a Kerberos one none (DOMAIN.md
//!   §5: "WinRM has the same double hop with Kerberos unless CredSSP or delegation is
//!   configured"), for that command only, as the SSH shell does for key logons. A dropped
//!   session (closed by a restart, or a `disconnect` fault) gives the transport error on
//!   stderr, no result line, and the session `Broken`.
//! * `Copy-Item -ToSession` puts the local file's bytes on the host (`Estate::put_file`).
//! * `Remove-PSSession` ends that session only (a real `Remove-PSSession` closes the sessions
//!   it is given, not the others on the machine).
//! * The end lines are answered with their nonce and the session's state, as
//!   `PSSession.State` reads.
//!
//! Sessions live in this process, as PSSessions live in the local PowerShell process that
//! created them: a new process knows none of an earlier one's, whose sessions stay open on the
//! hosts (WinRM keeps an orphaned shell until its idle timeout), with whatever module they
//! loaded. Error wordings are PowerShell's as published in Microsoft's about_Remote_Troubleshooting
//! and field reports (PSRemotingTransportException, PSSessionStateBroken); the simulator's
//! shortened forms are marked UNVERIFIED where the exact text was not found.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Duration;

use sfbpatch_core::envelope;
use sfbpatch_core::remoting::{Authentication, Request, end_stderr, end_stdout};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::hex;
use sha2::{Digest, Sha256};

use crate::estate::{Estate, SimFile};
use crate::exec::{ExecStatus, Execution, Request as ExecRequest};
use crate::rehearse::default_builds;

/// Where the estate is kept: the caller takes its lock, loads it, lets `f` change it, saves
/// it and releases the lock, once per request.
pub trait EstateStore {
    /// Runs `f` over the estate, persisted after.
    fn with<R>(&mut self, f: impl FnOnce(&mut Estate) -> R) -> Result<R, String>;
}

/// An estate held in memory (tests).
impl EstateStore for Estate {
    fn with<R>(&mut self, f: impl FnOnce(&mut Estate) -> R) -> Result<R, String> {
        Ok(f(self))
    }
}

/// `PSSession.State`, as far as the transport reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Opened,
    Broken,
    Closed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Opened => "Opened",
            State::Broken => "Broken",
            State::Closed => "Closed",
        }
    }
}

#[derive(Clone, Debug)]
struct SimSession {
    host: String,
    id: u64,
    credssp: bool,
    state: State,
}

/// What one request answers.
enum Answer {
    Text {
        stdout: String,
        stderr: String,
    },
    /// The command never completes: nothing more is answered.
    Hang,
}

impl Answer {
    fn err(stderr: String) -> Self {
        Answer::Text { stdout: String::new(), stderr }
    }

    fn none() -> Self {
        Answer::Text { stdout: String::new(), stderr: String::new() }
    }
}

/// One local PowerShell process, standing in.
#[derive(Debug, Default)]
pub struct Remoting {
    sessions: HashMap<u64, SimSession>,
    credential: bool,
    time_scale: Option<f64>,
}

impl Remoting {
    /// A process whose commands take `time_scale` real seconds per simulated second (`None`:
    /// they answer at once).
    pub fn new(time_scale: Option<f64>) -> Self {
        Self { time_scale, ..Self::default() }
    }

    /// Answers every line of `input` until it ends (or a command never completes, after which
    /// nothing more is answered), writing to `out` and `err` as `powershell.exe` would and
    /// flushing after each line.
    pub fn serve<S: EstateStore>(
        &mut self,
        store: &mut S,
        input: impl BufRead,
        mut out: impl Write,
        mut err: impl Write,
    ) -> Result<(), String> {
        let mut lines = input.lines();
        while let Some(line) = lines.next() {
            let line = line.map_err(|e| e.to_string())?;
            if line.trim().is_empty() {
                continue;
            }
            let answer = match Request::parse(&line) {
                Some(r) => self.answer(store, &r)?,
                // UNVERIFIED wording: the simulator does not interpret other PowerShell.
                None => Answer::err(format!("sfbpatch-sim: not a line the remoting transport sends: {line}\n")),
            };
            match answer {
                Answer::Text { stdout, mut stderr } => {
                    // PowerShell's error records end their line.
                    if !stderr.is_empty() && !stderr.ends_with('\n') {
                        stderr.push('\n');
                    }
                    out.write_all(stdout.as_bytes()).and_then(|()| out.flush()).map_err(|e| e.to_string())?;
                    err.write_all(stderr.as_bytes()).and_then(|()| err.flush()).map_err(|e| e.to_string())?;
                }
                Answer::Hang => {
                    // Whoever waits gives up and ends this process, or closes its input.
                    for _ in lines.by_ref() {}
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn answer<S: EstateStore>(&mut self, store: &mut S, r: &Request) -> Result<Answer, String> {
        Ok(match r {
            Request::Setup => Answer::none(),
            Request::Credential { path } => {
                if std::path::Path::new(path).is_file() {
                    self.credential = true;
                    Answer::none()
                } else {
                    Answer::err(format!("Import-Clixml : Could not find file '{path}'.\n"))
                }
            }
            Request::Open { session, computer, authentication } => {
                let credssp = *authentication == Authentication::CredSsp;
                if credssp && !self.credential {
                    // UNVERIFIED wording.
                    return Ok(Answer::err(
                        "New-PSSession : Cannot validate argument on parameter 'Credential'. The argument is null.\n"
                            .into(),
                    ));
                }
                let host = computer.as_str().to_owned();
                let opened = store.with(|e| {
                    prepare(e);
                    let at = e.host(&host).map(|h| h.clock_ms.max(h.unreachable_until))?;
                    e.open_session(&host, at)
                })?;
                match opened {
                    Some(id) => {
                        self.sessions.insert(*session, SimSession { host, id, credssp, state: State::Opened });
                        Answer::none()
                    }
                    None => Answer::err(format!(
                        "New-PSSession : [{host}] Connecting to remote server {host} failed with the following error message : WinRM cannot process the request. The following error occurred while using Kerberos authentication: Cannot find the computer {host}. For more information, see the about_Remote_Troubleshooting Help topic.\n    + CategoryInfo          : OpenError: (System.Manageme....RemoteRunspace:RemoteRunspace) [New-PSSession], PSRemotingTransportException\n    + FullyQualifiedErrorId : NetworkPathNotFound,PSSessionOpenFailed\n"
                    )),
                }
            }
            Request::Invoke { session, step, script, nonce } => {
                let s = match self.usable(*session, "Invoke-Command") {
                    Ok(s) => s,
                    Err(a) => return Ok(a),
                };
                let x = store.with(|e| run_in(e, &s, *step, script))?;
                self.took(&x);
                match x {
                    Some(x) if x.status == ExecStatus::Completed => {
                        let mut stdout = x.stdout;
                        if !stdout.is_empty() && !stdout.ends_with('\n') {
                            stdout.push('\n');
                        }
                        stdout.push_str(&envelope::marker(x.exit_code, nonce));
                        stdout.push('\n');
                        Answer::Text { stdout, stderr: x.stderr }
                    }
                    Some(x) if x.status == ExecStatus::TimedOut => Answer::Hang,
                    _ => self.dropped(*session, &s.host),
                }
            }
            Request::Copy { session, step, local, remote } => {
                let s = match self.usable(*session, "Copy-Item") {
                    Ok(s) => s,
                    Err(a) => return Ok(a),
                };
                let Ok(bytes) = std::fs::read(local) else {
                    return Ok(Answer::err(format!(
                        "Copy-Item : Cannot find path '{local}' because it does not exist.\n"
                    )));
                };
                let sha256 = hex(&Sha256::digest(&bytes));
                let x = store.with(|e| {
                    prepare(e);
                    let at = e.host(&s.host).map(|h| h.clock_ms.max(h.unreachable_until))?;
                    let file = SimFile { sha256, installs: e.package_build.clone(), intact: true, content: None };
                    Some(e.put_file(&s.host, *step, remote, file, at, u64::MAX / 8))
                })?;
                self.took(&x);
                match x {
                    Some(x) if x.status == ExecStatus::Completed && x.exit_code == 0 => Answer::none(),
                    Some(x) if x.status == ExecStatus::Completed => Answer::err(format!("Copy-Item : {}\n", x.stderr)),
                    Some(x) if x.status == ExecStatus::TimedOut => Answer::Hang,
                    _ => self.dropped(*session, &s.host),
                }
            }
            Request::Remove { session } => match self.sessions.get_mut(session) {
                Some(s) => {
                    s.state = State::Closed;
                    let (host, id) = (s.host.clone(), s.id);
                    store.with(|e| {
                        let h = e.hosts.iter_mut().find(|h| h.fqdn.as_str() == host);
                        if let Some(s) = h.and_then(|h| h.sessions.iter_mut().find(|s| s.id == id)) {
                            s.open = false;
                        }
                    })?;
                    Answer::none()
                }
                None => Answer::err(null_session("Remove-PSSession")),
            },
            Request::End { id, nonce, session } => {
                let state = session.and_then(|n| self.sessions.get(&n)).map_or("", |s| s.state.as_str());
                Answer::Text {
                    stdout: format!("{}\n", end_stdout(*id, nonce, state)),
                    stderr: format!("{}\n", end_stderr(*id, nonce)),
                }
            }
        })
    }

    /// The session, when a command can run in it; else what PowerShell answers.
    fn usable(&self, session: u64, cmdlet: &str) -> Result<SimSession, Answer> {
        match self.sessions.get(&session) {
            None => Err(Answer::err(null_session(cmdlet))),
            Some(s) if s.state != State::Opened => Err(Answer::err(format!(
                "{cmdlet} : Because the session state for session Session{session}, {} is not equal to Open, you cannot run a command in the session. The session state is {}.\n",
                s.host,
                s.state.as_str()
            ))),
            Some(s) => Ok(s.clone()),
        }
    }

    /// The connection dropped under a command: the session is broken.
    fn dropped(&mut self, session: u64, host: &str) -> Answer {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.state = State::Broken;
        }
        Answer::err(format!(
            "[{host}] Processing data from remote server {host} failed with the following error message: The WinRM client received an HTTP status code of 503 from the remote WS-Management service. For more information, see the about_Remote_Troubleshooting Help topic.\n    + CategoryInfo          : OpenError: ({host}:String) [], PSRemotingTransportException\n    + FullyQualifiedErrorId : JobFailure\n    + PSComputerName        : {host}\n"
        ))
    }

    /// A command takes its scaled time, after its effects were saved (the estate's lock is
    /// not held meanwhile).
    fn took(&self, x: &Option<Execution>) {
        if let (Some(f), Some(x)) = (self.time_scale, x)
            && matches!(x.status, ExecStatus::Completed | ExecStatus::Disconnected)
        {
            std::thread::sleep(Duration::from_secs_f64(x.end_ms.saturating_sub(x.start_ms) as f64 / 1000.0 * f));
        }
    }
}

fn null_session(cmdlet: &str) -> String {
    format!(
        "{cmdlet} : Cannot validate argument on parameter 'Session'. The argument is null or empty. Provide an argument that is not null or empty, and then try the command again.\n"
    )
}

/// What the shell sets before any command: local files readable for `Copy-Item` from this
/// machine, and the package's build (as `sim shell` does).
fn prepare(e: &mut Estate) {
    e.local_reader = Some(read_local);
    if e.package_build.is_none() {
        let product = e.hosts.first().map(|h| h.product).unwrap_or_default();
        e.package_build = Some(default_builds(product).1);
    }
}

fn read_local(path: &str) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Runs `script` in session `s` at the host's idle time, with the session's credentials for
/// this command only (the host keeps its own). `None`: no such host.
fn run_in(e: &mut Estate, s: &SimSession, step: Option<StepId>, script: &str) -> Option<Execution> {
    prepare(e);
    let hi = e.hosts.iter().position(|h| h.fqdn.as_str() == s.host)?;
    let at = e.hosts[hi].clock_ms.max(e.hosts[hi].unreachable_until);
    let kept = e.hosts[hi].network_credentials;
    e.hosts[hi].network_credentials = kept && s.credssp;
    let request = ExecRequest { host: &s.host, session: Some(s.id), step, script, at, timeout_ms: u64::MAX / 8 };
    let x = e.execute(&request);
    e.hosts[hi].network_credentials = kept;
    Some(x)
}

#[cfg(test)]
#[path = "remoting_tests.rs"]
mod tests;

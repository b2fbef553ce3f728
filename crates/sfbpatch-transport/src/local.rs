//! The local transport: commands run in shell processes on this machine, reading their
//! script on standard input.
//!
//! On Windows the default shell is `powershell.exe -NoProfile -NonInteractive
//! -ExecutionPolicy Bypass -Command -`, for a one-server run on the server itself. Any
//! program that reads a script on stdin can stand in (`--shell`); the literal `{host}` in
//! its arguments is replaced by the server's FQDN, which is how the simulator's shell
//! (`sfbpatch sim shell --estate DIR --host {host}`) serves any number of servers.
//!
//! **A process per session.** An engine session (`open_session`) is one shell process,
//! started at its first command and kept: each command is written to it as one wrapped line
//! (`envelope::wrap`, after an `envelope::step_line` naming its step, which a one-shot process
//! gets as `SFBPATCH_STEP` in its environment) and read on stdout and stderr up to the result
//! lines (`envelope::Reader`), so a Standard Edition server costs three shell starts instead of
//! one per command. `close_sessions` ends every process of the host (stdin closed, then killed
//! if it lingers) but a spare that has run nothing (`open_spare_session`: the installer's
//! process, started at once rather than at its first command). A command without a session (`run(host, None, …)`, staging) is a process
//! of its own, as before.
//!
//! A command past its timeout, or whose future is dropped, kills its process (it is taken out
//! of its slot while it runs, `kill_on_drop`), and the next command on that session starts a
//! new one. That is safe: a fresh process has no module loaded and sees the host as it is now,
//! and the steps that need a process started before or after the install say so themselves
//! (the engine's `open-shell`/`reopen-shell` start a new session, `close-shells` ends them,
//! and the install step runs in a session started before the outage that has run nothing,
//! `open_spare_session`, which `close_sessions` leaves open, or else one opened after
//! `close-shells`). A process that ends
//! mid-command answers as a one-shot one would: no result line, `TransportError::NoResult`,
//! or the simulator's dropped-session and silent-host markers.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::envelope;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::transport::{CommandOutput, SessionId, Transport, TransportError};
use sfbpatch_pwsh::{Arg, Command, Word};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};

/// What the simulator's shell prints (on stderr, exit 255) when the session drops or the
/// host does not answer; a real shell never does.
pub const SIM_DISCONNECTED: &str = "sfbpatch-sim: disconnected";
/// See [`SIM_DISCONNECTED`].
pub const SIM_UNREACHABLE: &str = "sfbpatch-sim: unreachable";

/// The local transport.
pub struct LocalTransport {
    program: PathBuf,
    args: Vec<String>,
    package: PathBuf,
    sha256: String,
    executes_on: Option<Fqdn>,
    /// The kept process of each session (`None`: not started yet, or running a command).
    kept: Mutex<HashMap<SessionId, (Fqdn, Option<Shell>)>>,
    /// Sessions started ahead that have run nothing yet (`open_spare_session`).
    spare: Mutex<HashSet<SessionId>>,
    next_session: AtomicU64,
    /// The language of the transport's own sentences (a shell that cannot be started).
    lang: sfbpatch_core::Lang,
}

/// A shell process kept for a session.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: BufReader<ChildStderr>,
}

/// How long a process whose input was closed may take to end before it is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

pub use crate::setup_error::SetupError;

/// Windows PowerShell reading its script on stdin.
pub fn default_shell() -> Vec<String> {
    ["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// This machine's FQDN, on Windows (the server a default local transport patches).
#[cfg(windows)]
fn this_machine() -> Option<Fqdn> {
    let host = std::env::var("COMPUTERNAME").ok()?;
    let domain = std::env::var("USERDNSDOMAIN").ok()?;
    Fqdn::parse(&format!("{host}.{domain}")).ok()
}

#[cfg(not(windows))]
fn this_machine() -> Option<Fqdn> {
    None
}

impl LocalTransport {
    /// A transport running `shell` (program and arguments; `{host}` replaced per server), for
    /// the update package at `package` (hashed now).
    pub fn new(shell: Vec<String>, package: &Path) -> Result<Self, SetupError> {
        use sha2::Digest as _;
        let Some((program, args)) = shell.split_first() else {
            return Err(SetupError::EmptyShell);
        };
        let bytes =
            std::fs::read(package).map_err(|source| SetupError::Package { path: package.to_owned(), source })?;
        let sha256 = sfbpatch_core::vocab::hex(&sha2::Sha256::digest(&bytes));
        let package = std::fs::canonicalize(package).unwrap_or_else(|_| package.to_owned());
        // With the default shell, commands run on this very machine: that server.
        let executes_on = if shell == default_shell() { this_machine() } else { None };
        Ok(Self {
            program: PathBuf::from(program),
            args: args.to_vec(),
            package,
            sha256,
            executes_on,
            kept: Mutex::new(HashMap::new()),
            spare: Mutex::new(HashSet::new()),
            next_session: AtomicU64::new(1),
            lang: sfbpatch_core::Lang::En,
        })
    }

    /// The transport's sentences in `lang`.
    pub fn with_lang(self, lang: sfbpatch_core::Lang) -> Self {
        Self { lang, ..self }
    }

    fn command(&self, host: &Fqdn, step: Option<StepId>) -> tokio::process::Command {
        let args: Vec<String> = self.args.iter().map(|a| a.replace("{host}", host.as_str())).collect();
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&args)
            .env("SFBPATCH_STEP", step.map(|s| s.as_str()).unwrap_or(""))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // A process group of its own, so that a terminal's Ctrl-C (sent to the foreground
        // group) reaches this program, whose clean stop still needs the kept shells, and not
        // them. On Windows, CREATE_NEW_PROCESS_GROUP (0x00000200) does the same for CTRL+C
        // ("Process Creation Flags", Microsoft Learn, learn.microsoft.com/windows/win32/
        // procthread/process-creation-flags).
        #[cfg(unix)]
        cmd.process_group(0);
        #[cfg(windows)]
        cmd.creation_flags(0x0000_0200);
        cmd
    }

    fn start_error(&self, e: &std::io::Error) -> TransportError {
        let a = sfbpatch_i18n::Args::new().with("program", self.program.display()).with("why", e);
        TransportError::Other(sfbpatch_i18n::fmt(self.lang, "transport.local.start", &a))
    }

    fn spares(&self) -> std::sync::MutexGuard<'_, HashSet<SessionId>> {
        self.spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new kept process for `host`.
    fn start(&self, host: &Fqdn) -> Result<Shell, TransportError> {
        let mut child = self.command(host, None).spawn().map_err(|e| self.start_error(&e))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(TransportError::Other("the shell's standard streams are missing".into()));
        };
        Ok(Shell { child, stdin, stdout: BufReader::new(stdout), stderr: BufReader::new(stderr) })
    }

    /// The kept process of `session` on `host`, taken out of its slot (started when there is
    /// none: not started yet, or the last one was killed).
    fn take(&self, host: &Fqdn, session: SessionId) -> Result<Shell, TransportError> {
        let taken = {
            let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let slot = kept.entry(session).or_insert_with(|| (host.clone(), None));
            if slot.0 == *host { slot.1.take() } else { None }
        };
        // A kept process that ended while idle (killed, crashed) is not written to: the
        // command goes to a new one.
        match taken {
            Some(mut shell) => match shell.child.try_wait() {
                Ok(None) => Ok(shell),
                _ => self.start(host),
            },
            None => self.start(host),
        }
    }

    /// Puts a process back in its slot after a complete command; a session closed meanwhile
    /// ends it.
    async fn put_back(&self, host: &Fqdn, session: SessionId, shell: Shell) {
        let leftover = {
            let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match kept.get_mut(&session) {
                Some((h, slot @ None)) if *h == *host => {
                    *slot = Some(shell);
                    None
                }
                _ => Some(shell),
            }
        };
        if let Some(shell) = leftover {
            end(shell).await;
        }
    }

    /// Ends every kept process (their input closed, so each closes its session), for the end
    /// of a run: dropped, they would be killed.
    pub async fn close_all(&self) {
        self.spares().clear();
        let shells: Vec<Shell> = {
            let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            kept.drain().filter_map(|(_, (_, shell))| shell).collect()
        };
        for shell in shells {
            end(shell).await;
        }
    }

    /// Runs `script` in the kept process of `session`.
    async fn kept_run(
        &self,
        host: &Fqdn,
        session: SessionId,
        step: Option<StepId>,
        script: &str,
    ) -> Result<CommandOutput, TransportError> {
        // The nonce first: a failure to draw it returns before the kept process (perhaps the
        // installer's spare) is taken out of its slot, which would drop, and so kill, it.
        let nonce = crate::nonce(self.lang)?;
        // A spare's first command: from now on it is a session like any other.
        self.spares().remove(&session);
        // Owned by this future: dropped (a timeout), it kills the process.
        let mut shell = self.take(host, session)?;
        let line =
            format!("{}{}", envelope::step_line(step.map_or("", |s| s.as_str())), envelope::wrap(script, &nonce));
        let mut written = send(&mut shell, &line).await;
        // A broken pipe proves the command never reached the process (it ended between the
        // check above and the write): sent again, once, to a new one.
        if matches!(&written, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            drop(shell);
            shell = self.start(host)?;
            written = send(&mut shell, &line).await;
        }
        let (out, err) =
            tokio::join!(read_to_result(&mut shell.stdout, &nonce), read_to_result(&mut shell.stderr, &nonce));
        match (written, out, err) {
            (Ok(()), Ok((Some(code), stdout)), Ok((Some(_), stderr))) => {
                self.put_back(host, session, shell).await;
                Ok(CommandOutput { exit_code: code, stdout, stderr })
            }
            // The process ended (or its pipes broke) before the command's result lines: as a
            // one-shot process's answer, from its exit status and what it printed.
            (_, out, err) => {
                let (code, mut stdout) = out.unwrap_or((None, String::new()));
                if let Some(code) = code {
                    stdout.push_str(&envelope::marker(code, &nonce));
                    stdout.push('\n');
                }
                let stderr = err.map(|(_, s)| s).unwrap_or_default();
                drop(shell.stdin);
                let status = shell.child.wait().await.ok().and_then(|s| s.code());
                crate::outcome(host, status, stdout.as_bytes(), stderr.as_bytes(), &nonce)
            }
        }
    }

    /// A process of its own for one command.
    async fn shell(&self, host: &Fqdn, step: Option<StepId>, script: &str) -> Result<CommandOutput, TransportError> {
        let nonce = crate::nonce(self.lang)?;
        let mut child = self.command(host, step).spawn().map_err(|e| self.start_error(&e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(envelope::wrap(script, &nonce).as_bytes()).await.map_err(|e| {
                let a = sfbpatch_i18n::Args::new().with("program", self.program.display()).with("why", e);
                TransportError::Other(sfbpatch_i18n::fmt(self.lang, "transport.local.write", &a))
            })?;
        }
        let out = child.wait_with_output().await.map_err(|e| TransportError::Other(e.to_string()))?;
        crate::outcome(host, out.status.code(), &out.stdout, &out.stderr, &nonce)
    }
}

/// Writes one command line to a kept process.
async fn send(shell: &mut Shell, line: &str) -> std::io::Result<()> {
    shell.stdin.write_all(line.as_bytes()).await?;
    shell.stdin.flush().await
}

/// One stream read up to the current command's result line (with its `nonce`): its code
/// (`None`: the stream ended first) and the text before it.
async fn read_to_result<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    nonce: &envelope::Nonce,
) -> std::io::Result<(Option<i32>, String)> {
    let mut reader = envelope::Reader::new(nonce.clone());
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok((None, reader.take()));
        }
        if let Some(code) = reader.line(&String::from_utf8_lossy(&line)) {
            return Ok((Some(code), reader.take()));
        }
    }
}

/// Ends a kept process: its input closed (a shell ends at the end of its input; the
/// simulator's closes its session), killed if it lingers.
async fn end(mut shell: Shell) {
    drop(shell.stdin);
    if tokio::time::timeout(CLOSE_GRACE, shell.child.wait()).await.is_err() {
        let _ = shell.child.kill().await;
    }
}

fn word(s: &'static str) -> Word {
    Word::fixed(s)
}

impl Transport for LocalTransport {
    async fn open_session(&self, host: &Fqdn) -> Result<SessionId, TransportError> {
        // The process starts with the session's first command.
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, (host.clone(), None));
        Ok(id)
    }

    /// The process starts now (spawned: its start runs on while the engine goes on), and
    /// waits for its first command; `close_sessions` leaves it until it has run one.
    async fn open_spare_session(&self, host: &Fqdn) -> Result<Option<SessionId>, TransportError> {
        let shell = self.start(host)?;
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        self.spares().insert(id);
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, (host.clone(), Some(shell)));
        Ok(Some(id))
    }

    async fn close_sessions(&self, host: &Fqdn) -> Result<(), TransportError> {
        let spare = self.spares().clone();
        let shells: Vec<Shell> = {
            let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let ids: Vec<SessionId> =
                kept.iter().filter(|(id, (h, _))| h == host && !spare.contains(id)).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| kept.remove(&id).and_then(|(_, shell)| shell)).collect()
        };
        for shell in shells {
            end(shell).await;
        }
        Ok(())
    }

    async fn close_session(&self, host: &Fqdn, session: SessionId) -> Result<(), TransportError> {
        self.spares().remove(&session);
        let shell = {
            let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match kept.get(&session) {
                Some((h, _)) if h == host => kept.remove(&session).and_then(|(_, shell)| shell),
                _ => None,
            }
        };
        if let Some(shell) = shell {
            end(shell).await;
        }
        Ok(())
    }

    async fn run(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        _timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        match session {
            Some(id) => self.kept_run(host, id, step, script).await,
            None => self.shell(host, step, script).await,
        }
    }

    async fn stage(
        &self,
        host: &Fqdn,
        step: Option<StepId>,
        remote_path: &str,
        timeout: Duration,
    ) -> Result<(), TransportError> {
        self.stage_in(host, None, step, remote_path, timeout).await
    }

    async fn stage_in(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        remote_path: &str,
        timeout: Duration,
    ) -> Result<(), TransportError> {
        let folder = remote_path.rsplit_once('\\').map_or(remote_path, |(d, _)| d);
        let mkdir = Command::named(word("New-Item"))
            .arg(Arg::Named(word("ItemType"), "Directory".into()))
            .arg(Arg::Switch(word("Force")))
            .arg(Arg::Named(word("Path"), folder.to_owned()))
            .render();
        let copy = Command::named(word("Copy-Item"))
            .arg(Arg::Named(word("LiteralPath"), self.package.display().to_string()))
            .arg(Arg::Named(word("Destination"), remote_path.to_owned()))
            .render();
        let o = self.run(host, session, step, &format!("{mkdir}\n{copy}"), timeout).await?;
        if o.exit_code == 0 { Ok(()) } else { Err(TransportError::Other(o.stderr.trim().to_owned())) }
    }

    fn package_sha256(&self) -> String {
        self.sha256.clone()
    }

    fn package_size(&self) -> Option<u64> {
        std::fs::metadata(&self.package).ok().map(|m| m.len())
    }

    fn executes_on(&self) -> Option<Fqdn> {
        self.executes_on.clone()
    }

    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

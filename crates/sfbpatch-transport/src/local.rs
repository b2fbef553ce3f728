//! The local transport: every command runs in a new shell process on this machine, reading
//! the script on its standard input.
//!
//! On Windows the default shell is `powershell.exe -NoProfile -NonInteractive
//! -ExecutionPolicy Bypass -Command -`, for a one-server run on the server itself. Any
//! program that reads a script on stdin can stand in (`--shell`); the literal `{host}` in
//! its arguments is replaced by the server's FQDN, which is how the simulator's shell
//! (`sfbpatch sim shell --estate DIR --host {host}`) serves any number of servers. The step
//! being run is passed in the environment as `SFBPATCH_STEP`.
//!
//! Each command is its own process, hence its own session: whatever runs after the install
//! runs in a shell started after it (DOMAIN.md §4 rule 4), and `close-shells` has nothing to
//! close. A command past its timeout is killed with its process (nothing lingers).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::transport::{CommandOutput, SessionId, Transport, TransportError};
use sfbpatch_pwsh::{Arg, Command, Word};
use tokio::io::AsyncWriteExt;

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
}

/// Why the transport could not be set up.
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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
            return Err(SetupError("the shell command is empty".into()));
        };
        let bytes = std::fs::read(package)
            .map_err(|e| SetupError(format!("cannot read the package {}: {e}", package.display())))?;
        let sha256 = sfbpatch_core::vocab::hex(&sha2::Sha256::digest(&bytes));
        let package = std::fs::canonicalize(package).unwrap_or_else(|_| package.to_owned());
        // With the default shell, commands run on this very machine: that server.
        let executes_on = if shell == default_shell() { this_machine() } else { None };
        Ok(Self { program: PathBuf::from(program), args: args.to_vec(), package, sha256, executes_on })
    }

    async fn shell(&self, host: &Fqdn, step: Option<StepId>, script: &str) -> Result<CommandOutput, TransportError> {
        let args: Vec<String> = self.args.iter().map(|a| a.replace("{host}", host.as_str())).collect();
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&args)
            .env("SFBPATCH_STEP", step.map(|s| s.as_str()).unwrap_or(""))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child =
            cmd.spawn().map_err(|e| TransportError::Other(format!("cannot start {}: {e}", self.program.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(sfbpatch_core::envelope::wrap(script).as_bytes())
                .await
                .map_err(|e| TransportError::Other(format!("writing the script: {e}")))?;
        }
        let out = child.wait_with_output().await.map_err(|e| TransportError::Other(e.to_string()))?;
        crate::outcome(host, out.status.code(), &out.stdout, &out.stderr)
    }
}

fn word(s: &'static str) -> Word {
    Word::fixed(s)
}

impl Transport for LocalTransport {
    async fn open_session(&self, _host: &Fqdn) -> Result<SessionId, TransportError> {
        Ok(0)
    }

    async fn close_sessions(&self, _host: &Fqdn) -> Result<(), TransportError> {
        Ok(())
    }

    async fn run(
        &self,
        host: &Fqdn,
        _session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        _timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        self.shell(host, step, script).await
    }

    async fn stage(
        &self,
        host: &Fqdn,
        step: Option<StepId>,
        remote_path: &str,
        _timeout: Duration,
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
        let o = self.shell(host, step, &format!("{mkdir}\n{copy}")).await?;
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

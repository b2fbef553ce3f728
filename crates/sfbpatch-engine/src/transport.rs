//! How commands reach servers. The simulator, the local shell and SSH implement it.

use std::future::Future;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;

/// A PowerShell session on a host.
pub type SessionId = u64;

/// What a completed command printed and returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Why a logon has no network credentials (DOMAIN.md §5, the double hop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialGap {
    /// A key-based Win32-OpenSSH logon: an S4U logon (PowerShell/Win32-OpenSSH #518, #1264).
    SshKey,
    /// A PowerShell remoting session authenticated by Kerberos, which does not delegate the
    /// credentials onward unless CredSSP (or delegation) is used.
    KerberosRemoting,
}

/// Why a command did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The host does not answer (restarting, down, unreachable).
    #[error("{0} does not answer")]
    Unreachable(String),
    /// The session dropped while the command ran: it may or may not have been applied.
    #[error("the session to {0} dropped")]
    Disconnected(String),
    /// The command ended without its result line (`sfbpatch_core::envelope`): it did not run
    /// to its end (cut, `exit` called) or the far side is not PowerShell. Whether it changed
    /// anything is unknown, as with a dropped session.
    #[error("{host}: the command ended (exit code {exit_code:?}) without its result line")]
    NoResult {
        /// The host.
        host: String,
        /// The process's or channel's exit code, if it had one.
        exit_code: Option<i32>,
    },
    /// Anything else (configuration, authentication, host key…).
    #[error("{0}")]
    Other(String),
}

/// A way to run commands on servers.
///
/// The engine wraps every call in the step's timeout and drops the future when it passes;
/// `timeout` is passed too so that a transport can end the remote command.
pub trait Transport {
    /// Opens a new PowerShell session on `host`.
    fn open_session(&self, host: &Fqdn) -> impl Future<Output = Result<SessionId, TransportError>>;

    /// Opens a session on `host` for the update installer, its shell process (or channel)
    /// started now rather than at its first command, so that the start (hundreds of
    /// milliseconds for `powershell.exe`) falls before the users' outage, not inside it
    /// (issue 14; DOMAIN.md §1: what can happen before step 4 happens before it).
    ///
    /// Until its first command it is a *spare*: it has run nothing, so it has never loaded the
    /// Skype for Business module, and [`Transport::close_sessions`] leaves it open — only a
    /// shell with the module loaded holds the files the installer replaces (DOMAIN.md §4 rule 2;
    /// the seed's step 6 closes *Management Shell* windows, §1 step 3). Once it has run a
    /// command it is a session like any other. [`Transport::close_session`] ends it.
    ///
    /// `Ok(None)`: the transport has nothing to start ahead (the default, and transports whose
    /// sessions cost nothing to open); the engine then opens the installer's session when the
    /// install step comes, as it does after any error here.
    fn open_spare_session(&self, host: &Fqdn) -> impl Future<Output = Result<Option<SessionId>, TransportError>> {
        let _ = host;
        std::future::ready(Ok(None))
    }

    /// Ends every session on `host` (the seed's "close every Management Shell"), except spare
    /// sessions that have run nothing yet ([`Transport::open_spare_session`]).
    fn close_sessions(&self, host: &Fqdn) -> impl Future<Output = Result<(), TransportError>>;

    /// Ends one session on `host` (its kept shell process or channel), once the engine is
    /// done with it. Transports that keep nothing per session have nothing to do.
    fn close_session(&self, host: &Fqdn, session: SessionId) -> impl Future<Output = Result<(), TransportError>> {
        let _ = (host, session);
        std::future::ready(Ok(()))
    }

    /// Runs `script` on `host`, in `session` or in a session of its own.
    fn run(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<CommandOutput, TransportError>>;

    /// Puts the package on `host` at `remote_path` (staging, before the outage).
    fn stage(
        &self,
        host: &Fqdn,
        step: Option<StepId>,
        remote_path: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TransportError>>;

    /// [`Transport::stage`] through `session` when the transport copies with a command of the
    /// session's shell (the local transport's `Copy-Item`); by default as `stage`.
    fn stage_in(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        remote_path: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TransportError>> {
        let _ = session;
        self.stage(host, step, remote_path, timeout)
    }

    /// The SHA-256 (lower-case hex) the staged package must have.
    fn package_sha256(&self) -> String;

    /// The package's size in bytes, when known (the free space on the server is checked
    /// against it before staging).
    fn package_size(&self) -> Option<u64> {
        None
    }

    /// The server this transport executes on, if it is one of the estate's (a local shell on
    /// a server). The engine refuses to patch that server together with others.
    fn executes_on(&self) -> Option<Fqdn> {
        None
    }

    /// Whether commands sent this way to `host` carry network credentials, so that a command
    /// run there can reach another machine's SQL Server (`Install-CsDatabase -SqlServerFqdn`).
    /// It is the logon to the host that *runs* the command that counts: a key-based SSH logon
    /// on Windows has none (an S4U logon: DOMAIN.md §5, the double hop), a password logon has.
    fn network_credentials(&self, _host: &Fqdn) -> bool {
        true
    }

    /// Why a logon without network credentials has none, for the sentence that says so.
    fn credential_gap(&self) -> CredentialGap {
        CredentialGap::SshKey
    }

    /// Milliseconds since the transport's epoch (virtual for the simulator).
    fn now_ms(&self) -> u64;

    /// The wall-clock time that `d` of the transport's time takes (the simulator's time
    /// scale; the identity for real servers). Timeouts, back-offs and polls go through it.
    fn real(&self, d: Duration) -> Duration {
        d
    }
}

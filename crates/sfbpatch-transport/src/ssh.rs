//! The SSH transport (russh): key or password authentication (`ssh_auth`), host keys
//! checked against a known_hosts file (an unknown key is refused unless `accept_new`, a
//! changed key always, with its fingerprint), one connection per server kept across steps
//! and re-opened after a drop (`ssh_connect`), the package staged by SFTP (`ssh_copy`), the
//! connections file read by `ssh_hosts`.
//!
//! **A remote shell per session** (issue 14): an engine session is one channel running the
//! remote shell, opened at its first command and kept (`ssh_kept`), as the local transport
//! keeps a process; sshd's cost of a session (~130–250 ms measured by `bench/run`, OpenSSH's
//! own client with a ControlMaster paying the same) is paid once per session instead of per
//! command. A command past its timeout, or whose future is dropped, closes its channel (taken
//! out of its slot while it runs) and the next command on that session opens a new one;
//! `close_sessions` ends the host's channels (input closed, then closed if they linger). A
//! command without a session is an exec channel of its own whose standard input carries the
//! script, `SFBPATCH_STEP` sent by `set_env` (sshd's `AcceptEnv`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::setup_error::SetupError;
pub use crate::ssh_auth::{Auth, PasswordSource, Passwords};
use russh::ChannelMsg;
use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::transport::{CommandOutput, SessionId, Transport, TransportError};

#[path = "ssh_connect.rs"]
mod connect;
#[path = "ssh_copy.rs"]
mod copy;
#[path = "ssh_hosts.rs"]
mod hosts;
#[path = "ssh_kept.rs"]
mod kept;
pub use connect::{CONNECT_TIMEOUT, MIN_CONNECT_TIMEOUT, host_key_algorithms};
use connect::{Slot, floored};
pub use hosts::{HostConfig, connections};
use kept::Kept;

/// The SSH transport.
pub struct SshTransport {
    hosts: BTreeMap<String, HostConfig>,
    accept_new: bool,
    package: PathBuf,
    sha256: String,
    remote_shell: String,
    /// One slot per host, each behind a lock of its own: the map's lock is held only to find
    /// a slot, never across a connect, so that a host that stalls keeps no other waiting.
    conns: tokio::sync::Mutex<HashMap<String, Slot>>,
    passwords: Passwords,
    lang: sfbpatch_core::Lang,
    connect_timeout: Duration,
    /// The kept channel of each session (`None`: not opened yet, or running a command).
    kept: Mutex<HashMap<SessionId, (Fqdn, Option<Kept>)>>,
    next_session: AtomicU64,
}

impl SshTransport {
    /// A transport for `hosts`; `package` is hashed now.
    pub fn new(hosts: BTreeMap<String, HostConfig>, accept_new: bool, package: &Path) -> Result<Self, SetupError> {
        use sha2::Digest as _;
        let bytes =
            std::fs::read(package).map_err(|source| SetupError::Package { path: package.to_owned(), source })?;
        let sha256 = sfbpatch_core::vocab::hex(&sha2::Sha256::digest(&bytes));
        Ok(Self {
            hosts,
            accept_new,
            package: package.to_owned(),
            sha256,
            remote_shell: "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -".into(),
            conns: tokio::sync::Mutex::new(HashMap::new()),
            passwords: Passwords::default(),
            lang: sfbpatch_core::Lang::En,
            connect_timeout: CONNECT_TIMEOUT,
            kept: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
        })
    }

    /// How long a connection may take before its host is given up ([`CONNECT_TIMEOUT`]
    /// scaled by the run's `--timeout-scale`).
    pub fn with_connect_timeout(self, connect_timeout: Duration) -> Self {
        Self { connect_timeout: floored(connect_timeout), ..self }
    }

    /// The passwords read for the hosts that log on by password, and the language of the
    /// sentences a refused logon is told in.
    pub fn with_passwords(self, passwords: Passwords, lang: sfbpatch_core::Lang) -> Self {
        Self { passwords, lang, ..self }
    }

    async fn exec(&self, host: &Fqdn, step: Option<StepId>, script: &str) -> Result<CommandOutput, TransportError> {
        let nonce = crate::nonce(self.lang)?;
        let h = self.handle(host).await?;
        let mut ch = match h.channel_open_session().await {
            Ok(c) => c,
            Err(_) => {
                self.forget(host).await;
                return Err(TransportError::Disconnected(host.to_string()));
            }
        };
        if let Some(s) = step {
            let _ = ch.set_env(false, "SFBPATCH_STEP", s.as_str()).await;
        }
        let sent = async {
            ch.exec(true, self.remote_shell.as_str()).await?;
            ch.data(sfbpatch_core::envelope::wrap(script, &nonce).as_bytes()).await?;
            ch.eof().await
        }
        .await;
        if sent.is_err() {
            self.forget(host).await;
            return Err(TransportError::Disconnected(host.to_string()));
        }
        let (mut stdout, mut stderr, mut code, mut eof) = (Vec::new(), Vec::new(), None, false);
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                ChannelMsg::Eof => eof = true,
                _ => {}
            }
            // All output has come (EOF) and the command has ended: no need to wait for the
            // channel's close.
            if eof && code.is_some() {
                let _ = ch.close().await;
                break;
            }
        }
        if code.is_none() {
            self.forget(host).await;
        }
        crate::outcome(host, code.map(|c| i32::try_from(c).unwrap_or(-1)), &stdout, &stderr, &nonce)
    }

    /// A command on `session`'s kept channel, or on an exec channel of its own.
    async fn command(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
    ) -> Result<CommandOutput, TransportError> {
        match session {
            Some(id) => self.kept_run(host, id, step, script).await,
            None => self.exec(host, step, script).await,
        }
    }
}

impl Transport for SshTransport {
    async fn open_session(&self, host: &Fqdn) -> Result<SessionId, TransportError> {
        // Connected now (an unreachable host is told at once); the channel opens with the
        // session's first command.
        self.handle(host).await?;
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        self.slots().insert(id, (host.clone(), None));
        Ok(id)
    }

    async fn open_spare_session(&self, host: &Fqdn) -> Result<Option<SessionId>, TransportError> {
        self.open_spare(host).await
    }

    async fn close_sessions(&self, host: &Fqdn) -> Result<(), TransportError> {
        self.close_host(host).await;
        Ok(())
    }

    async fn close_session(&self, host: &Fqdn, session: SessionId) -> Result<(), TransportError> {
        self.close_one(host, session).await;
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
        self.command(host, session, step, script).await
    }

    async fn stage(
        &self,
        host: &Fqdn,
        step: Option<StepId>,
        remote_path: &str,
        _timeout: Duration,
    ) -> Result<(), TransportError> {
        self.stage_via(host, None, step, remote_path).await
    }

    async fn stage_in(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        remote_path: &str,
        _timeout: Duration,
    ) -> Result<(), TransportError> {
        self.stage_via(host, session, step, remote_path).await
    }

    /// A password logon has them, a key logon (a key file or ssh-agent) does not:
    /// Win32-OpenSSH gives the latter an S4U logon (DOMAIN.md §5; PowerShell/Win32-OpenSSH
    /// #518, #1264).
    fn network_credentials(&self, host: &Fqdn) -> bool {
        self.hosts.get(host.as_str()).is_some_and(|c| matches!(c.auth, Auth::Password(_)))
    }

    fn package_sha256(&self) -> String {
        self.sha256.clone()
    }

    fn package_size(&self) -> Option<u64> {
        std::fs::metadata(&self.package).ok().map(|m| m.len())
    }

    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

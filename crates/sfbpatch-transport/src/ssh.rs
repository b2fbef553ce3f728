//! The SSH transport (russh): key or password authentication (`ssh_auth`), host keys
//! checked against a known_hosts file (an unknown key is refused unless `accept_new`, a
//! changed key always, with its fingerprint), one connection per server kept across steps
//! and re-opened after a drop, the package staged by SFTP.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::connections_error::ConnectionsError;
use crate::setup_error::SetupError;
use crate::ssh_auth::AuthWord;
pub use crate::ssh_auth::{Auth, PasswordSource, Passwords};
use russh::ChannelMsg;
use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use serde::Deserialize;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::{Fqdn, Lang};
use sfbpatch_engine::transport::{CommandOutput, SessionId, Transport, TransportError};
use sfbpatch_i18n::{Args, fmt as tr};
use tokio::io::AsyncWriteExt;

#[path = "ssh_kept.rs"]
mod kept;
use kept::Kept;

/// How to reach one server.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Address to connect to (defaults to the FQDN).
    pub address: String,
    /// Port.
    pub port: u16,
    /// User (`DOMAIN\user` or `user@domain`).
    pub user: String,
    /// Private key file.
    pub identity_file: PathBuf,
    /// known_hosts file.
    pub known_hosts: PathBuf,
    /// How it is logged on to: a key, or a password (which gives network credentials).
    pub auth: Auth,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    address: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    identity_file: Option<String>,
    known_hosts: Option<String>,
    auth: Option<AuthWord>,
    password_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionsFile {
    #[serde(default)]
    defaults: Entry,
    #[serde(default)]
    hosts: BTreeMap<String, Entry>,
}

fn expand(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Reads a connections file (README) and resolves every server of `servers`.
pub fn connections(path: &Path, servers: &[Fqdn]) -> Result<BTreeMap<String, HostConfig>, ConnectionsError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConnectionsError::Read { path: path.to_owned(), source })?;
    let file: ConnectionsFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1).unwrap_or(0);
        ConnectionsError::Syntax { path: path.to_owned(), line, why: e.message().trim().to_owned() }
    })?;
    let d = &file.defaults;
    let mut out = BTreeMap::new();
    for s in servers {
        let h = file
            .hosts
            .get(s.as_str())
            .or_else(|| file.hosts.iter().find(|(k, _)| k.eq_ignore_ascii_case(s.as_str())).map(|(_, v)| v));
        let pick = |f: fn(&Entry) -> Option<String>| h.and_then(f).or_else(|| f(d));
        let user = pick(|e| e.user.clone())
            .ok_or_else(|| ConnectionsError::NoUser { path: path.to_owned(), server: s.to_string() })?;
        let identity = pick(|e| e.identity_file.clone()).unwrap_or_else(|| "~/.ssh/id_ed25519".into());
        let known = pick(|e| e.known_hosts.clone()).unwrap_or_else(|| "~/.ssh/known_hosts".into());
        let password_file = pick(|e| e.password_file.clone()).map(|f| expand(&f));
        let auth = crate::ssh_auth::resolve(h.and_then(|e| e.auth).or(d.auth), password_file, path);
        out.insert(
            s.to_string(),
            HostConfig {
                address: pick(|e| e.address.clone()).unwrap_or_else(|| s.to_string()),
                port: h.and_then(|e| e.port).or(d.port).unwrap_or(22),
                user,
                identity_file: expand(&identity),
                known_hosts: expand(&known),
                auth,
            },
        );
    }
    Ok(out)
}

struct Client {
    address: String,
    port: u16,
    known_hosts: PathBuf,
    accept_new: bool,
    lang: sfbpatch_core::Lang,
    verdict: Arc<Mutex<Option<String>>>,
}

impl Client {
    fn refuse(&self, why: String) -> Result<bool, russh::Error> {
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(why);
        }
        Ok(false)
    }

    /// Appends `[host]:port key` to the known_hosts file, created private (0600) if missing.
    fn record(&self, key: &russh::keys::PublicKey) -> std::io::Result<()> {
        use std::io::Write as _;
        let line = key.to_openssh().map_err(std::io::Error::other)?;
        let old = std::fs::read(&self.known_hosts).unwrap_or_default();
        let mut o = std::fs::OpenOptions::new();
        o.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&self.known_hosts)?;
        let sep = if old.is_empty() || old.ends_with(b"\n") { "" } else { "\n" };
        let name = crate::known_hosts::host_port(&self.address, self.port);
        f.write_all(format!("{sep}{name} {line}\n").as_bytes())
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    /// The key judged by [`crate::known_hosts::check`]: known, else recorded only when the
    /// host has no line at all and `accept_new` (OpenSSH's `StrictHostKeyChecking=accept-new`,
    /// ssh_config(5)); revoked, changed or other-typed keys are always refused.
    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        use crate::known_hosts::{Verdict, check, host_port};
        let address = format!("{}:{}", self.address, self.port);
        let file = self.known_hosts.display().to_string();
        let args = || Args::new().with("address", &address).with("file", &file);
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return self.refuse(tr(self.lang, "transport.ssh.host-key-certificate", &args()));
        };
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        let text = match std::fs::read_to_string(&self.known_hosts) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                let a = args().with("fingerprint", &fp).with("why", e);
                return self.refuse(tr(self.lang, "transport.ssh.host-key-unreadable", &a));
            }
        };
        let lang = self.lang;
        match check(&text, &host_port(&self.address, self.port), key) {
            Verdict::Known => Ok(true),
            Verdict::Unknown if self.accept_new => match self.record(key) {
                Ok(()) => Ok(true),
                Err(e) => {
                    let a = args().with("fingerprint", &fp).with("why", e);
                    self.refuse(tr(lang, "transport.ssh.host-key-unrecorded", &a))
                }
            },
            Verdict::Unknown => {
                self.refuse(tr(lang, "transport.ssh.host-key-unknown", &args().with("fingerprint", &fp)))
            }
            Verdict::Changed { line } => {
                let a = args().with("fingerprint", &fp).with("line", line);
                self.refuse(tr(lang, "transport.ssh.host-key-changed", &a))
            }
            Verdict::Revoked { line } => {
                let a = args().with("fingerprint", &fp).with("line", line);
                self.refuse(tr(lang, "transport.ssh.host-key-revoked", &a))
            }
            Verdict::OtherKeys { line } => {
                let a = args().with("fingerprint", &fp).with("line", line).with("kind", key.algorithm().as_str());
                self.refuse(tr(lang, "transport.ssh.host-key-other", &a))
            }
        }
    }
}

/// Tries every key the ssh-agent holds (`SSH_AUTH_SOCK`); the keys never leave the agent.
#[cfg(unix)]
async fn agent_auth(handle: &mut client::Handle<Client>, user: &str, lang: Lang) -> Result<bool, String> {
    let mut agent = russh::keys::agent::client::AgentClient::connect_env()
        .await
        .map_err(|e| tr(lang, "transport.ssh.key.no-agent", &Args::new().with("why", e)))?;
    let identities = agent.request_identities().await.map_err(|e| e.to_string())?;
    let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
    for id in identities {
        let key = id.public_key().into_owned();
        match handle.authenticate_publickey_with(user.to_owned(), key, hash, &mut agent).await {
            Ok(r) if r.success() => return Ok(true),
            _ => continue,
        }
    }
    Ok(false)
}

#[cfg(not(unix))]
async fn agent_auth(_handle: &mut client::Handle<Client>, _user: &str, lang: Lang) -> Result<bool, String> {
    Err(tr(lang, "transport.ssh.key.no-agent-windows", &Args::new()))
}

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

/// A host's connection, once opened.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<client::Handle<Client>>>>>;

/// How long a connection may take from TCP to a logged-on session (handshake, host key,
/// authentication) before the host is given up, at `--timeout-scale` 1: OpenSSH's
/// `ConnectTimeout` has no default, and a host that accepts TCP and never answers would
/// otherwise hold its server until the TCP keepalive ends it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The least a scaled-down [`CONNECT_TIMEOUT`] may be (`--timeout-scale` below 1, for fast
/// test estates): a handshake and logon on a loaded machine can take longer than a second, and
/// a shorter limit would give up healthy hosts (as read-backs keep at least 10 s).
pub const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connect timeout no shorter than [`MIN_CONNECT_TIMEOUT`].
fn floored(connect_timeout: Duration) -> Duration {
    connect_timeout.max(MIN_CONNECT_TIMEOUT)
}

/// Host key algorithms offered, in order: russh's defaults without `ssh-rsa` (RSA signed
/// with SHA-1), which OpenSSH 8.8 disabled by default (release notes, 2021-09-26); RSA host
/// keys are still taken with `rsa-sha2-512`/`rsa-sha2-256` (RFC 8332).
pub fn host_key_algorithms() -> Vec<russh::keys::Algorithm> {
    russh::Preferred::DEFAULT
        .key
        .iter()
        .filter(|a| !matches!(a, russh::keys::Algorithm::Rsa { hash: None }))
        .cloned()
        .collect()
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

    async fn connect(&self, host: &Fqdn) -> Result<Arc<client::Handle<Client>>, TransportError> {
        let cfg = self.hosts.get(host.as_str()).ok_or_else(|| {
            TransportError::Other(tr(self.lang, "transport.ssh.settings.missing", &Args::new().with("host", host)))
        })?;
        let verdict = Arc::new(Mutex::new(None));
        let handler = Client {
            address: cfg.address.clone(),
            port: cfg.port,
            known_hosts: cfg.known_hosts.clone(),
            accept_new: self.accept_new,
            lang: self.lang,
            verdict: verdict.clone(),
        };
        let config = Arc::new(client::Config {
            keepalive_interval: Some(Duration::from_secs(15)),
            nodelay: true,
            preferred: russh::Preferred { key: host_key_algorithms().into(), ..russh::Preferred::DEFAULT },
            ..Default::default()
        });
        let refused = || verdict.lock().ok().and_then(|v| v.clone());
        let mut handle = match client::connect(config, (cfg.address.as_str(), cfg.port), handler).await {
            Ok(h) => h,
            Err(e) => {
                return Err(match refused() {
                    Some(why) => TransportError::Other(why),
                    None => TransportError::Unreachable(format!("{host} ({}:{}): {e}", cfg.address, cfg.port)),
                });
            }
        };
        if let Auth::Password(source) = &cfg.auth {
            let (user, lang) = (cfg.user.as_str(), self.lang);
            self.passwords.log_on(&mut handle, host, user, source, lang).await.map_err(TransportError::Other)?;
            return Ok(Arc::new(handle));
        }
        let auth_error = |e: &dyn std::fmt::Display| {
            let a = Args::new().with("user", &cfg.user).with("host", host).with("why", e);
            TransportError::Other(tr(self.lang, "transport.ssh.auth-error", &a))
        };
        let authenticated = if cfg.identity_file.exists() {
            let key = russh::keys::load_secret_key(&cfg.identity_file, None).map_err(|e| {
                let a = Args::new().with("file", cfg.identity_file.display()).with("why", e);
                TransportError::Other(tr(self.lang, "transport.ssh.key.unreadable", &a))
            })?;
            let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
            handle
                .authenticate_publickey(cfg.user.clone(), PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
                .map_err(|e| auth_error(&e))?
                .success()
        } else {
            agent_auth(&mut handle, &cfg.user, self.lang).await.map_err(|e| auth_error(&e))?
        };
        if !authenticated {
            let a = Args::new().with("host", host).with("file", cfg.identity_file.display()).with("user", &cfg.user);
            return Err(TransportError::Other(tr(self.lang, "transport.ssh.key.refused", &a)));
        }
        Ok(Arc::new(handle))
    }

    /// The connection to `host`, opened once and kept. Only this host's slot is locked while
    /// it connects, for at most the connect timeout.
    async fn handle(&self, host: &Fqdn) -> Result<Arc<client::Handle<Client>>, TransportError> {
        let slot = self.conns.lock().await.entry(host.to_string()).or_default().clone();
        let mut slot = slot.lock().await;
        if let Some(h) = slot.as_ref().filter(|h| !h.is_closed()) {
            return Ok(h.clone());
        }
        let h = match tokio::time::timeout(self.connect_timeout, self.connect(host)).await {
            Ok(h) => h?,
            Err(_) => {
                let cfg = self.hosts.get(host.as_str());
                let address = cfg.map(|c| format!("{}:{}", c.address, c.port)).unwrap_or_default();
                let args = Args::new()
                    .with("host", host)
                    .with("address", address)
                    .with("seconds", format!("{:.1}", self.connect_timeout.as_secs_f64()));
                return Err(TransportError::Other(tr(self.lang, "transport.ssh.connect-timeout", &args)));
            }
        };
        *slot = Some(h.clone());
        Ok(h)
    }

    async fn forget(&self, host: &Fqdn) {
        let slot = self.conns.lock().await.get(host.as_str()).cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
    }

    async fn exec(&self, host: &Fqdn, step: Option<StepId>, script: &str) -> Result<CommandOutput, TransportError> {
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
            ch.data(sfbpatch_core::envelope::wrap(script).as_bytes()).await?;
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
        crate::outcome(host, code.map(|c| i32::try_from(c).unwrap_or(-1)), &stdout, &stderr)
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

    /// The package sent by SFTP unless already there; its hash checked on the far side with
    /// a command of `session` (or an exec channel of its own).
    async fn stage_via(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        remote_path: &str,
    ) -> Result<(), TransportError> {
        let check = sfbpatch_pwsh::Command::named(sfbpatch_pwsh::Word::fixed("Get-FileHash"))
            .arg(sfbpatch_pwsh::Arg::Named(sfbpatch_pwsh::Word::fixed("Algorithm"), "SHA256".into()))
            .arg(sfbpatch_pwsh::Arg::Named(sfbpatch_pwsh::Word::fixed("LiteralPath"), remote_path.to_owned()))
            .render();
        let remote_hash = |o: Result<CommandOutput, TransportError>| {
            o.ok().and_then(|o| sfbpatch_core::readback::parse_file_hash(&o.stdout))
        };
        // Already there with the right hash: not sent again.
        if remote_hash(self.command(host, session, step, &check).await).as_deref() == Some(self.sha256.as_str()) {
            return Ok(());
        }
        // Sent, checked on the far side, and sent again once if the copy came out wrong
        // (a truncated or corrupted earlier copy, or a transfer cut short).
        let mut last = None;
        for _ in 0..2 {
            self.sftp_put(host, remote_path).await?;
            let got = remote_hash(self.command(host, session, step, &check).await);
            if got.as_deref() == Some(self.sha256.as_str()) {
                return Ok(());
            }
            last = got;
        }
        let got = last.unwrap_or_else(|| tr(self.lang, "transport.ssh.copy.unknown", &Args::new()));
        let a = Args::new().with("host", host).with("got", got).with("expected", &self.sha256);
        Err(TransportError::Other(tr(self.lang, "transport.ssh.copy.hash", &a)))
    }

    async fn sftp_put(&self, host: &Fqdn, remote: &str) -> Result<(), TransportError> {
        let other = |e: &dyn std::fmt::Display| {
            TransportError::Other(tr(
                self.lang,
                "transport.ssh.copy.sftp",
                &Args::new().with("host", host).with("why", e),
            ))
        };
        let h = self.handle(host).await?;
        let ch = h.channel_open_session().await.map_err(|e| other(&e))?;
        ch.request_subsystem(true, "sftp").await.map_err(|e| other(&e))?;
        let sftp = russh_sftp::client::SftpSession::new(ch.into_stream()).await.map_err(|e| other(&e))?;
        // Windows paths as Windows OpenSSH's SFTP takes them: C:/ProgramData/….
        let path = remote.replace('\\', "/");
        let mut dir = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(part);
            // A drive ("C:") cannot be created on Windows and that is fine.
            if sftp.try_exists(dir.clone()).await.map(|e| !e).unwrap_or(true) {
                let _ = sftp.create_dir(dir.clone()).await;
            }
        }
        let bytes = std::fs::read(&self.package).map_err(|e| other(&e))?;
        let mut f = sftp.create(path).await.map_err(|e| other(&e))?;
        f.write_all(&bytes).await.map_err(|e| other(&e))?;
        f.shutdown().await.map_err(|e| other(&e))?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use russh::keys::{Algorithm, HashAlg};

    #[test]
    fn a_scaled_down_connect_timeout_keeps_five_seconds() {
        // --timeout-scale 0.003 would make 60 s into 0.18 s: too short for a loaded machine.
        use super::{CONNECT_TIMEOUT, MIN_CONNECT_TIMEOUT, floored};
        assert_eq!(floored(CONNECT_TIMEOUT.mul_f64(0.003)), MIN_CONNECT_TIMEOUT);
        assert_eq!(floored(CONNECT_TIMEOUT.mul_f64(0.5)), std::time::Duration::from_secs(30));
        assert_eq!(floored(CONNECT_TIMEOUT), CONNECT_TIMEOUT);
    }

    #[test]
    fn ssh_rsa_signed_with_sha1_is_never_offered_and_rsa_sha2_is() {
        let offered = super::host_key_algorithms();
        assert!(!offered.contains(&Algorithm::Rsa { hash: None }), "{offered:?}");
        assert!(offered.contains(&Algorithm::Rsa { hash: Some(HashAlg::Sha512) }));
        assert!(offered.contains(&Algorithm::Rsa { hash: Some(HashAlg::Sha256) }));
        assert!(russh::Preferred::DEFAULT.key.contains(&Algorithm::Rsa { hash: None }), "russh's default offers it");
    }
}

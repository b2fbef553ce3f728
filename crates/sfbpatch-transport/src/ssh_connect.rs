//! The SSH transport's connections: TCP to a logged-on session (handshake, the host key
//! checked against known_hosts, key, ssh-agent or password authentication) within a connect
//! timeout, one connection per host kept in its own slot and forgotten after a drop.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use sfbpatch_core::{Fqdn, Lang};
use sfbpatch_engine::transport::TransportError;
use sfbpatch_i18n::{Args, fmt as tr};

use super::{Auth, SshTransport};

pub(super) struct Client {
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

/// A host's connection, once opened.
pub(super) type Slot = Arc<tokio::sync::Mutex<Option<Arc<client::Handle<Client>>>>>;

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
pub(super) fn floored(connect_timeout: Duration) -> Duration {
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
    pub(super) async fn connect(&self, host: &Fqdn) -> Result<Arc<client::Handle<Client>>, TransportError> {
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
    pub(super) async fn handle(&self, host: &Fqdn) -> Result<Arc<client::Handle<Client>>, TransportError> {
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

    pub(super) async fn forget(&self, host: &Fqdn) {
        let slot = self.conns.lock().await.get(host.as_str()).cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
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

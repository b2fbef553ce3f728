//! How the SSH transport logs on to a server: with a key (a key file or ssh-agent, in
//! `ssh.rs`) or with a password (here). The two give different logons on Windows: a key
//! gives an S4U logon without network credentials, a password a full logon that has them
//! (DOMAIN.md §5; PowerShell/Win32-OpenSSH #518, #1264), so a server reached by password can
//! run a back end's database steps against a remote SQL Server.
//!
//! Every password is read before anything is contacted ([`Passwords::collect`]). A password
//! is tried once per account per run: after a refusal it is not offered again to any server
//! (an Active Directory account locks after a few failed logons), and logons by password are
//! made one at a time so that two servers cannot both be sent a wrong one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::MethodKind;
use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use serde::Deserialize;
use sfbpatch_core::{Fqdn, Lang};
use sfbpatch_i18n::{Args, fmt as tr, text};

use crate::password::{self, Password, PasswordError};
use crate::ssh::HostConfig;

/// How a server is logged on to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A key: the key file, else ssh-agent's keys.
    Key,
    /// A password, from where it comes.
    Password(PasswordSource),
}

/// Where a password comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PasswordSource {
    /// A private file (its first line).
    File(PathBuf),
    /// Typed at a prompt, once per account.
    Prompt,
}

/// The connections file's word for a logon (`auth = "key"` or `"password"`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthWord {
    Key,
    Password,
}

/// A host's logon from its (or the defaults') `auth` and `password_file`: a password file
/// alone means a password; a relative path is taken from the connections file's folder, so
/// that a resumed run finds the same file from anywhere.
pub(crate) fn resolve(word: Option<AuthWord>, password_file: Option<PathBuf>, connections: &Path) -> Auth {
    match (word, password_file) {
        (Some(AuthWord::Key), _) | (None, None) => Auth::Key,
        (_, Some(file)) => {
            let file = match connections.parent() {
                Some(dir) if file.is_relative() => dir.join(file),
                _ => file,
            };
            Auth::Password(PasswordSource::File(file))
        }
        (Some(AuthWord::Password), None) => Auth::Password(PasswordSource::Prompt),
    }
}

/// One password per source and account.
type Key = (PasswordSource, String);

/// The passwords of a run, read before anything is contacted, and the accounts a server
/// has refused.
#[derive(Default)]
pub struct Passwords {
    secrets: BTreeMap<Key, Arc<Password>>,
    /// The server that refused each password, held across a logon: one logon by password at
    /// a time.
    refused: tokio::sync::Mutex<BTreeMap<Key, String>>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Passwords({})", self.secrets.len())
    }
}

impl Passwords {
    /// Reads every password `hosts` need: each password file once (checked private first),
    /// then one prompt per account that has no file. `connections` is named in the errors.
    pub fn collect(
        hosts: &BTreeMap<String, HostConfig>,
        connections: &Path,
        lang: Lang,
    ) -> Result<Self, PasswordError> {
        let mut secrets: BTreeMap<Key, Arc<Password>> = BTreeMap::new();
        let mut files: BTreeMap<PathBuf, Arc<Password>> = BTreeMap::new();
        let mut prompts: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (host, cfg) in hosts {
            match &cfg.auth {
                Auth::Key => {}
                Auth::Password(PasswordSource::File(path)) => {
                    let secret = match files.get(path) {
                        Some(s) => s.clone(),
                        None => Arc::new(password::from_file(path)?),
                    };
                    files.insert(path.clone(), secret.clone());
                    secrets.insert((PasswordSource::File(path.clone()), cfg.user.clone()), secret);
                }
                Auth::Password(PasswordSource::Prompt) => prompts.entry(cfg.user.clone()).or_default().push(host),
            }
        }
        for (user, on) in prompts {
            let secret = password::prompt(&user, &on.join(", "), connections, lang)?;
            secrets.insert((PasswordSource::Prompt, user), Arc::new(secret));
        }
        Ok(Passwords { secrets, refused: tokio::sync::Mutex::new(BTreeMap::new()) })
    }

    /// Logs `user` on to `host` with its password from `source`. `Err` is the sentence to show
    /// (no password in it): refused now or earlier in this run, no password method offered,
    /// or the exchange failed.
    pub(crate) async fn log_on<H: client::Handler>(
        &self,
        handle: &mut client::Handle<H>,
        host: &Fqdn,
        user: &str,
        source: &PasswordSource,
        lang: Lang,
    ) -> Result<(), String> {
        let key = (source.clone(), user.to_owned());
        let from = match source {
            PasswordSource::File(p) => p.display().to_string(),
            PasswordSource::Prompt => text(lang, "transport.ssh.password-typed"),
        };
        let args = || Args::new().with("host", host).with("user", user).with("source", &from);
        let mut refused = self.refused.lock().await;
        if let Some(first) = refused.get(&key) {
            return Err(tr(lang, "transport.ssh.auth-refused-before", &args().with("first", first)));
        }
        let Some(secret) = self.secrets.get(&key) else {
            // `collect` read every password the hosts name: a host added since has none.
            return Err(tr(lang, "transport.ssh.auth-no-password", &args()));
        };
        let failed = |e: russh::Error| tr(lang, "transport.ssh.auth-error", &args().with("why", e));
        match by_password(handle, user, secret).await.map_err(failed)? {
            Logon::Accepted => Ok(()),
            Logon::Refused => {
                refused.insert(key, host.to_string());
                Err(tr(lang, "transport.ssh.auth-failed", &args()))
            }
            Logon::NoMethod(offered) => {
                Err(tr(lang, "transport.ssh.auth-no-method", &args().with("methods", offered.join(", "))))
            }
        }
    }
}

/// How a logon by password ended.
#[derive(Debug, PartialEq, Eq)]
enum Logon {
    Accepted,
    Refused,
    /// The server offers neither `password` nor `keyboard-interactive`: what it offers.
    NoMethod(Vec<&'static str>),
}

/// One try: asks the server which methods it takes (`none`, which OpenSSH does not count as
/// a failed attempt), then `password` (RFC 4252 §8; what Win32-OpenSSH offers), else
/// `keyboard-interactive` (RFC 4256; what a PAM-backed sshd often offers instead), answering
/// its hidden prompt with the password once. A second request for a password means the first
/// was refused: it is not sent again.
async fn by_password<H: client::Handler>(
    handle: &mut client::Handle<H>,
    user: &str,
    secret: &Password,
) -> Result<Logon, russh::Error> {
    let methods = match handle.authenticate_none(user).await? {
        AuthResult::Success => return Ok(Logon::Accepted),
        AuthResult::Failure { remaining_methods, .. } => remaining_methods,
    };
    if methods.contains(&MethodKind::Password) {
        let r = handle.authenticate_password(user, secret.expose()).await?;
        return Ok(if r.success() { Logon::Accepted } else { Logon::Refused });
    }
    if !methods.contains(&MethodKind::KeyboardInteractive) {
        return Ok(Logon::NoMethod(methods.iter().map(<&'static str>::from).collect()));
    }
    let mut answer = handle.authenticate_keyboard_interactive_start(user, None).await?;
    let mut sent = false;
    // A few rounds at most: banners and instructions come as requests without prompts.
    for _ in 0..4 {
        let prompts = match answer {
            KeyboardInteractiveAuthResponse::Success => return Ok(Logon::Accepted),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(Logon::Refused),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => prompts,
        };
        let hidden = prompts.iter().filter(|p| !p.echo).count();
        // Asked again, or asked for more than one secret, or for a secret that is not a
        // password (a one-time code, a PIN): not ours to answer — the password is never typed
        // into another field. PAM's and Win32-OpenSSH's prompt is "Password:" (or the
        // account's "user@host's password:").
        let not_password = prompts.iter().any(|p| !p.echo && !p.prompt.to_ascii_lowercase().contains("password"));
        if hidden > 1 || (hidden == 1 && sent) || not_password {
            return Ok(Logon::Refused);
        }
        sent |= hidden == 1;
        let responses =
            prompts.iter().map(|p| if p.echo { String::new() } else { secret.expose().to_owned() }).collect();
        answer = handle.authenticate_keyboard_interactive_respond(responses).await?;
    }
    Ok(Logon::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_means_a_password_logon_from_the_connections_files_folder() {
        let conns = Path::new("/etc/sfbpatch/connections.toml");
        let file = |p: &str| Auth::Password(PasswordSource::File(PathBuf::from(p)));
        assert_eq!(resolve(None, None, conns), Auth::Key);
        assert_eq!(resolve(Some(AuthWord::Key), Some("pw".into()), conns), Auth::Key);
        assert_eq!(resolve(Some(AuthWord::Password), None, conns), Auth::Password(PasswordSource::Prompt));
        assert_eq!(resolve(None, Some("pw".into()), conns), file("/etc/sfbpatch/pw"));
        assert_eq!(resolve(Some(AuthWord::Password), Some("/root/pw".into()), conns), file("/root/pw"));
    }

    fn host(user: &str, auth: Auth) -> HostConfig {
        HostConfig {
            address: "127.0.0.1".into(),
            port: 22,
            user: user.into(),
            identity_file: PathBuf::from("/nonexistent"),
            known_hosts: PathBuf::from("/nonexistent"),
            auth,
        }
    }

    #[cfg(unix)]
    #[test]
    fn every_password_file_is_read_once_before_anything_and_an_open_one_stops_all() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let good = dir.path().join("good");
        std::fs::write(&good, "pw-one\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o600)).unwrap_or_else(|e| panic!("{e}"));
        let open = dir.path().join("open");
        std::fs::write(&open, "pw-two\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap_or_else(|e| panic!("{e}"));
        let on = |p: &Path| Auth::Password(PasswordSource::File(p.to_owned()));
        let mut hosts = BTreeMap::new();
        hosts.insert("fe01.contoso.local".to_owned(), host("admin", on(&good)));
        hosts.insert("fe02.contoso.local".to_owned(), host("admin", on(&good)));
        hosts.insert("se01.contoso.local".to_owned(), host("root", Auth::Key));
        let p = Passwords::collect(&hosts, Path::new("c.toml"), Lang::En).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.secrets.len(), 1, "one account, one file");
        let got = p.secrets.values().next().map(|s| s.expose().to_owned());
        assert_eq!(got.as_deref(), Some("pw-one"));
        assert_eq!(format!("{p:?}"), "Passwords(1)");
        hosts.insert("fe03.contoso.local".to_owned(), host("admin", on(&open)));
        let e = Passwords::collect(&hosts, Path::new("c.toml"), Lang::En).map(|_| ());
        assert_eq!(e, Err(PasswordError::Unsafe { path: open, mode: 0o644 }));
    }
}

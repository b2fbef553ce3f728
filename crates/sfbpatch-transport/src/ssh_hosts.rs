//! The SSH transport's connections file (README): how to reach each server (address, port,
//! user, key, known_hosts, key or password logon), defaults first, then per host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::connections_error::ConnectionsError;
use crate::ssh_auth::AuthWord;
use serde::Deserialize;
use sfbpatch_core::Fqdn;

use super::Auth;

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

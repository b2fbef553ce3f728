//! A host key checked against a known_hosts file, as OpenSSH reads it (sshd(8), "SSH_KNOWN_HOSTS
//! FILE FORMAT"; ssh_config(5), `StrictHostKeyChecking`): each line an optional marker
//! (`@revoked`, `@cert-authority`), comma-separated host patterns (`*`, `?`, a leading `!`
//! negating, `[host]:port` for a port other than 22, or `|1|salt|hash`, HMAC-SHA1 of the name
//! keyed by the salt, as `HashKnownHosts` writes them), the key type, the key in base64, and a
//! comment. Lines are numbered as in the file, comments and blank lines included.
//!
//! Pure: text in, [`Verdict`] out.

use russh::keys::PublicKey;

/// What a known_hosts file says of a host's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An `@revoked` line holds this key (at this line): never accepted, whatever other lines
    /// say (sshd(8): "the key contained on the line is revoked and must not ever be accepted").
    Revoked { line: usize },
    /// A line for the host holds this key.
    Known,
    /// Lines for the host hold another key of this key's type: the first of them.
    Changed { line: usize },
    /// Lines for the host hold keys of other types only (the first of them): not a new host,
    /// so `accept-new` does not record it (ssh_config(5): it adds keys "for hosts" that are
    /// not yet known).
    OtherKeys { line: usize },
    /// No line names the host: the only case `--accept-new-host-keys` records.
    Unknown,
}

/// The name a host is looked up by: `host`, or `[host]:port` for a port other than 22 (sshd(8)).
pub fn host_port(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 { host } else { format!("[{host}]:{port}") }
}

/// What `text` (a known_hosts file) says of `key` for `name` (from [`host_port`]).
pub fn check(text: &str, name: &str, key: &PublicKey) -> Verdict {
    let (mut known, mut changed, mut other) = (false, None, None);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let mut words = raw.split_whitespace();
        let Some(mut first) = words.next() else { continue };
        if first.starts_with('#') {
            continue;
        }
        let marker = first.strip_prefix('@');
        if marker.is_some() {
            let Some(next) = words.next() else { continue };
            first = next;
        }
        let (Some(_kind), Some(b64)) = (words.next(), words.next()) else { continue };
        let Ok(recorded) = russh::keys::parse_public_key_base64(b64) else { continue };
        let same = recorded.key_data() == key.key_data();
        match marker {
            // Revoked for every host: a revoked key is never trusted.
            Some("revoked") if same => return Verdict::Revoked { line },
            Some(_) => continue,
            None => {}
        }
        if !matches_hosts(name, first) {
            continue;
        }
        if same {
            known = true;
        } else if recorded.algorithm() == key.algorithm() {
            changed = changed.or(Some(line));
        } else {
            other = other.or(Some(line));
        }
    }
    match (known, changed, other) {
        (true, _, _) => Verdict::Known,
        (false, Some(line), _) => Verdict::Changed { line },
        (false, None, Some(line)) => Verdict::OtherKeys { line },
        (false, None, None) => Verdict::Unknown,
    }
}

/// Whether `name` matches a comma-separated list: one pattern matches and no negated one
/// does (ssh_config(5), PATTERNS).
fn matches_hosts(name: &str, list: &str) -> bool {
    let mut hit = false;
    for p in list.split(',') {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg.to_ascii_lowercase().as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if let Some(hashed) = p.strip_prefix("|1|") {
            hit |= hashed_matches(name, hashed);
        } else {
            hit |= glob(p.to_ascii_lowercase().as_bytes(), name.as_bytes());
        }
    }
    hit
}

/// `*` any run of characters, `?` exactly one.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, _) => s.is_empty(),
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// `salt|hash` (base64 each): HMAC-SHA1(salt, name) == hash.
fn hashed_matches(name: &str, field: &str) -> bool {
    let mut parts = field.split('|');
    match (parts.next().and_then(base64), parts.next().and_then(base64)) {
        (Some(salt), Some(hash)) => hmac_sha1(&salt, name.as_bytes()).as_slice() == hash.as_slice(),
        _ => false,
    }
}

fn base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// HMAC (RFC 2104) over SHA-1, as OpenSSH hashes known host names (`HashKnownHosts`).
fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit as _, Mac as _};
    match hmac::Hmac::<sha1::Sha1>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes a key of any length: not reached.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests;

//! Passwords for SSH password authentication: read from a private file named in the
//! connections file, or typed at a prompt without echo. A password is held in memory only
//! (zeroed when dropped), shows as `Password(…)` when debugged and has no `Display`: no
//! message, record or report can carry it by accident.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use sfbpatch_core::Lang;
use sfbpatch_i18n::{Args, fmt as tr};
use zeroize::Zeroizing;

/// The longest password file read (its first line is the password).
const MAX_FILE: u64 = 4096;

/// A password, zeroed when dropped.
pub struct Password(Zeroizing<String>);

impl Password {
    /// The password, for the SSH client only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn for_test(s: &str) -> Self {
        Password(Zeroizing::new(s.to_owned()))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Why no password could be had. Nothing was contacted when one of these is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordError {
    /// Group or other users may read or write the file (Unix mode bits `0o077`).
    Unsafe {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Windows: the file's ACL lets another principal at it (`acl::exposed_to`).
    UnsafeAcl {
        /// The file.
        path: PathBuf,
        /// Who else may reach it, as the SDDL names it (`BU`, `WD`, `S-1-5-21-…`).
        principal: String,
    },
    /// The file cannot be opened or read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        why: String,
    },
    /// Not a regular file (a folder, a device…).
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file's first line is empty.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// No password file, and standard input is not a terminal to ask on.
    NoTerminal {
        /// The account.
        user: String,
        /// The servers it logs on to.
        hosts: String,
        /// The connections file.
        connections: PathBuf,
    },
    /// The terminal could not be read.
    Prompt {
        /// The operating system's reason.
        why: String,
    },
}

impl PasswordError {
    /// The sentence, in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let key = |k: &str| format!("transport.ssh.{k}");
        match self {
            PasswordError::Unsafe { path, mode } => tr(
                lang,
                &key("password-file-unsafe"),
                &Args::new().with("path", path.display()).with("mode", format!("{mode:03o}")),
            ),
            PasswordError::UnsafeAcl { path, principal } => tr(
                lang,
                "transport.password-acl.unsafe",
                &Args::new().with("path", path.display()).with("principal", principal),
            ),
            PasswordError::Unreadable { path, why } => {
                tr(lang, &key("password-file-unreadable"), &Args::new().with("path", path.display()).with("why", why))
            }
            PasswordError::NotAFile { path } => {
                tr(lang, &key("password-file-not-a-file"), &Args::new().with("path", path.display()))
            }
            PasswordError::Empty { path } => {
                tr(lang, &key("password-file-empty"), &Args::new().with("path", path.display()))
            }
            PasswordError::NoTerminal { user, hosts, connections } => tr(
                lang,
                &key("password-no-terminal"),
                &Args::new().with("user", user).with("hosts", hosts).with("connections", connections.display()),
            ),
            PasswordError::Prompt { why } => tr(lang, &key("password-prompt-failed"), &Args::new().with("why", why)),
        }
    }
}

/// Reads the password from `path`: its first line, without the line ending. The file must be
/// a regular file that only its owner may read or write; its permissions are read from the
/// opened file itself, so that the file checked is the file read.
pub fn from_file(path: &Path) -> Result<Password, PasswordError> {
    let unreadable = |e: std::io::Error| PasswordError::Unreadable { path: path.to_owned(), why: e.to_string() };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(PasswordError::NotAFile { path: path.to_owned() });
    }
    private(path, &meta)?;
    // One buffer, allocated once at its final size and zeroed when dropped: no copy of the
    // file's bytes is left behind by a reallocation.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_FILE as usize + 1));
    file.take(MAX_FILE).read_to_end(&mut bytes).map_err(unreadable)?;
    let end = bytes.iter().position(|b| *b == b'\n').unwrap_or(bytes.len());
    let line = bytes[..end].strip_suffix(b"\r").unwrap_or(&bytes[..end]);
    let text = std::str::from_utf8(line)
        .map_err(|_| PasswordError::Unreadable { path: path.to_owned(), why: "not UTF-8 text".into() })?;
    if text.is_empty() {
        return Err(PasswordError::Empty { path: path.to_owned() });
    }
    Ok(Password(Zeroizing::new(text.to_owned())))
}

/// Unix: refused when the group or other users may read, write or execute it (any of the
/// mode bits `0o077`), as OpenSSH refuses a private key file (ssh(1), "Permissions ... are
/// too open").
#[cfg(unix)]
fn private(path: &Path, meta: &std::fs::Metadata) -> Result<(), PasswordError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PasswordError::Unsafe { path: path.to_owned(), mode });
    }
    Ok(())
}

/// Windows: refused when its ACL lets anyone but its owner, SYSTEM and Administrators at it.
/// The tiny `cfg(windows)` part only fetches the SDDL (`acl::sddl_of`, Windows PowerShell's
/// `Get-Acl`); it is not built on the Linux machines that test sfbpatch.
#[cfg(windows)]
fn private(path: &Path, _meta: &std::fs::Metadata) -> Result<(), PasswordError> {
    private_by_sddl(path, crate::acl::sddl_of(path))
}

/// Neither Unix nor Windows: nothing to read permissions from.
#[cfg(not(any(unix, windows)))]
fn private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), PasswordError> {
    Ok(())
}

/// The decision on Windows, from the file's SDDL (or why it could not be had): private, or
/// refused naming who else may reach it; an SDDL that cannot be had or read refuses too.
#[cfg_attr(not(windows), allow(dead_code))]
fn private_by_sddl(path: &Path, sddl: Result<String, String>) -> Result<(), PasswordError> {
    let unreadable = |why: String| PasswordError::Unreadable { path: path.to_owned(), why };
    match crate::acl::exposed_to(&sddl.map_err(unreadable)?) {
        Ok(None) => Ok(()),
        Ok(Some(principal)) => Err(PasswordError::UnsafeAcl { path: path.to_owned(), principal }),
        Err(why) => Err(unreadable(why)),
    }
}

/// Asks for the password of `user` (logging on to `hosts`) on the terminal, without echo.
/// Refused when standard input is not a terminal: nothing would answer.
pub fn prompt(user: &str, hosts: &str, connections: &Path, lang: Lang) -> Result<Password, PasswordError> {
    if !std::io::stdin().is_terminal() {
        return Err(PasswordError::NoTerminal {
            user: user.to_owned(),
            hosts: hosts.to_owned(),
            connections: connections.to_owned(),
        });
    }
    let question = tr(lang, "transport.ssh.password-prompt", &Args::new().with("user", user).with("hosts", hosts));
    let typed =
        Zeroizing::new(rpassword::prompt_password(question).map_err(|e| PasswordError::Prompt { why: e.to_string() })?);
    let line = typed.trim_end_matches(['\r', '\n']);
    Ok(Password(Zeroizing::new(line.to_owned())))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn file(dir: &Path, name: &str, text: &[u8], mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap_or_else(|e| panic!("{e}"));
        p
    }

    #[test]
    fn the_windows_decision_refuses_an_acl_that_lets_others_in() {
        let p = Path::new("C:\\Users\\op\\sfbadmin.pw");
        let me = "S-1-5-21-1004336348-1177238915-682003330-1001";
        let private = format!("O:{me}G:{me}D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{me})");
        assert_eq!(private_by_sddl(p, Ok(private)), Ok(()));
        let users = format!("O:{me}G:{me}D:AI(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)");
        assert_eq!(
            private_by_sddl(p, Ok(users)),
            Err(PasswordError::UnsafeAcl { path: p.to_owned(), principal: "BU".into() })
        );
        let e = private_by_sddl(p, Err("Get-Acl: access denied".into()));
        assert_eq!(e, Err(PasswordError::Unreadable { path: p.to_owned(), why: "Get-Acl: access denied".into() }));
        assert!(matches!(private_by_sddl(p, Ok("garbage".into())), Err(PasswordError::Unreadable { .. })));
        let shown = PasswordError::UnsafeAcl { path: p.to_owned(), principal: "BU".into() }.render(Lang::En);
        assert!(
            shown.contains("sfbadmin.pw") && shown.contains("BU") && shown.contains("nothing was contacted"),
            "{shown}"
        );
    }

    #[test]
    fn a_private_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (text, mode) in [(&b"s3cret\n"[..], 0o600), (b"s3cret\r\nsecond line", 0o400), (b"s3cret", 0o600)] {
            let p = file(dir.path(), "pw", text, mode);
            assert_eq!(from_file(&p).map(|p| p.expose().to_owned()), Ok("s3cret".to_owned()), "{text:?} {mode:o}");
        }
        // Spaces are part of a password.
        let p = file(dir.path(), "spaces", b" a b \n", 0o600);
        assert_eq!(from_file(&p).map(|p| p.expose().to_owned()), Ok(" a b ".to_owned()));
    }

    #[test]
    fn a_file_others_may_read_or_write_is_refused_with_its_mode() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o610] {
            let p = file(dir.path(), "pw", b"s3cret\n", mode);
            assert_eq!(from_file(&p).map(|_| ()), Err(PasswordError::Unsafe { path: p.clone(), mode }), "{mode:o}");
        }
        let p = file(dir.path(), "pw", b"s3cret\n", 0o644);
        let msg = from_file(&p).map(|_| ()).err().map(|e| e.render(Lang::En)).unwrap_or_default();
        assert!(msg.contains(&p.display().to_string()) && msg.contains("644") && msg.contains("chmod 600"), "{msg}");
        assert!(!msg.contains("s3cret") && !msg.contains('⟦'), "{msg}");
    }

    #[test]
    fn missing_empty_and_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = dir.path().join("nope");
        assert!(matches!(from_file(&missing), Err(PasswordError::Unreadable { .. })));
        let empty = file(dir.path(), "empty", b"\nnext", 0o600);
        assert_eq!(from_file(&empty).map(|_| ()), Err(PasswordError::Empty { path: empty.clone() }));
        assert_eq!(from_file(dir.path()).map(|_| ()), Err(PasswordError::NotAFile { path: dir.path().to_owned() }));
        for lang in [Lang::En, Lang::Es] {
            let msg = PasswordError::Empty { path: empty.clone() }.render(lang);
            assert!(msg.contains(&empty.display().to_string()) && !msg.contains('⟦'), "{msg}");
        }
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", Password::for_test("s3cret")), "Password(…)");
    }
}

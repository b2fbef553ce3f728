//! The journal's files are the operator's alone (mode 0600 on unix): the journal is created
//! 0600 before SQLite opens it, whatever the umask, and its `-wal` and `-shm` files, which
//! SQLite creates with the database file's permissions (os_unix.c, `findCreateFileMode`:
//! "the permissions of the new file are the same as those of the database file"), are
//! checked after the open and narrowed if something made them wider.

use std::io;
use std::path::{Path, PathBuf};

/// Creates `path` with mode 0600 if it does not exist (an existing file is left as it is).
#[cfg(unix)]
pub(crate) fn create(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        // The mode given to open(2) is reduced by the umask: set it again, whole.
        Ok(f) => f.set_permissions(std::fs::Permissions::from_mode(0o600)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Not unix: the file's access is its directory's (ACLs), as before.
#[cfg(not(unix))]
pub(crate) fn create(_path: &Path) -> io::Result<()> {
    Ok(())
}

fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Narrows the journal's `-wal` and `-shm` files to 0600 where they are wider (and exist).
#[cfg(unix)]
pub(crate) fn restrict_companions(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["-wal", "-shm"] {
        let p = companion(path, suffix);
        match std::fs::metadata(&p) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Not unix: nothing to narrow.
#[cfg(not(unix))]
pub(crate) fn restrict_companions(_path: &Path) -> io::Result<()> {
    Ok(())
}

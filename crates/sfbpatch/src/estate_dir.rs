//! A simulated estate persisted in a directory: `estate.json`, written atomically (temporary
//! file, fsync, rename) after every operation, and `estate.lock`, held exclusively by the one
//! process driving it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sfbpatch_sim::estate::Estate;

/// An estate directory, locked for this process.
pub struct EstateDir {
    path: PathBuf,
    _lock: Option<File>,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("estate.json")
}

impl EstateDir {
    /// Creates `dir` with `estate` in it; refuses to overwrite an existing estate.
    pub fn create(dir: &Path, estate: &Estate) -> Result<(), String> {
        if file(dir).exists() {
            return Err(format!("{} already holds an estate; remove it or choose another directory", dir.display()));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        save(dir, estate)
    }

    /// Opens `dir` and takes its lock; refuses if another process holds it.
    pub fn open(dir: &Path) -> Result<(Self, Estate), String> {
        Self::open_with(dir, false)
    }

    /// Opens `dir`, waiting for its lock (concurrent shells of one estate take turns).
    pub fn open_blocking(dir: &Path) -> Result<(Self, Estate), String> {
        Self::open_with(dir, true)
    }

    fn open_with(dir: &Path, wait: bool) -> Result<(Self, Estate), String> {
        let lock_path = dir.join("estate.lock");
        let mut options = File::options();
        options.create(true).truncate(false).write(true);
        let lock =
            private(&mut options).open(&lock_path).map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        let locked = if wait { lock.lock().map_err(std::fs::TryLockError::Error) } else { lock.try_lock() };
        match locked {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!("the estate {} is in use by another sfbpatch process", dir.display()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(format!("cannot lock {}: {e}", lock_path.display())),
        }
        let estate = load(dir)?;
        Ok((Self { path: dir.to_owned(), _lock: Some(lock) }, estate))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The estate's files are the operator's alone: created with mode 0600 on unix.
fn private(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Sets 0600 whole (the mode given at creation is reduced by the umask, and a file left by
/// an earlier release may be wider).
#[cfg(unix)]
fn narrow(f: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn narrow(_f: &File) -> std::io::Result<()> {
    Ok(())
}

/// Reads the estate in `dir` (no lock: for `sim show`).
pub fn load(dir: &Path) -> Result<Estate, String> {
    let p = file(dir);
    let text = std::fs::read_to_string(&p)
        .map_err(|e| format!("cannot read {}: {e} (create it with `sfbpatch sim init`)", p.display()))?;
    let mut estate: Estate =
        serde_json::from_str(&text).map_err(|e| format!("{} is not a sfbpatch estate: {e}", p.display()))?;
    estate.reindex();
    Ok(estate)
}

/// Writes the estate atomically.
pub fn save(dir: &Path, estate: &Estate) -> Result<(), String> {
    let p = file(dir);
    let tmp = dir.join("estate.json.tmp");
    let text = serde_json::to_vec(estate).map_err(|e| e.to_string())?;
    let mut options = File::options();
    options.create(true).truncate(true).write(true);
    let mut f = private(&mut options).open(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    narrow(&f).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(&text).and_then(|()| f.sync_all()).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &p).map_err(|e| format!("cannot replace {}: {e}", p.display()))
}

//! A simulated estate persisted in a directory: `estate.json`, written atomically (temporary
//! file, fsync, rename) after every operation, and `estate.lock`, held exclusively by the one
//! process driving it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sfbpatch_core::Lang;
use sfbpatch_i18n::{Args, fmt as tr};
use sfbpatch_sim::estate::Estate;

/// What went wrong with an estate directory: the path and the system's reason, rendered in
/// the operator's language with the fix ([`EstateError::render`]).
#[derive(Debug)]
pub enum EstateError {
    /// `sim init` onto a directory that already holds an estate.
    Exists(PathBuf),
    /// The directory cannot be created.
    Create(PathBuf, std::io::Error),
    /// The lock file cannot be opened or locked.
    Lock(PathBuf, std::io::Error),
    /// Another process holds the lock.
    InUse(PathBuf),
    /// `estate.json` cannot be read.
    Read(PathBuf, std::io::Error),
    /// `estate.json` is not an estate.
    NotEstate(PathBuf, serde_json::Error),
    /// `estate.json` (through its temporary file) cannot be written or replaced.
    Write(PathBuf, std::io::Error),
    /// The estate cannot be encoded (not expected: every field is serializable).
    Encode(serde_json::Error),
}

impl EstateError {
    /// The message, naming the file or directory and the fix.
    pub fn render(&self, lang: Lang) -> String {
        let (key, path, why) = match self {
            EstateError::Exists(d) => ("cli.estate.exists", d, String::new()),
            EstateError::Create(d, e) => ("cli.estate.create", d, e.to_string()),
            EstateError::Lock(f, e) => ("cli.estate.lock", f, e.to_string()),
            EstateError::InUse(d) => ("cli.estate.in-use", d, String::new()),
            EstateError::Read(f, e) => ("cli.estate.read", f, e.to_string()),
            EstateError::NotEstate(f, e) => ("cli.estate.not-estate", f, e.to_string()),
            EstateError::Write(f, e) => ("cli.estate.write", f, e.to_string()),
            EstateError::Encode(e) => return tr(lang, "cli.estate.encode", &Args::new().with("why", e)),
        };
        tr(lang, key, &Args::new().with("path", path.display()).with("why", why))
    }
}

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
    pub fn create(dir: &Path, estate: &Estate) -> Result<(), EstateError> {
        if file(dir).exists() {
            return Err(EstateError::Exists(dir.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|e| EstateError::Create(dir.to_owned(), e))?;
        save(dir, estate)
    }

    /// Opens `dir` and takes its lock; refuses if another process holds it.
    pub fn open(dir: &Path) -> Result<(Self, Estate), EstateError> {
        Self::open_with(dir, false)
    }

    /// Opens `dir`, waiting for its lock (concurrent shells of one estate take turns).
    pub fn open_blocking(dir: &Path) -> Result<(Self, Estate), EstateError> {
        Self::open_with(dir, true)
    }

    fn open_with(dir: &Path, wait: bool) -> Result<(Self, Estate), EstateError> {
        let lock_path = dir.join("estate.lock");
        let mut options = File::options();
        options.create(true).truncate(false).write(true);
        let lock = private(&mut options).open(&lock_path).map_err(|e| EstateError::Lock(lock_path.clone(), e))?;
        let locked = if wait { lock.lock().map_err(std::fs::TryLockError::Error) } else { lock.try_lock() };
        match locked {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(EstateError::InUse(dir.to_owned()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(EstateError::Lock(lock_path, e)),
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
pub fn load(dir: &Path) -> Result<Estate, EstateError> {
    let p = file(dir);
    let text = std::fs::read_to_string(&p).map_err(|e| EstateError::Read(p.clone(), e))?;
    let mut estate: Estate = serde_json::from_str(&text).map_err(|e| EstateError::NotEstate(p.clone(), e))?;
    estate.reindex();
    Ok(estate)
}

/// Writes the estate atomically.
pub fn save(dir: &Path, estate: &Estate) -> Result<(), EstateError> {
    let p = file(dir);
    let tmp = dir.join("estate.json.tmp");
    let text = serde_json::to_vec(estate).map_err(EstateError::Encode)?;
    let mut options = File::options();
    options.create(true).truncate(true).write(true);
    let write = |e| EstateError::Write(tmp.clone(), e);
    let mut f = private(&mut options).open(&tmp).map_err(write)?;
    narrow(&f).map_err(write)?;
    f.write_all(&text).and_then(|()| f.sync_all()).map_err(write)?;
    std::fs::rename(&tmp, &p).map_err(|e| EstateError::Write(p.clone(), e))
}

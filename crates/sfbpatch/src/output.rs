//! Writing output files (`-o`, `--report`, `sim generate`): never a half-written file, never
//! through a planted link, never over a device.
//!
//! The bytes go to a temporary file created with `O_CREAT | O_EXCL` under an unpredictable
//! name in the target's folder (`tempfile::NamedTempFile::new_in`: mode 0600 on unix, and
//! `O_EXCL` never follows a symbolic link, open(2)), are synced, then renamed over the target
//! (rename(2) replaces the name, not what a link at it points to). Issue 13 item 7: the former
//! fixed name `.NAME.sfbpatch-tmp`, opened without `O_EXCL`, followed a link planted there, and
//! `-o /dev/full` replaced the device.

use std::io::Write;
use std::path::Path;

use sfbpatch_i18n::{Args, Lang, fmt as tr};

/// Writes `bytes` to `path` atomically. A path that exists and is not a regular file (a
/// device, a FIFO, a socket, a folder) is refused before anything is written; a symbolic link
/// at `path` is replaced by the file, its target left alone.
pub fn write_atomically(lang: Lang, path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let ft = meta.file_type();
        if !(ft.is_file() || ft.is_symlink()) {
            return Err(tr(lang, "cli.error.output-not-file", &Args::new().with("file", path.display())));
        }
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let result = (|| {
        let mut tmp = tempfile::Builder::new().prefix(".sfbpatch-").suffix(".tmp").tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        // On failure the temporary is removed when the error (which owns it) is dropped.
        tmp.persist(path).map_err(|e| e.error)?;
        Ok::<(), std::io::Error>(())
    })();
    result.map_err(|e| {
        tr(lang, "cli.error.write", &Args::new().with("file", path.display()).with("reason", e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_a_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("out.txt");
        std::fs::write(&out, b"old").unwrap_or_else(|e| panic!("{e}"));
        write_atomically(Lang::En, &out, b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&out).unwrap_or_else(|e| panic!("{e}")), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| e.map(|e| e.file_name()).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_written_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("report.html");
        write_atomically(Lang::En, &out, b"x").unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&out).unwrap_or_else(|e| panic!("{e}")).permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let e = write_atomically(Lang::En, dir.path(), b"x").err().unwrap_or_default();
        assert_eq!(e, format!("{} is not a regular file: nothing was written.", dir.path().display()));
    }
}

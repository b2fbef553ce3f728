//! Reading input files: size-limited, never more than the limit in memory, `-` for stdin.

use std::io::Read;
use std::path::Path;

use sfbpatch_core::topology::{self, Topology, text::MAX_BYTES};
use sfbpatch_i18n::{Args, Lang, fmt as tr};

use crate::Failure;

/// Reads a whole input file (or standard input for `-`), refusing more than the topology
/// size limit without reading it all.
pub fn read_limited(path: &Path, lang: Lang) -> Result<(String, Vec<u8>), Failure> {
    let name = path.display().to_string();
    let io_err = |e: std::io::Error| {
        Failure::Message(tr(lang, "cli.error.read", &Args::new().with("file", &name).with("reason", e)))
    };
    let mut buf = Vec::new();
    if name == "-" {
        std::io::stdin().lock().take(MAX_BYTES + 1).read_to_end(&mut buf).map_err(io_err)?;
        return Ok(("<stdin>".to_owned(), buf));
    }
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(Failure::Message(tr(lang, "cli.error.is-directory", &Args::new().with("file", &name))));
    }
    topology::text::check_size(&name, meta.len()).map_err(Failure::Topology)?;
    std::fs::File::open(path).map_err(io_err)?.take(MAX_BYTES + 1).read_to_end(&mut buf).map_err(io_err)?;
    Ok((name, buf))
}

/// Reads and resolves a topology file.
pub fn load_topology(path: &Path, lang: Lang) -> Result<Topology, Failure> {
    let (name, bytes) = read_limited(path, lang)?;
    topology::load(&name, &bytes).map_err(Failure::Topology)
}

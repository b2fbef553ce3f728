//! Topologies: reading them (XML export or hand-written TOML), validating them, and deriving
//! what each server is.
//!
//! ```text
//! bytes ──text::decode──▶ text ──xml::read / toml_format::read──▶ RawTopology ──resolve──▶ Topology
//! ```
//!
//! Everything here is pure: the caller reads the file (see [`text::check_size`] to refuse a
//! huge one before reading it).

pub mod error;
pub mod model;
pub mod raw;
pub mod resolve;
pub mod text;
pub mod toml_format;
pub mod xml;

pub use error::{ErrorKind, Pos, TopologyError, TopologyErrors};
pub use model::{Pool, PoolKind, Role, Server, Site, StorePlacement, Topology};

/// The two topology formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `Get-CsTopology -AsXml`.
    Xml,
    /// sfbpatch's TOML format.
    Toml,
}

impl Format {
    /// The format of a file: by its extension when it has a known one, else by its first
    /// non-blank character (`<` is XML).
    pub fn detect(file: &str, text: &str) -> Format {
        let lower = file.to_ascii_lowercase();
        if lower.ends_with(".toml") {
            Format::Toml
        } else if lower.ends_with(".xml") || text.trim_start().starts_with('<') {
            Format::Xml
        } else {
            Format::Toml
        }
    }
}

/// Reads, validates and resolves a topology from a file's bytes. `file` is the name used in
/// error messages (and, by its extension, to pick the format).
pub fn load(file: &str, bytes: &[u8]) -> Result<Topology, TopologyErrors> {
    let text = text::decode(file, bytes)?;
    let raw = match Format::detect(file, &text) {
        Format::Xml => xml::read(file, &text)?,
        Format::Toml => toml_format::read(file, &text)?,
    };
    resolve::resolve(file, &raw)
}

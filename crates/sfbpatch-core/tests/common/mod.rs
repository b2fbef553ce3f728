//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use sfbpatch_core::topology::{self, Topology, TopologyErrors};

/// The repository's test data folder.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

/// Loads a topology from the test data folder, failing the test with the errors.
pub fn load(rel: &str) -> Topology {
    let path = testdata(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    topology::load(rel, &bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Loads a topology from text given in a test.
pub fn load_str(name: &str, text: &str) -> Result<Topology, TopologyErrors> {
    topology::load(name, text.as_bytes())
}

//! The example estate bundled in the binary: what `sfbpatch plan` (and later `rehearse`)
//! uses when no topology file is given.
//!
//! Site Lisboa: Enterprise pool `pool01` (fe01–fe03) whose back end `sql01` also hosts the
//! Archiving and Monitoring stores on a second instance (`archmon`), the Standard Edition
//! server `se01`, and the Edge server `edge01`. Site Porto: Enterprise pool `pool02`
//! (fe11–fe12) with its own back end `sql02` and no collocated stores. For `--scope all`
//! (issue 12): in Lisboa the Director pool `dirpool01` (dir01–dir02), the Edge pool
//! `edgepool01` (edge11–edge12, next hop the Directors); in Porto the stand-alone Mediation
//! pool `medpool02` (med11–med12). No Persistent Chat: the example is Skype for Business
//! Server 2019, which does not support it (docs/research/issue12-roles.md §1.1;
//! `testdata/topology/roles.xml`, a 2015 estate, has a chat pool). The default scope plans none
//! of them. The document is in
//! the real `Get-CsTopology -AsXml` format, with Windows line endings.

/// The name used for the example in messages.
pub const NAME: &str = "<example>";

/// The example topology document.
pub const TOPOLOGY_XML: &str = include_str!("../data/example-topology.xml");

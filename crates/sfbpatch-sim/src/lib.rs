//! Rehearsals against a simulated Skype for Business estate, and the ways a simulated
//! estate is driven. The estate itself (hosts executing PowerShell text under DOMAIN.md §4's
//! rules, on a virtual clock) is the `sfbpatch-estate` crate, re-exported here.
//!
//! * [`transport`]: the estate behind the engine's `Transport` trait.
//! * [`rehearse`]: runs a plan through the engine against a fresh estate on a paused clock
//!   and reports per server and pool (`sfbpatch.rehearsal/1`).
//! * [`shell`]: the `sim shell` endpoint, one script on one host of a persisted estate, as a
//!   local shell or an SSH server runs it.
//! * [`remoting`]: the `sim remoting` endpoint, standing in for the local Windows PowerShell
//!   that the PowerShell remoting transport drives (sessions held across requests).

pub use sfbpatch_estate::{MINUTE, Ms, estate, exec, fault, generate, lag, minutes, pools, users};

pub mod rehearse;
pub mod remoting;
pub mod shell;
pub mod stream;
pub mod transport;

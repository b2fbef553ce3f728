//! Real transports. Today: [`local::LocalTransport`], one shell process per command, the
//! command text on its standard input (no quoting through a command line).

pub mod local;
pub mod ssh;

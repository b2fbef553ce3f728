//! Real transports. Today: [`local::LocalTransport`], one shell process per command, the
//! command text on its standard input (no quoting through a command line).

pub mod local;
pub mod password;
pub mod ssh;
pub mod ssh_auth;

use sfbpatch_core::Fqdn;
use sfbpatch_engine::transport::{CommandOutput, TransportError};

/// What a finished remote or local command amounts to: its output and exit code, or, for
/// the simulator's shell, the dropped session or silent host it reports (exit 255 with a
/// marker on stderr). `None`: no exit status (the process or channel was cut).
pub(crate) fn outcome(
    host: &Fqdn,
    code: Option<i32>,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<CommandOutput, TransportError> {
    let stderr = String::from_utf8_lossy(stderr).into_owned();
    match code {
        Some(255) if stderr.contains(local::SIM_DISCONNECTED) => Err(TransportError::Disconnected(host.to_string())),
        Some(255) if stderr.contains(local::SIM_UNREACHABLE) => Err(TransportError::Unreachable(host.to_string())),
        Some(exit_code) => {
            Ok(CommandOutput { exit_code, stdout: String::from_utf8_lossy(stdout).into_owned(), stderr })
        }
        None => Err(TransportError::Disconnected(host.to_string())),
    }
}

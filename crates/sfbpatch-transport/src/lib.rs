//! Real transports: [`local::LocalTransport`] (a shell process kept per session, or one per
//! command without a session), [`ssh::SshTransport`] (a remote shell kept per session on a
//! channel of its own, or an exec channel per command without a session), [`psremoting::PsRemotingTransport`];
//! the command text on standard input (no quoting through a command line).

pub mod acl;
pub mod connections_error;
pub mod known_hosts;
pub mod local;
pub mod password;
pub mod psremoting;
pub mod setup_error;
pub mod ssh;
pub mod ssh_auth;

use sfbpatch_core::{Fqdn, envelope};
use sfbpatch_engine::transport::{CommandOutput, TransportError};

/// What a finished remote or local command amounts to. The command was sent
/// [`envelope::wrap`]ped, so its own exit code is the result line on its standard output
/// (the process's exit code is PowerShell's 0 or 1: DOMAIN.md §5); the line is removed, and
/// its copy at the end of standard error too. No
/// result line: the command did not run to its end, and what it did is unknown. The
/// simulator's shell reports a dropped session or a silent host with exit 255 and a marker
/// on stderr. `None`: no exit status (the process or channel was cut).
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
        Some(exit_code) => match envelope::open(&String::from_utf8_lossy(stdout)) {
            Some(o) => {
                Ok(CommandOutput { exit_code: o.exit_code, stdout: o.stdout, stderr: envelope::strip_stderr(&stderr) })
            }
            None => Err(TransportError::NoResult { host: host.to_string(), exit_code: Some(exit_code) }),
        },
        None => Err(TransportError::Disconnected(host.to_string())),
    }
}

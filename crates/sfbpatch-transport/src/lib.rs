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

/// A fresh nonce for one wrapped command ([`envelope::Nonce`]), from the operating system's
/// random source (`getrandom`): unknown to the command's output before it runs.
pub(crate) fn nonce(lang: sfbpatch_core::Lang) -> Result<envelope::Nonce, TransportError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| {
        TransportError::Other(sfbpatch_i18n::fmt(
            lang,
            "transport.envelope.nonce",
            &sfbpatch_i18n::Args::new().with("why", e),
        ))
    })?;
    Ok(envelope::Nonce::from_bytes(bytes))
}

/// What a finished remote or local command amounts to. The command was sent
/// [`envelope::wrap`]ped with `nonce`, so its own exit code is the result line on its standard output
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
    nonce: &envelope::Nonce,
) -> Result<CommandOutput, TransportError> {
    let stderr = String::from_utf8_lossy(stderr).into_owned();
    match code {
        Some(255) if stderr.contains(local::SIM_DISCONNECTED) => Err(TransportError::Disconnected(host.to_string())),
        Some(255) if stderr.contains(local::SIM_UNREACHABLE) => Err(TransportError::Unreachable(host.to_string())),
        Some(exit_code) => match envelope::open(&String::from_utf8_lossy(stdout), nonce) {
            Some(o) => Ok(CommandOutput {
                exit_code: o.exit_code,
                stdout: o.stdout,
                stderr: envelope::strip_stderr(&stderr, nonce),
            }),
            None => Err(TransportError::NoResult { host: host.to_string(), exit_code: Some(exit_code) }),
        },
        None => Err(TransportError::Disconnected(host.to_string())),
    }
}

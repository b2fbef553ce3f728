//! `sim shell` kept for many commands, as `powershell.exe -Command -` is: it reads standard
//! input line by line and runs each complete wrapped line (`sfbpatch_core::envelope`) at once,
//! its output and result lines written and flushed before the next line is read.
//!
//! The commands of one process run in one session of the host, opened in the estate at the
//! first command (`Estate::open_session`) and closed at the end of the input: a session whose
//! module was loaded stays open between commands, so the installer sees a shell holding the
//! old files (DOMAIN.md §4 rule 2) and a session opened before an install cannot use the
//! updated cmdlets after it (rule 3). The session records this process (pid and start time):
//! a process killed cannot close its session, and a session whose process is gone counts as
//! closed (`Estate::close_orphans`, called before every command by the caller's store).
//!
//! The estate's lock is the store's, taken per command (`EstateStore::with`), never for the
//! process's life: other processes' commands run between this one's.
//!
//! A line `$env:SFBPATCH_STEP = '<step>'` (`envelope::step_line`) names the step of the
//! commands after it, as the environment does for a one-shot process. Input whose first line
//! is neither is not streamed: it is read to its end and run as one script, as before.

use std::io::{BufRead, Write};

use sfbpatch_core::envelope;
use sfbpatch_core::runbook::StepId;

use crate::estate::SessionProcess;
use crate::remoting::EstateStore;
use crate::shell::{Ending, Invocation};

/// How the input was served.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// Not a stream: the whole input, to run as one script.
    Script(String),
    /// Every line answered, up to the end of the input (the session is closed).
    Ended,
    /// A command did not complete (a dropped session, a silent host, no answer): what the
    /// process answers for it, nothing more being read. Its session is not closed here (a
    /// dropped one is closed already; a host that does not answer keeps it until its
    /// process is gone).
    Cut(Ending),
}

/// Why serving stopped short: data, rendered at the edge (the caller knows the estate's
/// path and the operator's language).
#[derive(Debug)]
pub enum ServeError {
    /// The store's own refusal (the estate cannot be opened or saved), already rendered by it.
    Store(String),
    /// The estate has no such host (nothing changed).
    NoHost(String),
    /// Reading the input or writing the output failed.
    Io(std::io::Error),
}

/// Serves `input` for the commands `template` describes (host, step, time scale, disk,
/// logon), in a session held by `process`.
pub fn serve<S: EstateStore>(
    store: &mut S,
    template: &Invocation,
    process: SessionProcess,
    input: impl BufRead,
    mut out: impl Write,
    mut err: impl Write,
) -> Result<Served, ServeError> {
    let mut lines = input.lines();
    let mut step = template.step;
    let mut session: Option<u64> = None;
    let mut started = false;
    while let Some(line) = lines.next() {
        let line = line.map_err(ServeError::Io)?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(s) = envelope::step_of(&line) {
            step = s.parse::<StepId>().ok();
            started = true;
            continue;
        }
        if !started && envelope::body(&line).is_none() {
            // Not a stream: the script is the whole input.
            let mut script = line;
            for l in lines {
                script.push('\n');
                script.push_str(&l.map_err(ServeError::Io)?);
            }
            return Ok(Served::Script(script));
        }
        started = true;
        let invocation = Invocation { script: line, step, ..template.clone() };
        let host = invocation.host.clone();
        let x = store
            .with(|e| {
                if session.is_none() {
                    let at = e.host(&host).map(|h| h.clock_ms.max(h.unreachable_until))?;
                    // A host that does not answer opens none: the command is told so below.
                    session = e.open_session(&host, at);
                    if let Some(s) =
                        e.host_mut(&host).and_then(|h| h.sessions.iter_mut().find(|s| Some(s.id) == session))
                    {
                        s.process = Some(process);
                    }
                }
                match session {
                    Some(id) => invocation.execute_in(e, Some(id)),
                    None => invocation.execute(e),
                }
            })
            .map_err(ServeError::Store)?;
        let Some(x) = x else { return Err(ServeError::NoHost(host)) };
        match invocation.finish(x) {
            Ending::Completed { stdout, stderr, .. } => {
                out.write_all(stdout.as_bytes()).and_then(|()| out.flush()).map_err(ServeError::Io)?;
                err.write_all(stderr.as_bytes()).and_then(|()| err.flush()).map_err(ServeError::Io)?;
            }
            other => return Ok(Served::Cut(other)),
        }
    }
    if let Some(id) = session {
        let host = template.host.clone();
        store.with(|e| e.close_session(&host, id)).map_err(ServeError::Store)?;
    }
    Ok(Served::Ended)
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

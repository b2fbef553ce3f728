//! The installer's session started ahead (issue 14's last lever): the shell process the update
//! installer will run in is started before the users' outage, so that its start — hundreds of
//! milliseconds for `powershell.exe` — is not spent inside it. DOMAIN.md §1: "everything that
//! can happen before step 4 (…opening sessions) should happen before step 4".
//!
//! What keeps it true to the rules (DOMAIN.md §4):
//! * rule 2 — a shell with the Skype for Business module loaded, open during the install, makes
//!   the installer ask for a restart: the spare runs no command before the installer, so it
//!   never loads the module, and only such a shell is what `close-shells` must end (the seed's
//!   step 6 closes the *Management Shell* windows, §1 step 3). `close_sessions` leaves a spare
//!   that has run nothing open (`Transport::open_spare_session`'s contract); every session that
//!   ran a command, module loaded or not, is still ended, and the simulator's installer still
//!   sees every module-loaded session of the run.
//! * rule 3 — nothing after the install runs in a process started before it: the install step
//!   ends the spare once the installer has run (`attempt`), and its read-back opens the session
//!   the steps after it use, as before.
//!
//! When: alongside the preflight for the servers that start first (the run does not wait for
//! one past the preflight), else before each step of the procedure before the outage once the
//! host has answered (its own session open), so that a host that stalls is not asked again.
//! A spare that could not be started is no failure: the install step then opens its session
//! when it comes, as it always did. A spare that was never used (the server failed, was refused
//! or the run stopped first) is ended with its server's procedure or at the end of the run.

use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::ServerPlan;
use sfbpatch_core::runbook::StepId;

use crate::context::{Ctx, PROBE_TIMEOUT};
use crate::event::EventSink;
use crate::options::ServerResume;
use crate::transport::{SessionId, Transport};

/// How many spares are started at once alongside the preflight (a local process is spawned
/// at once; over SSH each may connect first).
pub(crate) const AT_ONCE: usize = 16;

/// Whether `sp`'s installer is still to run (a resumed server whose install completed needs
/// none).
pub(crate) fn installs(sp: &ServerPlan, prior: Option<&ServerResume>) -> bool {
    sp.steps.iter().any(|st| st.id == StepId::InstallUpdate)
        && !prior
            .is_some_and(|p| p.finished.is_some_and(|r| r.is_done()) || p.completed.contains(&StepId::InstallUpdate))
}

impl<T: Transport, S: EventSink> Ctx<'_, T, S> {
    /// Starts the installer's session on `sp`'s server ahead, unless it has one or needs none.
    /// An error or no answer within the read-back timeout leaves it without one.
    pub(crate) async fn prestart(&self, sp: &ServerPlan, prior: Option<&ServerResume>) {
        let host = &sp.fqdn;
        if !installs(sp, prior) || self.halted() || self.spares.lock().map_or(true, |m| m.contains_key(host)) {
            return;
        }
        let timeout = self.transport.real(self.opts.scaled(PROBE_TIMEOUT));
        if let Ok(Ok(Some(id))) = tokio::time::timeout(timeout, self.transport.open_spare_session(host)).await {
            let earlier = self.spares.lock().ok().and_then(|mut m| m.insert(host.clone(), id));
            // Two starts for one host at once (cannot happen: one procedure per server): the
            // earlier is ended rather than left to the end of the run.
            if let Some(old) = earlier {
                let _ = self.transport.close_session(host, old).await;
            }
        }
    }

    /// The installer's session started ahead on `host`, taken (once).
    pub(crate) fn take_spare(&self, host: &Fqdn) -> Option<SessionId> {
        self.spares.lock().ok().and_then(|mut m| m.remove(host))
    }

    /// Ends `host`'s spare, if it has one (a restart would end its process anyway; a server
    /// that ends without installing does not keep one).
    pub(crate) async fn close_spare(&self, host: &Fqdn) {
        if let Some(id) = self.take_spare(host) {
            let _ = self.transport.close_session(host, id).await;
        }
    }

    /// Ends every spare left (the end of the run).
    pub(crate) async fn close_spares(&self) {
        let left: Vec<(Fqdn, SessionId)> = self.spares.lock().map(|mut m| m.drain().collect()).unwrap_or_default();
        for (host, id) in left {
            let _ = self.transport.close_session(&host, id).await;
        }
    }
}

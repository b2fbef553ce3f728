//! The simulated estate behind the engine's [`Transport`]: the same trait the local shell
//! and SSH implement. Durations are slept on tokio's clock: paused (virtual) for a
//! rehearsal, scaled real time for a run against a persisted estate.

use std::sync::Mutex;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::transport::{CommandOutput, SessionId, Transport, TransportError};

use crate::Ms;
use crate::estate::Estate;
use crate::exec::{ExecStatus, Request, package};

/// Called after every operation with the estate as it now is (to persist it).
pub type SaveHook = Box<dyn Fn(&Estate) -> Result<(), String>>;

/// The simulated estate as a transport.
pub struct SimTransport {
    estate: Mutex<Estate>,
    epoch: tokio::time::Instant,
    base_ms: Ms,
    time_scale: f64,
    sha256: String,
    build: Build,
    save: Option<SaveHook>,
    local: Option<Fqdn>,
}

impl SimTransport {
    /// A transport over `estate`; the package has `sha256` and installs `build`.
    /// `time_scale` is real seconds per virtual second (1.0 on a paused clock).
    pub fn new(mut estate: Estate, sha256: String, build: Build, time_scale: f64) -> Self {
        let base_ms = estate.now();
        // A new client has no sessions: those of an earlier process ended with it (an SSH
        // channel or a local shell dies with its client).
        for h in &mut estate.hosts {
            for s in &mut h.sessions {
                s.open = false;
            }
        }
        Self {
            estate: Mutex::new(estate),
            epoch: tokio::time::Instant::now(),
            base_ms,
            time_scale: if time_scale.is_finite() && time_scale > 0.0 { time_scale } else { 1.0 },
            sha256,
            build,
            save: None,
            local: None,
        }
    }

    /// Persists the estate after every operation.
    pub fn with_save(mut self, save: SaveHook) -> Self {
        self.save = Some(save);
        self
    }

    /// Models a transport that executes on one of the estate's servers (a local shell there).
    pub fn executing_on(mut self, host: Fqdn) -> Self {
        self.local = Some(host);
        self
    }

    /// The estate (after the run).
    pub fn into_estate(self) -> Estate {
        match self.estate.into_inner() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn with_estate<R>(&self, f: impl FnOnce(&mut Estate) -> R) -> Result<R, TransportError> {
        let mut e = self.estate.lock().map_err(|_| TransportError::Other("the simulated estate is unusable".into()))?;
        let r = f(&mut e);
        if let Some(save) = &self.save {
            save(&e).map_err(TransportError::Other)?;
        }
        Ok(r)
    }

    /// What the caller sees of an execution, when it sees it: a command that never answers
    /// keeps the caller waiting (its timeout ends the wait); the others answer at their end.
    async fn answer(&self, host: &Fqdn, x: crate::exec::Execution) -> Result<CommandOutput, TransportError> {
        match x.status {
            ExecStatus::Unreachable => Err(TransportError::Unreachable(host.to_string())),
            ExecStatus::TimedOut => {
                std::future::pending::<()>().await;
                Err(TransportError::Other("no answer".into()))
            }
            ExecStatus::Disconnected => {
                self.sleep_until(x.end_ms).await;
                Err(TransportError::Disconnected(host.to_string()))
            }
            ExecStatus::Completed => {
                self.sleep_until(x.end_ms).await;
                Ok(CommandOutput { exit_code: x.exit_code, stdout: x.stdout, stderr: x.stderr })
            }
        }
    }

    async fn sleep_until(&self, at: Ms) {
        let now = self.now_ms();
        if at > now {
            tokio::time::sleep(Duration::from_secs_f64((at - now) as f64 / 1000.0 * self.time_scale)).await;
        }
    }
}

impl Transport for SimTransport {
    async fn open_session(&self, host: &Fqdn) -> Result<SessionId, TransportError> {
        let at = self.now_ms();
        self.with_estate(|e| e.open_session(host.as_str(), at))?
            .ok_or_else(|| TransportError::Unreachable(host.to_string()))
    }

    async fn close_sessions(&self, host: &Fqdn) -> Result<(), TransportError> {
        self.with_estate(|e| e.close_sessions(host.as_str()))
    }

    async fn run(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        let at = self.now_ms();
        let timeout_ms = timeout.as_millis().min(u128::from(u64::MAX / 4)) as Ms;
        let x =
            self.with_estate(|e| e.execute(&Request { host: host.as_str(), session, step, script, at, timeout_ms }))?;
        self.answer(host, x).await
    }

    async fn stage(
        &self,
        host: &Fqdn,
        step: Option<StepId>,
        remote_path: &str,
        timeout: Duration,
    ) -> Result<(), TransportError> {
        let at = self.now_ms();
        let file = package(&self.sha256, self.build.clone());
        let timeout_ms = timeout.as_millis().min(u128::from(u64::MAX / 4)) as Ms;
        let x = self.with_estate(|e| e.put_file(host.as_str(), step, remote_path, file, at, timeout_ms))?;
        let o = self.answer(host, x).await?;
        if o.exit_code == 0 { Ok(()) } else { Err(TransportError::Other(o.stderr)) }
    }

    fn package_sha256(&self) -> String {
        self.sha256.clone()
    }

    fn real(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }

    fn executes_on(&self) -> Option<Fqdn> {
        self.local.clone()
    }

    fn now_ms(&self) -> u64 {
        self.base_ms + (self.epoch.elapsed().as_secs_f64() * 1000.0 / self.time_scale) as Ms
    }
}

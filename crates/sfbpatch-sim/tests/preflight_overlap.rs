//! The run's pre-flight asks every host at once (issue 13): a host slow to answer `whoami`
//! (a silent SSH host waits out its connect timeout) no longer delays the others' probes.
//! The simulator's transport, wrapped so that each `whoami` takes 20 virtual seconds and
//! counts how many are in flight together.

mod common;

use std::cell::Cell;
use std::time::Duration;

use common::*;
use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::event::Recorder;
use sfbpatch_engine::{CommandOutput, RunOptions, SessionId, Transport, TransportError, run};
use sfbpatch_sim::rehearse::package_sha256;
use sfbpatch_sim::transport::SimTransport;
use tokio::sync::watch;

struct SlowWhoami {
    inner: SimTransport,
    in_flight: Cell<usize>,
    most: Cell<usize>,
}

impl Transport for SlowWhoami {
    async fn open_session(&self, host: &Fqdn) -> Result<SessionId, TransportError> {
        self.inner.open_session(host).await
    }
    async fn close_sessions(&self, host: &Fqdn) -> Result<(), TransportError> {
        self.inner.close_sessions(host).await
    }
    async fn run(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        if !script.contains("whoami /groups") {
            return self.inner.run(host, session, step, script, timeout).await;
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.most.set(self.most.get().max(self.in_flight.get()));
        tokio::time::sleep(Duration::from_secs(20)).await;
        self.in_flight.set(self.in_flight.get() - 1);
        self.inner.run(host, session, step, script, timeout).await
    }
    async fn stage(
        &self,
        host: &Fqdn,
        step: Option<StepId>,
        remote_path: &str,
        timeout: Duration,
    ) -> Result<(), TransportError> {
        self.inner.stage(host, step, remote_path, timeout).await
    }
    fn package_sha256(&self) -> String {
        self.inner.package_sha256()
    }
    fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }
    fn real(&self, d: Duration) -> Duration {
        self.inner.real(d)
    }
}

#[test]
fn the_hosts_whoami_probes_overlap() {
    let mut req = sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.servers = vec!["fe11.contoso.local".into(), "se01.contoso.local".into()];
    let p = sfbpatch_core::plan::plan(&example(), &req).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let inner = SimTransport::new(estate(3), package_sha256("SkypeServerUpdateInstaller.exe", &TARGET), TARGET, 1.0);
    let t = SlowWhoami { inner, in_flight: Cell::new(0), most: Cell::new(0) };
    let rec = Recorder::default();
    let (_tx, rx) = watch::channel(false);
    let opts = RunOptions { target_build: Some(TARGET), ..RunOptions::default() };
    let s = rt.block_on(run(&p, &t, &rec, &opts, None, rx));
    assert_eq!(s.state.as_str(), "completed", "{:?}", s.servers);
    // Two servers, each its own steps' only host: both probes wait together, not in turn.
    assert_eq!(t.most.get(), 2);
}

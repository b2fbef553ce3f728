//! The run's pre-flight asks every host at once (issue 13): a host slow to answer `whoami`
//! (a silent SSH host waits out its connect timeout) no longer delays the others' probes.
//! The simulator's transport, wrapped so that each `whoami` takes 20 virtual seconds and
//! counts how many are in flight together. And what the preflight's refusals do to the
//! installer's shells started alongside it (`crate::spare` in sfbpatch-engine).

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

/// The simulator's transport, wrapped for these tests: each `whoami` may take 20 virtual
/// seconds (counting how many are in flight together); the `whoami` of `refuse` may answer
/// nothing the rights check can read (the preflight refuses that server); spare sessions
/// (`Transport::open_spare_session`, as the local and SSH transports start the installer's
/// shell ahead) may be given. Logs each spare opened and closed and each step command sent.
struct Wrapped {
    inner: SimTransport,
    slow_whoami: bool,
    refuse: Option<&'static str>,
    spares: bool,
    in_flight: Cell<usize>,
    most: Cell<usize>,
    next: Cell<SessionId>,
    log: std::cell::RefCell<Vec<String>>,
}

/// Spare sessions' ids: the simulator's own are far below.
const SPARE_IDS: SessionId = 1_000_000;

impl Wrapped {
    fn new(slow_whoami: bool, refuse: Option<&'static str>, spares: bool) -> Self {
        let inner =
            SimTransport::new(estate(3), package_sha256("SkypeServerUpdateInstaller.exe", &TARGET), TARGET, 1.0);
        let (in_flight, most, next, log) = (Cell::new(0), Cell::new(0), Cell::new(SPARE_IDS), Default::default());
        Self { inner, slow_whoami, refuse, spares, in_flight, most, next, log }
    }
    fn say(&self, line: String) {
        self.log.borrow_mut().push(line);
    }
}

impl Transport for Wrapped {
    async fn open_session(&self, host: &Fqdn) -> Result<SessionId, TransportError> {
        self.inner.open_session(host).await
    }
    async fn open_spare_session(&self, host: &Fqdn) -> Result<Option<SessionId>, TransportError> {
        if !self.spares {
            return Ok(None);
        }
        let id = self.next.get();
        self.next.set(id + 1);
        self.say(format!("spare-open {host} {id}"));
        Ok(Some(id))
    }
    async fn close_session(&self, host: &Fqdn, session: SessionId) -> Result<(), TransportError> {
        if session >= SPARE_IDS {
            self.say(format!("spare-close {host} {session}"));
            return Ok(());
        }
        self.inner.close_session(host, session).await
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
        if script.contains("whoami /groups") {
            if self.refuse == Some(host.as_str()) {
                return Ok(CommandOutput { exit_code: 0, stdout: "nothing readable".into(), stderr: String::new() });
            }
            if self.slow_whoami {
                self.in_flight.set(self.in_flight.get() + 1);
                self.most.set(self.most.get().max(self.in_flight.get()));
                tokio::time::sleep(Duration::from_secs(20)).await;
                self.in_flight.set(self.in_flight.get() - 1);
            }
        } else if let Some(step) = step {
            self.say(format!("step {host} {}", step.as_str()));
        }
        // A spare is the installer's session: the simulator gets a session of its own for it.
        let session = session.filter(|s| *s < SPARE_IDS);
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
    let t = Wrapped::new(true, None, false);
    let rec = Recorder::default();
    let (_tx, rx) = watch::channel(false);
    let opts = RunOptions { target_build: Some(TARGET), ..RunOptions::default() };
    let s = rt.block_on(run(&p, &t, &rec, &opts, None, rx));
    assert_eq!(s.state.as_str(), "completed", "{:?}", s.servers);
    // Two servers, each its own steps' only host: both probes wait together, not in turn.
    assert_eq!(t.most.get(), 2);
}

/// A server the preflight refuses installs nothing in this run: the installer's shell started
/// for it ahead is ended as soon as the preflight has refused it, before any server's
/// procedure begins, not left idle to the end of the run (a review of issue 14's spares).
#[test]
fn a_refused_servers_spare_is_ended_when_the_preflight_refuses_it() {
    let mut req = sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.servers = vec!["fe11.contoso.local".into(), "se01.contoso.local".into()];
    let p = sfbpatch_core::plan::plan(&example(), &req).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Wrapped::new(false, Some("se01.contoso.local"), true);
    let rec = Recorder::default();
    let (_tx, rx) = watch::channel(false);
    let opts = RunOptions { target_build: Some(TARGET), ..RunOptions::default() };
    let s = rt.block_on(run(&p, &t, &rec, &opts, None, rx));
    let log = t.log.borrow();
    let result = |fqdn: &str| s.servers.iter().find(|x| x.fqdn.as_str() == fqdn).map(|x| x.result.as_str());
    assert_eq!(result("se01.contoso.local"), Some("not-started"), "{:?}", s.servers);
    assert_eq!(result("fe11.contoso.local"), Some("updated"), "{:?}", s.servers);
    let at = |line: &str| log.iter().position(|l| l.starts_with(line));
    let opened = at("spare-open se01.contoso.local").unwrap_or_else(|| panic!("no spare for se01: {log:?}"));
    let closed = at("spare-close se01.contoso.local").unwrap_or_else(|| panic!("se01's spare never ended: {log:?}"));
    let first_step = at("step ").unwrap_or_else(|| panic!("no step: {log:?}"));
    assert!(opened < closed && closed < first_step, "{log:?}");
    // fe11's spare was the installer's session: taken by its install, then ended.
    assert!(at("spare-close fe11.contoso.local").is_some_and(|c| c > first_step), "{log:?}");
}

//! What every part of a run shares: the plan, the transport, the sink, the options, the
//! stop signal; events, sentences from the catalogue, the transport's clock, and calls with a
//! timeout.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::Plan;
use sfbpatch_core::probe::Probe;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::{Activity, EngineWork, Stream};
use sfbpatch_i18n::Args;
use tokio::sync::watch;

use crate::event::{AttemptOutput, Event, EventSink, StepOutcome};
use crate::options::RunOptions;
use crate::transport::{CommandOutput, SessionId, Transport, TransportError};

/// How long a read-back may take before it counts as no answer.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// The least time a read-back is given, whatever `--timeout-scale` says.
pub(crate) const PROBE_FLOOR: Duration = Duration::from_secs(10);

/// The run's shared parts.
pub(crate) struct Ctx<'a, T: Transport, S: EventSink> {
    pub plan: &'a Plan,
    pub transport: &'a T,
    sink: &'a S,
    pub opts: &'a RunOptions,
    stop: watch::Receiver<bool>,
    sink_failed: Mutex<Option<String>>,
    /// The session the preflight opened on each host (no install has run in this run yet),
    /// handed to the first procedure on that host that asks ([`Ctx::take_preflight_session`]),
    /// so that a kept shell process serves the preflight's read-backs and the steps before the
    /// install alike.
    preflight: Mutex<HashMap<Fqdn, SessionId>>,
    /// The installer's session started ahead on each host (`crate::spare`), taken by the
    /// install step.
    pub(crate) spares: Mutex<HashMap<Fqdn, SessionId>>,
}

impl<'a, T: Transport, S: EventSink> Ctx<'a, T, S> {
    pub fn new(
        plan: &'a Plan,
        transport: &'a T,
        sink: &'a S,
        opts: &'a RunOptions,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            plan,
            transport,
            sink,
            opts,
            stop,
            sink_failed: Mutex::new(None),
            preflight: Mutex::new(HashMap::new()),
            spares: Mutex::new(HashMap::new()),
        }
    }

    /// Hands an event to the sink; a sink that fails halts the run before its next step.
    pub fn emit(&self, e: Event) {
        if let Err(err) = self.sink.emit(&e)
            && let Ok(mut f) = self.sink_failed.lock()
        {
            f.get_or_insert(err);
        }
    }

    /// The transport's clock, in milliseconds.
    pub fn now(&self) -> u64 {
        self.transport.now_ms()
    }

    /// A stop was asked for, or the sink failed: no new step starts.
    pub fn halted(&self) -> bool {
        *self.stop.borrow() || self.sink_failed.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    /// A sentence of the engine's, from the catalogue, in the run's language.
    pub fn say(&self, key: &str, args: &[(&str, String)]) -> String {
        let a = args.iter().fold(Args::new(), |a, (k, v)| a.with(k, v));
        sfbpatch_i18n::fmt(self.opts.lang, &format!("engine.{key}"), &a)
    }

    /// A warning about `host`.
    pub fn warn(&self, host: &Fqdn, message: String) {
        self.emit(Event::Warning { server: Some(host.clone()), at_ms: self.now(), message });
    }

    /// Waits `d` of the transport's time, scaled.
    pub async fn pause(&self, d: Duration) {
        tokio::time::sleep(self.transport.real(self.opts.scaled(d))).await;
    }

    /// A transport error in the run's language.
    pub fn transport_error(&self, e: &TransportError) -> String {
        match e {
            TransportError::Unreachable(h) => self.say("unreachable", &[("server", h.clone())]),
            TransportError::Disconnected(h) => self.say("disconnected", &[("server", h.clone())]),
            TransportError::NoResult { host, exit_code } => self.say(
                "no-result",
                &[("server", host.clone()), ("code", exit_code.map_or_else(|| "-".to_owned(), |c| c.to_string()))],
            ),
            TransportError::Other(why) => why.clone(),
        }
    }

    /// Runs `script` on `host` within `timeout` (scaled): no answer in time is an error.
    pub async fn call(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        self.send(host, session, step, script, self.opts.scaled(timeout)).await
    }

    /// Sends one of the core's read-backs to `host`, within `timeout` scaled but never less
    /// than [`PROBE_FLOOR`]: a read-back is never retried, so a fast test estate's scale
    /// must not turn a slow answer into a failure.
    pub async fn probe(&self, host: &Fqdn, probe: &Probe, timeout: Duration) -> Result<CommandOutput, String> {
        self.send(host, None, None, &probe.command(), self.opts.scaled(timeout).max(PROBE_FLOOR)).await
    }

    /// A read-back in `session` on `host`: the server's own session (opened first when there
    /// is none), so that a transport that keeps a process per session starts no new one. A
    /// read-back that does not complete forgets the session (its process is gone, or cut).
    /// The caller decides which session is right: never one opened before an install for a
    /// read-back after it (DOMAIN.md §4 rule 3).
    pub async fn probe_in(
        &self,
        host: &Fqdn,
        session: &mut Option<SessionId>,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        let timeout = self.opts.scaled(timeout).max(PROBE_FLOOR);
        let id = match *session {
            Some(id) => id,
            None => match tokio::time::timeout(self.transport.real(timeout), self.transport.open_session(host)).await {
                Ok(Ok(id)) => id,
                Ok(Err(e)) => return Err(self.say("session-failed", &[("why", self.transport_error(&e))])),
                Err(_) => return Err(self.say("session-timeout", &[])),
            },
        };
        let r = self.send(host, Some(id), None, &probe.command(), timeout).await;
        *session = if r.is_ok() { Some(id) } else { None };
        r
    }

    /// A preflight read-back on `host`, in the host's preflight session.
    pub async fn preflight_probe(
        &self,
        host: &Fqdn,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        let lock = |m: &Mutex<HashMap<Fqdn, SessionId>>| m.lock().map(|g| g.get(host).copied()).unwrap_or(None);
        let mut session = lock(&self.preflight);
        let r = self.probe_in(host, &mut session, probe, timeout).await;
        if let Ok(mut m) = self.preflight.lock() {
            match session {
                Some(id) => m.insert(host.clone(), id),
                None => m.remove(host),
            };
        }
        r
    }

    /// The session the preflight opened on `host`, if any, for a procedure to go on in (once).
    pub fn take_preflight_session(&self, host: &Fqdn) -> Option<SessionId> {
        self.preflight.lock().ok().and_then(|mut m| m.remove(host))
    }

    /// Runs `script` within `timeout` of the transport's time (already scaled).
    async fn send(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        script: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, String> {
        match tokio::time::timeout(
            self.transport.real(timeout),
            self.transport.run(host, session, step, script, timeout),
        )
        .await
        {
            Err(_) => Err(self.say("no-answer", &[("minutes", minutes(timeout))])),
            Ok(Err(e)) => Err(self.transport_error(&e)),
            Ok(Ok(o)) => Ok(o),
        }
    }

    /// One attempt of the engine's own work (a hook, the installer's logs): `script` within
    /// `timeout` (scaled), its output kept, success on exit 0. Returns why it failed.
    pub async fn engine_attempt(
        &self,
        host: &Fqdn,
        work: EngineWork,
        script: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        self.engine_attempt_in(host, None, work, script, timeout).await
    }

    /// [`Ctx::engine_attempt`] in `session` (`None`: a session of its own).
    pub async fn engine_attempt_in(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        work: EngineWork,
        script: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let name = Activity::Engine(work);
        self.started(host, name, 1, Some(script.to_owned()));
        let (outcome, kept, result) = match self.call(host, session, None, script, timeout).await {
            Ok(o) if o.exit_code == 0 => (StepOutcome::Succeeded, self.output(host, name, &o), Ok(())),
            Ok(o) => {
                let why = self.exit_line(&o);
                (StepOutcome::Failed { reason: why.clone() }, self.output(host, name, &o), Err(why))
            }
            Err(e) => (StepOutcome::Failed { reason: e.clone() }, AttemptOutput::default(), Err(e)),
        };
        self.finished(host, name, 1, outcome, kept);
        result
    }

    /// An attempt begins.
    pub fn started(&self, server: &Fqdn, step: Activity, attempt: u32, command: Option<String>) {
        self.emit(Event::StepStarted { server: server.clone(), step, attempt, at_ms: self.now(), command });
    }

    /// An attempt ends, carrying what it printed.
    pub fn finished(&self, server: &Fqdn, step: Activity, attempt: u32, outcome: StepOutcome, output: AttemptOutput) {
        self.emit(Event::StepFinished { server: server.clone(), step, attempt, at_ms: self.now(), outcome, output });
    }

    /// Streams a command's output for live display and returns it for the attempt's end.
    pub fn output(&self, host: &Fqdn, step: Activity, o: &CommandOutput) -> AttemptOutput {
        for (stream, text) in [(Stream::Stdout, &o.stdout), (Stream::Stderr, &o.stderr)] {
            if !text.trim().is_empty() {
                self.emit(Event::StepOutput { server: host.clone(), step, stream, text: text.clone() });
            }
        }
        AttemptOutput { exit_code: Some(o.exit_code), stdout: o.stdout.clone(), stderr: o.stderr.clone() }
    }

    /// A line of the engine's own (a restart's stage, a resumed step) streamed and kept.
    pub fn note(&self, host: &Fqdn, step: Activity, kept: &mut AttemptOutput, text: String) {
        kept.stdout.push_str(&text);
        kept.stdout.push('\n');
        self.emit(Event::StepOutput { server: host.clone(), step, stream: Stream::Stdout, text });
    }

    /// "exit code N: first line of what it said".
    pub fn exit_line(&self, o: &CommandOutput) -> String {
        let text = if o.stderr.trim().is_empty() { o.stdout.trim() } else { o.stderr.trim() };
        match text.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
            Some(line) => self.say("exit-code-line", &[("code", o.exit_code.to_string()), ("line", line.to_owned())]),
            // A program that printed nothing (the installer, a GUI program, writes only its
            // log): the code alone, not "exit code 1603: ".
            None => self.say("exit-code", &[("code", o.exit_code.to_string())]),
        }
    }
}

/// Whole minutes of a duration, for sentences.
pub(crate) fn minutes(d: Duration) -> String {
    let m = d.as_secs_f64() / 60.0;
    if (m - m.round()).abs() < 1e-9 { format!("{m:.0}") } else { format!("{m:.1}") }
}

//! Hosts execute the text of PowerShell commands.
//!
//! The text is parsed with a real PowerShell grammar ([`sfbpatch_pwsh::syntax`]); each
//! command is then applied to the host under the rules of DOMAIN.md §4. A command the planner
//! rendered badly (a syntax error, an unknown cmdlet, a parameter the cmdlet does not have)
//! fails here as it would in PowerShell. Unsupported constructs fail loudly rather than being
//! approximated. The cmdlets themselves are a table (`crate::cmdlets`).

use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_pwsh::syntax::{self, Element, ParseError, Statement};

use crate::Ms;
use crate::cmdlets::{Cx, Out, installer, run_command};
use crate::estate::{Estate, Host, OpRecord, Session, SessionProcess, SimFile};
use crate::fault::FaultKind;
use crate::vars::Vars;

/// How an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecStatus {
    /// The command ran to its end (successfully or not: see the exit code).
    Completed,
    /// The timeout passed first; the command was abandoned and changed nothing.
    TimedOut,
    /// The session dropped; the command may or may not have been applied.
    Disconnected,
    /// The host did not answer (restarting).
    Unreachable,
}

impl ExecStatus {
    fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Completed => "completed",
            ExecStatus::TimedOut => "timed-out",
            ExecStatus::Disconnected => "disconnected",
            ExecStatus::Unreachable => "unreachable",
        }
    }
}

/// The result of running a script on a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// How it ended.
    pub status: ExecStatus,
    /// Exit code (meaningful when completed).
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Virtual start.
    pub start_ms: Ms,
    /// Virtual end.
    pub end_ms: Ms,
}

impl Execution {
    /// Completed with exit code 0.
    pub fn succeeded(&self) -> bool {
        self.status == ExecStatus::Completed && self.exit_code == 0
    }
}

/// A script to run.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The host's FQDN.
    pub host: &'a str,
    /// The session to run in (`None`: a new session, opened for this script and closed after).
    pub session: Option<u64>,
    /// The step this belongs to (faults are keyed by step).
    pub step: Option<StepId>,
    /// The PowerShell text.
    pub script: &'a str,
    /// When the driver sends it.
    pub at: Ms,
    /// How long the driver waits.
    pub timeout_ms: Ms,
}

/// A file written onto a host's disk from outside the simulator (SFTP), as the machine
/// that drives the estate finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFile {
    /// Its Windows path (`C:\ProgramData\…`).
    pub path: String,
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
}

impl Estate {
    /// The fault for this host and step, if one is set and has not fired yet; it fires now.
    fn fault_for(&mut self, host: &str, step: Option<StepId>) -> Option<FaultKind> {
        let step = step?;
        let i = (0..self.faults.len()).find(|&i| {
            !self.fired.contains(&i) && self.faults[i].server.as_str() == host && self.faults[i].step == step
        })?;
        self.fired.push(i);
        Some(self.faults[i].kind.clone())
    }

    /// Brings the files written onto a host's disk from outside (a package copied by SFTP)
    /// into its simulated disk. The disk is the truth for them: a copy sent again (or cut
    /// short) replaces the one the simulator knew; files the simulator wrote itself stay.
    /// They install the estate's package build.
    pub fn sync_disk(&mut self, host: &str, files: &[DiskFile]) {
        let installs = self.package_build.clone();
        let Some(h) = self.host_mut(host) else { return };
        for f in files {
            let key = f.path.to_ascii_lowercase();
            if h.files.get(&key).is_none_or(|known| known.sha256 != f.sha256) {
                let file =
                    SimFile { sha256: f.sha256.clone(), installs: installs.clone(), intact: true, content: None };
                h.files.insert(key, file);
            }
        }
    }

    /// Opens a PowerShell session on a host: its id, or `None` if the host does not answer.
    pub fn open_session(&mut self, host: &str, at: Ms) -> Option<u64> {
        let h = self.host_mut(host)?;
        if at.max(h.clock_ms) < h.unreachable_until {
            return None;
        }
        Some(new_session(h))
    }

    /// Ends one session on a host (its shell process ended).
    pub fn close_session(&mut self, host: &str, id: u64) {
        if let Some(s) = self.host_mut(host).and_then(|h| h.sessions.iter_mut().find(|s| s.id == id)) {
            s.open = false;
        }
    }

    /// Closes every open session held by a process that `alive` says is gone (killed: it
    /// could not close its session itself). A shell that has ended holds no files.
    pub fn close_orphans(&mut self, alive: impl Fn(&SessionProcess) -> bool) {
        for h in &mut self.hosts {
            for s in &mut h.sessions {
                if s.open && s.process.as_ref().is_some_and(|p| !alive(p)) {
                    s.open = false;
                }
            }
        }
    }

    /// Ends every session on a host (closing every Management Shell).
    pub fn close_sessions(&mut self, host: &str) {
        if let Some(h) = self.host_mut(host) {
            for s in &mut h.sessions {
                s.open = false;
            }
        }
    }

    /// Copies a file to a host's local disk (a transport action, not a command).
    pub fn put_file(
        &mut self,
        host: &str,
        step: Option<StepId>,
        path: &str,
        file: SimFile,
        at: Ms,
        timeout_ms: Ms,
    ) -> Execution {
        let fault = self.fault_for(host, step);
        let Some(h) = self.host_mut(host) else {
            return no_host(host, at);
        };
        let start = at.max(h.clock_ms);
        let op = Op { step, command: format!("copy {path}"), start };
        if start < h.unreachable_until {
            return record(h, op.cut_short(start, ExecStatus::Unreachable, "the host does not answer"));
        }
        let mut ms = h.rng.secs(30.0, 90.0);
        let mut file = file;
        let (status, exit, applied, err) = match fault {
            Some(FaultKind::Hang) => {
                ms = timeout_ms;
                (ExecStatus::TimedOut, -1, false, String::new())
            }
            Some(FaultKind::Fail) => (
                ExecStatus::Completed,
                1,
                false,
                format!("Copy of {path} failed: there is not enough space on the disk."),
            ),
            Some(FaultKind::Disconnect) => {
                ms /= 2;
                file.intact = false;
                file.sha256 = format!("{:0>64}", "bad");
                (ExecStatus::Disconnected, -1, true, "the connection dropped during the copy".into())
            }
            Some(FaultKind::Slow(f)) => {
                ms = ((ms as f64) * f).round() as Ms;
                (ExecStatus::Completed, 0, true, String::new())
            }
            _ => (ExecStatus::Completed, 0, true, String::new()),
        };
        let (status, applied, ms) =
            if ms > timeout_ms { (ExecStatus::TimedOut, false, timeout_ms) } else { (status, applied, ms) };
        if applied {
            h.files.insert(path.to_ascii_lowercase(), file);
        }
        record(h, Entry { exit_code: exit, applied, stderr: err, ..op.ended(start + ms, status) })
    }

    /// Runs a PowerShell script on a host. The host is the one that *runs* it: a command may
    /// act on other machines (a database update on a SQL Server, a failover of another Front
    /// End), which are put back as they were with it when it is not applied.
    pub fn execute(&mut self, req: &Request<'_>) -> Execution {
        let fault = self.fault_for(req.host, req.step).or_else(|| {
            // Parsing again only when a fault is waiting for this step somewhere.
            let step = req.step?;
            let waiting = (0..self.faults.len()).any(|i| !self.fired.contains(&i) && self.faults[i].step == step);
            let targets = if waiting { targets_of(req.script) } else { Vec::new() };
            targets.iter().find_map(|t| self.fault_for(t, req.step))
        });
        let (reader, package_build) = (self.local_reader, self.package_build.clone());
        let Some(hi) = self.host_index(req.host) else {
            return no_host(req.host, req.at);
        };
        let h = &mut self.hosts[hi];
        let start = req.at.max(h.clock_ms);
        let op = Op { step: req.step, command: req.script.to_owned(), start };
        if start < h.unreachable_until {
            return record(h, op.cut_short(start, ExecStatus::Unreachable, "the host does not answer"));
        }
        // A program left running in the background (DOMAIN.md §5) that ended before this
        // script starts has done its work, whatever becomes of the script.
        if let Some(end) = installer::settle(h, start) {
            self.tick_pools_of(&[hi], end);
            self.record_schema_lag(&[hi], end);
        }
        let h = &mut self.hosts[hi];
        // A script run without a session gets one of its own.
        let (session, temporary) = match req.session {
            Some(id) => {
                if !h.sessions.iter().any(|s| s.id == id && s.open) {
                    return record(h, op.cut_short(start, ExecStatus::Disconnected, "the session is closed"));
                }
                (id, false)
            }
            None => (new_session(h), true),
        };
        let mut cx = Cx {
            hi,
            now: start,
            reader,
            package_build,
            session,
            slow: 1.0,
            force_reboot: false,
            busy: false,
            no_credentials: false,
            touched: Vec::new(),
            pools_before: Vec::new(),
        };
        match &fault {
            Some(FaultKind::Hang) => {
                close_temp(h, session, temporary);
                return record(h, op.cut_short(start + req.timeout_ms, ExecStatus::TimedOut, String::new()));
            }
            Some(FaultKind::Fail) => {
                let ms = h.rng.secs(5.0, 30.0);
                close_temp(h, session, temporary);
                let first = req.script.split_whitespace().next().unwrap_or("command");
                let why = format!("{first} : The operation failed (simulated fault).");
                return record(h, op.refused(start + ms, why));
            }
            Some(FaultKind::Slow(f)) => cx.slow = *f,
            Some(FaultKind::Reboot) => cx.force_reboot = true,
            Some(FaultKind::Busy) => cx.busy = true,
            Some(FaultKind::NoCredentials) => cx.no_credentials = true,
            _ => {}
        }
        // A snapshot without the operation log (which only grows): cloning it per command
        // would make long runs quadratic.
        let oplog = std::mem::take(&mut h.oplog);
        let snapshot = h.clone();
        h.oplog = oplog;
        let statements = match syntax::parse(req.script) {
            Ok(s) => s,
            Err(e) => {
                close_temp(h, session, temporary);
                let (end, why) = match e {
                    ParseError::Syntax(e) => (start + 500, format!("ParserError: {e}")),
                    ParseError::Grammar(e) => (start, e.to_string()),
                };
                return record(h, op.refused(end, why));
            }
        };
        let (mut stdout, mut stderr) = (String::new(), String::new());
        // What the result protocol's tail reads (`sfbpatch_core::envelope`): `$LASTEXITCODE`
        // (`$null` at the start), whether any statement wrote an error, and `$?` of the last.
        // Windows PowerShell goes on after a failed statement (a non-terminating error, a
        // command not found): so does the simulator.
        let (mut last_exit, mut errors, mut last_ok) = (None::<i32>, false, true);
        let mut vars = Vars::default();
        for st in &statements {
            // A background program that ends while the script runs lands then.
            installer::settle(&mut self.hosts[hi], cx.now);
            let out = match st {
                Statement::Command(c) => {
                    let out = run_command(self, &mut cx, c);
                    if crate::cmdlets::is_native(c) {
                        // A native program's failure is its exit code, not an error record.
                        last_exit = Some(out.exit);
                    } else {
                        errors |= out.exit != 0;
                    }
                    last_ok = out.exit == 0;
                    out
                }
                Statement::Assign { variable, value } => {
                    let a = vars.assign(self, &mut cx, variable, value);
                    match a.exit_code {
                        // `$LASTEXITCODE = N` (or `$null`): the code from then on, not a failure.
                        Some(code) => {
                            last_exit = code;
                            last_ok = true;
                        }
                        None => {
                            errors |= a.out.exit != 0;
                            last_ok = a.out.exit == 0;
                        }
                    }
                    a.out
                }
                Statement::Other { kind, text } => {
                    errors = true;
                    last_ok = false;
                    Out::err(format!("the simulator does not execute {kind}: {text}"), 500)
                }
            };
            cx.now = cx.now.saturating_add(out.ms);
            stdout.push_str(&out.stdout);
            stderr.push_str(&out.stderr);
        }
        let exit = last_exit.unwrap_or(if last_ok && !errors { 0 } else { 1 });
        close_temp(&mut self.hosts[hi], session, temporary);
        let end = cx.now;
        if end.saturating_sub(start) > req.timeout_ms {
            let busy = self.busy_added(&cx, start + req.timeout_ms);
            self.put_back(hi, snapshot, &mut cx);
            self.keep_busy(busy);
            let h = &mut self.hosts[hi];
            return record(h, op.cut_short(start + req.timeout_ms, ExecStatus::TimedOut, String::new()));
        }
        if fault == Some(FaultKind::Disconnect) {
            let h = &mut self.hosts[hi];
            let applied = h.rng.chance(0.5);
            let cut = start + (end - start) / 2;
            if let Some(s) = h.session_mut(session) {
                s.open = false;
            }
            if applied {
                self.after_command(hi, &cx, end);
            } else {
                let sessions = self.hosts[hi].sessions.clone();
                let busy = self.busy_added(&cx, cut);
                self.put_back(hi, snapshot, &mut cx);
                self.keep_busy(busy);
                self.hosts[hi].sessions = sessions;
            }
            let at = if applied { end } else { cut };
            let entry = op.ended(at, ExecStatus::Disconnected);
            return record(&mut self.hosts[hi], Entry { applied, stderr: "the session dropped".into(), ..entry });
        }
        let changed = !same_state(&snapshot, &self.hosts[hi])
            || cx.touched.iter().any(|(j, before)| !same_state(before, &self.hosts[*j]));
        if changed || !cx.pools_before.is_empty() {
            self.after_command(hi, &cx, end);
        }
        let entry = op.ended(end, ExecStatus::Completed);
        record(&mut self.hosts[hi], Entry { exit_code: exit, applied: changed, stdout, stderr, ..entry })
    }

    /// Puts back the running host, the other hosts and the pools a command that was not
    /// applied changed.
    fn put_back(&mut self, hi: usize, snapshot: Host, cx: &mut Cx) {
        restore(&mut self.hosts[hi], snapshot);
        for (j, before) in std::mem::take(&mut cx.touched) {
            restore(&mut self.hosts[j], before);
        }
        for (pi, before) in std::mem::take(&mut cx.pools_before) {
            if let Some(p) = self.pools.get_mut(pi) {
                *p = before;
            }
        }
    }

    /// The unavailability intervals a command added to other hosts (a database update), cut
    /// at `cut`: a database update abandoned by its caller still kept the databases busy
    /// until then, though it changed nothing else.
    fn busy_added(&self, cx: &Cx, cut: Ms) -> Vec<(usize, (Ms, Ms))> {
        let mut out = Vec::new();
        for (j, before) in &cx.touched {
            let Some(now) = self.hosts.get(*j) else { continue };
            for &(s, e) in now.busy_intervals.iter().skip(before.busy_intervals.len()) {
                if s < cut {
                    out.push((*j, (s, e.min(cut))));
                }
            }
        }
        out
    }

    fn keep_busy(&mut self, busy: Vec<(usize, (Ms, Ms))>) {
        for (j, interval) in busy {
            if let Some(h) = self.hosts.get_mut(j) {
                h.busy_intervals.push(interval);
            }
        }
    }

    /// After a command that changed something: the pools of the hosts it changed are
    /// re-evaluated (quorum, rule 7) and every server newer than its databases is recorded
    /// (rule 6).
    fn after_command(&mut self, hi: usize, cx: &Cx, end: Ms) {
        let mut hosts: Vec<usize> = vec![hi];
        hosts.extend(cx.touched.iter().map(|(j, _)| *j));
        self.tick_pools_of(&hosts, end);
        self.record_schema_lag(&hosts, end);
    }
}

/// The machines a script names as the target of its commands (`-SqlServerFqdn`,
/// `-ComputerName`, `-PoolFqdn`): a fault set on one of them fires for a step run from
/// another host (the database step of a back end runs on a Front End).
fn targets_of(script: &str) -> Vec<String> {
    let Ok(statements) = syntax::parse(script) else { return Vec::new() };
    let mut out = Vec::new();
    for st in &statements {
        let Statement::Command(c) = st else { continue };
        let mut it = c.elements.iter();
        while let Some(e) = it.next() {
            if let Element::Parameter(p) = e
                && ["sqlserverfqdn", "computername", "poolfqdn"].contains(&p.to_ascii_lowercase().as_str())
                && let Some(Element::Literal(v) | Element::Bare(v)) = it.next()
            {
                out.push(v.to_ascii_lowercase());
            }
        }
    }
    out
}

/// A new open session on a host, without the module loaded: its id.
fn new_session(h: &mut Host) -> u64 {
    let id = h.next_session;
    h.next_session += 1;
    h.sessions.push(Session { id, open: true, module_generation: None, process: None });
    id
}

/// What a caller gets for a host the estate does not have.
fn no_host(host: &str, at: Ms) -> Execution {
    Execution {
        status: ExecStatus::Unreachable,
        exit_code: -1,
        stdout: String::new(),
        stderr: format!("no host {host}"),
        start_ms: at,
        end_ms: at,
    }
}

/// Whether two snapshots of a host differ in anything a command can change.
fn same_state(a: &Host, b: &Host) -> bool {
    a.services == b.services
        && a.components == b.components
        && a.databases == b.databases
        && a.files == b.files
        && a.pending_reboot == b.pending_reboot
        && a.unreachable_until == b.unreachable_until
        && a.failed_over == b.failed_over
        && a.background == b.background
}

fn close_temp(h: &mut Host, session: u64, temporary: bool) {
    if let (true, Some(s)) = (temporary, h.sessions.iter_mut().find(|s| s.id == session)) {
        s.open = false;
    }
}

/// Puts a host back as it was before a command that was not applied, keeping what moves on
/// regardless: its random generator and its operation log.
fn restore(h: &mut Host, snapshot: Host) {
    let rng = h.rng.clone();
    let oplog = std::mem::take(&mut h.oplog);
    *h = snapshot;
    h.rng = rng;
    h.oplog = oplog;
}

/// A command (or transport action) sent to a host, before it ends.
struct Op {
    step: Option<StepId>,
    command: String,
    start: Ms,
}

/// How a command ended, as the operation log records it and the caller sees it.
struct Entry {
    op: Op,
    end: Ms,
    status: ExecStatus,
    exit_code: i32,
    applied: bool,
    stdout: String,
    stderr: String,
}

impl Op {
    /// Ended at `end` with `status`: no exit code, no output, nothing applied (the fields a
    /// caller then sets say otherwise).
    fn ended(self, end: Ms, status: ExecStatus) -> Entry {
        Entry { op: self, end, status, exit_code: -1, applied: false, stdout: String::new(), stderr: String::new() }
    }

    /// A command that did not complete (no answer, a dropped session, a silent host).
    fn cut_short(self, end: Ms, status: ExecStatus, why: impl Into<String>) -> Entry {
        Entry { stderr: why.into(), ..self.ended(end, status) }
    }

    /// A command that completed with exit code 1 and changed nothing.
    fn refused(self, end: Ms, why: String) -> Entry {
        Entry { exit_code: 1, stderr: why, ..self.ended(end, ExecStatus::Completed) }
    }
}

/// Appends an entry to the host's operation log and moves its clock: what the caller sees.
fn record(h: &mut Host, e: Entry) -> Execution {
    h.clock_ms = h.clock_ms.max(e.end);
    let seq = h.oplog.len() as u64 + 1;
    h.oplog.push(OpRecord {
        seq,
        step: e.op.step.map(|s| s.as_str().to_owned()),
        command: e.op.command,
        start_ms: e.op.start,
        end_ms: e.end,
        exit_code: e.exit_code,
        status: e.status.as_str().to_owned(),
        applied: e.applied,
    });
    Execution {
        status: e.status,
        exit_code: e.exit_code,
        stdout: e.stdout,
        stderr: e.stderr,
        start_ms: e.op.start,
        end_ms: e.end,
    }
}

/// The names of every Skype for Business cmdlet the simulator knows (tests check that none
/// runs on a machine without Skype for Business).
pub fn sfb_cmdlets() -> Vec<&'static str> {
    crate::cmdlets::sfb_names()
}

/// The build a file installs, for building [`SimFile`]s in tests and rehearsals.
pub fn package(sha256: &str, installs: Build) -> SimFile {
    SimFile { sha256: sha256.to_owned(), installs: Some(installs), intact: true, content: None }
}

//! Scheduling: one lane per exclusive group (a pool, merged with the pool paired with it as
//! its backup: `sfbpatch_core::waves`), so servers of one pool, or of two paired pools, never
//! run together; each lane in the plan's wave order; every lane at once up to
//! `--max-parallel`; a server waits for its `after` servers; a failure stopping the rest of its
//! pool; the gates before each new server (`--window-end`, `--max-failures`); and the run's end.

use futures::StreamExt as _;
use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::{Plan, ServerPlan};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::vocab::{RunState, ServerResult};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use crate::attempt::run_step;
use crate::context::Ctx;
use crate::event::{Event, EventSink, StepOutcome};
use crate::options::{FailureBudget, ResumeState, RunOptions};
use crate::procedure::run_server;
use crate::recovery::end_server;
use crate::transport::Transport;

/// One server's end.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSummary {
    /// The server.
    pub fqdn: Fqdn,
    /// How it ended.
    pub result: ServerResult,
    /// Why.
    pub error: Option<String>,
    /// Commands to bring service back, if it is down.
    pub recovery: Vec<String>,
}

/// The whole run's end.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// How it ended.
    pub state: RunState,
    /// Per server, in plan order.
    pub servers: Vec<ServerSummary>,
    /// The gates that kept servers from starting (the window's end, the failure budget), in
    /// the order they closed: a run stopped by its window is resumed with a new one.
    pub gates: Vec<Gate>,
}

/// How the servers that finished ended, for those that wait for them.
#[derive(Default)]
struct Finished {
    results: std::sync::Mutex<std::collections::BTreeMap<Fqdn, ServerResult>>,
    changed: tokio::sync::Notify,
}

impl Finished {
    fn record(&self, server: &Fqdn, result: ServerResult) {
        if let Ok(mut r) = self.results.lock() {
            r.insert(server.clone(), result);
        }
        self.changed.notify_waiters();
    }

    /// Whether `after` is not empty and every one of its servers ended `already-current`.
    fn all_already_current(&self, after: &[Fqdn]) -> bool {
        let Ok(r) = self.results.lock() else { return false };
        !after.is_empty() && after.iter().all(|s| r.get(s) == Some(&ServerResult::AlreadyCurrent))
    }

    /// Waits until every server of `after` has finished; returns those that did not update.
    async fn wait_for(&self, after: &[Fqdn]) -> Vec<Fqdn> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let Ok(r) = self.results.lock() else { return after.to_vec() };
                if after.iter().all(|s| r.contains_key(s)) {
                    return after.iter().filter(|s| !r.get(*s).is_some_and(|x| x.is_done())).cloned().collect();
                }
            }
            notified.await;
        }
    }
}

/// A server refused before the run, and why.
struct Refusal {
    server: Fqdn,
    /// `NotStarted` (its rights) or `Failed` (its preflight `Test-CsDatabase` failed).
    result: ServerResult,
    why: String,
}

/// Before anything changes: the rights of every session that will run a step
/// ([`crate::rights`]: elevation, local administrator, RTCUniversalServerAdmins); then
/// `Test-CsDatabase` on every SQL Server whose databases this run updates, from the Front End
/// that will update them (issue 10: what needs updating, and a mirrored back end refused
/// before its pool is touched rather than halfway); then the account's sysadmin rights on
/// each SQL Server instance a database update touches. From a host whose logon has no network
/// credentials nothing can be asked of a remote SQL Server (the double hop): those servers
/// are refused by their own procedure. Servers a run already touched (a resume) are not
/// checked again. Returns the refused servers and why.
async fn preflight<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    plan: &Plan,
    resume: Option<&ResumeState>,
) -> Vec<Refusal> {
    let fresh = |sp: &ServerPlan| {
        let prior = resume.and_then(|r| r.servers.get(sp.fqdn.as_str()));
        !prior.is_some_and(|p| p.finished.is_some_and(ServerResult::is_done) || !p.completed.is_empty())
    };
    let mut refused: Vec<Refusal> = crate::rights::check_tokens(cx, plan, &fresh)
        .await
        .into_iter()
        .map(|(server, why)| Refusal { server, result: ServerResult::NotStarted, why })
        .collect();
    let is_refused = |r: &[Refusal], sp: &ServerPlan| r.iter().any(|x| x.server == sp.fqdn);
    for sp in plan.servers.iter().filter(|sp| sp.runbook == Runbook::BackendDatabases) {
        let from = sp.steps.iter().find(|st| st.id == StepId::TestDatabases).map(|st| sp.host_of(st));
        if from.is_some_and(|h| !cx.transport.network_credentials(h)) {
            continue;
        }
        if !fresh(sp) || is_refused(&refused, sp) || cx.halted() || from.is_none() {
            continue;
        }
        let mut session = None;
        if let StepOutcome::Failed { reason } = run_step(cx, sp, StepId::TestDatabases, None, &mut session).await {
            refused.push(Refusal { server: sp.fqdn.clone(), result: ServerResult::Failed, why: reason });
        }
    }
    for sp in plan.servers.iter().filter(|sp| sp.sql_server_fqdn.is_some()) {
        if !fresh(sp) || is_refused(&refused, sp) || cx.halted() {
            continue;
        }
        if let Some(why) = crate::rights::check_sql(cx, sp).await {
            refused.push(Refusal { server: sp.fqdn.clone(), result: ServerResult::NotStarted, why });
        }
    }
    refused
}

/// How a server stands to a refused one.
enum Tie {
    /// It is the refused server.
    Itself,
    /// The refused server waits for it (a back end for its pools' Front Ends): updating it
    /// alone would leave it ahead of databases that cannot be updated.
    WaitedFor,
    /// Another server of its pool was refused: no server of the pool starts (a pool left
    /// half updated; never for a server a run already touched).
    PoolMate,
}

/// The refusal that keeps `sp` from starting, if any, and how.
fn refused_for<'a>(plan: &Plan, refused: &'a [Refusal], sp: &ServerPlan, fresh: bool) -> Option<(&'a Refusal, Tie)> {
    let waits = |r: &Refusal| plan.servers.iter().any(|b| b.fqdn == r.server && b.after.contains(&sp.fqdn));
    let pool_of = |f: &Fqdn| plan.servers.iter().find(|b| &b.fqdn == f).and_then(|b| b.pool.clone());
    refused
        .iter()
        .find(|r| r.server == sp.fqdn)
        .map(|r| (r, Tie::Itself))
        .or_else(|| refused.iter().find(|r| waits(r)).map(|r| (r, Tie::WaitedFor)))
        .or_else(|| {
            let pool = sp.pool.as_ref().filter(|_| fresh)?;
            refused.iter().find(|r| pool_of(&r.server).as_ref() == Some(pool)).map(|r| (r, Tie::PoolMate))
        })
}

/// The plan's servers grouped in lanes, one per exclusive group (a pool and the pool paired
/// with it; a server without a pool is a lane of its own), each lane in wave order (plan order
/// for equal waves, and for plans stored before waves, whose waves are all 0), lanes in order
/// of first appearance: indexes into `plan.servers`. A lane runs one server at a time.
///
/// No two lanes can wait for each other: a server's `after` servers have smaller waves, and a
/// lane's servers run in increasing waves, so every wait points to a smaller wave.
pub fn lanes(plan: &Plan) -> Vec<Vec<usize>> {
    let groups = sfbpatch_core::waves::groups(&sfbpatch_core::waves::entries(plan), &plan.pairs);
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        if g == lanes.len() {
            lanes.push(Vec::new());
        }
        if let Some(lane) = lanes.get_mut(g) {
            lane.push(i);
        }
    }
    for lane in &mut lanes {
        lane.sort_by_key(|&i| (plan.servers[i].wave, i));
    }
    lanes
}

/// Why a new server may not start now, if it may not: the maintenance window has ended, or
/// the failures exceed the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// `--window-end` has passed.
    WindowEnded,
    /// More servers failed than `--max-failures` allows.
    FailureBudget,
}

/// Whether a new server may start at `now_ms` (pure): `None`, or why not.
pub fn gate(
    now_ms: u64,
    window_end_ms: Option<u64>,
    budget: Option<FailureBudget>,
    failures: usize,
    servers: usize,
) -> Option<Gate> {
    if window_end_ms.is_some_and(|end| now_ms >= end) {
        Some(Gate::WindowEnded)
    } else if budget.is_some_and(|b| b.exceeded(failures, servers)) {
        Some(Gate::FailureBudget)
    } else {
        None
    }
}

/// Whether `sp` is the finishing work of a pool: a back end's database entry
/// (`Runbook::BackendDatabases`: an Enterprise back end's, a SQL Server of other stores', the
/// Persistent Chat store's) with servers it comes `after`. It is gated only once those have
/// finished: when this run (this night or an earlier one) updated them all, it starts
/// whatever the window or the failure budget say; otherwise it does not start at all (it
/// waits for every one of them: DOMAIN.md §1a, the databases are updated from a server that
/// already carries the update, after the pool's Front Ends).
///
/// Why past the window: Front Ends at a newer build than their databases keep running, and
/// nothing tells anyone (DOMAIN.md §4 rule 6, §1a "a forgotten database update is silent");
/// a window that closes between a pool's last Front End and its databases would leave exactly
/// that until the next night. The step is minutes (DOMAIN.md §4 rule 9), so the window stops
/// new *servers* — Front Ends, SE, and every role's servers — and lets a pool's databases
/// follow the Front Ends this run already updated.
///
/// Why past the failure budget: the budget stops the update from spreading to more servers
/// after failures elsewhere. The database update installs nothing on a new machine: it brings
/// the databases to the build their Front Ends already run, and leaving it undone keeps the
/// pool half done (Front Ends ahead of their databases) for failures that are not its own.
/// A failure in its own pool still stops it (its `after` servers did not all update).
fn finishing_work(sp: &ServerPlan) -> bool {
    sp.runbook == Runbook::BackendDatabases && !sp.after.is_empty()
}

/// The run's gates before each new server, shared by the lanes.
struct Gates {
    window_end_ms: Option<u64>,
    failures: AtomicUsize,
    said_window: AtomicBool,
    said_budget: AtomicBool,
    /// The gates that closed, in order.
    closed: std::sync::Mutex<Vec<Gate>>,
}

impl Gates {
    /// `None` if a new server may start now; else the reason for it, after saying once for
    /// the whole run why no new server starts.
    fn check<T: Transport, S: EventSink>(&self, cx: &Ctx<'_, T, S>, server: &Fqdn) -> Option<String> {
        let failures = self.failures.load(Ordering::SeqCst);
        let budget = cx.opts.max_failures;
        let why = gate(cx.now(), self.window_end_ms, budget, failures, cx.plan.servers.len())?;
        let label = cx.opts.window.as_ref().map(|w| w.label.clone()).unwrap_or_default();
        let (said, run_key, server_key, args) = match why {
            Gate::WindowEnded => (&self.said_window, "window-ended", "window-not-started", vec![("end", label)]),
            Gate::FailureBudget => (
                &self.said_budget,
                "failure-budget-spent",
                "failure-budget-not-started",
                vec![("failures", failures.to_string()), ("budget", budget.map(|b| b.to_string()).unwrap_or_default())],
            ),
        };
        if !said.swap(true, Ordering::SeqCst) {
            if let Ok(mut c) = self.closed.lock() {
                c.push(why);
            }
            cx.emit(Event::Warning { server: None, at_ms: cx.now(), message: cx.say(run_key, &args) });
        }
        let mut args = args;
        args.push(("server", server.to_string()));
        Some(cx.say(server_key, &args))
    }

    fn record(&self, result: ServerResult) {
        if result == ServerResult::Failed {
            self.failures.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Announces each `--warn-before` mark before the window's end, on the transport's clock;
/// never returns (it is raced against the lanes).
async fn window_marks<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, start_ms: u64) {
    if let Some(w) = &cx.opts.window {
        for (mark, at) in w.mark_times(start_ms, &cx.opts.warn_before_budget) {
            let now = cx.now();
            if at > now {
                tokio::time::sleep(cx.transport.real(Duration::from_millis(at - now))).await;
            }
            let args = [("mark", mark.to_string()), ("end", w.label.clone())];
            cx.emit(Event::Warning { server: None, at_ms: cx.now(), message: cx.say("window-mark", &args) });
        }
    }
    std::future::pending::<()>().await;
}

/// How the run ended, from how its servers did and whether it was halted.
pub fn run_state(results: &[ServerResult], halted: bool) -> RunState {
    if results.iter().all(|r| r.is_done()) {
        RunState::Completed
    } else if halted || results.contains(&ServerResult::Interrupted) {
        RunState::Interrupted
    } else {
        RunState::Failed
    }
}

/// Runs `plan` through `transport`, handing every event to `sink`. `stop` set to true asks
/// for a clean interruption: the current steps finish, no new step starts.
pub async fn run<T: Transport, S: EventSink>(
    plan: &Plan,
    transport: &T,
    sink: &S,
    opts: &RunOptions,
    resume: Option<&ResumeState>,
    stop: watch::Receiver<bool>,
) -> RunSummary {
    let cx = Ctx::new(plan, transport, sink, opts, stop);
    cx.emit(Event::RunStarted { at_ms: cx.now(), servers: plan.servers.iter().map(|s| s.fqdn.clone()).collect() });
    // A transport that executes on one of the servers may only patch that one.
    // A transport that executes on one of the servers may only patch that one, and only steps
    // meant to run there (a back end's database steps run on a named Front End).
    let hosts: Vec<&Fqdn> = plan.servers.iter().flat_map(|s| s.steps.iter().map(|st| s.host_of(st))).collect();
    if let Some(local) = transport.executes_on()
        && hosts.iter().any(|h| **h != local)
    {
        let msg = cx.say("local-transport", &[("server", local.to_string())]);
        cx.warn(&local, msg.clone());
        let servers: Vec<ServerSummary> = plan
            .servers
            .iter()
            .map(|s| end_server(&cx, &s.fqdn, ServerResult::NotStarted, Some(msg.clone()), Vec::new()))
            .collect();
        cx.emit(Event::RunFinished { at_ms: cx.now(), state: RunState::Failed });
        return RunSummary { state: RunState::Failed, servers, gates: Vec::new() };
    }
    let start_ms = cx.now();
    let window_end_ms = opts.window.as_ref().map(|w| w.end_ms(start_ms));
    // A window already over: nothing is asked of any server, not even the preflight's reads.
    let lanes = lanes(plan);
    let parallel = opts.max_parallel.unwrap_or(lanes.len()).max(1);
    let refused = if window_end_ms.is_some_and(|end| start_ms >= end) {
        Vec::new()
    } else {
        // The installer's shell of each server that starts first is started alongside the
        // preflight (`crate::spare`): its start then ends long before the server's outage
        // opens. The others start theirs in their procedure, once the host has answered.
        let first = lanes.iter().filter_map(|l| l.first()).take(parallel).map(|&i| &plan.servers[i]);
        let spares = futures::stream::iter(first).for_each_concurrent(crate::spare::AT_ONCE, |sp| {
            cx.prestart(sp, resume.and_then(|r| r.servers.get(sp.fqdn.as_str())))
        });
        // The run never waits for them: those still starting when the preflight ends are
        // given up (a host that stalls), and their procedures start them again.
        let pre = preflight(&cx, plan, resume);
        tokio::pin!(pre, spares);
        let refused = tokio::select! {
            biased;
            refused = &mut pre => refused,
            () = &mut spares => pre.await,
        };
        // A server the preflight keeps from starting (refused, or waiting on or pooled with a
        // refused one) installs nothing in this run: its spare is ended now, not left idle to
        // the end of the run.
        for sp in &plan.servers {
            let prior = resume.and_then(|r| r.servers.get(sp.fqdn.as_str()));
            let fresh = prior.is_none_or(|p| p.completed.is_empty() && p.in_flight.is_none());
            if refused_for(plan, &refused, sp, fresh).is_some() {
                cx.close_spare(&sp.fqdn).await;
            }
        }
        refused
    };
    let semaphore = Semaphore::new(parallel);
    let finished = Finished::default();
    let gates = Gates {
        window_end_ms,
        failures: AtomicUsize::new(0),
        said_window: AtomicBool::new(false),
        said_budget: AtomicBool::new(false),
        closed: std::sync::Mutex::new(Vec::new()),
    };
    for r in &refused {
        gates.record(r.result);
    }
    let refused = &refused;
    let (cx, sem, finished, gates) = (&cx, &semaphore, &finished, &gates);
    let lane_futures = lanes.iter().map(|servers| async move {
        let mut out = Vec::new();
        // A failure stops the rest of its pool (not the paired pool sharing its lane).
        let mut stopped_pools: Vec<&Fqdn> = Vec::new();
        for &i in servers {
            let sp = &plan.servers[i];
            let pool_key = sp.pool.as_ref().unwrap_or(&sp.fqdn);
            let stop_lane = stopped_pools.contains(&pool_key);
            let prior = resume.and_then(|r| r.servers.get(sp.fqdn.as_str()));
            // A server this run's journal shows touched is finished, whatever the gates say.
            let fresh = prior.is_none_or(|p| p.completed.is_empty() && p.in_flight.is_none());
            // A database entry is gated once its `after` servers have finished (`finishing`).
            let finishing = finishing_work(sp);
            let summary = if let Some(done) = prior.and_then(|p| p.finished).filter(|r| r.is_done()) {
                ServerSummary { fqdn: sp.fqdn.clone(), result: done, error: None, recovery: Vec::new() }
            } else if let Some((r, tie)) = (!cx.halted()).then(|| refused_for(plan, refused, sp, fresh)).flatten() {
                // Refused before the run: neither it, nor the servers it waits for (a SQL
                // Server's databases that cannot be updated as planned), nor the rest of its
                // pool are touched. Each says why, also after its lane has stopped.
                let args = |k: &'static str| [(k, r.server.to_string()), ("why", r.why.clone())];
                let (result, why) = match tie {
                    Tie::Itself => (r.result, r.why.clone()),
                    Tie::WaitedFor => (ServerResult::NotStarted, cx.say("backend-refused", &args("sql"))),
                    Tie::PoolMate => (ServerResult::NotStarted, cx.say("pool-refused", &args("server"))),
                };
                end_server(cx, &sp.fqdn, result, Some(why), Vec::new())
            } else if let Some(why) = (fresh && !finishing && !cx.halted()).then(|| gates.check(cx, &sp.fqdn)).flatten()
            {
                end_server(cx, &sp.fqdn, ServerResult::NotStarted, Some(why), Vec::new())
            } else if stop_lane || cx.halted() {
                let result = if cx.halted() { ServerResult::Interrupted } else { ServerResult::NotStarted };
                // A database entry left behind by its pool says why when a gate is closed.
                let why = (fresh && finishing && !cx.halted()).then(|| gates.check(cx, &sp.fqdn)).flatten();
                end_server(cx, &sp.fqdn, result, why, Vec::new())
            } else {
                // Servers that must be updated first (a back end's Front Ends) are waited for
                // before a permit is taken, so that waiting never holds one.
                let not_updated = finished.wait_for(&sp.after).await;
                if not_updated.is_empty() {
                    match sem.acquire().await {
                        // The gates again, at the moment it would start; not for a pool's
                        // database entry whose Front Ends this run updated (`finishing_work`).
                        Ok(_permit) => match (fresh && !finishing).then(|| gates.check(cx, &sp.fqdn)).flatten() {
                            Some(why) => end_server(cx, &sp.fqdn, ServerResult::NotStarted, Some(why), Vec::new()),
                            None => {
                                let after_current = finished.all_already_current(&sp.after);
                                match crate::procedure::already_current(cx, sp, prior, after_current).await {
                                    Some(s) => s,
                                    None => run_server(cx, sp, prior).await,
                                }
                            }
                        },
                        Err(_) => end_server(cx, &sp.fqdn, ServerResult::Interrupted, None, Vec::new()),
                    }
                } else {
                    // A database entry whose servers a closed gate kept from starting says so
                    // (as every other server it stopped does); else which servers it waited for.
                    let gated = (fresh && finishing && not_updated.len() == sp.after.len())
                        .then(|| gates.check(cx, &sp.fqdn))
                        .flatten();
                    let names: Vec<String> = not_updated.iter().map(ToString::to_string).collect();
                    let why = gated.unwrap_or_else(|| cx.say("waits-for", &[("servers", names.join(", "))]));
                    end_server(cx, &sp.fqdn, ServerResult::NotStarted, Some(why), Vec::new())
                }
            };
            if !summary.result.is_done() {
                stopped_pools.push(pool_key);
            }
            // Refusals were counted before the lanes began.
            if !refused.iter().any(|r| r.server == sp.fqdn) {
                gates.record(summary.result);
            }
            finished.record(&summary.fqdn, summary.result);
            out.push((i, summary));
        }
        out
    });
    let all_lanes = futures::future::join_all(lane_futures);
    let marks = window_marks(cx, start_ms);
    tokio::pin!(marks);
    let lanes_done = tokio::select! {
        done = all_lanes => done,
        () = &mut marks => Vec::new(),
    };
    let mut results: Vec<(usize, ServerSummary)> = lanes_done.into_iter().flatten().collect();
    results.sort_by_key(|(i, _)| *i);
    let servers: Vec<ServerSummary> = results.into_iter().map(|(_, s)| s).collect();
    let state = run_state(&servers.iter().map(|s| s.result).collect::<Vec<_>>(), cx.halted());
    // Spares of servers that never started (refused, gated, stopped) end with the run.
    cx.close_spares().await;
    cx.emit(Event::RunFinished { at_ms: cx.now(), state });
    let gates = gates.closed.lock().map(|c| c.clone()).unwrap_or_default();
    RunSummary { state, servers, gates }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_ends_as_its_servers_did() {
        use ServerResult::*;
        let cases: [(&[ServerResult], bool, RunState); 6] = [
            (&[Updated, Updated], false, RunState::Completed),
            (&[], false, RunState::Completed),
            (&[Updated, Failed], false, RunState::Failed),
            (&[Updated, NotStarted], false, RunState::Failed),
            (&[Failed, Interrupted], false, RunState::Interrupted),
            (&[Updated, Failed], true, RunState::Interrupted),
        ];
        for (results, halted, want) in cases {
            assert_eq!(run_state(results, halted), want, "{results:?} halted {halted}");
        }
    }

    #[test]
    fn servers_of_one_pool_share_a_lane() {
        use sfbpatch_core::{example, plan, topology};
        let topology =
            topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let plan = plan::plan(&topology, &plan::PlanRequest::new("SkypeServerUpdateInstaller.exe"))
            .unwrap_or_else(|e| panic!("{e}"));
        let lanes = lanes(&plan);
        let flat: Vec<usize> = lanes.iter().flatten().copied().collect();
        assert_eq!(flat.len(), plan.servers.len(), "every server in exactly one lane");
        for lane in &lanes {
            let key = |i: usize| plan.servers[i].pool.clone().unwrap_or_else(|| plan.servers[i].fqdn.clone());
            assert!(lane.iter().all(|&i| key(i) == key(lane[0])), "one pool per lane");
            assert!(lane.windows(2).all(|w| w[0] < w[1]), "plan order inside a lane");
        }
        assert!(lanes.len() >= 3, "the example estate has several pools: {lanes:?}");
    }

    #[test]
    fn paired_pools_share_a_lane_in_wave_order() {
        use sfbpatch_core::{example, plan, topology};
        let topology =
            topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut plan = plan::plan(&topology, &plan::PlanRequest::new("SkypeServerUpdateInstaller.exe"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut pools: Vec<Fqdn> = plan.servers.iter().filter_map(|s| s.pool.clone()).collect();
        pools.dedup();
        let (a, b) = (pools[0].clone(), pools[1].clone());
        let before = lanes(&plan).len();
        plan.pairs = vec![[a.clone(), b.clone()]];
        let lanes = lanes(&plan);
        assert_eq!(lanes.len(), before - 1, "two pools paired: one lane fewer");
        let of = |p: &Fqdn| lanes.iter().position(|l| l.iter().any(|&i| plan.servers[i].pool.as_ref() == Some(p)));
        assert_eq!(of(&a), of(&b), "paired pools in one lane");
        for lane in &lanes {
            assert!(lane.windows(2).all(|w| plan.servers[w[0]].wave <= plan.servers[w[1]].wave), "wave order");
        }
    }

    #[test]
    fn a_new_server_starts_only_inside_the_window_and_the_failure_budget() {
        use FailureBudget::{Count, Percent};
        /// (now, window end, budget, failures, servers, gate)
        type Case = (u64, Option<u64>, Option<FailureBudget>, usize, usize, Option<Gate>);
        let cases: [Case; 9] = [
            (0, None, None, 5, 10, None),
            (999, Some(1_000), None, 0, 10, None),
            (1_000, Some(1_000), None, 0, 10, Some(Gate::WindowEnded)),
            (5_000, Some(1_000), Some(Count(0)), 3, 10, Some(Gate::WindowEnded)),
            (0, None, Some(Count(0)), 0, 10, None),
            (0, None, Some(Count(0)), 1, 10, Some(Gate::FailureBudget)),
            (0, None, Some(Count(2)), 2, 10, None),
            (0, None, Some(Percent(25.0)), 2, 8, None),
            (0, Some(10), Some(Percent(25.0)), 3, 8, Some(Gate::FailureBudget)),
        ];
        for (now, end, budget, failures, servers, want) in cases {
            assert_eq!(
                gate(now, end, budget, failures, servers),
                want,
                "{now} {end:?} {budget:?} {failures}/{servers}"
            );
        }
    }
}

//! The engine's scheduling rules of issue 12, rehearsed on the example estate: paired pools
//! never run at once, the maintenance window and the failure budget stop new servers (those
//! running finish), each not-started server says why.

mod common;

use common::{example, make_plan, opts};
use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::Activity;
use sfbpatch_core::vocab::ServerResult as Result_;
use sfbpatch_engine::options::{FailureBudget, Window};
use sfbpatch_sim::rehearse::{Rehearsal, ServerResult, rehearse};

/// A server's span: its first step's start to its last step's end, in minutes; the
/// preflight's read-only `test-databases` of a back end, run before any server starts, aside.
fn span(s: &ServerResult) -> Option<(f64, f64)> {
    let steps = s.timeline.iter().filter(|t| t.step != Activity::Step(StepId::TestDatabases));
    let start = steps.clone().map(|t| t.start_minutes).fold(f64::INFINITY, f64::min);
    let end = steps.map(|t| t.start_minutes + t.duration_minutes).fold(0.0, f64::max);
    start.is_finite().then_some((start, end))
}

fn overlaps(r: &Rehearsal, a: &Fqdn, b: &Fqdn) -> bool {
    let of = |p: &Fqdn| r.servers.iter().filter(|s| s.pool.as_ref() == Some(p)).filter_map(span).collect::<Vec<_>>();
    let (xs, ys) = (of(a), of(b));
    assert!(!xs.is_empty() && !ys.is_empty(), "both pools ran");
    xs.iter().any(|x| ys.iter().any(|y| x.0 < y.1 && y.0 < x.1))
}

#[test]
fn paired_pools_never_run_at_once() {
    let mut plan = make_plan(&[]);
    let mut pools: Vec<Fqdn> = plan.servers.iter().filter_map(|s| s.pool.clone()).collect();
    pools.dedup();
    let (a, b) = (pools[0].clone(), pools[1].clone());
    let (free, _) = rehearse(&example(), &plan, &opts(1, &[]));
    assert!(overlaps(&free, &a, &b), "unpaired, {a} and {b} run side by side (else this test proves nothing)");
    plan.pairs = vec![[a.clone(), b.clone()]];
    let (paired, _) = rehearse(&example(), &plan, &opts(1, &[]));
    assert!(paired.servers.iter().all(|s| s.result == Result_::Updated), "{:?}", paired.servers);
    assert!(!overlaps(&paired, &a, &b), "paired, {a} and {b} never at once");
}

#[test]
fn past_the_failure_budget_no_new_server_starts() {
    let plan = make_plan(&[]);
    let first = plan.servers.iter().find(|s| s.wave == 1).map(|s| s.fqdn.to_string()).unwrap_or_default();
    let mut o = opts(1, &[&format!("{first}:install-update:fail")]);
    o.run.max_failures = Some(FailureBudget::Count(0));
    let (r, _) = rehearse(&example(), &plan, &o);
    let failed: Vec<&ServerResult> = r.servers.iter().filter(|s| s.result == Result_::Failed).collect();
    assert_eq!(failed.len(), 1, "{:?}", r.servers.iter().map(|s| (&s.fqdn, s.result)).collect::<Vec<_>>());
    let failed_at = span(failed[0]).map_or(0.0, |s| s.1);
    let budget_stopped: Vec<&ServerResult> =
        r.servers.iter().filter(|s| s.error.as_deref().is_some_and(|e| e.contains("--max-failures 0"))).collect();
    assert!(!budget_stopped.is_empty(), "servers not started for the budget");
    for s in &budget_stopped {
        assert_eq!(s.result, Result_::NotStarted, "{}", s.fqdn);
        assert!(span(s).is_none(), "{} never started", s.fqdn);
    }
    // Those that started before the failure finished, updated.
    for s in r.servers.iter().filter(|s| s.result == Result_::Updated) {
        assert!(span(s).is_some_and(|(start, _)| start < failed_at), "{} started before the failure", s.fqdn);
    }
    assert!(r.servers.iter().any(|s| s.result == Result_::Updated), "in-flight servers finished");
}

#[test]
fn a_window_that_ends_mid_run_starts_nothing_after_it() {
    let plan = make_plan(&[]);
    let (full, _) = rehearse(&example(), &plan, &opts(1, &[]));
    let starts: Vec<f64> = full.servers.iter().filter_map(span).map(|s| s.0).collect();
    let mut sorted = starts.clone();
    sorted.sort_by(f64::total_cmp);
    // A window ending just after the first later start: some servers started, some not.
    let cut = sorted.iter().copied().find(|&s| s > 0.0).unwrap_or(1.0) + 0.5;
    let mut o = opts(1, &[]);
    o.run.window = Some(Window { remaining_ms: (cut * 60_000.0) as i64, label: "end".into() });
    let (r, _) = rehearse(&example(), &plan, &o);
    let mut stopped = 0;
    for s in &r.servers {
        match span(s) {
            Some((start, _)) => {
                assert!(start <= cut, "{} started at {start} after the window ({cut})", s.fqdn);
                assert_eq!(s.result, Result_::Updated, "{} finished safely", s.fqdn);
            }
            None => {
                stopped += 1;
                assert_eq!(s.result, Result_::NotStarted);
                assert_eq!(s.error.as_deref(), Some("not started: the maintenance window ended (end)"), "{}", s.fqdn);
            }
        }
    }
    assert!(stopped > 0 && stopped < r.servers.len(), "{stopped} of {}", r.servers.len());
}

#[test]
fn a_window_already_ended_starts_nothing() {
    let mut o = opts(1, &[]);
    o.run.window = Some(Window { remaining_ms: -60_000, label: "end".into() });
    let (r, _) = rehearse(&example(), &make_plan(&[]), &o);
    assert!(r.servers.iter().all(|s| s.result == Result_::NotStarted && s.timeline.is_empty()), "{:?}", r.servers);
}

/// The run-level warnings (no server) of a rehearsal: (minute, sentence).
fn run_warnings(plan: &sfbpatch_core::plan::Plan, o: &sfbpatch_sim::rehearse::RehearseOptions) -> Vec<(f64, String)> {
    use sfbpatch_engine::event::{Event, Recorder};
    let recorder = Recorder::default();
    let _ = sfbpatch_sim::rehearse::rehearse_into(&example(), plan, o, Some(&recorder));
    recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Warning { server: None, at_ms, message } => Some((at_ms as f64 / 60_000.0, message)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_window_is_announced_before_its_end_and_once_when_it_closes() {
    let plan = make_plan(&[]);
    let mut o = opts(1, &[]);
    o.run.warn_before_budget = vec![10.0, 5.0];
    o.run.window = Some(Window { remaining_ms: 30 * 60_000, label: "06:00Z".into() });
    let w = run_warnings(&plan, &o);
    let texts: Vec<&str> = w.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "10 min to the end of the maintenance window (06:00Z): after it no new server starts",
            "5 min to the end of the maintenance window (06:00Z): after it no new server starts",
            "the maintenance window ended (06:00Z): no new server starts; the servers already running finish",
        ],
        "{w:?}"
    );
    assert!((w[0].0 - 20.0).abs() < 0.01 && (w[1].0 - 25.0).abs() < 0.01, "marks at 20 and 25 min: {w:?}");
    assert!(w[2].0 >= 30.0, "the window's end said when a server was refused, after it: {w:?}");
}

#[test]
fn the_failure_budget_is_said_once_for_the_run() {
    let plan = make_plan(&[]);
    let mut o = opts(1, &["fe01.contoso.local:install-update:fail"]);
    o.run.max_failures = Some(FailureBudget::Percent(10.0));
    let w = run_warnings(&plan, &o);
    assert_eq!(
        w.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        [
            "1 server(s) failed, more than --max-failures 10% allows: no new server starts; the servers already running finish"
        ],
        "one failure of 8 servers is over 10%: {w:?}"
    );
}

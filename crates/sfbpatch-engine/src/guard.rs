//! The outage guard: whether an outage may open (its projection against the budget), and the
//! marks before the budget announced while it is open. The decisions are pure functions;
//! [`marks`] is the timer that runs alongside each step inside the outage.

use std::collections::BTreeMap;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::ServerPlan;
use sfbpatch_core::runbook::StepId;

use crate::context::Ctx;
use crate::event::EventSink;
use crate::transport::Transport;

/// Minutes a step is expected to take: measured in earlier runs when the journal has it,
/// else the plan's estimate.
pub fn step_minutes(sp: &ServerPlan, history: &BTreeMap<(String, String), f64>, id: StepId) -> f64 {
    history
        .get(&(sp.fqdn.to_string(), id.as_str().to_owned()))
        .copied()
        .or_else(|| sp.steps.iter().find(|s| s.id == id).map(|s| s.estimated_minutes))
        .unwrap_or(0.0)
}

/// The outage projected when it opens: every step inside the outage window.
pub fn projected_minutes(sp: &ServerPlan, history: &BTreeMap<(String, String), f64>) -> f64 {
    sp.steps.iter().filter(|s| s.in_outage).map(|s| step_minutes(sp, history, s.id)).sum()
}

/// Whether the outage may open: its projection stays under the budget, or the operator
/// accepted resiliency mode.
pub fn may_open(projected: f64, budget: f64, accept_resiliency: bool) -> bool {
    projected < budget || accept_resiliency
}

/// When (in the transport's milliseconds) the mark `mark` minutes before `budget` falls for an
/// outage opened at `start_ms`: never (`None`) when either number is not finite or the point
/// lies beyond the clock's range (a budget of 5e14 minutes), so that no mark can be due
/// forever and the timer below cannot spin. A mark before the start is due at once.
pub fn mark_ms(start_ms: u64, budget: f64, mark: f64) -> Option<u64> {
    let before = budget - mark;
    if !before.is_finite() {
        return None;
    }
    // Rounded up: a mark is due once the whole minute fraction has passed, never a tick early.
    let offset = (before.max(0.0) * 60_000.0).ceil();
    if offset >= u64::MAX as f64 {
        return None;
    }
    start_ms.checked_add(offset as u64)
}

/// The marks (minutes before the budget) that an outage opened at `start_ms` has passed at
/// `now_ms` and that were not announced yet.
pub fn due_marks(now_ms: u64, start_ms: u64, budget: f64, marks: &[f64], announced: &[f64]) -> Vec<f64> {
    marks
        .iter()
        .copied()
        .filter(|m| !announced.contains(m) && mark_ms(start_ms, budget, *m).is_some_and(|at| at <= now_ms))
        .collect()
}

/// When (in the transport's milliseconds) the next unannounced mark falls, if any.
pub fn next_mark_ms(start_ms: u64, budget: f64, marks: &[f64], announced: &[f64]) -> Option<u64> {
    marks.iter().filter(|m| !announced.contains(m)).filter_map(|m| mark_ms(start_ms, budget, *m)).min()
}

/// Announces each mark before the budget as the open outage passes it; never returns (it is
/// raced against the step it runs alongside).
pub(crate) async fn marks<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    host: &Fqdn,
    start_ms: u64,
    announced: &mut Vec<f64>,
) {
    let budget = cx.opts.outage_budget_minutes;
    let marks = &cx.opts.warn_before_budget;
    loop {
        let now = cx.now();
        let elapsed = now.saturating_sub(start_ms) as f64 / 60_000.0;
        for mark in due_marks(now, start_ms, budget, marks, announced) {
            announced.push(mark);
            let args =
                [("elapsed", format!("{elapsed:.1}")), ("mark", mark.to_string()), ("budget", budget.to_string())];
            cx.warn(host, cx.say("outage-mark", &args));
        }
        // Every mark at or before `now` was announced just above, so the next one lies ahead.
        match next_mark_ms(start_ms, budget, marks, announced) {
            // The outage's own clock: a mark is a point in the transport's time, never scaled.
            Some(at) if at > now => tokio::time::sleep(cx.transport.real(Duration::from_millis(at - now))).await,
            Some(_) => tokio::task::yield_now().await,
            None => std::future::pending::<()>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_opens_only_under_the_budget_or_when_accepted() {
        let cases = [
            (29.9, 30.0, false, true),
            (30.0, 30.0, false, false),
            (41.0, 30.0, false, false),
            (41.0, 30.0, true, true),
            (10.0, 5.0, false, false),
        ];
        for (projected, budget, accept, want) in cases {
            assert_eq!(may_open(projected, budget, accept), want, "{projected} of {budget}, accept {accept}");
        }
    }

    #[test]
    fn marks_fall_due_once_each_in_order() {
        let marks = [10.0, 5.0];
        let cases: [(f64, &[f64], &[f64]); 6] = [
            (0.0, &[], &[]),
            (19.9, &[], &[]),
            (20.0, &[], &[10.0]),
            (24.0, &[10.0], &[]),
            (26.0, &[10.0], &[5.0]),
            (40.0, &[], &[10.0, 5.0]),
        ];
        for (elapsed, announced, want) in cases {
            let now = 1_000 + (elapsed * 60_000.0) as u64;
            assert_eq!(due_marks(now, 1_000, 30.0, &marks, announced), want, "at {elapsed} min");
        }
    }

    #[test]
    fn numbers_out_of_range_give_no_mark_rather_than_one_due_forever() {
        // Issue 13 item 8: a NaN mark was due at the start and never announced (a busy loop);
        // a budget of 5e14 minutes saturated to the clock's end.
        assert_eq!(mark_ms(1_000, 30.0, f64::NAN), None);
        assert_eq!(mark_ms(1_000, f64::INFINITY, 10.0), None);
        assert_eq!(mark_ms(1_000, 5e14, 10.0), None);
        assert_eq!(mark_ms(u64::MAX - 10, 30.0, 10.0), None);
        assert_eq!(next_mark_ms(1_000, 30.0, &[f64::NAN, 5.0], &[]), Some(1_000 + 25 * 60_000));
        assert_eq!(due_marks(u64::MAX, 1_000, 30.0, &[f64::NAN], &[]), Vec::<f64>::new());
        assert_eq!(next_mark_ms(1_000, 5e14, &[10.0, 5.0], &[]), None);
    }

    #[test]
    fn after_announcing_what_is_due_the_next_mark_lies_ahead() {
        // The timer's loop terminates: whatever the numbers, no unannounced mark is at or before now.
        let budgets = [0.000_016_67, 0.5, 30.0, 1e9, 5e14, f64::NAN, -3.0];
        let marks = [10.0, 0.000_01, 5.0, f64::NAN, f64::INFINITY, 0.0];
        for budget in budgets {
            for now in [1_000u64, 1_001, 1_002, 61_000, 10_000_000] {
                let announced = due_marks(now, 1_000, budget, &marks, &[]);
                if let Some(at) = next_mark_ms(1_000, budget, &marks, &announced) {
                    assert!(at > now, "budget {budget}, now {now}: next mark {at}");
                }
            }
        }
    }

    #[test]
    fn the_next_mark_is_the_earliest_unannounced() {
        assert_eq!(next_mark_ms(1_000, 30.0, &[10.0, 5.0], &[]), Some(1_000 + 20 * 60_000));
        assert_eq!(next_mark_ms(1_000, 30.0, &[10.0, 5.0], &[10.0]), Some(1_000 + 25 * 60_000));
        assert_eq!(next_mark_ms(1_000, 30.0, &[10.0, 5.0], &[10.0, 5.0]), None);
        assert_eq!(next_mark_ms(1_000, 3.0, &[10.0], &[]), Some(1_000), "a mark before the start is due at once");
    }
}

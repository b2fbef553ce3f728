//! Intervals of virtual time: opened and closed as a state goes down and up, merged,
//! intersected.

use crate::Ms;

/// Opens an interval at `at` when the state goes down, closes it when it comes back up.
pub(super) fn step_interval(since: &mut Option<Ms>, closed: &mut Vec<(Ms, Ms)>, up: bool, at: Ms) {
    match (*since, up) {
        (None, false) => *since = Some(at),
        (Some(s), true) => {
            closed.push((s, at.max(s)));
            *since = None;
        }
        _ => {}
    }
}

/// Intervals sorted, overlapping or touching ones merged.
pub fn merge(mut v: Vec<(Ms, Ms)>) -> Vec<(Ms, Ms)> {
    v.sort_unstable();
    let mut out: Vec<(Ms, Ms)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The intervals covered by every list at once (a clustered SQL Server is unavailable only
/// while all its nodes are).
pub fn intersect(lists: &[Vec<(Ms, Ms)>]) -> Vec<(Ms, Ms)> {
    let Some((first, rest)) = lists.split_first() else { return Vec::new() };
    let mut acc = first.clone();
    for l in rest {
        let mut next = Vec::new();
        for &(a0, a1) in &acc {
            for &(b0, b1) in l {
                let (s, e) = (a0.max(b0), a1.min(b1));
                if s < e {
                    next.push((s, e));
                }
            }
        }
        acc = merge(next);
    }
    acc
}

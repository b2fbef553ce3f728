//! Property tests of the wave scheduler over random plans: every constraint holds in every
//! wave and in the list schedule behind it, and the estimated makespan is never below the
//! lower bound.

use proptest::prelude::*;
use sfbpatch_core::Fqdn;
use sfbpatch_core::waves::{Entry, schedule};

#[derive(Debug, Clone)]
struct Case {
    /// (pool index or none, after: indexes of earlier entries, minutes in quarters)
    rows: Vec<(Option<usize>, Vec<usize>, u32)>,
    pairs: Vec<(usize, usize)>,
    max_parallel: Option<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..40, 1usize..8).prop_flat_map(|(n, pools)| {
        let row = (proptest::option::weighted(0.8, 0..pools), proptest::collection::vec(0usize..n, 0..4), 0u32..120);
        (
            proptest::collection::vec(row, n),
            proptest::collection::vec((0..pools, 0..pools), 0..3),
            proptest::option::of(1usize..6),
        )
            .prop_map(|(rows, pairs, max_parallel)| Case {
                // `after` only to earlier entries: plans have no cycles.
                rows: rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (p, a, m))| (p, a.into_iter().filter(|&j| j < i).collect(), m))
                    .collect(),
                pairs,
                max_parallel,
            })
    })
}

fn name(kind: &str, i: usize) -> Fqdn {
    Fqdn::parse(&format!("{kind}{i}.contoso.test")).unwrap_or_else(|e| panic!("{e:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_constraint_holds_and_the_bound_is_a_bound(c in case()) {
        let servers: Vec<Fqdn> = (0..c.rows.len()).map(|i| name("s", i)).collect();
        let pools: Vec<Option<Fqdn>> = c.rows.iter().map(|(p, _, _)| p.map(|p| name("pool", p))).collect();
        let afters: Vec<Vec<Fqdn>> = c.rows.iter().map(|(_, a, _)| a.iter().map(|&j| servers[j].clone()).collect()).collect();
        let minutes: Vec<f64> = c.rows.iter().map(|(_, _, m)| f64::from(*m) / 4.0).collect();
        let entries: Vec<Entry<'_>> = (0..servers.len())
            .map(|i| Entry { fqdn: &servers[i], pool: pools[i].as_ref(), after: &afters[i], minutes: minutes[i] })
            .collect();
        let pairs: Vec<[Fqdn; 2]> = c.pairs.iter().map(|&(a, b)| [name("pool", a), name("pool", b)]).collect();
        let w = schedule(&entries, &pairs, c.max_parallel);
        let n = servers.len();
        // The exclusive groups: same pool, or paired pools, share a group.
        let paired = |a: &Option<Fqdn>, b: &Option<Fqdn>| match (a, b) {
            (Some(a), Some(b)) => a == b || pairs.iter().any(|[x, y]| (x == a && y == b) || (x == b && y == a)),
            _ => false,
        };
        let end = |i: usize| w.start_minutes[i] + minutes[i];
        for i in 0..n {
            prop_assert!(w.wave[i] >= 1);
            for j in 0..n {
                if i == j { continue; }
                if paired(&pools[i], &pools[j]) {
                    prop_assert_ne!(w.wave[i], w.wave[j], "{} and {}: one pool or a pair, one wave", i, j);
                    prop_assert_eq!(w.group[i], w.group[j]);
                    // In the schedule too: their intervals do not overlap (zero-length ones aside).
                    if minutes[i] > 0.0 && minutes[j] > 0.0 {
                        prop_assert!(end(i) <= w.start_minutes[j] + 1e-9 || end(j) <= w.start_minutes[i] + 1e-9,
                            "{} and {} overlap", i, j);
                    }
                }
            }
            for &j in &c.rows[i].1 {
                prop_assert!(w.wave[j] < w.wave[i], "{} after {}", i, j);
                prop_assert!(end(j) <= w.start_minutes[i] + 1e-9, "{} starts before {} ends", i, j);
            }
        }
        if let Some(m) = c.max_parallel {
            let top = w.wave.iter().copied().max().unwrap_or(0);
            for k in 1..=top {
                prop_assert!(w.wave.iter().filter(|&&x| x == k).count() <= m, "wave {} over {}", k, m);
            }
            // At every start, at most m entries run.
            for i in 0..n {
                let t = w.start_minutes[i];
                let running = (0..n).filter(|&j| w.start_minutes[j] <= t && t < end(j)).count();
                prop_assert!(running <= m, "{} running at {}", running, t);
            }
        }
        let last = (0..n).map(end).fold(0.0, f64::max);
        prop_assert!((w.estimated_makespan_minutes - last).abs() < 0.01, "{} vs {}", w.estimated_makespan_minutes, last);
        prop_assert!(w.estimated_makespan_minutes >= w.makespan_lower_bound_minutes,
            "{} < {}", w.estimated_makespan_minutes, w.makespan_lower_bound_minutes);
        let total: f64 = minutes.iter().sum();
        if let Some(m) = c.max_parallel {
            prop_assert!(w.makespan_lower_bound_minutes + 0.01 >= total / m.min(n) as f64);
        }
    }
}

/// The best makespan with unlimited parallelism, by brute force: every order of each exclusive
/// group's entries, each entry started as soon as its `after` entries and its group's previous
/// entry have finished (with no limit on parallelism, such schedules include an optimal one).
fn optimum(est: &[u64], preds: &[Vec<usize>], group: &[usize]) -> u64 {
    let n = est.len();
    let groups_n = group.iter().copied().max().map_or(0, |g| g + 1);
    let members: Vec<Vec<usize>> = (0..groups_n).map(|g| (0..n).filter(|&i| group[i] == g).collect()).collect();
    fn perms(v: &[usize]) -> Vec<Vec<usize>> {
        if v.len() <= 1 {
            return vec![v.to_vec()];
        }
        let mut out = Vec::new();
        for k in 0..v.len() {
            let mut rest = v.to_vec();
            let x = rest.remove(k);
            for mut p in perms(&rest) {
                p.insert(0, x);
                out.push(p);
            }
        }
        out
    }
    let choices: Vec<Vec<Vec<usize>>> = members.iter().map(|m| perms(m)).collect();
    let mut best = u64::MAX;
    let mut pick = vec![0usize; groups_n];
    loop {
        // Predecessors: `after`, and the previous entry of its group in this order.
        let mut all: Vec<Vec<usize>> = preds.to_vec();
        for (g, &c) in pick.iter().enumerate() {
            for w in choices[g][c].windows(2) {
                all[w[1]].push(w[0]);
            }
        }
        let mut finish = vec![0u64; n];
        let mut stable = false;
        for _ in 0..=n + 1 {
            let mut changed = false;
            for i in 0..n {
                let f = all[i].iter().map(|&p| finish[p]).max().unwrap_or(0) + est[i];
                if f != finish[i] {
                    finish[i] = f;
                    changed = true;
                }
            }
            if !changed {
                stable = true;
                break;
            }
        }
        if stable {
            best = best.min(finish.iter().copied().max().unwrap_or(0));
        }
        // Next combination of orders.
        let mut g = 0;
        loop {
            if g == groups_n {
                return best;
            }
            pick[g] += 1;
            if pick[g] < choices[g].len() {
                break;
            }
            pick[g] = 0;
            g += 1;
        }
    }
}

fn tiny_case() -> impl Strategy<Value = Case> {
    (1usize..7, 1usize..4).prop_flat_map(|(n, pools)| {
        let row = (proptest::option::weighted(0.8, 0..pools), proptest::collection::vec(0usize..n, 0..3), 1u32..60);
        (proptest::collection::vec(row, n), proptest::collection::vec((0..pools, 0..pools), 0..2)).prop_map(
            |(rows, pairs)| Case {
                rows: rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (p, a, m))| (p, a.into_iter().filter(|&j| j < i).collect(), m))
                    .collect(),
                pairs,
                max_parallel: None,
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The lower bound is never above the best possible makespan (found by brute force on
    /// small plans), so "the estimate equals the bound" proves the estimate optimal.
    #[test]
    fn the_lower_bound_never_exceeds_the_brute_force_optimum(c in tiny_case()) {
        let servers: Vec<Fqdn> = (0..c.rows.len()).map(|i| name("s", i)).collect();
        let pools: Vec<Option<Fqdn>> = c.rows.iter().map(|(p, _, _)| p.map(|p| name("pool", p))).collect();
        let afters: Vec<Vec<Fqdn>> = c.rows.iter().map(|(_, a, _)| a.iter().map(|&j| servers[j].clone()).collect()).collect();
        let minutes: Vec<f64> = c.rows.iter().map(|(_, _, m)| f64::from(*m) / 4.0).collect();
        let entries: Vec<Entry<'_>> = (0..servers.len())
            .map(|i| Entry { fqdn: &servers[i], pool: pools[i].as_ref(), after: &afters[i], minutes: minutes[i] })
            .collect();
        let pairs: Vec<[Fqdn; 2]> = c.pairs.iter().map(|&(a, b)| [name("pool", a), name("pool", b)]).collect();
        let w = schedule(&entries, &pairs, None);
        let group = sfbpatch_core::waves::groups(&entries, &pairs);
        let est: Vec<u64> = c.rows.iter().map(|(_, _, m)| u64::from(*m)).collect();
        let preds: Vec<Vec<usize>> = c.rows.iter().map(|(_, a, _)| a.clone()).collect();
        let best = optimum(&est, &preds, &group) as f64 / 4.0;
        prop_assert!(w.makespan_lower_bound_minutes <= best + 0.01, "bound {} > optimum {}", w.makespan_lower_bound_minutes, best);
        prop_assert!(w.estimated_makespan_minutes + 0.01 >= best, "estimate {} < optimum {}", w.estimated_makespan_minutes, best);
    }
}

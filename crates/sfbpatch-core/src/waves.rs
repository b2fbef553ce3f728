//! The wave scheduler (issue 12, item 3): from a plan's entries, which servers may run together,
//! in which order, how long the whole estate is expected to take, and the least it could take.
//! Pure: no I/O, no clock.
//!
//! Constraints, each held by construction:
//! * **One server of a pool at a time** (DOMAIN.md §2: Front Ends "one server at a time"). Every
//!   entry belongs to an *exclusive group*: its pool (a server without a pool is a group of its
//!   own). A group never has two entries running at once.
//! * **Quorum** (DOMAIN.md §2's table): with one Front End of a pool of `n ≥ 2` out, `n − 1`
//!   run, which is at least [`crate::readback_pool::quorum`]`(n)` for every `n` in the table
//!   (2 → 1 of 1; 16 → 7 of 15; for 8–16 the "first N" rule also holds, since at most one of
//!   the first N is out). So the group rule alone keeps every pool of two or more Front Ends
//!   above quorum: [`one_at_a_time_keeps_quorum`]. A pool of one Front End has no quorum to
//!   keep: the plan warns (`lone-front-end`).
//! * **Paired pools** (docs/research/issue12-roles.md §3, DOC: "each pool should be designed to
//!   handle the workloads of all users in both pools", so two pools of a pair never both lose
//!   a server at once): the groups of two paired pools are merged into one (union–find, so a
//!   chain of pairs, which Lync 2013+ does not allow — pairing is "always 1:1 and reciprocal" —
//!   would still be safe, only more serial).
//! * **`after`** (Front Ends before their pool's database step, DOMAIN.md §1a; inside-out
//!   order across roles, research note §4): an entry starts only once every entry it comes
//!   after has finished.
//! * **`max_parallel`**: at most that many entries at once.
//!
//! The schedule is a greedy *list schedule* (Graham, "Bounds on multiprocessing timing
//! anomalies", SIAM J. Appl. Math. 17(2), 1969): whenever a group is free and a slot is
//! free, the ready entry with the longest chain of `after` work still ahead of it starts first
//! — the critical-path ("highest level first") priority of Hu ("Parallel sequencing and
//! assembly line problems", Operations Research 9(6), 1961), evaluated by Kohler ("A
//! preliminary evaluation of the critical path method for scheduling tasks on multiprocessor
//! systems", IEEE Trans. Computers C-24(12), 1975). Between groups competing for a slot, the
//! group with more work left goes first when that is longer than the chain.
//!
//! **Waves** are read off that schedule: an entry's wave is one more than the largest wave of
//! what it waited for — the entries it comes `after`, the previous entry of its group, and
//! (with `max_parallel`) the entry whose slot it took. Wave 1 is what may start at once; each
//! later wave may start once the earlier ones have finished. Inside a wave no two entries share
//! a group (each group's entries have strictly increasing waves), none comes after another, and
//! there are at most `max_parallel` (each slot's entries have strictly increasing waves).
//!
//! **Lower bound** on any schedule's makespan, the largest of: the longest chain through
//! `after` edges; per exclusive group, its entries' total work plus the shortest chain any of
//! them must wait for and the shortest chain that must follow any of them (the group runs one
//! entry at a time); chains through groups (an entry after several entries of one group starts
//! after their serial work: `group_chain_bound`); the total work divided by
//! `max_parallel`.
//!
//! Cost: O((n + e) log n) for n entries and e `after` edges (heaps, one pass each way over a
//! topological order; no scan over pools or servers per entry).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::fqdn::Fqdn;
use crate::plan::Plan;
use crate::readback_pool::quorum;

/// One entry of a plan as the scheduler sees it.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The server (or SQL Server) the entry updates.
    pub fqdn: &'a Fqdn,
    /// Its pool; `None`: a group of its own.
    pub pool: Option<&'a Fqdn>,
    /// Entries that must finish before it starts (unknown names are ignored).
    pub after: &'a [Fqdn],
    /// Its estimated minutes (the sum of its steps' estimates).
    pub minutes: f64,
}

/// A schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Waves {
    /// Per entry, in input order: its wave, from 1.
    pub wave: Vec<u32>,
    /// Per entry: the minute it starts in the list schedule.
    pub start_minutes: Vec<f64>,
    /// Per entry: its exclusive group (pool, merged with its paired pool).
    pub group: Vec<usize>,
    /// When the list schedule ends, in minutes.
    pub estimated_makespan_minutes: f64,
    /// No schedule under these constraints can end sooner.
    pub makespan_lower_bound_minutes: f64,
}

/// Whether updating one Front End at a time keeps a pool of `front_ends` above quorum
/// (DOMAIN.md §2's table through [`quorum`]).
pub fn one_at_a_time_keeps_quorum(front_ends: usize) -> bool {
    // n − 1 running ≥ quorum(n).
    front_ends >= 2 && front_ends > quorum(front_ends)
}

/// Minutes in thousandths, so that heaps and sums are exact.
fn units(minutes: f64) -> u64 {
    if minutes.is_finite() && minutes > 0.0 { (minutes * 1000.0).round() as u64 } else { 0 }
}

/// Thousandths back to minutes, to two decimals (monotone: an order between two values in
/// units is kept).
fn minutes(units: u64) -> f64 {
    (units as f64 / 10.0).round() / 100.0
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// The exclusive group of each entry: its pool (else itself), merged with paired pools.
pub fn groups(entries: &[Entry<'_>], pairs: &[[Fqdn; 2]]) -> Vec<usize> {
    let mut keys: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    let key_of: Vec<usize> = entries
        .iter()
        .map(|e| {
            let k = e.pool.unwrap_or(e.fqdn).as_str();
            let next = keys.len();
            *keys.entry(k).or_insert(next)
        })
        .collect();
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    for [a, b] in pairs {
        if let (Some(&x), Some(&y)) = (keys.get(a.as_str()), keys.get(b.as_str())) {
            let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
            if rx != ry {
                parent[rx.max(ry)] = rx.min(ry);
            }
        }
    }
    // Dense group numbers in order of first appearance.
    let mut dense: HashMap<usize, usize> = HashMap::new();
    key_of
        .iter()
        .map(|&k| {
            let root = find(&mut parent, k);
            let next = dense.len();
            *dense.entry(root).or_insert(next)
        })
        .collect()
}

/// The entries of `plan`: each server's pool, `after` and the sum of its steps' estimates.
pub fn entries(plan: &Plan) -> Vec<Entry<'_>> {
    plan.servers
        .iter()
        .map(|s| Entry {
            fqdn: &s.fqdn,
            pool: s.pool.as_ref(),
            after: &s.after,
            minutes: s.steps.iter().map(|st| st.estimated_minutes).sum(),
        })
        .collect()
}

/// The schedule of `plan`'s entries under its pairs and `max_parallel`.
pub fn of_plan(plan: &Plan, max_parallel: Option<usize>) -> Waves {
    schedule(&entries(plan), &plan.pairs, max_parallel)
}

/// Where an entry stands in the list schedule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Started,
}

/// Chains through groups: the entries an entry comes after that share a group run one at a
/// time, so it cannot start before the earliest of their starts plus all of their work; and a
/// group cannot finish before its earliest possible start plus all of its work. In
/// topological order: an entry's earliest start is the latest of its predecessors' earliest
/// finishes and, per group among its predecessors, their earliest start plus their summed
/// work; a group's earliest finish, once its last entry is seen, is the later of its entries'
/// earliest finishes and its earliest start plus its work. The bound is the largest earliest
/// finish (of an entry or a group) plus the chain that must follow it. Directors after a pool's
/// three Front Ends, Edges after the Directors: the pools' serial work adds up along the chain,
/// which the per-group bound alone misses.
fn group_chain_bound(
    order: &[usize],
    preds: &[Vec<usize>],
    est: &[u64],
    group: &[usize],
    g_sum: &[u64],
    tail: &[u64],
) -> u64 {
    let groups_n = g_sum.len();
    let mut size = vec![0usize; groups_n];
    for &g in group {
        size[g] += 1;
    }
    let mut seen = vec![0usize; groups_n];
    let mut g_start = vec![u64::MAX; groups_n];
    let mut g_finish = vec![0u64; groups_n];
    let mut g_tail = vec![u64::MAX; groups_n];
    let mut start_of = vec![0u64; est.len()];
    let mut finish = vec![0u64; est.len()];
    let mut bound = 0u64;
    // Per group among an entry's predecessors: (their earliest start, their summed work).
    let mut by_group: HashMap<usize, (u64, u64)> = HashMap::new();
    let mut distinct: std::collections::HashSet<usize> = std::collections::HashSet::new();
    for &i in order {
        let mut start = 0u64;
        by_group.clear();
        distinct.clear();
        for &p in &preds[i] {
            // A predecessor named twice counts once.
            if !distinct.insert(p) {
                continue;
            }
            start = start.max(finish[p]);
            let e = by_group.entry(group[p]).or_insert((u64::MAX, 0));
            e.0 = e.0.min(start_of[p]);
            e.1 += est[p];
        }
        for &(first, work) in by_group.values() {
            start = start.max(first.saturating_add(work));
        }
        start_of[i] = start;
        finish[i] = start + est[i];
        bound = bound.max(finish[i] + tail[i]);
        let g = group[i];
        g_start[g] = g_start[g].min(start);
        g_finish[g] = g_finish[g].max(finish[i]);
        g_tail[g] = g_tail[g].min(tail[i]);
        seen[g] += 1;
        if seen[g] == size[g] {
            g_finish[g] = g_finish[g].max(g_start[g] + g_sum[g]);
            bound = bound.max(g_finish[g] + g_tail[g]);
        }
    }
    bound
}

/// The waves, the list schedule's makespan and the lower bound of `entries` (see the module).
pub fn schedule(entries: &[Entry<'_>], pairs: &[[Fqdn; 2]], max_parallel: Option<usize>) -> Waves {
    let n = entries.len();
    let est: Vec<u64> = entries.iter().map(|e| units(e.minutes)).collect();
    let group = groups(entries, pairs);
    let groups_n = group.iter().copied().max().map_or(0, |g| g + 1);

    // `after` edges, by index.
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, e) in entries.iter().enumerate() {
        index.entry(e.fqdn.as_str()).or_insert(i);
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in entries.iter().enumerate() {
        for a in e.after {
            if let Some(&j) = index.get(a.as_str())
                && j != i
            {
                preds[i].push(j);
                succs[j].push(i);
            }
        }
    }

    // A topological order (Kahn); entries on a cycle, which plans never have, are left out of
    // it and keep no chain (the schedule then starts them in plan order).
    let mut indeg: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut k = 0;
    while k < order.len() {
        let i = order[k];
        k += 1;
        for &s in &succs[i] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                order.push(s);
            }
        }
    }
    let mut ordered = vec![false; n];
    for &i in &order {
        ordered[i] = true;
    }
    // head: the longest chain that must finish before an entry; tail: after it.
    let mut head = vec![0u64; n];
    for &i in &order {
        head[i] = preds[i].iter().map(|&p| head[p] + est[p]).max().unwrap_or(0);
    }
    let mut tail = vec![0u64; n];
    for &i in order.iter().rev() {
        tail[i] = succs[i].iter().filter(|&&s| ordered[s]).map(|&s| est[s] + tail[s]).max().unwrap_or(0);
    }
    let cp: Vec<u64> = (0..n).map(|i| est[i] + tail[i]).collect();

    // The lower bound.
    let total: u64 = est.iter().sum();
    let chain = (0..n).map(|i| head[i] + cp[i]).max().unwrap_or(0);
    let mut g_sum = vec![0u64; groups_n];
    let mut g_head = vec![u64::MAX; groups_n];
    let mut g_tail = vec![u64::MAX; groups_n];
    for i in 0..n {
        let g = group[i];
        g_sum[g] += est[i];
        g_head[g] = g_head[g].min(head[i]);
        g_tail[g] = g_tail[g].min(tail[i]);
    }
    let serial = (0..groups_n).map(|g| g_head[g] + g_sum[g] + g_tail[g]).max().unwrap_or(0);
    let chained = group_chain_bound(&order, &preds, &est, &group, &g_sum, &tail);
    let slots = max_parallel.map(|m| m.clamp(1, n.max(1)));
    let work = slots.map_or(0, |m| total / m as u64);
    let lower = chain.max(serial).max(chained).max(work);

    // The list schedule.
    let mut state: Vec<State> =
        (0..n).map(|i| if preds[i].is_empty() { State::Ready } else { State::Waiting }).collect();
    let mut waiting_on: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut ready: Vec<BinaryHeap<(u64, Reverse<usize>)>> = vec![BinaryHeap::new(); groups_n];
    let mut remaining = g_sum.clone();
    let mut busy = vec![false; groups_n];
    let mut group_wave = vec![0u32; groups_n];
    let mut dep_wave = vec![0u32; n];
    let mut wave = vec![0u32; n];
    let mut start = vec![0u64; n];
    let mut slot_of = vec![0usize; n];
    let mut free_slots: BinaryHeap<Reverse<(u32, usize)>> = (0..slots.unwrap_or(0)).map(|s| Reverse((0, s))).collect();
    let mut events: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    // Free groups with ready entries: (priority, first entry, group); stale entries are
    // checked again when popped.
    let mut candidates: BinaryHeap<(u64, Reverse<usize>, usize)> = BinaryHeap::new();
    let key = |ready: &[BinaryHeap<(u64, Reverse<usize>)>], remaining: &[u64], g: usize| {
        ready[g].peek().map(|&(p, Reverse(i))| (p.max(remaining[g]), Reverse(i), g))
    };
    for i in 0..n {
        if state[i] == State::Ready {
            ready[group[i]].push((cp[i], Reverse(i)));
        }
    }
    for g in 0..groups_n {
        candidates.extend(key(&ready, &remaining, g));
    }
    let (mut now, mut makespan, mut started, mut forced) = (0u64, 0u64, 0usize, 0usize);
    while started < n {
        while slots.is_none() || !free_slots.is_empty() {
            let Some(c) = candidates.pop() else { break };
            let g = c.2;
            if busy[g] {
                continue;
            }
            match key(&ready, &remaining, g) {
                Some(current) if current == c => {}
                Some(current) => {
                    candidates.push(current);
                    continue;
                }
                None => continue,
            }
            let Some((_, Reverse(i))) = ready[g].pop() else { continue };
            let slot_wave = match free_slots.pop() {
                Some(Reverse((w, s))) => {
                    slot_of[i] = s;
                    w
                }
                None => 0,
            };
            state[i] = State::Started;
            started += 1;
            busy[g] = true;
            remaining[g] -= est[i];
            start[i] = now;
            wave[i] = 1 + dep_wave[i].max(group_wave[g]).max(slot_wave);
            makespan = makespan.max(now + est[i]);
            events.push(Reverse((now + est[i], i)));
        }
        let Some(Reverse((t, first))) = events.pop() else {
            // Nothing runs and nothing is ready: only entries on an `after` cycle are left.
            while forced < n && state[forced] != State::Waiting {
                forced += 1;
            }
            let Some(i) = (forced < n).then_some(forced) else { break };
            state[i] = State::Ready;
            ready[group[i]].push((cp[i], Reverse(i)));
            candidates.extend(key(&ready, &remaining, group[i]));
            continue;
        };
        now = t;
        let mut done = vec![first];
        while let Some(&Reverse((t2, j))) = events.peek()
            && t2 == t
        {
            events.pop();
            done.push(j);
        }
        let mut touched: Vec<usize> = Vec::new();
        for i in done {
            let g = group[i];
            busy[g] = false;
            group_wave[g] = wave[i];
            touched.push(g);
            if slots.is_some() {
                free_slots.push(Reverse((wave[i], slot_of[i])));
            }
            for &s in &succs[i] {
                dep_wave[s] = dep_wave[s].max(wave[i]);
                waiting_on[s] = waiting_on[s].saturating_sub(1);
                if waiting_on[s] == 0 && state[s] == State::Waiting {
                    state[s] = State::Ready;
                    ready[group[s]].push((cp[s], Reverse(s)));
                    touched.push(group[s]);
                }
            }
        }
        for g in touched {
            if !busy[g] {
                candidates.extend(key(&ready, &remaining, g));
            }
        }
    }
    Waves {
        wave,
        start_minutes: start.into_iter().map(minutes).collect(),
        group,
        estimated_makespan_minutes: minutes(makespan),
        makespan_lower_bound_minutes: minutes(lower),
    }
}

#[cfg(test)]
mod tests;

//! Table-driven tests of the wave scheduler.

use super::*;

/// A name of the tests' own domain (an FQDN needs one).
fn f(s: &str) -> Fqdn {
    let name = format!("{s}.contoso.test");
    Fqdn::parse(&name).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// (server, pool, after, minutes)
type Row = (&'static str, Option<&'static str>, &'static [&'static str], f64);

struct Owned {
    fqdn: Fqdn,
    pool: Option<Fqdn>,
    after: Vec<Fqdn>,
    minutes: f64,
}

fn owned(rows: &[Row]) -> Vec<Owned> {
    rows.iter()
        .map(|(s, p, a, m)| Owned { fqdn: f(s), pool: p.map(f), after: a.iter().map(|x| f(x)).collect(), minutes: *m })
        .collect()
}

fn run(rows: &[Row], pairs: &[(&str, &str)], max: Option<usize>) -> Waves {
    let o = owned(rows);
    let e: Vec<Entry<'_>> =
        o.iter().map(|x| Entry { fqdn: &x.fqdn, pool: x.pool.as_ref(), after: &x.after, minutes: x.minutes }).collect();
    let pairs: Vec<[Fqdn; 2]> = pairs.iter().map(|(a, b)| [f(a), f(b)]).collect();
    schedule(&e, &pairs, max)
}

const POOL_A: &[Row] = &[
    ("fe1.a", Some("pool.a"), &[], 20.0),
    ("fe2.a", Some("pool.a"), &[], 20.0),
    ("fe3.a", Some("pool.a"), &[], 20.0),
    ("sql.a", Some("pool.a"), &["fe1.a", "fe2.a", "fe3.a"], 5.0),
];

#[test]
fn waves_under_each_constraint() {
    let two_pools: Vec<Row> = POOL_A
        .iter()
        .copied()
        .chain([("fe1.b", Some("pool.b"), &[][..], 20.0), ("fe2.b", Some("pool.b"), &[][..], 20.0)])
        .collect();
    /// (name, rows, pairs, max_parallel, waves, makespan, lower bound)
    type Case<'a> = (&'a str, Vec<Row>, Vec<(&'a str, &'a str)>, Option<usize>, Vec<u32>, f64, f64);
    let cases: Vec<Case<'_>> = vec![
        (
            "one pool: one server at a time, the database step last",
            POOL_A.to_vec(),
            vec![],
            None,
            vec![1, 2, 3, 4],
            65.0,
            65.0,
        ),
        ("two pools side by side", two_pools.clone(), vec![], None, vec![1, 2, 3, 4, 1, 2], 65.0, 65.0),
        (
            "paired pools never together",
            two_pools.clone(),
            vec![("pool.a", "pool.b")],
            None,
            vec![1, 2, 3, 6, 4, 5],
            105.0,
            105.0,
        ),
        (
            "a pair naming a pool outside the plan changes nothing",
            two_pools.clone(),
            vec![("pool.a", "pool.z")],
            None,
            vec![1, 2, 3, 4, 1, 2],
            65.0,
            65.0,
        ),
        (
            "max_parallel 1: everything in turn, the pool with more work left first",
            two_pools.clone(),
            vec![],
            Some(1),
            vec![1, 2, 4, 6, 3, 5],
            105.0,
            105.0,
        ),
        (
            "servers without a pool are groups of their own; after across them",
            vec![("se1", None, &[], 10.0), ("se2", None, &[], 30.0), ("store", None, &["se1", "se2"], 5.0)],
            vec![],
            None,
            vec![1, 1, 2],
            35.0,
            35.0,
        ),
        (
            "max_parallel 2 of three independent servers",
            vec![("a", None, &[], 10.0), ("b", None, &[], 10.0), ("c", None, &[], 10.0)],
            vec![],
            Some(2),
            vec![1, 1, 2],
            20.0,
            15.0,
        ),
    ];
    for (name, rows, pairs, max, waves, makespan, lower) in cases {
        let w = run(&rows, &pairs, max);
        assert_eq!(w.wave, waves, "{name}: waves");
        assert_eq!(w.estimated_makespan_minutes, makespan, "{name}: makespan");
        assert_eq!(w.makespan_lower_bound_minutes, lower, "{name}: lower bound");
        assert!(w.estimated_makespan_minutes >= w.makespan_lower_bound_minutes, "{name}");
    }
}

#[test]
fn the_longest_chain_goes_first() {
    // One pool: fe1 has a long store after it, fe2 none. fe1 first lets the store overlap fe2.
    let rows: &[Row] = &[("fe2", Some("p"), &[], 10.0), ("fe1", Some("p"), &[], 10.0), ("store", None, &["fe1"], 30.0)];
    let w = run(rows, &[], None);
    assert_eq!(w.start_minutes, vec![10.0, 0.0, 10.0], "fe1 (chain of 40) before fe2 (10)");
    assert_eq!(w.wave, vec![2, 1, 2]);
    assert_eq!((w.estimated_makespan_minutes, w.makespan_lower_bound_minutes), (40.0, 40.0));
}

#[test]
fn a_simple_chain_meets_its_lower_bound() {
    let rows: &[Row] = &[("a", None, &[], 7.5), ("b", None, &["a"], 2.25), ("c", None, &["b"], 10.0)];
    let w = run(rows, &[], None);
    assert_eq!(w.wave, vec![1, 2, 3]);
    assert_eq!(w.estimated_makespan_minutes, 19.75);
    assert_eq!(w.makespan_lower_bound_minutes, 19.75);
}

#[test]
fn the_lower_bound_takes_the_largest_of_chain_group_and_work() {
    // Chain 10+10 = 20; the pool's serial work 3×10 = 30; work 50/2 = 25 with two slots.
    let rows: &[Row] = &[
        ("x1", Some("p"), &[], 10.0),
        ("x2", Some("p"), &[], 10.0),
        ("x3", Some("p"), &[], 10.0),
        ("y", None, &[], 10.0),
        ("z", None, &["y"], 10.0),
    ];
    assert_eq!(run(rows, &[], None).makespan_lower_bound_minutes, 30.0);
    assert_eq!(run(rows, &[], Some(2)).makespan_lower_bound_minutes, 30.0);
    assert_eq!(run(rows, &[], Some(1)).makespan_lower_bound_minutes, 50.0);
    // The group's bound counts the chain every one of its entries waits for.
    let waits: &[Row] =
        &[("first", None, &[], 10.0), ("p1", Some("p"), &["first"], 5.0), ("p2", Some("p"), &["first"], 5.0)];
    let w = run(waits, &[], None);
    assert_eq!((w.makespan_lower_bound_minutes, w.estimated_makespan_minutes), (20.0, 20.0));
}

#[test]
fn waves_hold_every_constraint() {
    let rows: Vec<Row> = POOL_A
        .iter()
        .copied()
        .chain([
            ("fe1.b", Some("pool.b"), &[][..], 15.0),
            ("fe2.b", Some("pool.b"), &[][..], 25.0),
            ("sql.b", Some("pool.b"), &["fe1.b", "fe2.b"][..], 5.0),
            ("se1", Some("se1"), &[][..], 30.0),
            ("mon", None, &["fe1.a", "fe2.a", "fe3.a", "fe1.b", "fe2.b", "se1"][..], 4.0),
        ])
        .collect();
    for max in [None, Some(1), Some(2), Some(3)] {
        let w = run(&rows, &[("pool.a", "se1")], max);
        let o = owned(&rows);
        for (i, a) in o.iter().enumerate() {
            for (j, b) in o.iter().enumerate() {
                if i != j && w.wave[i] == w.wave[j] {
                    assert_ne!(w.group[i], w.group[j], "{max:?}: {} and {} share a wave and a group", a.fqdn, b.fqdn);
                    assert!(!a.after.contains(&b.fqdn), "{max:?}: {} with {} it comes after", a.fqdn, b.fqdn);
                }
            }
            for b in &a.after {
                let j = o.iter().position(|x| &x.fqdn == b).unwrap_or_else(|| panic!("{b}"));
                assert!(w.wave[j] < w.wave[i], "{max:?}: {} before {}", b, a.fqdn);
            }
        }
        if let Some(m) = max {
            let top = w.wave.iter().copied().max().unwrap_or(0);
            for k in 1..=top {
                assert!(w.wave.iter().filter(|&&x| x == k).count() <= m, "{max:?}: wave {k}");
            }
        }
        assert_eq!(w.group[0], w.group[7], "pool.a and se1 paired: one group");
        assert!(w.estimated_makespan_minutes >= w.makespan_lower_bound_minutes);
    }
}

#[test]
fn one_front_end_at_a_time_keeps_every_pool_above_quorum() {
    // DOMAIN.md §2's table: 2 → 1, 3–4 → 2, 5–6 → 3, 7–9 → 4, 10–12 → 5, 13–16 → 7.
    for n in 2..=16 {
        assert!(one_at_a_time_keeps_quorum(n), "{n} Front Ends");
    }
    assert!(!one_at_a_time_keeps_quorum(1), "a lone Front End has no quorum to keep");
    assert!(!one_at_a_time_keeps_quorum(0));
}

#[test]
fn a_cycle_does_not_hang_the_scheduler() {
    let rows: &[Row] = &[("a", None, &["b"], 1.0), ("b", None, &["a"], 1.0), ("c", None, &[], 1.0)];
    let w = run(rows, &[], None);
    assert!(w.wave.iter().all(|&x| x >= 1), "{:?}", w.wave);
}

#[test]
fn nothing_to_schedule() {
    let w = run(&[], &[], Some(3));
    assert_eq!((w.wave.len(), w.estimated_makespan_minutes, w.makespan_lower_bound_minutes), (0, 0.0, 0.0));
}

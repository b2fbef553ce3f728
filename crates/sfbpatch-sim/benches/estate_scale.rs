//! Scale (issue 12, item 4): generated estates of 500, 2,000 and 8,000 servers
//! (`generate::Spec::servers`: Enterprise pools of 2–12 Front Ends, Standard Edition servers,
//! paired pools, user stores on shared and separate SQL Servers, Director, Edge and Mediation
//! pools in some sites), loaded and planned side by side in one run (the median of alternating
//! runs), the growth against n·log n, then the 2,000-server estate rehearsed through the
//! engine. The makespan against its lower bound is printed for the 2,000-server estate planned
//! with the default scope and with `--scope all` (unlimited parallelism both). Targets on this project's 2-core
//! machine: planning 2,000 servers under 200 ms, rehearsing them under 5 s, growth no worse
//! than n·log n; with the wave scheduler, the estimated makespan within 10% of its lower
//! bound. Run with `cargo bench -p sfbpatch-sim --bench estate_scale` (not part of CI).

use std::time::{Duration, Instant};

use sfbpatch_core::plan::{Plan, PlanRequest, plan};
use sfbpatch_core::readback::Build;
use sfbpatch_core::scope::Scope;
use sfbpatch_core::topology::{self, Topology};
use sfbpatch_sim::estate::EstateOptions;
use sfbpatch_sim::generate::{Spec, estate};
use sfbpatch_sim::rehearse::{RehearseOptions, rehearse};

const SIZES: [usize; 3] = [500, 2_000, 8_000];
const SEED: u64 = 12;

fn fail(what: &str) -> ! {
    println!("FAIL: {what}");
    std::process::exit(1);
}

/// Load and plan, timed together: what `sfbpatch plan` does after reading the file.
fn load_and_plan(xml: &str) -> (Duration, Topology, Plan) {
    let start = Instant::now();
    let t = topology::load("generated.xml", xml.as_bytes()).unwrap_or_else(|e| fail(&e.to_string()));
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| fail(&e.to_string()));
    (start.elapsed(), t, p)
}

/// The plan's estimated makespan against its lower bound, printed; the ratio, when the plan
/// has both.
fn makespan_ratio(p: &Plan, what: &str) -> Option<f64> {
    match (plan_number(p, "estimated_makespan_minutes"), plan_number(p, "makespan_lower_bound_minutes")) {
        (Some(m), Some(lb)) if lb > 0.0 => {
            println!("makespan, {what}: {m:.1} min, lower bound {lb:.1} min, ratio {:.3}", m / lb);
            Some(m / lb)
        }
        _ => {
            println!("makespan, {what}: this build's plan has no makespan estimate yet");
            None
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A number the plan's JSON carries at its top, when this build's plan has it (the wave
/// scheduler adds `estimated_makespan_minutes` and `makespan_lower_bound_minutes`).
fn plan_number(p: &Plan, field: &str) -> Option<f64> {
    serde_json::to_value(p).ok()?.get(field)?.as_f64()
}

fn main() {
    // `cargo test --benches` runs benches once with --test: keep that short.
    let quick = std::env::args().any(|a| a == "--test");
    let rounds = if quick { 1 } else { 7 };
    // For profiling (perf record on the bench binary): only load and plan N servers, 5 times.
    if let Some(n) = std::env::var("SFBPATCH_BENCH_ONLY").ok().and_then(|v| v.parse::<usize>().ok()) {
        let xml = estate(&Spec::servers(n, SEED));
        for _ in 0..5 {
            println!("load + plan {n} servers: {:.3} ms", ms(load_and_plan(&xml).0));
        }
        return;
    }
    let xmls: Vec<String> = SIZES.iter().map(|&n| estate(&Spec::servers(n, SEED))).collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); SIZES.len()];
    let mut entries = [0usize; 3];
    for _ in 0..rounds {
        for (i, xml) in xmls.iter().enumerate() {
            let (d, t, p) = load_and_plan(xml);
            if t.servers.len() != SIZES[i] {
                fail(&format!("the generated estate has {} servers, not {}", t.servers.len(), SIZES[i]));
            }
            entries[i] = p.servers.len();
            times[i].push(d);
        }
    }
    let t: Vec<Duration> = times.into_iter().map(median).collect();
    for (i, n) in SIZES.iter().enumerate() {
        println!("load + plan {n:>5} servers ({:>5} plan entries): {:>9.3} ms", entries[i], ms(t[i]));
    }
    let nlogn = |a: f64, b: f64| (b * b.ln()) / (a * a.ln());
    let r1 = t[1].as_secs_f64() / t[0].as_secs_f64();
    let r2 = t[2].as_secs_f64() / t[1].as_secs_f64();
    let (g1, g2) = (nlogn(500.0, 2_000.0), nlogn(2_000.0, 8_000.0));
    println!("ratio t(2000)/t(500):  {r1:>5.2} (n log n: {g1:.2})");
    println!("ratio t(8000)/t(2000): {r2:>5.2} (n log n: {g2:.2})");

    let (_, topo, p) = load_and_plan(&xmls[1]);
    let ratio = makespan_ratio(&p, "2,000 servers");
    let all = PlanRequest { scope: Scope::All, ..PlanRequest::new("SkypeServerUpdateInstaller.exe") };
    let p_all = plan(&topo, &all).unwrap_or_else(|e| fail(&e.to_string()));
    let ratio_all = makespan_ratio(&p_all, &format!("2,000 servers --scope all ({} entries)", p_all.servers.len()));
    let opts = RehearseOptions {
        estate: EstateOptions { seed: 42, ..EstateOptions::default() },
        package_build: Build([7, 0, 2046, 530]),
        faults: Vec::new(),
        run: Default::default(),
    };
    let start = Instant::now();
    let (r, _) = rehearse(&topo, &p, &opts);
    let tr = start.elapsed();
    let updated = r.servers.iter().filter(|s| s.result.as_str() == "updated").count();
    println!(
        "rehearse 2,000 servers ({} plan entries): {:>9.3} ms ({updated} updated, {:.0} virtual minutes)",
        p.servers.len(),
        ms(tr),
        r.makespan_minutes
    );

    let mut failed = Vec::new();
    if t[1] >= Duration::from_millis(200) {
        failed.push("planning 2,000 servers takes 200 ms or more".to_owned());
    }
    if tr >= Duration::from_secs(5) {
        failed.push("rehearsing 2,000 servers takes 5 s or more".to_owned());
    }
    if updated != p.servers.len() {
        failed.push(format!("{updated} of {} plan entries updated", p.servers.len()));
    }
    if p_all.servers.len() != SIZES[1] {
        failed.push(format!("--scope all plans {} of {} servers", p_all.servers.len(), SIZES[1]));
    }
    for (r, what) in [(ratio, "default scope"), (ratio_all, "--scope all")] {
        if r.is_some_and(|r| r > 1.10) {
            failed.push(format!("the makespan ({what}) is more than 10% above its lower bound"));
        }
    }
    // Growth: the ratios against n log n, with a 25% allowance for timing noise.
    if !quick && (r1 > g1 * 1.25 || r2 > g2 * 1.25) {
        failed.push("planning grows faster than n log n".to_owned());
    }
    if failed.is_empty() {
        println!(
            "ok: planning 2,000 under 200 ms, rehearsal under 5 s, growth within n log n, makespans within 10% of their bounds"
        );
    } else {
        fail(&failed.join("; "));
    }
}

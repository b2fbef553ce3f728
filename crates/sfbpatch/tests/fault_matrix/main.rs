//! The fault matrix (issue 13): every simulator fault kind at every step of every runbook,
//! run in-process through the engine on a virtual clock (`sfbpatch_sim::rehearse`, the engine
//! and transport `run --transport sim` drives), each cell checked against [`expected`], the
//! invariant checked on every cell, and the table written to docs/fault-matrix.md. A few cells
//! also go through the binary's `run --transport sim` and must end exactly the same.

mod binary;
mod expected;
mod table;

use std::time::Instant;

use expected::{End, Expected, Seeded, expected, expected_stop, kind_word, kinds};
use sfbpatch_core::plan::{Plan, PlanRequest, plan};
use sfbpatch_core::readback;
use sfbpatch_core::runbook::{Product, StepId};
use sfbpatch_core::scope::{Runbook, Scope};
use sfbpatch_core::topology::{self, Topology};
use sfbpatch_core::vocab::{Activity, EngineWork};
use sfbpatch_core::{Fqdn, example};
use sfbpatch_engine::{OnFailure, RunOptions};
use sfbpatch_i18n::{Args, Lang};
use sfbpatch_sim::estate::{Estate, EstateOptions};
use sfbpatch_sim::exec::Request;
use sfbpatch_sim::fault::{Fault, FaultError, FaultKind};
use sfbpatch_sim::rehearse::{RehearseOptions, ServerResult, default_builds, rehearse};

/// The seed of every cell. With it a dropped session during the install is applied on
/// the hosts listed in [`INSTALL_DISCONNECT_APPLIED`], and not on the others.
pub const SEED: u64 = 4;

/// The runbooks whose faulted server, with [`SEED`], finds the install applied after its
/// session dropped (exec.rs: `rng.chance(0.5)`, seeded per host). The test fails if the
/// simulator's log says otherwise, so this list is what happens, stated.
const INSTALL_DISCONNECT_APPLIED: &[Runbook] =
    &[Runbook::FrontEnd, Runbook::Director, Runbook::Edge, Runbook::Mediation];

/// The cells where, with [`SEED`], the step's drawn duration × [`expected::SLOW`] passes its
/// timeout (the install is drawn between 8 and 25 minutes, its timeout 60; a graceful stop
/// drains first). Checked against the simulator's log like [`INSTALL_DISCONNECT_APPLIED`].
const SLOW_PAST_TIMEOUT: &[(Runbook, StepId)] = &[
    (Runbook::FrontEnd, StepId::Failover),
    (Runbook::Director, StepId::StopServices),
    (Runbook::Mediation, StepId::StopServices),
    (Runbook::Mediation, StepId::InstallUpdate),
];

/// The cells where, with [`SEED`], the step's own drawn duration passes its timeout without
/// any fault acting on it (a graceful stop that drains past its timeout): seen with the kinds
/// that do not act on the step (`busy` outside readiness, `no-credentials` outside a remote
/// database command). Checked against the simulator's log like the lists above.
const NATURAL_PAST_TIMEOUT: &[(Runbook, StepId)] = &[(Runbook::Mediation, StepId::StopServices)];

/// Whether `kind` leaves `step` to its own duration (it acts on no command of it).
fn inert(kind: &FaultKind, step: StepId) -> bool {
    matches!(kind, FaultKind::Busy if step != StepId::Readiness) || matches!(kind, FaultKind::NoCredentials)
}

/// One runbook's smallest estate that has it, and the server the faults are set on.
pub struct Fixture {
    pub runbook: Runbook,
    pub topology: Topology,
    pub plan: Plan,
    pub server: Fqdn,
    pub product: Product,
}

fn load(name: &str, text: &str) -> Topology {
    topology::load(name, text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn testdata(rel: &str) -> (String, String) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel);
    (rel.to_owned(), std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// (runbook, (topology's name, text), servers planned, faulted server, scope).
type Row<'a> = (Runbook, (String, String), Vec<&'a str>, &'a str, Scope);

fn fixtures() -> Vec<Fixture> {
    let ex = (example::NAME.to_owned(), example::TOPOLOGY_XML.to_owned());
    // The example with pool02's back end carrying Skype for Business (`RequiresSetup="true"`):
    // the seed's procedure on the back end itself (`seed-backend`).
    let seed_backend = (
        "example, sql02 with SfB".to_owned(),
        example::TOPOLOGY_XML.replace(
            r#"RequiresSetup="false" Fqdn="sql02.contoso.local""#,
            r#"RequiresSetup="true" Fqdn="sql02.contoso.local""#,
        ),
    );
    let pool02 = ["fe11.contoso.local", "fe12.contoso.local", "sql02.contoso.local"];
    let rows: Vec<Row> = vec![
        (Runbook::StandardEdition, ex.clone(), vec!["se01.contoso.local"], "se01.contoso.local", Scope::Backends),
        (Runbook::FrontEnd, ex.clone(), vec!["fe11.contoso.local"], "fe11.contoso.local", Scope::Backends),
        (
            Runbook::LyncFrontEnd,
            testdata("topology/mixed-lync2013.xml"),
            vec!["fe11.contoso.local"],
            "fe11.contoso.local",
            Scope::Backends,
        ),
        (Runbook::BackendDatabases, ex.clone(), pool02.to_vec(), "sql02.contoso.local", Scope::Backends),
        (Runbook::SeedBackend, seed_backend, pool02.to_vec(), "sql02.contoso.local", Scope::Backends),
        (Runbook::Director, ex.clone(), vec!["dir01.contoso.local"], "dir01.contoso.local", Scope::All),
        // edge01 is alone in its pool: its stopped services open a users' outage.
        (Runbook::Edge, ex.clone(), vec!["edge01.contoso.local"], "edge01.contoso.local", Scope::All),
        (Runbook::Mediation, ex, vec!["med11.contoso.local"], "med11.contoso.local", Scope::All),
        (
            Runbook::PersistentChat,
            testdata("topology/roles.xml"),
            vec!["pc01.fabrikam.local"],
            "pc01.fabrikam.local",
            Scope::All,
        ),
    ];
    rows.into_iter()
        .map(|(runbook, (name, text), servers, server, scope)| {
            let t = load(&name, &text);
            let server = Fqdn::parse(server).unwrap_or_else(|e| panic!("{e:?}"));
            let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
            req.servers = servers.iter().map(|s| (*s).to_owned()).collect();
            req.scope = scope;
            let mut p = plan(&t, &req).unwrap_or_else(|e| panic!("{runbook}: {e}"));
            if req.package != p.product.installer_name() {
                req.package = p.product.installer_name().to_owned();
                p = plan(&t, &req).unwrap_or_else(|e| panic!("{runbook}: {e}"));
            }
            let sp = p.servers.iter().find(|s| s.fqdn == server).unwrap_or_else(|| panic!("{runbook}: no {server}"));
            assert_eq!(sp.runbook, runbook, "{name}: {server} is planned as {}", sp.runbook);
            assert_eq!(
                p.outage_budget_minutes,
                sfbpatch_core::plan::RESILIENCY_MINUTES,
                "{runbook}: the default budget"
            );
            let product = p.product;
            Fixture { runbook, topology: t, plan: p, server, product }
        })
        .collect()
}

/// The estate options the CLI uses without `--product`, `--from-build` (src/products.rs
/// `estate_options`): each host at its product's simulation default build.
fn estate_options(seed: u64) -> EstateOptions {
    EstateOptions {
        seed,
        initial_build: default_builds(Product::default()).0,
        other_builds: Product::ALL.map(|q| (q, default_builds(q).0)).to_vec(),
        ..EstateOptions::default()
    }
}

/// What one cell ended as, read from the engine's events and the estate.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub end: End,
    pub error: Option<String>,
    pub recovery: Vec<String>,
    /// The faulted command was applied, as the simulator's log says (a dropped session).
    pub applied: bool,
}

fn observe(r: &ServerResult, estate: &Estate, server: &Fqdn, step: StepId) -> (End, Seeded) {
    let attempts = r.timeline.iter().filter(|t| t.step == Activity::Step(step) && t.attempt > 0).count() as u32;
    let reboot = r.timeline.iter().any(|t| t.step == Activity::Engine(EngineWork::Reboot));
    let restored = r.timeline.iter().any(|t| t.step == Activity::Engine(EngineWork::Recovery));
    let failed_over = estate.host(server.as_str()).is_some_and(|h| h.failed_over);
    let ops = || estate.hosts.iter().flat_map(|h| h.oplog.iter()).filter(|o| o.step.as_deref() == Some(step.as_str()));
    let seeded = Seeded {
        applied: ops().any(|o| o.status == "disconnected" && o.applied),
        past_timeout: ops().any(|o| o.status == "timed-out"),
    };
    let end = End {
        result: r.result,
        attempts,
        reboot,
        restored,
        services_running: r.services_running,
        failed_over,
        recovery_listed: !r.recovery.is_empty(),
        loud: r.error.as_deref().is_some_and(|e| is_loud(e, step)),
        over_budget: Some(r.over_budget),
        known_defect: None,
        word: "",
    };
    (end, seeded)
}

/// The catalogue's loud message (`engine.failed-down`) for `step`, whatever the reason.
fn is_loud(error: &str, step: StepId) -> bool {
    let text = sfbpatch_i18n::text(Lang::En, "engine.failed-down");
    let Some((_, tail)) = text.split_once("{why}") else { return false };
    let head = sfbpatch_i18n::fmt(Lang::En, "engine.failed-down", &Args::new().with("step", step).with("why", ""));
    let head = head.strip_suffix(tail).unwrap_or(&head);
    error.starts_with(head) && error.ends_with(tail)
}

/// The invariant of every cell: a server left stopped, with IIS stopped, or failed over has
/// the loud message and recovery commands, and those commands, run on the simulated estate,
/// bring it back.
/// Returns whether the server was left down (and brought back by its commands).
fn check_invariant(cell: &str, r: &ServerResult, mut estate: Estate, server: &Fqdn, step: StepId) -> bool {
    let failed_over = estate.host(server.as_str()).is_some_and(|h| h.failed_over);
    if r.services_running && !failed_over {
        return false;
    }
    let error = r.error.clone().unwrap_or_default();
    assert!(is_loud(&error, step), "{cell}: left down without the loud message: {error:?}");
    assert!(!r.recovery.is_empty(), "{cell}: left down without recovery commands");
    for c in &r.recovery {
        let at = estate.host(server.as_str()).map_or(0, |h| h.clock_ms);
        let x = estate.execute(&Request {
            host: server.as_str(),
            session: None,
            step: None,
            script: c,
            at,
            timeout_ms: 3_600_000,
        });
        // `net start` of a service already running says so with code 2: done, as the engine's
        // own restore reads it (recovery.rs `restore`).
        let done = x.exit_code == 0 || readback::net_already_in_state(true, x.exit_code, &x.stderr);
        assert!(done, "{cell}: recovery command {c:?} failed ({}): {}", x.exit_code, x.stderr);
    }
    let h = estate.host(server.as_str()).unwrap_or_else(|| panic!("{cell}: no host"));
    assert!(h.services_running() && !h.failed_over, "{cell}: the recovery commands did not bring it back");
    true
}

/// A cell run in-process: what the faulted server ended as (the words `run` prints), and
/// whether the simulator applied the faulted command.
pub fn in_process(f: &Fixture, step: StepId, kind: &FaultKind) -> (End, Seeded) {
    let spec = format!("{}:{step}:{}", f.server, kind_word(kind));
    let fault = spec.parse::<Fault>().unwrap_or_else(|e| panic!("{spec}: {e}"));
    let (end, seeded, _, _) = run_in_process(f, fault, OnFailure::Restore);
    (end, seeded)
}

fn run_in_process(f: &Fixture, fault: Fault, on_failure: OnFailure) -> (End, Seeded, ServerResult, Estate) {
    let step = fault.step;
    let opts = RehearseOptions {
        estate: estate_options(SEED),
        package_build: default_builds(f.product).1,
        faults: vec![fault],
        run: RunOptions { on_failure, ..RunOptions::default() },
    };
    let (mut r, estate) = rehearse(&f.topology, &f.plan, &opts);
    let at = r.servers.iter().position(|s| s.fqdn == f.server).unwrap_or_else(|| panic!("{}: not rehearsed", f.server));
    let s = r.servers.swap_remove(at);
    let (end, seeded) = observe(&s, &estate, &f.server, step);
    (end, seeded, s, estate)
}

/// One cell's outcome: refused by the fault parser, or the server's end.
#[derive(Clone, Debug)]
pub struct Cell {
    pub runbook: Runbook,
    pub step: StepId,
    pub kind: FaultKind,
    pub expected: Expected,
}

fn run_cell(f: &Fixture, step: StepId, kind: &FaultKind, mismatches: &mut Vec<String>) -> Cell {
    let spec = format!("{}:{step}:{}", f.server, kind_word(kind));
    let cell = format!("{} × {step} × {}", f.runbook, kind_word(kind));
    let sp = f.plan.servers.iter().find(|s| s.fqdn == f.server).unwrap_or_else(|| panic!("{cell}"));
    let fault = match spec.parse::<Fault>() {
        Ok(fault) => fault,
        Err(e) => {
            let want = expected(sp, step, kind, Seeded::default());
            assert_eq!(want, Expected::Refused, "{cell}: the spec was refused: {e}");
            assert_eq!(e, FaultError::RebootStep, "{cell}");
            return Cell { runbook: f.runbook, step, kind: kind.clone(), expected: want };
        }
    };
    let (got, seeded, r, estate) = run_in_process(f, fault, OnFailure::Restore);
    let s = &r;
    // What the seed drew is stated above; a different draw is a mismatch, not a new truth.
    let stated = Seeded {
        applied: *kind == FaultKind::Disconnect
            && step == StepId::InstallUpdate
            && INSTALL_DISCONNECT_APPLIED.contains(&f.runbook),
        past_timeout: (matches!(kind, FaultKind::Slow(_)) && SLOW_PAST_TIMEOUT.contains(&(f.runbook, step)))
            || (inert(kind, step) && NATURAL_PAST_TIMEOUT.contains(&(f.runbook, step))),
    };
    let drawn = Seeded {
        applied: *kind == FaultKind::Disconnect && step == StepId::InstallUpdate && seeded.applied,
        past_timeout: (matches!(kind, FaultKind::Slow(_)) || inert(kind, step)) && seeded.past_timeout,
    };
    if drawn != stated {
        mismatches.push(format!("{cell}: the seed drew {drawn:?}, the test states {stated:?}"));
    }
    let want = expected(sp, step, kind, stated);
    let Expected::Ends(w) = &want else { panic!("{cell}: expected refused, the spec parsed") };
    let over_budget = w.over_budget.and(got.over_budget);
    let cmp = End { known_defect: w.known_defect, word: w.word, over_budget, ..got };
    if &cmp != w {
        mismatches.push(format!("{cell}:\n  want {w:?}\n  got  {cmp:?}\n  error {:?}", s.error));
    }
    let _ = check_invariant(&cell, s, estate, &f.server, step);
    Cell { runbook: f.runbook, step, kind: kind.clone(), expected: want }
}

#[test]
fn every_fault_kind_at_every_step_of_every_runbook() {
    let started = Instant::now();
    let fixtures = fixtures();
    assert_eq!(
        fixtures.iter().map(|f| f.runbook).collect::<Vec<_>>(),
        Runbook::ALL.to_vec(),
        "every runbook has its estate"
    );
    let (mut cells, mut mismatches) = (Vec::new(), Vec::new());
    for f in &fixtures {
        let sp = f.plan.servers.iter().find(|s| s.fqdn == f.server).unwrap_or_else(|| panic!("{}", f.runbook));
        let steps: Vec<StepId> = sp.steps.iter().map(|s| s.id).collect();
        assert_eq!(steps, f.runbook.steps(), "{}: the plan has every step of its runbook", f.runbook);
        for step in steps {
            for kind in kinds() {
                cells.push(run_cell(f, step, &kind, &mut mismatches));
            }
        }
    }
    assert!(mismatches.is_empty(), "{} of {} cells differ:\n{}", mismatches.len(), cells.len(), mismatches.join("\n"));
    let text = table::render(&cells);
    table::check_or_write(&text);
    eprintln!("fault matrix: {} cells in {:.1} s", cells.len(), started.elapsed().as_secs_f64());
}

/// The invariant where it bites: every `fail` cell again with `--on-failure stop`, which
/// leaves a stopped server as it is. Each such server must carry the loud message and the
/// commands that, run on the simulated estate, bring it back.
#[test]
fn with_on_failure_stop_every_server_left_down_says_so_and_its_commands_bring_it_back() {
    let (mut left_down, mut mismatches) = (0, Vec::new());
    for f in &fixtures() {
        let sp = f.plan.servers.iter().find(|s| s.fqdn == f.server).unwrap_or_else(|| panic!("{}", f.runbook));
        for step in f.runbook.steps().iter().copied() {
            let cell = format!("{} × {step} × fail, --on-failure stop", f.runbook);
            let fault = format!("{}:{step}:fail", f.server).parse::<Fault>().unwrap_or_else(|e| panic!("{e}"));
            let (got, _, r, estate) = run_in_process(f, fault, OnFailure::Stop);
            let want = expected_stop(sp, step);
            let got =
                End { known_defect: None, word: want.word, over_budget: want.over_budget.and(got.over_budget), ..got };
            if got != want {
                mismatches.push(format!("{cell}:\n  want {want:?}\n  got  {got:?}\n  error {:?}", r.error));
            }
            left_down += usize::from(check_invariant(&cell, &r, estate, &f.server, step));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(left_down > 0, "no cell left a server down: the invariant was never exercised");
    eprintln!("--on-failure stop: {left_down} servers left down, each brought back by its commands");
}

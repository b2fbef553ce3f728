//! A step that fails inside the outage: with `--on-failure stop` the server is left down and
//! the recovery commands the report prints bring it back when run on the (simulated) server;
//! by default the engine brings service back itself.

mod common;

use common::*;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::OnFailure;
use sfbpatch_sim::exec::Request;
use sfbpatch_sim::generate;
use sfbpatch_sim::rehearse::rehearse;

fn outage_steps() -> Vec<StepId> {
    StepId::ALL.into_iter().filter(|s| s.spec().in_outage && *s != StepId::CloseShells).collect()
}

/// The servers the seed's literal procedure applies to (DOMAIN.md §1a): Standard Edition.
/// Enterprise back ends are SQL-only; their database step runs on a Front End (issue 10).
const HOSTS: [&str; 1] = ["se01.contoso.local"];

#[test]
fn the_printed_recovery_commands_bring_service_back_after_a_failure_at_any_outage_step() {
    for step in outage_steps() {
        for host in HOSTS {
            let fault = format!("{host}:{step}:fail");
            let mut o = opts(5, &[&fault]);
            o.run.retries = 0;
            o.run.on_failure = OnFailure::Stop;
            let (r, mut e) = rehearse(&example(), &make_plan(&[]), &o);
            let s = server(&r, host);
            assert_eq!(s.result.as_str(), "failed", "{fault}");
            if s.services_running {
                // A failed Stop-CsWindowsService stopped nothing: read back, nothing to recover.
                assert_eq!(step, StepId::StopServices, "{fault}");
                assert!(s.recovery.is_empty());
                continue;
            }
            assert!(!s.recovery.is_empty(), "{fault}: no recovery printed");
            assert!(s.error.as_deref().is_some_and(|e| e.contains("SERVICES ARE STOPPED")), "{fault}: {:?}", s.error);
            e.faults.clear();
            let session = e.open_session(host, e.now());
            for c in &s.recovery {
                let at = e.host(host).map_or(0, |h| h.clock_ms);
                let x = e.execute(&Request { host, session, step: None, script: c, at, timeout_ms: 3_600_000 });
                let ok = x.succeeded() || sfbpatch_core::readback::net_already_in_state(true, x.exit_code, &x.stderr);
                assert!(ok, "{fault}: {c}: {x:?}");
            }
            let h = e.host(host).unwrap_or_else(|| panic!("host"));
            assert!(h.services_running(), "{fault}: still down after recovery");
        }
    }
}

#[test]
fn by_default_the_engine_brings_service_back_itself() {
    for step in outage_steps() {
        for host in HOSTS {
            let fault = format!("{host}:{step}:fail");
            let mut o = opts(6, &[&fault]);
            o.run.retries = 0;
            let (r, _) = rehearse(&example(), &make_plan(&[]), &o);
            let s = server(&r, host);
            assert_eq!(s.result.as_str(), "failed", "{fault}");
            assert!(s.services_running, "{fault}: {:?} {:?}", s.error, s.timeline);
            assert!(s.recovery.is_empty(), "{fault}");
        }
    }
}

#[test]
fn generated_topologies_load_and_rehearse() {
    let xml = generate::topology_xml(30, 20);
    let t = sfbpatch_core::topology::load("gen.xml", xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.servers.len(), 30 * 3 + 20);
    let p = sfbpatch_core::plan::plan(&t, &sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Every Front End, every back end's databases (once), every Standard Edition server.
    assert_eq!(p.servers.len(), 30 * 3 + 20);
    let (r, e) = rehearse(&t, &p, &opts(3, &[]));
    assert_eq!(r.servers.iter().filter(|s| s.result.as_str() == "updated").count(), 110);
    assert!(r.lagging_databases.is_empty());
    // Nothing was ever run on a SQL-only machine.
    assert!(e.hosts.iter().filter(|h| !h.sfb_installed).all(|h| h.oplog.is_empty()));
}

/// A plan of the example's `--scope all` for one server.
fn scope_all_plan(server: &str) -> sfbpatch_core::plan::Plan {
    let mut req = sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.scope = sfbpatch_core::scope::Scope::All;
    req.servers = vec![server.to_owned()];
    sfbpatch_core::plan::plan(&example(), &req).unwrap_or_else(|e| panic!("{e}"))
}

/// An Edge server has no IIS (docs/research/issue12-roles.md §1.1): once its services are
/// brought back after a failure, the read-back must not look for W3SVC and cry "SERVICES ARE
/// STOPPED" with commands to run (it did: the fault matrix's edge × start-services × fail).
#[test]
fn an_edge_server_brought_back_is_not_reported_stopped_for_want_of_iis() {
    let fault = format!("{EDGE}:start-services:fail");
    let (r, e) = rehearse(&example(), &scope_all_plan(EDGE), &opts(4, &[&fault]));
    let s = server(&r, EDGE);
    assert_eq!(s.result.as_str(), "failed");
    assert!(s.services_running && e.host(EDGE).is_some_and(|h| h.services_running()));
    assert!(s.recovery.is_empty(), "{:?}", s.recovery);
    assert!(
        s.error
            .as_deref()
            .is_some_and(|x| x.contains("Service was brought back") && !x.contains("SERVICES ARE STOPPED")),
        "{:?}",
        s.error
    );
}

/// A staging copy whose session dropped (or that got no answer) is tried again, as any step
/// safe to repeat after no answer (attempt.rs `next`); it was a definite failure.
#[test]
fn a_staging_copy_cut_short_is_tried_again() {
    for kind in ["disconnect", "hang"] {
        let fault = format!("{SE}:stage-package:{kind}");
        let (r, _) = se_rehearsal(4, &[], &[&fault]);
        let s = server(&r, SE);
        assert_eq!(s.result.as_str(), "updated", "{fault}: {:?}", s.error);
        let tries: Vec<u32> = s
            .timeline
            .iter()
            .filter(|t| t.step == sfbpatch_core::vocab::Activity::Step(StepId::StagePackage))
            .map(|t| t.attempt)
            .collect();
        assert_eq!(tries, [1, 2], "{fault}");
    }
}

//! A step that fails inside the outage leaves the server down; the recovery commands the
//! report prints bring it back, when run on the (simulated) server.

mod common;

use common::*;
use sfbpatch_core::runbook::StepId;
use sfbpatch_sim::exec::Request;
use sfbpatch_sim::generate;

#[test]
fn the_printed_recovery_commands_bring_service_back_after_a_failure_at_any_outage_step() {
    let outage: Vec<StepId> =
        StepId::ALL.into_iter().filter(|s| s.spec().in_outage && *s != StepId::CloseShells).collect();
    for step in outage {
        for host in ["sql01.contoso.local", "sql02.contoso.local", "se01.contoso.local"] {
            let fault = format!("{host}:{step}:fail");
            let (r, mut e) = rehearsal(5, &[], &[&fault]);
            let s = server(&r, host);
            assert_eq!(s.result, "failed", "{fault}");
            if s.services_running {
                // A failed Stop-CsWindowsService stopped nothing: no outage, nothing to recover.
                assert_eq!(step, StepId::StopServices, "{fault}");
                assert!(s.recovery.is_empty());
                continue;
            }
            assert!(!s.recovery.is_empty(), "{fault}: no recovery printed");
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
fn generated_topologies_load_and_rehearse() {
    let xml = generate::topology_xml(30, 20);
    let t = sfbpatch_core::topology::load("gen.xml", xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.servers.len(), 30 * 3 + 20);
    let p = sfbpatch_core::plan::plan(&t, &sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.servers.len(), 50);
    let (r, _) = sfbpatch_sim::rehearse::rehearse(&t, &p, &opts(3, &[]));
    assert_eq!(r.servers.iter().filter(|s| s.result == "updated").count(), 50);
    assert!(
        r.servers
            .iter()
            .filter(|s| s.fqdn.as_str().starts_with("sql0000"))
            .all(|s| s.role == sfbpatch_core::topology::Role::EnterpriseBackend)
    );
}

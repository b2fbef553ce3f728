//! What breaks if a step is left out: for every step id, the documented consequence, or why
//! leaving it out is harmless in the simulation.

mod common;

use common::*;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::Outcome;
use sfbpatch_sim::rehearse::ServerResult;

const SEED: u64 = 11;

fn skipped(step: StepId) -> Vec<ServerResult> {
    let (r, _) = rehearsal(SEED, &[step], &[]);
    assert_eq!(r.skipped_steps, [step.as_str()]);
    r.servers
}

fn assert_failed_at(servers: &[ServerResult], step: &str, needle: &str) {
    for s in servers {
        assert_eq!(s.result.as_str(), "failed", "{}: {:?}", s.fqdn, s.timeline);
        assert_eq!(s.failed_step.map(|a| a.as_str()), Some(step), "{}: {:?}", s.fqdn, s.error);
        let err = s.error.clone().unwrap_or_default();
        assert!(err.contains(needle), "{}: {err}", s.fqdn);
    }
}

fn assert_updated(servers: &[ServerResult]) {
    for s in servers {
        assert_eq!(s.result.as_str(), "updated", "{}: {:?}", s.fqdn, s.error);
        assert_eq!(s.build_after, TARGET);
        assert!(s.services_running);
    }
}

#[test]
fn baseline_every_server_is_updated() {
    let (r, _) = rehearsal(SEED, &[], &[]);
    assert_updated(&r.servers);
}

#[test]
fn skip_check_role_is_harmless_for_an_administrator_but_it_is_what_catches_a_wrong_account_early() {
    // It only checks: with the right account nothing changes.
    assert_updated(&skipped(StepId::CheckRole));
    // With an account outside CsAdministrator, the check fails before any service stops…
    let mut o = opts(SEED, &[]);
    o.estate.account_is_admin = false;
    let (r, _) = sfbpatch_sim::rehearse::rehearse(&example(), &make_plan(&[]), &o);
    for s in &r.servers {
        assert_eq!(s.failed_step.map(|a| a.as_str()), Some("check-role"));
        assert_eq!(s.outage_minutes, 0.0);
        assert!(s.services_running);
    }
    // …and without the check, the first SfB cmdlet fails (rule 8): still before the outage.
    let (r, _) = sfbpatch_sim::rehearse::rehearse(&example(), &make_plan(&[StepId::CheckRole]), &o);
    for s in &r.servers {
        assert_eq!(s.failed_step.map(|a| a.as_str()), Some("stop-services"), "{:?}", s.error);
        assert_eq!(s.outage_minutes, 0.0);
    }
}

#[test]
fn skip_stage_package_fails_the_install_inside_the_outage() {
    let servers = skipped(StepId::StagePackage);
    assert_failed_at(&servers, "install-update", "is not recognized");
    // Nothing was installed, so the engine could bring service back by starting it.
    assert!(servers.iter().all(|s| s.services_running && s.build_after == s.build_before));
    assert!(
        servers
            .iter()
            .all(|s| s.timeline.iter().any(|t| t.step.as_str() == "recovery" && t.status == Outcome::Succeeded))
    );
}

#[test]
fn skip_open_shell_is_harmless_because_powershell_autoloads_the_module() {
    // PowerShell 3+ imports SkypeForBusiness on the first use of one of its cmdlets, so the
    // first Stop-CsWindowsService still runs; the simulator models that auto-loading.
    assert_updated(&skipped(StepId::OpenShell));
}

#[test]
fn skip_stop_services_fails_the_install_with_files_in_use() {
    let servers = skipped(StepId::StopServices);
    assert_failed_at(&servers, "install-update", "1603");
    assert!(servers.iter().all(|s| s.build_after == s.build_before));
}

#[test]
fn skip_stop_w3svc_fails_the_install_with_files_in_use() {
    let servers = skipped(StepId::StopW3svc);
    assert_failed_at(&servers, "install-update", "W3SVC");
}

#[test]
fn skip_close_shells_forces_a_restart_and_lengthens_the_outage() {
    let (base, _) = rehearsal(SEED, &[], &[]);
    let servers = skipped(StepId::CloseShells);
    for s in &servers {
        assert!(
            s.timeline
                .iter()
                .any(|t| t.step.as_str() == "install-update" && t.status == Outcome::SucceededRebootPending),
            "{:?}",
            s.timeline
        );
        assert!(s.timeline.iter().any(|t| t.step.as_str() == "reboot"));
        let before = server(&base, s.fqdn.as_str()).outage_minutes;
        assert!(s.outage_minutes > before + 2.0, "{}: {} vs {before}", s.fqdn, s.outage_minutes);
    }
    assert_updated(&servers);
}

#[test]
fn skip_install_update_is_caught_by_verify() {
    let servers = skipped(StepId::InstallUpdate);
    assert_failed_at(&servers, "verify", "components not at the new build");
}

#[test]
fn skip_reopen_shell_is_harmless_because_the_old_shells_are_already_closed() {
    // close-shells ended every session opened before the install; whatever runs next needs a
    // session, and that one is opened after the install (rule 4 is met either way). Leaving
    // out both 6 and 8 is what breaks: see skip_close_shells.
    assert_updated(&skipped(StepId::ReopenShell));
}

#[test]
fn skip_stop_services_again_fails_the_database_update() {
    assert_failed_at(&skipped(StepId::StopServicesAgain), "update-databases", "services are running");
}

#[test]
fn skip_start_w3svc_is_caught_by_verify() {
    assert_failed_at(&skipped(StepId::StartW3svc), "verify", "W3SVC");
}

#[test]
fn skip_update_databases_keeps_the_front_end_service_down() {
    let servers = skipped(StepId::UpdateDatabases);
    assert_failed_at(&servers, "start-services", "RTCSRV");
    // The engine's recovery after an install includes the database update, which is what
    // brings the Front-End service up.
    for s in &servers {
        assert!(s.services_running, "{}", s.fqdn);
        assert!(
            s.timeline.iter().any(|t| t.step.as_str() == "recovery" && t.status == Outcome::Succeeded),
            "{:?}",
            s.timeline
        );
    }
}

#[test]
fn skip_start_services_leaves_the_outage_open_until_verify_catches_it() {
    let (r, _) = rehearsal(SEED, &[StepId::StartServices], &[]);
    assert_failed_at(&r.servers, "verify", "services not running");
    for s in &r.servers {
        // The outage stayed open through verify; the engine's recovery closed it.
        let recovery =
            s.timeline.iter().find(|t| t.step.as_str() == "recovery").unwrap_or_else(|| panic!("no recovery"));
        let verify = s.timeline.iter().find(|t| t.step.as_str() == "verify").unwrap_or_else(|| panic!("no verify"));
        assert!(recovery.start_minutes >= verify.start_minutes);
        assert!(s.services_running);
    }
}

#[test]
fn skip_verify_changes_nothing_on_the_servers_but_leaves_the_result_unconfirmed() {
    // verify only reads; the rehearsal still reports the build and services from the host.
    let servers = skipped(StepId::Verify);
    assert_updated(&servers);
}

#[test]
fn every_step_has_a_skip_test() {
    // A guard: adding a step to the runbook without deciding what skipping it means fails here.
    assert_eq!(StepId::ALL.len(), 13);
}

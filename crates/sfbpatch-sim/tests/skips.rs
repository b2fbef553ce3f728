//! What breaks if a step is left out: for every step id, the documented consequence, or why
//! leaving it out is harmless in the simulation. On the Standard Edition server, where the
//! seed's 11 steps apply as written (DOMAIN.md §1a).

mod common;

use common::*;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::Outcome;
use sfbpatch_sim::rehearse::ServerResult;

const SEED: u64 = 11;

fn skipped(step: StepId) -> Vec<ServerResult> {
    let (r, _) = se_rehearsal(SEED, &[step], &[]);
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
    let (r, _) = se_rehearsal(SEED, &[], &[]);
    assert_updated(&r.servers);
}

#[test]
fn skip_check_role_is_harmless_for_an_administrator_but_it_is_the_only_guard_against_a_wrong_account() {
    // It only checks: with the right account nothing changes.
    assert_updated(&skipped(StepId::CheckRole));
    // With an account outside CsAdministrator, the check fails before any service stops…
    let mut o = opts(SEED, &[]);
    o.estate.account_is_admin = false;
    let (r, _) = sfbpatch_sim::rehearse::rehearse(&example(), &se_plan(&[]), &o);
    for s in &r.servers {
        assert_eq!(s.failed_step.map(|a| a.as_str()), Some("check-role"));
        assert_eq!(s.outage_minutes, 0.0);
        assert!(s.services_running);
    }
    // …and without the check nothing stops the run: the Management Shell on the server does
    // not enforce RBAC roles (DOMAIN.md §4 rule 8), so the account's role is only ever
    // judged by this step.
    let (r, _) = sfbpatch_sim::rehearse::rehearse(&example(), &se_plan(&[StepId::CheckRole]), &o);
    assert_updated(&r.servers);
}

#[test]
fn skip_stage_package_fails_the_install_inside_the_outage() {
    let servers = skipped(StepId::StagePackage);
    // Start-Process finds no file (DOMAIN.md §5: the installer is started with Start-Process).
    assert_failed_at(&servers, "install-update", "cannot find the file specified");
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
    let (r, e) = se_rehearsal(SEED, &[StepId::StopW3svc], &[]);
    assert_failed_at(&r.servers, "install-update", "exit code 1603");
    // The installer is a GUI program: why it failed is in its log, not in the shell's streams.
    let logs: String = host(&e, SE).files.values().filter_map(|f| f.content.clone()).collect();
    assert!(logs.contains("files are in use by the running service W3SVC"), "{logs}");
}

#[test]
fn skip_close_shells_forces_a_restart_and_lengthens_the_outage() {
    let (base, _) = se_rehearsal(SEED, &[], &[]);
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
fn skip_stop_services_again_is_harmless_in_the_simulation() {
    // The seed stops the services again "to catch assemblies placed in the Global Assembly
    // Cache"; no documented failure follows from leaving it out (DOMAIN.md §4 has none: the
    // database update does not refuse running services), so the simulator shows none.
    assert_updated(&skipped(StepId::StopServicesAgain));
}

#[test]
fn skip_start_w3svc_is_caught_by_verify() {
    assert_failed_at(&skipped(StepId::StartW3svc), "verify", "W3SVC");
}

#[test]
fn skip_update_databases_is_caught_by_check_databases_not_by_the_services() {
    // Rule 6: the services start on databases not yet updated; a forgotten database update
    // is silent on the server. The rehearsal records it, and Test-CsDatabase (check-databases)
    // is what fails the run.
    let (r, e) = se_rehearsal(SEED, &[StepId::UpdateDatabases], &[]);
    assert_failed_at(&r.servers, "check-databases", "not at their expected version");
    for s in &r.servers {
        assert!(s.services_running, "{}", s.fqdn);
        assert_eq!(s.build_after, TARGET);
    }
    assert!(!r.lagging_databases.is_empty());
    assert!(r.lagging_databases.iter().all(|l| l.server.as_str() == SE && l.schema != TARGET));
    assert!(e.host(SE).is_some_and(|h| h.ahead_of_databases_since.is_some()));
}

#[test]
fn skip_check_databases_is_harmless_when_the_update_ran_but_leaves_it_unproven() {
    assert_updated(&skipped(StepId::CheckDatabases));
}

#[test]
fn skip_start_services_leaves_the_outage_open_until_verify_catches_it() {
    let (r, _) = se_rehearsal(SEED, &[StepId::StartServices], &[]);
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
    // A guard: adding a step to the Standard Edition runbook without deciding what skipping
    // it means fails here.
    assert_eq!(sfbpatch_core::scope::Runbook::StandardEdition.steps().len(), 14);
}

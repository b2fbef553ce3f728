//! DOMAIN.md §4: each rule, broken in exactly its way, and the failure that follows.

mod common;

use common::*;
use sfbpatch_sim::estate::{Estate, ServiceKind};
use sfbpatch_sim::exec::{ExecStatus, package};

const BE: &str = "sql01.contoso.local"; // back end with collocated stores
const BE2: &str = "sql02.contoso.local"; // back end without
const SE: &str = "se01.contoso.local";
const PKG: &str = r"C:\stage\SkypeServerUpdateInstaller.exe";

fn stage(e: &mut Estate, host: &str) {
    let at = e.host(host).map_or(0, |h| h.clock_ms);
    let r = e.put_file(host, None, PKG, package(&"ab".repeat(32), TARGET), at, 600_000);
    assert!(r.succeeded(), "{r:?}");
}

fn install_cmd() -> String {
    format!("& '{PKG}' /silentmode")
}

/// Stops everything the procedure stops, in a session that is then closed.
fn prepare(e: &mut Estate, host: &str) {
    stage(e, host);
    let s = e.open_session(host, 0);
    assert!(run(e, host, s, "Stop-CsWindowsService").succeeded());
    assert!(run(e, host, s, "net stop w3svc").succeeded());
    e.close_sessions(host);
}

fn build(e: &Estate, host: &str) -> String {
    e.host(host).map(|h| h.build().to_string()).unwrap_or_default()
}

#[test]
fn rule1_install_while_services_run_fails_1603_and_changes_nothing() {
    let mut e = estate(1);
    stage(&mut e, BE);
    let r = run(&mut e, BE, None, &install_cmd());
    assert_eq!(r.exit_code, 1603, "{r:?}");
    assert_eq!(build(&e, BE), "7.0.2046.385");
    // Only W3SVC still running is enough to fail.
    let s = e.open_session(BE, 0);
    assert!(run(&mut e, BE, s, "Stop-CsWindowsService").succeeded());
    e.close_sessions(BE);
    let r = run(&mut e, BE, None, &install_cmd());
    assert_eq!(r.exit_code, 1603);
    assert!(r.stderr.contains("W3SVC"), "{}", r.stderr);
    assert_eq!(build(&e, BE), "7.0.2046.385");
}

#[test]
fn rule2_the_installer_needs_the_package_intact_on_the_local_disk() {
    let mut e = estate(1);
    let s = e.open_session(BE, 0);
    run(&mut e, BE, s, "Stop-CsWindowsService");
    run(&mut e, BE, s, "net stop w3svc");
    e.close_sessions(BE);
    let r = run(&mut e, BE, None, &install_cmd());
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("is not recognized"), "{}", r.stderr);
    let mut bad = package(&"cd".repeat(32), TARGET);
    bad.intact = false;
    let at = e.host(BE).map_or(0, |h| h.clock_ms);
    e.put_file(BE, None, PKG, bad, at, 600_000);
    let r = run(&mut e, BE, None, &install_cmd());
    assert_eq!(r.exit_code, 1620, "{r:?}");
    assert_eq!(build(&e, BE), "7.0.2046.385");
}

#[test]
fn rule3_the_installer_leaves_some_services_running_again() {
    for seed in 0..20 {
        let mut e = estate(seed);
        prepare(&mut e, BE);
        let r = run(&mut e, BE, None, &install_cmd());
        assert_eq!(r.exit_code, 0, "{r:?}");
        let h = e.host(BE).unwrap_or_else(|| panic!("host"));
        assert!(h.services.iter().any(|s| s.kind == ServiceKind::Sfb && s.running), "seed {seed}: nothing restarted");
        assert_eq!(h.build().to_string(), "7.0.2046.530");
    }
}

#[test]
fn rule4_a_shell_opened_before_the_install_cannot_run_sfb_cmdlets_after_it() {
    let mut e = estate(3);
    prepare(&mut e, BE);
    let old = e.open_session(BE, 0);
    assert!(run(&mut e, BE, old, "Import-Module SkypeForBusiness").succeeded());
    let r = run(&mut e, BE, None, &install_cmd());
    // The open shell holds files: the installer can only replace them at the next restart.
    assert_eq!(r.exit_code, 3010, "{r:?}");
    let r = run(&mut e, BE, old, "Get-CsWindowsService");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("Could not load file or assembly"), "{}", r.stderr);
    let new = e.open_session(BE, 0);
    assert!(run(&mut e, BE, new, "Get-CsWindowsService").succeeded());
}

#[test]
fn rule5_database_update_fails_while_any_sfb_service_runs() {
    let mut e = estate(4);
    let r =
        run(&mut e, BE2, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("services are running"), "{}", r.stderr);
    prepare(&mut e, BE2);
    assert!(run(&mut e, BE2, None, &install_cmd()).succeeded());
    // The installer restarted some services: the update fails again until they are stopped.
    let r =
        run(&mut e, BE2, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'");
    assert_eq!(r.exit_code, 1);
    let h = e.host(BE2).unwrap_or_else(|| panic!("host"));
    assert!(h.databases.iter().all(|d| d.schema.to_string() == "7.0.2046.385"));
}

#[test]
fn rule6_the_variant_must_match_the_server() {
    let mut e = estate(5);
    for host in [BE, BE2, SE] {
        prepare(&mut e, host);
    }
    // -LocalDatabases only on Standard Edition.
    assert_eq!(run(&mut e, BE2, None, "Install-CsDatabase -Update -LocalDatabases").exit_code, 1);
    assert!(run(&mut e, SE, None, "Install-CsDatabase -Update -LocalDatabases").succeeded());
    // Collocated stores without -ExcludeCollocatedStores fail.
    let r =
        run(&mut e, BE, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("-ExcludeCollocatedStores"), "{}", r.stderr);
    assert!(run(&mut e, BE, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local' -ExcludeCollocatedStores").succeeded());
    assert!(
        run(&mut e, BE2, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'")
            .succeeded()
    );
    // Another server's FQDN is not this back end's.
    assert_eq!(
        run(&mut e, BE2, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'")
            .exit_code,
        1
    );
}

#[test]
fn rule7_front_end_service_cannot_start_on_an_older_schema() {
    let mut e = estate(6);
    prepare(&mut e, BE2);
    assert!(run(&mut e, BE2, None, &install_cmd()).succeeded());
    let r = run(&mut e, BE2, None, "Start-CsWindowsService");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("RTCSRV"), "{}", r.stderr);
    let h = e.host(BE2).unwrap_or_else(|| panic!("host"));
    assert!(!h.services.iter().any(|s| s.name == "RTCSRV" && s.running));
    assert!(run(&mut e, BE2, None, "Stop-CsWindowsService").succeeded());
    assert!(
        run(&mut e, BE2, None, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'")
            .succeeded()
    );
    assert!(run(&mut e, BE2, None, "Start-CsWindowsService").succeeded());
}

#[test]
fn rule8_every_sfb_cmdlet_fails_for_an_account_without_csadministrator() {
    let opts = sfbpatch_sim::estate::EstateOptions { account_is_admin: false, ..Default::default() };
    let mut e = sfbpatch_sim::estate::Estate::new(&example(), &opts);
    for cmd in [
        "Get-CsAdminRoleAssignment -Identity \"$env:USERDOMAIN\\$env:USERNAME\"",
        "Stop-CsWindowsService",
        "Start-CsWindowsService",
        "Get-CsWindowsService",
        "Get-CsServerPatchVersion",
        "Install-CsDatabase -Update -LocalDatabases",
    ] {
        let r = run(&mut e, SE, None, cmd);
        assert_eq!(r.exit_code, 1, "{cmd}");
        assert!(r.stderr.contains("CsAdministrator"), "{cmd}: {}", r.stderr);
    }
    assert!(run(&mut e, SE, None, "net stop w3svc").succeeded(), "not an SfB cmdlet");
}

#[test]
fn rule9_durations_are_seeded_and_the_budget_is_usually_but_not_always_met() {
    let mut over = 0;
    let mut total = 0.0;
    let n = 200;
    for seed in 0..n {
        let (r, _) = rehearsal(seed, &[], &[]);
        let s = server(&r, BE2);
        assert_eq!(s.result.as_str(), "updated", "seed {seed}: {:?}", s.error);
        total += s.outage_minutes;
        if s.outage_minutes >= 30.0 {
            over += 1;
        }
    }
    let mean = total / n as f64;
    assert!((15.0..30.0).contains(&mean), "mean outage {mean}");
    eprintln!("mean outage {mean:.1} min, {over} of {n} over 30 minutes");
    assert!(over > 0 && over < n / 3, "{over} of {n} over 30 minutes");
}

#[test]
fn rule10_users_by_pool_from_service_states() {
    // slow=3 on the install pushes sql02 far past 30 minutes.
    let (r, _) = rehearsal(9, &[], &["sql02.contoso.local:install-update:slow=3"]);
    let be = server(&r, BE2);
    assert!(be.outage_minutes > 30.0);
    let pool = r.pools.iter().find(|p| p.fqdn.as_str() == "pool02.contoso.local").unwrap_or_else(|| panic!("pool"));
    assert!(
        (pool.resiliency_minutes - (be.longest_outage_minutes - 30.0)).abs() < 0.02,
        "{pool:?} vs {}",
        be.outage_minutes
    );
    let se = server(&r, SE);
    let se_pool = r.pools.iter().find(|p| p.fqdn.as_str() == SE).unwrap_or_else(|| panic!("pool"));
    assert!((se_pool.signed_out_minutes - se.outage_minutes).abs() < 0.02);
    assert_eq!(se_pool.resiliency_minutes, 0.0);
}

#[test]
fn unknown_commands_parameters_and_syntax_fail_as_in_powershell() {
    let mut e = estate(1);
    let r = run(&mut e, SE, None, "Stop-CsWindowsServce");
    assert!(r.stderr.contains("is not recognized as the name of a cmdlet"), "{}", r.stderr);
    let r = run(&mut e, SE, None, "Install-CsDatabase -Update -LocalDatabase");
    assert!(
        r.stderr.contains("A parameter cannot be found that matches parameter name 'LocalDatabase'"),
        "{}",
        r.stderr
    );
    let r = run(&mut e, SE, None, "Install-CsDatabase -Update -SqlServerFqdn 'unterminated");
    assert!(r.stderr.starts_with("ParserError"), "{}", r.stderr);
    let r = run(&mut e, SE, None, "Import-Module Lync");
    assert!(r.stderr.contains("no valid module file"), "{}", r.stderr);
}

#[test]
fn restart_brings_auto_start_services_back_and_clears_a_pending_reboot() {
    let mut e = estate(2);
    prepare(&mut e, BE2);
    let s = e.open_session(BE2, 0);
    run(&mut e, BE2, s, "Import-Module SkypeForBusiness");
    assert_eq!(run(&mut e, BE2, None, &install_cmd()).exit_code, 3010);
    assert_eq!(run(&mut e, BE2, None, "Start-CsWindowsService").exit_code, 1, "pending restart");
    let boot_before = e.host(BE2).map_or(0, |h| h.boot_ms);
    assert!(run(&mut e, BE2, None, "Restart-Computer -Force").succeeded());
    let r = run(&mut e, BE2, None, "Get-CsWindowsService");
    assert_eq!(r.status, ExecStatus::Unreachable);
    let h = e.host(BE2).unwrap_or_else(|| panic!("host"));
    assert!(!h.pending_reboot);
    assert!(h.boot_ms > boot_before);
    assert!(h.services.iter().filter(|s| s.name == "W3SVC" || s.name == "REPLICA").all(|s| s.running));
    // The schema is still old: RTCSRV stays down after the restart (rule 7).
    assert!(!h.services.iter().any(|s| s.name == "RTCSRV" && s.running));
}

//! DOMAIN.md §4 (as corrected): each rule, and exactly what follows from it, on the bundled
//! example estate (pool01: fe01–fe03 on SQL-only sql01, which also holds Archiving and
//! Monitoring on a second instance; pool02: fe11–fe12 on SQL-only sql02; Standard Edition
//! se01; edge01). Front End pools, failover and quorum (rule 7): tests/pools.rs.

mod common;

use common::*;
use sfbpatch_core::readback_pool::parse_test_database;
use sfbpatch_sim::estate::{Estate, ServiceKind};
use sfbpatch_sim::exec::{ExecStatus, Execution, Request, package, sfb_cmdlets};
use sfbpatch_sim::users::pool_users;

// Rule 1 -------------------------------------------------------------------------------

#[test]
fn rule1_a_sql_only_machine_has_sql_server_and_its_databases_only() {
    let e = estate(1);
    let names = |h: &str| host(&e, h).services.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(SQL1), ["MSSQL$ARCHMON", "MSSQL$SFBBE"]);
    assert_eq!(names(SQL2), ["MSSQL$SFBBE"]);
    assert!(!host(&e, SQL1).sfb_installed);
    assert!(host(&e, SQL1).components.is_empty(), "no SfB components");
    let dbs: Vec<&str> = host(&e, SQL1).databases.iter().map(|d| d.name.as_str()).collect();
    for db in ["rtcxds", "rtcshared", "rtcab", "xds", "lis", "LcsLog", "LcsCDR", "QoEMetrics"] {
        assert!(dbs.contains(&db), "{db} missing from {dbs:?}");
    }
    // Front Ends: SfB services, Windows Fabric, IIS; no databases.
    let fe = names(FE1);
    for s in ["RTCSRV", "RTCCLSAGT", "REPLICA", "FabricHostSvc", "W3SVC"] {
        assert!(fe.contains(&s.to_owned()), "{s} missing on a Front End: {fe:?}");
    }
    assert!(host(&e, FE1).databases.is_empty());
    // Standard Edition: everything, its SQL Express instance and local databases included.
    let se = names(SE);
    for s in ["RTCSRV", "W3SVC", "MSSQL$RTC"] {
        assert!(se.contains(&s.to_owned()), "{s} missing on SE: {se:?}");
    }
    assert!(!se.contains(&"FabricHostSvc".to_owned()));
    // Edge: SfB services, no databases to update, no IIS.
    let edge = host(&e, EDGE);
    assert!(edge.services.iter().any(|s| s.kind == ServiceKind::Sfb));
    assert!(edge.databases.is_empty());
    assert!(!edge.services.iter().any(|s| s.kind == ServiceKind::Iis || s.kind == ServiceKind::Sql));
}

#[test]
fn rule1_no_sfb_cmdlet_succeeds_on_a_sql_only_host() {
    let mut e = estate(1);
    let names = sfb_cmdlets();
    assert!(names.len() >= 13, "{names:?}");
    for name in names {
        for script in [name.to_owned(), format!("{name} -PoolFqdn 'pool01.contoso.local'")] {
            let r = run(&mut e, SQL1, None, &script);
            assert_eq!(r.exit_code, 1, "{script}: {r:?}");
            assert_eq!(
                r.stderr,
                format!(
                    "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. \
Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
                ),
                "{script}"
            );
            assert!(!last_applied(&e, SQL1), "{script} changed the host");
        }
    }
    let r = run(&mut e, SQL1, None, "Import-Module SkypeForBusiness");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("no valid module file"), "{}", r.stderr);
}

#[test]
fn rule1_w3svc_and_the_installer_fail_on_a_sql_only_host() {
    let mut e = estate(1);
    for verb in ["stop", "start"] {
        let r = run(&mut e, SQL2, None, &format!("net {verb} w3svc"));
        assert_eq!(r.exit_code, 2, "{r:?}");
        assert_eq!(r.stderr, "The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.\n");
    }
    stage(&mut e, SQL2);
    let r = run(&mut e, SQL2, None, &install_cmd());
    assert_ne!(r.exit_code, 0, "{r:?}");
    assert!(host(&e, SQL2).components.is_empty());
    assert!(host(&e, SQL2).databases.iter().all(|d| d.schema.to_string() == OLD));
    // Its SQL Server is a Windows service like any other.
    let r = run(&mut e, SQL2, None, "Get-Service -Name 'MSSQL$SFBBE'");
    assert!(r.succeeded() && r.stdout.contains("Running"), "{r:?}");
}

// Rule 2 -------------------------------------------------------------------------------

#[test]
fn rule2_install_while_services_run_fails_1603_and_changes_nothing() {
    for h in [SE, FE1] {
        let mut e = estate(1);
        stage(&mut e, h);
        let r = run(&mut e, h, None, &install_cmd());
        assert_eq!(r.exit_code, 1603, "{h}: {r:?}");
        assert_eq!(host(&e, h).build().to_string(), OLD);
        // Only W3SVC still running is enough to fail.
        assert!(run(&mut e, h, None, "Stop-CsWindowsService").succeeded());
        let r = run(&mut e, h, None, &install_cmd());
        assert_eq!(r.exit_code, 1603);
        // A GUI program: what it says is in its log, not in the caller's streams (DOMAIN.md §5).
        let logs: String = host(&e, h).files.values().filter_map(|f| f.content.clone()).collect();
        assert!(logs.contains("running service W3SVC"), "{logs}");
        assert_eq!(host(&e, h).build().to_string(), OLD);
    }
}

#[test]
fn rule2_the_installer_needs_the_package_intact_on_the_local_disk() {
    let mut e = estate(1);
    assert!(run(&mut e, SE, None, "Stop-CsWindowsService").succeeded());
    assert!(run(&mut e, SE, None, "net stop w3svc").succeeded());
    let r = run(&mut e, SE, None, &install_cmd());
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("cannot find the file specified"), "{}", r.stderr);
    let mut bad = package(&"cd".repeat(32), TARGET);
    bad.intact = false;
    let at = host(&e, SE).clock_ms;
    e.put_file(SE, None, PKG, bad, at, 600_000);
    let r = run(&mut e, SE, None, &install_cmd());
    assert_eq!(r.exit_code, 1620, "{r:?}");
    assert_eq!(host(&e, SE).build().to_string(), OLD);
}

#[test]
fn rule2_the_installer_leaves_some_services_running_again() {
    for seed in 0..20 {
        let mut e = estate(seed);
        prepare(&mut e, SE);
        let r = run(&mut e, SE, None, &install_cmd());
        assert_eq!(r.exit_code, 0, "{r:?}");
        let h = host(&e, SE);
        assert!(h.services.iter().any(|s| s.kind == ServiceKind::Sfb && s.running), "seed {seed}: nothing restarted");
        assert_eq!(h.build().to_string(), NEW);
    }
}

#[test]
fn rule2_the_installer_never_restarts_the_disabled_services_of_a_failed_over_front_end() {
    for seed in 0..10 {
        let mut e = estate(seed);
        stage(&mut e, FE1);
        let r = run(&mut e, FE1, None, "Invoke-CsComputerFailOver -ComputerName 'fe01.contoso.local'");
        assert!(r.succeeded(), "{r:?}");
        assert!(run(&mut e, FE1, None, "net stop w3svc").succeeded());
        let r = run(&mut e, FE1, None, &install_cmd());
        assert_eq!(r.exit_code, 0, "seed {seed}: {r:?}");
        let h = host(&e, FE1);
        assert!(h.services.iter().filter(|s| s.kind == ServiceKind::Sfb).all(|s| !s.running && s.disabled));
    }
}

#[test]
fn rule2_a_shell_left_open_during_the_install_forces_a_restart() {
    let mut e = estate(3);
    prepare(&mut e, SE);
    let old = e.open_session(SE, 0);
    assert!(run(&mut e, SE, old, "Import-Module SkypeForBusiness").succeeded());
    let r = run(&mut e, SE, None, &install_cmd());
    assert_eq!(r.exit_code, 3010, "{r:?}");
    assert!(host(&e, SE).pending_reboot);
}

#[test]
fn rule2_the_installing_shell_that_loaded_the_module_itself_forces_a_restart() {
    // A shell kept for many commands that ran SfB cmdlets before the install holds the files
    // as any other open Management Shell does (the seed's step 6).
    let mut e = estate(3);
    prepare(&mut e, SE);
    let kept = e.open_session(SE, 0);
    assert!(run(&mut e, SE, kept, "Get-CsWindowsService").succeeded());
    let r = run(&mut e, SE, kept, &install_cmd());
    assert_eq!(r.exit_code, 3010, "{r:?}");
    assert!(host(&e, SE).pending_reboot);
}

#[test]
fn rule2_a_shell_whose_process_is_gone_holds_nothing() {
    use sfbpatch_sim::estate::SessionProcess;
    let dead = SessionProcess { pid: 1, start: Some(1) };
    for (alive, want) in [(true, 3010), (false, 0)] {
        let mut e = estate(3);
        prepare(&mut e, SE);
        let old = e.open_session(SE, 0).unwrap_or_else(|| panic!("no session"));
        assert!(run(&mut e, SE, Some(old), "Import-Module SkypeForBusiness").succeeded());
        if let Some(s) = e.host_mut(SE).and_then(|h| h.sessions.iter_mut().find(|s| s.id == old)) {
            s.process = Some(dead);
        }
        e.close_orphans(|p| alive && *p == dead);
        let r = run(&mut e, SE, None, &install_cmd());
        assert_eq!(r.exit_code, want, "process alive: {alive}: {r:?}");
    }
}

// Rule 3 -------------------------------------------------------------------------------

#[test]
fn rule3_a_shell_opened_before_the_install_cannot_run_sfb_cmdlets_after_it() {
    let mut e = estate(3);
    prepare(&mut e, SE);
    let old = e.open_session(SE, 0);
    assert!(run(&mut e, SE, old, "Import-Module SkypeForBusiness").succeeded());
    assert_eq!(run(&mut e, SE, None, &install_cmd()).exit_code, 3010);
    let r = run(&mut e, SE, old, "Get-CsWindowsService");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("Could not load file or assembly"), "{}", r.stderr);
    let new = e.open_session(SE, 0);
    assert!(run(&mut e, SE, new, "Get-CsWindowsService").succeeded());
}

// Rule 4 -------------------------------------------------------------------------------

const UPDATE_SQL2: &str = "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'";

#[test]
fn rule4_an_updated_front_end_updates_every_database_of_the_sql_server_remotely() {
    let mut e = estate_with_package(4);
    update(&mut e, FE11);
    // Front End services running: the documented way runs the update on a serving server.
    assert!(host(&e, FE11).all_sfb_running(host(&e, FE11).clock_ms));
    let r = run(&mut e, FE11, None, UPDATE_SQL2);
    assert!(r.succeeded(), "{r:?}");
    assert!(r.stdout.starts_with("Updated databases: sfbbe:"), "{}", r.stdout);
    assert!(schemas(&e, SQL2).iter().all(|s| s == NEW), "{:?}", schemas(&e, SQL2));
    // While it ran, the back end's databases were unavailable (rule 10).
    let busy = &host(&e, SQL2).busy_intervals;
    assert_eq!(busy.len(), 1);
    assert!(busy[0].1 > busy[0].0);
    // Again: nothing left to do.
    let r = run(&mut e, FE11, None, UPDATE_SQL2);
    assert_eq!(r.stdout, "The databases are already up to date.\n");
}

#[test]
fn rule4_from_a_host_at_an_older_build_it_fails_and_changes_nothing() {
    let mut e = estate_with_package(4);
    update(&mut e, FE11);
    let r = run(&mut e, FE12, None, UPDATE_SQL2);
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stderr.contains("older than the installed update 7.0.2046.530"), "{}", r.stderr);
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD));
    assert!(host(&e, SQL2).busy_intervals.is_empty());
    assert!(!last_applied(&e, FE12));
}

#[test]
fn rule4_without_network_credentials_it_fails_and_changes_nothing() {
    // An estate option (public-key SSH logons: DOMAIN.md §5)…
    let opts = sfbpatch_sim::estate::EstateOptions { network_credentials: false, ..Default::default() };
    let mut e = Estate::new(&example(), &opts);
    e.package_build = Some(TARGET);
    update(&mut e, FE11);
    let r = run(&mut e, FE11, None, UPDATE_SQL2);
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'"), "{}", r.stderr);
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD));
    // …or a fault on the step, set on the SQL Server the command names.
    let mut e = estate_with_package(4);
    e.faults = vec!["sql02.contoso.local:update-databases:no-credentials".parse().unwrap_or_else(|x| panic!("{x}"))];
    update(&mut e, FE11);
    let at = host(&e, FE11).clock_ms;
    let step = Some(sfbpatch_core::runbook::StepId::UpdateDatabases);
    let r = e.execute(&Request { host: FE11, session: None, step, script: UPDATE_SQL2, at, timeout_ms: 3_600_000 });
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stderr.contains("ANONYMOUS LOGON"), "{}", r.stderr);
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD));
    assert!(run(&mut e, FE11, None, UPDATE_SQL2).succeeded(), "the fault fires once");
}

#[test]
fn rule4_mirrored_databases_refuse_update() {
    let mut e = estate_with_package(4);
    if let Some(h) = e.host_mut(SQL2) {
        h.mirrored = true;
    }
    update(&mut e, FE11);
    let r = run(&mut e, FE11, None, UPDATE_SQL2);
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("cannot be used against mirrored databases"), "{}", r.stderr);
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD));
}

#[test]
fn rule4_exclude_collocated_stores_only_silences_a_warning() {
    for switch in ["", " -ExcludeCollocatedStores"] {
        let mut e = estate_with_package(5);
        update(&mut e, FE1);
        let cmd =
            format!("Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'{switch}");
        let r = run(&mut e, FE1, None, &cmd);
        assert!(r.succeeded(), "{cmd}: {r:?}");
        // Every database, Archiving and Monitoring on the second instance included.
        assert!(schemas(&e, SQL1).iter().all(|s| s == NEW), "{cmd}: {:?}", schemas(&e, SQL1));
        assert!(r.stdout.contains("archmon:LcsCDR"), "{}", r.stdout);
        assert_eq!(r.stdout.starts_with("WARNING:"), switch.is_empty(), "{}", r.stdout);
    }
}

#[test]
fn rule4_local_databases_on_standard_edition_only() {
    let mut e = estate_with_package(5);
    prepare(&mut e, SE);
    assert_eq!(run(&mut e, SE, None, &install_cmd()).exit_code, 0);
    assert_eq!(run(&mut e, FE1, None, "Install-CsDatabase -Update -LocalDatabases").exit_code, 1);
    let r = run(&mut e, SE, None, "Install-CsDatabase -Update -LocalDatabases");
    assert!(r.succeeded(), "{r:?}");
    assert!(schemas(&e, SE).iter().all(|s| s == NEW));
}

#[test]
fn rule4_a_sql_server_that_does_not_answer_is_not_updated() {
    let mut e = estate_with_package(5);
    update(&mut e, FE11);
    assert!(run(&mut e, SQL2, None, "net stop 'MSSQL$SFBBE'").succeeded());
    let r = run(&mut e, FE11, None, UPDATE_SQL2);
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("error occurred while establishing a connection"), "{}", r.stderr);
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD));
    let r = run(
        &mut e,
        FE11,
        None,
        "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'nowhere.contoso.local'",
    );
    assert_eq!(r.exit_code, 1);
}

// Rule 5 -------------------------------------------------------------------------------

const TEST_SQL2: &str = "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'";

#[test]
fn rule5_test_csdatabase_lists_each_database_in_microsofts_format() {
    let mut e = estate_with_package(6);
    let r = run(&mut e, FE12, None, TEST_SQL2);
    assert!(r.succeeded(), "{r:?}");
    let first = "\nSqlServerFqdn         : sql02.contoso.local\nSqlInstanceName       : sfbbe\nMirrorSqlServerFqdn   :\nMirrorSqlInstanceName :\nDatabaseName          : rgsconfig\nDataSource            : sql02.contoso.local\\sfbbe\nSQLServerVersion      : 13.0.5026\nExpectedVersion       : 7.0.2046.385\nInstalledVersion      : 7.0.2046.385\nSucceed               : True\n\nSqlServerFqdn         : sql02.contoso.local\n";
    assert!(r.stdout.starts_with(first), "{}", r.stdout);
    let dbs = parse_test_database(&r.stdout);
    let names: Vec<&str> = dbs.iter().map(|d| d.database.as_str()).collect();
    assert_eq!(names, ["rgsconfig", "rgsdyn", "cpsdyn", "rtcxds", "rtcshared", "rtcab"]);
    assert!(dbs.iter().all(|d| d.current && d.instance == "sfbbe" && d.sql_server_fqdn == SQL2));
    // From an updated Front End every database is behind what it expects, with the warnings
    // of Microsoft's failure sample; after the update, every one is current.
    update(&mut e, FE11);
    let r = run(&mut e, FE11, None, TEST_SQL2);
    assert!(r.succeeded(), "Test-CsDatabase reports, it does not fail: {r:?}");
    let dbs = parse_test_database(&r.stdout);
    assert_eq!(dbs.len(), 6);
    assert!(dbs.iter().all(|d| !d.current && d.expected == NEW && d.installed == OLD), "{dbs:?}");
    assert!(r.stdout.contains("\nWARNING: Test-CsDatabase encountered errors."), "{}", r.stdout);
    assert!(r.stdout.contains("errors (6) and warnings (0)"), "{}", r.stdout);
    assert!(run(&mut e, FE11, None, UPDATE_SQL2).succeeded());
    let r = run(&mut e, FE11, None, TEST_SQL2);
    assert!(parse_test_database(&r.stdout).iter().all(|d| d.current && d.installed == NEW));
    assert!(!r.stdout.contains("WARNING"));
    // Every database of the SQL Server, whatever the instance.
    let r = run(&mut e, FE11, None, "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'");
    let dbs = parse_test_database(&r.stdout);
    assert_eq!(dbs.iter().filter(|d| d.instance == "archmon").count(), 3, "{dbs:?}");
    assert_eq!(dbs.len(), 11, "{dbs:?}");
    // Not on a machine without Skype for Business.
    assert_eq!(run(&mut e, SQL2, None, TEST_SQL2).exit_code, 1);
}

// Rule 6 -------------------------------------------------------------------------------

#[test]
fn rule6_front_ends_keep_running_on_older_databases_and_it_is_recorded() {
    let mut e = estate_with_package(6);
    assert!(e.schema_lag().is_empty());
    update(&mut e, FE11);
    // The Front-End service started on the old schema.
    let h = host(&e, FE11);
    assert!(h.services.iter().any(|s| s.name == "RTCSRV" && s.running));
    assert!(h.ahead_of_databases_since.is_some());
    let lag = e.schema_lag();
    assert_eq!(lag.len(), 6, "{lag:?}");
    assert!(lag.iter().all(|l| l.server.as_str() == FE11 && l.sql_server.as_str() == SQL2));
    // A restart does not change it either.
    assert!(run(&mut e, FE11, None, "Restart-Computer -Force").succeeded());
    let back = host(&e, FE11).unreachable_until;
    let r = e.execute(&Request {
        host: FE11,
        session: None,
        step: None,
        script: "Get-CsWindowsService",
        at: back,
        timeout_ms: 60_000,
    });
    assert!(r.stdout.contains("Running RTCSRV"), "{}", r.stdout);
    assert!(run(&mut e, FE11, None, UPDATE_SQL2).succeeded());
    assert!(e.schema_lag().is_empty());
    assert!(host(&e, FE11).ahead_of_databases_since.is_none());
}

// Rule 8 -------------------------------------------------------------------------------

#[test]
fn rule8_the_local_shell_does_not_enforce_rbac_roles_but_says_what_they_are() {
    let opts = sfbpatch_sim::estate::EstateOptions { account_is_admin: false, ..Default::default() };
    let mut e = Estate::new(&example(), &opts);
    let r = run(&mut e, SE, None, "Get-CsAdminRoleAssignment -Identity \"$env:USERNAME\"");
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.stdout, "\nCsViewOnlyAdministrator\n\n");
    // The cmdlet takes the SamAccountName: DOMAIN\user finds nothing (DOMAIN.md §5).
    let r = run(&mut e, SE, None, "Get-CsAdminRoleAssignment -Identity \"$env:USERDOMAIN\\$env:USERNAME\"");
    assert!(!r.succeeded() && r.stderr.contains("Management object not found"), "{r:?}");
    for cmd in ["Stop-CsWindowsService", "Get-CsWindowsService", "Get-CsServerPatchVersion", "Start-CsWindowsService"] {
        let r = run(&mut e, SE, None, cmd);
        assert!(r.succeeded(), "{cmd}: {r:?}");
    }
}

#[test]
fn rule8_the_database_update_needs_sql_sysadmin_rights_on_the_target() {
    let opts = sfbpatch_sim::estate::EstateOptions { sql_sysadmin: false, ..Default::default() };
    let mut e = Estate::new(&example(), &opts);
    e.package_build = Some(TARGET);
    update(&mut e, FE11);
    let r = run(&mut e, FE11, None, UPDATE_SQL2);
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("sysadmin"), "{}", r.stderr);
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD));
}

// Rule 9 -------------------------------------------------------------------------------

#[test]
fn rule9_durations_are_seeded_and_the_budget_is_usually_but_not_always_met() {
    let mut over = 0;
    let mut total = 0.0;
    let n = 200;
    for seed in 0..n {
        let (r, _) = rehearsal(seed, &[], &[]);
        let s = server(&r, SE);
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

// Rule 10 ------------------------------------------------------------------------------

fn at(e: &mut Estate, h: &str, script: &str, when: u64) -> Execution {
    e.execute(&Request { host: h, session: None, step: None, script, at: when, timeout_ms: 3_600_000 })
}

fn pool<'a>(p: &'a [sfbpatch_sim::users::PoolUsers], fqdn: &str) -> &'a sfbpatch_sim::users::PoolUsers {
    p.iter().find(|x| x.fqdn.as_str() == fqdn).unwrap_or_else(|| panic!("no pool {fqdn}"))
}

#[test]
fn rule10_an_enterprise_back_end_unavailable_past_30_minutes_puts_its_pool_in_resiliency() {
    let mut e = estate(7);
    let stop = at(&mut e, SQL2, "net stop 'MSSQL$SFBBE'", 0);
    assert!(stop.succeeded(), "{stop:?}");
    let start = at(&mut e, SQL2, "net start 'MSSQL$SFBBE'", stop.end_ms + 42 * 60_000);
    assert!(start.succeeded(), "{start:?}");
    let down = start.end_ms - stop.end_ms;
    let pools = pool_users(&example(), &e, e.now());
    let p2 = pool(&pools, "pool02.contoso.local");
    let expected = sfbpatch_core::vocab::minutes_up(down - 30 * 60_000);
    assert_eq!(p2.resiliency_minutes, expected);
    assert_eq!(p2.signed_out_minutes, 0.0, "resiliency mode is not signed out");
    assert_eq!(pool(&pools, "pool01.contoso.local").resiliency_minutes, 0.0);
}

#[test]
fn rule10_a_database_update_makes_the_back_end_unavailable_while_it_runs() {
    let mut e = estate_with_package(7);
    update(&mut e, FE11);
    assert!(run(&mut e, FE11, None, UPDATE_SQL2).succeeded());
    let (s, end) = host(&e, SQL2).busy_intervals[0];
    assert_eq!(host(&e, SQL2).down_intervals_until(e.now()), [(s, end)]);
    // A few minutes: no resiliency. The same update slowed past 30 minutes: resiliency.
    let pools = pool_users(&example(), &e, e.now());
    assert_eq!(pool(&pools, "pool02.contoso.local").resiliency_minutes, 0.0);
    let mut e = estate_with_package(7);
    e.faults = vec!["fe11.contoso.local:update-databases:slow=20".parse().unwrap_or_else(|x| panic!("{x}"))];
    update(&mut e, FE11);
    let when = host(&e, FE11).clock_ms;
    let step = Some(sfbpatch_core::runbook::StepId::UpdateDatabases);
    let r = e.execute(&Request {
        host: FE11,
        session: None,
        step,
        script: UPDATE_SQL2,
        at: when,
        timeout_ms: 10 * 3_600_000,
    });
    assert!(r.succeeded(), "{r:?}");
    let (s, end) = host(&e, SQL2).busy_intervals[0];
    assert!(end - s > 30 * 60_000);
    let pools = pool_users(&example(), &e, e.now());
    assert_eq!(
        pool(&pools, "pool02.contoso.local").resiliency_minutes,
        sfbpatch_core::vocab::minutes_up(end - s - 30 * 60_000)
    );
}

#[test]
fn rule10_standard_edition_users_are_signed_out_while_its_services_are_stopped() {
    let mut e = estate(8);
    let stop = at(&mut e, SE, "Stop-CsWindowsService", 0);
    let start = at(&mut e, SE, "Start-CsWindowsService", stop.end_ms + 10 * 60_000);
    assert!(start.succeeded());
    let down: Vec<(u64, u64)> = host(&e, SE).down_intervals_until(e.now());
    assert_eq!(down.len(), 1, "{down:?}");
    assert!(down[0].0 >= stop.start_ms && down[0].0 < stop.end_ms, "the outage starts as the services stop");
    assert_eq!(down[0].1, start.end_ms, "and ends when they are started");
    let pools = pool_users(&example(), &e, e.now());
    let se = pool(&pools, SE);
    assert_eq!(se.signed_out_minutes, sfbpatch_core::vocab::minutes_up(down[0].1 - down[0].0), "{se:?}");
    assert_eq!(se.resiliency_minutes, 0.0);
    assert_eq!(se.moves, 0);
}

#[test]
fn restart_brings_auto_start_services_back_and_clears_a_pending_reboot() {
    let mut e = estate(2);
    prepare(&mut e, SE);
    let s = e.open_session(SE, 0);
    run(&mut e, SE, s, "Import-Module SkypeForBusiness");
    assert_eq!(run(&mut e, SE, None, &install_cmd()).exit_code, 3010);
    assert_eq!(run(&mut e, SE, None, "Start-CsWindowsService").exit_code, 1, "pending restart");
    let boot_before = host(&e, SE).boot_ms;
    assert!(run(&mut e, SE, None, "Restart-Computer -Force").succeeded());
    let r = run(&mut e, SE, None, "Get-CsWindowsService");
    assert_eq!(r.status, ExecStatus::Unreachable);
    let h = host(&e, SE);
    assert!(!h.pending_reboot);
    assert!(h.boot_ms > boot_before);
    // Every service comes back, the Front-End service on the old schema included (rule 6).
    assert!(h.services.iter().all(|s| s.running), "{:?}", h.services);
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
fn rule10_a_database_update_abandoned_at_its_timeout_changes_nothing_but_kept_the_databases_busy() {
    let mut e = estate_with_package(9);
    update(&mut e, FE11);
    let when = host(&e, FE11).clock_ms;
    let r = e.execute(&Request {
        host: FE11,
        session: None,
        step: None,
        script: UPDATE_SQL2,
        at: when,
        timeout_ms: 60_000,
    });
    assert_eq!(r.status, ExecStatus::TimedOut, "{r:?}");
    assert!(schemas(&e, SQL2).iter().all(|s| s == OLD), "abandoned: nothing changed");
    let busy = &host(&e, SQL2).busy_intervals;
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert!(busy[0].0 >= when && busy[0].1 <= when + 60_000, "{busy:?} cut at the timeout");
}

#[test]
fn lync_2013_has_neither_get_csserverpatchversion_nor_the_computer_failover_cmdlets() {
    // DOMAIN.md §5 (Get-CsServerPatchVersion from SfB 2015 on); issue10-sources.md §2.4
    // (Invoke-CsComputerFailOver/FailBack: SfB 2015 and 2019 only).
    let product = sfbpatch_core::runbook::Product::Lync2013;
    let (from, _) = sfbpatch_sim::rehearse::default_builds(product);
    let opts = sfbpatch_sim::estate::EstateOptions {
        product,
        force_product: Some(product),
        initial_build: from,
        ..Default::default()
    };
    let mut e = Estate::new(&example(), &opts);
    for (h, cmd) in [
        (SE, "Get-CsServerPatchVersion"),
        (FE1, "Invoke-CsComputerFailOver -ComputerName 'fe01.contoso.local'"),
        (FE1, "Invoke-CsComputerFailBack -ComputerName 'fe01.contoso.local'"),
    ] {
        let r = run(&mut e, h, None, cmd);
        assert_eq!(r.exit_code, 1, "{cmd}");
        assert!(r.stderr.contains("is not recognized as the name of a cmdlet"), "{cmd}: {}", r.stderr);
    }
    assert!(!host(&e, FE1).failed_over);
    assert!(
        run(&mut e, FE1, None, "Get-CsPoolUpgradeReadinessState").succeeded(),
        "upgrade domains are Lync 2013's way"
    );
    assert!(run(&mut e, SE, None, "Get-CsServerVersion").succeeded());
}

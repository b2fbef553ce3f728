//! The planner and runbook: order, outage window, commands that parse, injection-proof
//! rendering.

mod common;

use proptest::prelude::*;
use sfbpatch_core::plan::{PlanError, PlanRequest, plan};
use sfbpatch_core::runbook::{self, CommandContext, DatabaseUpdate, Product, StepId};
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::{Fqdn, Lang, example, topology};
use sfbpatch_pwsh::Word;
use sfbpatch_pwsh::syntax::{self, Assigned, Element, Statement};

fn example_topology() -> topology::Topology {
    topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn steps_have_stable_ids_and_seed_numbers_in_order() {
    let ids: Vec<&str> = StepId::SEED.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        ids,
        [
            "check-role",
            "stage-package",
            "open-shell",
            "stop-services",
            "stop-w3svc",
            "close-shells",
            "install-update",
            "reopen-shell",
            "stop-services-again",
            "start-w3svc",
            "update-databases",
            "start-services",
            "verify"
        ]
    );
    let numbers: Vec<Option<u8>> = StepId::SEED.iter().map(|s| s.seed_number()).collect();
    let want: Vec<Option<u8>> = (1..=11).map(Some).chain([None, None]).collect();
    assert_eq!(numbers, want);
    for id in StepId::ALL {
        assert_eq!(id.as_str().parse::<StepId>(), Ok(id));
        assert!(StepId::SEED.contains(&id) || id.seed_number().is_none(), "{id} is not one of the seed's");
    }
    let front_end: Vec<&str> =
        ["fabric-check", "readiness", "failover", "failback", "test-databases", "check-databases"]
            .into_iter()
            .filter(|w| w.parse::<StepId>().is_ok())
            .collect();
    assert_eq!(front_end.len(), 6, "the Front End and database steps have stable ids");
}

/// The plan of the bundled example: pool01 (fe01–fe03, back end sql01 with Archiving and
/// Monitoring collocated), pool02 (fe11, fe12, back end sql02), se01, edge01.
fn example_plan() -> sfbpatch_core::plan::Plan {
    plan(&example_topology(), &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"))
}

fn server<'a>(p: &'a sfbpatch_core::plan::Plan, fqdn: &str) -> &'a sfbpatch_core::plan::ServerPlan {
    p.servers.iter().find(|s| s.fqdn.as_str() == fqdn).unwrap_or_else(|| panic!("{fqdn} is not in the plan"))
}

#[test]
fn outage_window_runs_from_stop_services_to_start_services_and_nothing_avoidable_is_inside() {
    let inside: Vec<&str> = StepId::SEED.iter().filter(|s| s.spec().in_outage).map(|s| s.as_str()).collect();
    assert_eq!(
        inside,
        [
            "stop-services",
            "stop-w3svc",
            "close-shells",
            "install-update",
            "reopen-shell",
            "stop-services-again",
            "start-w3svc",
            "update-databases",
            "start-services"
        ]
    );
    let p = example_plan();
    for s in &p.servers {
        let outage: Vec<StepId> = s.steps.iter().filter(|st| st.in_outage).map(|st| st.id).collect();
        let first = s.steps.iter().position(|st| st.in_outage).unwrap_or(s.steps.len());
        let before: Vec<StepId> = s.steps[..first].iter().map(|st| st.id).collect();
        match s.runbook {
            // Everything that can happen before the outage happens before it.
            Runbook::StandardEdition | Runbook::SeedBackend => {
                assert_eq!(outage.first(), Some(&StepId::StopServices), "{}", s.fqdn);
                assert_eq!(outage.last(), Some(&StepId::StartServices), "{}", s.fqdn);
                assert_eq!(before, [StepId::CheckRole, StepId::StagePackage, StepId::OpenShell]);
            }
            // A back end is unavailable while its databases are updated, and only then.
            Runbook::BackendDatabases => {
                assert_eq!(outage, [StepId::UpdateDatabases], "{}", s.fqdn);
                assert_eq!(before, [StepId::TestDatabases]);
            }
            // A Front End's failover moves its users: no users' outage.
            Runbook::FrontEnd | Runbook::LyncFrontEnd => assert!(outage.is_empty(), "{}", s.fqdn),
            // Roles that home no users (issue 12): no users' outage on one server.
            Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat => {
                assert!(outage.is_empty(), "{}", s.fqdn)
            }
        }
    }
}

#[test]
fn each_role_gets_its_runbook_and_each_step_its_host() {
    let p = example_plan();
    let runbooks: Vec<(&str, &str)> = p.servers.iter().map(|s| (s.fqdn.as_str(), s.runbook.as_str())).collect();
    assert_eq!(
        runbooks,
        [
            ("fe01.contoso.local", "front-end"),
            ("fe02.contoso.local", "front-end"),
            ("fe03.contoso.local", "front-end"),
            ("fe11.contoso.local", "front-end"),
            ("fe12.contoso.local", "front-end"),
            ("se01.contoso.local", "standard-edition"),
            ("sql01.contoso.local", "backend-databases"),
            ("sql02.contoso.local", "backend-databases"),
        ]
    );
    for s in &p.servers {
        for st in &s.steps {
            let host = s.host_of(st).as_str();
            match s.runbook {
                // The databases of a SQL-only machine are updated from a Front End of its pool.
                Runbook::BackendDatabases => {
                    let want = if s.fqdn.as_str() == "sql01.contoso.local" {
                        "fe01.contoso.local"
                    } else {
                        "fe11.contoso.local"
                    };
                    assert_eq!(host, want, "{} {}", s.fqdn, st.id);
                }
                _ => assert_eq!(host, s.fqdn.as_str(), "{} {}", s.fqdn, st.id),
            }
        }
        assert!(!s.runbook_reason.is_empty() && !s.runbook_reason.contains('⟦'), "{}", s.fqdn);
    }
    // After every Front End of the pools whose stores it holds: sql01 also holds Archiving and
    // Monitoring, which every pool uses, so it waits for every SfB server of the estate.
    assert_eq!(
        server(&p, "sql01.contoso.local").after.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        [
            "fe01.contoso.local",
            "fe02.contoso.local",
            "fe03.contoso.local",
            "fe11.contoso.local",
            "fe12.contoso.local",
            "se01.contoso.local"
        ]
    );
    assert_eq!(
        server(&p, "sql02.contoso.local").after.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        ["fe11.contoso.local", "fe12.contoso.local"]
    );
}

#[test]
fn only_the_install_is_unsafe_to_repeat() {
    let unsafe_steps: Vec<StepId> = StepId::ALL.into_iter().filter(|s| !s.spec().safe_to_repeat).collect();
    assert_eq!(unsafe_steps, [StepId::InstallUpdate]);
}

#[test]
fn exact_commands_of_the_seed() {
    let p = plan(&example_topology(), &PlanRequest::new(r"D:\updates\SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"));
    let cmd = |fqdn: &str, id: &str| {
        server(&p, fqdn).steps.iter().find(|st| st.id.as_str() == id).and_then(|st| st.command.clone())
    };
    let se = "se01.contoso.local";
    assert_eq!(cmd(se, "stop-services").as_deref(), Some("Stop-CsWindowsService"));
    assert_eq!(cmd(se, "stop-services-again").as_deref(), Some("Stop-CsWindowsService"));
    assert_eq!(cmd(se, "stop-w3svc").as_deref(), Some("net stop w3svc"));
    assert_eq!(cmd(se, "start-w3svc").as_deref(), Some("net start w3svc"));
    assert_eq!(cmd(se, "start-services").as_deref(), Some("Start-CsWindowsService"));
    assert_eq!(cmd(se, "update-databases").as_deref(), Some("Install-CsDatabase -Update -LocalDatabases"));
    assert_eq!(
        cmd(se, "check-databases").as_deref(),
        Some("Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn 'se01.contoso.local'")
    );
    assert_eq!(cmd(se, "close-shells"), None);
    // A GUI program: started and waited for by Start-Process, its code from .ExitCode (DOMAIN.md §5).
    assert_eq!(
        cmd(se, "install-update").as_deref(),
        Some(
            r"$sfbpatchInstaller = Start-Process -FilePath 'C:\ProgramData\sfbpatch\stage\SkypeServerUpdateInstaller.exe' -ArgumentList '/silentmode' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode"
        )
    );
    assert_eq!(
        cmd(se, "verify").as_deref(),
        Some("Get-CsWindowsService; Get-Service -Name 'W3SVC'; Get-CsServerPatchVersion")
    );
    assert_eq!(cmd(se, "open-shell").as_deref(), Some("Import-Module 'SkypeForBusiness'"));
    let fe = "fe02.contoso.local";
    assert_eq!(cmd(fe, "fabric-check").as_deref(), Some("Get-CsPoolFabricState -PoolFqdn 'pool01.contoso.local'"));
    assert_eq!(cmd(fe, "readiness").as_deref(), Some("Get-CsPoolUpgradeReadinessState"));
    assert_eq!(cmd(fe, "failover").as_deref(), Some("Invoke-CsComputerFailOver -ComputerName 'fe02.contoso.local'"));
    assert_eq!(cmd(fe, "failback").as_deref(), Some("Invoke-CsComputerFailBack -ComputerName 'fe02.contoso.local'"));
    assert_eq!(cmd(fe, "stop-services"), None, "failover stops the services");
    // sql01 holds Archiving and Monitoring beside the pool's stores: the switch only
    // silences a warning; every database there is updated.
    assert_eq!(
        cmd("sql01.contoso.local", "update-databases").as_deref(),
        Some(
            "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local' -ExcludeCollocatedStores"
        )
    );
    assert_eq!(
        cmd("sql02.contoso.local", "update-databases").as_deref(),
        Some("Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'")
    );
    // Nothing of Skype for Business is sent to the SQL-only machines themselves.
    for s in p.servers.iter().filter(|s| s.runbook == Runbook::BackendDatabases) {
        assert!(s.steps.iter().all(|st| s.host_of(st) != &s.fqdn), "{}", s.fqdn);
    }
}

#[test]
fn the_failover_waits_are_the_operators_to_set() {
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.failover_wait_minutes = Some(90);
    req.draining_timeout_minutes = Some(15);
    let p = plan(&example_topology(), &req).unwrap_or_else(|e| panic!("{e}"));
    let st = server(&p, "fe01.contoso.local").steps.iter().find(|st| st.id == StepId::Failover).cloned();
    let st = st.unwrap_or_else(|| panic!("no failover"));
    assert_eq!(
        st.command.as_deref(),
        Some(
            "Invoke-CsComputerFailOver -ComputerName 'fe01.contoso.local' -WaitTime '01:30:00' -DrainingTimeout '00:15:00'"
        )
    );
    assert_eq!(st.timeout_seconds, 95 * 60, "the step outlasts the cmdlet's own wait");
    let default = example_plan();
    let st = server(&default, "fe01.contoso.local").steps.iter().find(|st| st.id == StepId::Failover).cloned();
    assert_eq!(
        st.and_then(|s| s.command).as_deref(),
        Some("Invoke-CsComputerFailOver -ComputerName 'fe01.contoso.local'")
    );
}

#[test]
fn installer_exit_codes_are_classified() {
    use runbook::InstallOutcome::*;
    assert_eq!(runbook::classify_install_exit(0), Succeeded);
    assert_eq!(runbook::classify_install_exit(3010), SucceededRebootPending);
    assert_eq!(runbook::classify_install_exit(1641), SucceededRebootPending);
    assert_eq!(runbook::classify_install_exit(1603), Failed);
    assert_eq!(runbook::classify_install_exit(1618), Failed);
    assert_eq!(runbook::classify_install_exit(-1), Failed);
}

#[test]
fn lync_2013_uses_its_own_installer_and_module() {
    let mut req = PlanRequest::new("LyncServerUpdateInstaller.exe");
    req.product = Some(Product::Lync2013);
    let p = plan(&example_topology(), &req).unwrap_or_else(|e| panic!("{e}"));
    let s = server(&p, "se01.contoso.local");
    assert!(s.warnings.iter().all(|w| w.code != "unexpected-installer-name"));
    let open = s.steps.iter().find(|st| st.id == StepId::OpenShell).and_then(|st| st.command.clone());
    assert_eq!(open.as_deref(), Some("Import-Module 'Lync'"));
    let p = plan(&example_topology(), &PlanRequest::new("SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers[0].warnings.iter().all(|w| w.code != "unexpected-installer-name"));
    let p = plan(&example_topology(), &PlanRequest::new("KB5000000.exe")).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers[0].warnings.iter().any(|w| w.code == "unexpected-installer-name"));
}

#[test]
fn every_command_of_every_fixture_server_parses_as_powershell() {
    let mut count = 0;
    for name in ["enterprise.xml", "enterprise-collocated.xml", "standard-edition.xml"] {
        let t = common::load(&format!("topology/{name}"));
        for lang in Lang::ALL {
            let mut req = PlanRequest::new(r"C:\Users\o'brien\Downloads\SkypeServerUpdateInstaller.exe");
            req.lang = lang;
            let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
            for s in &p.servers {
                for st in &s.steps {
                    let Some(c) = &st.command else { continue };
                    let statements = syntax::parse(c).unwrap_or_else(|e| panic!("{name} {}: {c}: {e}", st.id));
                    // Commands, and the install's two typed assignments: nothing the simulator
                    // would not execute.
                    let typed = |s: &Statement| match s {
                        Statement::Command(_) => true,
                        Statement::Assign { .. } => st.id == StepId::InstallUpdate,
                        Statement::Other { .. } => false,
                    };
                    assert!(statements.iter().all(typed), "{c}");
                    count += 1;
                }
                assert!(!s.steps.iter().any(|st| st.title.contains('⟦')), "missing title in {lang}");
            }
        }
    }
    assert!(count >= 60, "only {count} commands checked");
}

#[test]
fn estimated_outage_and_warnings() {
    let t = example_topology();
    let p = example_plan();
    for s in &p.servers {
        let sum: f64 = s.steps.iter().filter(|st| st.in_outage).map(|st| st.estimated_minutes).sum();
        assert!((s.estimated_outage_minutes - sum).abs() < 0.01);
        let (lo, hi) = match s.runbook {
            Runbook::StandardEdition | Runbook::SeedBackend => (15.0, 30.0),
            Runbook::BackendDatabases => (1.0, 10.0),
            Runbook::FrontEnd
            | Runbook::LyncFrontEnd
            | Runbook::Director
            | Runbook::Edge
            | Runbook::Mediation
            | Runbook::PersistentChat => (-0.1, 0.1),
        };
        assert!(
            s.estimated_outage_minutes > lo && s.estimated_outage_minutes < hi,
            "{} {}",
            s.fqdn,
            s.estimated_outage_minutes
        );
    }
    // A tighter budget makes the same plan warn, then refuse to pretend.
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.outage_budget_minutes = 26.0;
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let se = server(&p, "se01.contoso.local");
    assert!(se.warnings.iter().any(|w| w.code == "outage-near-budget"), "{:?}", se.warnings);
    req.outage_budget_minutes = 20.0;
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let se = server(&p, "se01.contoso.local");
    assert!(se.warnings.iter().any(|w| w.code == "outage-over-budget"));
    assert!(se.warnings.iter().any(|w| w.code == "users-signed-out"));
    let sql01 = server(&p, "sql01.contoso.local");
    assert!(sql01.warnings.iter().any(|w| w.code == "collocated-stores-excluded"));
    assert!(sql01.warnings.iter().all(|w| w.code != "unexpected-installer-name"), "no installer runs there");
}

#[test]
fn server_selection_narrows_and_refuses_what_it_cannot_plan() {
    let t = example_topology();
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.servers = vec!["sql01.contoso.local".into(), "SE01.contoso.local".into(), "fe01.contoso.local".into()];
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = p.servers.iter().map(|s| s.fqdn.as_str()).collect();
    assert_eq!(names, ["fe01.contoso.local", "se01.contoso.local", "sql01.contoso.local"], "update order");
    assert_eq!(
        server(&p, "sql01.contoso.local").after.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        ["fe01.contoso.local", "se01.contoso.local"],
        "only what this run updates"
    );
    // fe01 without its back end: the plan says its databases are left behind, and by whom
    // they are finished; with it, it does not.
    req.servers = vec!["fe01.contoso.local".into()];
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let w = p.servers[0].warnings.iter().find(|w| w.code == "databases-not-planned");
    assert!(
        w.is_some_and(|w| w.message.contains("sfbpatch run --server sql01.contoso.local")),
        "{:?}",
        p.servers[0].warnings
    );
    req.servers = vec!["fe01.contoso.local".into(), "sql01.contoso.local".into()];
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers.iter().all(|s| s.warnings.iter().all(|w| w.code != "databases-not-planned")));
    req.servers = vec!["nosuch.contoso.local".into()];
    assert!(matches!(plan(&t, &req), Err(PlanError::UnknownServer { .. })));
    req.servers = vec!["edge01.contoso.local".into()];
    assert!(matches!(plan(&t, &req), Err(PlanError::NotInScope { .. })));
}

#[test]
fn bad_package_stage_dir_and_switches_are_refused() {
    let t = example_topology();
    for bad in ["", "C:\\updates\\", "a/b/", "x\u{7}.exe", "a|b.exe"] {
        assert!(matches!(plan(&t, &PlanRequest::new(bad)), Err(PlanError::BadPackage { .. })), "{bad:?}");
    }
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.stage_dir = "relative\\dir".into();
    assert!(matches!(plan(&t, &req), Err(PlanError::BadStageDir { .. })));
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.installer_switches = Some(vec!["/silentmode; Remove-Item C:\\".into()]);
    assert!(matches!(plan(&t, &req), Err(PlanError::BadSwitch { .. })));
}

#[test]
fn installer_switches_are_the_argument_list_of_start_process() {
    let install = |switches: Vec<&str>| {
        let mut req = PlanRequest::new(r"D:\cu\SkypeServerUpdateInstaller.exe");
        req.installer_switches = Some(switches.into_iter().map(str::to_owned).collect());
        let p = plan(&example_topology(), &req).unwrap_or_else(|e| panic!("{e}"));
        p.servers[0].steps.iter().find(|s| s.id == StepId::InstallUpdate).and_then(|s| s.command.clone())
    };
    let stage = r"C:\ProgramData\sfbpatch\stage\SkypeServerUpdateInstaller.exe";
    assert_eq!(
        install(vec!["/silentmode", "/forcereboot"]),
        Some(format!(
            "$sfbpatchInstaller = Start-Process -FilePath '{stage}' -ArgumentList '/silentmode', '/forcereboot' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode"
        ))
    );
    // No switches: no -ArgumentList (an empty one is refused by the cmdlet's validation).
    assert_eq!(
        install(Vec::new()),
        Some(format!(
            "$sfbpatchInstaller = Start-Process -FilePath '{stage}' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode"
        ))
    );
}

#[test]
fn skipping_a_step_removes_it_and_says_so() {
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.skip = vec![StepId::StopServicesAgain];
    let p = plan(&example_topology(), &req).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers.iter().all(|s| s.steps.iter().all(|st| st.id != StepId::StopServicesAgain)));
    for s in &p.servers {
        let says = s.warnings.iter().any(|w| w.code == "step-skipped");
        assert_eq!(says, s.runbook.steps().contains(&StepId::StopServicesAgain), "{}", s.fqdn);
    }
}

/// Counts the command elements PowerShell sees in `text` (which must be one command).
fn elements(text: &str) -> Result<usize, String> {
    let statements = syntax::parse(text).map_err(|e| format!("{e}: {text}"))?;
    match statements.as_slice() {
        [Statement::Command(c)] => Ok(c.elements.len()),
        other => Err(format!("not one command: {other:?}")),
    }
}

fn update_databases(fqdn: Fqdn) -> String {
    let db = DatabaseUpdate::ExcludeCollocatedStores { sql_server_fqdn: fqdn.clone() };
    let switches = [Word::fixed("/silentmode")];
    let cx = CommandContext {
        product: Product::Sfb2019,
        staged_installer: r"C:\s\x.exe",
        installer_switches: &switches,
        database_update: &db,
        server: &fqdn,
        pool: None,
        failover: runbook::FailoverTimes::default(),
        services: runbook::ServiceControl::Seed,
    };
    runbook::command_text(StepId::UpdateDatabases, &cx).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever string passes validation, the rendered command has exactly the tokens of the
    /// command rendered for a plain name: input cannot add, remove or split an argument.
    #[test]
    fn no_validated_string_changes_the_number_of_tokens(
        candidate in prop_oneof![
            "[a-zA-Z0-9.-]{1,40}",
            "[a-z0-9]{1,10}(\\.[a-z0-9-]{1,10}){1,4}",
            "[a-z0-9.'\";$` |&(){}<>#@-]{1,30}",
            any::<String>(),
        ]
    ) {
        let reference = elements(&update_databases(Fqdn::parse("sql01.contoso.com").map_err(|_| TestCaseError::fail("ref"))?))
            .map_err(TestCaseError::fail)?;
        if let Ok(fqdn) = Fqdn::parse(&candidate) {
            let text = update_databases(fqdn);
            let n = elements(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(n, reference, "{}", text);
        }
    }

    /// Whatever the package path, the install step stays one `Start-Process` of that program,
    /// kept in `$sfbpatchInstaller`, then its exit code copied into `$global:LASTEXITCODE`.
    #[test]
    fn no_package_name_changes_the_install_command(name in "[^\\\\/\u{0}-\u{1f}<>:\"|?*]{1,30}") {
        let t = example_topology();
        if let Ok(p) = plan(&t, &PlanRequest::new(format!(r"C:\dl\{name}"))) {
            let install = p.servers[0].steps.iter().find(|s| s.id == StepId::InstallUpdate).and_then(|s| s.command.clone()).unwrap_or_default();
            let statements = syntax::parse(&install).map_err(|e| TestCaseError::fail(format!("{e}: {install}")))?;
            let [
                Statement::Assign { variable: process, value: Assigned::Command(c) },
                Statement::Assign { variable: exit, value: Assigned::Member { variable: read, member } },
            ] = statements.as_slice() else { return Err(TestCaseError::fail(install)) };
            prop_assert_eq!(&c.name, &syntax::CommandName::Name("Start-Process".into()));
            let path = format!(r"C:\ProgramData\sfbpatch\stage\{}", name);
            prop_assert_eq!(
                &c.elements,
                &vec![
                    Element::Parameter("FilePath".into()),
                    Element::Literal(path),
                    Element::Parameter("ArgumentList".into()),
                    Element::Literal("/silentmode".into()),
                    Element::Parameter("Wait".into()),
                    Element::Parameter("PassThru".into()),
                ]
            );
            prop_assert_eq!(process, read);
            prop_assert!(process.is("sfbpatchInstaller") && member == "ExitCode", "{}", install);
            prop_assert_eq!((exit.scope.as_deref(), exit.name.as_str()), (Some("global"), "LASTEXITCODE"));
        }
    }
}

//! The planner and runbook: order, outage window, commands that parse, injection-proof
//! rendering.

mod common;

use proptest::prelude::*;
use sfbpatch_core::plan::{PlanError, PlanRequest, plan};
use sfbpatch_core::runbook::{self, CommandContext, DatabaseUpdate, Product, StepId};
use sfbpatch_core::{Fqdn, Lang, example, topology};
use sfbpatch_pwsh::Word;
use sfbpatch_pwsh::syntax::{self, Statement};

fn example_topology() -> topology::Topology {
    topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn steps_have_stable_ids_and_seed_numbers_in_order() {
    let ids: Vec<&str> = StepId::ALL.iter().map(|s| s.as_str()).collect();
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
    let numbers: Vec<Option<u8>> = StepId::ALL.iter().map(|s| s.seed_number()).collect();
    assert_eq!(
        numbers,
        [
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(7),
            Some(8),
            Some(9),
            Some(10),
            Some(11),
            None,
            None
        ]
    );
    for id in StepId::ALL {
        assert_eq!(id.as_str().parse::<StepId>(), Ok(id));
    }
}

#[test]
fn outage_window_runs_from_stop_services_to_start_services_and_nothing_avoidable_is_inside() {
    let inside: Vec<&str> = StepId::ALL.iter().filter(|s| s.spec().in_outage).map(|s| s.as_str()).collect();
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
    // Everything that can happen before the outage happens before it: role check, staging
    // (copy and hash) and the first shell are all ordered before stop-services.
    let p = plan(&example_topology(), &PlanRequest::new("SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"));
    for s in &p.servers {
        let first_outage = s.steps.iter().position(|st| st.in_outage).unwrap_or(usize::MAX);
        assert_eq!(s.steps[first_outage].id, StepId::StopServices);
        let before: Vec<StepId> = s.steps[..first_outage].iter().map(|st| st.id).collect();
        assert_eq!(before, [StepId::CheckRole, StepId::StagePackage, StepId::OpenShell]);
    }
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
    let s = &p.servers[0];
    let cmd = |id: &str| s.steps.iter().find(|st| st.id.as_str() == id).and_then(|st| st.command.clone());
    assert_eq!(cmd("stop-services").as_deref(), Some("Stop-CsWindowsService"));
    assert_eq!(cmd("stop-services-again").as_deref(), Some("Stop-CsWindowsService"));
    assert_eq!(cmd("stop-w3svc").as_deref(), Some("net stop w3svc"));
    assert_eq!(cmd("start-w3svc").as_deref(), Some("net start w3svc"));
    assert_eq!(cmd("start-services").as_deref(), Some("Start-CsWindowsService"));
    assert_eq!(cmd("close-shells"), None);
    assert_eq!(
        cmd("install-update").as_deref(),
        Some(r"& 'C:\ProgramData\sfbpatch\stage\SkypeServerUpdateInstaller.exe' /silentmode")
    );
    assert_eq!(
        cmd("verify").as_deref(),
        Some("Get-CsWindowsService; Get-Service -Name 'W3SVC'; Get-CsServerPatchVersion")
    );
    assert_eq!(cmd("open-shell").as_deref(), Some("Import-Module 'SkypeForBusiness'"));
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
    req.product = Product::Lync2013;
    let p = plan(&example_topology(), &req).unwrap_or_else(|e| panic!("{e}"));
    let s = &p.servers[0];
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
                    assert!(statements.iter().all(|s| matches!(s, Statement::Command(_))), "{c}");
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
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    for s in &p.servers {
        let sum: f64 = s.steps.iter().filter(|st| st.in_outage).map(|st| st.estimated_minutes).sum();
        assert!((s.estimated_outage_minutes - sum).abs() < 0.01);
        assert!(
            s.estimated_outage_minutes > 15.0 && s.estimated_outage_minutes < 30.0,
            "{}",
            s.estimated_outage_minutes
        );
    }
    // A tighter budget makes the same plan warn, then refuse to pretend.
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.outage_budget_minutes = 26.0;
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers[0].warnings.iter().any(|w| w.code == "outage-near-budget"), "{:?}", p.servers[0].warnings);
    req.outage_budget_minutes = 20.0;
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers[0].warnings.iter().any(|w| w.code == "outage-over-budget"));
    let se = p.servers.iter().find(|s| s.fqdn.as_str() == "se01.contoso.local").unwrap_or_else(|| panic!("no se01"));
    assert!(se.warnings.iter().any(|w| w.code == "users-signed-out"));
}

#[test]
fn server_selection_narrows_and_refuses_what_it_cannot_plan() {
    let t = example_topology();
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.servers = vec!["SE01.contoso.local".into(), "sql01.contoso.local".into()];
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = p.servers.iter().map(|s| s.fqdn.as_str()).collect();
    assert_eq!(names, ["sql01.contoso.local", "se01.contoso.local"], "topology order");
    req.servers = vec!["nosuch.contoso.local".into()];
    assert!(matches!(plan(&t, &req), Err(PlanError::UnknownServer { .. })));
    req.servers = vec!["fe01.contoso.local".into()];
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
fn skipping_a_step_removes_it_and_says_so() {
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.skip = vec![StepId::StopServicesAgain];
    let p = plan(&example_topology(), &req).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers.iter().all(|s| s.steps.iter().all(|st| st.id != StepId::StopServicesAgain)));
    assert!(p.servers.iter().all(|s| s.warnings.iter().any(|w| w.code == "step-skipped")));
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
    let db = DatabaseUpdate::ExcludeCollocatedStores { sql_server_fqdn: fqdn };
    let switches = [Word::fixed("/silentmode")];
    let cx = CommandContext {
        product: Product::Sfb2019,
        staged_installer: r"C:\s\x.exe",
        installer_switches: &switches,
        database_update: &db,
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

    /// Whatever the package path, the install step stays one invocation of one program.
    #[test]
    fn no_package_name_changes_the_install_command(name in "[^\\\\/\u{0}-\u{1f}<>:\"|?*]{1,30}") {
        let t = example_topology();
        if let Ok(p) = plan(&t, &PlanRequest::new(format!(r"C:\dl\{name}"))) {
            let install = p.servers[0].steps.iter().find(|s| s.id == StepId::InstallUpdate).and_then(|s| s.command.clone()).unwrap_or_default();
            let statements = syntax::parse(&install).map_err(|e| TestCaseError::fail(format!("{e}: {install}")))?;
            let [Statement::Command(c)] = statements.as_slice() else { return Err(TestCaseError::fail(install)) };
            prop_assert_eq!(&c.name, &syntax::CommandName::Path(format!(r"C:\ProgramData\sfbpatch\stage\{}", name)));
            prop_assert_eq!(c.elements.len(), 1);
        }
    }
}

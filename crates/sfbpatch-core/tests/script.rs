//! Standalone scripts: every server of every fixture, both languages, parse with a real
//! PowerShell grammar and carry their server's exact step-11 variant.

mod common;

use sfbpatch_core::Lang;
use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::script;
use sfbpatch_pwsh::syntax;

#[test]
fn every_script_parses_and_carries_its_step_11() {
    let mut checked = 0;
    for name in ["enterprise.xml", "enterprise-collocated.xml", "standard-edition.xml"] {
        let t = common::load(&format!("topology/{name}"));
        for lang in Lang::ALL {
            let mut req = PlanRequest::new(r"D:\CU\SkypeServerUpdateInstaller.exe");
            req.lang = lang;
            let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
            for sp in &p.servers {
                let text = script::render(&p, sp, lang, Some(&"ab".repeat(32)));
                if let Err(e) = syntax::check(&text) {
                    let line = match &e {
                        syntax::ParseError::Syntax(s) => {
                            text.lines().nth(s.line.saturating_sub(1)).unwrap_or("").to_owned()
                        }
                        _ => String::new(),
                    };
                    panic!("{name} {} {lang}: {e}\n{line}", sp.fqdn);
                }
                let step11 = sp
                    .steps
                    .iter()
                    .find(|s| s.id == StepId::UpdateDatabases)
                    .and_then(|s| s.command.clone())
                    .unwrap_or_default();
                assert!(text.lines().any(|l| l.trim() == step11), "{}: step 11 {step11:?} missing", sp.fqdn);
                for must in [
                    "Set-StrictMode -Version Latest",
                    "$ErrorActionPreference = 'Stop'",
                    "Start-Transcript",
                    "Get-CsAdminRoleAssignment",
                    "Stop-CsWindowsService",
                    "net stop w3svc",
                    "net start w3svc",
                    "Start-CsWindowsService",
                    "$code = $LASTEXITCODE",
                    "-AfterInstall",
                    "Show-Recovery",
                    "Test-OutageBudget",
                ] {
                    assert!(text.contains(must), "{}: {must:?} missing", sp.fqdn);
                }
                assert!(!text.contains('⟦'), "missing catalogue key");
                // The CsAdministrator check comes first, the outage starts with stop-services.
                let check = text.find("Get-CsAdminRoleAssignment").unwrap_or(usize::MAX);
                let stop = text.find("\n        Stop-CsWindowsService").unwrap_or(0);
                assert!(check < stop, "check-role before stop-services");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6);
}

#[test]
fn spanish_scripts_speak_spanish() {
    let t = common::load("topology/standard-edition.xml");
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.lang = Lang::Es;
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let text = script::render(&p, &p.servers[0], Lang::Es, None);
    assert!(text.contains("Detener los servicios de Skype Empresarial Server"));
    assert!(text.contains("La interrupción para los usuarios empieza ahora."));
    assert!(!text.contains("The users' outage begins now."));
}

#[test]
fn a_hostile_package_name_stays_inside_its_literal() {
    let t = common::load("topology/enterprise.xml");
    let p = plan(&t, &PlanRequest::new("C:\\dl\\it's $(calc); `x.exe")).unwrap_or_else(|e| panic!("{e}"));
    let text = script::render(&p, &p.servers[0], Lang::En, None);
    syntax::check(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.contains("$Installer = 'C:\\ProgramData\\sfbpatch\\stage\\it''s $(calc); `x.exe'"),
        "{}",
        text.lines().find(|l| l.starts_with("$Installer")).unwrap_or("")
    );
}

#[test]
fn the_syntax_check_would_catch_a_broken_script() {
    let t = common::load("topology/enterprise.xml");
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    let text = script::render(&p, &p.servers[0], Lang::En, None);
    for broken in
        [text.replacen("} catch {", "} catch ", 1), text.replacen("$ExpectedSha256 = '", "$ExpectedSha256 = ", 1)]
    {
        assert!(syntax::check(&broken).is_err(), "a broken script passed the check");
    }
}

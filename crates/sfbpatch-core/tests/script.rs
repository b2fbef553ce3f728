//! Standalone scripts: every server of every fixture, both languages, parse with a real
//! PowerShell grammar and carry their own runbook's key commands (DOMAIN.md §1a, §2): the
//! seed's procedure for Standard Edition, failover/failback for a Front End, and the
//! databases from the updated Front End for a SQL-only back end.

mod common;

use sfbpatch_core::Lang;
use sfbpatch_core::plan::{Plan, PlanRequest, ServerPlan, plan};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::script;
use sfbpatch_pwsh::syntax;

const FIXTURES: [&str; 3] = ["enterprise.xml", "enterprise-collocated.xml", "standard-edition.xml"];

fn parse(text: &str, what: &str) {
    if let Err(e) = syntax::check(text) {
        let line = match &e {
            syntax::ParseError::Syntax(s) => text.lines().nth(s.line.saturating_sub(1)).unwrap_or("").to_owned(),
            _ => String::new(),
        };
        panic!("{what}: {e}\n{line}");
    }
}

fn cmd(sp: &ServerPlan, id: StepId) -> String {
    sp.steps.iter().find(|s| s.id == id).and_then(|s| s.command.clone()).unwrap_or_else(|| panic!("no {id}"))
}

/// Where `needle` first occurs, or a failed test.
fn at(text: &str, needle: &str, who: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("{who}: {needle:?} missing"))
}

/// Lines that PowerShell executes (not comments, not inside a quoted sentence).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.starts_with('#'))
}

/// The text PowerShell would execute: single-quoted literals (quotes doubled inside) and
/// comments (`#` first on a line, up to a line break: CR or LF) left out.
fn outside_literals_and_comments(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    let (mut in_literal, mut in_comment, mut line_start) = (false, false, true);
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\r' || c == '\n' {
                in_comment = false;
                line_start = true;
                out.push('\n');
            }
            continue;
        }
        if in_literal {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    in_literal = false;
                }
            }
            continue;
        }
        match c {
            '\'' => in_literal = true,
            '#' if line_start => in_comment = true,
            '\r' | '\n' => {
                line_start = true;
                out.push('\n');
                continue;
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
        if !c.is_whitespace() {
            line_start = false;
        }
    }
    out
}

fn plans(lang: Lang) -> Vec<Plan> {
    FIXTURES
        .iter()
        .map(|name| {
            let t = common::load(&format!("topology/{name}"));
            let mut req = PlanRequest::new(r"D:\CU\SkypeServerUpdateInstaller.exe");
            req.lang = lang;
            plan(&t, &req).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn assert_common(text: &str, who: &str) {
    for must in [
        "#Requires -RunAsAdministrator",
        "#Requires -Version 5.1",
        "Set-StrictMode -Version Latest",
        "$ErrorActionPreference = 'Stop'",
        "Start-Transcript",
        "exit ",
    ] {
        at(text, must, who);
    }
    assert!(!text.contains('⟦'), "{who}: missing catalogue key");
}

fn assert_seed(text: &str, sp: &ServerPlan, who: &str) {
    for must in [
        "Get-CsAdminRoleAssignment",
        "Stop-CsWindowsService",
        "net stop w3svc",
        "net start w3svc",
        "Start-CsWindowsService",
        "$code = $sfbpatchInstaller.ExitCode",
        "-AfterInstall",
        "Show-Recovery",
        "Test-OutageBudget",
        "exit 3010",
        "Assert-DatabasesCurrent",
    ] {
        at(text, must, who);
    }
    let step11 = cmd(sp, StepId::UpdateDatabases);
    assert!(text.lines().any(|l| l.trim() == step11), "{who}: step 11 {step11:?} missing");
    // The CsAdministrator check comes first, the outage starts with stop-services, the
    // databases are proven current once the services are back.
    let check = at(text, "\n        Invoke-StepProcess 'check-role'", who);
    let stop = at(text, "\n        Invoke-StepProcess 'stop-services'", who);
    let start = at(text, "\n    Start-CsWindowsService", who);
    let proof = at(text, &format!("$rows = @({})", cmd(sp, StepId::CheckDatabases)), who);
    assert!(check < stop && stop < start && start < proof, "{who}: order");
}

fn assert_front_end(text: &str, sp: &ServerPlan, who: &str) {
    let pool = sp.pool.as_ref().unwrap_or_else(|| panic!("{who}: no pool"));
    // In their own processes (`-Step`): the fabric check, readiness and the failover.
    let fabric = at(text, &format!("Get-CsPoolFabricState -PoolFqdn '{pool}'"), who);
    // The recovery command, inside a literal (quotes doubled), printed when replicas are missing.
    at(text, &format!("'Reset-CsPoolRegistrarState -PoolFqdn ''{pool}'' -ResetType QuorumLossRecovery'"), who);
    let missing = at(text, "if ((Get-MissingReplicas $fabric) -gt 0)", who);
    let ready = at(text, "$readiness = Get-CsPoolUpgradeReadinessState | Out-String", who);
    for must in [
        "for ($answer = 1; $answer -le 3; $answer++)",
        "Start-Sleep -Seconds 600",
        "if ($state -eq 'InsufficientActiveFrontEnds')",
        "if ($state -eq 'Ready')",
    ] {
        at(text, must, who);
    }
    let failover_cmd =
        at(text, &format!("\n                Invoke-CsComputerFailOver -ComputerName '{}'", sp.fqdn), who);
    assert!(fabric < missing && missing < ready && ready < failover_cmd, "{who}: the steps' own processes");
    // The first process: each of them in turn, the failover marked started before its call.
    let fabric = at(text, "\n        Invoke-StepProcess 'fabric-check'", who);
    let ready = at(text, "\n        Invoke-StepProcess 'readiness'", who);
    let started = at(text, "\n        $script:FailoverStarted = $true", who);
    let failover = at(text, "\n        Invoke-StepProcess 'failover'", who);
    let install = at(
        text,
        "\n        $sfbpatchInstaller = Start-Process -FilePath 'C:\\ProgramData\\sfbpatch\\stage\\SkypeServerUpdateInstaller.exe' -ArgumentList '/silentmode' -Wait -PassThru",
        who,
    );
    let failback = at(text, &format!("\n        Invoke-CsComputerFailBack -ComputerName '{}'", sp.fqdn), who);
    assert!(fabric < ready && ready < started && started < failover, "{who}: checks first");
    assert!(failover < install && install < failback, "{who}: failover, install, failback");
    // Failback is guaranteed: the finally block calls it whenever the failover started and
    // no failback happened, unless a restart is pending.
    let fin = at(text, "} finally {", who);
    let guard = &text[fin..];
    assert!(
        guard.contains("if ($script:FailoverStarted -and -not $script:FailedBack -and -not $script:KeepFailedOver)")
            && guard.contains("Invoke-Failback"),
        "{who}: no guaranteed failback in finally:\n{guard}"
    );
    let function = &text[at(text, "function Invoke-Failback", who)..];
    let function = &function[..function.find("\n}\n").unwrap_or(function.len())];
    assert!(function.contains(&format!("Invoke-CsComputerFailBack -ComputerName '{}'", sp.fqdn)), "{function}");
    // The process after the install says whether it failed back; a restart keeps the failover.
    at(text, "-AfterInstall -Child", who);
    at(text, "$script:KeepFailedOver = $true", who);
    // A Front End never runs the seed's back-end commands.
    for never in ["Stop-CsWindowsService", "Start-CsWindowsService", "Install-CsDatabase", "exit 3010"] {
        assert!(!code_lines(text).any(|l| l.contains(never)), "{who}: {never} in a Front End script");
    }
}

fn assert_databases(text: &str, sp: &ServerPlan, who: &str) {
    let host = sp.database_command().map(|(h, _)| h.clone()).unwrap_or_else(|| panic!("{who}: no host"));
    assert_ne!(host, sp.fqdn, "{who}: the database step runs on a Front End");
    assert!(sp.steps.iter().all(|s| sp.host_of(s) == &host), "{who}: every step on {host}");
    // It says so at the top, and refuses any other computer before anything else.
    let top = &text[..at(text, "[CmdletBinding()]", who)];
    assert!(top.lines().all(|l| l.starts_with('#')), "{who}: the header is comments");
    assert!(top.contains(&format!("{host}")) && top.contains(sp.fqdn.as_str()), "{who}: header names the host");
    at(text, &format!("$RunsOn = '{host}'"), who);
    let refuse = at(text, "if ($here -notcontains $RunsOn)", who);
    let test = at(text, &format!("$rows = @({})", cmd(sp, StepId::TestDatabases)), who);
    let update = at(text, &format!("\n    {}\n", cmd(sp, StepId::UpdateDatabases)), who);
    let check = text.rfind(&format!("$rows = @({})", cmd(sp, StepId::CheckDatabases))).unwrap_or(0);
    let assert_current = at(text, "\n    Assert-DatabasesCurrent $rows", who);
    assert!(refuse < test && test < update && update < check && check < assert_current, "{who}: order");
    // A database whose Succeed is not True fails the script, with the command that finishes it.
    at(text, "(Get-Field $_ 'Succeed') -ne 'True'", who);
    let function = &text[at(text, "function Assert-DatabasesCurrent", who)..];
    assert!(
        function.contains("throw ((")
            && function.contains(&format!("'{}'", cmd(sp, StepId::UpdateDatabases).replace('\'', "''")))
    );
    // Nothing that needs Skype for Business on the SQL Server itself, and no installer.
    for never in ["Stop-CsWindowsService", "net stop w3svc", "$Installer", "Invoke-CsComputerFailOver"] {
        assert!(!code_lines(text).any(|l| l.contains(never)), "{who}: {never} in a database script");
    }
}

#[test]
fn every_script_parses_and_carries_its_runbook() {
    let mut seen = Vec::new();
    for lang in Lang::ALL {
        for p in plans(lang) {
            for sp in &p.servers {
                let text = script::render(&p, sp, lang, Some(&"ab".repeat(32)));
                let who = format!("{} {lang} ({})", sp.fqdn, sp.runbook);
                parse(&text, &who);
                assert_common(&text, &who);
                match sp.runbook {
                    Runbook::StandardEdition
                    | Runbook::SeedBackend
                    | Runbook::LyncFrontEnd
                    | Runbook::Director
                    | Runbook::Edge
                    | Runbook::Mediation
                    | Runbook::PersistentChat => assert_seed(&text, sp, &who),
                    Runbook::FrontEnd => assert_front_end(&text, sp, &who),
                    Runbook::BackendDatabases => assert_databases(&text, sp, &who),
                }
                seen.push(sp.runbook);
            }
        }
    }
    // 3 + 1 Front Ends... per language: enterprise (3 FE, 2 SQL), collocated (2 FE, 1 SQL), SE (1).
    assert_eq!(seen.len(), 2 * 9);
    for r in [Runbook::StandardEdition, Runbook::FrontEnd, Runbook::BackendDatabases] {
        assert!(seen.contains(&r), "no {r} script checked");
    }
}

#[test]
fn a_back_end_with_sfb_installed_keeps_the_seed_script() {
    let xml = std::fs::read_to_string(common::testdata("topology/enterprise-collocated.xml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let needle = "RequiresSetup=\"false\"";
    assert!(xml.contains(needle), "fixture changed");
    let t = sfbpatch_core::topology::load("x.xml", xml.replace(needle, "RequiresSetup=\"true\"").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    let sp =
        p.servers.iter().find(|s| s.runbook == Runbook::SeedBackend).unwrap_or_else(|| {
            panic!("no seed-backend in {:?}", p.servers.iter().map(|s| s.runbook).collect::<Vec<_>>())
        });
    let text = script::render(&p, sp, Lang::En, None);
    parse(&text, "seed-backend");
    assert_seed(&text, sp, "seed-backend");
}

#[test]
fn spanish_scripts_speak_spanish() {
    for p in plans(Lang::Es) {
        for sp in &p.servers {
            let text = script::render(&p, sp, Lang::Es, None);
            assert!(!text.contains("The users' outage begins now.") && !text.contains("is failed over"));
            match sp.runbook {
                Runbook::StandardEdition => {
                    assert!(text.contains("Detener los servicios de Skype Empresarial Server"));
                    assert!(text.contains("La interrupción para los usuarios empieza ahora."));
                }
                Runbook::FrontEnd => assert!(text.contains("está conmutado por error"), "{}", sp.fqdn),
                Runbook::BackendDatabases => assert!(text.contains("NO en"), "{}", sp.fqdn),
                Runbook::SeedBackend
                | Runbook::LyncFrontEnd
                | Runbook::Director
                | Runbook::Edge
                | Runbook::Mediation
                | Runbook::PersistentChat => {}
            }
        }
    }
}

#[test]
fn a_hostile_package_name_stays_inside_its_literal_and_its_comment() {
    let t = common::load("topology/enterprise.xml");
    for package in ["C:\\dl\\it's $(calc); `x.exe", "/tmp/a#>\rcalc.exe\n#>\u{2028}Remove-Item x/p.exe"] {
        let p = plan(&t, &PlanRequest::new(package)).unwrap_or_else(|e| panic!("{e}"));
        for sp in &p.servers {
            let text = script::render(&p, sp, Lang::En, None);
            parse(&text, &format!("{} {package:?}", sp.fqdn));
            let code = outside_literals_and_comments(&text);
            for never in ["calc", "Remove-Item"] {
                assert!(!code.contains(never), "{}: {never} outside a literal or a comment:\n{code}", sp.fqdn);
            }
        }
        let fe = p.servers.iter().find(|s| s.runbook == Runbook::FrontEnd).unwrap_or_else(|| panic!("no FE"));
        let text = script::render(&p, fe, Lang::En, None);
        if package.starts_with("C:") {
            assert!(
                text.contains("$Installer = 'C:\\ProgramData\\sfbpatch\\stage\\it''s $(calc); `x.exe'"),
                "{}",
                text.lines().find(|l| l.starts_with("$Installer")).unwrap_or("")
            );
        }
    }
}

#[test]
fn script_files_are_utf8_with_a_byte_order_mark() {
    let p = &plans(Lang::Es)[2];
    let text = script::render(p, &p.servers[0], Lang::Es, None);
    let bytes = script::file_bytes(&text);
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert_eq!(&bytes[3..], text.as_bytes());
    assert_eq!(script::file_bytes(&String::from_utf8_lossy(&bytes)), bytes, "never two marks");
}

/// Why the mark (DOMAIN.md §5): Windows PowerShell 5.1 reads a `.ps1` without one in the
/// system's ANSI code page (Windows-1252 on Western European systems), and every accented
/// letter of a Spanish message comes out as two other characters; characters whose UTF-8
/// bytes hold 0x91–0x94 (`→`, `—`) would even come out as typographic quotes, which
/// PowerShell takes for quotes and which can end a string. With the mark the text is read
/// as written.
#[test]
fn without_the_byte_order_mark_windows_powershell_would_read_a_spanish_script_garbled() {
    let p = &plans(Lang::Es)[2];
    let text = script::render(p, &p.servers[0], Lang::Es, None);
    let bytes = script::file_bytes(&text);
    let no_mark = &bytes[3..];
    let (ansi, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(no_mark);
    assert!(text.contains("ó") && !ansi.contains("ó") && ansi.contains("Ã³"), "accents garbled without the mark");
    assert_ne!(ansi, text);
    // With the mark, a reader that honours it (as PowerShell 5.1 does) gets the text back.
    let (read, used, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert_eq!((read.as_ref(), used), (text.as_str(), encoding_rs::UTF_8));
    // And why some characters are worse than garbled: `→` read as ANSI holds `’`, a quote.
    let line = "Write-Host 'a → b'";
    assert!(syntax::check(line).is_ok());
    let (arrow, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(line.as_bytes());
    // U+2019 is a single-quote-character to PowerShell (Windows PowerShell Language
    // Specification 3.0, §2.3.5.2): it would end the literal after "a â†".
    assert_eq!(arrow, "Write-Host 'a \u{e2}\u{2020}\u{2019} b'");
}

#[test]
fn the_syntax_check_would_catch_a_broken_script() {
    for p in plans(Lang::En) {
        for sp in &p.servers {
            let text = script::render(&p, sp, Lang::En, None);
            for broken in [text.replacen("} catch {", "} catch ", 1), text.replacen("$Server = '", "$Server = ", 1)] {
                assert!(syntax::check(&broken).is_err(), "{}: a broken script passed the check", sp.fqdn);
            }
        }
    }
}

#[test]
fn a_skipped_database_update_still_names_the_command_that_finishes_it() {
    let t = common::load("topology/enterprise.xml");
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.skip = vec![StepId::UpdateDatabases];
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    let sp = p.servers.iter().find(|s| s.fqdn.as_str() == "sql01.fabrikam.local").unwrap_or_else(|| panic!("sql01"));
    assert!(sp.database_command().is_none(), "the step is left out");
    let (host, command) = sp.finishing_database_command().unwrap_or_else(|| panic!("no finishing command"));
    assert_eq!(host.as_str(), "fe01.fabrikam.local");
    assert_eq!(command, "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.fabrikam.local'");
    let text = script::render(&p, sp, Lang::En, None);
    parse(&text, "skipped");
    assert!(text.contains("'Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn ''sql01.fabrikam.local'''"));
    assert!(!code_lines(&text).any(|l| l.starts_with("Install-CsDatabase")), "not run, only named");
    let fe = p.servers.iter().find(|s| s.runbook == Runbook::FrontEnd).unwrap_or_else(|| panic!("FE"));
    assert!(fe.finishing_database_command().is_none(), "a Front End has no databases of its own");
}

/// The part of a script the first process runs up to the install, and the branch a `-Step`
/// process takes.
fn first_process_and_step_branch<'a>(text: &'a str, who: &str) -> (&'a str, &'a str) {
    let branch_start = at(text, "\nif ($Step -ne '') {", who);
    let first = at(text, "\n    if (-not $AfterInstall) {", who);
    let install = at(text, "$sfbpatchInstaller = Start-Process", who);
    let transcript = at(text, "\n$null = New-Item -ItemType Directory -Force -Path $TranscriptDir", who);
    assert!(branch_start < transcript && transcript < first && first < install, "{who}: order of the branches");
    (&text[first..install], &text[branch_start..transcript])
}

#[test]
fn the_installer_runs_in_a_process_that_never_loaded_the_module() {
    let is_sfb = |code: &str| {
        code.contains("Import-Module")
            || code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).any(|w| w.contains("-Cs"))
    };
    let mut checked = 0;
    for lang in Lang::ALL {
        for p in plans(lang) {
            for sp in p.servers.iter().filter(|s| s.runbook != Runbook::BackendDatabases) {
                let text = script::render(&p, sp, lang, None);
                let who = format!("{} {lang} ({})", sp.fqdn, sp.runbook);
                let (first, branch) = first_process_and_step_branch(&text, &who);
                // No Skype for Business cmdlet and no module import before the install in the
                // process that runs it, outside literals and comments.
                let code = outside_literals_and_comments(first);
                assert!(!code.lines().any(is_sfb), "{who}: the first process loads the module:\n{code}");
                // Each step that needs the module runs in a process of its own, whose exit code
                // is checked, and its body is in the -Step branch.
                let steps: &[(StepId, &str)] = match sp.runbook {
                    Runbook::FrontEnd => &[
                        (StepId::CheckRole, "Get-CsAdminRoleAssignment"),
                        (StepId::OpenShell, "Import-Module"),
                        (StepId::FabricCheck, "Get-CsPoolFabricState"),
                        (StepId::Readiness, "Get-CsPoolUpgradeReadinessState"),
                        (StepId::Failover, "Invoke-CsComputerFailOver"),
                    ],
                    _ => &[
                        (StepId::CheckRole, "Get-CsAdminRoleAssignment"),
                        (StepId::OpenShell, "Import-Module"),
                        (StepId::StopServices, "Stop-CsWindowsService"),
                    ],
                };
                for (id, cmdlet) in steps {
                    at(first, &format!("Invoke-StepProcess '{id}'\n"), &who);
                    let case = at(branch, &format!("\n            '{id}' {{\n"), &who);
                    let body = &branch[case..];
                    let body = &body[..body[1..].find("\n            '").map_or(body.len(), |i| i + 1)];
                    assert!(body.contains(cmdlet), "{who}: {id} without {cmdlet}:\n{body}");
                }
                let helper = &text[at(&text, "function Invoke-StepProcess", &who)..];
                assert!(
                    helper.starts_with(
                        "function Invoke-StepProcess([string]$Id) {\n    & powershell.exe -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath -Step $Id | Out-Host\n    Assert-Exit ('powershell.exe -Step ' + $Id)\n}"
                    ),
                    "{who}"
                );
                // The -Step branch ends its process with its own code, before the transcript.
                assert!(branch.contains("        Write-Host ('FAILED: {0}'") || lang == Lang::Es, "{who}");
                assert!(branch.trim_end().ends_with("exit 1\n    }\n    exit 0\n}"), "{who}:\n{branch}");
                // The installer: Start-Process, waited for, its code from .ExitCode.
                let install = format!("\n        {}\n", cmd(sp, StepId::InstallUpdate));
                let line = at(&text, &install, &who);
                assert!(
                    text[line + install.len()..].starts_with("        $code = $sfbpatchInstaller.ExitCode\n"),
                    "{who}"
                );
                assert!(cmd(sp, StepId::InstallUpdate).ends_with(
                    "-ArgumentList '/silentmode' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode"
                ));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 6, "SE and Front End scripts of the three fixtures, both languages");
}

#[test]
fn other_shells_include_remote_sessions_and_a_parent_with_the_module_is_refused() {
    let p = &plans(Lang::En)[0];
    for sp in p.servers.iter().filter(|s| s.runbook != Runbook::BackendDatabases) {
        let text = script::render(p, sp, Lang::En, None);
        let who = sp.fqdn.as_str();
        // Windows PowerShell, the ISE, PowerShell 7 and wsmprovhost.exe (remote sessions).
        at(
            &text,
            "Get-Process -Name 'powershell', 'powershell_ise', 'pwsh', 'wsmprovhost' -ErrorAction SilentlyContinue",
            who,
        );
        // Others: every one but this process and its parent.
        at(&text, "Get-ShellProcess | Where-Object { $_.Id -ne $PID -and $_.Id -ne $parent }", who);
        // This process or its parent, when it holds the module's assembly (a script run inside
        // the Management Shell is that shell; unreadable modules count).
        at(
            &text,
            "Get-ShellProcess | Where-Object { ($_.Id -eq $PID -or $_.Id -eq $parent) -and (Test-HoldsSfbModule $_) }",
            who,
        );
        at(&text, "$_.ModuleName -like 'Microsoft.Rtc.Management*'", who);
        let holds = &text[at(&text, "function Test-HoldsSfbModule", who)..];
        assert!(holds[..holds.find("\n}\n").unwrap_or(holds.len())].contains("} catch {\n        return $true"));
        // Refused after the module's own process, before any service or IIS is touched.
        let open = at(&text, "Invoke-StepProcess 'open-shell'", who);
        let refuse = at(&text, "    throw ('This script was started from a PowerShell window that has the Skype", who);
        let others = at(&text, "$others = @(Get-OtherShell)", who);
        let first_change = ["Invoke-StepProcess 'stop-services'", "Invoke-StepProcess 'failover'"]
            .iter()
            .filter_map(|n| text.find(n))
            .min()
            .unwrap_or_else(|| panic!("{who}: nothing stops"));
        assert!(open < others && others < refuse && refuse < first_change, "{who}");
        assert!(text[refuse..].contains("-f $parentShell[0], $PSCommandPath)"), "{who}");
    }
}

#[test]
fn a_lync_front_end_runs_its_pool_checks_in_their_own_processes_too() {
    let t = common::load("topology/mixed-lync2013.xml");
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    let sp = p
        .servers
        .iter()
        .find(|s| s.runbook == Runbook::LyncFrontEnd)
        .unwrap_or_else(|| panic!("no lync-front-end in the mixed fixture"));
    let text = script::render(&p, sp, Lang::En, None);
    parse(&text, "lync-front-end");
    let (first, branch) = first_process_and_step_branch(&text, "lync-front-end");
    for (id, command) in [
        (StepId::FabricCheck, cmd(sp, StepId::FabricCheck)),
        (StepId::Readiness, cmd(sp, StepId::Readiness)),
        (StepId::StopServices, cmd(sp, StepId::StopServices)),
    ] {
        at(first, &format!("Invoke-StepProcess '{id}'\n"), "lync-front-end");
        let case = at(branch, &format!("\n            '{id}' {{\n                {command}\n"), "lync-front-end");
        assert!(case > 0);
    }
}

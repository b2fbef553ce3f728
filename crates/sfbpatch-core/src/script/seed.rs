//! The script of the seed's procedure: a Standard Edition server, or a back end that carries
//! Skype for Business (`RequiresSetup="true"`). On the server itself; the outage timed from
//! `stop-services`; on a failure inside the outage, the exact commands that bring service
//! back (before the install: IIS and the services; after it: the rest of the procedure, as
//! the engine does); the databases proven current after the services are back.

use std::fmt::Write as _;

use sfbpatch_i18n::{Args, Lang, text};
use sfbpatch_pwsh::literal;

use super::{
    TRANSCRIPT_DIR, command, common_step, database_helpers, header, helpers, in_step_process, other_shell_helper,
    preamble, say, step_header, step_in_process, step_process_branch,
};
use crate::plan::{Plan, ServerPlan};
use crate::runbook::{INSTALLER_PROCESS, StepId};

pub(super) fn render(plan: &Plan, sp: &ServerPlan, lang: Lang, sha256: Option<&str>) -> String {
    let mut o = String::new();
    let t = |k: &str| text(lang, &format!("script.{k}"));
    header(&mut o, plan, sp, lang, &t("usage"));
    preamble(&mut o, &["[switch]$AfterInstall", "[string]$OutageStart = ''", "[string]$Step = ''"]);
    let _ = writeln!(o, "$Server = {}", literal(sp.fqdn.as_str()));
    let _ = writeln!(o, "$Installer = {}", literal(&plan.staged_installer));
    let _ = writeln!(o, "$ExpectedSha256 = {}", literal(sha256.unwrap_or("")));
    let _ = writeln!(o, "$BudgetMinutes = {}", plan.outage_budget_minutes);
    let _ = writeln!(o, "$TranscriptDir = {}", literal(TRANSCRIPT_DIR));
    let _ = writeln!(o, "$script:OutageStarted = $null\n$script:OutageOver = $false\n$script:Installed = $false\n");

    helpers(&mut o, lang);
    other_shell_helper(&mut o);
    database_helpers(&mut o, sp, lang);
    // Recovery: before the install, start IIS and the services; after it, the rest of the
    // procedure, as the engine does.
    let before = sp.recovery(StepId::InstallUpdate);
    let after = sp.recovery(StepId::UpdateDatabases);
    let _ = writeln!(
        o,
        "function Show-Recovery {{\n    Write-Host ''\n    Write-Host {}",
        say(lang, "script.recovery", &Args::new().with("server", &sp.fqdn))
    );
    let _ = writeln!(o, "    if ($script:Installed) {{");
    for c in &after {
        let _ = writeln!(o, "        Write-Host ('    ' + {})", literal(c));
    }
    let _ = writeln!(o, "    }} else {{");
    for c in &before {
        let _ = writeln!(o, "        Write-Host ('    ' + {})", literal(c));
    }
    let _ = writeln!(o, "    }}\n}}\n");

    // The steps before the install that need the module, each in a process of its own.
    step_process_branch(&mut o, sp, lang, &mut |o, id, ind| {
        if !common_step(o, sp, id, ind, lang)
            && let Some(c) = command(sp, id)
        {
            let _ = writeln!(o, "{ind}{c}");
        }
    });

    super::open_first_process(&mut o);
    let ind = "        ";
    for id in super::through_install(sp) {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            _ if in_step_process(id) => step_in_process(&mut o, id, ind, lang),
            StepId::InstallUpdate => {
                // `$sfbpatchInstaller = Start-Process … -Wait -PassThru`: a GUI program, waited
                // for, its code from `.ExitCode` (DOMAIN.md §5), from this process, which never
                // loaded the module.
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}$code = ${INSTALLER_PROCESS}.ExitCode");
                let _ = writeln!(o, "{ind}$script:Installed = $true");
                let _ = writeln!(
                    o,
                    "{ind}if ($code -eq 3010 -or $code -eq 1641) {{\n{ind}    Write-Warning {}\n{ind}    Write-Host ('    powershell.exe -NoProfile -ExecutionPolicy Bypass -File \"' + $PSCommandPath + '\" -AfterInstall -OutageStart ' + $script:OutageStarted.ToString('o'))\n{ind}    $null = Stop-Transcript\n{ind}    exit 3010\n{ind}}}",
                    say(lang, "script.restart-needed", &Args::new())
                );
                let _ = writeln!(o, "{ind}if ($code -ne 0) {{\n{ind}    Assert-Exit 'installer'\n{ind}}}");
                let _ = writeln!(o, "{ind}Test-OutageBudget");
            }
            _ => {
                if !common_step(&mut o, sp, id, ind, lang)
                    && let Some(c) = command(sp, id)
                {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
        }
        if matches!(id, StepId::StopServices | StepId::StopW3svc) {
            let _ = writeln!(o, "{ind}Test-OutageBudget");
        }
        let _ = writeln!(o);
    }
    super::comment(&mut o, ind, &t("comment.new-shell"));
    let _ = writeln!(o, "{ind}$null = Stop-Transcript");
    let _ = writeln!(
        o,
        "{ind}& powershell.exe -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath -AfterInstall -OutageStart $script:OutageStarted.ToString('o')"
    );
    let _ = writeln!(o, "{ind}exit $LASTEXITCODE");
    let _ = writeln!(o, "    }}");
    let _ = writeln!(o);
    super::comment(&mut o, "    ", &t("comment.after-install"));
    let _ = writeln!(
        o,
        "    $script:Installed = $true\n    if ($OutageStart -ne '') {{\n        $script:OutageStarted = [datetime]::Parse($OutageStart, $null, [System.Globalization.DateTimeStyles]::RoundtripKind)\n    }}"
    );
    let ind = "    ";
    for id in super::after_install(sp) {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            StepId::StartServices => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}$script:OutageOver = $true");
                let _ = writeln!(o, "{ind}Write-Host ({} -f (Get-OutageMinutes))", literal(&t("outage-ends")));
            }
            _ => {
                if !common_step(&mut o, sp, id, ind, lang)
                    && let Some(c) = command(sp, id)
                {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
        }
        if !matches!(id, StepId::Verify | StepId::StartServices | StepId::ReopenShell | StepId::CheckDatabases) {
            let _ = writeln!(o, "{ind}Test-OutageBudget");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "    Write-Host {}", say(lang, "script.done", &Args::new().with("server", &sp.fqdn)));
    let _ = writeln!(o, "}} catch {{");
    let _ = writeln!(o, "    Write-Host ({} -f $_.Exception.Message) -ForegroundColor Red", literal(&t("failed")));
    let _ = writeln!(
        o,
        "    if ($null -ne $script:OutageStarted -and -not $script:OutageOver) {{\n        Show-Recovery\n    }}"
    );
    let _ = writeln!(o, "    $null = Stop-Transcript\n    exit 1\n}}");
    let _ = writeln!(o, "$null = Stop-Transcript\nexit 0");
    o
}

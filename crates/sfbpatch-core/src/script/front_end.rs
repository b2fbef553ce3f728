//! The script of a Front End of an Enterprise pool (DOMAIN.md §2, "Patch or update Front End
//! Servers"): the pool's fabric checked (missing replicas stop it, with the recovery command),
//! its readiness asked (Busy: again after 10 minutes, at most three answers;
//! `InsufficientActiveFrontEnds`: stop), the server failed over, the update installed, and the
//! server failed back. `Invoke-CsComputerFailOver` stops **and disables** the services, so
//! once the failover has started the failback is guaranteed: a `finally` runs it after a
//! failure or a Ctrl-C, in this process or the one after the install. Only a restart the
//! installer asks for leaves the server failed over on purpose (the restart is what the
//! failover protects the users from), with the command that finishes and fails it back.
//!
//! Exit codes: 0 done, 1 failed, 3010 restart needed. The process started after the install
//! (`-AfterInstall -Child`) tells the first one whether it failed the server back: 0 done, 10
//! failed but failed back, 11 failback not done (the first process then tries it too).

use std::fmt::Write as _;

use sfbpatch_i18n::{Args, Lang, fmt as tr, text};
use sfbpatch_pwsh::{Arg, Command, Word, literal};

use super::{
    TRANSCRIPT_DIR, command, common_step, header, helpers, in_step_process, other_shell_helper, preamble, say,
    step_header, step_in_process, step_process_branch, transcript_stop,
};
use crate::plan::{Plan, ServerPlan};
use crate::runbook::{INSTALLER_PROCESS, StepId};

/// `Reset-CsPoolRegistrarState -PoolFqdn <pool> -ResetType QuorumLossRecovery`: the
/// documented recovery of missing replicas (the page omits the required `-PoolFqdn`;
/// research notes §2.5).
pub fn quorum_loss_recovery(pool: &str) -> String {
    Command::named(Word::fixed("Reset-CsPoolRegistrarState"))
        .arg(Arg::Named(Word::fixed("PoolFqdn"), pool.to_owned()))
        .arg(Arg::Switch(Word::fixed("ResetType")))
        .arg(Arg::Bare(Word::fixed("QuorumLossRecovery")))
        .render()
}

pub(super) fn render(plan: &Plan, sp: &ServerPlan, lang: Lang, sha256: Option<&str>) -> String {
    let mut o = String::new();
    let t = |k: &str| text(lang, &format!("script.{k}"));
    let pool = sp.pool.as_ref().unwrap_or(&sp.fqdn);
    let server = Args::new().with("server", &sp.fqdn).with("pool", pool);
    header(&mut o, plan, sp, lang, &tr(lang, "script.head.usage-front-end", &server));
    preamble(&mut o, &["[switch]$AfterInstall", "[switch]$Child", "[string]$Step = ''"]);
    let _ = writeln!(o, "$Server = {}", literal(sp.fqdn.as_str()));
    let _ = writeln!(o, "$Pool = {}", literal(pool.as_str()));
    let _ = writeln!(o, "$Installer = {}", literal(&plan.staged_installer));
    let _ = writeln!(o, "$ExpectedSha256 = {}", literal(sha256.unwrap_or("")));
    let _ = writeln!(o, "$BudgetMinutes = {}", plan.outage_budget_minutes);
    let _ = writeln!(o, "$TranscriptDir = {}", literal(TRANSCRIPT_DIR));
    let _ = writeln!(
        o,
        "$script:OutageStarted = $null\n$script:FailoverStarted = [bool]$AfterInstall\n$script:FailedBack = $false\n$script:KeepFailedOver = $false\n$script:Transcribing = $false\n$script:ExitCode = 0\n"
    );

    helpers(&mut o, lang);
    other_shell_helper(&mut o);
    let _ = writeln!(
        o,
        "function Get-MissingReplicas([string]$Text) {{\n    $n = 0\n    foreach ($line in ($Text -split \"`r?`n\")) {{\n        if ($line -match '^\\s*MissingReplicas\\s*:\\s*(\\d+)') {{\n            $n += [int]$Matches[1]\n        }} elseif ($line -match 'missing replica') {{\n            $m = [regex]::Match($line, '\\d+')\n            if ($m.Success) {{\n                $n += [int]$m.Value\n            }} else {{\n                $n += 1\n            }}\n        }}\n    }}\n    return $n\n}}"
    );
    let _ = writeln!(
        o,
        "function Get-PoolUpgradeState([string]$Text) {{\n    if ($Text -match '(?m)^\\s*PoolUpgradeState\\s*:\\s*(\\S+)') {{\n        return $Matches[1]\n    }}\n    return ''\n}}"
    );
    // What brings the server back: IIS, then failback (which enables and starts the services).
    let start_iis = command(sp, StepId::StartW3svc).unwrap_or_else(|| "net start w3svc".to_owned());
    let recovery = sp.recovery(StepId::Failover);
    let failback = command(sp, StepId::Failback)
        .or_else(|| recovery.iter().find(|c| c.starts_with("Invoke-CsComputerFailBack")).cloned())
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "function Invoke-Failback {{\n    Write-Host {}\n    if ((Get-Service -Name 'W3SVC').Status -ne 'Running') {{\n        {start_iis}\n        Assert-Exit 'net start w3svc'\n    }}\n    {failback}\n    $script:FailedBack = $true\n    Write-Host {}\n}}",
        say(lang, "script.fe.failing-back", &server),
        say(lang, "script.fe.failed-back", &server),
    );
    let _ =
        writeln!(o, "function Show-Recovery {{\n    Write-Host {}", say(lang, "script.fe.failback-failed", &server));
    for c in &recovery {
        let _ = writeln!(o, "    Write-Host ('    ' + {})", literal(c));
    }
    let _ = writeln!(o, "}}\n");

    // The steps before the install that need the module, each in a process of its own.
    step_process_branch(&mut o, sp, lang, &mut |o, id, ind| step_body(o, sp, id, ind, lang));

    super::open_first_process(&mut o);
    let ind = "        ";
    for id in super::through_install(sp) {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            _ if in_step_process(id) => {
                step_in_process(&mut o, id, ind, lang);
                if id == StepId::Failover {
                    let _ = writeln!(o, "{ind}Write-Host {}", say(lang, "script.fe.failed-over", &server));
                }
            }
            StepId::InstallUpdate => {
                // A GUI program, waited for, its code from `.ExitCode` (DOMAIN.md §5), from this
                // process, which never loaded the module.
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}$code = ${INSTALLER_PROCESS}.ExitCode");
                let _ = writeln!(
                    o,
                    "{ind}if ($code -eq 3010 -or $code -eq 1641) {{\n{ind}    $script:KeepFailedOver = $true\n{ind}    $script:ExitCode = 3010\n{ind}    Write-Warning {}\n{ind}    Write-Host ('    powershell.exe -NoProfile -ExecutionPolicy Bypass -File \"' + $PSCommandPath + '\" -AfterInstall')\n{ind}}} elseif ($code -ne 0) {{\n{ind}    Assert-Exit 'installer'\n{ind}}}",
                    say(lang, "script.fe.restart-failed-over", &server)
                );
            }
            _ => {
                if !common_step(&mut o, sp, id, ind, lang)
                    && let Some(c) = command(sp, id)
                {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
        }
        let _ = writeln!(o);
    }
    super::comment(&mut o, ind, &t("comment.new-shell"));
    let _ = writeln!(o, "{ind}if (-not $script:KeepFailedOver) {{");
    transcript_stop(&mut o, "            ");
    let _ = writeln!(
        o,
        "{ind}    & powershell.exe -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath -AfterInstall -Child\n{ind}    $child = $LASTEXITCODE"
    );
    let _ = writeln!(
        o,
        "{ind}    if ($child -eq 0 -or $child -eq 10) {{\n{ind}        $script:FailedBack = $true\n{ind}    }}\n{ind}    if ($child -ne 0) {{\n{ind}        $script:ExitCode = 1\n{ind}    }}\n{ind}}}"
    );
    let _ = writeln!(o, "    }} else {{");
    super::comment(&mut o, ind, &t("comment.after-install"));
    for id in super::after_install(sp) {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            StepId::Failback => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}$script:FailedBack = $true");
                let _ = writeln!(o, "{ind}Write-Host {}", say(lang, "script.fe.failed-back", &server));
            }
            _ => {
                if !common_step(&mut o, sp, id, ind, lang)
                    && let Some(c) = command(sp, id)
                {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "{ind}Write-Host {}", say(lang, "script.done", &server));
    let _ = writeln!(o, "    }}");
    let _ = writeln!(o, "}} catch {{");
    let _ = writeln!(o, "    Write-Host ({} -f $_.Exception.Message) -ForegroundColor Red", literal(&t("failed")));
    let _ = writeln!(o, "    $script:ExitCode = 1");
    let _ = writeln!(o, "}} finally {{");
    super::comment(&mut o, "    ", &t("fe.comment-finally"));
    let _ = writeln!(
        o,
        "    if ($script:FailoverStarted -and -not $script:FailedBack -and -not $script:KeepFailedOver) {{\n        try {{\n            Invoke-Failback\n        }} catch {{\n            Write-Host ({} -f $_.Exception.Message) -ForegroundColor Red\n            Show-Recovery\n            if ($script:ExitCode -eq 0) {{\n                $script:ExitCode = 1\n            }}\n        }}\n    }}",
        literal(&t("failed"))
    );
    transcript_stop(&mut o, "    ");
    let _ = writeln!(o, "}}");
    let _ = writeln!(
        o,
        "if ($Child -and $script:ExitCode -ne 0) {{\n    if ($script:FailedBack) {{\n        exit 10\n    }}\n    exit 11\n}}\nexit $script:ExitCode"
    );
    o
}

/// The body of a step that runs in a process of its own (`-Step <id>`): the fabric check
/// (missing replicas stop the update, with the recovery command), readiness (Busy asked again
/// after 10 minutes, at most three answers), the failover, and the shared steps.
fn step_body(o: &mut String, sp: &ServerPlan, id: StepId, ind: &str, lang: Lang) {
    let pool = sp.pool.as_ref().unwrap_or(&sp.fqdn);
    let server = Args::new().with("server", &sp.fqdn).with("pool", pool);
    match id {
        StepId::FabricCheck => {
            if let Some(c) = command(sp, id) {
                let _ = writeln!(o, "{ind}$fabric = {c} 3>&1 | Out-String");
            }
            let _ = writeln!(o, "{ind}Write-Host $fabric");
            let _ = writeln!(
                o,
                "{ind}if ((Get-MissingReplicas $fabric) -gt 0) {{\n{ind}    throw ({} + [Environment]::NewLine + '    ' + {})\n{ind}}}",
                say(lang, "script.fe.fabric-missing", &server),
                literal(&quorum_loss_recovery(pool.as_str()))
            );
        }
        StepId::Readiness => {
            let c = command(sp, id).unwrap_or_default();
            let _ = writeln!(o, "{ind}for ($answer = 1; $answer -le 3; $answer++) {{");
            let _ = writeln!(o, "{ind}    $readiness = {c} | Out-String");
            let _ = writeln!(o, "{ind}    Write-Host $readiness");
            let _ = writeln!(o, "{ind}    $state = Get-PoolUpgradeState $readiness");
            let _ = writeln!(o, "{ind}    if ($state -eq 'Ready') {{\n{ind}        break\n{ind}    }}");
            let _ = writeln!(
                o,
                "{ind}    if ($state -eq 'InsufficientActiveFrontEnds') {{\n{ind}        throw {}\n{ind}    }}",
                say(lang, "script.fe.readiness-insufficient", &server)
            );
            let _ = writeln!(
                o,
                "{ind}    if ($state -ne 'Busy') {{\n{ind}        throw ({} -f $state)\n{ind}    }}",
                say(lang, "script.fe.readiness-unknown", &server)
            );
            let _ = writeln!(
                o,
                "{ind}    if ($answer -eq 3) {{\n{ind}        throw {}\n{ind}    }}",
                say(lang, "script.fe.readiness-busy-3", &server)
            );
            let _ = writeln!(o, "{ind}    Write-Host ({} -f $answer)", say(lang, "script.fe.readiness-busy", &server));
            let _ = writeln!(o, "{ind}    Start-Sleep -Seconds 600\n{ind}}}");
        }
        _ => {
            if !common_step(o, sp, id, ind, lang)
                && let Some(c) = command(sp, id)
            {
                let _ = writeln!(o, "{ind}{c}");
            }
        }
    }
}

//! A standalone PowerShell script per server, for organisations that forbid remote execution:
//! the operator reviews it and runs it on the server in an elevated Windows PowerShell 5.1.
//!
//! It performs that server's plan with the plan's own commands, in order: strict mode,
//! `$ErrorActionPreference = 'Stop'`, `$LASTEXITCODE` checked after every native command, a
//! transcript, the CsAdministrator check first, the outage timed from `stop-services` with a
//! warning past the budget, and on a failure inside the outage the exact commands that bring
//! service back. The shell rule holds: everything after the install runs in a new
//! `powershell.exe` process (the same script with `-AfterInstall`). Pure: plan in, text out.

use std::fmt::Write as _;

use sfbpatch_i18n::{Args, Lang, fmt as tr, text};
use sfbpatch_pwsh::literal;

use crate::plan::{Plan, ServerPlan};
use crate::runbook::StepId;

/// Where transcripts are written on the server.
pub const TRANSCRIPT_DIR: &str = r"C:\ProgramData\sfbpatch\transcripts";

fn comment(o: &mut String, indent: &str, line: &str) {
    for l in line.lines() {
        let _ = writeln!(o, "{indent}# {l}");
    }
}

fn say(lang: Lang, key: &str, args: &Args<'_>) -> String {
    literal(&tr(lang, key, args))
}

fn command(sp: &ServerPlan, id: StepId) -> Option<String> {
    sp.steps.iter().find(|s| s.id == id).and_then(|s| s.command.clone())
}

fn has(sp: &ServerPlan, id: StepId) -> bool {
    sp.steps.iter().any(|s| s.id == id)
}

/// Writes a step's comments and progress line; false (with a comment) when the plan leaves
/// the step out.
fn step_header(o: &mut String, sp: &ServerPlan, id: StepId, ind: &str, lang: Lang) -> bool {
    if !has(sp, id) {
        comment(o, ind, &tr(lang, "script.skipped", &Args::new().with("step", id.as_str())));
        return false;
    }
    let n = id.seed_number().map(|n| format!("{n}. ")).unwrap_or_default();
    let title = format!("{n}{} ({})", id.title(lang), id.as_str());
    comment(o, ind, &title);
    comment(o, ind, &id.detail(lang));
    let _ = writeln!(o, "{ind}Write-Step {}", literal(&title));
    true
}

/// The script for one server of `plan`. `sha256`: the package's hash, when the package was
/// at hand when the script was made (the script then checks the staged copy against it).
pub fn render(plan: &Plan, sp: &ServerPlan, lang: Lang, sha256: Option<&str>) -> String {
    let mut o = String::new();
    let t = |k: &str| text(lang, &format!("script.{k}"));
    let _ = writeln!(o, "<#");
    let _ = writeln!(
        o,
        "{}",
        tr(
            lang,
            "script.header",
            &Args::new().with("server", &sp.fqdn).with("role", sp.role.as_str()).with("package", &plan.package)
        )
    );
    let _ = writeln!(o, "{}", t("usage"));
    let _ = writeln!(o, "#>");
    let _ = writeln!(o, "[CmdletBinding()]\nparam(\n    [switch]$AfterInstall,\n    [string]$OutageStart = ''\n)");
    let _ = writeln!(o, "Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n");
    let _ = writeln!(o, "$Server = {}", literal(sp.fqdn.as_str()));
    let _ = writeln!(o, "$Installer = {}", literal(&plan.staged_installer));
    let _ = writeln!(o, "$ExpectedSha256 = {}", literal(sha256.unwrap_or("")));
    let _ = writeln!(o, "$BudgetMinutes = {}", plan.outage_budget_minutes);
    let _ = writeln!(o, "$TranscriptDir = {}", literal(TRANSCRIPT_DIR));
    let _ = writeln!(o, "$script:OutageStarted = $null\n$script:OutageOver = $false\n$script:Installed = $false\n");

    comment(&mut o, "", &t("comment.functions"));
    let _ = writeln!(o, "function Write-Step([string]$Text) {{\n    Write-Host ('==> ' + $Text)\n}}");
    let _ = writeln!(
        o,
        "function Assert-Exit([string]$What) {{\n    if ($LASTEXITCODE -ne 0) {{\n        throw ({} -f $What, $LASTEXITCODE)\n    }}\n}}",
        literal(&t("exit-code"))
    );
    let _ = writeln!(
        o,
        "function Get-OtherShell {{\n    $parent = (Get-CimInstance -ClassName Win32_Process -Filter \"ProcessId=$PID\").ParentProcessId\n    Get-Process -Name 'powershell', 'powershell_ise', 'pwsh' -ErrorAction SilentlyContinue |\n        Where-Object {{ $_.Id -ne $PID -and $_.Id -ne $parent }} |\n        ForEach-Object {{ $_.Id }}\n}}"
    );
    let _ = writeln!(
        o,
        "function Get-OutageMinutes {{\n    if ($null -eq $script:OutageStarted) {{\n        return 0\n    }}\n    return ((Get-Date) - $script:OutageStarted).TotalMinutes\n}}"
    );
    let _ = writeln!(
        o,
        "function Test-OutageBudget {{\n    $m = Get-OutageMinutes\n    if ($m -ge $BudgetMinutes) {{\n        Write-Warning ({} -f $m, $BudgetMinutes)\n    }} else {{\n        Write-Host ({} -f $m, $BudgetMinutes)\n    }}\n}}",
        literal(&t("over-budget")),
        literal(&t("outage-so-far"))
    );
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

    let _ = writeln!(o, "$null = New-Item -ItemType Directory -Force -Path $TranscriptDir");
    let _ = writeln!(
        o,
        "$null = Start-Transcript -Append -Path (Join-Path $TranscriptDir ('{{0}}-{{1:yyyyMMdd-HHmmss}}.log' -f $Server, (Get-Date)))"
    );
    let _ = writeln!(o, "try {{");
    let _ = writeln!(o, "    if (-not $AfterInstall) {{");
    let ind = "        ";
    for id in [
        StepId::CheckRole,
        StepId::StagePackage,
        StepId::OpenShell,
        StepId::StopServices,
        StepId::StopW3svc,
        StepId::CloseShells,
        StepId::InstallUpdate,
    ] {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            StepId::CheckRole => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}$roles = {c} | Out-String");
                }
                let _ = writeln!(
                    o,
                    "{ind}if ($roles -notmatch 'CsAdministrator') {{\n{ind}    throw {}\n{ind}}}",
                    say(lang, "script.not-admin", &Args::new())
                );
            }
            StepId::StagePackage => {
                let _ = writeln!(
                    o,
                    "{ind}if (-not (Test-Path -LiteralPath $Installer)) {{\n{ind}    throw ({} -f $Installer)\n{ind}}}",
                    literal(&t("no-package"))
                );
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}$hash = ({c}).Hash");
                }
                let _ = writeln!(
                    o,
                    "{ind}if ($ExpectedSha256 -ne '' -and $hash -ne $ExpectedSha256) {{\n{ind}    throw ({} -f $hash, $ExpectedSha256)\n{ind}}}",
                    literal(&t("bad-hash"))
                );
            }
            StepId::OpenShell => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                // Before the outage: other shells would hold the old assemblies during the install.
                let _ = writeln!(o, "{ind}$others = @(Get-OtherShell)");
                let _ = writeln!(
                    o,
                    "{ind}if ($others.Count -gt 0) {{\n{ind}    throw ({} -f ($others -join ', '))\n{ind}}}",
                    literal(&t("shells-open"))
                );
            }
            StepId::StopServices => {
                let _ = writeln!(o, "{ind}$script:OutageStarted = Get-Date");
                let _ = writeln!(o, "{ind}Write-Host {}", say(lang, "script.outage-begins", &Args::new()));
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
            StepId::StopW3svc => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(
                    o,
                    "{ind}if ($LASTEXITCODE -ne 0 -and (Get-Service -Name 'W3SVC').Status -ne 'Stopped') {{\n{ind}    Assert-Exit 'net stop w3svc'\n{ind}}}"
                );
            }
            StepId::CloseShells => {
                // Checked before the outage already (open-shell); checked again here.
                let _ = writeln!(o, "{ind}$others = @(Get-OtherShell)");
                let _ = writeln!(
                    o,
                    "{ind}if ($others.Count -gt 0) {{\n{ind}    Write-Warning ({} -f ($others -join ', '))\n{ind}}}",
                    literal(&t("shells-open"))
                );
            }
            StepId::InstallUpdate => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}$code = $LASTEXITCODE");
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
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
        }
        if matches!(id, StepId::StopServices | StepId::StopW3svc) {
            let _ = writeln!(o, "{ind}Test-OutageBudget");
        }
        let _ = writeln!(o);
    }
    comment(&mut o, ind, &t("comment.new-shell"));
    let _ = writeln!(o, "{ind}$null = Stop-Transcript");
    let _ = writeln!(
        o,
        "{ind}& powershell.exe -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath -AfterInstall -OutageStart $script:OutageStarted.ToString('o')"
    );
    let _ = writeln!(o, "{ind}exit $LASTEXITCODE");
    let _ = writeln!(o, "    }}");
    let _ = writeln!(o);
    comment(&mut o, "    ", &t("comment.after-install"));
    let _ = writeln!(
        o,
        "    $script:Installed = $true\n    if ($OutageStart -ne '') {{\n        $script:OutageStarted = [datetime]::Parse($OutageStart, $null, [System.Globalization.DateTimeStyles]::RoundtripKind)\n    }}"
    );
    let ind = "    ";
    for id in [
        StepId::ReopenShell,
        StepId::StopServicesAgain,
        StepId::StartW3svc,
        StepId::UpdateDatabases,
        StepId::StartServices,
        StepId::Verify,
    ] {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            StepId::StartW3svc => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(
                    o,
                    "{ind}if ($LASTEXITCODE -ne 0 -and (Get-Service -Name 'W3SVC').Status -ne 'Running') {{\n{ind}    Assert-Exit 'net start w3svc'\n{ind}}}"
                );
            }
            StepId::StartServices => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}$script:OutageOver = $true");
                let _ = writeln!(o, "{ind}Write-Host ({} -f (Get-OutageMinutes))", literal(&t("outage-ends")));
            }
            StepId::Verify => {
                let _ =
                    writeln!(o, "{ind}$stopped = @(Get-CsWindowsService | Where-Object {{ $_.Status -ne 'Running' }})");
                let _ = writeln!(
                    o,
                    "{ind}if ($stopped.Count -gt 0 -or (Get-Service -Name 'W3SVC').Status -ne 'Running') {{\n{ind}    throw {}\n{ind}}}",
                    say(lang, "script.not-running", &Args::new())
                );
                let _ = writeln!(o, "{ind}Get-CsServerPatchVersion | Format-Table -AutoSize | Out-String | Write-Host");
            }
            _ => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
            }
        }
        if !matches!(id, StepId::Verify | StepId::StartServices | StepId::ReopenShell) {
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

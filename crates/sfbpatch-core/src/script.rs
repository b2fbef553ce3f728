//! A standalone PowerShell script per server, for organisations that forbid remote execution:
//! the operator reviews it and runs it in an elevated Windows PowerShell 5.1 on the host the
//! plan names. Each runbook has its own script (`scope::Runbook`):
//!
//! * `standard-edition`, `seed-backend` ([`seed`]): the documented procedure on the server
//!   itself, the outage timed from `stop-services` with a warning past the budget, the exact
//!   commands that bring service back after a failure inside the outage, and the databases
//!   proven current (`check-databases`).
//! * `front-end` ([`front_end`]): fabric check (missing replicas stop it, with the
//!   `Reset-CsPoolRegistrarState` command), readiness (Busy asked again after 10 minutes, at
//!   most three times), failover, the install, and failback **guaranteed** in a `finally` once
//!   failover has started (its services stay disabled until then).
//! * `backend-databases` ([`databases`]): runs on the updated Front End the plan names, refuses
//!   any other computer, and proves every database of the SQL Server current before and after
//!   `Install-CsDatabase`.
//!
//! Every script: strict mode, `$ErrorActionPreference = 'Stop'`, `$LASTEXITCODE` checked after
//! every native command, a transcript, exit code 0 (done), 1 (failed) or 3010 (restart
//! needed), and every value that comes from the input (names, paths) a single-quoted literal.
//! The shell rule holds: what follows an install runs in a new `powershell.exe` process (the
//! same script with `-AfterInstall`). Files are written UTF-8 with a byte-order mark
//! ([`file_bytes`], DOMAIN.md §5). Pure: plan in, text out.

mod databases;
mod front_end;
mod seed;

use std::fmt::Write as _;

use sfbpatch_i18n::{Args, Lang, fmt as tr, text};
use sfbpatch_pwsh::literal;

use crate::plan::{Plan, ServerPlan};
use crate::runbook::StepId;
use crate::scope::Runbook;

/// Where transcripts are written on the server.
pub const TRANSCRIPT_DIR: &str = r"C:\ProgramData\sfbpatch\transcripts";

/// The byte-order mark that makes Windows PowerShell 5.1 read a file as UTF-8.
pub const BOM: &str = "\u{feff}";

/// The script for one server of `plan`, as text (no byte-order mark: see [`file_bytes`]).
/// `sha256`: the package's hash, when the package was at hand when the script was made (the
/// script then checks the staged copy against it).
pub fn render(plan: &Plan, sp: &ServerPlan, lang: Lang, sha256: Option<&str>) -> String {
    match sp.runbook {
        Runbook::FrontEnd => front_end::render(plan, sp, lang, sha256),
        Runbook::BackendDatabases => databases::render(plan, sp, lang),
        // A Lync Server 2013 Front End's runbook is the seed's steps on the server itself.
        Runbook::StandardEdition | Runbook::SeedBackend | Runbook::LyncFrontEnd => seed::render(plan, sp, lang, sha256),
    }
}

/// A script as the bytes of a `.ps1` file: UTF-8 with a byte-order mark, without which
/// Windows PowerShell 5.1 reads the file in the ANSI code page (DOMAIN.md §5).
pub fn file_bytes(script: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(BOM.len() + script.len());
    out.extend_from_slice(BOM.as_bytes());
    out.extend_from_slice(script.strip_prefix(BOM).unwrap_or(script).as_bytes());
    out
}

/// Writes `line` as comment lines. Every character PowerShell takes as a line break starts a
/// new `#` line, so no text (a package path, a sentence) can leave the comment.
fn comment(o: &mut String, indent: &str, line: &str) {
    for l in line.split(['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}']) {
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
/// the step out. The number is the seed's for the seed's procedure, else the step's place in
/// its runbook.
/// The runbook's steps the first process runs: up to and including the install. The order is
/// the runbook's (`Runbook::steps`), never listed again here.
fn through_install(sp: &ServerPlan) -> impl Iterator<Item = StepId> + '_ {
    let steps = sp.runbook.steps();
    let end = steps.iter().position(|s| *s == StepId::InstallUpdate).map_or(steps.len(), |i| i + 1);
    steps[..end].iter().copied()
}

/// The runbook's steps after the install: the process opened after it runs them.
fn after_install(sp: &ServerPlan) -> impl Iterator<Item = StepId> + '_ {
    let steps = sp.runbook.steps();
    let from = steps.iter().position(|s| *s == StepId::InstallUpdate).map_or(steps.len(), |i| i + 1);
    steps[from..].iter().copied()
}

fn step_header(o: &mut String, sp: &ServerPlan, id: StepId, ind: &str, lang: Lang) -> bool {
    if !has(sp, id) {
        comment(o, ind, &tr(lang, "script.skipped", &Args::new().with("step", id.as_str())));
        return false;
    }
    let number = match sp.runbook {
        Runbook::StandardEdition | Runbook::SeedBackend => id.seed_number().map(usize::from),
        _ => sp.runbook.steps().iter().position(|s| *s == id).map(|i| i + 1),
    };
    let n = number.map(|n| format!("{n}. ")).unwrap_or_default();
    let title = format!("{n}{} ({})", id.title(lang), id.as_str());
    comment(o, ind, &title);
    comment(o, ind, &id.detail(lang));
    let _ = writeln!(o, "{ind}Write-Step {}", literal(&title));
    true
}

/// The comment block that opens every script: what, with what, why this runbook, how to run
/// it, the plan's warnings and the servers to update first.
fn header(o: &mut String, plan: &Plan, sp: &ServerPlan, lang: Lang, usage: &str) {
    let role = text(lang, &format!("role.{}", sp.role.as_str()));
    comment(
        o,
        "",
        &tr(
            lang,
            "script.head.title",
            &Args::new()
                .with("runbook", sp.runbook)
                .with("server", &sp.fqdn)
                .with("role", role)
                .with("package", &plan.package),
        ),
    );
    comment(o, "", "");
    comment(o, "", &text(lang, "script.head.why"));
    comment(o, "", &format!("  {}", sp.runbook_reason));
    comment(o, "", "");
    comment(o, "", usage);
    if !sp.after.is_empty() {
        let names: Vec<&str> = sp.after.iter().map(|f| f.as_str()).collect();
        comment(o, "", &tr(lang, "script.head.after", &Args::new().with("servers", names.join(", "))));
    }
    if !sp.warnings.is_empty() {
        comment(o, "", "");
        comment(o, "", &text(lang, "script.head.warnings"));
        for w in &sp.warnings {
            comment(o, "", &format!("  ! {}", w.message));
        }
    }
}

/// `#Requires` (Windows PowerShell 5.1, an elevated process: stopping services needs one,
/// DOMAIN.md §5), `param(…)`, strict mode and the stop-on-error preference.
fn preamble(o: &mut String, params: &[&str]) {
    let _ = writeln!(o, "#Requires -Version 5.1\n#Requires -RunAsAdministrator");
    let _ = writeln!(o, "[CmdletBinding()]");
    if params.is_empty() {
        let _ = writeln!(o, "param()");
    } else {
        let _ = writeln!(o, "param(\n    {}\n)", params.join(",\n    "));
    }
    let _ = writeln!(o, "Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n");
}

/// The helpers every script shares: progress, native exit codes, the outage clock.
fn helpers(o: &mut String, lang: Lang) {
    let t = |k: &str| text(lang, &format!("script.{k}"));
    comment(o, "", &t("comment.functions"));
    let _ = writeln!(o, "function Write-Step([string]$Text) {{\n    Write-Host ('==> ' + $Text)\n}}");
    let _ = writeln!(
        o,
        "function Assert-Exit([string]$What) {{\n    if ($LASTEXITCODE -ne 0) {{\n        throw ({} -f $What, $LASTEXITCODE)\n    }}\n}}",
        literal(&t("exit-code"))
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
}

/// `Get-OtherShell`: PowerShell processes other than this one and its parent.
fn other_shell_helper(o: &mut String) {
    let _ = writeln!(
        o,
        "function Get-OtherShell {{\n    $parent = (Get-CimInstance -ClassName Win32_Process -Filter \"ProcessId=$PID\").ParentProcessId\n    Get-Process -Name 'powershell', 'powershell_ise', 'pwsh' -ErrorAction SilentlyContinue |\n        Where-Object {{ $_.Id -ne $PID -and $_.Id -ne $parent }} |\n        ForEach-Object {{ $_.Id }}\n}}"
    );
}

/// `Show-Databases` and `Assert-DatabasesCurrent`: `Test-CsDatabase`'s records, per database
/// its expected and installed version; `Succeed` other than True is a database left behind
/// (the same reading as `readback_pool::parse_test_database`). `fix`: the command that
/// finishes the update, and `host` where it runs.
fn database_helpers(o: &mut String, sp: &ServerPlan, lang: Lang) {
    let sql = sp.sql_server_fqdn.as_ref().unwrap_or(&sp.fqdn);
    let (host, fix) = sp.finishing_database_command().unwrap_or_else(|| (sp.fqdn.clone(), String::new()));
    let args = Args::new().with("sql", sql).with("host", &host);
    let _ = writeln!(
        o,
        "function Get-Field([object]$Row, [string]$Name) {{\n    $p = $Row.PSObject.Properties[$Name]\n    if ($null -eq $p -or $null -eq $p.Value) {{\n        return ''\n    }}\n    return [string]$p.Value\n}}"
    );
    let _ = writeln!(
        o,
        "function Get-StaleDatabase([object[]]$Rows) {{\n    @($Rows | Where-Object {{ (Get-Field $_ 'Succeed') -ne 'True' }})\n}}"
    );
    let _ = writeln!(
        o,
        "function Show-Databases([object[]]$Rows, [string]$Heading) {{\n    Write-Host $Heading\n    $Rows | Format-Table -AutoSize -Property SqlInstanceName, DatabaseName, ExpectedVersion, InstalledVersion, Succeed | Out-String | Write-Host\n    if ($Rows.Count -eq 0) {{\n        throw {}\n    }}\n}}",
        say(lang, "script.db.none", &args)
    );
    let _ = writeln!(
        o,
        "function Assert-DatabasesCurrent([object[]]$Rows) {{\n    Show-Databases $Rows {}\n    $stale = @(Get-StaleDatabase $Rows)\n    if ($stale.Count -gt 0) {{\n        $names = ($stale | ForEach-Object {{ '{{0}}\\{{1}} ({{2}} / {{3}})' -f (Get-Field $_ 'SqlInstanceName'), (Get-Field $_ 'DatabaseName'), (Get-Field $_ 'InstalledVersion'), (Get-Field $_ 'ExpectedVersion') }}) -join ', '\n        throw (({} -f $stale.Count, $names) + [Environment]::NewLine + '    ' + {})\n    }}\n    Write-Host {}\n}}",
        say(lang, "script.db.after", &args),
        say(lang, "script.db.behind", &args),
        literal(&fix),
        say(lang, "script.db.current", &args)
    );
}

/// Starts the transcript (`$script:Transcribing` says whether one is open).
/// The body of the first process: the transcript, then its `try` and the branch it takes
/// when it is not the process started after the install.
fn open_first_process(o: &mut String) {
    transcript_start(o);
    let _ = writeln!(o, "try {{");
    let _ = writeln!(o, "    if (-not $AfterInstall) {{");
}

fn transcript_start(o: &mut String) {
    let _ = writeln!(o, "$null = New-Item -ItemType Directory -Force -Path $TranscriptDir");
    let _ = writeln!(
        o,
        "$null = Start-Transcript -Append -Path (Join-Path $TranscriptDir ('{{0}}-{{1:yyyyMMdd-HHmmss}}.log' -f $Server, (Get-Date)))\n$script:Transcribing = $true"
    );
}

/// Stops the transcript if one is open.
fn transcript_stop(o: &mut String, ind: &str) {
    let _ = writeln!(
        o,
        "{ind}if ($script:Transcribing) {{\n{ind}    $null = Stop-Transcript\n{ind}    $script:Transcribing = $false\n{ind}}}"
    );
}

/// The bodies of the steps the seed's procedure and the Front End's share, before any
/// service is touched: the CsAdministrator check, the staged package and its hash, the
/// Management Shell with no other shell open.
fn common_step(o: &mut String, sp: &ServerPlan, id: StepId, ind: &str, lang: Lang) -> bool {
    let t = |k: &str| text(lang, &format!("script.{k}"));
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
            // Before anything is stopped: other shells would hold the old assemblies during the install.
            let _ = writeln!(o, "{ind}$others = @(Get-OtherShell)");
            let _ = writeln!(
                o,
                "{ind}if ($others.Count -gt 0) {{\n{ind}    throw ({} -f ($others -join ', '))\n{ind}}}",
                literal(&t("shells-open"))
            );
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
            // Checked before anything was stopped already (open-shell); checked again here.
            let _ = writeln!(o, "{ind}$others = @(Get-OtherShell)");
            let _ = writeln!(
                o,
                "{ind}if ($others.Count -gt 0) {{\n{ind}    Write-Warning ({} -f ($others -join ', '))\n{ind}}}",
                literal(&t("shells-open"))
            );
        }
        StepId::StartW3svc => {
            if let Some(c) = command(sp, id) {
                let _ = writeln!(o, "{ind}{c}");
            }
            let _ = writeln!(
                o,
                "{ind}if ($LASTEXITCODE -ne 0 -and (Get-Service -Name 'W3SVC').Status -ne 'Running') {{\n{ind}    Assert-Exit 'net start w3svc'\n{ind}}}"
            );
        }
        StepId::Verify => {
            let _ = writeln!(o, "{ind}$stopped = @(Get-CsWindowsService | Where-Object {{ $_.Status -ne 'Running' }})");
            let _ = writeln!(
                o,
                "{ind}if ($stopped.Count -gt 0 -or (Get-Service -Name 'W3SVC').Status -ne 'Running') {{\n{ind}    throw {}\n{ind}}}",
                say(lang, "script.not-running", &Args::new())
            );
            // The build read-back of the server's own product (Lync Server 2013 has no
            // Get-CsServerPatchVersion: its installed products, docs/research/issue11-products.md).
            let builds = crate::runbook::build_readback(sp.product).render();
            let table = if sp.product.has_patch_version_cmdlet() {
                "Format-Table -AutoSize"
            } else {
                "Where-Object { $_.DisplayName -like '*Lync Server*' } | Format-Table DisplayName, DisplayVersion -AutoSize"
            };
            let _ = writeln!(o, "{ind}{builds} | {table} | Out-String | Write-Host");
        }
        StepId::CheckDatabases => {
            if let Some(c) = command(sp, id) {
                let _ = writeln!(o, "{ind}$rows = @({c})");
            }
            let _ = writeln!(o, "{ind}Assert-DatabasesCurrent $rows");
        }
        _ => return false,
    }
    true
}

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
//! The shell rule holds (the seed's steps 6 and 8): the process that runs the installer never
//! loads the Skype for Business module (each step before the install that needs it runs in a
//! `powershell.exe` process of its own, the same script with `-Step <id>`, whose exit code is
//! checked), and what follows the install runs in a new `powershell.exe` process (the same
//! script with `-AfterInstall`). The installer is a GUI program: started with `Start-Process
//! -Wait -PassThru`, its code from `.ExitCode` (DOMAIN.md §5). Files are written UTF-8 with a byte-order mark
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
        // A Lync Server 2013 Front End's runbook is the seed's steps on the server itself; so
        // is the generic SfB server runbook of Directors, Edge, Mediation and Persistent Chat
        // servers (docs/research/issue12-roles.md §1.0), each step's commands from the plan.
        Runbook::StandardEdition
        | Runbook::SeedBackend
        | Runbook::LyncFrontEnd
        | Runbook::Director
        | Runbook::Edge
        | Runbook::Mediation
        | Runbook::PersistentChat => seed::render(plan, sp, lang, sha256),
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

/// The shells that would hold the Skype for Business assemblies during the install (the
/// seed's step 6; DOMAIN.md §4 rule 2: a shell with the module loaded left open makes the
/// installer ask for a restart, 3010). `Get-OtherShell`: every Windows PowerShell, ISE,
/// PowerShell 7 and `wsmprovhost.exe` (the host of remote PowerShell sessions) other than this
/// process and its parent. `Get-ShellHoldingModule`: this process (a script run with `.\x.ps1`
/// inside the Management Shell runs in it) or its parent, the shell the operator started the
/// script from, when it has the module's assembly (`Microsoft.Rtc.Management`) loaded — the
/// Management Shell the page tells you to use is exactly that, and it is not harmless: it
/// holds the files like any other. The script cannot close the shell it runs in or from, so
/// before anything changes it refuses, saying how to start it from a new Windows PowerShell
/// instead. A process whose modules cannot be read counts as holding them.
fn other_shell_helper(o: &mut String) {
    let _ = writeln!(
        o,
        "function Test-HoldsSfbModule([System.Diagnostics.Process]$Process) {{\n    try {{\n        return @($Process.Modules | Where-Object {{ $_.ModuleName -like 'Microsoft.Rtc.Management*' }}).Count -gt 0\n    }} catch {{\n        return $true\n    }}\n}}\nfunction Get-ShellProcess {{\n    Get-Process -Name 'powershell', 'powershell_ise', 'pwsh', 'wsmprovhost' -ErrorAction SilentlyContinue\n}}\nfunction Get-ParentId {{\n    (Get-CimInstance -ClassName Win32_Process -Filter \"ProcessId=$PID\").ParentProcessId\n}}\nfunction Get-OtherShell {{\n    $parent = Get-ParentId\n    Get-ShellProcess | Where-Object {{ $_.Id -ne $PID -and $_.Id -ne $parent }} | ForEach-Object {{ $_.Id }}\n}}\nfunction Get-ShellHoldingModule {{\n    $parent = Get-ParentId\n    Get-ShellProcess | Where-Object {{ ($_.Id -eq $PID -or $_.Id -eq $parent) -and (Test-HoldsSfbModule $_) }} | ForEach-Object {{ $_.Id }}\n}}"
    );
    // A step that needs the module, in a process of its own: its exit code is checked.
    let _ = writeln!(
        o,
        "function Invoke-StepProcess([string]$Id) {{\n    & powershell.exe -NoProfile -ExecutionPolicy Bypass -File $PSCommandPath -Step $Id | Out-Host\n    Assert-Exit ('powershell.exe -Step ' + $Id)\n}}"
    );
}

/// The steps before the install that use the Management Shell (its cmdlets, or the module
/// itself): each runs in a `powershell.exe` process of its own (`-Step <id>`), ended before
/// the install, so the process that runs the installer never loads the module (the seed's
/// step 6). Everything else before the install (the package's hash, IIS, the shells check,
/// the installer) runs in the first process.
fn in_step_process(id: StepId) -> bool {
    matches!(
        id,
        StepId::CheckRole
            | StepId::OpenShell
            | StepId::StopServices
            | StepId::FabricCheck
            | StepId::Readiness
            | StepId::Failover
    )
}

/// The branch a `-Step <id>` process takes: that step's body (`body`), exit 0 when it went
/// through, 1 (with the reason) when it failed; no transcript of its own (the first process
/// keeps its output in its transcript).
fn step_process_branch(o: &mut String, sp: &ServerPlan, lang: Lang, body: &mut dyn FnMut(&mut String, StepId, &str)) {
    let _ = writeln!(o, "if ($Step -ne '') {{\n    try {{\n        switch ($Step) {{");
    for id in through_install(sp).filter(|id| in_step_process(*id) && has(sp, *id)) {
        let _ = writeln!(o, "            {} {{", literal(id.as_str()));
        body(o, id, "                ");
        let _ = writeln!(o, "            }}");
    }
    let _ = writeln!(o, "            default {{\n                exit 2\n            }}\n        }}\n    }} catch {{");
    let _ = writeln!(
        o,
        "        Write-Host ({} -f $_.Exception.Message) -ForegroundColor Red\n        exit 1\n    }}\n    exit 0\n}}\n",
        literal(&text(lang, "script.failed"))
    );
}

/// The shells check in the process that runs the installer (`fatal`: before anything is
/// stopped, so nothing has changed; else a warning, once the outage has begun).
fn shells_check(o: &mut String, ind: &str, lang: Lang, fatal: bool) {
    let t = |k: &str| literal(&text(lang, &format!("script.{k}")));
    let act = if fatal { "throw" } else { "Write-Warning" };
    let _ = writeln!(o, "{ind}$others = @(Get-OtherShell)");
    let _ = writeln!(
        o,
        "{ind}if ($others.Count -gt 0) {{\n{ind}    {act} ({} -f ($others -join ', '))\n{ind}}}",
        t("shells-open")
    );
    let _ = writeln!(o, "{ind}$parentShell = @(Get-ShellHoldingModule)");
    let _ = writeln!(
        o,
        "{ind}if ($parentShell.Count -gt 0) {{\n{ind}    {act} ({} -f $parentShell[0], $PSCommandPath)\n{ind}}}",
        t("parent-holds-module")
    );
}

/// The first process's part of a step run in a process of its own: what it keeps (the
/// outage's start, the failover's) around `Invoke-StepProcess`.
fn step_in_process(o: &mut String, id: StepId, ind: &str, lang: Lang) {
    match id {
        StepId::StopServices => {
            let _ = writeln!(o, "{ind}$script:OutageStarted = Get-Date");
            let _ = writeln!(o, "{ind}Write-Host {}", say(lang, "script.outage-begins", &Args::new()));
        }
        // Set before the call: a failover cut short may already have stopped services.
        StepId::Failover => {
            let _ = writeln!(o, "{ind}$script:FailoverStarted = $true");
        }
        _ => {}
    }
    let _ = writeln!(o, "{ind}Invoke-StepProcess {}", literal(id.as_str()));
    if id == StepId::OpenShell {
        // Before anything is stopped: other shells would hold the old assemblies during the install.
        shells_check(o, ind, lang, true);
    }
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
        // In a process of its own (`in_step_process`): the module loads; the shells check is
        // the first process's (`step_in_process`).
        StepId::OpenShell => {
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
            // Checked before anything was stopped already (open-shell); checked again here.
            shells_check(o, ind, lang, false);
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

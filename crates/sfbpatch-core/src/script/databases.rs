//! The script of a SQL Server's databases (`backend-databases`): the machine has no Skype for
//! Business software, so the script runs on the updated Front End the plan names (DOMAIN.md
//! §1a; `Install-CsDatabase` "reads the topology and installs the required databases on the
//! specified SQL Server computer or SQL Server cluster"). It refuses any other computer, then
//! `Test-CsDatabase` (what needs the update), `Install-CsDatabase -Update
//! -ConfiguredDatabases`, and `Test-CsDatabase` again: any database whose `Succeed` is not
//! True fails the script with the command that finishes it. Exit codes: 0 done, 1 failed.

use std::fmt::Write as _;

use sfbpatch_i18n::{Args, Lang, fmt as tr, text};
use sfbpatch_pwsh::literal;

use super::{
    TRANSCRIPT_DIR, command, common_step, database_helpers, header, helpers, preamble, say, step_header,
    transcript_start, transcript_stop,
};
use crate::plan::{Plan, ServerPlan};
use crate::runbook::StepId;

pub(super) fn render(plan: &Plan, sp: &ServerPlan, lang: Lang) -> String {
    let mut o = String::new();
    let t = |k: &str| text(lang, &format!("script.{k}"));
    let sql = sp.sql_server_fqdn.as_ref().unwrap_or(&sp.fqdn);
    let host = sp.database_command().map_or(&sp.fqdn, |(h, _)| h);
    let args = Args::new().with("sql", sql).with("host", host).with("server", &sp.fqdn);
    header(&mut o, plan, sp, lang, &tr(lang, "script.head.usage-backend-databases", &args));
    preamble(&mut o, &[]);
    let _ = writeln!(o, "$Server = {}", literal(sp.fqdn.as_str()));
    let _ = writeln!(o, "$SqlServer = {}", literal(sql.as_str()));
    let _ = writeln!(o, "$RunsOn = {}", literal(host.as_str()));
    let _ = writeln!(o, "$BudgetMinutes = {}", plan.outage_budget_minutes);
    let _ = writeln!(o, "$TranscriptDir = {}", literal(TRANSCRIPT_DIR));
    let _ = writeln!(o, "$script:OutageStarted = $null\n$script:Transcribing = $false\n$script:ExitCode = 0\n");

    helpers(&mut o, lang);
    database_helpers(&mut o, sp, lang);
    // This computer's names: its DNS name in its domain, and what DNS resolves its name to.
    let _ = writeln!(
        o,
        "function Get-ThisComputer {{\n    $cs = Get-CimInstance -ClassName Win32_ComputerSystem\n    ('{{0}}.{{1}}' -f $cs.DNSHostName, $cs.Domain).ToLowerInvariant()\n    try {{\n        ([System.Net.Dns]::GetHostEntry($env:COMPUTERNAME).HostName).ToLowerInvariant()\n    }} catch {{\n        $env:COMPUTERNAME.ToLowerInvariant()\n    }}\n}}\n"
    );

    transcript_start(&mut o);
    let _ = writeln!(o, "try {{");
    let ind = "    ";
    super::comment(&mut o, ind, &t("db.comment-where"));
    let _ = writeln!(o, "{ind}$here = @(Get-ThisComputer)");
    let _ = writeln!(
        o,
        "{ind}if ($here -notcontains $RunsOn) {{\n{ind}    throw ({} -f ($here -join ', '))\n{ind}}}",
        say(lang, "script.db.wrong-host", &args)
    );
    let _ = writeln!(o, "{ind}Import-Module {}", literal(sp.product.shell_module()));
    let _ = writeln!(o);
    for id in sp.runbook.steps().iter().copied() {
        if !step_header(&mut o, sp, id, ind, lang) {
            continue;
        }
        match id {
            StepId::TestDatabases => {
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}$rows = @({c})");
                }
                let _ = writeln!(o, "{ind}Show-Databases $rows {}", say(lang, "script.db.before", &args));
                let _ = writeln!(
                    o,
                    "{ind}Write-Host ({} -f @(Get-StaleDatabase $rows).Count)",
                    say(lang, "script.db.need-update", &args)
                );
            }
            StepId::UpdateDatabases => {
                let _ = writeln!(o, "{ind}$script:OutageStarted = Get-Date");
                if let Some(c) = command(sp, id) {
                    let _ = writeln!(o, "{ind}{c}");
                }
                let _ = writeln!(o, "{ind}Test-OutageBudget");
            }
            _ => {
                common_step(&mut o, sp, id, ind, lang);
            }
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "{ind}Write-Host {}", say(lang, "script.done", &args));
    let _ = writeln!(o, "}} catch {{");
    let _ = writeln!(o, "    Write-Host ({} -f $_.Exception.Message) -ForegroundColor Red", literal(&t("failed")));
    let _ = writeln!(o, "    $script:ExitCode = 1");
    let _ = writeln!(o, "}} finally {{");
    transcript_stop(&mut o, "    ");
    let _ = writeln!(o, "}}\nexit $script:ExitCode");
    o
}

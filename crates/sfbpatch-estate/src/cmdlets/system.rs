//! The machine, the shell and its accounts: `Get-CsAdminRoleAssignment`, `Import-Module`,
//! `Restart-Computer`, `Start-Process`, `Write-Output`, `whoami` (the session's token), and
//! `net statistics workstation` (the boot time).

use super::installer::{self, NotStarted};
use super::{Call, Cmdlet, Cx, Family, Object, Out, SFB, WINDOWS, me};
use crate::Ms;
use crate::bind::words;
use crate::estate::{Estate, Host};

const F: Family = Family::System;

pub(super) const CMDLETS: &[Cmdlet] = &[
    Cmdlet::new(F, SFB, "Get-CsAdminRoleAssignment", &[], &["Identity"], role_assignment),
    Cmdlet::new(F, WINDOWS, "Import-Module", &["Force"], &["Name"], import_module),
    Cmdlet::new(F, WINDOWS, "Restart-Computer", &["Force"], &[], restart_computer),
    // The cmdlet reference (Windows PowerShell 5.1): `-FilePath` (position 0), `-ArgumentList`
    // (position 1, a string array), `-Wait`, `-PassThru`, `-NoNewWindow`; the other
    // parameters are not modelled and are refused.
    // https://learn.microsoft.com/powershell/module/microsoft.powershell.management/start-process?view=powershell-5.1
    Cmdlet::new(
        F,
        WINDOWS,
        "Start-Process",
        &["Wait", "PassThru", "NoNewWindow"],
        &["FilePath", "ArgumentList"],
        start_process,
    ),
    Cmdlet::new(F, WINDOWS, "Write-Output", &[], &["InputObject"], write_output).refused_in(500),
    // A console program of every Windows (the whoami reference).
    Cmdlet::new(F, WINDOWS, "whoami", &[], &[], whoami).raw(),
];

/// What roles the account has (the engine's check-role step judges the answer; the shell
/// itself enforces none, DOMAIN.md §4 rule 8).
/// `-Identity` takes the account's SamAccountName, not `DOMAIN\user` (DOMAIN.md §5, the
/// cmdlet reference): a `DOMAIN\user` identity finds no management object.
fn role_assignment(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let who = call.params.first_of(&["Identity"]).unwrap_or("").to_owned();
    let sam = |account: &str| account.rsplit('\\').next().unwrap_or(account).to_ascii_lowercase();
    let found = (!who.contains('\\'))
        .then(|| h.accounts.iter().find(|(account, _)| sam(account) == who.to_ascii_lowercase()).map(|(_, r)| r))
        .flatten();
    match found {
        Some(roles) => Out::ok(format!("\n{}\n\n", roles.join("\n")), h.rng.secs(2.0, 6.0)),
        None => Out::err(
            format!("{} : Management object not found for identity \"{who}\".", call.name),
            h.rng.secs(2.0, 4.0),
        ),
    }
}

/// Loads the product's Management Shell module into the session, at the current install's
/// assemblies (DOMAIN.md §4 rule 3 holds a session to them). A machine without Skype for
/// Business has no such module (rule 1).
fn import_module(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let module = call.params.first_of(&["Name"]).unwrap_or("").to_owned();
    if h.sfb_installed && module.eq_ignore_ascii_case(h.module()) {
        let g = h.install_generation;
        if let Some(s) = h.session_mut(cx.session) {
            s.module_generation = Some(g);
        }
        Out::ok("", h.rng.secs(8.0, 20.0))
    } else {
        Out::err(
            format!(
                "{} : The specified module '{module}' was not loaded because no valid module file was found in any module directory.",
                call.name
            ),
            h.rng.secs(1.0, 3.0),
        )
    }
}

fn restart_computer(e: &mut Estate, cx: &mut Cx, _: &Call<'_>) -> Out {
    restart(me(e, cx), cx.now)
}

/// `Start-Process`: starts the program at `-FilePath` (only update packages are programs
/// here: the installer, `installer.rs`). With `-Wait` it waits for the process to end; without
/// it the program goes on in the background on the host's clock. With `-PassThru` it returns
/// the process, whose `.ExitCode` is the program's once it has ended (DOMAIN.md §5). The
/// program's own output does not reach the caller (it runs in a window of its own), and
/// the statement succeeds whatever the program's exit code: only the process object says it.
fn start_process(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let path = call.params.first_of(&["FilePath"]).unwrap_or("").to_owned();
    // An array is joined with single spaces into the command line (the cmdlet reference).
    let line = call.params.get("ArgumentList").or(call.params.positional.get(1).map(String::as_str)).unwrap_or("");
    let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let run = match installer::start(h, cx, &path, &args) {
        Ok(run) => run,
        Err(NotStarted::NotFound) => {
            return Out::err(
                format!(
                    "{} : This command cannot be run due to the error: The system cannot find the file specified.",
                    call.name
                ),
                h.rng.secs(0.2, 0.5),
            );
        }
        Err(NotStarted::NotAProgram) => {
            return Out::err(
                format!(
                    "{} : This command cannot be run due to the error: %1 is not a valid Win32 application.",
                    call.name
                ),
                h.rng.secs(0.2, 0.5),
            );
        }
    };
    let started = h.rng.secs(0.3, 1.0);
    let (ms, exit_code) = if call.params.has("Wait") {
        // Waited for: its effects land at its end, which is this statement's end.
        let ms = started.saturating_add(run.ms);
        installer::finish(h, &run, cx.now.saturating_add(cx.dur(ms)));
        (ms, Some(run.exit))
    } else {
        installer::detach(h, cx, &path, run);
        (started, None)
    };
    if !call.params.has("PassThru") {
        return Out::ok("", ms);
    }
    let name = path.rsplit('\\').next().unwrap_or(&path);
    let name = name.strip_suffix(".exe").or_else(|| name.strip_suffix(".EXE")).unwrap_or(name);
    let id = 4000 + h.oplog.len();
    let table = format!(
        "\nHandles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\n-------  ------    -----      -----     ------     --  -- -----------\n      0       0        0          0      0.00 {id:>6}   1 {name}\n\n"
    );
    Out { object: Some(Object::Process { exit_code }), ..Out::ok(table, ms) }
}

fn write_output(_: &mut Estate, _: &mut Cx, call: &Call<'_>) -> Out {
    let mut text: Vec<String> = call.params.get("InputObject").map(str::to_owned).into_iter().collect();
    text.extend(call.params.positional.iter().cloned());
    Out::ok(text.join("\n") + "\n", 200)
}

/// A restart: sessions end, the host does not answer for a few minutes, then the services
/// set to start automatically come back (not disabled ones: a failed-over server's stay
/// down until failback, issue10-sources.md §2.4). The Front-End service comes back whatever
/// the databases' schema (DOMAIN.md §4 rule 6).
pub(super) fn restart(h: &mut Host, now: Ms) -> Out {
    let down = h.rng.secs(180.0, 480.0);
    for s in &mut h.sessions {
        s.open = false;
    }
    for s in &mut h.services {
        s.running = false;
    }
    h.unreachable_until = now + 2000 + down;
    h.track(now);
    let back = h.unreachable_until;
    h.boot_ms = back;
    h.pending_reboot = false;
    for s in h.services.iter_mut().filter(|s| s.auto_start && !s.disabled) {
        s.running = true;
    }
    h.track(back);
    Out::ok("", 2000)
}

/// `net statistics workstation`: when the machine booted.
pub(super) fn net_statistics(h: &mut Host) -> Out {
    let secs = h.boot_ms / 1000;
    let (d, hours, m, sec) = (secs / 86_400, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    Out::ok(
        format!(
            "Workstation Statistics for \\\\{}\n\n\nStatistics since 1/{}/2026 {hours}:{m:02}:{sec:02}\n\n",
            h.fqdn.host().to_ascii_uppercase(),
            d + 1
        ),
        h.rng.secs(0.5, 1.5),
    )
}

/// A made-up domain SID for the account's domain groups (real ones are per domain).
const DOMAIN_SID: &str = "S-1-5-21-1004336348-1177238915-682003330";

/// `whoami` (https://learn.microsoft.com/windows-server/administration/windows-commands/whoami):
/// without arguments the account (`domain\user`, lower case as Windows prints it); with
/// `/groups` the session's token, one group per line, in `/fo csv` (with `/nh`: no header) or
/// the default table. What the token holds comes from the host's model: `BUILTIN\Administrators`
/// (`S-1-5-32-544`) when the account is a local administrator, enabled when the session is
/// elevated, "Group used for deny only" in a UAC-filtered one ("SID Attributes in an Access
/// Token"); the account's domain groups and its RBAC roles' groups (Skype for Business's RBAC
/// roles are Active Directory universal groups of the same name); the integrity label, High
/// (`S-1-16-12288`) when elevated, else Medium (`S-1-16-8192`; Microsoft's well-known SIDs).
fn whoami(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    // A fraction of a second, fixed: a read-only query that should not shift the seeded draws of
    // the steps that follow it.
    let ms = 300;
    let args: Vec<String> = words(call.elements).iter().map(|a| a.to_ascii_lowercase()).collect();
    let (domain, user) = h.account.split_once('\\').unwrap_or(("", h.account.as_str()));
    if args.is_empty() {
        return Out::ok(format!("{}\\{}\n", domain.to_ascii_lowercase(), user.to_ascii_lowercase()), ms);
    }
    let csv = args.windows(2).any(|w| w[0] == "/fo" && w[1] == "csv");
    let known = ["/groups", "/fo", "csv", "table", "/nh"];
    if let Some(bad) = args
        .iter()
        .find(|a| !known.contains(&a.as_str()))
        .or((!args.contains(&"/groups".to_owned())).then_some(&args[0]))
    {
        return Out::err(format!("ERROR: Invalid argument/option - '{bad}'.\nType \"WHOAMI /?\" for usage.\n"), ms);
    }
    let enabled = "Mandatory group, Enabled by default, Enabled group";
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row =
        |name: &str, kind: &str, sid: &str, attrs: &str| rows.push([name, kind, sid, attrs].map(str::to_owned));
    row("Everyone", "Well-known group", "S-1-1-0", enabled);
    if h.local_admin {
        let attrs = if h.elevated {
            "Mandatory group, Enabled by default, Enabled group, Group owner"
        } else {
            "Group used for deny only"
        };
        row("BUILTIN\\Administrators", "Alias", "S-1-5-32-544", attrs);
    }
    row("BUILTIN\\Users", "Alias", "S-1-5-32-545", enabled);
    row("NT AUTHORITY\\NETWORK", "Well-known group", "S-1-5-2", enabled);
    row("NT AUTHORITY\\Authenticated Users", "Well-known group", "S-1-5-11", enabled);
    let roles = h.accounts.get(&h.account.to_ascii_lowercase()).cloned().unwrap_or_default();
    for (i, g) in h.account_groups.iter().chain(&roles).enumerate() {
        row(&format!("{domain}\\{g}"), "Group", &format!("{DOMAIN_SID}-{}", 1100 + i), enabled);
    }
    let (label, sid) = if h.elevated { ("High", "S-1-16-12288") } else { ("Medium", "S-1-16-8192") };
    row(&format!("Mandatory Label\\{label} Mandatory Level"), "Label", sid, "");
    let header = !args.contains(&"/nh".to_owned());
    let text = if csv {
        let line =
            |r: &[String; 4]| r.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect::<Vec<_>>().join(",");
        let mut out: Vec<String> = Vec::new();
        if header {
            out.push("\"Group Name\",\"Type\",\"SID\",\"Attributes\"".to_owned());
        }
        out.extend(rows.iter().map(line));
        out.join("\r\n") + "\r\n"
    } else {
        let mut out = String::from("\nGROUP INFORMATION\n-----------------\n\n");
        if header {
            let rule = ["-".repeat(45), "-".repeat(16), "-".repeat(50), "-".repeat(10)];
            rows.insert(0, rule);
            rows.insert(0, ["Group Name", "Type", "SID", "Attributes"].map(str::to_owned));
        }
        for r in &rows {
            out.push_str(format!("{:<45} {:<16} {:<50} {}\n", r[0], r[1], r[2], r[3]).trim_end());
            out.push('\n');
        }
        out
    };
    Out::ok(text, ms)
}

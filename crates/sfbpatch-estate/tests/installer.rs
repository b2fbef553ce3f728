//! The update installer as Windows runs it (DOMAIN.md §5): a GUI-subsystem program.
//! `Start-Process -Wait -PassThru` waits for it and its `.ExitCode`, copied into
//! `$global:LASTEXITCODE`, is the execution's exit code; `& installer /silentmode` returns at
//! once with no exit code and no output, and the install lands only at its end, on the host's
//! clock. The install command is the one the core renders for the plan.

use sfbpatch_core::readback::{Build, parse_patch_versions};
use sfbpatch_core::runbook::{self, CommandContext, DatabaseUpdate, Product, StepId};
use sfbpatch_core::{Fqdn, example, topology};
use sfbpatch_estate::estate::{Estate, EstateOptions};
use sfbpatch_estate::exec::{Execution, Request, package};
use sfbpatch_pwsh::Word;

const SE: &str = "se01.contoso.local";
const PKG: &str = r"C:\ProgramData\sfbpatch\stage\SkypeServerUpdateInstaller.exe";
const OLD: Build = Build([7, 0, 2046, 385]);
const NEW: Build = Build([7, 0, 2046, 530]);

fn estate() -> Estate {
    let t = topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut e = Estate::new(&t, &EstateOptions { seed: 7, ..EstateOptions::default() });
    let r = e.put_file(SE, None, PKG, package(&"ab".repeat(32), NEW), 0, 600_000);
    assert!(r.succeeded(), "{r:?}");
    e
}

/// The install step's text, as the plan renders it.
fn install_command() -> String {
    let server = Fqdn::parse(SE).unwrap_or_else(|e| panic!("{e:?}"));
    let switches = [Word::fixed("/silentmode")];
    let cx = CommandContext {
        product: Product::Sfb2019,
        staged_installer: PKG,
        installer_switches: &switches,
        database_update: &DatabaseUpdate::LocalDatabases,
        server: &server,
        pool: None,
        failover: runbook::FailoverTimes::default(),
        services: runbook::ServiceControl::Seed,
    };
    runbook::command_text(StepId::InstallUpdate, &cx).unwrap_or_else(|| panic!("no install command"))
}

fn run_at(e: &mut Estate, session: Option<u64>, script: &str, at: u64) -> Execution {
    e.execute(&Request { host: SE, session, step: None, script, at, timeout_ms: 3_600_000 })
}

fn run(e: &mut Estate, session: Option<u64>, script: &str) -> Execution {
    let at = e.host(SE).map_or(0, |h| h.clock_ms);
    run_at(e, session, script, at)
}

/// Services and IIS stopped in a session that is then closed (the seed's steps 4–6).
fn prepare(e: &mut Estate) {
    let s = e.open_session(SE, 0);
    assert!(run(e, s, "Stop-CsWindowsService").succeeded());
    assert!(run(e, s, "net stop w3svc").succeeded());
    e.close_sessions(SE);
}

/// The build `Get-CsServerPatchVersion` reads back, at `at`.
fn build_read_back(e: &mut Estate, at: u64) -> Build {
    let r = run_at(e, None, "Get-CsServerPatchVersion", at);
    assert!(r.succeeded(), "{r:?}");
    let builds: Vec<Build> = parse_patch_versions(&r.stdout).into_iter().map(|(_, b)| b).collect();
    builds.into_iter().min().unwrap_or_else(|| panic!("no build in {:?}", r.stdout))
}

fn log_text(e: &Estate) -> String {
    let h = e.host(SE).unwrap_or_else(|| panic!("no host"));
    h.files.iter().filter(|(k, _)| k.ends_with(".log")).filter_map(|(_, f)| f.content.clone()).collect()
}

#[test]
fn start_process_waits_and_its_exit_code_0_is_the_executions() {
    let mut e = estate();
    prepare(&mut e);
    let cmd = install_command();
    let r = run(&mut e, None, &cmd);
    assert_eq!((r.status, r.exit_code), (sfbpatch_estate::exec::ExecStatus::Completed, 0), "{r:?}");
    // Waited for: 8 to 25 minutes (rule 9), the new build at once after.
    let minutes = (r.end_ms - r.start_ms) / 60_000;
    assert!((8..=26).contains(&minutes), "{minutes} min");
    // The process object is kept in the variable, not printed; a GUI program prints nothing.
    assert_eq!(r.stdout, "");
    assert_eq!(build_read_back(&mut e, r.end_ms), NEW);
    let log = log_text(&e);
    assert!(log.contains("Updates were installed successfully (7.0.2046.530).\nExit code: 0\n"), "{log}");
    assert!(e.host(SE).is_some_and(|h| h.background.is_none() && !h.pending_reboot));
}

#[test]
fn start_process_hands_on_3010_when_a_management_shell_is_left_open() {
    let mut e = estate();
    prepare(&mut e);
    // A shell with the module loaded, left open, holds files (rule 2).
    let shell = e.open_session(SE, 0);
    assert!(run(&mut e, shell, "Import-Module SkypeForBusiness").succeeded());
    let r = run(&mut e, None, &install_command());
    assert_eq!(r.exit_code, 3010, "{r:?}");
    assert!(e.host(SE).is_some_and(|h| h.pending_reboot));
    assert_eq!(build_read_back(&mut e, r.end_ms), NEW);
}

#[test]
fn start_process_hands_on_1603_when_services_run_and_changes_nothing() {
    let mut e = estate();
    let r = run(&mut e, None, &install_command());
    assert_eq!(r.exit_code, 1603, "{r:?}");
    // The installer's complaint is in its log, not in the caller's streams.
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    assert!(log_text(&e).contains("files are in use by the running service"), "{}", log_text(&e));
    assert_eq!(build_read_back(&mut e, r.end_ms), OLD);
}

#[test]
fn the_call_operator_returns_at_once_and_the_install_lands_at_its_end() {
    let mut e = estate();
    prepare(&mut e);
    let r = run(&mut e, None, &format!("& '{PKG}' /silentmode"));
    // Not waited for: no exit code, no output, a second or so.
    assert_eq!((r.exit_code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""), "{r:?}");
    assert!(r.end_ms - r.start_ms <= 1_000, "{} ms", r.end_ms - r.start_ms);
    let end = e.host(SE).and_then(|h| h.background.as_ref()).map(|b| b.end_ms).unwrap_or_else(|| panic!("no install"));
    assert!(end - r.end_ms >= 8 * 60_000, "the install takes minutes");
    // Read back right after, and just before its end: the old build.
    assert_eq!(build_read_back(&mut e, r.end_ms), OLD);
    // Another install meanwhile: Windows Installer's 1618.
    let again = run(&mut e, None, &install_command());
    assert_eq!(again.exit_code, 1618, "{again:?}");
    assert_eq!(build_read_back(&mut e, end - 1), OLD);
    // At its end it has landed: the new build, and some services started again (rule 2).
    assert_eq!(build_read_back(&mut e, end), NEW);
    let h = e.host(SE).unwrap_or_else(|| panic!("no host"));
    assert!(h.background.is_none());
    assert!(h.services.iter().any(|s| s.running && s.kind == sfbpatch_estate::estate::ServiceKind::Sfb));
    assert!(log_text(&e).contains("Exit code: 0\n"));
}

#[test]
fn an_exit_code_asked_of_a_process_not_waited_for_is_an_error() {
    let mut e = estate();
    prepare(&mut e);
    let r = run(
        &mut e,
        None,
        &format!(
            "$p = Start-Process -FilePath '{PKG}' -ArgumentList '/silentmode' -PassThru; $global:LASTEXITCODE = $p.ExitCode"
        ),
    );
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stderr.contains("Process must exit before requested information can be determined"), "{r:?}");
    assert!(e.host(SE).is_some_and(|h| h.background.is_some()), "the install goes on");
}

#[test]
fn start_process_of_a_missing_file_fails_and_an_unset_variable_is_null() {
    let mut e = estate();
    let r = run(&mut e, None, r"$p = Start-Process -FilePath 'C:\nowhere\x.exe' -Wait -PassThru");
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.contains("cannot find the file specified"), "{r:?}");
    // `$LASTEXITCODE = $null`: no exit code (0); the script goes on.
    let r = run(&mut e, None, "$global:LASTEXITCODE = $never.ExitCode; Get-CsServerPatchVersion");
    assert_eq!(r.exit_code, 0, "{r:?}");
    assert!(r.stdout.contains("ComponentName"), "{r:?}");
    // Printed when not assigned: the process table, with its name.
    prepare(&mut e);
    let r = run(&mut e, None, &format!("Start-Process '{PKG}' '/silentmode' -Wait -PassThru"));
    assert_eq!(r.exit_code, 0, "{r:?}");
    assert!(r.stdout.contains("ProcessName") && r.stdout.contains("SkypeServerUpdateInstaller"), "{r:?}");
    assert_eq!(build_read_back(&mut e, r.end_ms), NEW);
}

/// The install command whose `Start-Process` fails still runs its second statement, as
/// Windows PowerShell does after a non-terminating error: `$LASTEXITCODE` becomes `$null`,
/// and the result protocol reads the error — 1, never the 0 a bare `$?` would give.
#[test]
fn the_install_command_with_its_package_missing_is_a_failure_not_exit_0() {
    let mut e = estate();
    prepare(&mut e);
    let missing = install_command().replace("SkypeServerUpdateInstaller.exe", "Missing.exe");
    let r = run(&mut e, None, &missing);
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot find the file specified"), "{r:?}");
    assert_eq!(build_read_back(&mut e, r.end_ms), OLD);
}

/// A failed statement does not end the script (a non-terminating error): the statements
/// after it run, and the execution's code is 1 because an error was written.
#[test]
fn a_failed_statement_does_not_end_the_script_and_its_error_counts() {
    let mut e = estate();
    let r = run(&mut e, None, "Get-Service -Name 'NoSuchService'; Get-Service -Name 'W3SVC'");
    assert_eq!(r.exit_code, 1, "{r:?}");
    assert!(r.stdout.contains("W3SVC"), "the second statement ran: {r:?}");
    // A native program's code wins over the errors before it (its own `$LASTEXITCODE`).
    let r = run(&mut e, None, "Get-Service -Name 'NoSuchService'; net stop w3svc");
    assert_eq!(r.exit_code, 0, "{r:?}");
    let r = run(&mut e, None, "net stop w3svc");
    assert_eq!(r.exit_code, 2, "already stopped: net's own code {r:?}");
}

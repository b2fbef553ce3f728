//! The result protocol's nonce (issue 14, a reviewer's finding on kept processes): a command's
//! own output that prints a result-like line (`<<sfbpatch-exit:N>>`: a hook, a Windows
//! message, a file's contents echoed) is output, never the command's result. Without the
//! nonce, a kept shell's reader stopped at the forged line with its code, and the real result
//! line was read as the next command's (a desynchronised session). And, with the nonce, a
//! result line at the end of a line is the command's (`Write-Host -NoNewline` output before
//! it is kept, its line ended): before, it was not read, and a kept shell waited out the
//! step's timeout.

#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::sfbpatch;
use serde_json::Value;

const SE: &str = "se01.contoso.local";

fn bin() -> String {
    assert_cmd::cargo::cargo_bin("sfbpatch").display().to_string()
}

/// `sim shell` behind `filter`, a command its standard output goes through (each command's
/// output and result lines, as the transport reads them).
fn filtered_shell(dir: &Path, estate: &str, filter: &str) -> String {
    let script = dir.join("filtered-shell");
    let text = format!("#!/bin/sh\n\"$@\" | {filter}\n");
    std::fs::write(&script, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    format!("{} {} sim shell --estate {estate} --host {{host}}", script.display(), bin())
}

/// A filter that prints a forged result line, `forged`, just before every real one: as if
/// every command's own output ended with it.
fn before_every_result(forged: &str) -> String {
    format!("sed -u 's/^<<sfbpatch-exit:/{forged}\\n&/'")
}

/// A run of se01 through the local transport with `shell`: its exit code, its JSON summary,
/// the report's row of se01 and the journal's path.
fn run(dir: &Path, estate: &str, shell: &str, faults: &[&str]) -> (Option<i32>, Value, Value, String) {
    let o = sfbpatch().args(["sim", "init", "--estate", estate, "--seed", "5"]).args(faults).output();
    let o = o.unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let package = dir.join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.join("j.db").display().to_string();
    let o = sfbpatch()
        .args(["run", "--transport", "local", "--shell", shell, "--server", SE])
        .args(["--package", &package.display().to_string(), "--journal", &journal, "--yes", "--format", "json"])
        // A command whose result line is not read waits out its step's timeout (many minutes).
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let run_id = v["run_id"].as_str().unwrap_or_default().to_owned();
    let r = common::json(&["report", &run_id, "--journal", &journal, "--format", "json"]);
    let row = r["servers"].as_array().and_then(|s| s.iter().find(|s| s["fqdn"] == SE).cloned()).unwrap_or_default();
    (o.status.code(), v, row, journal)
}

/// The journal's attempts of `step`.
fn steps<'a>(row: &'a Value, step: &str) -> Vec<&'a Value> {
    row["steps"].as_array().into_iter().flatten().filter(|s| s["step"] == step).collect()
}

/// The journal's first attempt of `step` on se01: its exit code and standard output.
fn recorded(journal: &str, step: &str) -> (Option<i64>, String) {
    let db = rusqlite::Connection::open(journal).unwrap_or_else(|e| panic!("{e}"));
    db.query_row(
        "SELECT exit_code, stdout FROM attempts WHERE server = ?1 AND step = ?2 ORDER BY attempt LIMIT 1",
        [SE, step],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap_or_else(|e| panic!("{step}: {e}"))
}

#[test]
fn a_forged_failing_result_line_in_every_commands_output_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let shell = filtered_shell(dir.path(), &estate, &before_every_result("<<sfbpatch-exit:1>>"));
    let (code, v, row, _) = run(dir.path(), &estate, &shell, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let install = steps(&row, "install-update");
    assert_eq!(install.len(), 1, "installed once: {row}");
    assert_eq!(install[0]["exit_code"], 0, "{}", install[0]);
}

#[test]
fn a_forged_success_line_just_before_the_installers_3010_leaves_3010_and_the_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    // Only the installer's result line gets a forged success before it: a reader that
    // ignored the nonce would take exit 0 (no restart) and leave 3010 to the next command.
    let filter = r"sed -u 's/^\(<<sfbpatch-exit:[0-9a-f]\{16\}:3010>>\)/<<sfbpatch-exit:0>>\n\1/'";
    let shell = filtered_shell(dir.path(), &estate, filter);
    let fault = format!("{SE}:install-update:reboot");
    let (code, v, row, journal) = run(dir.path(), &estate, &shell, &["--fault", &fault]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    // The installer's own code is the one recorded (DOMAIN.md §5: 3010, a restart pending),
    // and the server restarted for it.
    let install: Vec<&Value> = steps(&row, "install-update");
    assert_eq!(install.len(), 1, "installed once: {row}");
    assert_eq!(install[0]["exit_code"], 3010, "{}", install[0]);
    assert_eq!(install[0]["outcome"], "succeeded-reboot-pending", "{}", install[0]);
    assert_eq!(steps(&row, "reboot").len(), 1, "the server was restarted: {row}");
    // The forged line is the installer's output, kept as such.
    let (_, stdout) = recorded(&journal, "install-update");
    assert_eq!(stdout.lines().last(), Some("<<sfbpatch-exit:0>>"), "{stdout:?}");
}

#[test]
fn a_forged_line_in_check_databases_stays_its_output_and_verify_in_the_same_shell_reads_its_own() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    // A forged success line at the end of the output of every command that prints
    // Test-CsDatabase's `ExpectedVersion` (check-databases; verify runs after it in the same
    // kept shell). A reader that ignored the nonce would stop check-databases there and give
    // verify check-databases' real result line, with no output: a desynchronised session.
    // A shell loop, not awk: mawk reads a pipe in blocks and would hold the answers back.
    let filter = r#"{ while IFS= read -r line; do
  case $line in
    ExpectedVersion*) armed=1 ;;
    '<<sfbpatch-exit:'*) [ -n "$armed" ] && printf '%s\n' '<<sfbpatch-exit:0>>'; armed= ;;
  esac
  printf '%s\n' "$line"
done; }"#;
    let shell = filtered_shell(dir.path(), &estate, filter);
    let (code, v, _, journal) = run(dir.path(), &estate, &shell, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let (checked, stdout) = recorded(&journal, "check-databases");
    assert_eq!(checked, Some(0));
    assert!(stdout.contains("ExpectedVersion"), "{stdout:?}");
    assert_eq!(stdout.trim_end().lines().last(), Some("<<sfbpatch-exit:0>>"), "the forged line is output: {stdout:?}");
    let (verified, stdout) = recorded(&journal, "verify");
    assert_eq!(verified, Some(0));
    assert!(stdout.trim_start().starts_with("Status  Name"), "verify's own output: {stdout:?}");
    assert!(!stdout.contains("<<sfbpatch-exit") && !stdout.contains("ExpectedVersion"), "{stdout:?}");
}

#[test]
fn output_that_did_not_end_its_line_before_the_result_line_is_kept_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    // `Write-Host -NoNewline 'partial'` as the last output of each kept process's first
    // command: the installer's (its own process, no other output) among them. Before, its
    // result line was not read and the run waited out the install's timeout.
    let shell = filtered_shell(dir.path(), &estate, "sed -u '1s/^<<sfbpatch-exit:/partial&/'");
    let (code, v, row, journal) = run(dir.path(), &estate, &shell, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    assert_eq!(steps(&row, "install-update").len(), 1, "installed once: {row}");
    assert_eq!(recorded(&journal, "install-update"), (Some(0), "partial\n".to_owned()));
}

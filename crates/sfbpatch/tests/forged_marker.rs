//! The result protocol's nonce (issue 14, a reviewer's finding on kept processes): a command's
//! own output that prints a result-like line (`<<sfbpatch-exit:N>>`: a hook, a Windows
//! message, a file's contents echoed) is output, never the command's result. Without the
//! nonce, a kept shell's reader stopped at the forged line with its code, and the real result
//! line was read as the next command's (a desynchronised session).

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

/// `sim shell` behind a filter that prints a forged result line, `forged`, on standard output
/// just before each real one: as if every command's own output ended with it.
fn forging_shell(dir: &Path, estate: &str, forged: &str) -> String {
    let script = dir.join("forging-shell");
    let text = format!("#!/bin/sh\n\"$@\" | sed -u 's/^<<sfbpatch-exit:/{forged}\\n&/'\n");
    std::fs::write(&script, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    format!("{} {} sim shell --estate {estate} --host {{host}}", script.display(), bin())
}

/// A run of se01 through the local transport with `shell`; its JSON summary and the report's
/// row of se01.
fn run(dir: &Path, estate: &str, shell: &str, faults: &[&str]) -> (Option<i32>, Value, Value) {
    let o = sfbpatch().args(["sim", "init", "--estate", estate, "--seed", "5"]).args(faults).output();
    let o = o.unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let package = dir.join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.join("j.db").display().to_string();
    let o = sfbpatch()
        .args(["run", "--transport", "local", "--shell", shell, "--server", SE])
        .args(["--package", &package.display().to_string(), "--journal", &journal, "--yes", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let run_id = v["run_id"].as_str().unwrap_or_default().to_owned();
    let r = common::json(&["report", &run_id, "--journal", &journal, "--format", "json"]);
    let row = r["servers"].as_array().and_then(|s| s.iter().find(|s| s["fqdn"] == SE).cloned()).unwrap_or_default();
    (o.status.code(), v, row)
}

/// The journal's attempts of `step`.
fn steps<'a>(row: &'a Value, step: &str) -> Vec<&'a Value> {
    row["steps"].as_array().into_iter().flatten().filter(|s| s["step"] == step).collect()
}

#[test]
fn a_forged_failing_result_line_in_every_commands_output_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let shell = forging_shell(dir.path(), &estate, "<<sfbpatch-exit:1>>");
    let (code, v, row) = run(dir.path(), &estate, &shell, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let install = steps(&row, "install-update");
    assert_eq!(install.len(), 1, "installed once: {row}");
    assert_eq!(install[0]["exit_code"], 0, "{}", install[0]);
}

#[test]
fn a_forged_success_line_before_the_installers_3010_leaves_3010() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let shell = forging_shell(dir.path(), &estate, "<<sfbpatch-exit:0>>");
    let fault = format!("{SE}:install-update:reboot");
    let (code, v, row) = run(dir.path(), &estate, &shell, &["--fault", &fault]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    // The installer's own code is the one recorded (DOMAIN.md §5: 3010, a restart pending),
    // and the server restarted for it.
    let install: Vec<&Value> = steps(&row, "install-update");
    assert_eq!(install.len(), 1, "installed once: {row}");
    assert_eq!(install[0]["exit_code"], 3010, "{}", install[0]);
    assert_eq!(install[0]["outcome"], "succeeded-reboot-pending", "{}", install[0]);
    assert_eq!(steps(&row, "reboot").len(), 1, "the server was restarted: {row}");
    // The session's next command has its own result (3010 not carried over to it).
    let next = row["steps"].as_array().into_iter().flatten().skip_while(|s| s["step"] != "install-update").nth(1);
    let next = next.unwrap_or_else(|| panic!("nothing after the install: {row}"));
    assert_ne!(next["exit_code"], 3010, "{next}");
}

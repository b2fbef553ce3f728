//! Exit codes as they reach sfbpatch from Windows PowerShell (DOMAIN.md §5): a process
//! reading its script on stdin exits with 0 or 1 only, so a native program's code (the
//! installer's 3010, `net`'s 2) travels on the command's result line
//! (`sfbpatch_core::envelope`). The simulator's shell answers as that host does, so a
//! transport that read the process's own exit code would fail these tests.

mod common;

use std::path::Path;

use common::sfbpatch;
use serde_json::Value;

const SE: &str = "se01.contoso.local";

fn init(estate: &str, extra: &[&str]) {
    let o = sfbpatch().args(["sim", "init", "--estate", estate, "--seed", "5"]).args(extra).output();
    let o = o.unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `sim shell` on `host` with `script` on stdin: (process exit code, stdout, stderr).
fn shell(estate: &str, host: &str, script: &str) -> (i32, String, String) {
    let o = sfbpatch()
        .args(["sim", "shell", "--estate", estate, "--host", host])
        .write_stdin(script.to_owned())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `run --transport local` of the SE server through the simulator's shell, then its
/// report as JSON: (exit code, run JSON, the server's report row).
fn run_local(dir: &Path, estate: &str) -> (i32, Value, Value) {
    let journal = dir.join("j.db").display().to_string();
    let package = dir.join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let shell =
        format!("{} sim shell --estate {estate} --host {{host}}", assert_cmd::cargo::cargo_bin("sfbpatch").display());
    let o = sfbpatch()
        .args(["run", "--transport", "local", "--shell", &shell, "--server", SE])
        .args(["--package", &package.display().to_string(), "--journal", &journal, "--yes", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let run_id = v["run_id"].as_str().unwrap_or_default().to_owned();
    let r = common::json(&["report", &run_id, "--journal", &journal, "--format", "json"]);
    let row = r["servers"].as_array().and_then(|s| s.iter().find(|s| s["fqdn"] == SE).cloned()).unwrap_or_default();
    (o.status.code().unwrap_or(-1), v, row)
}

fn steps<'a>(row: &'a Value, step: &str) -> Vec<&'a Value> {
    row["steps"].as_array().into_iter().flatten().filter(|s| s["step"] == step).collect()
}

#[test]
fn the_simulators_shell_exits_as_windows_powershell_and_the_result_line_carries_the_code() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    init(&estate, &[]);
    // Plain text: `net stop` of a running W3SVC succeeds (0), of a stopped one exits 2 —
    // which reaches the caller as 1, with net's own words.
    assert_eq!(shell(&estate, SE, "net stop w3svc").0, 0);
    let (code, out, err) = shell(&estate, SE, "net stop w3svc");
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("<<sfbpatch-exit"), "{out}");
    // `exit N` is the only way a plain script sets the process's code.
    assert_eq!(shell(&estate, SE, "Get-Service -Name 'W3SVC'\nexit 7").0, 7);
    // Wrapped as the transports send it: the process exits 0 and the result line says 2.
    let nonce = sfbpatch_core::envelope::Nonce::from_bytes([0x42; 8]);
    let (code, out, _) = shell(&estate, SE, &sfbpatch_core::envelope::wrap("net stop w3svc", &nonce));
    assert_eq!(code, 0, "{out}");
    let opened = sfbpatch_core::envelope::open(&out, &nonce).unwrap_or_else(|| panic!("no result line: {out}"));
    assert_eq!(opened.exit_code, 2, "{out}");
    assert!(!opened.stdout.contains("<<sfbpatch-exit"), "{out}");
    // A failing cmdlet: 1 on the result line.
    let (_, out, _) = shell(&estate, SE, &sfbpatch_core::envelope::wrap("Get-Service -Name 'NoSuchService'", &nonce));
    assert_eq!(sfbpatch_core::envelope::open(&out, &nonce).map(|o| o.exit_code), Some(1), "{out}");
}

#[test]
fn installer_3010_over_the_local_transport_is_a_restart_pending_never_a_failure() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    init(&estate, &["--fault", &format!("{SE}:install-update:reboot")]);
    let (code, v, row) = run_local(dir.path(), &estate);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let install = steps(&row, "install-update");
    assert_eq!(install.len(), 1, "installed once: {row}");
    assert_eq!(install[0]["exit_code"], 3010, "{}", install[0]);
    assert_eq!(install[0]["outcome"], "succeeded-reboot-pending", "{}", install[0]);
    assert!(steps(&row, "recovery").is_empty(), "no recovery after a restart request: {row}");
    assert_eq!(steps(&row, "reboot").len(), 1, "the server was restarted: {row}");
}

#[test]
fn net_stop_of_an_already_stopped_w3svc_passes_over_the_local_transport() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    init(&estate, &[]);
    assert_eq!(shell(&estate, SE, "net stop w3svc").0, 0, "W3SVC stopped before the run");
    let (code, v, row) = run_local(dir.path(), &estate);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let stop = steps(&row, "stop-w3svc");
    assert_eq!(stop.len(), 1, "{row}");
    assert_eq!(stop[0]["exit_code"], 2, "net's own code arrived: {}", stop[0]);
    assert_eq!(stop[0]["outcome"], "succeeded", "{}", stop[0]);
    assert!(
        stop[0]["stdout"].as_str().unwrap_or_default().len() + stop[0]["stderr"].as_str().unwrap_or_default().len() > 0
    );
}

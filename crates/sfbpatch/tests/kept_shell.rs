//! A shell process kept per session (issue 14): `sim shell` reading wrapped lines one by one
//! in one session of the estate, and `--transport local` keeping a process per engine session,
//! so that a Standard Edition server costs three shell starts: before the install, the
//! install, after the install (the seed's steps 3, 6 and 8; DOMAIN.md §4 rules 2 and 3, which
//! the simulator enforces: a wrong choice of process ends in 3010 or the old cmdlets).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::sfbpatch;
use serde_json::Value;

const SE: &str = "se01.contoso.local";

fn init(estate: &str) {
    let o = sfbpatch().args(["sim", "init", "--estate", estate, "--seed", "5"]).output();
    let o = o.unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn bin() -> String {
    assert_cmd::cargo::cargo_bin("sfbpatch").display().to_string()
}

/// se01's sessions as `sim show` gives them.
fn sessions(estate: &str) -> Vec<Value> {
    let e = common::json(&["sim", "show", "--estate", estate, "--format", "json"]);
    let h = e["hosts"].as_array().and_then(|h| h.iter().find(|h| h["fqdn"] == SE).cloned()).unwrap_or_default();
    h["sessions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_standard_edition_server_costs_three_shell_processes_and_is_updated() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    init(&estate);
    let count = dir.path().join("starts");
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    // bench/slow-shell with no delay: counts the shell's starts, one line each.
    let wrapper = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/slow-shell");
    let shell =
        format!("{} 0 {} {} sim shell --estate {estate} --host {{host}}", wrapper.display(), count.display(), bin());
    let o = sfbpatch()
        .args(["run", "--transport", "local", "--shell", &shell, "--server", SE])
        .args(["--package", &package.display().to_string(), "--journal", &journal, "--yes", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let starts = std::fs::read_to_string(&count).unwrap_or_default().lines().count();
    assert_eq!(starts, 3, "shell processes for one Standard Edition server");
    // The install ran in a shell without the module (no 3010), and the steps after it in a
    // session opened after it (the old cmdlets would have failed them).
    let run_id = v["run_id"].as_str().unwrap_or_default().to_owned();
    let r = common::json(&["report", &run_id, "--journal", &journal, "--format", "json"]);
    let row = r["servers"].as_array().and_then(|s| s.iter().find(|s| s["fqdn"] == SE).cloned()).unwrap_or_default();
    let install: Vec<&Value> =
        row["steps"].as_array().into_iter().flatten().filter(|s| s["step"] == "install-update").collect();
    assert_eq!(install.len(), 1, "{row}");
    assert_eq!(install[0]["exit_code"], 0, "{}", install[0]);
    // Every process ended with the run: no session is left open.
    assert!(sessions(&estate).iter().all(|s| s["open"] == false), "{:?}", sessions(&estate));
}

#[test]
fn a_kept_sim_shell_killed_leaves_no_open_session_behind() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    init(&estate);
    let mut child = Command::new(bin())
        .args(["sim", "shell", "--estate", &estate, "--host", SE])
        .env_remove("SSH_ORIGINAL_COMMAND")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("no stdout")));
    stdin.write_all(sfbpatch_core::envelope::wrap("Get-CsWindowsService").as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    // The answer arrives while the process still runs (its input is open).
    let mut reader = sfbpatch_core::envelope::Reader::default();
    let mut line = String::new();
    let code = loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap_or(0) > 0, "the shell ended before answering");
        if let Some(code) = reader.line(&line) {
            break code;
        }
    };
    assert_eq!(code, 0);
    let open: Vec<Value> = sessions(&estate).into_iter().filter(|s| s["open"] == true).collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["process"]["pid"], child.id(), "{open:?}");
    assert!(open[0]["module_generation"].is_number(), "the module stays loaded in it: {open:?}");
    // SIGKILL: the process cannot close its session.
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sessions(&estate).iter().filter(|s| s["open"] == true).count(), 1, "still recorded open");
    // The next shell on the estate finds its process gone: closed, so it holds no files.
    let o = sfbpatch()
        .args(["sim", "shell", "--estate", &estate, "--host", SE])
        .write_stdin(sfbpatch_core::envelope::wrap("Get-PSDrive C"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sessions(&estate).iter().all(|s| s["open"] == false), "{:?}", sessions(&estate));
}

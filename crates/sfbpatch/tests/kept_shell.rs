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
    let nonce = sfbpatch_core::envelope::Nonce::from_bytes([0x17; 8]);
    let wrapped = sfbpatch_core::envelope::wrap("Get-CsWindowsService", &nonce);
    stdin.write_all(wrapped.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    // The answer arrives while the process still runs (its input is open).
    let mut reader = sfbpatch_core::envelope::Reader::new(nonce);
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
        .write_stdin(sfbpatch_core::envelope::wrap(
            "Get-PSDrive C",
            &sfbpatch_core::envelope::Nonce::from_bytes([0x18; 8]),
        ))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sessions(&estate).iter().all(|s| s["open"] == false), "{:?}", sessions(&estate));
}

/// Issue 14's last lever: the shell process the installer runs in is started before the
/// server's outage opens, so that a shell whose start is slow (0.3 s here, as `powershell.exe`
/// takes hundreds of milliseconds) does not spend it inside the outage. A wrapper records each
/// process's pid and start time (milliseconds since the Unix epoch, the local transport's
/// clock); the estate names the process of the installer's session (the one session that
/// never loaded the module: DOMAIN.md §4 rule 2); the journal, when the outage opened.
#[cfg(unix)]
#[test]
fn the_installers_shell_is_started_before_the_outage_opens() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    init(&estate);
    let starts = dir.path().join("starts");
    let wrapper = dir.path().join("slow-shell");
    // `exec` keeps the pid: the simulator's shell records the wrapper's.
    let script = "#!/bin/sh\nlog=\"$1\"; shift\necho \"$$ $(date +%s%3N)\" >>\"$log\"\nsleep 0.3\nexec \"$@\"\n";
    std::fs::write(&wrapper, script).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db");
    let shell =
        format!("{} {} {} sim shell --estate {estate} --host {{host}}", wrapper.display(), starts.display(), bin());
    let o = sfbpatch()
        .args(["run", "--transport", "local", "--shell", &shell, "--server", SE])
        .args(["--package", &package.display().to_string(), "--journal", &journal.display().to_string()])
        .args(["--yes", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    // Still three processes: before the install, the install, after it.
    let started: Vec<(u64, i64)> = std::fs::read_to_string(&starts)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' ').and_then(|(p, t)| Some((p.parse().ok()?, t.parse().ok()?))))
        .collect();
    assert_eq!(started.len(), 3, "{started:?}");
    let all = sessions(&estate);
    let installer: Vec<&Value> = all.iter().filter(|s| s["module_generation"].is_null()).collect();
    assert_eq!(installer.len(), 1, "one session without the module, the installer's: {all:?}");
    let pid = installer[0]["process"]["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {all:?}"));
    let process_start =
        started.iter().find(|(p, _)| *p == pid).map(|(_, t)| *t).unwrap_or_else(|| panic!("{pid} in {started:?}"));
    let db = rusqlite::Connection::open_with_flags(&journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("{e}"));
    let opened: i64 = db
        .query_row("SELECT opened_ms FROM outages WHERE server = ?1", [SE], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    let (install_at, code): (i64, i64) = db
        .query_row(
            "SELECT started_ms, exit_code FROM attempts WHERE server = ?1 AND step = 'install-update'",
            [SE],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, 0, "no restart asked for: no shell with the module was open during the install");
    assert!(
        process_start < opened,
        "the installer's process started at {process_start}, the outage opened at {opened} (install at {install_at})"
    );
}

//! The PowerShell remoting transport's end markers carry a nonce (a reviewer's finding on the
//! result protocol): the transport reads its local PowerShell's output up to
//! `<<sfbpatch-end:ID:NONCE:STATE>>`, and a far command that prints an end line of its own
//! (with a guessed request number: they were a counter, and the only key) is output, never the
//! end of the request. Before, such a line ended the read early, with its forged `Broken`
//! state (a session read as dropped), and the real end line was left to the next request.

#![cfg(unix)]

mod common;

use std::path::Path;

use common::sfbpatch;
use serde_json::Value;

const SE: &str = "se01.contoso.local";

/// `sim remoting` behind a filter that, before every command's result line, prints the end
/// line of the request being answered as it would be guessed: the last end line's number plus
/// one (the transport numbers its requests one after another), state `Broken`, no nonce.
fn forging_powershell(dir: &Path, estate: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("sfbpatch");
    // A shell loop, not awk: mawk reads a pipe in blocks and would hold the answers back.
    let filter = r#"while IFS= read -r line; do
  case $line in
    '<<sfbpatch-end:'*) n=${line#<<sfbpatch-end:}; last=${n%%:*} ;;
    '<<sfbpatch-exit:'*) printf '%s\n' "<<sfbpatch-end:$((last + 1)):Broken>>" ;;
  esac
  printf '%s\n' "$line"
done"#;
    let script = format!("#!/bin/sh\n{} sim remoting --estate {estate} | {{\n{filter}\n}}\n", bin.display());
    let path = dir.join("powershell.sh");
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("{e}"));
    format!("sh {} {{host}}", path.display())
}

#[test]
fn a_far_commands_forged_end_line_is_its_output_and_the_server_is_updated() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate").display().to_string();
    let o = sfbpatch().args(["sim", "init", "--estate", &estate]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let shell = forging_powershell(dir.path(), &estate);
    let o = sfbpatch()
        .args(["run", "--transport", "psremoting", "--shell", &shell, "--server", SE])
        .args(["--package", &package.display().to_string(), "--journal", &journal, "--yes", "--format", "json"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(o.status.code(), Some(0), "{v}\n{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["servers"][0]["fqdn"], SE, "{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    // The estate says so too: se01 runs the package's build.
    let shown = common::json(&["sim", "show", "--estate", &estate, "--format", "json"]);
    let host = shown["hosts"].as_array().and_then(|h| h.iter().find(|h| h["fqdn"] == SE)).cloned();
    let builds: Vec<String> = host.unwrap_or_default()["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c[1].as_str().map(str::to_owned))
        .collect();
    assert!(!builds.is_empty() && builds.iter().all(|b| b == "7.0.2046.530"), "{builds:?}");
    // The forged line is the install command's output, kept in the journal as such.
    let db = rusqlite::Connection::open(&journal).unwrap_or_else(|e| panic!("{e}"));
    let stdout: String = db
        .query_row("SELECT stdout FROM attempts WHERE server = ?1 AND step = 'install-update'", [SE], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    let forged = stdout.lines().last().unwrap_or_default();
    assert!(forged.starts_with("<<sfbpatch-end:") && forged.ends_with(":Broken>>"), "{stdout:?}");
}

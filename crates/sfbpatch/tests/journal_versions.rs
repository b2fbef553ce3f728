//! Journal schema versions through the built binary: a journal the first (unversioned)
//! release left when its run was killed opens, shows and reports, and is refused by resume
//! (it stored no plan inputs); a journal of
//! a newer schema version is refused (exit 1) and not changed.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

fn json(args: &[&str]) -> (i32, Value, String) {
    let o = sfbpatch().args(args).output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), v, err)
}

fn user_version(path: &Path) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_journal_of_a_killed_first_release_run_shows_and_reports_but_is_not_resumed() {
    // testdata/journal/README.md: written by 5224bbf, SIGKILLed with three servers in their
    // outage. Copied, never opened in place.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/journal/v1-killed");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.db");
    let estate = dir.path().join("estate");
    std::fs::create_dir_all(&estate).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(data.join("journal.db"), &journal).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(data.join("estate/estate.json"), estate.join("estate.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(user_version(&journal), 0, "as the first release left it");
    {
        // The run's stored parameters name the estate where it was recorded: point them at
        // this copy (and drop the real-time scaling), as an operator who moved it would.
        let c = rusqlite::Connection::open(&journal).unwrap_or_else(|e| panic!("{e}"));
        let params: String = c.query_row("SELECT params FROM runs", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        let mut p: Value = serde_json::from_str(&params).unwrap_or_else(|e| panic!("{e}"));
        p["estate"] = Value::String(estate.display().to_string());
        p["time_scale"] = Value::from(0.0);
        c.execute("UPDATE runs SET params = ?1", [p.to_string()]).unwrap_or_else(|e| panic!("{e}"));
    }
    let j = journal.display().to_string();

    let (code, h, err) = json(&["history", "--journal", &j, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(h.as_array().map(Vec::len), Some(1), "{h}");
    assert_eq!(h[0]["state"], "running");
    assert_eq!(h[0]["servers"], 3);
    let id = h[0]["run_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(user_version(&journal), sfbpatch_journal::CURRENT_VERSION, "migrated when opened");

    let (code, s, err) = json(&["status", &id, "--journal", &j, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["state"], "running");
    let sql01 = s["servers"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["fqdn"] == "sql01.contoso.local").cloned())
        .unwrap_or_default();
    assert_eq!(sql01["state"], "running");
    assert_eq!(sql01["current_step"], "install-update", "killed during the install");
    let text = sfbpatch().args(["status", &id, "--journal", &j]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&text.stdout).contains("install-update"));

    // The first release stored its plan's commands, not what the plan was made from: it is
    // not resumed (issue 13: commands are never executed from stored text), and nothing is
    // sent; its status, history and report still work.
    let estate_before = std::fs::read(estate.join("estate.json")).unwrap_or_else(|e| panic!("{e}"));
    let o = sfbpatch().args(["resume", &id, "--journal", &j]).output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "run {id} is not resumed: an earlier release of sfbpatch started it and stored its plan's commands"
        )) && err.contains("start a new run with `sfbpatch run …`"),
        "{err}"
    );
    assert_eq!(std::fs::read(estate.join("estate.json")).unwrap_or_default(), estate_before, "nothing was sent");
    let (code, s, err) = json(&["status", &id, "--journal", &j, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["state"], "running", "left as it was");
    let page = dir.path().join("report.html");
    let o = sfbpatch()
        .args(["report", &id, "--journal", &j, "--format", "html", "-o", &page.display().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_journal_of_a_newer_schema_version_is_refused_with_exit_1_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.db");
    let newer = sfbpatch_journal::CURRENT_VERSION + 1;
    {
        let c = rusqlite::Connection::open(&journal).unwrap_or_else(|e| panic!("{e}"));
        c.execute_batch("CREATE TABLE runs(id TEXT); INSERT INTO runs VALUES ('from-the-future');")
            .unwrap_or_else(|e| panic!("{e}"));
        c.pragma_update(None, "user_version", newer).unwrap_or_else(|e| panic!("{e}"));
    }
    let before = std::fs::read(&journal).unwrap_or_else(|e| panic!("{e}"));
    let j = journal.display().to_string();
    for args in [
        vec!["status", "--journal", &j],
        vec!["history", "--journal", &j],
        vec!["resume", "from-the-future", "--journal", &j],
    ] {
        let o = sfbpatch().args(&args).output().unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(&format!("schema version {newer}")) && err.contains("newer"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(std::fs::read(&journal).unwrap_or_default(), before, "the newer journal is not changed");
    assert_eq!(user_version(&journal), newer);
}

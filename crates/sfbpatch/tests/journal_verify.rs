//! `sfbpatch journal verify` and `resume` against a journal edited behind sfbpatch's back
//! (issue 13, item 6), through the built binary: a stored command edited, an attempt
//! deleted, a "succeeded" attempt inserted, two attempts swapped are each found (exit 1, the
//! record and what was done to it) and the run is not resumed (exit 1, nothing sent); an
//! intact run verifies (exit 0); a journal of the first release is unchained, not tampered.

mod common;

use common::{assert_refused, run, testdata};
use rusqlite::Connection;
use serde_json::{Value, json};

const PKG: &str = "SkypeServerUpdateInstaller.exe";

fn db(path: &str) -> Connection {
    Connection::open(path).unwrap_or_else(|e| panic!("{e}"))
}

fn count(path: &str, sql: &str) -> i64 {
    db(path).query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"))
}

/// A run its window stopped (resumable), in `dir`: (journal, run id, a server with a
/// succeeded install-update).
fn stopped_run(dir: &std::path::Path) -> (String, String, String) {
    let estate = dir.join("estate").display().to_string();
    let journal = dir.join("journal.db").display().to_string();
    let init = run(&["sim", "init", "--estate", &estate]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let r = run(&[
        "run",
        "--transport",
        "sim",
        "--estate",
        &estate,
        "--package",
        PKG,
        "--yes",
        "--window-end",
        "+10",
        "--journal",
        &journal,
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let c = db(&journal);
    let id: String = c.query_row("SELECT id FROM runs", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
    let server: String = c
        .query_row(
            "SELECT server FROM attempts WHERE step = 'install-update' AND outcome = 'succeeded' ORDER BY server LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    (journal, id, server)
}

/// The step `server` attempted just before its install-update.
fn step_before_install(journal: &str, server: &str) -> String {
    db(journal)
        .query_row(
            "SELECT step FROM attempts WHERE server = ?1 AND started_ms <
               (SELECT started_ms FROM attempts WHERE server = ?1 AND step = 'install-update')
             ORDER BY started_ms DESC LIMIT 1",
            [server],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_tampering_is_found_by_verify_and_refused_by_resume() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (journal, id, server) = stopped_run(dir.path());
    let intact = run(&["journal", "verify", &id, "--journal", &journal]);
    assert_eq!(intact.code, 0, "{}\n{}", intact.stdout, intact.stderr);
    assert_eq!(intact.stdout, format!("run {id}: no record was changed since sfbpatch wrote it.\n"));

    let key = |step: &str, n: u32| json!([server, step, n]).to_string();
    let install = key("install-update", 1);
    let earlier = step_before_install(&journal, &server);
    let stop = key(&earlier, 1);
    let inserted = key("verify", 9);
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "edited",
            format!(
                "UPDATE attempts SET command = 'Remove-Item C:\\ -Recurse' WHERE server = '{server}' AND step = 'install-update'"
            ),
            vec![format!("  attempts {install}: edited (its content is not what sfbpatch wrote)")],
        ),
        (
            "deleted",
            format!("DELETE FROM attempts WHERE server = '{server}' AND step = 'install-update'"),
            vec![format!("  attempts {install}: deleted (sfbpatch wrote it and it is gone)")],
        ),
        (
            "inserted",
            format!(
                "INSERT INTO attempts(run_id, server, step, attempt, started_ms, finished_ms, outcome)
                 VALUES ('{id}', '{server}', 'verify', 9, 1, 2, 'succeeded')"
            ),
            vec![format!("  attempts {inserted}: inserted (sfbpatch did not write it)")],
        ),
        (
            "reordered",
            format!(
                "UPDATE attempts SET step = 'x' WHERE server = '{server}' AND step = '{earlier}';
                 UPDATE attempts SET step = '{earlier}' WHERE server = '{server}' AND step = 'install-update';
                 UPDATE attempts SET step = 'install-update' WHERE server = '{server}' AND step = 'x';"
            ),
            vec![
                format!("  attempts {install}: reordered (it holds what sfbpatch wrote as {stop})"),
                format!("  attempts {stop}: reordered (it holds what sfbpatch wrote as {install})"),
            ],
        ),
    ];
    for (name, sql, lines) in cases {
        let copy = dir.path().join(format!("{name}.db")).display().to_string();
        db(&journal).execute("VACUUM INTO ?1", [&copy]).unwrap_or_else(|e| panic!("{e}"));
        db(&copy).execute_batch(&sql).unwrap_or_else(|e| panic!("{name}: {e}"));

        let v = run(&["journal", "verify", &id, "--journal", &copy]);
        assert_eq!(v.code, 1, "{name}: {}\n{}", v.stdout, v.stderr);
        let mut expected = format!("run {id}: records changed since sfbpatch wrote them: {}\n", lines.len());
        for l in &lines {
            expected.push_str(l);
            expected.push('\n');
        }
        assert_eq!(v.stdout, expected, "{name}");
        let j = run(&["journal", "verify", &id, "--journal", &copy, "--format", "json"]);
        assert_eq!(j.code, 1, "{name}");
        let j: Value = serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("{e}: {}", j.stdout));
        assert_eq!(j["intact"], false, "{name}: {j}");
        assert_eq!(j["findings"].as_array().map(Vec::len), Some(lines.len()), "{name}: {j}");
        assert_eq!(j["findings"][0]["kind"], name, "{name}: {j}");

        let attempts = "SELECT COUNT(*) FROM attempts";
        let before = count(&copy, attempts);
        let state = |p: &str| -> String {
            db(p)
                .query_row("SELECT state || ifnull(finished_at, '') FROM runs", [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let state_before = state(&copy);
        let r = run(&["resume", &id, "--journal", &copy, "--window-end", "+600"]);
        assert_refused(
            &r,
            &format!(
                "run {id} is not resumed: records changed since sfbpatch wrote them: {}; nothing was sent. See: sfbpatch journal verify {id}",
                lines.len()
            ),
        );
        assert_eq!(count(&copy, attempts), before, "{name}: nothing was sent");
        assert_eq!(state(&copy), state_before, "{name}: the run's state kept");
    }
}

#[test]
fn a_journal_of_the_first_release_is_unchained_not_tampered_with() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.db");
    std::fs::copy(testdata("journal/v1-killed/journal.db"), &journal).unwrap_or_else(|e| panic!("{e}"));
    let journal = journal.display().to_string();
    let v = run(&["journal", "verify", "--journal", &journal, "--format", "json"]);
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let j: Value = serde_json::from_str(&v.stdout).unwrap_or_else(|e| panic!("{e}: {}", v.stdout));
    assert_eq!(j["intact"], true, "{j}");
    let findings = j["findings"].as_array().unwrap_or_else(|| panic!("{j}"));
    assert!(!findings.is_empty(), "{j}");
    assert!(findings.iter().all(|f| f["kind"] == "unchained"), "{j}");
    let t = run(&["journal", "verify", "--journal", &journal]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(
        t.stdout.ends_with(&format!(
            "records unchained (written before version 4, with no hash to check): {}\n",
            findings.len()
        )),
        "{}",
        t.stdout
    );
}

//! Issue 13 item 10, through the built binary: text that comes from the operator's input (a
//! topology's site name, a hook, what a server printed back, a journal's run id) reaches the
//! terminal with its control characters shown escaped (`sfbpatch_core::printable`) in
//! `rehearse`, `run`, `status` and `history`; and `history --format json` gives each run's
//! start and end as RFC 3339 beside the Unix seconds it always gave.

mod common;

use std::path::Path;

use common::run;

/// ESC starting an ANSI colour, and BEL.
const RAW: &str = "Lis\u{1b}[31mboa\u{7}";
/// The same, as `printable` shows it.
const SHOWN: &str = "Lis\\x1b[31mboa\\x07";

/// The bundled Standard Edition estate with `RAW` as its site's name.
fn hostile_topology(dir: &Path) -> String {
    let toml = std::fs::read_to_string(common::testdata("topology/standard-edition.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("name = \"Lisboa\"", "name = \"Lis\\u001b[31mboa\\u0007\"");
    assert!(toml.contains("\\u001b"), "the site was renamed");
    let path = dir.join("hostile.toml");
    std::fs::write(&path, toml).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

/// A pre-hook whose failure message (the simulator's `Get-Service` error) echoes `RAW`.
fn hook() -> String {
    format!("Get-Service -Name '{RAW}'")
}

fn assert_escaped(what: &str, out: &str, must_show: bool) {
    for c in ['\u{1b}', '\u{7}'] {
        assert!(!out.contains(c), "{what}: raw {c:?} in {out:?}");
    }
    if must_show {
        assert!(out.contains(SHOWN), "{what}: {SHOWN} missing from {out}");
    }
    assert!(!out.contains("panicked"), "{what}: {out}");
}

#[test]
fn control_characters_from_input_are_escaped_in_rehearse_run_status_and_history() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let topology = hostile_topology(dir.path());
    let hook = hook();
    let estate = dir.path().join("e").display().to_string();
    let journal = dir.path().join("j.db").display().to_string();

    let r = run(&["rehearse", &topology, "--package", "p.exe", "--pre-hook", &hook]);
    assert_eq!(r.code, 1, "the hook fails the server: {}", r.stderr);
    assert_escaped("rehearse stdout", &r.stdout, true);
    assert_escaped("rehearse stderr", &r.stderr, false);

    assert_eq!(run(&["sim", "init", &topology, "--estate", &estate]).code, 0);
    let args = ["run", &topology, "--transport", "sim", "--estate", &estate, "--package", "p.exe", "--yes"];
    let r = run(&[&args[..], &["--journal", &journal, "--pre-hook", &hook]].concat());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_escaped("run summary", &r.stdout, true);
    assert_escaped("run progress", &r.stderr, true);

    let s = run(&["status", "--journal", &journal]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert_escaped("status", &s.stdout, true);

    // A journal is a file anyone with write access can edit: its run ids are input too.
    let c = rusqlite::Connection::open(&journal).unwrap_or_else(|e| panic!("{e}"));
    c.execute("UPDATE runs SET id = id || ?1", [RAW]).unwrap_or_else(|e| panic!("{e}"));
    drop(c);
    let h = run(&["history", "--journal", &journal]);
    assert_eq!(h.code, 0, "{}", h.stderr);
    assert_escaped("history", &h.stdout, true);
    let s = run(&["status", "--journal", &journal]);
    assert_escaped("status of the edited run", &s.stdout, true);
}

/// `secs` (the journal's `1795734026.599`) as (whole seconds, nanoseconds).
fn unix(secs: &str) -> (i64, u32) {
    let (whole, fraction) = secs.split_once('.').unwrap_or((secs, ""));
    let nanos = format!("{fraction:0<9}").parse().unwrap_or_else(|e| panic!("{secs}: {e}"));
    (whole.parse().unwrap_or_else(|e| panic!("{secs}: {e}")), nanos)
}

#[test]
fn history_json_gives_rfc3339_times_equal_to_its_unix_seconds() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let args = ["run", "--transport", "sim", "--yes", "--package", "SkypeServerUpdateInstaller.exe"];
    let o = run(&[&args[..], &["--journal", &journal, "--server", "se01.contoso.local"]].concat());
    assert_eq!(o.code, 0, "{}", o.stderr);
    let j = common::json(&["history", "--journal", &journal, "--format", "json"]);
    let row = &j[0];
    for (secs, text) in [("started_at", "started_at_rfc3339"), ("finished_at", "finished_at_rfc3339")] {
        let secs = row[secs].as_str().unwrap_or_else(|| panic!("{secs} kept as Unix seconds: {row}"));
        let text = row[text].as_str().unwrap_or_else(|| panic!("{text}: {row}"));
        let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.offset(), time::UtcOffset::UTC, "{text}");
        assert_eq!((t.unix_timestamp(), t.nanosecond()), unix(secs), "{text} vs {secs}");
    }
}

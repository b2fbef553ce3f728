//! Issue 13, "the journal is trusted blindly", what an adversarial review found `resume` still
//! took from the journal, through the built binary: the PowerShell remoting logon, the
//! topology (where every transport connects), the engine's numbers (a stored `1e300` made it
//! panic) and its safety settings. Each is refused, with a sentence naming it, before anything
//! is contacted; the run keeps its state.

mod common;
mod resume_setup;

use common::{assert_refused, run, testdata};
use resume_setup::{PKG, Setup};
use serde_json::Value;

/// The run's state, from `status`.
fn state(s: &Setup, id: &str) -> String {
    let o = run(&["status", id, "--journal", &s.journal, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    v["state"].as_str().unwrap_or_default().to_owned()
}

/// Resumed (not refused): what the resume said is not a refusal, and it sent something.
fn resumed(s: &Setup, o: &common::Out) {
    assert!(!o.stderr.contains("is not resumed"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(s.new_attempts() > 0, "{}", o.stderr);
}

#[test]
fn a_psremoting_logon_edited_in_the_journal_is_refused_unless_given_again_equal() {
    let s = Setup::new();
    let package = s.path(PKG);
    std::fs::write(&package, b"update").unwrap_or_else(|e| panic!("{e}"));
    let (mine, theirs) = (s.path("mine.xml"), s.path("theirs.xml"));
    for f in [&mine, &theirs] {
        std::fs::write(f, b"<Objs/>").unwrap_or_else(|e| panic!("{e}"));
    }
    let bin = assert_cmd::cargo::cargo_bin("sfbpatch").display().to_string();
    let shell = format!("{bin} sim remoting --estate {}", s.estate);
    let id = s.stopped(&["--transport", "psremoting", "--shell", &shell, "--package", &package]);
    let base = ["--shell", shell.as_str(), "--package", package.as_str()];
    // Kerberos turned into CredSSP delegating a credential file of the editor's choosing.
    s.edit("params", |p| p["psremoting"] = serde_json::json!(["credssp", theirs]));
    let before = s.show();
    assert_refused(
        &s.resume(&id, &base),
        &format!(
            "run {id} is not resumed: it was started with --psremoting-authentication \"credssp\", and this resume \
             gives \"kerberos\"."
        ),
    );
    let mut credssp = base.to_vec();
    credssp.extend(["--psremoting-authentication", "credssp", "--psremoting-credential", &mine]);
    assert_refused(
        &s.resume(&id, &credssp),
        &format!(
            "run {id} is not resumed: it was started with --psremoting-credential \"{theirs}\", and this resume gives \
             \"{mine}\"."
        ),
    );
    assert_eq!((s.show(), s.new_attempts()), (before, 0), "nothing was contacted");
    assert_eq!(state(&s, &id), "failed");
    // The run's own logon (Kerberos, given by default) resumes.
    s.edit("params", |p| p["psremoting"] = serde_json::json!([null, null]));
    resumed(&s, &s.resume(&id, &base));
}

#[test]
fn a_stored_topology_replaced_with_its_matching_plan_is_refused_unless_the_file_is_given_again() {
    let s = Setup::new();
    let id = s.stopped(&[]);
    let evil = s.path("evil.xml");
    let text = std::fs::read_to_string(testdata("topology/standard-edition.xml")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&evil, &text).unwrap_or_else(|e| panic!("{e}"));
    let mut stage = String::new();
    s.edit("params", |p| {
        stage = p["inputs"]["stage_dir"].as_str().unwrap_or_default().to_owned();
        p["inputs"]["topology"] = serde_json::json!({"format": "xml", "file": evil, "text": text});
    });
    // The plan made from the replacement, exactly as `sfbpatch plan` makes it: the stored plan
    // then matches the stored inputs, and only the operator's own topology tells them apart.
    let o = run(&["plan", &evil, "--package", PKG, "--stage-dir", &stage, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plan: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    s.edit("plan", |p| *p = plan);
    let before = s.show();
    assert_refused(
        &s.resume(&id, &[]),
        &format!(
            "run {id} is not resumed: the topology given, the bundled example, is not the one it was planned from \
             (\"{evil}\"); nothing was contacted."
        ),
    );
    assert_eq!((s.show(), s.new_attempts()), (before, 0), "nothing was contacted");
    // In Spanish, every word of it.
    let es = run(&["--lang", "es", "resume", &id, "--journal", &s.journal]);
    assert_refused(&es, "la topología indicada, el ejemplo incluido, no es aquella a partir de la que se planificó");
}

/// (field, JSON value, what the refusal says after "its stored FIELD is refused: ").
const BAD_NUMBERS: [(&str, &str, &str); 9] = [
    ("timeout_scale", "1e300", "\"1e300\" is not a number greater than 0 and at most 1000"),
    ("time_scale", "1e300", "\"1e300\" is not a number at least 0 and at most 1000"),
    ("timeout_scale", "-1", "\"-1.0\" is not a number greater than 0 and at most 1000"),
    ("outage_budget", "1e300", "\"1e300\" is not a number greater than 0 and at most 1440"),
    ("warn_before", "[5, 1e300]", "\"1e300\" is not a number at least 0 and at most 1440"),
    ("max_parallel", "0", "\"0\" is not a whole number of at least 1"),
    ("max_failures", "\"lots\"", "\"lots\" is not a count (N) or a percentage from 0% to 100% (P%)"),
    ("inputs.max_parallel", "0", "\"0\" is not a whole number of at least 1"),
    ("inputs.outage_budget_minutes", "1e300", "\"1e300\" is not a number greater than 0 and at most 1440"),
];

#[test]
fn stored_numbers_the_command_line_refuses_are_refused_naming_the_field_and_range_without_a_panic() {
    let s = Setup::new();
    let id = s.stopped(&[]);
    let mut original = Value::Null;
    s.edit("params", |p| original = p.clone());
    let before = s.show();
    for (field, value, why) in BAD_NUMBERS {
        let v: Value = serde_json::from_str(value).unwrap_or_else(|e| panic!("{e}"));
        s.edit("params", |p| {
            *p = original.clone();
            match field.split_once('.') {
                Some((outer, inner)) => p[outer][inner] = v,
                None => p[field] = v,
            }
        });
        let o = s.resume(&id, &[]);
        assert_refused(
            &o,
            &format!("run {id} is not resumed: its stored {field} is refused: {why}; nothing was contacted."),
        );
        assert_eq!((s.new_attempts(), state(&s, &id)), (0, "failed".to_owned()), "{field}: {}", o.stderr);
    }
    assert_eq!(s.show(), before, "nothing was contacted");
    // The run's own values resume.
    s.edit("params", |p| *p = original);
    resumed(&s, &s.resume(&id, &[]));
}

#[test]
fn safety_settings_are_taken_only_when_given_again_equal() {
    let s = Setup::new();
    let id = s.stopped(&["--accept-resiliency", "--on-failure", "stop", "--version", "7.0.2046.530"]);
    let all = ["--accept-resiliency", "--on-failure", "stop", "--version", "7.0.2046.530"];
    let refusal = |flag: &str, stored: &str, given: &str| {
        format!("run {id} is not resumed: it was started with {flag} {stored}, and this resume gives {given}; nothing")
    };
    assert_refused(&s.resume(&id, &all[1..]), &refusal("--accept-resiliency", "on", "off"));
    assert_refused(&s.resume(&id, &[all[0], all[3], all[4]]), &refusal("--on-failure", "stop", "restore"));
    assert_refused(&s.resume(&id, &all[..3]), &refusal("--version", "\"7.0.2046.530\"", "nothing"));
    // Edited in the journal: the operator's, given again, no longer equal.
    s.edit("params", |p| p["target_build"] = Value::from("7.0.2046.0"));
    assert_refused(&s.resume(&id, &all), &refusal("--version", "\"7.0.2046.0\"", "\"7.0.2046.530\""));
    s.edit("params", |p| p["on_failure"] = Value::from("restore"));
    assert_refused(&s.resume(&id, &all), &refusal("--on-failure", "restore", "stop"));
    assert_eq!(s.new_attempts(), 0);
    s.edit("params", |p| {
        p["on_failure"] = Value::from("stop");
        p["target_build"] = Value::from("7.0.2046.530");
    });
    resumed(&s, &s.resume(&id, &all));
}

#[test]
fn a_missing_file_given_again_and_an_unreadable_stored_plan_are_said_in_the_operators_language() {
    let s = Setup::new();
    let package = s.path(PKG);
    std::fs::write(&package, b"update").unwrap_or_else(|e| panic!("{e}"));
    let bin = assert_cmd::cargo::cargo_bin("sfbpatch").display().to_string();
    let shell = format!("{bin} sim shell --estate {} --host {{host}}", s.estate);
    let id = s.stopped(&["--transport", "local", "--shell", &shell, "--package", &package]);
    let es = |extra: &[&str]| {
        let mut a = vec!["--lang", "es", "resume", &id, "--journal", &s.journal, "--shell", &shell];
        a.extend_from_slice(extra);
        run(&a)
    };
    assert_refused(
        &es(&["--package", "/nonexistent.exe"]),
        &format!(
            "la ejecución {id} no se reanuda: no se encuentra el archivo /nonexistent.exe indicado con --package: "
        ),
    );
    let c = rusqlite::Connection::open(&s.journal).unwrap_or_else(|e| panic!("{e}"));
    c.execute("UPDATE runs SET plan = 'not json'", []).unwrap_or_else(|e| panic!("{e}"));
    let o = es(&["--package", &package]);
    assert_refused(&o, &format!("la ejecución {id} no se reanuda: no se puede leer su plan guardado: "));
    assert!(!o.stderr.contains("\"plan\""), "{}", o.stderr);
    assert_eq!(s.new_attempts(), 0);
}

#[test]
fn a_stored_transport_edited_from_sim_to_a_real_one_is_refused() {
    let s = Setup::new();
    let id = s.stopped(&[]);
    let before = s.show();
    for transport in ["local", "psremoting", "ssh"] {
        s.edit("params", |p| p["transport"] = Value::from(transport));
        assert_refused(
            &s.resume(&id, &[]),
            &format!(
                "run {id} is not resumed: its stored parameters say --transport {transport} but name no package, \
                 which a run on that transport always stores; nothing was contacted."
            ),
        );
    }
    assert_eq!((s.show(), s.new_attempts()), (before, 0), "nothing was contacted");
}

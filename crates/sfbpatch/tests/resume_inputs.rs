//! Issue 13, "commands are never executed from stored text", through the built binary:
//! `resume` makes the plan again from the run's stored inputs (topology text and request) and
//! refuses a stored plan that differs, a stored topology that no longer reads, and a shell,
//! hook or package the operator does not give again; an untouched run resumes and completes;
//! a run stored without inputs (an earlier release's) is refused with its own sentence.
//!
//! Runs are stopped before anything changed: a simulated fault fails every server's first
//! step, `check-role` (a read-only question; a pre-hook may run before it), so no server goes further and the back ends'
//! databases wait for their Front Ends; a fault fires once, so the resume that is allowed
//! goes on and completes. (A window that ended long ago would do too, but `run` now refuses a
//! window already past before it records anything: bad-input row B24.)

mod common;
mod resume_setup;

use common::{assert_refused, run, testdata};
use resume_setup::{PKG, Setup, completed};
use serde_json::Value;

#[test]
fn an_edited_stored_command_is_refused_with_its_server_and_step_and_nothing_is_contacted() {
    let s = Setup::new();
    let id = s.stopped(&[]);
    let (mut server, mut step, mut original) = (String::new(), String::new(), String::new());
    s.edit("plan", |p| {
        let x = &mut p["servers"][0];
        server = x["fqdn"].as_str().unwrap_or_default().to_owned();
        let st = &mut x["steps"][2];
        step = st["id"].as_str().unwrap_or_default().to_owned();
        original = st["command"].as_str().unwrap_or_default().to_owned();
        st["command"] = Value::from("Remove-Item C:\\ -Recurse\u{1b}[2J");
    });
    assert!(!server.is_empty() && !step.is_empty() && !original.is_empty());
    // The plan is not in the hash chain: `journal verify` passes, nothing needs re-sealing.
    let v = run(&["journal", "verify", &id, "--journal", &s.journal]);
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let before = s.show();
    let r = s.resume(&id, &[]);
    assert_refused(
        &r,
        &format!(
            "run {id} is not resumed: the plan made again from its stored inputs differs from its stored plan at \
             server {server}, step {step} (servers.0.steps.2.command): stored \"Remove-Item C:\\ -Recurse\\x1b[2J\", \
             made again \"{original}\"; nothing was sent. Check the journal with `sfbpatch journal verify {id}`"
        ),
    );
    assert_eq!(s.show(), before, "the estate is untouched");
    assert_eq!(s.new_attempts(), 0, "nothing was sent");
}

#[test]
fn an_untouched_stopped_run_resumes_and_completes() {
    let s = Setup::new();
    let id = s.stopped(&[]);
    completed(&s.resume(&id, &[]));
    assert!(s.new_attempts() > 0);
}

#[test]
fn a_stored_topology_edited_is_refused_and_the_operators_file_is_read_by_the_plan_reader() {
    let s = Setup::new();
    let topo = s.path("topology.xml");
    let original = std::fs::read_to_string(testdata("topology/standard-edition.xml")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&topo, &original).unwrap_or_else(|e| panic!("{e}"));
    let init =
        run(&["sim", "init", &topo, "--estate", &s.path("se"), "--fault", "se01.fabrikam.local:check-role:fail"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let id = s.stopped(&[&topo, "--transport", "sim", "--estate", &s.path("se")]);
    let (good, bad) = ("Fqdn=\"se01.fabrikam.local\" FaultDomain", "Fqdn=\"se_01!.fabrikam.local\" FaultDomain");
    assert!(original.contains(good));
    let edited = original.replacen(good, bad, 1);
    s.edit("params", |p| {
        assert_eq!(p["inputs"]["topology"]["format"], "xml", "{p}");
        p["inputs"]["topology"]["text"] = Value::from(edited.clone());
    });
    // The operator's file, unchanged, is not the stored text.
    assert_refused(
        &s.resume(&id, &[&topo]),
        &format!(
            "run {id} is not resumed: the topology given, \"{topo}\", is not the one it was planned from \
             (\"{topo}\"); nothing was contacted."
        ),
    );
    // The file edited the same way is read by the reader `sfbpatch plan` reads with: its error.
    std::fs::write(&topo, &edited).unwrap_or_else(|e| panic!("{e}"));
    let plan = run(&["plan", &topo, "--package", PKG]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(plan.stderr.contains("se_01!.fabrikam.local"), "{}", plan.stderr);
    let r = s.resume(&id, &[&topo]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr, plan.stderr, "the same reader, the same validation");
    assert_eq!(s.new_attempts(), 0);
}

#[test]
fn a_shell_is_started_only_when_given_again_equal() {
    let s = Setup::new();
    let package = s.path(PKG);
    std::fs::write(&package, b"update").unwrap_or_else(|e| panic!("{e}"));
    let bin = assert_cmd::cargo::cargo_bin("sfbpatch").display().to_string();
    let shell = format!("{bin} sim shell --estate {} --host {{host}}", s.estate);
    let args = ["--transport", "local", "--shell", &shell, "--package", &package];
    let id = s.stopped(&args);
    let refusal = |given: &str| {
        format!(
            "run {id} is not resumed: it was started with --shell \"{shell}\", and this resume gives {given}. sfbpatch \
             does not start a program or send a command it finds only in the journal"
        )
    };
    assert_refused(&s.resume(&id, &["--package", &package]), &refusal("nothing"));
    // The stored shell edited: the operator's own is no longer equal.
    let evil = format!("/bin/sh -c evil {{host}} {}", s.estate);
    s.edit("params", |p| p["shell"] = Value::from(evil.split(' ').collect::<Vec<_>>()));
    let r = s.resume(&id, &["--package", &package, "--shell", &shell]);
    assert_refused(
        &r,
        &format!("run {id} is not resumed: it was started with --shell \"{evil}\", and this resume gives \"{shell}\""),
    );
    assert_eq!(s.new_attempts(), 0);
    // Put back: the same shell and package given again resume and complete.
    s.edit("params", |p| p["shell"] = Value::from(shell.split_whitespace().collect::<Vec<_>>()));
    assert_refused(&s.resume(&id, &["--shell", &shell]), "it was started with --package \"");
    completed(&s.resume(&id, &["--package", &package, "--shell", &shell]));
}

#[test]
fn hooks_are_sent_only_when_given_again_equal() {
    let s = Setup::new();
    let hook = "Write-Output 'stopping the recorder'";
    let config = s.path("hooks.toml");
    std::fs::write(&config, "[hooks.servers.\"se01.contoso.local\"]\npost = \"Write-Output 'se01 done'\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let id = s.stopped(&["--pre-hook", hook, "--config", &config]);
    let stored = |flag: &str, value: &str| format!("it was started with {flag} {value}, and this resume gives");
    assert_refused(&s.resume(&id, &["--config", &config]), &stored("--pre-hook", &format!("\"{hook}\"")));
    // Plain text, not a Rust structure.
    let config_stored = "it was started with --config post hook of se01.contoso.local: \"Write-Output 'se01 done'\", \
                         and this resume gives nothing.";
    assert_refused(&s.resume(&id, &["--pre-hook", hook]), config_stored);
    let other = "Write-Output 'something else'";
    assert_refused(&s.resume(&id, &["--pre-hook", other, "--config", &config]), &format!("gives \"{other}\""));
    // The stored hook edited: the operator's is no longer equal.
    s.edit("params", |p| p["pre_hook"] = Value::from("Stop-Computer -Force"));
    let r = s.resume(&id, &["--pre-hook", hook, "--config", &config]);
    assert_refused(&r, &stored("--pre-hook", "\"Stop-Computer -Force\""));
    assert_eq!(s.new_attempts(), 0);
    s.edit("params", |p| p["pre_hook"] = Value::from(hook));
    completed(&s.resume(&id, &["--pre-hook", hook, "--config", &config]));
}

#[test]
fn a_run_stored_without_inputs_is_refused_with_what_why_and_the_fix() {
    let s = Setup::new();
    let id = s.stopped(&[]);
    s.edit("params", |p| {
        p.as_object_mut().map(|o| o.remove("inputs"));
    });
    let before = s.show();
    assert_refused(
        &s.resume(&id, &[]),
        &format!(
            "run {id} is not resumed: an earlier release of sfbpatch started it and stored its plan's commands but \
             not what the plan was made from, and sfbpatch does not execute commands from stored text. Its status, \
             history and report still work; to finish the update, start a new run with `sfbpatch run …`."
        ),
    );
    assert_eq!(s.show(), before);
    let st = run(&["status", &id, "--journal", &s.journal]);
    assert_eq!(st.code, 0, "{}", st.stderr);
}

/// The `inputs` a journal of the release before `PlanRequest` was stored whole holds, copied
/// as that release wrote it (`run --max-parallel 2 --failover-wait 30 --draining-timeout 10
/// --outage-budget 25 --lang es --product sfb2019` on the bundled example); `{stage_dir}` is
/// the run's own staging folder (it is named after the run's id).
const STORED_INPUTS: &str = r#"{"topology":{"format":"bundled-example"},"package":"SkypeServerUpdateInstaller.exe","product":"sfb2019","installer_switches":null,"servers":[],"skip":[],"stage_dir":"{stage_dir}","outage_budget_minutes":25.0,"lang":"es","failover_wait_minutes":30,"draining_timeout_minutes":10,"max_parallel":2,"scope":"backends","pools":[],"sites":[]}"#;

#[test]
fn inputs_in_the_format_earlier_releases_stored_are_written_the_same_and_resume() {
    let s = Setup::new();
    let flags = ["--max-parallel", "2", "--failover-wait", "30", "--draining-timeout", "10", "--outage-budget", "25"];
    let id = s.stopped(&[&flags[..], &["--lang", "es", "--product", "sfb2019"]].concat());
    let mut written = Value::Null;
    s.edit("params", |p| written = p["inputs"].clone());
    let stage = written["stage_dir"].as_str().unwrap_or_else(|| panic!("no stage_dir: {written}"));
    assert!(stage.starts_with(&format!("C:\\ProgramData\\sfbpatch\\stage\\{id}")), "{stage}");
    let literal = STORED_INPUTS.replace("{stage_dir}", &stage.replace('\\', "\\\\"));
    let stored: Value = serde_json::from_str(&literal).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, stored, "this build writes the inputs as earlier releases did");
    s.edit("params", |p| p["inputs"] = stored.clone());
    completed(&s.resume(&id, &[]));
    assert!(s.new_attempts() > 0);
}

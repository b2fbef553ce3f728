//! `sfbpatch rehearse` through the built binary: flags, JSON contract, exit codes.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env_remove("SFBPATCH_LANG").env("LANG", "C.UTF-8").env_remove("LC_ALL").env_remove("LC_MESSAGES");
    c
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = sfbpatch().args(args).output().unwrap_or_else(|e| panic!("{e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = run(args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, v)
}

#[test]
fn default_rehearsal_updates_every_server_and_reports_pools() {
    let (code, out, err) = run(&["rehearse"]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "fe01.contoso.local  [Front End]  pool01.contoso.local: updated, 7.0.2046.385 → 7.0.2046.530, services running",
        "Runbook front-end: ",
        "sql01.contoso.local  [Enterprise back end]  pool01.contoso.local: updated\n",
        "Runbook backend-databases: sql01.contoso.local is a SQL Server machine",
        "Starts after: fe01.contoso.local, fe02.contoso.local, fe03.contoso.local, fe11.contoso.local, fe12.contoso.local, se01.contoso.local.",
        "update-databases     ok  → runs on fe01.contoso.local",
        "sql02.contoso.local",
        "se01.contoso.local  [Standard Edition]  se01.contoso.local: updated, 7.0.2046.385 → 7.0.2046.530",
        "Users by pool:",
        "resiliency mode",
        "signed out",
        "Summary: 8 of 8 server(s) updated, 0 failed, 0 not started.",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    assert!(!out.contains('⟦') && !out.contains("!!!"), "{out}");
}

#[test]
fn json_contract() {
    let (code, v) = json(&["rehearse", "--seed", "7", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "sfbpatch.rehearsal/1");
    assert_eq!(v["seed"], 7);
    // The run's own notices ({at_minutes, message}: tests/window.rs): none without a window.
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert!(v["makespan_minutes"].as_f64().is_some_and(|m| m > 10.0));
    let servers = v["servers"].as_array().unwrap_or_else(|| panic!("servers"));
    // Five Front Ends, the Standard Edition server, the two back ends' databases.
    assert_eq!(servers.len(), 8);
    for s in servers {
        for field in [
            "fqdn",
            "role",
            "result",
            "failed_step",
            "error",
            "build_before",
            "build_after",
            "services_running",
            "outage_minutes",
            "over_budget",
        ] {
            assert!(s.get(field).is_some(), "missing {field} in {s}");
        }
        assert_eq!(s["result"], "updated");
        // Every outage of this seed stays within the 30-minute budget.
        assert_eq!(s["over_budget"], false, "{s}");
        assert!(s["failed_step"].is_null() && s["error"].is_null());
        assert_eq!(s["services_running"], true);
        let fqdn = s["fqdn"].as_str().unwrap_or("");
        if fqdn.starts_with("sql") {
            // The databases' update is the back end's outage (DOMAIN.md §4).
            assert!(s["outage_minutes"].as_f64().is_some_and(|m| m > 0.0), "{s}");
        } else {
            assert_eq!(s["build_before"], "7.0.2046.385", "{fqdn}");
            assert_eq!(s["build_after"], "7.0.2046.530", "{fqdn}");
        }
    }
    let se = servers.iter().find(|s| s["fqdn"] == "se01.contoso.local").unwrap_or_else(|| panic!("se01"));
    assert!(se["outage_minutes"].as_f64().is_some_and(|m| m > 0.0));
    let pools = v["pools"].as_array().unwrap_or_else(|| panic!("pools"));
    let names: Vec<&str> = pools.iter().filter_map(|p| p["fqdn"].as_str()).collect();
    assert_eq!(names, ["pool01.contoso.local", "pool02.contoso.local", "se01.contoso.local"]);
    for p in pools {
        assert!(p["resiliency_minutes"].is_f64() && p["signed_out_minutes"].is_f64(), "{p}");
    }
}

#[test]
fn the_same_seed_prints_the_same_bytes() {
    let a = run(&["rehearse", "--seed", "99", "--format", "json"]).1;
    let b = run(&["rehearse", "--seed", "99", "--format", "json"]).1;
    assert_eq!(a, b);
    let c = run(&["rehearse", "--seed", "100", "--format", "json"]).1;
    assert_ne!(a, c);
    assert_eq!(run(&["rehearse", "--seed", "99"]).1, run(&["rehearse", "--seed", "99"]).1);
}

/// Issue 10: skipping the database step makes the run fail at the `Test-CsDatabase` check,
/// with the command that finishes the databases and the Front End it runs on, not at service
/// start.
#[test]
fn a_skipped_database_update_fails_at_the_check_with_the_command_that_finishes_it() {
    let (code, v) = json(&["rehearse", "--skip-step", "update-databases", "--format", "json"]);
    assert_eq!(code, 1);
    let sql02 = v["servers"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["fqdn"] == "sql02.contoso.local").cloned())
        .unwrap_or_default();
    assert_eq!(sql02["result"], "failed", "{sql02}");
    assert_eq!(sql02["failed_step"], "check-databases");
    let error = sql02["error"].as_str().unwrap_or("");
    assert!(
        error.contains("fe11.contoso.local")
            && error.contains("Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.contoso.local'"),
        "the host and the command that finish it: {error}"
    );
    assert_eq!(sql02["services_running"], true, "nothing was stopped");
    let (code, out, _) = run(&["rehearse", "--skip-step", "update-databases"]);
    assert_eq!(code, 1);
    assert!(out.contains("failed at check-databases"), "{out}");
    assert!(!out.contains("SERVICES ARE NOT RUNNING"), "{out}");
}

#[test]
fn faults_and_versions_through_the_binary() {
    let (code, v) = json(&[
        "rehearse",
        "--fault",
        // A back end's outage is its databases' update (from fe01): 3x the usual passes 30
        // minutes. The step's own timeout is 30 minutes, no longer than the threshold, so it is
        // doubled: one long update, not two short ones cut by the timeout.
        "sql01.contoso.local:update-databases:slow=3",
        "--timeout-scale",
        "2",
        "--seed",
        "3",
        "--format",
        "json",
    ]);
    // Every server is updated, but sql01's outage went past the budget: a finding, exit 1.
    assert_eq!(code, 1);
    let sql01 = v["servers"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["fqdn"] == "sql01.contoso.local").cloned())
        .unwrap_or_default();
    assert_eq!((&sql01["result"], &sql01["over_budget"]), (&"updated".into(), &true.into()), "{sql01}");
    let pool01 = v["pools"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["fqdn"] == "pool01.contoso.local").cloned())
        .unwrap_or_default();
    assert!(pool01["resiliency_minutes"].as_f64().is_some_and(|m| m > 0.0), "{pool01}");
    assert_eq!(v["faults"][0], "sql01.contoso.local:update-databases:slow=3");

    // A hang on a step safe to repeat: the timeout catches it, the retry completes.
    let (code, _) = json(&["rehearse", "--fault", "se01.contoso.local:verify:hang", "--format", "json"]);
    assert_eq!(code, 0);
    // A hang of the install (not safe to repeat): failed, service brought back.
    let (code, v) = json(&["rehearse", "--fault", "se01.contoso.local:install-update:hang", "--format", "json"]);
    assert_eq!(code, 1);
    let se = v["servers"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["fqdn"] == "se01.contoso.local").cloned())
        .unwrap_or_default();
    assert_eq!(se["failed_step"], "install-update");
    assert!(se["error"].as_str().is_some_and(|e| e.contains("timeout")), "{se}");
    assert_eq!(se["services_running"], true);

    let (code, v) = json(&["rehearse", "--version", "7.0.2046.600", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["servers"][0]["build_after"], "7.0.2046.600");
    let (code, _, err) = run(&["rehearse", "--version", "7.0.2046.100"]);
    assert_eq!(code, 1);
    assert!(err.contains("not newer"), "{err}");
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("sfbpatch "));
}

#[test]
fn bad_flags_are_usage_errors_and_bad_references_are_input_errors() {
    for args in [
        &["rehearse", "--fault", "sql01.contoso.local:install-update"][..],
        &["rehearse", "--fault", "sql01.contoso.local:install-update:explode"],
        &["rehearse", "--fault", "sql01.contoso.local:verify:reboot"],
        &["rehearse", "--skip-step", "step-9"],
        &["rehearse", "--seed", "-1"],
        &["rehearse", "--version", "7.0"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    let (code, out, err) = run(&["rehearse", "--fault", "nosuch.contoso.local:verify:fail"]);
    assert_eq!(code, 1);
    assert!(out.is_empty() && err.contains("nosuch.contoso.local"), "{err}");
    let (code, _, err) = run(&["rehearse", "--server", "edge01.contoso.local"]);
    assert_eq!(code, 1);
    assert!(err.contains("edge01.contoso.local"));
}

#[test]
fn rehearse_a_fixture_in_spanish() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/topology/enterprise-collocated.xml");
    let (code, out, err) = run(&["rehearse", &file.display().to_string(), "--lang", "es"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Resumen: 3 de 3 servidor(es) actualizados"), "{out}");
    assert!(
        out.contains("Procedimiento backend-databases: ") && out.contains("se ejecuta en fe11.fabrikam.local"),
        "{out}"
    );
    assert!(out.contains("Usuarios por grupo"), "{out}");
}

#[test]
fn hooks_through_the_binary() {
    let (code, v) = json(&["rehearse", "--pre-hook", "Write-Output 'stopping the recorder'", "--format", "json"]);
    assert_eq!(code, 0);
    assert!(v["servers"][0]["timeline"][0]["step"] == "pre-hook", "{}", v["servers"][0]["timeline"][0]);
    let (code, v) = json(&[
        "rehearse",
        "--pre-hook",
        "Stop-ThirdPartyRecorder",
        "--server",
        "se01.contoso.local",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["servers"][0]["result"], "not-started");
    assert_eq!(v["servers"][0]["outage_minutes"], 0.0);
    let (code, _, err) = run(&["rehearse", "--pre-hook", "Write-Output 'unterminated"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn run_status_history_and_sim_through_the_binary() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let e = dir.path().join("estate").display().to_string();
    let j = dir.path().join("journal.db").display().to_string();
    let (code, out, _) = run(&["sim", "init", "--estate", &e]);
    assert_eq!(code, 0);
    // The example's machines: 9, and the 6 of the roles --scope all adds (issue 12).
    assert!(out.contains("15 server(s)"), "{out}");
    let (code, _, err) = run(&["sim", "init", "--estate", &e]);
    assert_eq!(code, 1, "an existing estate is not overwritten: {err}");
    let (code, _, err) = run(&["run", "--transport", "sim", "--estate", &e, "--package", "p.exe", "--journal", &j]);
    assert_eq!(code, 1, "no terminal and no --yes: refused");
    assert!(err.contains("--yes"), "{err}");
    let (code, v) = json(&[
        "run",
        "--transport",
        "sim",
        "--estate",
        &e,
        "--package",
        "SkypeServerUpdateInstaller.exe",
        "--journal",
        &j,
        "--yes",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["schema"], "sfbpatch.run/1");
    assert_eq!(v["state"], "completed");
    let id = v["run_id"].as_str().unwrap_or("").to_owned();
    let (code, s) = json(&["status", &id, "--journal", &j, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(s["run_id"], id.as_str());
    assert_eq!(s["state"], "completed");
    let (_, plan) = json(&["plan", "--package", "SkypeServerUpdateInstaller.exe", "--format", "json"]);
    for x in s["servers"].as_array().into_iter().flatten() {
        assert_eq!(x["state"], "updated");
        assert!(x["current_step"].is_null());
        // Every step of the server's own runbook.
        let steps = plan["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["fqdn"] == x["fqdn"]))
            .and_then(|p| p["steps"].as_array().map(Vec::len));
        assert_eq!(x["completed_steps"].as_array().map(Vec::len), steps, "{x}");
    }
    let journal = sfbpatch_journal::Journal::open(std::path::Path::new(&j)).unwrap_or_else(|e| panic!("{e}"));
    let log = journal.attempt_output(&id, "fe01.contoso.local", "install-logs").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        log.is_some_and(|l| l.contains("Starting update to 7.0.2046.530")),
        "the installer's log is in the journal"
    );
    assert!(
        v["servers"][0]["build_before"] == "7.0.2046.385" && v["servers"][0]["build_after"] == "7.0.2046.530",
        "{v}"
    );
    let (code, h) = json(&["history", "--journal", &j, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(h[0]["run_id"], id.as_str());
    let (code, show) = json(&["sim", "show", "--estate", &e, "--format", "json"]);
    assert_eq!(code, 0);
    let sql01 = show["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["fqdn"] == "sql01.contoso.local").cloned())
        .unwrap_or_default();
    // Nothing is sent to the SQL Server machine (no Skype for Business there): its databases
    // are updated from fe01, whose log has the commands.
    assert_eq!(sql01["oplog"].as_array().map(Vec::len), Some(0), "{}", sql01["oplog"]);
    let fe01 = show["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["fqdn"] == "fe01.contoso.local").cloned())
        .unwrap_or_default();
    assert!(fe01["oplog"].as_array().is_some_and(|o| o.len() > 10));
    assert!(
        sql01["databases"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["store"] == "UserStore" && d["schema"] == "7.0.2046.530"))
    );
    let (code, _, err) = run(&["resume", &id, "--journal", &j]);
    assert_eq!(code, 1);
    assert!(err.contains("already completed"), "{err}");
    let (code, _, err) = run(&["status", "run-nope", "--journal", &j]);
    assert_eq!(code, 1);
    assert!(err.contains("no run run-nope"), "{err}");
}

#[test]
fn hooks_from_a_config_file_per_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("sfbpatch.toml");
    std::fs::write(
        &cfg,
        "[hooks]\npre = \"Write-Output 'everyone'\"\n\n[hooks.servers.\"se01.contoso.local\"]\npre = \"Stop-Recorder\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let c = cfg.display().to_string();
    let (code, v) = json(&["rehearse", "--config", &c, "--format", "json"]);
    assert_eq!(code, 1);
    let result = |f: &str| {
        v["servers"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["fqdn"] == f).map(|s| s["result"].clone()))
            .unwrap_or_default()
    };
    assert_eq!(result("sql02.contoso.local"), "updated");
    assert_eq!(result("se01.contoso.local"), "not-started", "its own pre-hook failed");
    // sql01 also holds Archiving and Monitoring, which se01 uses too: it waits for se01.
    assert_eq!(result("sql01.contoso.local"), "not-started", "it waits for se01");
    std::fs::write(&cfg, "[hooks]\npre = \"Write-Output 'x\"\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run(&["rehearse", "--config", &c]);
    assert_eq!(code, 1);
    assert!(err.contains("pre hook"), "{err}");
    std::fs::write(&cfg, "[hooks]\nprehook = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run(&["rehearse", "--config", &c]);
    assert_eq!(code, 1);
    assert!(err.contains("sfbpatch.toml:2"), "{err}");
}

#[test]
fn iis_stopped_first_opens_the_outage_and_is_brought_back() {
    // stop-services left out: stop-w3svc is the first step that stops a user-facing service, so
    // the outage opens there, and when the install then fails (services still running: 1603),
    // IIS is started again by the recovery and read back.
    let (code, v) =
        json(&["rehearse", "--server", "se01.contoso.local", "--skip-step", "stop-services", "--format", "json"]);
    assert_eq!(code, 1);
    let se = &v["servers"][0];
    assert_eq!(se["result"], "failed");
    assert_eq!(se["failed_step"], "install-update");
    assert_eq!(se["services_running"], true, "{se}");
    let timeline = se["timeline"].as_array().cloned().unwrap_or_default();
    let w3svc = timeline.iter().find(|t| t["step"] == "stop-w3svc").cloned().unwrap_or_default();
    assert_eq!(w3svc["in_outage"], true);
    assert!(
        timeline.iter().any(|t| t["step"] == "recovery" && t["status"] == "succeeded"),
        "recovery ran: {timeline:?}"
    );
    // IIS's downtime is users' outage (its Web Services are down): counted from the stop of
    // W3SVC to the recovery that started it again (at least from the end of the stop to the
    // start of the recovery, at most from the start of the stop to the end of the recovery),
    // not "0 min".
    let recovery = timeline.iter().find(|t| t["step"] == "recovery").cloned().unwrap_or_default();
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let least = f(&recovery["start_minutes"]) - f(&w3svc["start_minutes"]) - f(&w3svc["duration_minutes"]);
    let most = f(&recovery["start_minutes"]) + f(&recovery["duration_minutes"]) - f(&w3svc["start_minutes"]);
    let outage = f(&se["outage_minutes"]);
    assert!(least > 1.0 && outage >= least - 0.01 && outage <= most + 0.01, "outage {outage} min: {se}");
}

//! The local transport end to end: every command a new shell process reading its script on
//! stdin, here the simulator's shell over the persisted example estate.

use assert_cmd::Command;
use serde_json::Value;

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

#[test]
fn the_example_estate_is_patched_through_the_local_transport() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate").display().to_string();
    let journal = dir.path().join("j.db").display().to_string();
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update bytes").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sfbpatch().args(["sim", "init", "--estate", &estate]).output().map(|o| o.status.success()).unwrap_or(false)
    );
    let shell =
        format!("{} sim shell --estate {estate} --host {{host}}", assert_cmd::cargo::cargo_bin("sfbpatch").display());
    let o = sfbpatch()
        .args([
            "run",
            "--transport",
            "local",
            "--shell",
            &shell,
            "--package",
            &package.display().to_string(),
            "--journal",
            &journal,
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["state"], "completed");
    // Five Front Ends, the Standard Edition server, the two back ends' databases.
    assert_eq!(v["servers"].as_array().map(Vec::len), Some(8));
    // The estate itself says so: every server that carries Skype for Business at the new
    // build, services running, and the staged package is the real file's bytes; nothing is
    // staged on a SQL Server machine.
    let show = sfbpatch()
        .args(["sim", "show", "--estate", &estate, "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let e: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|e| panic!("{e}"));
    use sha2::Digest as _;
    let sha: String = sha2::Sha256::digest(b"cumulative update bytes").iter().map(|b| format!("{b:02x}")).collect();
    for h in e["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["role"] == "front-end" || h["role"] == "standard-edition")
    {
        let builds: Vec<&str> =
            h["components"].as_array().into_iter().flatten().filter_map(|c| c[1].as_str()).collect();
        assert!(builds.iter().all(|b| *b == "7.0.2046.530"), "{}: {builds:?}", h["fqdn"]);
        assert!(h["services"].as_array().into_iter().flatten().all(|s| s["running"] == true), "{}", h["fqdn"]);
        let staged = h["files"]
            .as_object()
            .and_then(|f| f.values().find(|f| f["installs"].is_string()).cloned())
            .unwrap_or_default();
        assert_eq!(staged["sha256"], sha.as_str(), "{}", h["fqdn"]);
    }
    for h in e["hosts"].as_array().into_iter().flatten().filter(|h| h["role"] == "enterprise-backend") {
        let staged = h["files"].as_object().is_some_and(|f| f.values().any(|f| f["installs"].is_string()));
        assert!(!staged, "{}: no installer on a SQL Server machine", h["fqdn"]);
    }
    // A package that is not there is refused before anything runs.
    let missing = sfbpatch()
        .args([
            "run",
            "--transport",
            "local",
            "--shell",
            &shell,
            "--package",
            "/nonexistent/x.exe",
            "--journal",
            &journal,
            "--yes",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn a_server_without_room_for_the_package_is_refused_before_the_outage() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate");
    let e = estate.display().to_string();
    let journal = dir.path().join("j.db").display().to_string();
    let package = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update bytes").unwrap_or_else(|x| panic!("{x}"));
    assert!(sfbpatch().args(["sim", "init", "--estate", &e]).output().map(|o| o.status.success()).unwrap_or(false));
    // se01's C: is all but full.
    let file = estate.join("estate.json");
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap_or_default()).unwrap_or_else(|x| panic!("{x}"));
    for h in v["hosts"].as_array_mut().into_iter().flatten() {
        if h["fqdn"] == "se01.contoso.local" {
            h["free_bytes"] = serde_json::json!(200 * 1024 * 1024);
        }
    }
    std::fs::write(&file, serde_json::to_vec(&v).unwrap_or_default()).unwrap_or_else(|x| panic!("{x}"));
    let shell =
        format!("{} sim shell --estate {e} --host {{host}}", assert_cmd::cargo::cargo_bin("sfbpatch").display());
    let o = sfbpatch()
        .args(["run", "--transport", "local", "--shell", &shell, "--package", &package.display().to_string()])
        .args(["--journal", &journal, "--yes", "--server", "se01.contoso.local", "--format", "json"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let error = r["servers"][0]["error"].as_str().unwrap_or("").to_owned();
    assert!(error.contains("stage-package") && error.contains("not enough free space on C"), "{error}");
    let show =
        sfbpatch().args(["sim", "show", "--estate", &e, "--format", "json"]).output().unwrap_or_else(|x| panic!("{x}"));
    let s: Value = serde_json::from_slice(&show.stdout).unwrap_or(Value::Null);
    let se = s["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["fqdn"] == "se01.contoso.local").cloned())
        .unwrap_or_default();
    assert!(se["services"].as_array().into_iter().flatten().all(|x| x["running"] == true), "no outage was opened");
}

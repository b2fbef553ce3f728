//! `--transport psremoting` end to end through the built binary, with `sfbpatch sim remoting`
//! standing in for the local Windows PowerShell: a New-PSSession per session, every step
//! with Invoke-Command -Session, staging with Copy-Item -ToSession, over the persisted example
//! estate (issue 11, item 7).

mod common;

use std::path::{Path, PathBuf};

use common::{assert_refused, run};
use serde_json::Value;

const TARGET: &str = "7.0.2046.530";
const SFB_HOSTS: [&str; 6] = [
    "fe01.contoso.local",
    "fe02.contoso.local",
    "fe03.contoso.local",
    "fe11.contoso.local",
    "fe12.contoso.local",
    "se01.contoso.local",
];
const PACKAGE_BYTES: &[u8] = b"cumulative update, copied with Copy-Item -ToSession";

struct Lab {
    dir: tempfile::TempDir,
    estate: String,
}

impl Lab {
    /// A lab with a persisted example estate (faults given to `sim init`), a package, a
    /// credential file, and a stand-in shell that logs the server each process serves.
    fn new(faults: &[&str]) -> Lab {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // Tempdir paths have no spaces: the stand-in shell's command line is split on them.
        let estate = dir.path().join("estate").display().to_string();
        let lab = Lab { dir, estate };
        let mut init = vec!["sim", "init", "--estate", lab.estate()];
        for f in faults {
            init.extend(["--fault", f]);
        }
        let o = run(&init);
        assert_eq!(o.code, 0, "{}", o.stderr);
        std::fs::write(lab.path("SkypeServerUpdateInstaller.exe"), PACKAGE_BYTES).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(lab.path("cred.xml"), b"<Objs/>").unwrap_or_else(|e| panic!("{e}"));
        let bin = assert_cmd::cargo::cargo_bin("sfbpatch");
        let script = format!(
            "#!/bin/sh\necho \"$1\" >> {}\nexec {} sim remoting --estate {}\n",
            lab.path("processes.log").display(),
            bin.display(),
            lab.estate()
        );
        std::fs::write(lab.path("powershell.sh"), script).unwrap_or_else(|e| panic!("{e}"));
        lab
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn estate(&self) -> &str {
        &self.estate
    }

    fn shell(&self) -> String {
        format!("sh {} {{host}}", self.path("powershell.sh").display())
    }

    /// `sfbpatch run --transport psremoting` with `extra`; exit code and the JSON report.
    fn run(&self, extra: &[&str]) -> (i32, Value, String) {
        let (package, journal, shell) =
            (self.path("SkypeServerUpdateInstaller.exe"), self.path("journal.db"), self.shell());
        let (package, journal) = (package.display().to_string(), journal.display().to_string());
        let mut args = vec!["run", "--transport", "psremoting", "--shell", &shell, "--package", &package];
        args.extend(["--journal", &journal, "--yes", "--format", "json"]);
        args.extend_from_slice(extra);
        let o = run(&args);
        (o.code, serde_json::from_str(&o.stdout).unwrap_or(Value::Null), o.stderr)
    }

    fn show(&self) -> Value {
        common::json(&["sim", "show", "--estate", self.estate(), "--format", "json"])
    }

    /// The servers the local processes were started for, one line per process.
    fn processes(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.path("processes.log")).unwrap_or_default();
        let mut p: Vec<String> = log.lines().map(str::to_owned).collect();
        p.sort();
        p
    }
}

fn host<'a>(estate: &'a Value, fqdn: &str) -> &'a Value {
    estate["hosts"].as_array().and_then(|h| h.iter().find(|h| h["fqdn"] == fqdn)).unwrap_or(&Value::Null)
}

fn builds(h: &Value) -> Vec<String> {
    h["components"].as_array().into_iter().flatten().filter_map(|c| c[1].as_str().map(str::to_owned)).collect()
}

/// The install commands a host's operation log holds: their exit codes.
fn installs(h: &Value) -> Vec<i64> {
    h["oplog"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["step"] == "install-update" && o["status"] == "completed")
        .filter_map(|o| o["exit_code"].as_i64())
        .collect()
}

fn result_of<'a>(v: &'a Value, fqdn: &str) -> &'a Value {
    v["servers"].as_array().and_then(|s| s.iter().find(|s| s["fqdn"] == fqdn)).unwrap_or(&Value::Null)
}

#[test]
fn with_kerberos_every_server_is_updated_and_the_back_ends_databases_are_refused_for_the_double_hop() {
    let lab = Lab::new(&[]);
    let (code, v, err) = lab.run(&[]);
    assert_eq!(code, 1, "{err}\n{v}");
    assert_eq!(v["state"], "failed", "{v}");
    for fqdn in SFB_HOSTS {
        assert_eq!(result_of(&v, fqdn)["result"], "updated", "{fqdn}: {v}");
    }
    // sql01's databases are updated from fe01, sql02's from fe11, against another machine's
    // SQL Server: a Kerberos session has no credentials to pass on (DOMAIN.md §5).
    for (sql, from) in [("sql01.contoso.local", "fe01.contoso.local"), ("sql02.contoso.local", "fe11.contoso.local")] {
        let s = result_of(&v, sql);
        assert_eq!(s["result"], "not-started", "{s}");
        let error = s["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("double hop")
                && error.contains("authenticated by Kerberos")
                && !error.contains("SSH")
                && error.contains("--psremoting-authentication credssp")
                && error.contains(&format!("sfbpatch script --server {sql}"))
                && error.contains(from),
            "{error}"
        );
    }
    let e = lab.show();
    for fqdn in SFB_HOSTS {
        assert!(builds(host(&e, fqdn)).iter().all(|b| b == TARGET), "{fqdn}: {:?}", builds(host(&e, fqdn)));
    }
    let behind =
        host(&e, "sql02.contoso.local")["databases"].as_array().into_iter().flatten().any(|d| d["schema"] != TARGET);
    assert!(behind, "nothing was run against sql02");
}

#[test]
fn with_credssp_the_whole_estate_is_updated_one_local_process_per_server() {
    let lab = Lab::new(&[]);
    let cred = lab.path("cred.xml").display().to_string();
    let (code, v, err) = lab.run(&["--psremoting-authentication", "credssp", "--psremoting-credential", &cred]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(v["state"], "completed", "{v}");
    assert_eq!(v["servers"].as_array().map(Vec::len), Some(8), "{v}");
    let e = lab.show();
    use sha2::Digest as _;
    let sha: String = sha2::Sha256::digest(PACKAGE_BYTES).iter().map(|b| format!("{b:02x}")).collect();
    for fqdn in SFB_HOSTS {
        let h = host(&e, fqdn);
        assert!(builds(h).iter().all(|b| b == TARGET), "{fqdn}: {:?}", builds(h));
        // Installed once, from a session opened after the sessions that loaded the module
        // were removed: no 3010 from assemblies in use (DOMAIN.md §4 rule 2).
        assert_eq!(installs(h), [0], "{fqdn}");
        // The package is the local file's bytes, copied with Copy-Item -ToSession.
        let staged = h["files"].as_object().and_then(|f| f.values().find(|f| f["installs"].is_string()).cloned());
        assert_eq!(staged.unwrap_or_default()["sha256"], sha.as_str(), "{fqdn}");
    }
    for sql in ["sql01.contoso.local", "sql02.contoso.local"] {
        let dbs: Vec<&Value> = host(&e, sql)["databases"].as_array().into_iter().flatten().collect();
        assert!(!dbs.is_empty() && dbs.iter().all(|d| d["schema"] == TARGET), "{sql}: {dbs:?}");
    }
    // One local PowerShell per server that ran commands (the back ends' database steps ran in
    // their Front Ends' processes), not one per command, not one for the whole run.
    assert_eq!(lab.processes(), SFB_HOSTS, "{err}");
}

/// Installer 3010 reaches sfbpatch through Invoke-Command on the command's result line: a
/// restart pending, never a failure.
#[test]
fn installer_3010_arrives_as_a_restart_pending() {
    let lab = Lab::new(&["se01.contoso.local:install-update:reboot"]);
    let (code, v, err) = lab.run(&["--server", "se01.contoso.local"]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let run_id = v["run_id"].as_str().unwrap_or_default();
    let journal = lab.path("journal.db").display().to_string();
    let r = common::json(&["report", run_id, "--journal", &journal, "--format", "json"]);
    let steps: Vec<&Value> = r["servers"][0]["steps"].as_array().into_iter().flatten().collect();
    let install: Vec<&&Value> = steps.iter().filter(|s| s["step"] == "install-update").collect();
    assert_eq!(install.len(), 1, "installed once: {r}");
    assert_eq!(install[0]["exit_code"], 3010, "{}", install[0]);
    assert_eq!(install[0]["outcome"], "succeeded-reboot-pending", "{}", install[0]);
    assert!(steps.iter().all(|s| s["step"] != "recovery"), "no recovery: {r}");
    assert_eq!(steps.iter().filter(|s| s["step"] == "reboot").count(), 1, "restarted once: {r}");
    // After the restart the server's process held sessions that died with it: the later steps
    // ran in new sessions of the same local process.
    assert_eq!(lab.processes(), ["se01.contoso.local"]);
    assert!(builds(host(&lab.show(), "se01.contoso.local")).iter().all(|b| b == TARGET));
}

#[test]
fn the_remoting_flags_are_checked_before_anything_runs() {
    let lab = Lab::new(&[]);
    let (package, journal) = (lab.path("SkypeServerUpdateInstaller.exe"), lab.path("journal.db"));
    let (package, journal) = (package.display().to_string(), journal.display().to_string());
    let cred = lab.path("cred.xml").display().to_string();
    let shell = lab.shell();
    let base = |transport: &'static str| {
        vec!["run", "--transport", transport, "--package", &package, "--journal", &journal, "--yes"]
    };
    let refused = |extra: &[&str], transport: &'static str, needle: &str| {
        let mut args = base(transport);
        args.extend_from_slice(extra);
        assert_refused(&run(&args), needle);
    };
    refused(
        &["--psremoting-authentication", "credssp"],
        "local",
        "--psremoting-authentication only applies to --transport psremoting",
    );
    refused(
        &["--psremoting-credential", &cred],
        "sim",
        "--psremoting-credential only applies to --transport psremoting",
    );
    refused(
        &["--shell", &shell, "--psremoting-authentication", "credssp"],
        "psremoting",
        "needs --psremoting-credential FILE",
    );
    refused(
        &["--shell", &shell, "--psremoting-credential", &cred],
        "psremoting",
        "only used with --psremoting-authentication credssp",
    );
    let missing = lab.path("nope.xml").display().to_string();
    refused(
        &["--shell", &shell, "--psremoting-authentication", "credssp", "--psremoting-credential", &missing],
        "psremoting",
        "nope.xml",
    );
    let o = run(&[&base("psremoting")[..], &["--psremoting-authentication", "ntlm"]].concat());
    assert_eq!(o.code, 2, "clap refuses an unknown mechanism: {}", o.stderr);
    #[cfg(not(windows))]
    refused(&[], "psremoting", "this machine is not Windows");
    // Nothing was contacted and nothing recorded: no process started, no journal written.
    assert!(lab.processes().is_empty());
    assert!(!Path::new(&journal).exists(), "no run was recorded");
}

/// `sfbpatch sim remoting` processes still running for this estate.
#[cfg(target_os = "linux")]
fn processes_running(estate: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .filter(|c| c.contains("sim remoting") && c.contains(estate))
                .count()
        })
        .unwrap_or(0)
}

/// A step past its timeout ends its server's local process (its sessions with it); the retry
/// starts a new process and opens new sessions, and nothing is left running after the run.
#[test]
fn a_hanging_step_ends_its_servers_process_and_the_retry_starts_another() {
    let lab = Lab::new(&["se01.contoso.local:verify:hang"]);
    let (code, v, err) = lab.run(&["--server", "se01.contoso.local", "--timeout-scale", "0.01"]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    assert!(err.contains("verify: FAILED") && err.contains("verify (attempt 2)"), "{err}");
    assert_eq!(lab.processes(), ["se01.contoso.local", "se01.contoso.local"], "{err}");
    #[cfg(target_os = "linux")]
    assert_eq!(processes_running(lab.estate()), 0, "no local process outlives the run");
}

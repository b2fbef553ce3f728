//! The SSH transport against real OpenSSH sshd processes on loopback, one per simulated
//! server, each running the simulator's shell as the server's PowerShell and OpenSSH's own
//! SFTP server for staging.

#![cfg(unix)]

mod ssh_lab;

use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use ssh_lab::*;

#[test]
fn a_pool_and_a_standard_edition_server_are_patched_over_ssh_through_real_sshd() {
    let Some(lab) = lab() else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let (code, v, err) = run(&lab, &conns, &POOL02_AND_SE);
    // The Front Ends and SE are updated over SSH. sql02's databases would be updated from
    // fe11 against a remote SQL Server, which a key-based logon cannot reach (DOMAIN.md §5,
    // the double hop): refused before anything runs, with where and how to run them.
    assert_eq!(code, Some(1), "{err}\n{v}");
    assert_eq!(v["state"], "failed");
    assert_eq!(v["servers"].as_array().map(Vec::len), Some(4), "{v}");
    for s in v["servers"].as_array().into_iter().flatten() {
        let want = if s["fqdn"] == "sql02.contoso.local" { "not-started" } else { "updated" };
        assert_eq!(s["result"], want, "{s}");
    }
    let sql02 = v["servers"].as_array().into_iter().flatten().find(|s| s["fqdn"] == "sql02.contoso.local").cloned();
    let error = sql02.map(|s| s["error"].as_str().unwrap_or("").to_owned()).unwrap_or_default();
    assert!(
        error.contains("double hop")
            && error.contains("sfbpatch script --server sql02.contoso.local")
            && error.contains("fe11.contoso.local"),
        "{error}"
    );
    let show = sfbpatch(&["sim", "show", "--estate", &lab.estate, "--format", "json"]);
    let e: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|x| panic!("{x}"));
    for h in e["hosts"].as_array().into_iter().flatten().filter(|h| HOSTS.contains(&h["fqdn"].as_str().unwrap_or(""))) {
        let builds: Vec<&str> =
            h["components"].as_array().into_iter().flatten().filter_map(|c| c[1].as_str()).collect();
        assert!(builds.iter().all(|b| *b == "7.0.2046.530"), "{}: {builds:?}", h["fqdn"]);
    }
    // The package really travelled by SFTP onto each server's disk.
    let staged = std::fs::read_dir(lab.dir.path().join("disk/se01.contoso.local/C:/ProgramData/sfbpatch/stage"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(staged, 1, "one run folder staged by SFTP");
}

/// Issue 14: a remote shell kept per engine session over SSH, as over the local transport
/// (`tests/kept_shell.rs`): a Standard Edition server costs three PowerShell starts (before
/// the install, the install, after it), not one per command, and is updated; every kept
/// shell ends with the run, closing its session.
#[test]
fn a_standard_edition_server_costs_three_remote_shells_over_ssh_and_is_updated() {
    let Some(lab) = lab() else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let host = "se01.contoso.local";
    let (code, v, err) = run(&lab, &conns, &["--server", host]);
    assert_eq!(code, Some(0), "{err}\n{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    assert_eq!(lab.shell_starts(host), 3, "remote shell processes for one Standard Edition server");
    // The install ran in a shell without the module (no 3010).
    let run_id = v["run_id"].as_str().unwrap_or_default();
    let r = sfbpatch(&["report", run_id, "--journal", &lab.path("journal.db"), "--format", "json"]);
    let r: Value = serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<&Value> = r["servers"][0]["steps"].as_array().into_iter().flatten().collect();
    let install: Vec<&&Value> = steps.iter().filter(|s| s["step"] == "install-update").collect();
    assert_eq!(install.len(), 1, "{r}");
    assert_eq!(install[0]["exit_code"], 0, "{}", install[0]);
    let show = sfbpatch(&["sim", "show", "--estate", &lab.estate, "--format", "json"]);
    let e: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|x| panic!("{x}"));
    let se = e["hosts"].as_array().and_then(|h| h.iter().find(|h| h["fqdn"] == host).cloned()).unwrap_or_default();
    let sessions: Vec<&Value> = se["sessions"].as_array().into_iter().flatten().collect();
    assert_eq!(sessions.len(), 3, "one estate session per remote shell: {sessions:?}");
    assert!(sessions.iter().all(|s| s["open"] == false), "every kept shell closed its session: {sessions:?}");
}

/// Issue 14's last lever over SSH: the installer's remote shell is started ahead
/// (`SshTransport::open_spare_session`, a channel opened on the host's connection once it
/// answered), so that sshd's start of its process — about 150 ms on loopback, much more for
/// `powershell.exe` — is spent before the outage, not inside it. The simulated steps take
/// real time here (20 ms per simulated second: the steps between the host's first answer and
/// the outage take about 0.8 s, five times sshd's start), as on a real server, where the steps
/// before the outage (staging, the Management Shell) take seconds.
#[test]
fn the_installers_remote_shell_is_started_before_the_outage_opens() {
    let Some(lab) = lab_with("SFBPATCH_SIM_TIME_SCALE=0.02") else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let host = "se01.contoso.local";
    let (code, v, err) = run(&lab, &conns, &["--server", host]);
    assert_eq!(code, Some(0), "{err}\n{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let show = sfbpatch(&["sim", "show", "--estate", &lab.estate, "--format", "json"]);
    let e: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|x| panic!("{x}"));
    let se = e["hosts"].as_array().and_then(|h| h.iter().find(|h| h["fqdn"] == host).cloned()).unwrap_or_default();
    let sessions: Vec<&Value> = se["sessions"].as_array().into_iter().flatten().collect();
    // The installer's shell is the one session that never loaded the module (DOMAIN.md §4 rule 2).
    let installer: Vec<&&Value> = sessions.iter().filter(|s| s["module_generation"].is_null()).collect();
    assert_eq!(installer.len(), 1, "{sessions:?}");
    let pid = installer[0]["process"]["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {sessions:?}"));
    let started = lab.shell_started_ms(pid).unwrap_or_else(|| panic!("no start logged for pid {pid}"));
    let db = rusqlite::Connection::open_with_flags(lab.path("journal.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("{e}"));
    let opened: i64 = db
        .query_row("SELECT opened_ms FROM outages WHERE server = ?1", [host], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(started < opened, "the installer's remote shell started at {started}, the outage opened at {opened}");
    assert_eq!(lab.shell_starts(host), 3, "still three remote shells");
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_runs() {
    let Some(lab) = lab() else { return };
    let mut keys = lab.host_keys();
    // Another machine's key where se01's should be.
    keys[2] = keys[0].clone();
    let kh = lab.known_hosts("known_hosts", &keys);
    let conns = lab.connections(&kh);
    let (code, v, err) = run(&lab, &conns, &["--server", "se01.contoso.local"]);
    assert_eq!(code, Some(1), "{err}");
    let error = v["servers"][0]["error"].as_str().unwrap_or("").to_owned();
    assert!(error.contains("HAS CHANGED") && error.contains("SHA256:"), "{error}");
    assert_eq!(lab.oplog_len("se01.contoso.local"), 0, "nothing was executed");
}

#[test]
fn an_unknown_host_is_refused_unless_new_keys_are_accepted() {
    let Some(lab) = lab() else { return };
    let kh = lab.path("empty_known_hosts");
    std::fs::write(&kh, "").unwrap_or_else(|e| panic!("{e}"));
    let conns = lab.connections(&kh);
    let (code, v, err) = run(&lab, &conns, &["--server", "fe12.contoso.local"]);
    assert_eq!(code, Some(1), "{err}");
    let error = v["servers"][0]["error"].as_str().unwrap_or("").to_owned();
    assert!(error.contains("unknown host key") && error.contains("--accept-new-host-keys"), "{error}");
    assert_eq!(lab.oplog_len("fe12.contoso.local"), 0);
    let (code, v, err) = run(&lab, &conns, &["--server", "fe12.contoso.local", "--accept-new-host-keys"]);
    assert_eq!(code, Some(0), "{err}\n{v}");
    let recorded = std::fs::read_to_string(&kh).unwrap_or_default();
    assert!(recorded.contains(&format!("[127.0.0.1]:{}", lab.ports[1])), "{recorded}");
}

#[test]
fn a_truncated_copy_already_on_the_server_is_detected_and_sent_again_before_the_outage() {
    let Some(lab) = lab() else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    // A first run on se01 stages the package; then a truncated copy takes its place.
    let (code, v, err) = run(&lab, &conns, &["--server", "se01.contoso.local"]);
    assert_eq!(code, Some(0), "{err}\n{v}");
    let stage = lab.dir.path().join("disk/se01.contoso.local/C:/ProgramData/sfbpatch/stage");
    let first_run = std::fs::read_dir(&stage).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path());
    let first_run = first_run.unwrap_or_else(|| panic!("nothing staged"));
    let pkg = first_run.join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&pkg, b"cumulative upd").unwrap_or_else(|e| panic!("{e}"));
    // Stage into that same folder again through the transport, as the engine's
    // stage-package step does.
    let hosts = sfbpatch_transport::ssh::connections(
        Path::new(&conns),
        &[sfbpatch_core::Fqdn::parse("se01.contoso.local").unwrap_or_else(|e| panic!("{e:?}"))],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let package = PathBuf::from(lab.path("SkypeServerUpdateInstaller.exe"));
    let t = sfbpatch_transport::ssh::SshTransport::new(hosts, false, &package).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let remote = format!(
        "C:\\ProgramData\\sfbpatch\\stage\\{}\\SkypeServerUpdateInstaller.exe",
        first_run.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    );
    let host = sfbpatch_core::Fqdn::parse("se01.contoso.local").unwrap_or_else(|e| panic!("{e:?}"));
    use sfbpatch_engine::Transport as _;
    rt.block_on(t.stage(&host, None, &remote, Duration::from_secs(60))).unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(&pkg).unwrap_or_default();
    assert_eq!(bytes, b"cumulative update, shipped by SFTP", "the truncated copy was replaced");
}

/// `sfbpatch sim shell` processes still running for this estate.
fn shells_of(estate: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .filter(|c| c.contains("sim shell") && c.contains(estate))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_hanging_step_is_ended_by_its_timeout_and_the_remote_shell_does_not_linger() {
    let Some(lab) = lab() else { return };
    // The estate's only fault: se01's verify never answers, once.
    let show = sfbpatch(&["sim", "show", "--estate", &lab.estate, "--format", "json"]);
    assert!(show.status.success());
    let estate_file = std::path::Path::new(&lab.estate).join("estate.json");
    let mut e: Value =
        serde_json::from_slice(&std::fs::read(&estate_file).unwrap_or_default()).unwrap_or_else(|x| panic!("{x}"));
    e["faults"] = serde_json::json!(["se01.contoso.local:verify:hang"]);
    std::fs::write(&estate_file, serde_json::to_vec(&e).unwrap_or_default()).unwrap_or_else(|x| panic!("{x}"));
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let (code, v, err) = run(&lab, &conns, &["--server", "se01.contoso.local", "--timeout-scale", "0.003"]);
    assert_eq!(code, Some(0), "{err}\n{v}");
    let journal = sfbpatch_journal::Journal::open(Path::new(&lab.path("journal.db"))).unwrap_or_else(|x| panic!("{x}"));
    let id = v["run_id"].as_str().unwrap_or("").to_owned();
    let verify: Vec<_> = journal
        .attempts(&id)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.1.as_str() == "verify")
        .map(|a| a.3.map(|o| o.as_str()).unwrap_or_default())
        .collect();
    assert_eq!(verify, ["failed", "succeeded"], "the hung attempt timed out, the retry completed");
    // The hung shell on the far side ended with its channel.
    let start = Instant::now();
    while shells_of(&lab.estate) > 0 {
        assert!(start.elapsed() < Duration::from_secs(5), "a remote shell lingers after its timeout");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits up to five seconds, on the runtime (whose tasks close channels), for `done`.
async fn settles(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(5) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Issue 14: a command on a kept channel whose future is dropped (as the engine's timeout
/// drops it) closes its channel: the remote shell ends while the connection stays up, the
/// session's next command opens a new one, and `close_all` ends that one.
#[test]
fn a_kept_remote_shell_cut_by_a_timeout_ends_and_the_sessions_next_command_opens_another() {
    let Some(lab) = lab() else { return };
    std::fs::remove_dir_all(&lab.estate).unwrap_or_else(|e| panic!("{e}"));
    let fault = "se01.contoso.local:verify:hang";
    assert!(sfbpatch(&["sim", "init", "--estate", &lab.estate, "--fault", fault]).status.success());
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let host = sfbpatch_core::Fqdn::parse("se01.contoso.local").unwrap_or_else(|e| panic!("{e:?}"));
    let hosts = sfbpatch_transport::ssh::connections(Path::new(&conns), std::slice::from_ref(&host))
        .unwrap_or_else(|e| panic!("{e}"));
    let package = lab.path("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let t =
        sfbpatch_transport::ssh::SshTransport::new(hosts, false, Path::new(&package)).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    use sfbpatch_engine::Transport as _;
    let probe = "Get-Service -Name 'W3SVC'";
    let long = Duration::from_secs(60);
    rt.block_on(async {
        let s = t.open_session(&host).await.unwrap_or_else(|e| panic!("{e}"));
        let o = t.run(&host, Some(s), None, probe, long).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.exit_code, 0, "{o:?}");
        assert_eq!(shells_of(&lab.estate), 1, "the session's shell is kept");
        let verify = Some(sfbpatch_core::runbook::StepId::Verify);
        let cut = tokio::time::timeout(Duration::from_secs(2), t.run(&host, Some(s), verify, probe, long)).await;
        assert!(cut.is_err(), "the hung command never answered: {cut:?}");
        assert!(settles(|| shells_of(&lab.estate) == 0).await, "the cut shell lingers while the connection is up");
        let o = t.run(&host, Some(s), None, probe, long).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.exit_code, 0, "{o:?}");
        assert_eq!(shells_of(&lab.estate), 1, "a new shell for the session");
        t.close_all().await;
        assert!(settles(|| shells_of(&lab.estate) == 0).await, "close_all ends the kept shell");
    });
    assert_eq!(lab.shell_starts("se01.contoso.local"), 2, "the first shell, then the one after the cut");
}

/// Kills an sshd and every session process it forked (the connections drop at once).
fn kill_sshd_and_sessions(d: &mut Daemon) {
    let parent = d.0.id();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
    let _ = d.0.kill();
    let _ = d.0.wait();
}

fn installs_applied(estate: &str, host: &str) -> usize {
    let show = sfbpatch(&["sim", "show", "--estate", estate, "--format", "json"]);
    let v: Value = serde_json::from_slice(&show.stdout).unwrap_or(Value::Null);
    v["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["fqdn"] == host).cloned())
        .and_then(|h| h["oplog"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|op| op["step"] == "install-update" && op["applied"] == true)
        .count()
}

#[test]
fn sshd_killed_during_the_install_then_resume_completes_without_installing_twice() {
    // Every simulated second takes 3 ms: the install lasts a few real seconds.
    let Some(mut lab) = lab_with("SFBPATCH_SIM_TIME_SCALE=0.003") else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let package = lab.path("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update, shipped by SFTP").unwrap_or_else(|e| panic!("{e}"));
    let journal = lab.path("journal.db");
    let host = "se01.contoso.local";
    let child = Proc::new(bin())
        .args(["run", "--transport", "ssh", "--connections", &conns, "--package", &package, "--journal", &journal])
        .args(["--yes", "--server", host, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Wait until the install has been applied on the server (its answer still to come)…
    let start = Instant::now();
    while installs_applied(&lab.estate, host) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the install never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // …then the server's sshd dies with its sessions.
    kill_sshd_and_sessions(&mut lab.daemons[2]);
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1), "the run cannot finish without the server");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let id = v["run_id"].as_str().unwrap_or("").to_owned();
    assert!(!id.is_empty(), "{v}");
    // sshd comes back; the run is resumed and settles the interrupted install from the
    // server's build instead of installing again.
    let cfg = lab.dir.path().join("sshd_2.conf");
    let sshd = PathBuf::from("/usr/sbin/sshd");
    lab.daemons[2] = start_sshd(&sshd, &cfg, lab.ports[2]);
    // The package copied to the servers and the connections file are named again (never
    // taken from the journal alone).
    let resumed = sfbpatch(&[
        "resume",
        &id,
        "--journal",
        &journal,
        "--package",
        &package,
        "--connections",
        &conns,
        "--format",
        "json",
    ]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let r: Value = serde_json::from_slice(&resumed.stdout).unwrap_or(Value::Null);
    assert_eq!(r["state"], "completed");
    assert_eq!(installs_applied(&lab.estate, host), 1, "the install was applied exactly once");
}

#[test]
fn keys_held_by_ssh_agent_authenticate_and_never_reach_the_journal() {
    let Some(lab) = lab() else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    // No key file: the connections file points at one that does not exist.
    let conns = lab.path("agent.toml");
    let mut c = format!(
        "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{kh}\"\n",
        lab.path("no_such_key")
    );
    for (h, p) in HOSTS.iter().zip(&lab.ports) {
        c.push_str(&format!("\n[hosts.\"{h}\"]\naddress = \"127.0.0.1\"\nport = {p}\n"));
    }
    std::fs::write(&conns, c).unwrap_or_else(|e| panic!("{e}"));
    let sock = lab.path("agent.sock");
    let mut agent = Proc::new("ssh-agent")
        .args(["-D", "-a", &sock])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    while !Path::new(&sock).exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "ssh-agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let added =
        Proc::new("ssh-add").arg(lab.path("client_key")).env("SSH_AUTH_SOCK", &sock).stderr(Stdio::null()).status();
    assert!(added.is_ok_and(|s| s.success()), "ssh-add failed");
    let package = lab.path("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update").unwrap_or_else(|e| panic!("{e}"));
    let journal = lab.path("journal.db");
    let o = Proc::new(bin())
        .args(["run", "--transport", "ssh", "--connections", &conns, "--package", &package, "--journal", &journal])
        .args(["--yes", "--server", "fe11.contoso.local", "--format", "json"])
        .env("SSH_AUTH_SOCK", &sock)
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // Nothing secret is recorded: not the key, not the agent's socket.
    let key = std::fs::read_to_string(lab.path("client_key")).unwrap_or_default();
    let secret_line = key.lines().nth(1).unwrap_or("").to_owned();
    let db = std::fs::read(&journal).unwrap_or_default();
    let wal = std::fs::read(format!("{journal}-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!secret_line.is_empty() && !text.contains(&secret_line), "the private key is in the journal");
        assert!(!text.contains("agent.sock"), "the agent socket is in the journal");
    }
}

/// Windows PowerShell ends a process with 0 or 1 whatever a native program's code was
/// (DOMAIN.md §5): the installer's 3010 reaches sfbpatch over SSH on the command's result
/// line, and is a restart pending, never a failure.
#[test]
fn installer_3010_over_ssh_is_a_restart_pending_never_a_failure() {
    let Some(lab) = lab() else { return };
    std::fs::remove_dir_all(&lab.estate).unwrap_or_else(|e| panic!("{e}"));
    let fault = "se01.contoso.local:install-update:reboot";
    assert!(sfbpatch(&["sim", "init", "--estate", &lab.estate, "--fault", fault]).status.success());
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    let (code, v, err) = run(&lab, &conns, &["--server", "se01.contoso.local"]);
    assert_eq!(code, Some(0), "{err}\n{v}");
    assert_eq!(v["servers"][0]["result"], "updated", "{v}");
    let run_id = v["run_id"].as_str().unwrap_or_default();
    let r = sfbpatch(&["report", run_id, "--journal", &lab.path("journal.db"), "--format", "json"]);
    let r: Value = serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<&Value> = r["servers"][0]["steps"].as_array().into_iter().flatten().collect();
    let install: Vec<&&Value> = steps.iter().filter(|s| s["step"] == "install-update").collect();
    assert_eq!(install.len(), 1, "installed once: {r}");
    assert_eq!(install[0]["exit_code"], 3010, "{}", install[0]);
    assert_eq!(install[0]["outcome"], "succeeded-reboot-pending", "{}", install[0]);
    assert!(steps.iter().all(|s| s["step"] != "recovery"), "no recovery: {r}");
    assert_eq!(steps.iter().filter(|s| s["step"] == "reboot").count(), 1, "restarted once: {r}");
}

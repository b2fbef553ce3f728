//! The real-sshd lab shared by the SSH tests (`ssh.rs`, `ssh_hardening.rs`): one OpenSSH sshd
//! per simulated server on loopback, each running the simulator's shell as the server's
//! PowerShell and OpenSSH's own SFTP server for staging.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The machines commands are sent to: pool02's two Front Ends and the Standard Edition
/// server. pool02's back end, sql02, has no Skype for Business and no sshd: its databases are
/// updated from fe11.
pub const HOSTS: [&str; 3] = ["fe11.contoso.local", "fe12.contoso.local", "se01.contoso.local"];

/// A pool and a Standard Edition server: the Front Ends, the back end's databases, SE.
pub const POOL02_AND_SE: [&str; 8] = [
    "--server",
    "fe11.contoso.local",
    "--server",
    "fe12.contoso.local",
    "--server",
    "sql02.contoso.local",
    "--server",
    "se01.contoso.local",
];

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

pub fn sfbpatch(args: &[&str]) -> std::process::Output {
    Proc::new(bin())
        .args(args)
        .env("LANG", "C.UTF-8")
        .env_remove("SFBPATCH_JOURNAL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn sshd() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/sbin/sshd");
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("sshd is not installed: scripts/test installs it (apt-get install openssh-server)");
    }
    eprintln!("SKIPPED (not silently): sshd is not installed; run scripts/test, which installs it");
    None
}

pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn keygen(path: &Path) {
    let ok = Proc::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "ssh-keygen failed");
}

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub estate: String,
    pub ports: Vec<u16>,
    pub daemons: Vec<Daemon>,
}

impl Lab {
    pub fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    pub fn connections(&self, known_hosts: &str) -> String {
        let mut c = format!(
            "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{known_hosts}\"\n",
            self.path("client_key")
        );
        for (h, p) in HOSTS.iter().zip(&self.ports) {
            c.push_str(&format!("\n[hosts.\"{h}\"]\naddress = \"127.0.0.1\"\nport = {p}\n"));
        }
        let file = self.path("connections.toml");
        std::fs::write(&file, c).unwrap_or_else(|e| panic!("{e}"));
        file
    }

    pub fn known_hosts(&self, name: &str, keys: &[String]) -> String {
        let lines: Vec<String> = self.ports.iter().zip(keys).map(|(p, k)| format!("[127.0.0.1]:{p} {k}")).collect();
        let file = self.path(name);
        std::fs::write(&file, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
        file
    }

    pub fn host_keys(&self) -> Vec<String> {
        (0..HOSTS.len())
            .map(|i| {
                let text = std::fs::read_to_string(self.dir.path().join(format!("host_key_{i}.pub")))
                    .unwrap_or_else(|e| panic!("{e}"));
                text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
            })
            .collect()
    }

    pub fn oplog_len(&self, host: &str) -> usize {
        let show = sfbpatch(&["sim", "show", "--estate", &self.estate, "--format", "json"]);
        let v: Value = serde_json::from_slice(&show.stdout).unwrap_or_else(|e| panic!("{e}"));
        v["hosts"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["fqdn"] == host).and_then(|h| h["oplog"].as_array().map(Vec::len)))
            .unwrap_or(0)
    }
}

/// The file the lab's `powershell.exe` appends a line to at every start: its host, its pid
/// and the time (milliseconds since the Unix epoch).
pub const STARTS: &str = "shell_starts";

impl Lab {
    /// How many remote shell processes (`powershell.exe`) sshd started for `host`.
    pub fn shell_starts(&self, host: &str) -> usize {
        let text = std::fs::read_to_string(self.dir.path().join(STARTS)).unwrap_or_default();
        text.lines().filter(|l| l.split(' ').next() == Some(host)).count()
    }

    /// When the remote shell process `pid` started (milliseconds since the Unix epoch), from
    /// the lab's `powershell.exe`, which `exec`s the simulator's shell (same pid).
    pub fn shell_started_ms(&self, pid: u64) -> Option<i64> {
        let text = std::fs::read_to_string(self.dir.path().join(STARTS)).unwrap_or_default();
        text.lines().find_map(|l| {
            let mut f = l.split(' ').skip(1);
            (f.next()?.parse::<u64>().ok()? == pid).then_some(())?;
            f.next()?.parse().ok()
        })
    }
}

pub fn lab() -> Option<Lab> {
    lab_with("")
}

/// Starts the sshd of host `i` from its config, waiting until it listens.
pub fn start_sshd(sshd: &Path, cfg: &Path, port: u16) -> Daemon {
    let child = Proc::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "sshd on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon(child)
}

pub fn lab_with(extra_env: &str) -> Option<Lab> {
    lab_with_sshd(extra_env, "")
}

/// A lab whose sshd configs end with `extra_sshd` (lines of sshd_config).
pub fn lab_with_sshd(extra_env: &str, extra_sshd: &str) -> Option<Lab> {
    let sshd = sshd()?;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("estate").display().to_string();
    assert!(sfbpatch(&["sim", "init", "--estate", &estate]).status.success());
    std::fs::create_dir_all("/run/sshd").unwrap_or_else(|e| panic!("{e}"));
    keygen(&dir.path().join("client_key"));
    std::fs::copy(dir.path().join("client_key.pub"), dir.path().join("authorized_keys"))
        .unwrap_or_else(|e| panic!("{e}"));
    // The server's "powershell.exe": the simulator's shell for that host, each start
    // counted (one line naming the host, the pid and the time in `STARTS`).
    let bindir = dir.path().join("bin");
    std::fs::create_dir_all(&bindir).unwrap_or_else(|e| panic!("{e}"));
    let wrapper = bindir.join("powershell.exe");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$SFBPATCH_SIM_HOST $$ $(date +%s%3N)\" >>'{}'\nexec \"$SFBPATCH_BIN\" sim shell --estate \"$SFBPATCH_SIM_ESTATE\" --host \"$SFBPATCH_SIM_HOST\"\n",
            dir.path().join(STARTS).display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    let mut daemons = Vec::new();
    let mut ports = Vec::new();
    for (i, host) in HOSTS.iter().enumerate() {
        keygen(&dir.path().join(format!("host_key_{i}")));
        let disk = dir.path().join("disk").join(host);
        std::fs::create_dir_all(&disk).unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key_{i}\nPidFile {d}/sshd_{i}.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
             ExposeAuthInfo yes\n\
             AcceptEnv SFBPATCH_STEP\nSubsystem sftp internal-sftp -d {disk}\n\
             SetEnv PATH={bindir}:/usr/bin:/bin SFBPATCH_BIN={bin} SFBPATCH_SIM_ESTATE={estate} SFBPATCH_SIM_HOST={host} SFBPATCH_SIM_DISK={disk} {extra_env}\n{extra_sshd}",
            disk = disk.display(),
            bindir = bindir.display(),
            bin = bin().display(),
        );
        let cfg = dir.path().join(format!("sshd_{i}.conf"));
        std::fs::write(&cfg, config).unwrap_or_else(|e| panic!("{e}"));
        daemons.push(start_sshd(&sshd, &cfg, port));
        ports.push(port);
    }
    Some(Lab { dir, estate, ports, daemons })
}

pub fn run(lab: &Lab, connections: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let package = lab.path("SkypeServerUpdateInstaller.exe");
    std::fs::write(&package, b"cumulative update, shipped by SFTP").unwrap_or_else(|e| panic!("{e}"));
    let journal = lab.path("journal.db");
    let mut args = vec![
        "run",
        "--transport",
        "ssh",
        "--connections",
        connections,
        "--package",
        &package,
        "--journal",
        &journal,
        "--yes",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = sfbpatch(&args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v, String::from_utf8_lossy(&o.stderr).into_owned())
}

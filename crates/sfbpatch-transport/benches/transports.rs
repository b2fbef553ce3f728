//! Per-command overhead of the transports, side by side in one run: a kept-open SSH
//! connection to a loopback OpenSSH sshd (an exec channel per command), against a local
//! shell process per command. The far side is a trivial shell that reads the script and
//! answers, so the figures are the transports' own cost. Needs root and Debian's
//! openssh-server. Run with `cargo bench -p sfbpatch-transport`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sfbpatch_core::Fqdn;
use sfbpatch_engine::Transport;
use sfbpatch_transport::local::LocalTransport;
use sfbpatch_transport::ssh::{HostConfig, SshTransport};

const N: u32 = 200;

fn fail(why: impl std::fmt::Display) -> ! {
    eprintln!("{why}");
    std::process::exit(2);
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        fail("ssh-keygen failed");
    }
}

fn time<T: Transport>(t: &T, host: &Fqdn) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| fail(e));
    rt.block_on(async {
        // Warm up (connect once).
        let _ = t.run(host, None, None, "Get-Date", Duration::from_secs(30)).await;
        let start = Instant::now();
        for _ in 0..N {
            match t.run(host, None, None, "Get-Date", Duration::from_secs(30)).await {
                Ok(o) if o.exit_code == 0 => {}
                other => fail(format!("command failed: {other:?}")),
            }
        }
        start.elapsed()
    })
}

fn main() {
    if !Path::new("/usr/sbin/sshd").exists() {
        println!("sshd is not installed (apt-get install openssh-server): nothing measured");
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    let _ = std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"));
    let _ = std::fs::create_dir_all("/run/sshd");
    let answer = d.join("answer.sh");
    let _ = std::fs::write(&answer, "#!/bin/sh\ncat >/dev/null\necho ok\n");
    let _ = Command::new("chmod").arg("+x").arg(&answer).status();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| fail(e));
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {0}/host_key\nPidFile {0}/sshd.pid\nAuthorizedKeysFile {0}/authorized_keys\nPasswordAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nForceCommand {1}\n",
        d.display(),
        answer.display()
    );
    let _ = std::fs::write(d.join("sshd.conf"), config);
    let mut sshd = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd.conf"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| fail(e));
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = sshd.kill();
            let _ = sshd.wait();
            fail("sshd did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let package = d.join("package.exe");
    let _ = std::fs::write(&package, b"x");
    let host = Fqdn::parse("bench.contoso.local").unwrap_or_else(|e| fail(format!("{e:?}")));
    let key = std::fs::read_to_string(d.join("host_key.pub")).unwrap_or_default();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let _ = std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {}\n", key.join(" ")));
    let mut hosts = BTreeMap::new();
    hosts.insert(
        host.to_string(),
        HostConfig {
            address: "127.0.0.1".into(),
            port,
            user: "root".into(),
            identity_file: d.join("client_key"),
            known_hosts: d.join("known_hosts"),
            auth: sfbpatch_transport::ssh::Auth::Key,
        },
    );
    let ssh = SshTransport::new(hosts, false, &package).unwrap_or_else(|e| fail(e));
    let local = LocalTransport::new(vec![answer.display().to_string()], &package).unwrap_or_else(|e| fail(e));
    let t_ssh = time(&ssh, &host);
    let t_local = time(&local, &host);
    let _ = sshd.kill();
    let _ = sshd.wait();
    let per = |t: Duration| t.as_secs_f64() * 1000.0 / f64::from(N);
    println!("SSH, one kept-open connection: {:.3} ms per command ({N} commands)", per(t_ssh));
    println!("local shell process:           {:.3} ms per command ({N} commands)", per(t_local));
    println!("ratio SSH / local: {:.2}x", t_ssh.as_secs_f64() / t_local.as_secs_f64());
}

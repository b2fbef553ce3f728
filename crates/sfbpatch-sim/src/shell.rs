//! The `sim shell` endpoint: one script on one host of a persisted estate, as a shell on
//! that server would run it. A local transport starts it as its shell; an SSH server starts
//! it as the forced command of each channel (the script in `SSH_ORIGINAL_COMMAND`, or on
//! stdin for a client that starts a shell reading it there).
//!
//! The caller keeps the estate's persistence (its directory, its lock): it takes the lock,
//! calls [`Invocation::execute`], saves the estate and releases the lock, then calls
//! [`Invocation::finish`], which takes the command's time and tells what to answer.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sfbpatch_core::envelope;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::hex;
use sha2::{Digest, Sha256};

use crate::estate::Estate;
use crate::exec::{DiskFile, ExecStatus, Execution, Request};
use crate::rehearse::default_builds;

/// The SSH server's copy of the command line a client sent.
pub const ORIGINAL_COMMAND_VAR: &str = "SSH_ORIGINAL_COMMAND";

/// Set by OpenSSH's server in every session it starts.
pub const SSH_CONNECTION_VAR: &str = "SSH_CONNECTION";
/// With `ExposeAuthInfo yes`, OpenSSH's server names here a file listing the methods that
/// authenticated the session, one per line (`publickey ssh-ed25519 AAAA…`, `password`,
/// `keyboard-interactive`): sshd_config(5), ExposeAuthInfo.
pub const SSH_USER_AUTH_VAR: &str = "SSH_USER_AUTH";
/// The step a command belongs to (faults are keyed by step), set by the transports.
pub const STEP_VAR: &str = "SFBPATCH_STEP";
/// The folder holding the files written onto the host's disk from outside (by SFTP):
/// `C:\x\y` is `$SFBPATCH_SIM_DISK/C:/x/y`.
pub const DISK_VAR: &str = "SFBPATCH_SIM_DISK";
/// Real seconds a command takes per simulated second (unset: it answers at once).
pub const TIME_SCALE_VAR: &str = "SFBPATCH_SIM_TIME_SCALE";

/// One script for one host, as this process was asked to run it.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The host's FQDN.
    pub host: String,
    /// The PowerShell text.
    pub script: String,
    /// The step it belongs to.
    pub step: Option<StepId>,
    /// Real seconds per simulated second, if the command should take its time.
    pub time_scale: Option<f64>,
    /// The host's disk folder, holding the files written onto it from outside the simulator.
    pub disk: Option<PathBuf>,
    /// The session came through an SSH server by a key (see [`key_logon`]): a key-based
    /// Win32-OpenSSH logon has no network credentials (an S4U logon: DOMAIN.md §5,
    /// PowerShell/Win32-OpenSSH #518, #1264): anything it asks of another machine's SQL Server
    /// fails (the double hop). A password logon is a full one and has them.
    pub key_logon: bool,
}

/// What the endpoint answers, once the command has ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The command completed.
    Completed {
        /// The process's exit status, as Windows PowerShell's host gives it: 0 or 1, or N
        /// after `exit N` (within 0–254: 255 belongs to the transports); a wrapped command's
        /// own code is on its output's result line.
        code: u8,
        /// Whether it succeeded (exit code 0).
        success: bool,
        /// Standard output.
        stdout: String,
        /// Standard error.
        stderr: String,
    },
    /// The command never completed; whoever waited for it has gone away.
    NeverCompleted,
    /// The session dropped.
    Disconnected,
    /// The host did not answer (restarting).
    Unreachable,
}

impl Invocation {
    /// What this process was asked: the script from `SSH_ORIGINAL_COMMAND` or from `stdin`,
    /// the step, the time scale, and the host's disk folder.
    pub fn from_process(host: &str, stdin: impl Read) -> Result<Self, String> {
        let original = std::env::var(ORIGINAL_COMMAND_VAR).ok();
        let script = match script_in_command(original.as_deref()) {
            Some(s) => s.to_owned(),
            None => {
                let mut s = String::new();
                let mut stdin = stdin;
                stdin.read_to_string(&mut s).map_err(|e| e.to_string())?;
                s
            }
        };
        Ok(Self::from_env(host, script))
    }

    /// `script` on `host`, with the step, time scale, disk folder and logon this process's
    /// environment gives.
    pub fn from_env(host: &str, script: String) -> Self {
        let step = std::env::var(STEP_VAR).ok().and_then(|s| s.parse::<StepId>().ok());
        let time_scale = time_scale(std::env::var(TIME_SCALE_VAR).ok().as_deref());
        let disk = std::env::var_os(DISK_VAR).map(PathBuf::from);
        let methods = std::env::var_os(SSH_USER_AUTH_VAR).and_then(|f| std::fs::read_to_string(f).ok());
        let key_logon = key_logon(std::env::var_os(SSH_CONNECTION_VAR).is_some(), methods.as_deref());
        Invocation { host: host.to_owned(), script, step, time_scale, disk, key_logon }
    }

    /// Runs the script on its host: the files of its disk folder, listed now, first join the
    /// simulated disk whatever the script says; then the script runs as soon as the host is
    /// idle. `None` when the estate has no such host (nothing changed).
    pub fn execute(&self, estate: &mut Estate) -> Option<Execution> {
        self.execute_in(estate, None)
    }

    /// As [`Invocation::execute`], in `session` (kept by this process) when one is given.
    pub fn execute_in(&self, estate: &mut Estate, session: Option<u64>) -> Option<Execution> {
        let at = estate.host(&self.host).map(|h| h.clock_ms.max(h.unreachable_until))?;
        estate.local_reader = Some(read_local);
        if estate.package_build.is_none() {
            let product = estate.hosts.first().map(|h| h.product).unwrap_or_default();
            estate.package_build = Some(default_builds(product).1);
        }
        if let Some(root) = &self.disk {
            estate.sync_disk(&self.host, &disk_files(root));
        }
        // Each invocation is a new process: the caller waited for it, so a restarting host
        // has come back by the time it is asked again (`at` above).
        let script = HostScript::read(&self.script);
        let request = Request {
            host: &self.host,
            session,
            step: self.step,
            script: script.command(),
            at,
            timeout_ms: u64::MAX / 8,
        };
        // This logon's network credentials, for this command only (the host keeps its own).
        let hi = estate.hosts.iter().position(|h| h.fqdn.as_str() == self.host)?;
        let kept = estate.hosts[hi].network_credentials;
        if self.key_logon {
            estate.hosts[hi].network_credentials = false;
        }
        let x = estate.execute(&request);
        estate.hosts[hi].network_credentials = kept;
        Some(x)
    }

    /// What the caller sees of an execution, when it sees it. With a time scale the command
    /// takes its scaled time, after its effects were saved: a caller cut off meanwhile cannot
    /// tell whether it ran. A command that never completes ends when its output closes (the
    /// SSH channel or the local transport's process went away), as a real shell would on
    /// SIGHUP or EPIPE: nothing lingers.
    pub fn finish(&self, x: Execution) -> Ending {
        if let (Some(f), ExecStatus::Completed | ExecStatus::Disconnected) = (self.time_scale, x.status) {
            std::thread::sleep(Duration::from_secs_f64(x.end_ms.saturating_sub(x.start_ms) as f64 / 1000.0 * f));
        }
        match x.status {
            ExecStatus::Completed => HostScript::read(&self.script).ending(x.exit_code, x.stdout, x.stderr),
            ExecStatus::TimedOut => {
                wait_for_hangup();
                Ending::NeverCompleted
            }
            ExecStatus::Disconnected => Ending::Disconnected,
            ExecStatus::Unreachable => Ending::Unreachable,
        }
    }
}

/// A script as Windows PowerShell's host reads it from stdin (`powershell.exe -Command -`),
/// for what the process answers (DOMAIN.md §5; PowerShell/PowerShell #13501, #11461).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostScript {
    /// Wrapped in the transports' result protocol (`sfbpatch_core::envelope`): the command
    /// runs, then the wrapper prints the result line with the command's own exit code (a
    /// native program's, or 1 for a failed cmdlet), and the process ends with 0 (its last
    /// statement, printing that line, succeeded). The result line carries the nonce the
    /// wrapped line gave (its tail, read by `envelope::body`), as the wrapper would print it.
    Wrapped(envelope::Body),
    /// Plain text: the process ends with 1 when the last command failed, whatever native
    /// code it had, else 0 — or with N when the script ends with `exit N`.
    Plain {
        /// The script without its final `exit N`.
        command: String,
        /// N, when it ends with `exit N`.
        exit: Option<i32>,
    },
}

impl HostScript {
    pub(crate) fn read(text: &str) -> Self {
        if let Some(body) = envelope::body(text) {
            return HostScript::Wrapped(body);
        }
        let trimmed = text.trim_end();
        let (rest, last) = trimmed.rsplit_once('\n').unwrap_or(("", trimmed));
        let exit = last.trim().strip_prefix("exit ").and_then(|n| n.trim().parse::<i32>().ok());
        match exit {
            Some(n) => HostScript::Plain { command: rest.to_owned(), exit: Some(n) },
            None => HostScript::Plain { command: text.to_owned(), exit: None },
        }
    }

    /// The PowerShell the estate executes.
    fn command(&self) -> &str {
        match self {
            HostScript::Wrapped(envelope::Body { script: c, .. }) | HostScript::Plain { command: c, .. } => c,
        }
    }

    /// What the process answers for a command that completed with `exit_code`.
    fn ending(&self, exit_code: i32, mut stdout: String, mut stderr: String) -> Ending {
        let code = match self {
            HostScript::Wrapped(envelope::Body { nonce, .. }) => {
                // The result line ends both streams (the wrapper writes it to each).
                for text in [&mut stdout, &mut stderr] {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&envelope::marker(exit_code, nonce));
                    text.push('\n');
                }
                0
            }
            HostScript::Plain { exit: Some(n), .. } => *n,
            HostScript::Plain { exit: None, .. } => i32::from(exit_code != 0),
        };
        // A process's status is 0–255 on this machine; 255 belongs to the transports.
        let code = u8::try_from(code.clamp(0, 254)).unwrap_or(1);
        Ending::Completed { code, success: code == 0, stdout, stderr }
    }
}

/// Whether a session is an S4U logon, without network credentials: it came through sshd
/// (`under_sshd`) and the methods that authenticated it (the `SSH_USER_AUTH` file's text)
/// include neither `password` nor `keyboard-interactive` (with or without a submethod): a
/// public key, or nothing sshd told (no `ExposeAuthInfo yes`), counts as a key. Win32-OpenSSH logs a password session on with
/// the password itself (a full logon) and a key session by S4U (DOMAIN.md §5;
/// PowerShell/Win32-OpenSSH #518, #1264).
pub fn key_logon(under_sshd: bool, auth_methods: Option<&str>) -> bool {
    let by_password = auth_methods.is_some_and(|text| {
        // Each line: `method[/submethod] [key] [info]` (OpenSSH's auth2.c; PAM's
        // keyboard-interactive is `keyboard-interactive/pam`).
        let method = |l: &str| l.split_whitespace().next().and_then(|w| w.split('/').next()).map(str::to_owned);
        text.lines().any(|l| matches!(method(l).as_deref(), Some("password" | "keyboard-interactive")))
    });
    under_sshd && !by_password
}

/// The script carried by an SSH command line, if it carries one: a client that runs a shell
/// reading its script on stdin (`… -Command -`) sends the script on stdin instead.
pub fn script_in_command(original: Option<&str>) -> Option<&str> {
    let c = original?.trim();
    if c.is_empty() || c.ends_with("-Command -") || c.ends_with("-c -") { None } else { Some(c) }
}

/// A time scale as `SFBPATCH_SIM_TIME_SCALE` gives it: a positive finite number, else none.
pub fn time_scale(value: Option<&str>) -> Option<f64> {
    value?.parse::<f64>().ok().filter(|f| f.is_finite() && *f > 0.0)
}

/// The files under a host's disk folder: `ROOT/C:/x/y` is `C:\x\y`, with its SHA-256.
/// Folders not named after a drive (`C:`) are not part of the disk.
pub fn disk_files(root: &Path) -> Vec<DiskFile> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let [letter, b':'] = name.as_bytes()
            && letter.is_ascii_alphabetic()
        {
            collect(&entry.path(), &name, &mut files);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn collect(dir: &Path, windows: &str, files: &mut Vec<DiskFile>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = format!("{windows}\\{}", entry.file_name().to_string_lossy());
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(&entry.path(), &path, files),
            Ok(t) if t.is_file() => {
                if let Some(sha256) = sha256_of(&entry.path()) {
                    files.push(DiskFile { path, sha256 });
                }
            }
            _ => {}
        }
    }
}

fn sha256_of(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            return Some(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// A file of the machine the simulator runs on, for `Copy-Item` from it.
fn read_local(path: &str) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Waits until whoever waits for this process goes away: its output pipe closed.
pub(crate) fn wait_for_hangup() {
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if output_closed() {
            return;
        }
    }
}

#[cfg(unix)]
fn output_closed() -> bool {
    use std::os::fd::AsFd as _;
    let out = std::io::stdout();
    let mut fds = [nix::poll::PollFd::new(out.as_fd(), nix::poll::PollFlags::empty())];
    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(nix::poll::PollFlags::POLLERR | nix::poll::PollFlags::POLLHUP)),
        Ok(_) => false,
        Err(_) => true,
    }
}

#[cfg(not(unix))]
fn output_closed() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_answers_as_windows_powershell_does() {
        let end = |script: &str, exit: i32| match HostScript::read(script).ending(exit, "out\n".into(), String::new()) {
            Ending::Completed { code, stdout, .. } => (code, stdout),
            other => panic!("{other:?}"),
        };
        // Plain text: 0 or 1 whatever the native code (DOMAIN.md §5).
        assert_eq!(end("net stop w3svc", 2), (1, "out\n".into()));
        assert_eq!(end("& 'C:\\x\\setup.exe' /silentmode", 3010), (1, "out\n".into()));
        assert_eq!(end("Get-CsWindowsService", 0), (0, "out\n".into()));
        // `exit N` is the one way a code reaches the process.
        assert_eq!(end("Get-CsWindowsService\nexit 7", 0), (7, "out\n".into()));
        assert_eq!(HostScript::read("Get-CsWindowsService\nexit 7").command(), "Get-CsWindowsService");
        // Wrapped: the process ends with 0, the command's own code on the result line.
        // The result line carries the nonce of the command the simulator ran.
        let nonce = envelope::Nonce::from_bytes([0x3c; 8]);
        let wrapped = envelope::wrap("net stop w3svc", &nonce);
        assert_eq!(HostScript::read(&wrapped).command(), "net stop w3svc");
        assert_eq!(end(&wrapped, 2), (0, "out\n<<sfbpatch-exit:3c3c3c3c3c3c3c3c:2>>\n".into()));
        assert_eq!(end(&wrapped, 3010), (0, "out\n<<sfbpatch-exit:3c3c3c3c3c3c3c3c:3010>>\n".into()));
        let opened = envelope::open(&end(&wrapped, 1641).1, &nonce).map(|o| (o.exit_code, o.stdout));
        assert_eq!(opened, Some((1641, "out\n".to_owned())));
        // The result line ends standard error too, after the command's own errors; plain text
        // gets none.
        let stderr = |script: &str| match HostScript::read(script).ending(2, String::new(), "denied".into()) {
            Ending::Completed { stderr, .. } => stderr,
            other => panic!("{other:?}"),
        };
        assert_eq!(stderr(&wrapped), "denied\n<<sfbpatch-exit:3c3c3c3c3c3c3c3c:2>>\n");
        assert_eq!(stderr("net stop w3svc"), "denied");
    }

    #[test]
    fn a_session_is_a_key_logon_under_sshd_unless_a_password_authenticated_it() {
        assert!(!key_logon(false, None), "a local shell is the operator's own logon");
        assert!(key_logon(true, None), "sshd told nothing: counted as a key");
        assert!(key_logon(true, Some("publickey ssh-ed25519 AAAAC3Nza\n")));
        assert!(!key_logon(true, Some("password\n")));
        assert!(!key_logon(true, Some("keyboard-interactive\n")));
        assert!(!key_logon(true, Some("keyboard-interactive/pam\n")));
        // AuthenticationMethods publickey,password: the password logs the session on.
        assert!(!key_logon(true, Some("publickey ssh-ed25519 AAAAC3Nza\npassword\n")));
        // A key whose comment says "password" is still a key.
        assert!(key_logon(true, Some("publickey ssh-ed25519 AAAA password\n")));
    }

    #[test]
    fn ssh_commands_carry_a_script_unless_they_start_a_shell_on_stdin() {
        assert_eq!(script_in_command(Some("Get-CsWindowsService")), Some("Get-CsWindowsService"));
        assert_eq!(
            script_in_command(Some("powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -")),
            None
        );
        assert_eq!(script_in_command(Some("  ")), None);
        assert_eq!(script_in_command(None), None);
    }

    #[test]
    fn only_positive_finite_time_scales_count() {
        assert_eq!(time_scale(Some("0.5")), Some(0.5));
        for bad in [Some("0"), Some("-1"), Some("inf"), Some("NaN"), Some("x"), None] {
            assert_eq!(time_scale(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_disk_folder_is_listed_as_windows_paths_whatever_a_script_says() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let stage = dir.path().join("C:/ProgramData/sfbpatch/stage/run1");
        std::fs::create_dir_all(&stage).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(stage.join("Pkg.exe"), b"abc").unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join("not-a-drive")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("not-a-drive/x"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let files = disk_files(dir.path());
        assert_eq!(
            files,
            [DiskFile {
                path: "C:\\ProgramData\\sfbpatch\\stage\\run1\\Pkg.exe".into(),
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            }]
        );
        assert!(disk_files(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn the_disk_reaches_the_host_before_any_script_runs() {
        let topology = sfbpatch_core::topology::load(
            sfbpatch_core::example::NAME,
            sfbpatch_core::example::TOPOLOGY_XML.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut estate = Estate::new(&topology, &crate::estate::EstateOptions::default());
        let host = "se01.contoso.local";
        let disk = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let folder = disk.path().join("C:/ProgramData/sfbpatch/stage/run1");
        std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(folder.join("SkypeServerUpdateInstaller.exe"), b"abc").unwrap_or_else(|e| panic!("{e}"));
        let path = "c:\\programdata\\sfbpatch\\stage\\run1\\skypeserverupdateinstaller.exe";
        let invocation = Invocation {
            host: host.into(),
            // The script does not name the file.
            script: "Get-PSDrive C".into(),
            step: None,
            time_scale: None,
            disk: Some(disk.path().to_owned()),
            key_logon: false,
        };
        let x = invocation.execute(&mut estate).unwrap_or_else(|| panic!("no host"));
        assert!(x.succeeded(), "{x:?}");
        let file = estate.host(host).and_then(|h| h.files.get(path)).cloned();
        let file = file.unwrap_or_else(|| panic!("not on the simulated disk"));
        assert_eq!(file.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(file.installs, estate.package_build, "it installs the estate's package build");
        let unknown = Invocation { host: "nope.contoso.local".into(), ..invocation };
        assert!(unknown.execute(&mut estate).is_none());
    }

    #[test]
    fn a_key_based_ssh_logon_cannot_reach_another_machines_sql_server() {
        let topology = sfbpatch_core::topology::load(
            sfbpatch_core::example::NAME,
            sfbpatch_core::example::TOPOLOGY_XML.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut estate = Estate::new(&topology, &crate::estate::EstateOptions::default());
        let ask = |key_logon: bool| Invocation {
            host: "fe01.contoso.local".into(),
            script: "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'".into(),
            step: None,
            time_scale: None,
            disk: None,
            key_logon,
        };
        let x = ask(true).execute(&mut estate).unwrap_or_else(|| panic!("no host"));
        assert!(!x.succeeded() && x.stderr.contains("ANONYMOUS LOGON"), "{x:?}");
        assert!(estate.host("fe01.contoso.local").is_some_and(|h| h.network_credentials), "the host keeps its own");
        let x = ask(false).execute(&mut estate).unwrap_or_else(|| panic!("no host"));
        assert!(x.succeeded(), "an interactive logon has them: {x:?}");
    }
}

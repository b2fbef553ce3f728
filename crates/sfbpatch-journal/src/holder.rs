//! Who holds a lease: the host name, process id and process start time of the process that
//! took it, and whether that process is still alive on this host.
//!
//! A pid alone is not an identity (pids are reused): the start time is recorded beside it,
//! and a process is the holder only when both match. On Linux the start time is field 22
//! (`starttime`, clock ticks after boot) of `/proc/PID/stat` (proc(5)); elsewhere it is not
//! read, and a holder's liveness is unknown (treated as not alive: `--force-recover` behaves as
//! before there).

/// The process that holds a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderProcess {
    /// The host name it ran on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its start time (see the module), when known.
    pub start: Option<u64>,
}

impl HolderProcess {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self { host: host_name(), pid, start: start_time(pid) }
    }

    /// Whether this holder is a process running now on this host (and not this process):
    /// same host name, same pid and same start time. Unknown (no start time) is `false`.
    pub fn alive_elsewhere(&self) -> bool {
        let me = Self::current();
        self.start.is_some() && self.host == me.host && *self != me && start_time(self.pid) == self.start
    }
}

/// This host's name: the kernel's (`/proc/sys/kernel/hostname`, Linux), else `COMPUTERNAME`
/// or `HOSTNAME`, else `localhost`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The start time of process `pid` (`starttime`, the 22nd field of `/proc/PID/stat`; the
/// second field, the command name in parentheses, may hold spaces and parentheses, so the
/// fields are counted after its last `)`), or `None` when there is no such process or it has
/// ended: a zombie (state `Z`, killed but not yet reaped by its parent) or a dead one (`X`)
/// keeps its `/proc` entry but runs nothing (proc(5)).
#[cfg(target_os = "linux")]
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // After the command name: field 3 (state) is the first, so field 22 is the 20th.
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Not read outside Linux: a holder's liveness is unknown there.
#[cfg(not(target_os = "linux"))]
pub fn start_time(_pid: u32) -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time_and_is_not_alive_elsewhere() {
        let me = HolderProcess::current();
        assert!(me.start.is_some());
        assert!(!me.alive_elsewhere());
    }

    #[test]
    fn a_killed_child_not_yet_reaped_is_not_alive() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap_or_else(|e| panic!("{e}"));
        assert!(start_time(child.id()).is_some());
        let _ = child.kill();
        // Until the parent waits, the child is a zombie with its /proc entry.
        let stat = format!("/proc/{}/stat", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z ")) {
            assert!(std::time::Instant::now() < deadline, "the killed child never became a zombie");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(std::fs::read_to_string(&stat).is_ok(), "a zombie keeps its /proc entry");
        assert_eq!(start_time(child.id()), None, "a zombie runs nothing");
        let _ = child.wait();
    }

    #[test]
    fn a_running_child_is_alive_and_not_once_reaped_or_with_another_start_time() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap_or_else(|e| panic!("{e}"));
        let h = HolderProcess { host: host_name(), pid: child.id(), start: start_time(child.id()) };
        assert!(h.alive_elsewhere());
        let reused = HolderProcess { start: h.start.map(|s| s + 1), ..h.clone() };
        assert!(!reused.alive_elsewhere(), "a pid reused by another process is not the holder");
        let elsewhere = HolderProcess { host: format!("{}-other", h.host), ..h.clone() };
        assert!(!elsewhere.alive_elsewhere(), "another host's process is not checked");
        let _ = child.kill();
        let _ = child.wait();
        assert!(!h.alive_elsewhere());
    }
}

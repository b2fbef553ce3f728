//! Reading back a server's state from the text its commands print: the same parsers serve
//! the simulator's output and a real server's (PowerShell's default table formatting).
//! Postconditions are checked from what the host says, never assumed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A product build such as `7.0.2046.530`, compared part by part.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Build(pub [u32; 4]);

impl FromStr for Build {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        if parts.len() != 4 {
            return Err(format!("{s:?} is not a build like 7.0.2046.0"));
        }
        let mut out = [0u32; 4];
        for (o, p) in out.iter_mut().zip(&parts) {
            *o = p.parse().map_err(|_| format!("{s:?} is not a build like 7.0.2046.0"))?;
        }
        Ok(Build(out))
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl Serialize for Build {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Build {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A Windows service and its status, as `Get-CsWindowsService` or `Get-Service` print them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Service name (`RTCSRV`, `W3SVC`).
    pub name: String,
    /// Status (`Running`, `Stopped`, …).
    pub status: String,
}

impl ServiceStatus {
    /// Whether the status is `Running`.
    pub fn is_running(&self) -> bool {
        self.status.eq_ignore_ascii_case("Running")
    }
}

const STATUSES: [&str; 7] =
    ["Running", "Stopped", "StartPending", "StopPending", "Paused", "PausePending", "ContinuePending"];

/// Parses a service table (`Status Name …` columns). Header and rule lines are skipped.
pub fn parse_services(text: &str) -> Vec<ServiceStatus> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let status = it.next()?;
            let name = it.next()?;
            STATUSES
                .iter()
                .find(|s| s.eq_ignore_ascii_case(status))
                .map(|s| ServiceStatus { name: name.to_owned(), status: (*s).to_owned() })
        })
        .collect()
}

/// Parses the installed builds a server reports, as (component, build): every row of
/// `Get-CsServerPatchVersion`'s table holding a build, and (Lync Server 2013, which has no such
/// cmdlet) the server product's entries among the installed products that
/// [`crate::runbook::build_readback`] lists ([`parse_installed_products`]). Lines in list
/// format (`Name : value`) are never table rows.
pub fn parse_patch_versions(text: &str) -> Vec<(String, Build)> {
    let mut out = parse_installed_products(text);
    out.extend(text.lines().filter(|l| list_line(l).is_none()).filter_map(|l| {
        let (i, b) = l.split_whitespace().enumerate().find_map(|(i, t)| t.parse::<Build>().ok().map(|b| (i, b)))?;
        let component: Vec<&str> = l.split_whitespace().take(i).collect();
        Some((component.join(" "), b))
    }));
    out
}

/// A line of PowerShell's list format, `Name : value`, as (name, value).
fn list_line(l: &str) -> Option<(&str, &str)> {
    let (k, v) = l.split_once(':')?;
    let k = k.trim();
    let is_name = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (is_name && v.starts_with(' ')).then(|| (k, v.trim()))
}

/// Components the cumulative update does not touch: separate downloads that keep their own
/// version (docs/research/issue11-products.md §2).
const NOT_UPDATED: [&str; 2] = ["Debugging Tools", "Resource Kit"];

/// The server product's components among installed products printed in list format
/// (`Get-ItemProperty` over the Uninstall key: one block per product, `DisplayName` and
/// `DisplayVersion` in it), as (display name, build): entries named like
/// `Microsoft Lync Server 2013, Core Components` or `Skype for Business Server 2015, Front End
/// Server`. Every other product (SQL Server, runtimes, …) and the separately installed tools
/// are left out.
pub fn parse_installed_products(text: &str) -> Vec<(String, Build)> {
    let mut out = Vec::new();
    let (mut name, mut version): (Option<&str>, Option<Build>) = (None, None);
    let mut flush = |name: &mut Option<&str>, version: &mut Option<Build>| {
        if let (Some(n), Some(b)) = (name.take(), version.take()) {
            let server = (n.contains("Lync Server") || n.contains("Skype for Business Server")) && n.contains(", ");
            if server && !NOT_UPDATED.iter().any(|t| n.contains(t)) {
                out.push((n.to_owned(), b));
            }
        }
    };
    for l in text.lines() {
        if l.trim().is_empty() {
            flush(&mut name, &mut version);
            continue;
        }
        match list_line(l) {
            Some(("DisplayName", v)) => name = Some(v),
            Some(("DisplayVersion", v)) => version = v.parse().ok(),
            _ => {}
        }
    }
    flush(&mut name, &mut version);
    out
}

/// Whether `Get-CsAdminRoleAssignment` output lists `role`.
pub fn has_role(text: &str, role: &str) -> bool {
    text.split_whitespace().any(|t| t.eq_ignore_ascii_case(role))
}

/// The SHA-256 in `Get-FileHash` output (upper- or lower-case hex), lower-cased.
pub fn parse_file_hash(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|t| t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

/// The free space of `drive` (`C`) in bytes, from `Get-PSDrive -Name 'C'` output
/// (`Name Used (GB) Free (GB) Provider Root`).
pub fn parse_free_bytes(text: &str, drive: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        if !it.next()?.eq_ignore_ascii_case(drive) {
            return None;
        }
        let _used: f64 = it.next()?.parse().ok()?;
        let free: f64 = it.next()?.parse().ok()?;
        Some((free * 1024.0 * 1024.0 * 1024.0) as u64)
    })
}

/// Whether a failed `net start` / `net stop` only says the service was already in the state
/// asked for: `NET HELPMSG 2182` ("already been started") or `3521` ("is not started"). The
/// message numbers do not depend on the server's language. The step's postcondition holds.
pub fn net_already_in_state(start: bool, exit_code: i32, output: &str) -> bool {
    let code = if start { "2182" } else { "3521" };
    exit_code == 2 && output.contains(&format!("HELPMSG {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_powershell_service_tables() {
        let t = "\nStatus   Name               ActivityLevel\n------   ----               -------------\nRunning  RTCCLSAGT\nStopped  RTCSRV             Inactive\n";
        let s = parse_services(t);
        assert_eq!(s.len(), 2);
        assert!(s[0].is_running());
        assert_eq!(s[1].name, "RTCSRV");
        assert!(!s[1].is_running());
    }

    #[test]
    fn parses_patch_versions_and_compares_builds() {
        let t = "ComponentName    Version    Update\n-------------  -------  ------\nSkype for Business Server 2019, Core Components 7.0.2046.530 KB0000000\n";
        let v = parse_patch_versions(t);
        assert_eq!(v, [("Skype for Business Server 2019, Core Components".to_owned(), Build([7, 0, 2046, 530]))]);
        assert!("7.0.2046.530".parse::<Build>().ok() > "7.0.2046.99".parse::<Build>().ok());
        assert!("7.0.2046".parse::<Build>().is_err());
    }

    #[test]
    fn reads_a_lync_servers_builds_from_its_installed_products() {
        let t = "\nStatus   Name     DisplayName\n------   ----     -----------\nRunning  RTCSRV   Lync Server Front-End\n\n\
DisplayName     : Microsoft Lync Server 2013, Core Components\nDisplayVersion  : 5.0.8308.1182\nPSChildName     : {8901ADF0-0001-0000-0000-000000000000}\n\n\
DisplayName     : Microsoft SQL Server 2012 Native Client\nDisplayVersion  : 11.0.2100.60\nPSPath          : Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\x\n\n\
DisplayName     : Microsoft Lync Server 2013, Front End Server\nDisplayVersion  : 5.0.8308.1001\n\n\
DisplayName     : Microsoft Lync Server 2013, Debugging Tools\nDisplayVersion  : 5.0.8308.0\n\n\
DisplayVersion  : 1.0.0.0\n";
        let v = parse_patch_versions(t);
        assert_eq!(
            v,
            [
                ("Microsoft Lync Server 2013, Core Components".to_owned(), Build([5, 0, 8308, 1182])),
                ("Microsoft Lync Server 2013, Front End Server".to_owned(), Build([5, 0, 8308, 1001])),
            ]
        );
        // The same text without a server product lists nothing (never a runtime's version).
        assert!(
            parse_patch_versions("DisplayName : Microsoft Visual C++ 2013 x64\nDisplayVersion : 12.0.40660.0\n")
                .is_empty()
        );
    }

    #[test]
    fn net_already_started_or_stopped_is_recognised() {
        assert!(net_already_in_state(
            true,
            2,
            "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182."
        ));
        assert!(net_already_in_state(
            false,
            2,
            "The service is not started.\n\nMore help is available by typing NET HELPMSG 3521."
        ));
        assert!(!net_already_in_state(true, 2, "More help is available by typing NET HELPMSG 3521."));
        assert!(!net_already_in_state(true, 1, "NET HELPMSG 2182"));
    }

    #[test]
    fn reads_free_space_of_a_drive() {
        let t = "\nName           Used (GB)     Free (GB) Provider      Root\n----           ---------     --------- --------      ----\nC                  40.12         59.88 FileSystem    C:\\\n";
        let free = parse_free_bytes(t, "C").unwrap_or(0);
        assert!(free > 59 * 1024 * 1024 * 1024 && free < 60 * 1024 * 1024 * 1024);
        assert_eq!(parse_free_bytes(t, "D"), None);
    }

    #[test]
    fn finds_roles_and_hashes() {
        assert!(has_role("Identity : CsAdministrator\n", "CsAdministrator"));
        assert!(!has_role("CsUserAdministrator", "CsAdministrator"));
        let h = "A".repeat(64);
        assert_eq!(parse_file_hash(&format!("SHA256 {h} C:\\x")), Some("a".repeat(64)));
    }
}

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

/// The integrity level of a token, from its mandatory label's SID (`S-1-16-<rid>`; Microsoft's
/// well-known SIDs, https://learn.microsoft.com/windows/win32/secauthz/well-known-sids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Integrity {
    /// `S-1-16-0`, `S-1-16-4096`: untrusted or low.
    Low,
    /// `S-1-16-8192`, `S-1-16-8448`: medium (a filtered UAC token, not elevated).
    Medium,
    /// `S-1-16-12288`: high (an elevated administrator).
    High,
    /// `S-1-16-16384` and above: system, protected process.
    System,
}

impl Integrity {
    fn from_sid(sid: &str) -> Option<Self> {
        let rid: u32 = sid.strip_prefix("S-1-16-")?.parse().ok()?;
        Some(match rid {
            0..8192 => Integrity::Low,
            8192..12288 => Integrity::Medium,
            12288..16384 => Integrity::High,
            _ => Integrity::System,
        })
    }
}

/// What `whoami /groups /fo csv /nh` says of the session's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token's integrity level (its `Mandatory Label` line).
    pub integrity: Integrity,
    /// `BUILTIN\Administrators` (`S-1-5-32-544`, the same in every language) is in the
    /// token, enabled or (a filtered UAC token) for deny only: the account is a local
    /// administrator.
    pub administrators: bool,
    /// Every group's name as printed (`CONTOSO\RTCUniversalServerAdmins`).
    pub groups: Vec<String>,
}

impl Token {
    /// The process is elevated: an integrity level of High or above. A UAC-filtered token of
    /// an administrator carries Medium and its Administrators SID only "for deny only"
    /// (SE_GROUP_USE_FOR_DENY_ONLY, "SID Attributes in an Access Token"): it cannot stop
    /// services (DOMAIN.md §5).
    pub fn elevated(&self) -> bool {
        self.integrity >= Integrity::High
    }

    /// Whether the token holds the domain (or local) group `name`, compared without its
    /// `DOMAIN\` prefix, case-insensitively (Active Directory group names are not translated).
    pub fn member_of(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g.rsplit('\\').next().unwrap_or(g).eq_ignore_ascii_case(name))
    }
}

/// The fields of one CSV line as `whoami /fo csv` writes it: every field in double quotes, a
/// quote inside doubled.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Reads `whoami /groups /fo csv /nh` output (`"Group Name","Type","SID","Attributes"` per
/// line; the whoami reference). Groups are recognised by SID where Windows translates names
/// (Administrators, the integrity label); `None` when no mandatory label is listed (not
/// whoami's answer: the token always has one).
pub fn parse_token(text: &str) -> Option<Token> {
    let (mut integrity, mut administrators, mut groups) = (None, false, Vec::new());
    for fields in text.lines().map(csv_fields).filter(|f| f.len() >= 3 && f[2].starts_with("S-1-")) {
        let sid = fields[2].trim();
        if let Some(level) = Integrity::from_sid(sid) {
            integrity = Some(level);
            continue;
        }
        administrators |= sid == "S-1-5-32-544";
        groups.push(fields[0].trim().to_owned());
    }
    Some(Token { integrity: integrity?, administrators, groups })
}

/// What `sqlcmd -h -1 -Q "SELECT IS_SRVROLEMEMBER('sysadmin')"` printed: `Some(true)` for
/// `1`, `Some(false)` for `0` or `NULL` (the function's answers: member, not a member, role or
/// login not valid; Transact-SQL reference), `None` when no such value was printed.
pub fn parse_sysadmin(text: &str) -> Option<bool> {
    text.lines().map(str::trim).rfind(|l| matches!(*l, "0" | "1" | "NULL")).map(|v| v == "1")
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

    // A token as `whoami /groups /fo csv /nh` prints it: the columns and attribute words of
    // the whoami reference's table format, the SIDs of Microsoft's well-known SIDs page
    // (integrity labels S-1-16-8192 Medium, S-1-16-12288 High; Administrators S-1-5-32-544,
    // "Group used for deny only" in a UAC-filtered token: "SID Attributes in an Access
    // Token"). Composed in that format, not captured from a server.
    const ELEVATED: &str = "\"Everyone\",\"Well-known group\",\"S-1-1-0\",\"Mandatory group, Enabled by default, Enabled group\"\r\n\
\"BUILTIN\\Administrators\",\"Alias\",\"S-1-5-32-544\",\"Mandatory group, Enabled by default, Enabled group, Group owner\"\r\n\
\"BUILTIN\\Users\",\"Alias\",\"S-1-5-32-545\",\"Mandatory group, Enabled by default, Enabled group\"\r\n\
\"NT AUTHORITY\\NETWORK\",\"Well-known group\",\"S-1-5-2\",\"Mandatory group, Enabled by default, Enabled group\"\r\n\
\"CONTOSO\\RTCUniversalServerAdmins\",\"Group\",\"S-1-5-21-1004336348-1177238915-682003330-1106\",\"Mandatory group, Enabled by default, Enabled group\"\r\n\
\"Mandatory Label\\High Mandatory Level\",\"Label\",\"S-1-16-12288\",\"\"\r\n";

    #[test]
    fn reads_an_elevated_administrators_token() {
        let t = parse_token(ELEVATED).unwrap_or_else(|| panic!("a token"));
        assert_eq!(t.integrity, Integrity::High);
        assert!(t.elevated() && t.administrators);
        assert!(t.member_of("RTCUniversalServerAdmins") && t.member_of("rtcuniversalserveradmins"));
        assert!(!t.member_of("RTCUniversalReadOnlyAdmins"));
        assert_eq!(t.groups.len(), 5, "{:?}", t.groups);
    }

    #[test]
    fn a_filtered_token_is_an_administrator_but_not_elevated() {
        let filtered = ELEVATED
            .replace(
                "\"S-1-5-32-544\",\"Mandatory group, Enabled by default, Enabled group, Group owner\"",
                "\"S-1-5-32-544\",\"Group used for deny only\"",
            )
            .replace(
                "High Mandatory Level\",\"Label\",\"S-1-16-12288\"",
                "Medium Mandatory Level\",\"Label\",\"S-1-16-8192\"",
            );
        let t = parse_token(&filtered).unwrap_or_else(|| panic!("a token"));
        assert_eq!((t.integrity, t.administrators, t.elevated()), (Integrity::Medium, true, false));
        // Not an administrator at all: no S-1-5-32-544, whatever the names' language.
        let user = filtered.lines().filter(|l| !l.contains("S-1-5-32-544")).collect::<Vec<_>>().join("\n");
        let t = parse_token(&user.replace("BUILTIN\\Users", "BUILTIN\\Usuarios")).unwrap_or_else(|| panic!("a token"));
        assert!(!t.administrators && !t.elevated());
        // A Spanish server names the group otherwise: the SID decides.
        let es = ELEVATED.replace("BUILTIN\\Administrators", "BUILTIN\\Administradores");
        assert!(parse_token(&es).is_some_and(|t| t.administrators && t.elevated()));
    }

    #[test]
    fn anything_but_whoamis_answer_is_no_token() {
        assert_eq!(parse_token(""), None);
        assert_eq!(parse_token("whoami : The term 'whoami' is not recognized"), None);
        assert_eq!(parse_token(&ELEVATED.replace("S-1-16-12288", "high")), None, "no label, no token");
        assert_eq!(csv_fields("\"a,b\",\"say \"\"hi\"\"\",\"\""), ["a,b", "say \"hi\"", ""]);
    }

    #[test]
    fn reads_is_srvrolemember() {
        // `-h -1` leaves the value alone on its line, right-aligned in the int column;
        // SET NOCOUNT ON removes "(1 rows affected)".
        assert_eq!(parse_sysadmin("          1\r\n"), Some(true));
        assert_eq!(parse_sysadmin("          0\n"), Some(false));
        assert_eq!(parse_sysadmin("NULL\n"), Some(false));
        // Without -h -1: header and rule first.
        assert_eq!(parse_sysadmin("\n-----------\n          1\n"), Some(true));
        assert_eq!(
            parse_sysadmin(
                "Sqlcmd: Error: Microsoft ODBC Driver 11 for SQL Server : Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'..\n"
            ),
            None
        );
    }
}

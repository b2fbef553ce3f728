//! The commands the engine sends besides the runbook's steps: read-backs (postconditions,
//! the build before, the state after a failure), the free-space check before staging, a
//! restart and its stages, and the installer's logs. Every one is rendered here, from
//! validated words and literals, so that no other crate writes PowerShell of its own.

use sfbpatch_pwsh::{Arg, Command, Word};

use crate::runbook::{Product, build_readback};

/// A command the engine sends that is not a step of the runbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `Get-CsServerPatchVersion`: the installed build of each component (DOMAIN.md §2:
    /// the way to check that an update took). Skype for Business Server only: use
    /// [`Probe::builds`] for a server's own product.
    PatchVersions,
    /// Lync Server 2013 has no `Get-CsServerPatchVersion` (DOMAIN.md §5): the installed
    /// products' versions from the Uninstall key ([`crate::runbook::build_readback`]).
    InstalledProducts,
    /// `Get-CsWindowsService`: the state of every Skype for Business service.
    SfbServices,
    /// `Get-Service -Name 'W3SVC'`: IIS.
    W3svc,
    /// `Get-PSDrive -Name <drive>`: free space on the drive the package is staged on.
    FreeSpace {
        /// The drive letter.
        drive: String,
    },
    /// `net statistics workstation`: its "Statistics since" line changes when the host restarts.
    BootTime,
    /// `Restart-Computer -Force`.
    Restart,
    /// The three places Windows records a pending restart (DOMAIN.md §5): Component Based
    /// Servicing's `RebootPending` key, Windows Update's `RebootRequired` key, and the Session
    /// Manager's `PendingFileRenameOperations` value. An install on a server with a restart
    /// pending is the classic cause of 1603.
    PendingRestart,
    /// `Reset-CsPoolRegistrarState -PoolFqdn <pool> -ResetType QuorumLossRecovery -Confirm:$false`:
    /// the documented recovery of a pool with missing replicas (`-PoolFqdn` is required and the
    /// cmdlet asks for confirmation: docs/research/issue10-sources.md §2.5). Offered, never run
    /// by itself.
    ResetRegistrar {
        /// The pool.
        pool: String,
    },
    /// `Get-Content -Path <dir>\*.log`: the installer writes its logs into the folder it runs from.
    InstallLogs {
        /// The run's staging folder on the server.
        dir: String,
    },
    /// `whoami /groups /fo csv /nh`: the groups of the session's token, one CSV line each, with
    /// its integrity label (read by [`crate::readback::parse_token`]). `whoami` is a console
    /// program of every Windows, so it sets `$LASTEXITCODE` and needs no module; `/fo csv`
    /// and `/nh` are its documented options for machine-readable output
    /// (https://learn.microsoft.com/windows-server/administration/windows-commands/whoami).
    /// Elevation, local administrator rights and domain groups such as RTCUniversalServerAdmins
    /// are all read from this one answer (DOMAIN.md §5).
    Groups,
    /// `Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn <sql>`: read-only, the SQL
    /// instances the topology places on `sql` (each database's `SqlInstanceName`), so that the
    /// account's rights are checked on every instance the database update will touch.
    ConfiguredDatabases {
        /// The SQL Server (cluster or listener FQDN).
        sql: String,
    },
    /// `sqlcmd -S <server> -E -b -h -1 -Q "SET NOCOUNT ON; SELECT IS_SRVROLEMEMBER('sysadmin')"`:
    /// whether the account that will run `Install-CsDatabase` is a sysadmin of the SQL Server
    /// instance `server` (`fqdn` or `fqdn\instance`), read with its own Windows logon (`-E`).
    /// Harmless: one `SELECT`, no change. `Install-CsDatabase` needs sysadmin rights on the
    /// target (DOMAIN.md §4 rule 8; Microsoft's "Move the legacy Central Management Server to
    /// Skype for Business Server 2019": "You must also have SQL Server database sysadmin user
    /// rights and permissions on the database where you want to install the Central Management
    /// store", Skype/SfBServer2019/migration/move-the-central-management-server.md).
    /// `sqlcmd` is there on every server that runs the database steps: Skype for Business
    /// Server installs SQL Server Express for its local stores (RTCLOCAL, LYSS; "Server
    /// requirements for Skype for Business Server 2015"), whose setup installs the
    /// command-line utilities (field knowledge, UNVERIFIED in the stored pages; where it is
    /// missing the check fails with PowerShell's "not recognized" and the run is refused with
    /// it). `-b`: "sqlcmd exits and returns a DOS ERRORLEVEL value when an error occurs … 1
    /// when the SQL Server error message has a severity level greater than 10" (sqlcmd
    /// utility reference), so a failed logon (error 18456, severity 14) or an unreachable
    /// server ends with exit code 1; `-h -1` prints no column header.
    SqlSysadmin {
        /// `fqdn` or `fqdn\instance` ([`sql_target`]).
        server: String,
    },
}

/// The `sqlcmd -S` value of an instance: the FQDN alone for the default instance (empty
/// name), else `fqdn\instance` (the sqlcmd reference: `-S [protocol:]server[\instance_name]`).
pub fn sql_target(sql: &str, instance: &str) -> String {
    if instance.is_empty() { sql.to_owned() } else { format!("{sql}\\{instance}") }
}

/// The query [`Probe::SqlSysadmin`] sends: one `SELECT`, `NOCOUNT` so that no row count
/// follows the value.
pub const SYSADMIN_QUERY: &str = "SET NOCOUNT ON; SELECT IS_SRVROLEMEMBER('sysadmin')";

const CBS_REBOOT_PENDING: &str =
    r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending";
const WU_REBOOT_REQUIRED: &str =
    r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired";
const SESSION_MANAGER: &str = r"HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager";

/// What the output of [`Probe::PendingRestart`] says: `Some(true)` when a restart is pending
/// (a key present or the pending renames listed), `Some(false)` when both keys were read
/// absent and no renames listed, `None` when the keys were not read (the answer is not
/// `Test-Path`'s two lines): unknown.
pub fn restart_state(stdout: &str) -> Option<bool> {
    if restart_pending(stdout) {
        return Some(true);
    }
    let read = stdout.lines().filter(|l| l.trim().eq_ignore_ascii_case("False")).count();
    (read >= 2).then_some(false)
}

/// Whether the output of [`Probe::PendingRestart`] shows a restart pending: a key present
/// (`True`), or the pending file renames listed.
pub fn restart_pending(stdout: &str) -> bool {
    stdout.lines().any(|l| {
        let l = l.trim();
        l.eq_ignore_ascii_case("True") || l.starts_with("PendingFileRenameOperations")
    })
}

fn word(s: &'static str) -> Word {
    Word::fixed(s)
}

impl Probe {
    /// The read-back of the installed builds on a server running `product`.
    pub fn builds(product: Product) -> Probe {
        if product.has_patch_version_cmdlet() { Probe::PatchVersions } else { Probe::InstalledProducts }
    }

    /// The command, rendered.
    pub fn command(&self) -> String {
        let c = match self {
            Probe::PatchVersions => build_readback(Product::Sfb2019),
            Probe::InstalledProducts => build_readback(Product::Lync2013),
            Probe::SfbServices => Command::named(word("Get-CsWindowsService")),
            Probe::W3svc => Command::named(word("Get-Service")).arg(Arg::Named(word("Name"), "W3SVC".into())),
            Probe::FreeSpace { drive } => {
                Command::named(word("Get-PSDrive")).arg(Arg::Named(word("Name"), drive.clone()))
            }
            Probe::BootTime => {
                Command::named(word("net")).arg(Arg::Bare(word("statistics"))).arg(Arg::Bare(word("workstation")))
            }
            Probe::Restart => Command::named(word("Restart-Computer")).arg(Arg::Switch(word("Force"))),
            Probe::PendingRestart => {
                let test = |key: &str| {
                    Command::named(word("Test-Path")).arg(Arg::Named(word("Path"), key.to_owned())).render()
                };
                let value = Command::named(word("Get-ItemProperty"))
                    .arg(Arg::Named(word("Path"), SESSION_MANAGER.to_owned()))
                    .arg(Arg::Named(word("Name"), "PendingFileRenameOperations".to_owned()))
                    .render();
                return format!("{}; {}; {value}", test(CBS_REBOOT_PENDING), test(WU_REBOOT_REQUIRED));
            }
            Probe::ResetRegistrar { pool } => Command::named(word("Reset-CsPoolRegistrarState"))
                .arg(Arg::Named(word("PoolFqdn"), pool.clone()))
                .arg(Arg::Named(word("ResetType"), "QuorumLossRecovery".into()))
                .arg(Arg::Raw("-Confirm:$false")),
            Probe::InstallLogs { dir } => {
                Command::named(word("Get-Content")).arg(Arg::Named(word("Path"), format!("{dir}\\*.log")))
            }
            Probe::Groups => ["/groups", "/fo", "csv", "/nh"]
                .into_iter()
                .fold(Command::named(word("whoami")), |c, a| c.arg(Arg::Bare(word(a)))),
            Probe::ConfiguredDatabases { sql } => Command::named(word("Test-CsDatabase"))
                .arg(Arg::Switch(word("ConfiguredDatabases")))
                .arg(Arg::Named(word("SqlServerFqdn"), sql.clone())),
            Probe::SqlSysadmin { server } => Command::named(word("sqlcmd"))
                .arg(Arg::Named(word("S"), server.clone()))
                .arg(Arg::Switch(word("E")))
                .arg(Arg::Switch(word("b")))
                .arg(Arg::Named(word("h"), "-1".to_owned()))
                .arg(Arg::Named(word("Q"), SYSADMIN_QUERY.to_owned())),
        };
        c.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_render_as_an_administrator_would_type_them() {
        let cases = [
            (Probe::PatchVersions, "Get-CsServerPatchVersion"),
            (
                Probe::InstalledProducts,
                "Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'",
            ),
            (
                Probe::builds(Product::Lync2013),
                "Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'",
            ),
            (Probe::builds(Product::Sfb2015), "Get-CsServerPatchVersion"),
            (Probe::SfbServices, "Get-CsWindowsService"),
            (Probe::W3svc, "Get-Service -Name 'W3SVC'"),
            (Probe::FreeSpace { drive: "C".into() }, "Get-PSDrive -Name 'C'"),
            (Probe::BootTime, "net statistics workstation"),
            (Probe::Restart, "Restart-Computer -Force"),
            (
                Probe::ResetRegistrar { pool: "pool01.contoso.local".into() },
                "Reset-CsPoolRegistrarState -PoolFqdn 'pool01.contoso.local' -ResetType 'QuorumLossRecovery' -Confirm:$false",
            ),
            (Probe::InstallLogs { dir: "C:\\stage\\r1".into() }, "Get-Content -Path 'C:\\stage\\r1\\*.log'"),
            (Probe::Groups, "whoami /groups /fo csv /nh"),
            (
                Probe::ConfiguredDatabases { sql: "sql01.contoso.local".into() },
                "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'",
            ),
            (
                Probe::SqlSysadmin { server: sql_target("sql01.contoso.local", "rtc") },
                "sqlcmd -S 'sql01.contoso.local\\rtc' -E -b -h '-1' -Q 'SET NOCOUNT ON; SELECT IS_SRVROLEMEMBER(''sysadmin'')'",
            ),
            (
                Probe::SqlSysadmin { server: sql_target("sql01.contoso.local", "") },
                "sqlcmd -S 'sql01.contoso.local' -E -b -h '-1' -Q 'SET NOCOUNT ON; SELECT IS_SRVROLEMEMBER(''sysadmin'')'",
            ),
        ];
        for (probe, want) in cases {
            assert_eq!(probe.command(), want);
            assert!(sfbpatch_pwsh::syntax::parse(&probe.command()).is_ok(), "{want} parses");
        }
    }

    #[test]
    fn a_pending_restart_is_read_from_its_three_places() {
        let c = Probe::PendingRestart.command();
        assert!(c.starts_with("Test-Path -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending'; "), "{c}");
        assert!(c.contains("WindowsUpdate\\Auto Update\\RebootRequired'"), "{c}");
        assert!(c.ends_with("-Name 'PendingFileRenameOperations'"), "{c}");
        assert!(sfbpatch_pwsh::syntax::parse(&c).is_ok());
        assert!(!restart_pending("False\nFalse\n"));
        assert_eq!(restart_state("False\nFalse\n"), Some(false));
        assert_eq!(restart_state("True\nFalse\n"), Some(true));
        assert_eq!(restart_state(""), None, "nothing read: unknown, never 'no restart pending'");
        assert_eq!(restart_state("False\n"), None);
        assert!(restart_pending("True\nFalse\n"));
        assert!(restart_pending("False\nFalse\n\nPendingFileRenameOperations : {\\??\\C:\\x}\n"));
    }

    #[test]
    fn a_hostile_sql_server_name_stays_one_literal() {
        let p = Probe::SqlSysadmin { server: "x' -Q 'DROP DATABASE rtc".into() };
        assert_eq!(
            p.command(),
            "sqlcmd -S 'x'' -Q ''DROP DATABASE rtc' -E -b -h '-1' -Q 'SET NOCOUNT ON; SELECT IS_SRVROLEMEMBER(''sysadmin'')'"
        );
        let parsed = sfbpatch_pwsh::syntax::parse(&p.command()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(format!("{parsed:?}").matches("DROP").count(), 1, "{parsed:?}");
    }

    #[test]
    fn a_hostile_folder_stays_one_literal() {
        let p = Probe::InstallLogs { dir: "C:\\x'; Remove-Item C:\\ -Recurse; '".into() };
        assert_eq!(p.command(), "Get-Content -Path 'C:\\x''; Remove-Item C:\\ -Recurse; ''\\*.log'");
    }
}

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
}

const CBS_REBOOT_PENDING: &str =
    r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending";
const WU_REBOOT_REQUIRED: &str =
    r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired";
const SESSION_MANAGER: &str = r"HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager";

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
        assert!(restart_pending("True\nFalse\n"));
        assert!(restart_pending("False\nFalse\n\nPendingFileRenameOperations : {\\??\\C:\\x}\n"));
    }

    #[test]
    fn a_hostile_folder_stays_one_literal() {
        let p = Probe::InstallLogs { dir: "C:\\x'; Remove-Item C:\\ -Recurse; '".into() };
        assert_eq!(p.command(), "Get-Content -Path 'C:\\x''; Remove-Item C:\\ -Recurse; ''\\*.log'");
    }
}

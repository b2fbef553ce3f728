//! The product being updated (installer, switches, module, read-back of its build) and how
//! its installer's exit code is read.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sfbpatch_pwsh::{Arg, Command};

use super::command::word;

/// The product being updated: it decides the installer's name and switches and the
/// Management Shell module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Product {
    /// Lync Server 2013.
    Lync2013,
    /// Skype for Business Server 2015.
    Sfb2015,
    /// Skype for Business Server 2019 (the default).
    #[default]
    Sfb2019,
    /// Skype for Business Server Subscription Edition.
    SfbSe,
}

impl Product {
    /// Every product, for help texts.
    pub const ALL: [Product; 4] = [Product::Lync2013, Product::Sfb2015, Product::Sfb2019, Product::SfbSe];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Lync2013 => "lync2013",
            Product::Sfb2015 => "sfb2015",
            Product::Sfb2019 => "sfb2019",
            Product::SfbSe => "sfbse",
        }
    }

    /// The cumulative-update installer's usual file name.
    pub fn installer_name(self) -> &'static str {
        match self {
            Product::Lync2013 => "LyncServerUpdateInstaller.exe",
            _ => "SkypeServerUpdateInstaller.exe",
        }
    }

    /// The installer's default switches for an unattended run.
    pub fn installer_switches(self) -> &'static [&'static str] {
        &["/silentmode"]
    }

    /// The PowerShell module of the Management Shell.
    pub fn shell_module(self) -> &'static str {
        match self {
            Product::Lync2013 => "Lync",
            _ => "SkypeForBusiness",
        }
    }

    /// The product of a topology service's `ServiceVersion` (docs/research/issue11-products.md
    /// §1): 6 Lync Server 2013, 7 Skype for Business Server 2015, 8 Skype for Business Server
    /// 2019. Any other value (5 is Lync Server 2010, which sfbpatch does not update; the
    /// Subscription Edition's is not published) names no product.
    pub fn from_service_version(v: u32) -> Option<Product> {
        match v {
            6 => Some(Product::Lync2013),
            7 => Some(Product::Sfb2015),
            8 => Some(Product::Sfb2019),
            _ => None,
        }
    }

    /// The release order (newer is greater).
    pub fn generation(self) -> u8 {
        match self {
            Product::Lync2013 => 0,
            Product::Sfb2015 => 1,
            Product::Sfb2019 => 2,
            Product::SfbSe => 3,
        }
    }

    /// Whether the product has `Get-CsServerPatchVersion`: from the Skype for Business
    /// Server 2015 November 2015 cumulative update on; Lync Server 2013 has no such cmdlet
    /// (DOMAIN.md §5; the cmdlet reference, docs/research/issue11-products.md §2).
    pub fn has_patch_version_cmdlet(self) -> bool {
        self != Product::Lync2013
    }

    /// Whether the product has `Invoke-CsComputerFailOver`/`-FailBack` (introduced in Skype
    /// for Business Server 2015; a Lync Server 2013 Front End is updated by upgrade domain,
    /// docs/research/issue11-products.md §3).
    pub fn has_computer_failover(self) -> bool {
        self != Product::Lync2013
    }
}

/// The Uninstall key of 64-bit Windows Installer products: their `DisplayName` and
/// `DisplayVersion` are what Programs and Features shows (docs/research/issue11-products.md §2).
pub const UNINSTALL_KEYS: &str = r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*";

/// The command that reads back the installed build of each component of `product`:
/// `Get-CsServerPatchVersion` where the product has it, else (Lync Server 2013) the installed
/// products' entries of the Uninstall key, read without `Win32_Product` (whose query runs a
/// Windows Installer consistency check of every product: KB974524). Parsed by
/// [`crate::readback::parse_patch_versions`].
pub fn build_readback(product: Product) -> Command {
    if product.has_patch_version_cmdlet() {
        Command::named(word("Get-CsServerPatchVersion"))
    } else {
        Command::named(word("Get-ItemProperty")).arg(Arg::Named(word("Path"), UNINSTALL_KEYS.to_owned()))
    }
}

impl FromStr for Product {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Product::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown product {s:?}"))
    }
}

/// How the installer's exit code is read. The codes are Windows Installer's; the
/// installer does not document its own, so `verify` confirms the build in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallOutcome {
    /// Exit 0.
    Succeeded,
    /// Exit 3010 (reboot required) or 1641 (reboot started).
    SucceededRebootPending,
    /// Anything else.
    Failed,
}

/// Classifies an installer exit code.
pub fn classify_install_exit(code: i64) -> InstallOutcome {
    match code {
        0 => InstallOutcome::Succeeded,
        3010 | 1641 => InstallOutcome::SucceededRebootPending,
        _ => InstallOutcome::Failed,
    }
}

//! Files, drives and the registry places of a pending restart: `Get-FileHash`, `Copy-Item`,
//! `New-Item`, `Get-Content`, `Get-PSDrive`, `Test-Path`, `Get-ItemProperty` (also the
//! installed products of the Uninstall key: Lync Server 2013's build read-back).

use sfbpatch_core::runbook::Product;
use sfbpatch_core::vocab::hex;
use sha2::Digest as _;

use super::{Call, Cmdlet, Cx, Family, Out, WINDOWS, me, table};
use crate::estate::{Estate, SimFile};

const F: Family = Family::Files;

pub(super) const CMDLETS: &[Cmdlet] = &[
    Cmdlet::new(F, WINDOWS, "Get-FileHash", &[], &["Algorithm", "LiteralPath", "Path"], file_hash),
    Cmdlet::new(F, WINDOWS, "Get-Content", &["Raw"], &["Path", "LiteralPath"], content).refused_in(500),
    Cmdlet::new(F, WINDOWS, "Get-PSDrive", &[], &["Name"], ps_drive).refused_in(500),
    Cmdlet::new(F, WINDOWS, "New-Item", &["Force"], &["ItemType", "Path"], new_item).refused_in(500),
    Cmdlet::new(F, WINDOWS, "Copy-Item", &["Force"], &["LiteralPath", "Path", "Destination"], copy_item)
        .refused_in(500),
    Cmdlet::new(F, WINDOWS, "Test-Path", &[], &["LiteralPath", "Path"], test_path),
    Cmdlet::new(F, WINDOWS, "Get-ItemProperty", &[], &["LiteralPath", "Path", "Name"], item_property),
];

/// Component Based Servicing's key that exists while a restart is pending (DOMAIN.md §5).
const CBS_REBOOT_PENDING: &str =
    r"hklm:\software\microsoft\windows\currentversion\component based servicing\rebootpending";

/// The Session Manager key whose `PendingFileRenameOperations` value lists files a restart
/// will replace (DOMAIN.md §5).
const SESSION_MANAGER: &str = r"hklm:\system\currentcontrolset\control\session manager";

/// `Test-Path`: a file of the host's disk, or the registry key of a pending restart (present
/// while the host has one; Windows Update's own key is not modelled: always absent).
fn test_path(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let path = call.params.first_of(&["LiteralPath", "Path"]).unwrap_or("").to_ascii_lowercase();
    let found = if path == CBS_REBOOT_PENDING { h.pending_reboot } else { h.files.contains_key(&path) };
    Out::ok(if found { "True\n" } else { "False\n" }, 200)
}

/// The Uninstall key's entries (docs/research/issue11-products.md §2).
const UNINSTALL_KEYS: &str = r"hklm:\software\microsoft\windows\currentversion\uninstall\*";

/// `Get-ItemProperty -Path <Uninstall>\*`: one list-format block per installed product, as
/// Windows PowerShell prints them: the host's server components (Lync Server 2013's named
/// "Microsoft Lync Server 2013, …", Skype for Business Server's without "Microsoft", as
/// Programs and Features shows them) at their installed build, among other products, including
/// a tool the cumulative update does not touch.
fn installed_products(h: &crate::estate::Host) -> String {
    let mut blocks: Vec<(String, String)> = h
        .components
        .iter()
        .map(|(c, b)| {
            let name = if h.product == Product::Lync2013 { format!("Microsoft {c}") } else { c.clone() };
            (name, b.to_string())
        })
        .collect();
    if h.sfb_installed {
        let [a, b, c, _] = h.release_build.0;
        blocks.push((format!("Microsoft {}, Debugging Tools", h.product_name()), format!("{a}.{b}.{c}.0")));
    }
    blocks.push(("Microsoft SQL Server 2012 Native Client".to_owned(), "11.0.2100.60".to_owned()));
    blocks.push(("Microsoft Visual C++ 2013 x64 Minimum Runtime - 12.0.21005".to_owned(), "12.0.21005".to_owned()));
    let mut out = String::from("\n");
    for (i, (name, version)) in blocks.iter().enumerate() {
        out.push_str(&format!(
            "DisplayName     : {name}\nDisplayVersion  : {version}\nPSChildName     : {{8901ADF0-{i:04X}-0000-0000-000000000000}}\nPSProvider      : Microsoft.PowerShell.Core\\Registry\n\n"
        ));
    }
    out
}

/// `Get-ItemProperty -Path <Session Manager> -Name PendingFileRenameOperations`: the value
/// while a restart is pending, else PowerShell's "does not exist" error. Over the Uninstall
/// key's entries: the installed products.
fn item_property(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let path = call.params.first_of(&["LiteralPath", "Path"]).unwrap_or("").to_owned();
    let name = call.params.get("Name").unwrap_or("").to_owned();
    if path.eq_ignore_ascii_case(UNINSTALL_KEYS) && name.is_empty() {
        let text = installed_products(h);
        return Out::ok(text, h.rng.secs(1.0, 4.0));
    }
    if path.eq_ignore_ascii_case(SESSION_MANAGER)
        && name.eq_ignore_ascii_case("PendingFileRenameOperations")
        && h.pending_reboot
    {
        Out::ok(
            "\nPendingFileRenameOperations : {\\??\\C:\\Program Files\\Skype for Business Server 2019\\Server\\Core\\RtcHost.exe}\n\n",
            300,
        )
    } else {
        Out::err(format!("{} : Property {name} does not exist at path {path}.", call.name), 300)
    }
}

fn not_found(cmdlet: &str, path: &str) -> String {
    format!("{cmdlet} : Cannot find path '{path}' because it does not exist.")
}

fn file_hash(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let path = call.params.first_of(&["LiteralPath", "Path"]).unwrap_or("").to_owned();
    let algo = call.params.get("Algorithm").unwrap_or("SHA256").to_ascii_uppercase();
    match (h.files.get(&path.to_ascii_lowercase()), algo.as_str()) {
        (_, a) if a != "SHA256" => Out::err(format!("the simulator computes SHA256 only, not {a}"), 1000),
        (None, _) => Out::err(not_found(call.name, &path), h.rng.secs(1.0, 2.0)),
        (Some(f), _) => {
            let rows = [["SHA256".to_owned(), f.sha256.to_ascii_uppercase(), path.clone()]];
            Out::ok(table(["Algorithm", "Hash", "Path"], &rows), h.rng.secs(4.0, 12.0))
        }
    }
}

/// `Get-Content`: the text of files the simulator wrote itself (installer logs); `-Path`
/// takes one `*` wildcard, `-LiteralPath` none.
fn content(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let want = call.params.first_of(&["Path", "LiteralPath"]).unwrap_or("").to_ascii_lowercase();
    let wildcard = call.params.get("LiteralPath").is_none();
    let matches: Vec<&SimFile> = match want.split_once('*') {
        Some((prefix, suffix)) if wildcard => {
            h.files.iter().filter(|(k, _)| k.starts_with(prefix) && k.ends_with(suffix)).map(|(_, f)| f).collect()
        }
        _ => h.files.get(&want).into_iter().collect(),
    };
    if matches.is_empty() {
        Out::err(not_found(call.name, &want), 500)
    } else {
        let text: String = matches.iter().filter_map(|f| f.content.clone()).collect();
        Out::ok(text, h.rng.secs(0.5, 2.0))
    }
}

/// `Get-PSDrive C`: the free space the stage step checks.
fn ps_drive(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let name = call.params.first_of(&["Name"]).unwrap_or("C").to_owned();
    if !name.eq_ignore_ascii_case("C") {
        return Out::err(format!("{name} : Cannot find drive. A drive with the name '{name}' does not exist."), 500);
    }
    let gib = |b: u64| format!("{:.2}", b as f64 / 1_073_741_824.0);
    let used = 40 * 1_073_741_824u64;
    let rows = format!(
        "\nName           Used (GB)     Free (GB) Provider      Root\n----           ---------     --------- --------      ----\nC              {:>9} {:>13} FileSystem    C:\\\n\n",
        gib(used),
        gib(h.free_bytes)
    );
    Out::ok(rows, h.rng.secs(0.5, 1.5))
}

/// Folders exist implicitly on the simulated disk.
fn new_item(_: &mut Estate, _: &mut Cx, _: &Call<'_>) -> Out {
    Out::ok("", 200)
}

/// `Copy-Item` from the machine the simulator runs on (the local transport's staging): the
/// file read through the estate's local reader becomes the update package.
fn copy_item(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let src = call.params.get("LiteralPath").or(call.params.get("Path")).unwrap_or("").to_owned();
    let dst = call.params.get("Destination").unwrap_or("").to_ascii_lowercase();
    match (cx.reader.and_then(|read| read(&src)), &cx.package_build) {
        (Some(bytes), Some(build)) => {
            let sha256 = hex(&sha2::Sha256::digest(&bytes));
            let secs = 20.0 + bytes.len() as f64 / 50_000_000.0;
            h.files.insert(dst, SimFile { sha256, installs: Some(build.clone()), intact: true, content: None });
            Out::ok("", h.rng.secs(secs, secs * 2.0))
        }
        (None, _) => Out::err(not_found(call.name, &src), 500),
        (_, None) => {
            Out::err(format!("{} : this simulated estate has no package build (sim init sets it).", call.name), 500)
        }
    }
}

//! The update installer (a command by path: `C:\…\SkypeServerUpdateInstaller.exe
//! /silentmode`) and the builds it leaves: `Get-CsServerPatchVersion`, `Get-CsServerVersion`.

use sfbpatch_core::runbook::Product;
use sfbpatch_pwsh::syntax::Element;

use super::{Call, Cmdlet, Cx, Family, Out, SFB, me, not_recognized, table};
use crate::Ms;
use crate::estate::{Estate, Host, ServiceKind, SimFile};

const F: Family = Family::Install;

pub(super) const CMDLETS: &[Cmdlet] = &[
    // "exists from the SfB Server 2015 November 2015 cumulative update on; Lync Server 2013
    // has no such cmdlet" (DOMAIN.md §5).
    Cmdlet::new(F, SFB, "Get-CsServerPatchVersion", &[], &[], patch_version).missing_in(&[Product::Lync2013]),
    // Any arguments are accepted and ignored.
    Cmdlet::new(F, SFB, "Get-CsServerVersion", &[], &[], server_version).raw(),
];

fn patch_version(e: &mut Estate, cx: &mut Cx, _: &Call<'_>) -> Out {
    let h = me(e, cx);
    let rows: Vec<[String; 3]> = h.components.iter().map(|(c, b)| [c.clone(), b.to_string(), String::new()]).collect();
    Out::ok(table(["ComponentName", "Version", "Update"], &rows), h.rng.secs(3.0, 8.0))
}

fn server_version(e: &mut Estate, cx: &mut Cx, _: &Call<'_>) -> Out {
    let h = me(e, cx);
    Out::ok(
        format!("\n{} ({}): Volume license key installed.\n\n", h.product_name(), h.release_build),
        h.rng.secs(1.0, 3.0),
    )
}

/// Runs the update installer at `path` (DOMAIN.md §4 rule 2): it needs the package on the
/// local disk, intact, and no Skype for Business service or W3SVC running. On a machine
/// without Skype for Business there is nothing for it to update (rule 1): it fails.
pub(crate) fn run_installer(h: &mut Host, cx: &mut Cx, path: &str, elements: &[Element]) -> Out {
    let Some(file) = h.files.get(&path.to_ascii_lowercase()).cloned() else {
        return Out::err(not_recognized(path), 500);
    };
    let Some(target) = file.installs.clone() else {
        return Out::err(format!("Program '{path}' failed to run: it is not an update package."), 500);
    };
    if !file.intact {
        return Out::exit(
            1620,
            "This installation package could not be opened. Verify that the package exists and is not damaged.\n",
            cx.dur(h.rng.secs(5.0, 20.0)),
        );
    }
    write_install_log(h, path, &format!("Starting update to {target} with {} argument(s)", elements.len()));
    if !h.sfb_installed {
        // The installer's own words here are not published; that it cannot run is rule 1.
        return Out::exit(
            1603,
            "No Skype for Business Server or Lync Server components are installed on this computer: nothing to update. (1603)\n",
            cx.dur(h.rng.secs(20.0, 60.0)),
        );
    }
    let silent = elements
        .iter()
        .any(|e| matches!(e, Element::Bare(s) | Element::Literal(s) if s.eq_ignore_ascii_case("/silentmode")));
    if !silent {
        // Without /silentmode the installer opens its window and waits for a click.
        return Out::exit(i32::MIN, "", Ms::MAX / 4);
    }
    if let Some(s) = h.any_sfb_or_iis_running() {
        let s = s.name.clone();
        return Out {
            exit: 1603,
            stdout: "Checking for updates…\n".into(),
            stderr: format!(
                "Installation failed: files are in use by the running service {s}. Stop the Skype for Business Server services and W3SVC first. (1603)\n"
            ),
            ms: cx.dur(h.rng.secs(60.0, 180.0)),
        };
    }
    if h.build() >= target {
        return Out::ok("No applicable updates were found on this server.\n", cx.dur(h.rng.secs(30.0, 90.0)));
    }
    let ms = cx.dur(h.rng.triangular_minutes(8.0, 12.0, 25.0));
    for c in &mut h.components {
        c.1 = target.clone();
    }
    h.install_generation += 1;
    let shells_open = h.sessions.iter().any(|s| s.open && s.module_generation.is_some() && s.id != cx.session);
    let end = cx.now + ms;
    let reboot = cx.force_reboot || shells_open;
    if reboot {
        h.pending_reboot = true;
        let why = if shells_open {
            "Some files were in use by an open Management Shell and will be replaced when the computer restarts."
        } else {
            "A restart is required to complete the update."
        };
        return Out { exit: 3010, stdout: format!("Updates installed. {why}\n"), stderr: String::new(), ms };
    }
    // Rule 2: the installer leaves some SfB services running again (why the seed's step 9
    // exists); never a disabled one (a failed-over server's, stopped and disabled until
    // failback, issue10-sources.md §2.4).
    let sfb: Vec<usize> =
        (0..h.services.len()).filter(|&i| h.services[i].kind == ServiceKind::Sfb && !h.services[i].disabled).collect();
    let mut restarted = 0;
    for &i in &sfb {
        if h.rng.chance(0.5) {
            h.services[i].running = true;
            restarted += 1;
        }
    }
    if let (0, Some(&i)) = (restarted, sfb.first()) {
        h.services[i].running = true;
    }
    h.track(end);
    Out::ok(format!("Installing updates…\nUpdates were installed successfully ({target}).\n"), ms)
}

/// The installer writes its log into the folder it runs from.
fn write_install_log(h: &mut Host, installer: &str, line: &str) {
    let dir = installer.rsplit_once('\\').map_or("", |(d, _)| d);
    let n = h.files.keys().filter(|k| k.ends_with(".log")).count() + 1;
    let path = format!("{dir}\\SkypeServerUpdateInstaller-{n}.log").to_ascii_lowercase();
    let content = format!("{line}\nServer {} build before: {}\n", h.fqdn, h.build());
    h.files.insert(path, SimFile { sha256: String::new(), installs: None, intact: true, content: Some(content) });
}

//! The update installer (`SkypeServerUpdateInstaller.exe /silentmode`), a GUI-subsystem
//! program, and how the shell starts it (DOMAIN.md §5):
//!
//! * with the call operator, `& 'C:\…\SkypeServerUpdateInstaller.exe' /silentmode`, PowerShell
//!   does not wait for a GUI program and sets no `$LASTEXITCODE`: the statement returns at
//!   once, with no output, and the install goes on in the background on the host's clock
//!   ([`Background`]); its effects land only at its end, so a build read right after still
//!   shows the old build;
//! * with `Start-Process -Wait` it is waited for; `-PassThru` returns the process, whose
//!   `.ExitCode` is the installer's (`system.rs`, `Start-Process`).
//!
//! What the installer itself does is DOMAIN.md §4 rule 2, decided when it starts (the files
//! it must replace are held, or not, at that moment) and applied at its end.

use super::{Cx, Out, not_recognized};
use crate::Ms;
use crate::bind::words;
use crate::estate::{Background, Host, InstallEffects, ServiceKind, SimFile};
use sfbpatch_core::readback::Build;
use sfbpatch_pwsh::syntax::Element;

/// Why a program could not be started at all (PowerShell's error, not the program's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotStarted {
    /// No such file.
    NotFound,
    /// A file, but not a program the simulator knows (only update packages are).
    NotAProgram,
}

/// An installer run, decided at its start: what it ends with, after how long (before any
/// `slow` fault), and what it changes then. What it says goes to its log, never to the shell
/// that started it (a GUI program has no console output).
pub(crate) struct Run {
    pub(crate) exit: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Its duration, before the execution's slowness ([`Cx::dur`]).
    pub(crate) ms: Ms,
    pub(crate) effects: Option<InstallEffects>,
    /// The log it writes into (none when it could not open its package).
    log: Option<String>,
}

impl Run {
    fn ends(exit: i32, stderr: impl Into<String>, ms: Ms) -> Self {
        Run { exit, stdout: String::new(), stderr: stderr.into(), ms, effects: None, log: None }
    }

    /// Its log and the lines it adds at its end: what it said, and its exit code.
    fn log_end(&self) -> Option<(String, String)> {
        let path = self.log.clone()?;
        Some((path, format!("{}{}Exit code: {}\n", self.stdout, self.stderr, self.exit)))
    }
}

/// Starts the update installer at `path` with `args` (DOMAIN.md §4 rule 2): it needs the
/// package on the local disk, intact, and no Skype for Business service or W3SVC running. On
/// a machine without Skype for Business there is nothing for it to update (rule 1): it fails.
/// Only one runs at a time (Windows Installer's 1618, DOMAIN.md §1 step 7).
pub(crate) fn start(h: &mut Host, cx: &Cx, path: &str, args: &[String]) -> Result<Run, NotStarted> {
    let file = h.files.get(&path.to_ascii_lowercase()).cloned().ok_or(NotStarted::NotFound)?;
    let target = file.installs.clone().ok_or(NotStarted::NotAProgram)?;
    if h.background.as_ref().is_some_and(|b| b.end_ms > cx.now) {
        return Ok(Run::ends(
            1618,
            "Another installation is already in progress. Complete that installation before proceeding with this install. (1618)\n",
            h.rng.secs(2.0, 5.0),
        ));
    }
    if !file.intact {
        return Ok(Run::ends(
            1620,
            "This installation package could not be opened. Verify that the package exists and is not damaged.\n",
            h.rng.secs(5.0, 20.0),
        ));
    }
    let log = Some(write_install_log(h, path, &format!("Starting update to {target} with {} argument(s)", args.len())));
    let run = decide(h, cx, args, target);
    Ok(Run { log, ..run })
}

/// What the installer does once its package is open and its log started.
fn decide(h: &mut Host, cx: &Cx, args: &[String], target: Build) -> Run {
    if !h.sfb_installed {
        // The installer's own words here are not published; that it cannot run is rule 1.
        return Run::ends(
            1603,
            "No Skype for Business Server or Lync Server components are installed on this computer: nothing to update. (1603)\n",
            h.rng.secs(20.0, 60.0),
        );
    }
    if !args.iter().any(|a| a.eq_ignore_ascii_case("/silentmode")) {
        // Without /silentmode the installer opens its window and waits for a click.
        return Run::ends(i32::MIN, "", Ms::MAX / 4);
    }
    if let Some(s) = h.any_sfb_or_iis_running() {
        let s = s.name.clone();
        return Run {
            stdout: "Checking for updates…\n".into(),
            ..Run::ends(
                1603,
                format!(
                    "Installation failed: files are in use by the running service {s}. Stop the Skype for Business Server services and W3SVC first. (1603)\n"
                ),
                h.rng.secs(60.0, 180.0),
            )
        };
    }
    if h.build() >= target {
        let ms = h.rng.secs(30.0, 90.0);
        return Run { stdout: "No applicable updates were found on this server.\n".into(), ..Run::ends(0, "", ms) };
    }
    let ms = h.rng.triangular_minutes(8.0, 12.0, 25.0);
    // DOMAIN.md §4 rule 2 (the seed's step 6: old shells hold the old assemblies loaded): a
    // shell with the module loaded, left open, holds files: a restart finishes.
    // The shell that runs the installer is one of them when it loaded the module itself (a
    // kept process that ran SfB cmdlets before the install): it is open during the install.
    let shells_open = h.sessions.iter().any(|s| s.open && s.module_generation.is_some());
    let restart = cx.force_reboot || shells_open;
    let mut restarts = Vec::new();
    if !restart {
        // Rule 2: the installer leaves some SfB services running again (why the seed's step
        // 9 exists); never a disabled one (a failed-over server's, stopped and disabled until
        // failback, issue10-sources.md §2.4).
        let sfb: Vec<usize> = (0..h.services.len())
            .filter(|&i| h.services[i].kind == ServiceKind::Sfb && !h.services[i].disabled)
            .collect();
        for &i in &sfb {
            if h.rng.chance(0.5) {
                restarts.push(h.services[i].name.clone());
            }
        }
        if let (true, Some(&i)) = (restarts.is_empty(), sfb.first()) {
            restarts.push(h.services[i].name.clone());
        }
    }
    let (exit, stdout) = if restart {
        let why = if shells_open {
            "Some files were in use by an open Management Shell and will be replaced when the computer restarts."
        } else {
            "A restart is required to complete the update."
        };
        (3010, format!("Updates installed. {why}\n"))
    } else {
        (0, format!("Installing updates…\nUpdates were installed successfully ({target}).\n"))
    };
    Run { exit, stdout, ms, effects: Some(InstallEffects { target, restart, restarts }), ..Run::ends(0, "", 0) }
}

/// A run waited for, at its `end`: its log's last lines, and its effects.
pub(crate) fn finish(h: &mut Host, run: &Run, end: Ms) {
    if let Some((path, tail)) = run.log_end() {
        append_log(h, &path, &tail);
    }
    if let Some(effects) = &run.effects {
        apply(h, effects, end);
    }
}

/// What an installer that went through changes, at `end`: the new build, the assemblies of
/// a new install (rule 3), a restart pending or services started again (rule 2).
pub(crate) fn apply(h: &mut Host, effects: &InstallEffects, end: Ms) {
    for c in &mut h.components {
        c.1 = effects.target.clone();
    }
    h.install_generation += 1;
    if effects.restart {
        h.pending_reboot = true;
    }
    for s in h.services.iter_mut().filter(|s| effects.restarts.contains(&s.name)) {
        s.running = true;
    }
    h.track(end);
}

/// Ends the background program if the host's clock has passed its end, applying what it
/// does: its end, or `None` when nothing ended.
pub(crate) fn settle(h: &mut Host, now: Ms) -> Option<Ms> {
    let end = h.background.as_ref().filter(|b| b.end_ms <= now)?.end_ms;
    let done = h.background.take()?;
    if let Some((path, tail)) = &done.log {
        append_log(h, path, tail);
    }
    if let Some(effects) = &done.install {
        apply(h, effects, end);
    }
    Some(end)
}

/// Leaves `run` going in the background from now (DOMAIN.md §5: not waited for).
pub(crate) fn detach(h: &mut Host, cx: &Cx, program: &str, run: Run) {
    let end = cx.now.saturating_add(cx.dur(run.ms));
    let log = run.log_end();
    h.background =
        Some(Background { program: program.to_owned(), end_ms: end, exit_code: run.exit, install: run.effects, log });
}

/// `& '<path>' <args>`: the installer is a GUI-subsystem program, so the call operator starts
/// it and returns at once, with no output and no exit code (DOMAIN.md §5; "GUI applications
/// launch in a different process, and will immediately return control to the PowerShell
/// host"). A path that is no program fails as PowerShell says.
pub(crate) fn call_operator(h: &mut Host, cx: &Cx, path: &str, elements: &[Element]) -> Out {
    match start(h, cx, path, &words(elements)) {
        Err(NotStarted::NotFound) => Out::err(not_recognized(path), 500),
        Err(NotStarted::NotAProgram) => {
            Out::err(format!("Program '{path}' failed to run: it is not an update package."), 500)
        }
        Ok(run) => {
            detach(h, cx, path, run);
            Out::ok("", cx.dur(h.rng.secs(0.3, 1.0)))
        }
    }
}

/// The installer writes its log into the folder it runs from (DOMAIN.md §2): its path.
fn write_install_log(h: &mut Host, installer: &str, line: &str) -> String {
    let dir = installer.rsplit_once('\\').map_or("", |(d, _)| d);
    let n = h.files.keys().filter(|k| k.ends_with(".log")).count() + 1;
    let path = format!("{dir}\\SkypeServerUpdateInstaller-{n}.log").to_ascii_lowercase();
    let content = format!("{line}\nServer {} build before: {}\n", h.fqdn, h.build());
    h.files
        .insert(path.clone(), SimFile { sha256: String::new(), installs: None, intact: true, content: Some(content) });
    path
}

fn append_log(h: &mut Host, path: &str, text: &str) {
    if let Some(content) = h.files.get_mut(path).and_then(|f| f.content.as_mut()) {
        content.push_str(text);
    }
}

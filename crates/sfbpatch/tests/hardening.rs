//! Issue 13 items 7, 8 and 10 through the binary: output files that cannot be turned against
//! what lies at or near their path, numbers that cannot spin the outage timer, and small
//! defects of what the operator reads.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::run;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("sfbpatch")
}

/// Runs the binary and waits at most `limit`: a regression that spins is killed and reported
/// rather than hanging the suite. (code, stderr)
fn run_within(args: &[&str], limit: Duration) -> (i32, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("SFBPATCH_LANG")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut s, &mut err);
                }
                return (status.code().unwrap_or(-1), err);
            }
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} still running after {limit:?}");
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn script_to(out: &str) -> common::Out {
    run(&["script", "--package", "SkypeServerUpdateInstaller.exe", "--server", "se01.contoso.local", "-o", out])
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_the_old_temporary_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap_or_else(|e| panic!("{e}"));
    // The name the former writer opened without O_EXCL.
    std::os::unix::fs::symlink(&victim, dir.path().join(".se01.ps1.sfbpatch-tmp")).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("se01.ps1");
    let o = script_to(&out.display().to_string());
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read(&victim).unwrap_or_else(|e| panic!("{e}")), b"keep me");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("se01.contoso.local"), "{text}");
    assert!(!std::fs::symlink_metadata(&out).unwrap_or_else(|e| panic!("{e}")).file_type().is_symlink());
}

#[cfg(unix)]
#[test]
fn output_onto_a_fifo_is_refused_and_the_fifo_stays() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(made.success());
    let shown = fifo.display().to_string();
    let o = script_to(&shown);
    common::assert_refused(&o, &format!("sfbpatch: {shown} is not a regular file: nothing was written."));
    assert!(std::fs::symlink_metadata(&fifo).unwrap_or_else(|e| panic!("{e}")).file_type().is_fifo());
    let names = std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")).count();
    assert_eq!(names, 1, "no temporary left beside it");
}

#[test]
fn numbers_out_of_range_are_usage_errors_at_once() {
    let limit = Duration::from_secs(30);
    let cases: [(&[&str], &str); 12] = [
        (&["rehearse", "--outage-budget", "5e14"], "at most 1440"),
        (&["rehearse", "--outage-budget", "NaN"], "--outage-budget"),
        (&["rehearse", "--outage-budget", "0"], "greater than 0"),
        (&["rehearse", "--outage-budget=-5"], "greater than 0"),
        (&["plan", "--package", "p.exe", "--outage-budget", "inf"], "--outage-budget"),
        (
            &["script", "--package", "p.exe", "--server", "se01.contoso.local", "--outage-budget", "1e300"],
            "at most 1440",
        ),
        (&["rehearse", "--warn-before=NaN"], "--warn-before"),
        (&["rehearse", "--warn-before=-1"], "at least 0"),
        (&["rehearse", "--timeout-scale=-1"], "greater than 0"),
        (&["run", "--transport", "sim", "--package", "p.exe", "--time-scale", "NaN"], "--time-scale"),
        (&["run", "--transport", "sim", "--package", "p.exe", "--time-scale", "inf"], "--time-scale"),
        (&["run", "--transport", "sim", "--package", "p.exe", "--time-scale=-0.5"], "at least 0"),
    ];
    for (args, needle) in cases {
        let (code, err) = run_within(args, limit);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("invalid value"), "{args:?}: {err}");
    }
}

#[test]
fn a_whole_day_budget_and_a_zero_mark_still_rehearse_and_end() {
    let (code, err) =
        run_within(&["rehearse", "--outage-budget", "1440", "--warn-before", "0"], Duration::from_secs(120));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn utf16_without_a_byte_order_mark_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let xml = sfbpatch_core::example::TOPOLOGY_XML;
    let path = dir.path().join("utf16.xml");
    let bytes: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    let o = run(&["topology", "check", &path.display().to_string()]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "the file is UTF-16 without a byte-order mark: save it as UTF-8, or with Out-File -Encoding utf8."
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn flags_of_another_transport_are_refused_with_sim() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let base = ["run", "--transport", "sim", "--package", "p.exe", "--yes", "--journal", &journal];
    let cases: [(&[&str], &str); 3] = [
        (&["--shell", "pwsh"], "--shell only applies to --transport local, --transport psremoting"),
        (&["--accept-new-host-keys"], "--accept-new-host-keys only applies to --transport ssh"),
        (&["--connections", "c.toml"], "--connections only applies to --transport ssh"),
    ];
    for (extra, needle) in cases {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let o = run(&args);
        common::assert_refused(&o, &format!("sfbpatch: {needle}: nothing was started."));
    }
}

/// The bundled TOML estate with a site name full of control characters.
fn hostile_site(dir: &tempfile::TempDir) -> String {
    let toml = std::fs::read_to_string(common::testdata("topology/standard-edition.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("name = \"Lisboa\"", "name = \"Lis\\u001b[31mboa\\u0007\\n# X\"");
    let path = dir.path().join("hostile.toml");
    std::fs::write(&path, toml).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

#[test]
fn control_characters_from_the_topology_are_shown_escaped() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = hostile_site(&dir);
    let shown = "Lis\\x1b[31mboa\\x07\\x0a# X";
    let runs: [&[&str]; 3] = [
        &["topology", "show", &file],
        &["plan", &file, "--package", "p.exe"],
        &["plan", &file, "--package", "p.exe", "--format", "markdown"],
    ];
    for args in runs {
        let o = run(args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert!(o.stdout.contains(shown), "{args:?}: {}", o.stdout);
        assert!(!o.stdout.contains('\u{1b}') && !o.stdout.contains('\u{7}'), "{args:?}: {}", o.stdout);
        assert!(!o.stdout.lines().any(|l| l.starts_with("# X")), "{args:?}: {}", o.stdout);
    }
}

#[test]
fn history_prints_rfc3339_utc() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    let o = run(&[
        "run",
        "--transport",
        "sim",
        "--yes",
        "--journal",
        &journal,
        "--package",
        "SkypeServerUpdateInstaller.exe",
        "--server",
        "se01.contoso.local",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(&["history", "--journal", &journal]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.lines().next().unwrap_or_default();
    let stamp = line.rsplit("  ").next().unwrap_or_default();
    // 2026-11-26T23:00:26.599Z: a date, a T, a time with its fraction, Z.
    let b = stamp.as_bytes();
    assert!(b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':', "{line}");
    assert!(stamp.ends_with('Z'), "{line}");
    let j = common::json(&["history", "--journal", &journal, "--format", "json"]);
    let secs = j[0]["started_at"].as_str().unwrap_or_default().to_owned();
    assert!(secs.parse::<f64>().is_ok(), "JSON keeps Unix seconds: {j}");
}

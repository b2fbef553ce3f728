//! Reports: the HTML of a rehearsal in real headless Chromium (no console errors, one SVG
//! row per server), and a run whose back end passed 30 minutes shown crossing the marker.

use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use assert_cmd::Command;
use serde_json::Value;

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

/// The browser, or `None` (outside CI) after saying loudly that the check did not run.
fn chromium() -> Option<PathBuf> {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return Some(PathBuf::from(c));
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is not installed: scripts/test installs it (apt-get install chromium)");
    }
    eprintln!("SKIPPED (not silently): chromium is not installed; run scripts/test, which installs it");
    None
}

fn browser(bin: &Path, profile: &Path, extra: &[String], page: &Path) -> (String, String) {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(format!("file://{}", page.display()));
    let o = Proc::new(bin).args(&args).output().unwrap_or_else(|e| panic!("{e}"));
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn the_rehearsal_report_loads_in_chromium_without_console_errors_and_has_a_row_per_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let page = dir.path().join("report.html");
    let o = sfbpatch()
        .args(["rehearse", "--report", &page.display().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    for external in ["<script", "http://", "https://", "@import", "url("] {
        let allowed = external == "http://"
            && html.matches("http://").all(|_| html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!html.contains(external) || allowed, "self-contained: found {external}");
    }
    let Some(bin) = chromium() else { return };
    let (dom, log) = browser(&bin, &dir.path().join("profile"), &["--dump-dom".to_owned()], &page);
    // Five Front Ends, the Standard Edition server and the two back ends' databases.
    assert_eq!(dom.matches("<g class=\"row\"").count(), 8, "one row per plan entry in the loaded DOM");
    // Each server's runbook, and where a back end's database steps ran.
    assert!(dom.contains("backend-databases") && dom.contains("front-end"), "runbooks in the report");
    assert!(dom.contains("<td>fe01.contoso.local</td>"), "runs-on cells");
    for bad in ["CONSOLE", "Uncaught", "Failed to load resource"] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(bad)).collect();
        assert!(lines.is_empty(), "console errors: {lines:?}");
    }
    let shot = dir.path().join("report.png");
    let _ = browser(
        &bin,
        &dir.path().join("profile2"),
        &[format!("--screenshot={}", shot.display()), "--window-size=1300,900".into()],
        &page,
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}"));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");
}

fn attr(tag: &str, name: &str) -> f64 {
    let key = format!("{name}=\"");
    tag.find(&key)
        .and_then(|i| tag[i + key.len()..].split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
}

#[test]
fn a_back_end_past_30_minutes_crosses_the_marker_and_its_pool_shows_resiliency() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let e = dir.path().join("estate").display().to_string();
    let j = dir.path().join("j.db").display().to_string();
    let init = sfbpatch()
        // A back end's outage is its databases' update, from fe01: three times the usual passes 30 min.
        .args(["sim", "init", "--estate", &e, "--fault", "sql01.contoso.local:update-databases:slow=3"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(init.status.success());
    let out = sfbpatch()
        .args([
            "run",
            "--transport",
            "sim",
            "--estate",
            &e,
            "--package",
            "SkypeServerUpdateInstaller.exe",
            "--journal",
            &j,
            "--yes",
            "--format",
            "json",
        ])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|x| panic!("{x}"));
    let id = v["run_id"].as_str().unwrap_or("").to_owned();
    let json = sfbpatch()
        .args(["report", &id, "--journal", &j, "--format", "json"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    let r: Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(r["schema"], "sfbpatch.report/1");
    let sql01 = r["servers"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["fqdn"] == "sql01.contoso.local").cloned())
        .unwrap_or_default();
    assert!(sql01["outage_minutes"].as_f64().is_some_and(|m| m > 30.0), "{sql01}");
    let pool = r["pools"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["fqdn"] == "pool01.contoso.local").cloned())
        .unwrap_or_default();
    let resiliency = pool["resiliency_minutes"].as_f64().unwrap_or(0.0);
    assert!((resiliency - (sql01["outage_minutes"].as_f64().unwrap_or(0.0) - 30.0)).abs() < 0.05, "{pool}");

    let html_path = dir.path().join("run.html");
    let o = sfbpatch()
        .args(["report", &id, "--journal", &j, "--format", "html", "-o", &html_path.display().to_string()])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    assert!(o.status.success());
    let html = std::fs::read_to_string(&html_path).unwrap_or_else(|x| panic!("{x}"));
    let row_start = html.find("data-server=\"sql01.contoso.local\"").unwrap_or_else(|| panic!("no row"));
    let row = &html[row_start..row_start + html[row_start..].find("</g>").unwrap_or(0)];
    let outage = &row[row.find("class=\"outage\"").unwrap_or_else(|| panic!("no outage band"))..];
    let outage_end = attr(outage, "x") + attr(outage, "width");
    let marker = &row[row.find("class=\"threshold\"").unwrap_or_else(|| panic!("no marker"))..];
    assert!(attr(marker, "x1") < outage_end, "the outage band crosses the 30-minute marker");
    let md = sfbpatch()
        .args(["report", &id, "--journal", &j, "--format", "markdown", "--lang", "es"])
        .output()
        .unwrap_or_else(|x| panic!("{x}"));
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("Usuarios por grupo") && md.contains("⚠"), "{md}");
}

#[test]
fn a_report_of_200_servers_has_a_row_per_entry_and_stays_one_page() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let topo = dir.path().join("estate.xml");
    // 120 Enterprise pools and 80 Standard Edition servers: 200 servers in scope.
    std::fs::write(&topo, sfbpatch_sim::generate::topology_xml(120, 80)).unwrap_or_else(|e| panic!("{e}"));
    let page = dir.path().join("big.html");
    let o = sfbpatch()
        .args(["rehearse", &topo.display().to_string(), "--report", &page.display().to_string(), "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.code().is_some(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    // One row per plan entry: each pool's Front Ends and its back end's databases, and the
    // Standard Edition servers.
    let plan = sfbpatch()
        .args(["plan", &topo.display().to_string(), "--package", "p.exe", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap_or_else(|e| panic!("{e}"));
    let entries = plan["servers"].as_array().map_or(0, Vec::len);
    assert!(entries >= 200, "{entries}");
    assert_eq!(html.matches("<g class=\"row\"").count(), entries);
    // Rows keep their height; the timeline grows downwards, never squeezes.
    let svg = &html[html.find("<svg").unwrap_or(0)..];
    assert!(attr(svg, "height") >= entries as f64 * 18.0);
}

//! Issue 12 at scale, through the binary: a topology with hundreds of problems is reported
//! as its first 20 and how many more (item 5), and a generated 2,000-server estate plans
//! (item 4).

mod common;

use common::{run, sfbpatch};
use sfbpatch_core::topology::Role;
use sfbpatch_sim::generate::{Spec, estate};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

fn broken(n: usize) -> String {
    estate(&Spec { broken_references: n, ..Spec::servers(300, 12) })
}

/// Checks a refusal's report: the header with the total, exactly `listed` problems (each
/// `FILE:line:column: …`), then the "more" sentence when `more` is some.
fn assert_report(stderr: &str, file: &str, total: usize, listed: usize, more: Option<&str>) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("sfbpatch: {file} is not a usable topology ({total} problem(s)):").as_str())
    );
    let problems: Vec<&&str> = lines.iter().filter(|l| l.starts_with(&format!("  {file}:"))).collect();
    assert_eq!(problems.len(), listed, "{stderr}");
    assert!(problems.iter().all(|l| l.contains("names no service")), "{stderr}");
    match more {
        Some(sentence) => {
            assert_eq!(lines.len(), listed + 2, "{stderr}");
            assert_eq!(lines.last().copied(), Some(sentence), "{stderr}");
        }
        None => assert_eq!(lines.len(), listed + 1, "{stderr}"),
    }
}

#[test]
fn five_hundred_broken_references_are_twenty_lines_and_a_count() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(&dir, "broken.xml", &broken(500));
    for args in [vec!["topology", "check", &file], vec!["plan", &file, "--package", "p.exe"], vec!["rehearse", &file]] {
        let o = run(&args);
        assert_eq!(o.code, 1, "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{}", o.stdout);
        assert_report(
            &o.stderr,
            &file,
            500,
            20,
            Some("  … and 480 more problem(s), not listed: correct these and check the file again."),
        );
    }
    // The same in Spanish.
    let o = sfbpatch().args(["--lang", "es", "topology", "check", &file]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with(&format!("sfbpatch: {file} no es una topología utilizable (500 problema(s)):")), "{err}");
    assert_eq!(err.lines().count(), 22, "{err}");
    assert_eq!(
        err.lines().last(),
        Some("  … y 480 problema(s) más, no listados: corrija estos y vuelva a comprobar el archivo."),
        "{err}"
    );
}

#[test]
fn twenty_problems_are_all_listed_and_twenty_one_leave_one_unlisted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let twenty = write(&dir, "twenty.xml", &broken(20));
    let o = run(&["topology", "check", &twenty]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_report(&o.stderr, &twenty, 20, 20, None);
    let more = write(&dir, "more.xml", &broken(21));
    let o = run(&["topology", "check", &more]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_report(
        &o.stderr,
        &more,
        21,
        20,
        Some("  … and 1 more problem(s), not listed: correct these and check the file again."),
    );
}

#[test]
fn a_generated_estate_of_2000_servers_plans_every_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(&dir, "estate.xml", &estate(&Spec::servers(2_000, 12)));
    let check = run(&["topology", "check", &file]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let topo = sfbpatch_core::topology::load(&file, estate(&Spec::servers(2_000, 12)).as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let site_roles: Vec<String> = topo
        .servers
        .iter()
        .filter(|s| matches!(s.role, Role::Director | Role::Edge | Role::Mediation))
        .map(|s| s.fqdn.to_string())
        .collect();
    assert!(site_roles.len() >= 20, "{} Director, Edge and Mediation servers", site_roles.len());
    let plan = common::json(&["plan", &file, "--package", "SkypeServerUpdateInstaller.exe", "--format", "json"]);
    let servers = plan["servers"].as_array().map_or(0, Vec::len);
    // Every other machine is an entry: Front Ends, Standard Edition servers, and each SQL-only
    // back end's databases (once per SQL Server); the Directors, Edge and Mediation servers
    // are out of scope, each saying it needs --scope all.
    assert_eq!(servers, 2_000 - site_roles.len());
    let mut out: Vec<(String, String)> = plan["out_of_scope"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| (o["fqdn"].as_str().unwrap_or("").to_owned(), o["reason_code"].as_str().unwrap_or("").to_owned()))
        .collect();
    let mut expected: Vec<(String, String)> =
        site_roles.iter().map(|f| (f.clone(), "needs-scope-all".to_owned())).collect();
    out.sort();
    expected.sort();
    assert_eq!(out, expected);
    // With --scope all, every machine is an entry.
    let all = common::json(&[
        "plan",
        &file,
        "--package",
        "SkypeServerUpdateInstaller.exe",
        "--scope",
        "all",
        "--format",
        "json",
    ]);
    assert_eq!(all["servers"].as_array().map_or(0, Vec::len), 2_000);
    assert_eq!(all["out_of_scope"].as_array().map_or(usize::MAX, Vec::len), 0);
}

#[test]
fn sim_generate_writes_the_generators_estate_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("gen.xml").display().to_string();
    let o = run(&["sim", "generate", "--servers", "2000", "--seed", "5", "-o", &file]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, format!("generated topology of 2000 server(s) in 20 site(s) written to {file}\n"));
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let written = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, estate(&Spec::servers(2_000, 5)));
    let check = run(&["topology", "check", &file]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    // Another seed, another estate; the default seed is 1.
    let other = dir.path().join("other.xml").display().to_string();
    assert_eq!(run(&["sim", "generate", "--servers", "30", "--output", &other]).code, 0);
    let text = std::fs::read_to_string(&other).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text, estate(&Spec::servers(30, 1)));
    let es = sfbpatch()
        .args(["--lang", "es", "sim", "generate", "--servers", "30", "-o", &other])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        String::from_utf8_lossy(&es.stdout),
        format!("topología generada de 30 servidor(es) en 1 sitio(s) escrita en {other}\n")
    );
}

#[test]
fn sim_generate_refuses_a_count_out_of_range_and_a_missing_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("gen.xml").display().to_string();
    for servers in ["0", "20001", "many", "-3"] {
        let o = run(&["sim", "generate", "--servers", servers, "-o", &file]);
        assert_eq!(o.code, 2, "{servers}: {}", o.stderr);
        assert!(o.stderr.contains("--servers"), "{servers}: {}", o.stderr);
        assert!(!dir.path().join("gen.xml").exists(), "{servers}");
    }
    let o = run(&["sim", "generate", "--servers", "10"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--output"), "{}", o.stderr);
    // A folder that does not exist: a clear refusal, exit 1.
    let missing = dir.path().join("no/such/dir/gen.xml").display().to_string();
    let o = run(&["sim", "generate", "--servers", "10", "-o", &missing]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.starts_with("sfbpatch: cannot write "), "{}", o.stderr);
}

//! Paired pools through the built binary (issue 12, item 3): a pair stated in the topology
//! reaches the plan (`pairs`), the waves never put the two pools together, and a rehearsal
//! never runs a server of one while a server of the other runs.

mod common;

use common::{json, run};
use serde_json::Value;

/// Two Enterprise pools of two Front Ends, each with its own back end; `backup` pairs them.
fn topology(paired: bool) -> String {
    let backup = if paired { "backup = \"pool02.contoso.test\"\n" } else { "" };
    format!(
        r#"[[site]]
id = 1
name = "Lisboa"

[[pool]]
fqdn = "pool01.contoso.test"
product = "sfb2019"
site = 1
machines = ["fe01.contoso.test", "fe02.contoso.test"]
user_store = {{ sql_server = "sql01.contoso.test", instance = "rtc" }}
{backup}
[[pool]]
fqdn = "pool02.contoso.test"
product = "sfb2019"
site = 1
machines = ["fe11.contoso.test", "fe12.contoso.test"]
user_store = {{ sql_server = "sql02.contoso.test", instance = "rtc" }}

[[sql_server]]
fqdn = "sql01.contoso.test"
product = "sfb2019"
site = 1

[[sql_server]]
fqdn = "sql02.contoso.test"
product = "sfb2019"
site = 1
"#
    )
}

fn write(dir: &tempfile::TempDir, paired: bool) -> String {
    let path = dir.path().join(if paired { "paired.toml" } else { "free.toml" });
    std::fs::write(&path, topology(paired)).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

fn pool_of(fqdn: &str) -> &'static str {
    match fqdn.split('.').next() {
        Some("fe01" | "fe02" | "sql01") => "pool01",
        Some("fe11" | "fe12" | "sql02") => "pool02",
        _ => panic!("{fqdn}"),
    }
}

/// Each server's span in a rehearsal (the preflight's read-only `test-databases` aside).
fn spans(r: &Value) -> Vec<(String, f64, f64)> {
    r["servers"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .filter_map(|sv| {
            let steps: Vec<&Value> =
                sv["timeline"].as_array()?.iter().filter(|t| t["step"] != "test-databases").collect();
            let start = steps.iter().filter_map(|t| t["start_minutes"].as_f64()).reduce(f64::min)?;
            let end = steps
                .iter()
                .filter_map(|t| Some(t["start_minutes"].as_f64()? + t["duration_minutes"].as_f64()?))
                .reduce(f64::max)?;
            Some((sv["fqdn"].as_str()?.to_owned(), start, end))
        })
        .collect()
}

fn pools_overlap(r: &Value) -> bool {
    let s = spans(r);
    s.iter().any(|a| s.iter().any(|b| pool_of(&a.0) != pool_of(&b.0) && a.1 < b.2 && b.1 < a.2))
}

#[test]
fn paired_pools_are_planned_and_rehearsed_apart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (free, paired) = (write(&dir, false), write(&dir, true));
    let plan = |file: &str| json(&["plan", file, "--package", "SkypeServerUpdateInstaller.exe", "--format", "json"]);
    let waves = |p: &Value| -> Vec<(String, u64)> {
        p["servers"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|s| (s["fqdn"].as_str().unwrap_or("").to_owned(), s["wave"].as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let p = plan(&free);
    assert_eq!(p["pairs"], serde_json::json!([]));
    let p2 = plan(&paired);
    assert_eq!(p2["pairs"], serde_json::json!([["pool01.contoso.test", "pool02.contoso.test"]]));
    let w = waves(&p2);
    for a in &w {
        for b in &w {
            if pool_of(&a.0) != pool_of(&b.0) {
                assert_ne!(a.1, b.1, "{} and {} of paired pools in one wave", a.0, b.0);
            }
        }
    }
    let (e1, e2) = (p["estimated_makespan_minutes"].as_f64(), p2["estimated_makespan_minutes"].as_f64());
    assert!(e1.zip(e2).is_some_and(|(a, b)| b > a), "pairing serialises the two pools: {e1:?} < {e2:?}");
    let text = run(&["plan", &paired, "--package", "SkypeServerUpdateInstaller.exe"]);
    assert!(
        text.stdout.contains("Paired pools, never updated at once: pool01.contoso.test ↔ pool02.contoso.test."),
        "{}",
        text.stdout
    );

    let r_free = json(&["rehearse", &free, "--format", "json"]);
    assert!(pools_overlap(&r_free), "unpaired, the two pools run side by side (else this test proves nothing)");
    let r_paired = json(&["rehearse", &paired, "--format", "json"]);
    assert!(!pools_overlap(&r_paired), "paired: {:?}", spans(&r_paired));
    for sv in r_paired["servers"].as_array().unwrap_or(&Vec::new()) {
        assert_eq!(sv["result"], "updated", "{sv}");
    }
}

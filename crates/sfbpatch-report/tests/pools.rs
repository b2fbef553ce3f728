//! A pool's users' minutes: the simulator's computation (`vocab::resiliency_ms`: only what
//! passes 30 minutes of each window) summed over the pool's servers, then rounded once, up.

use std::path::Path;

use sfbpatch_core::Fqdn;
use sfbpatch_core::vocab::{RunState, minutes_up, resiliency_ms};
use sfbpatch_engine::event::{Event, EventSink};
use sfbpatch_journal::Journal;
use sfbpatch_report::Report;

const MIN: u64 = 60_000;

#[test]
fn resiliency_is_summed_over_the_pools_servers_then_rounded_once() {
    // The plan of the first release's killed run (three servers, three pools), with sql02
    // moved into pool01 so that the pool has two back ends.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/journal/v1-killed/journal.db");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("journal.db");
    std::fs::copy(fixture, &path).unwrap_or_else(|e| panic!("{e}"));
    let j = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let old = j.latest().ok().flatten().unwrap_or_else(|| panic!("no run"));
    let mut plan: serde_json::Value =
        serde_json::from_str(&j.run(&old).unwrap_or_else(|e| panic!("{e}")).plan).unwrap_or_else(|e| panic!("{e}"));
    plan["servers"][1]["pools"] = serde_json::json!(["pool01.contoso.local"]);
    let servers = ["sql01.contoso.local", "sql02.contoso.local", "se01.contoso.local"].map(str::to_owned);
    j.begin_run("r", &plan.to_string(), "{}", &servers, "test", true).unwrap_or_else(|e| panic!("{e}"));
    let sink = j.sink("r");
    let host = |s: &str| Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}"));
    let window = |s: &str, from: u64, to: u64| {
        for e in
            [Event::OutageOpened { server: host(s), at_ms: from }, Event::OutageClosed { server: host(s), at_ms: to }]
        {
            sink.emit(&e).unwrap_or_else(|e| panic!("{e}"));
        }
    };
    // Two short windows on sql01 are not one long one; then 200 ms past 30 minutes on each
    // back end: 400 ms for the pool, 0.01 minutes (rounded per server, it would read 0 or 0.02).
    window("sql01.contoso.local", 0, 20 * MIN);
    window("sql01.contoso.local", 25 * MIN, 45 * MIN);
    window("sql01.contoso.local", 50 * MIN, 80 * MIN + 200);
    window("sql02.contoso.local", 0, 30 * MIN + 200);
    window("se01.contoso.local", 0, 90_001);
    sink.emit(&Event::RunFinished { at_ms: 100 * MIN, state: RunState::Completed }).unwrap_or_else(|e| panic!("{e}"));

    let r = Report::from_journal(&j, "r", "run").unwrap_or_else(|e| panic!("{e}"));
    let pool = |p: &str| r.pools.iter().find(|x| x.fqdn == p).unwrap_or_else(|| panic!("no pool {p}"));
    let expected = resiliency_ms([20 * MIN, 20 * MIN, 30 * MIN + 200, 30 * MIN + 200]);
    assert_eq!(expected, 400);
    assert_eq!(pool("pool01.contoso.local").resiliency_minutes, minutes_up(expected));
    assert_eq!(pool("pool01.contoso.local").resiliency_minutes, 0.01);
    assert_eq!(pool("se01.contoso.local").signed_out_minutes, 1.51, "rounded up, as the simulator does");
    assert_eq!(pool("se01.contoso.local").resiliency_minutes, 0.0);
    assert_eq!(r.state, RunState::Completed);
    let json = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(json["state"], "completed");
    assert_eq!(json["servers"][0]["result"], "pending", "no server event was recorded");
}

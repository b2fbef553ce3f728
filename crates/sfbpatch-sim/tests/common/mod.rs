#![allow(dead_code)]

use sfbpatch_core::plan::{Plan, PlanRequest, plan};
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::{
    example,
    topology::{self, Topology},
};
use sfbpatch_sim::estate::{Estate, EstateOptions};
use sfbpatch_sim::exec::{Execution, Request, package};
use sfbpatch_sim::fault::Fault;
use sfbpatch_sim::rehearse::{Rehearsal, RehearseOptions, ServerResult, rehearse};

pub const TARGET: Build = Build([7, 0, 2046, 530]);

pub fn example() -> Topology {
    topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn estate(seed: u64) -> Estate {
    Estate::new(&example(), &EstateOptions { seed, ..EstateOptions::default() })
}

pub fn make_plan(skip: &[StepId]) -> Plan {
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.skip = skip.to_vec();
    plan(&example(), &req).unwrap_or_else(|e| panic!("{e}"))
}

pub fn opts(seed: u64, faults: &[&str]) -> RehearseOptions {
    RehearseOptions {
        estate: EstateOptions { seed, ..EstateOptions::default() },
        package_build: TARGET,
        faults: faults.iter().map(|f| f.parse::<Fault>().unwrap_or_else(|e| panic!("{e}"))).collect(),
        run: Default::default(),
    }
}

pub fn rehearsal(seed: u64, skip: &[StepId], faults: &[&str]) -> (Rehearsal, Estate) {
    rehearse(&example(), &make_plan(skip), &opts(seed, faults))
}

pub fn server<'a>(r: &'a Rehearsal, fqdn: &str) -> &'a ServerResult {
    r.servers.iter().find(|s| s.fqdn.as_str() == fqdn).unwrap_or_else(|| panic!("no {fqdn}"))
}

/// Runs one script in a session at the host's current time.
pub fn run(e: &mut Estate, host: &str, session: Option<u64>, script: &str) -> Execution {
    let at = e.host(host).map_or(0, |h| h.clock_ms);
    e.execute(&Request { host, session, step: None, script, at, timeout_ms: 3_600_000 })
}

/// The Standard Edition server of the example: the seed's 11 steps apply to it as written
/// (DOMAIN.md §1a), whatever the planner does for Enterprise pools.
pub const SE: &str = "se01.contoso.local";

/// A plan for the Standard Edition server alone.
pub fn se_plan(skip: &[StepId]) -> Plan {
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.skip = skip.to_vec();
    req.servers = vec![SE.to_owned()];
    plan(&example(), &req).unwrap_or_else(|e| panic!("{e}"))
}

/// [`rehearsal`] of [`se_plan`].
pub fn se_rehearsal(seed: u64, skip: &[StepId], faults: &[&str]) -> (Rehearsal, Estate) {
    rehearse(&example(), &se_plan(skip), &opts(seed, faults))
}

// Estate-level helpers for the rule tests: the example's hosts and the procedure's moves.

pub const SQL1: &str = "sql01.contoso.local"; // pool01's back end, Archiving/Monitoring collocated
pub const SQL2: &str = "sql02.contoso.local"; // pool02's back end
pub const FE1: &str = "fe01.contoso.local";
pub const FE11: &str = "fe11.contoso.local";
pub const FE12: &str = "fe12.contoso.local";
pub const EDGE: &str = "edge01.contoso.local";
pub const PKG: &str = r"C:\stage\SkypeServerUpdateInstaller.exe";
pub const OLD: &str = "7.0.2046.385";
pub const NEW: &str = "7.0.2046.530";

pub fn stage(e: &mut Estate, host: &str) {
    let at = e.host(host).map_or(0, |h| h.clock_ms);
    let r = e.put_file(host, None, PKG, package(&"ab".repeat(32), TARGET), at, 600_000);
    assert!(r.succeeded(), "{r:?}");
}

/// The install step as the plan renders it: the installer is a GUI program, waited for by
/// `Start-Process`, its exit code handed on from `.ExitCode` (DOMAIN.md §5).
pub fn install_cmd() -> String {
    format!(
        "$sfbpatchInstaller = Start-Process -FilePath '{PKG}' -ArgumentList '/silentmode' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode"
    )
}

pub fn host<'a>(e: &'a Estate, h: &str) -> &'a sfbpatch_sim::estate::Host {
    e.host(h).unwrap_or_else(|| panic!("no host {h}"))
}

/// Stops everything the procedure stops, in a session that is then closed.
pub fn prepare(e: &mut Estate, h: &str) {
    stage(e, h);
    let s = e.open_session(h, 0);
    assert!(run(e, h, s, "Stop-CsWindowsService").succeeded());
    assert!(run(e, h, s, "net stop w3svc").succeeded());
    e.close_sessions(h);
}

/// Installs the update on a Skype for Business server and brings it back into service.
pub fn update(e: &mut Estate, h: &str) {
    prepare(e, h);
    let r = run(e, h, None, &install_cmd());
    assert_eq!(r.exit_code, 0, "{r:?}");
    assert!(run(e, h, None, "Stop-CsWindowsService").succeeded());
    assert!(run(e, h, None, "net start w3svc").succeeded());
    let r = run(e, h, None, "Start-CsWindowsService");
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(host(e, h).build().to_string(), NEW);
}

pub fn schemas(e: &Estate, h: &str) -> Vec<String> {
    host(e, h).databases.iter().map(|d| d.schema.to_string()).collect()
}

pub fn last_applied(e: &Estate, h: &str) -> bool {
    host(e, h).oplog.last().is_some_and(|o| o.applied)
}

pub fn estate_with_package(seed: u64) -> Estate {
    let mut e = estate(seed);
    e.package_build = Some(TARGET);
    e
}

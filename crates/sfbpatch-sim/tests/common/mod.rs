#![allow(dead_code)]

use sfbpatch_core::plan::{Plan, PlanRequest, plan};
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::{
    example,
    topology::{self, Topology},
};
use sfbpatch_sim::estate::{Estate, EstateOptions};
use sfbpatch_sim::exec::{Execution, Request};
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

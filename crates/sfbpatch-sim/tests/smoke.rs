use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::readback::Build;
use sfbpatch_core::{example, topology};
use sfbpatch_sim::estate::EstateOptions;
use sfbpatch_sim::rehearse::{RehearseOptions, rehearse};

#[test]
fn smoke() {
    let t = topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    let opts = RehearseOptions { estate: EstateOptions { seed: 7, ..EstateOptions::default() }, package_build: Build([7, 0, 2046, 530]), faults: vec![] };
    let (r, _) = rehearse(&t, &p, &opts);
    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
}

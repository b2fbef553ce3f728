//! Hosts take their product from the topology (issue 11, item 5): a Lync Server 2013 host of
//! a mixed estate has neither `Get-CsServerPatchVersion` nor the computer failover cmdlets
//! (DOMAIN.md §5; docs/research/issue11-products.md) and answers the build read-back Lync
//! Server 2013 has: its installed products in the Uninstall key.

mod common;

use common::{host, run};
use sfbpatch_core::probe::Probe;
use sfbpatch_core::readback::{Build, parse_patch_versions};
use sfbpatch_core::runbook::Product;
use sfbpatch_core::topology;
use sfbpatch_sim::estate::{Estate, EstateOptions};

fn mixed() -> Estate {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/topology/mixed-lync2013.xml");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let t = topology::load("mixed-lync2013.xml", &bytes).unwrap_or_else(|e| panic!("{e}"));
    let lync = sfbpatch_sim::rehearse::default_builds(Product::Lync2013).0;
    let opts = EstateOptions { other_builds: vec![(Product::Lync2013, lync)], ..EstateOptions::default() };
    Estate::new(&t, &opts)
}

const LYNC_FE: &str = "fe11.contoso.local";
const SFB_FE: &str = "fe01.contoso.local";

#[test]
fn each_host_runs_the_product_its_topology_names_at_that_products_build() {
    let e = mixed();
    assert_eq!(host(&e, LYNC_FE).product, Product::Lync2013);
    assert_eq!(host(&e, "sql02.contoso.local").product, Product::Lync2013);
    assert_eq!(host(&e, SFB_FE).product, Product::Sfb2019);
    assert_eq!(host(&e, LYNC_FE).build(), Build([5, 0, 8308, 1001]));
    assert_eq!(host(&e, SFB_FE).build(), Build([7, 0, 2046, 385]));
    // Lync's back end holds databases at Lync's schema.
    assert!(host(&e, "sql02.contoso.local").databases.iter().all(|d| d.schema == Build([5, 0, 8308, 1001])));
}

#[test]
fn a_lync_host_lacks_the_sfb_2015_cmdlets_and_answers_its_installed_products() {
    let mut e = mixed();
    for cmd in ["Get-CsServerPatchVersion", "Invoke-CsComputerFailOver -ComputerName 'fe11.contoso.local'"] {
        let r = run(&mut e, LYNC_FE, None, cmd);
        assert_eq!(r.exit_code, 1, "{cmd}");
        assert!(r.stderr.contains("is not recognized"), "{cmd}: {}", r.stderr);
    }
    // The same commands exist on the estate's Skype for Business Server 2019 hosts.
    assert!(run(&mut e, SFB_FE, None, "Get-CsServerPatchVersion").succeeded());
    let r = run(&mut e, LYNC_FE, None, &Probe::builds(Product::Lync2013).command());
    assert!(r.succeeded(), "{}", r.stderr);
    assert!(r.stdout.contains("DisplayName     : Microsoft Lync Server 2013, Core Components"), "{}", r.stdout);
    // Every Lync component at its build; the Debugging Tools and other products left out.
    let builds = parse_patch_versions(&r.stdout);
    assert_eq!(builds.len(), 3, "{builds:?}");
    assert!(
        builds.iter().all(|(n, b)| n.starts_with("Microsoft Lync Server 2013, ") && *b == Build([5, 0, 8308, 1001]))
    );
    assert!(r.stdout.contains("Debugging Tools") && r.stdout.contains("SQL Server 2012 Native Client"));
}

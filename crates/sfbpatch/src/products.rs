//! Products per server at the edge (issue 11, item 5): a run stages one package, which
//! installs one product's update, so a plan whose servers run several products is refused
//! before anything starts, each server listed with its product; and a simulated estate whose
//! hosts each start at their own product's build.

use sfbpatch_core::plan::Plan;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::Product;
use sfbpatch_i18n::{Args, Lang, fmt as tr};
use sfbpatch_sim::estate::EstateOptions;
use sfbpatch_sim::rehearse::default_builds;

use crate::Failure;

/// Refuses a plan whose servers run more than one product (one package per run), naming
/// each server's product and how to run them.
pub(crate) fn one_product(p: &Plan, lang: Lang) -> Result<(), Failure> {
    let products = p.products();
    if products.len() < 2 {
        return Ok(());
    }
    let servers: Vec<String> = p.servers.iter().map(|s| format!("{} ({})", s.fqdn, s.product.as_str())).collect();
    let example = p.servers.iter().find(|s| s.product != p.product).map(|s| s.fqdn.to_string()).unwrap_or_default();
    Err(Failure::Message(tr(
        lang,
        "cli.error.mixed-products",
        &Args::new()
            .with("products", products.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
            .with("servers", servers.join(", "))
            .with("example", example),
    )))
}

/// The simulated estate's options: each host's product from the topology (or `over`, the
/// operator's `--product`); hosts of `updated` (the package's product) start at `from`, the
/// others at their product's simulation default.
pub(crate) fn estate_options(over: Option<Product>, updated: Product, from: &Build, seed: u64) -> EstateOptions {
    let product = over.unwrap_or_default();
    let other_builds =
        Product::ALL.map(|q| (q, if q == updated { from.clone() } else { default_builds(q).0 })).to_vec();
    EstateOptions {
        seed,
        product,
        force_product: over,
        initial_build: if product == updated { from.clone() } else { default_builds(product).0 },
        other_builds,
        ..EstateOptions::default()
    }
}

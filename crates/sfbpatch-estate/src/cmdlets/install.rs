//! The builds the update installer leaves: `Get-CsServerPatchVersion`, `Get-CsServerVersion`
//! (the installer itself and how the shell starts it: `installer.rs`).

use sfbpatch_core::runbook::Product;

use super::{Call, Cmdlet, Cx, Family, Out, SFB, me, table};
use crate::estate::Estate;

const F: Family = Family::Install;

pub(super) const CMDLETS: &[Cmdlet] = &[
    // "exists from the SfB Server 2015 November 2015 cumulative update on; Lync Server 2013
    // has no such cmdlet" (DOMAIN.md §5).
    Cmdlet::new(F, SFB, "Get-CsServerPatchVersion", &[], &[], patch_version).missing_in(&[Product::Lync2013]).local(),
    // Any arguments are accepted and ignored.
    Cmdlet::new(F, SFB, "Get-CsServerVersion", &[], &[], server_version).raw(),
];

fn patch_version(e: &mut Estate, cx: &mut Cx, _: &Call<'_>) -> Out {
    let h = me(e, cx);
    let rows: Vec<[String; 3]> = h.components.iter().map(|(c, b)| [c.clone(), b.to_string(), String::new()]).collect();
    Out::ok(table(["ComponentName", "Version", "Update"], &rows), h.rng.secs(3.0, 8.0))
}

fn server_version(e: &mut Estate, cx: &mut Cx, _: &Call<'_>) -> Out {
    let h = me(e, cx);
    Out::ok(
        format!("\n{} ({}): Volume license key installed.\n\n", h.product_name(), h.release_build),
        h.rng.secs(1.0, 3.0),
    )
}

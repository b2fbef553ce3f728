//! Database schemas: `Install-CsDatabase -Update` (DOMAIN.md §4 rule 4).

use super::{Call, Cmdlet, Cx, Family, Out, SFB};
use crate::Ms;
use crate::estate::{Host, ServiceKind};
use sfbpatch_core::topology::Role;

const F: Family = Family::Database;

pub(super) const CMDLETS: &[Cmdlet] = &[Cmdlet::new(
    F,
    SFB,
    "Install-CsDatabase",
    &["Update", "ConfiguredDatabases", "LocalDatabases", "ExcludeCollocatedStores", "Force"],
    &["SqlServerFqdn"],
    install_database,
)];

/// The databases `Install-CsDatabase` would update, or why it refuses: `-LocalDatabases` on
/// a Standard Edition server; `-ConfiguredDatabases` on the SQL Server named by
/// `-SqlServerFqdn` (rule 4).
fn targets(h: &mut Host, call: &Call<'_>) -> Result<Vec<usize>, Out> {
    let (name, p) = (call.name, &call.params);
    if p.has("LocalDatabases") {
        if h.role != Role::StandardEdition {
            return Err(Out::err(
                format!(
                    "{name} : No local databases to update on this computer: -LocalDatabases applies to a Standard Edition server."
                ),
                h.rng.secs(10.0, 30.0),
            ));
        }
        return Ok((0..h.databases.len()).collect());
    }
    if !p.has("ConfiguredDatabases") {
        return Err(Out::err(format!("{name} : Specify -ConfiguredDatabases or -LocalDatabases."), 1000));
    }
    let Some(sql) = p.get("SqlServerFqdn") else {
        return Err(Out::err(format!("{name} : -ConfiguredDatabases requires -SqlServerFqdn."), 1000));
    };
    let own = h.sql_server_fqdn.as_ref().map(|f| f.as_str()).unwrap_or(h.fqdn.as_str());
    if !sql.eq_ignore_ascii_case(own) {
        return Err(Out::err(
            format!("{name} : No configured databases were found on SQL Server '{sql}' from this computer."),
            h.rng.secs(20.0, 60.0),
        ));
    }
    let exclude = p.has("ExcludeCollocatedStores");
    if !h.collocated_stores.is_empty() && !exclude {
        return Err(Out::err(
            format!(
                "{name} : The SQL Server '{sql}' also hosts collocated databases ({}). Run the update with -ExcludeCollocatedStores.",
                h.collocated_stores.join(", ")
            ),
            h.rng.secs(20.0, 60.0),
        ));
    }
    Ok((0..h.databases.len()).filter(|&i| !exclude || !h.collocated_stores.contains(&h.databases[i].store)).collect())
}

fn install_database(h: &mut Host, _: &mut Cx, call: &Call<'_>) -> Out {
    let name = call.name;
    if !call.params.has("Update") {
        return Out::err(format!("{name} : the simulator models only -Update."), 1000);
    }
    if let Some(s) = h.services.iter().find(|s| s.kind == ServiceKind::Sfb && s.running) {
        return Out::err(
            format!(
                "{name} : Cannot update the databases while Skype for Business Server services are running on this computer ({} is running). Stop them with Stop-CsWindowsService.",
                s.name
            ),
            h.rng.secs(10.0, 30.0),
        );
    }
    let build = h.build();
    let targets = match targets(h, call) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let mut updated = Vec::new();
    for i in &targets {
        let d = &mut h.databases[*i];
        if d.schema < build {
            d.schema = build.clone();
            updated.push(format!("{}:{}", d.instance, d.store));
        }
    }
    let ms = h.rng.secs(90.0, 180.0) + 30_000 * updated.len() as Ms;
    let text = if updated.is_empty() {
        "The databases are already up to date.\n".to_owned()
    } else {
        format!("Updated databases: {}.\n", updated.join(", "))
    };
    Out::ok(text, ms)
}

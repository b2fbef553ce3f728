//! Database schemas: `Install-CsDatabase -Update` (DOMAIN.md §4 rule 4) and
//! `Test-CsDatabase -ConfiguredDatabases` (rule 5); `sqlcmd`'s sysadmin query (rule 8). Both act on the SQL Server the command
//! names, which is normally another machine than the one running it (DOMAIN.md §1a).
//!
//! A database's schema is versioned here by the build that installed it: real schema
//! versions are per-database numbers (issue10-sources.md §2.1: `xds` 10.13.2), which nothing
//! public maps to builds; what matters, installed equal to expected, is kept.

use sfbpatch_core::readback::Build;
use sfbpatch_core::topology::Role;

use sfbpatch_pwsh::syntax::Element;

use super::{Call, Cmdlet, Cx, Family, Out, SFB, WINDOWS, me, not_recognized};
use crate::Ms;
use crate::estate::Estate;

const F: Family = Family::Database;

pub(super) const CMDLETS: &[Cmdlet] = &[
    Cmdlet::new(
        F,
        SFB,
        "Install-CsDatabase",
        &[
            "Update",
            "ConfiguredDatabases",
            "LocalDatabases",
            "ExcludeCollocatedStores",
            "ForDefaultInstance",
            "UseDefaultSqlPaths",
            "SkipPrepareCheck",
            "NoReindex",
            "Force",
            "Verbose",
            "Confirm",
        ],
        &["SqlServerFqdn", "ForInstance", "Report", "DatabasePaths"],
        install_database,
    ),
    Cmdlet::new(
        F,
        SFB,
        "Test-CsDatabase",
        &["ConfiguredDatabases", "Verbose", "Confirm"],
        &["SqlServerFqdn", "Report"],
        test_database,
    ),
    // sqlcmd: a console program, its arguments read by [`sqlcmd`].
    Cmdlet::new(F, WINDOWS, "sqlcmd", &[], &[], sqlcmd).raw(),
];

/// The SQL Server's machines (hosts whose cluster or name is `sql` and that hold
/// databases), or why there are none.
fn sql_nodes(e: &Estate, name: &str, sql: &str) -> Result<Vec<usize>, String> {
    let nodes: Vec<usize> = e.sql_nodes(sql).to_vec();
    if nodes.is_empty() {
        // Wording UNVERIFIED: the topology has no databases on that SQL Server.
        Err(format!("{name} : No databases are configured in the topology for SQL Server '{sql}'."))
    } else {
        Ok(nodes)
    }
}

/// DOMAIN.md §5 (the double hop): a session without network credentials (a public-key SSH
/// logon) cannot log on to a remote SQL Server. The error is SQL Server's for an anonymous
/// network logon.
fn credentials(e: &Estate, cx: &Cx, name: &str, sql: &str, nodes: &[usize]) -> Result<(), String> {
    let remote = !nodes.contains(&cx.hi);
    if remote && (cx.no_credentials || !e.hosts[cx.hi].network_credentials) {
        return Err(format!(
            "{name} : Cannot connect to SQL Server '{sql}': Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'. (This session has no network credentials.)"
        ));
    }
    Ok(())
}

/// The newest build installed on any Skype for Business machine of the running host's
/// product (a mixed estate's Lync Server 2013 databases follow Lync's builds), or the
/// package's build.
fn newest_build(e: &Estate, cx: &Cx) -> Build {
    let product = e.hosts[cx.hi].product;
    let installed = e.hosts.iter().filter(|h| h.sfb_installed && h.product == product).map(|h| h.build()).max();
    installed.into_iter().chain(cx.package_build.clone()).max().unwrap_or(Build([0; 4]))
}

/// `Install-CsDatabase -Update` (rule 4):
/// * `-ConfiguredDatabases -SqlServerFqdn X` updates every database the topology places on X
///   (every instance, unless `-ForInstance`/`-ForDefaultInstance`) to the schema of the
///   running host's build. It needs: the SfB admin tools at the new build on the running host
///   (an older build fails and changes nothing), network credentials when X is another
///   machine (§5), SQL sysadmin rights on X (rule 8), X reachable, and no mirrored databases
///   (the cmdlet reference: `-Update` "cannot be used against mirrored databases").
///   `-ExcludeCollocatedStores` only suppresses a warning (cmdlet reference, DOMAIN.md §1a):
///   it skips nothing. While it runs, X's databases are unavailable (rule 10).
/// * `-LocalDatabases` updates the local databases of a Standard Edition server.
///
/// It does not refuse to run while Skype for Business services run on the computer: the
/// documented way runs it on a serving Front End (§1a), and §4 has no such rule.
fn install_database(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let (name, p) = (call.name, &call.params);
    let h = me(e, cx);
    if !p.has("Update") {
        return Out::err(format!("{name} : the simulator models only -Update."), 1000);
    }
    let local = p.has("LocalDatabases");
    let (nodes, sql, target) = if local {
        if h.role != Role::StandardEdition || h.databases.is_empty() {
            return Out::err(
                format!(
                    "{name} : No local databases to update on this computer: -LocalDatabases applies to a Standard Edition server."
                ),
                h.rng.secs(10.0, 30.0),
            );
        }
        (vec![cx.hi], h.fqdn.to_string(), h.build())
    } else {
        if !p.has("ConfiguredDatabases") {
            return Out::err(format!("{name} : Specify -ConfiguredDatabases or -LocalDatabases."), 1000);
        }
        let Some(sql) = p.get("SqlServerFqdn").map(str::to_owned) else {
            return Out::err(format!("{name} : -ConfiguredDatabases requires -SqlServerFqdn."), 1000);
        };
        let ms = h.rng.secs(10.0, 40.0);
        let nodes = match sql_nodes(e, name, &sql).and_then(|n| credentials(e, cx, name, &sql, &n).map(|()| n)) {
            Ok(n) => n,
            Err(why) => return Out::err(why, ms),
        };
        let (mine, newest) = (e.hosts[cx.hi].build(), newest_build(e, cx));
        if mine < newest {
            // Rule 4: "from a host at an older build … it fails and changes nothing" (the
            // words are the simulator's).
            return Out::err(
                format!(
                    "{name} : This computer's Skype for Business Server administrative tools are at {mine}, older than the installed update {newest}: the databases of '{sql}' cannot be updated from here. Run the command on a server that has the update."
                ),
                ms,
            );
        }
        (nodes, sql, mine)
    };
    let ms0 = me(e, cx).rng.secs(10.0, 40.0);
    if nodes.iter().any(|&i| e.hosts[i].mirrored) {
        return Out::err(
            format!(
                "{name} : The Update parameter cannot be used against mirrored databases on '{sql}': the mirror databases cannot be dropped and recreated. Run Uninstall-CsMirrorDatabase first."
            ),
            ms0,
        );
    }
    if nodes.iter().any(|&i| !e.hosts[i].sql_sysadmin) {
        return Out::err(
            format!(
                "{name} : The account {} is not a member of the sysadmin role on SQL Server '{sql}'.",
                e.hosts[cx.hi].account
            ),
            ms0,
        );
    }
    // Which instances: every one, unless -ForInstance / -ForDefaultInstance.
    let only: Option<String> = if p.has("ForDefaultInstance") {
        Some(String::new())
    } else {
        p.get("ForInstance").map(str::to_ascii_lowercase)
    };
    let wanted = |instance: &str| only.as_deref().is_none_or(|o| o == instance);
    // Every instance must answer on some node (a clustered SQL Server serves from any).
    let at = cx.now;
    for &i in &nodes {
        for d in e.hosts[i].databases.iter().filter(|d| wanted(&d.instance)) {
            if !nodes.iter().any(|&j| e.hosts[j].sql_up(&d.instance, at)) {
                return Out::err(
                    format!(
                        "{name} : A network-related or instance-specific error occurred while establishing a connection to SQL Server '{sql}\\{}'. The server was not found or was not accessible.",
                        d.instance
                    ),
                    ms0 + 15_000,
                );
            }
        }
    }
    let mut updated: Vec<String> = Vec::new();
    let mut ms: Ms = me(e, cx).rng.secs(60.0, 150.0);
    for &i in &nodes {
        cx.touch(e, i);
        let h = &mut e.hosts[i];
        for k in 0..h.databases.len() {
            if !wanted(&h.databases[k].instance) || h.databases[k].schema >= target {
                continue;
            }
            h.databases[k].schema = target.clone();
            let label = format!("{}:{}", h.databases[k].instance, h.databases[k].name);
            if !updated.contains(&label) {
                // Rule 9: a few minutes, longer for the big stores.
                let big = matches!(h.databases[k].store.as_str(), "MonitoringStore" | "ArchivingStore");
                ms += if big { h.rng.secs(60.0, 240.0) } else { h.rng.secs(20.0, 60.0) };
                updated.push(label);
            }
        }
    }
    if !updated.is_empty() {
        let end = at + cx.dur(ms);
        for &i in &nodes {
            e.hosts[i].busy_intervals.push((at, end));
        }
    }
    let mut text = String::new();
    let collocated = &e.hosts[nodes[0]].collocated_stores;
    if !local && !collocated.is_empty() && !p.has("ExcludeCollocatedStores") {
        // The warning -ExcludeCollocatedStores suppresses (cmdlet reference); wording ours.
        text.push_str(&format!(
            "WARNING: SQL Server '{sql}' also holds collocated database stores ({}): any collocated database stores must be installed on the local computer. Use -ExcludeCollocatedStores to suppress this warning.\n",
            collocated.join(", ")
        ));
    }
    if updated.is_empty() {
        text.push_str("The databases are already up to date.\n");
    } else {
        text.push_str(&format!("Updated databases: {}.\n", updated.join(", ")));
    }
    Out::ok(text, ms)
}

/// `Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn X` (rule 5): one object per
/// database of X in PowerShell's list format, exactly the properties and order of
/// Microsoft's sample (issue10-sources.md §2.1), a blank line between objects;
/// `ExpectedVersion` is what the running host's build expects, `Succeed` True when the
/// installed version is that. A database that does not answer is reported, not skipped
/// ("reports back the success or failure of each attempt"); failures end with the two
/// warnings of Microsoft's failure sample.
fn test_database(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let (name, p) = (call.name, &call.params);
    let ms = me(e, cx).rng.secs(5.0, 20.0);
    if !p.has("ConfiguredDatabases") {
        return Out::err(format!("{name} : the simulator models only -ConfiguredDatabases."), 1000);
    }
    let Some(sql) = p.get("SqlServerFqdn").map(str::to_owned) else {
        return Out::err(format!("{name} : -ConfiguredDatabases requires -SqlServerFqdn."), 1000);
    };
    let nodes = match sql_nodes(e, name, &sql).and_then(|n| credentials(e, cx, name, &sql, &n).map(|()| n)) {
        Ok(n) => n,
        Err(why) => return Out::err(why, ms),
    };
    let expected = e.hosts[cx.hi].build();
    let at = cx.now;
    let mirror = if nodes.iter().any(|&i| e.hosts[i].mirrored) {
        match sql.split_once('.') {
            Some((first, rest)) => format!("{first}-mirror.{rest}"),
            None => format!("{sql}-mirror"),
        }
    } else {
        String::new()
    };
    let mut seen: Vec<(String, String)> = Vec::new();
    let (mut text, mut failed) = (String::from("\n"), 0);
    for &i in &nodes {
        for d in &e.hosts[i].databases {
            let key = (d.instance.clone(), d.name.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let up = nodes.iter().find(|&&j| e.hosts[j].sql_up(&d.instance, at));
            let installed = up.map(|&j| {
                e.hosts[j]
                    .databases
                    .iter()
                    .find(|x| x.instance == d.instance && x.name == d.name)
                    .map_or_else(|| d.schema.clone(), |x| x.schema.clone())
            });
            let ok = installed.as_ref() == Some(&expected);
            failed += usize::from(!ok);
            let source = if up.is_some() { format!("{sql}\\{}", d.instance) } else { String::new() };
            let version = if up.is_some() { "13.0.5026" } else { "" };
            let rows = [
                ("SqlServerFqdn", sql.clone()),
                ("SqlInstanceName", d.instance.clone()),
                // A mirrored back end names its mirror here (issue10-sources.md §2.1, §2.7). The
                // topology export gives no mirror (§1): the simulated partner's name is made up.
                ("MirrorSqlServerFqdn", mirror.clone()),
                ("MirrorSqlInstanceName", if mirror.is_empty() { String::new() } else { d.instance.clone() }),
                ("DatabaseName", d.name.clone()),
                ("DataSource", source),
                ("SQLServerVersion", version.to_owned()),
                ("ExpectedVersion", expected.to_string()),
                ("InstalledVersion", installed.map(|b| b.to_string()).unwrap_or_default()),
                ("Succeed", if ok { "True".to_owned() } else { "False".to_owned() }),
            ];
            for (k, v) in rows {
                text.push_str(format!("{k:<21} : {v}").trim_end());
                text.push('\n');
            }
            text.push('\n');
        }
    }
    let ms = ms + 1500 * seen.len() as Ms;
    if failed > 0 {
        text.push_str(&format!(
            "WARNING: Test-CsDatabase encountered errors. Consult the log file for a detailed analysis, and to make sure that all errors ({failed}) and warnings (0) are addressed before continuing.\n\
WARNING: Detailed results can be found at \"C:\\Users\\Administrator\\AppData\\Local\\Temp\\Test-CsDatabase-{:08x}.html\".\n",
            at
        ));
    }
    Out::ok(text, ms)
}

/// The text after `sqlcmd`'s connection errors. Wording of the ODBC-based sqlcmd of SQL Server
/// 2012-2016 as field reports quote it (UNVERIFIED word for word); what matters here is the
/// exit code 1 and that no value is printed.
const SQLCMD: &str = "Sqlcmd: Error: Microsoft ODBC Driver 11 for SQL Server";

/// `sqlcmd -S server[\\instance] -E -b -h -1 -Q "… IS_SRVROLEMEMBER('sysadmin')"` (the sqlcmd
/// utility reference): whether the account is a sysadmin of that SQL Server instance (rule 8,
/// the operator's `sql_sysadmin` on the machines that hold it), printed alone on its line,
/// exit code 0 whatever the answer. It exists where SQL Server or Skype for Business (with its
/// SQL Server Express) is installed. Errors end with exit code 1 (`-b`: "1 when the SQL
/// Server error message has a severity level greater than 10"; a connection that fails is an
/// error too) and print no value:
/// * an instance that does not answer (no such server or instance, its service stopped, the
///   machine restarting): SQL Server's network error;
/// * from a session without network credentials to another machine (DOMAIN.md §5, the double
///   hop): the logon fails as `NT AUTHORITY\\ANONYMOUS LOGON` (error 18456, severity 14).
///
/// Only `-S`, `-E`, `-b`, `-h`, `-Q` with that query are modelled; anything else is refused.
fn sqlcmd(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    // Fixed, as whoami's: a read-only query leaves the seeded draws of the steps as they were.
    let ms = 800;
    if !h.sfb_installed && h.databases.is_empty() {
        return Out::err(not_recognized(call.name), ms);
    }
    let (mut server, mut query) = (None, None);
    let mut it = call.elements.iter();
    while let Some(el) = it.next() {
        let value = |el: Option<&Element>| match el {
            Some(Element::Literal(v) | Element::Bare(v)) => Some(v.clone()),
            _ => None,
        };
        match el {
            Element::Parameter(p) if p == "S" => server = value(it.next()),
            Element::Parameter(p) if p == "Q" => query = value(it.next()),
            Element::Parameter(p) if p == "h" => {
                it.next();
            }
            Element::Parameter(p) if p == "E" || p == "b" => {}
            other => return Out::err(format!("Sqlcmd: '{other:?}': the simulator models only -S -E -b -h -Q."), ms),
        }
    }
    let wanted = query.is_some_and(|q| q.to_ascii_lowercase().contains("is_srvrolemember('sysadmin')"));
    let Some(server) = server.filter(|_| wanted) else {
        return Out::err(
            "Sqlcmd: the simulator models only -S <server> -Q \"SELECT IS_SRVROLEMEMBER('sysadmin')\".",
            ms,
        );
    };
    let (name, instance) = server.split_once('\\').unwrap_or((server.as_str(), ""));
    let instance = instance.to_ascii_lowercase();
    let nodes: Vec<usize> = e.sql_nodes(name).to_vec();
    let at = cx.now;
    let has = |i: usize| e.hosts[i].databases.iter().any(|d| d.instance == instance);
    if !nodes.iter().any(|&i| has(i) && e.hosts[i].sql_up(&instance, at)) {
        return Out::err(
            format!(
                "{SQLCMD} : Named Pipes Provider: Could not open a connection to SQL Server [53]. .\n\
{SQLCMD} : Login timeout expired.\n\
{SQLCMD} : A network-related or instance-specific error has occurred while establishing a connection to SQL Server. Server is not found or not accessible. Check if instance name is correct and if SQL Server is configured to allow remote connections. For more information see SQL Server Books Online..\n"
            ),
            ms + 15_000,
        );
    }
    let remote = !nodes.contains(&cx.hi);
    if remote && (cx.no_credentials || !e.hosts[cx.hi].network_credentials) {
        return Out::err(format!("{SQLCMD} : Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'..\n"), ms);
    }
    let sysadmin = nodes.iter().filter(|&&i| has(i)).all(|&i| e.hosts[i].sql_sysadmin);
    Out::ok(format!("{:>11}\n", u8::from(sysadmin)), ms)
}

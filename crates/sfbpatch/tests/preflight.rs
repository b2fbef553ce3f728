//! The rights checked before any outage (issue 11, item 3), through the built binary and the
//! simulator: a session that is not elevated, an account that is not a local administrator,
//! not in RTCUniversalServerAdmins, or not a sysadmin of the back end's SQL Server. Each is
//! refused with its sentence before anything changes: exit 1, nothing applied on any host,
//! every service running. `sim init`, the estate file edited as an operator's estate would
//! be, `run --transport sim`.

mod common;

use std::path::PathBuf;

use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/topology").join(name).display().to_string()
}

fn hosts(e: &Value) -> impl Iterator<Item = &Value> {
    e["hosts"].as_array().into_iter().flatten()
}

fn edit_host(e: &mut Value, fqdn: &str, f: impl Fn(&mut Value)) {
    let mut found = false;
    for h in e["hosts"].as_array_mut().into_iter().flatten().filter(|h| h["fqdn"] == fqdn) {
        f(h);
        found = true;
    }
    assert!(found, "{fqdn} in the estate");
}

/// Nothing was applied anywhere, and every service runs.
fn assert_untouched(e: &Value, said: &str) {
    for h in hosts(e) {
        let applied: Vec<&Value> =
            h["oplog"].as_array().into_iter().flatten().filter(|op| op["applied"] == true).collect();
        assert!(applied.is_empty(), "{} was changed: {applied:?}\n{said}", h["fqdn"]);
        assert!(
            h["services"].as_array().into_iter().flatten().all(|s| s["running"] == true),
            "{} has a service stopped\n{said}",
            h["fqdn"]
        );
    }
}

/// The commands sent to `fqdn`, in order.
fn commands(e: &Value, fqdn: &str) -> Vec<String> {
    hosts(e)
        .filter(|h| h["fqdn"] == fqdn)
        .flat_map(|h| h["oplog"].as_array().into_iter().flatten())
        .filter_map(|op| op["command"].as_str().map(str::to_owned))
        .collect()
}

const SE: &str = "se01.fabrikam.local";

#[test]
fn a_session_that_is_not_elevated_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (code, said, e) = common::run_estate(&fixture("standard-edition.xml"), dir.path(), |e| {
        edit_host(e, SE, |h| h["elevated"] = false.into())
    });
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(
            "se01.fabrikam.local was not started: the session on se01.fabrikam.local is not elevated (whoami /groups shows no High Mandatory Level), and stopping services and installing the update need an elevated process. Nothing was changed"
        ),
        "{said}"
    );
    assert_untouched(&e, &said);
    let sent = commands(&e, SE);
    assert_eq!(sent.iter().filter(|c| c.contains("whoami /groups /fo csv /nh")).count(), 1, "{sent:?}");
    assert!(!sent.iter().any(|c| c.contains("Stop-CsWindowsService") || c.contains("Copy-Item")), "{sent:?}");
}

#[test]
fn an_account_that_is_not_a_local_administrator_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Not a member at all: the token is not elevated either, and the sentence says what to
    // fix first (elevating would not help).
    let (code, said, e) = common::run_estate(&fixture("standard-edition.xml"), dir.path(), |e| {
        edit_host(e, SE, |h| {
            h["local_admin"] = false.into();
            h["elevated"] = false.into();
        })
    });
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(
            "se01.fabrikam.local was not started: the account sfbpatch uses on se01.fabrikam.local is not a member of its local Administrators group (BUILTIN\\Administrators, S-1-5-32-544)"
        ),
        "{said}"
    );
    assert!(!said.contains("is not elevated"), "{said}");
    assert_untouched(&e, &said);
}

#[test]
fn an_account_outside_rtcuniversalserveradmins_is_refused_where_databases_are_updated() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (code, said, e) = common::run_estate(&fixture("standard-edition.xml"), dir.path(), |e| {
        edit_host(e, SE, |h| h["account_groups"] = serde_json::json!(["Domain Users"]))
    });
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(
            "se01.fabrikam.local was not started: the account sfbpatch uses on se01.fabrikam.local is not a member of RTCUniversalServerAdmins, which Test-CsDatabase and Install-CsDatabase need"
        ),
        "{said}"
    );
    assert_untouched(&e, &said);
}

/// The enterprise fixture: pool01's back end sql01 is updated from a Front End of the pool.
fn enterprise_back_end_run(edit: impl FnOnce(&mut Value)) -> (i32, String, Value) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    common::run_estate(&fixture("enterprise.xml"), dir.path(), edit)
}

#[test]
fn an_account_that_is_not_sysadmin_on_the_back_ends_sql_server_leaves_its_pool_untouched() {
    let (code, said, e) =
        enterprise_back_end_run(|e| edit_host(e, "sql01.fabrikam.local", |h| h["sql_sysadmin"] = false.into()));
    assert_eq!(code, 1, "{said}");
    let sentence = "sql01.fabrikam.local was not started: the account that runs Install-CsDatabase on ";
    assert!(said.contains(sentence), "{said}");
    assert!(said.contains("is not a member of the sysadmin role on SQL Server sql01.fabrikam.local"), "{said}");
    // Its pool's Front Ends, which it waits for, were not started either.
    assert!(said.contains("the databases of its back end sql01.fabrikam.local cannot be updated as planned"), "{said}");
    assert_untouched(&e, &said);
    // The question was asked with sqlcmd, from the Front End that runs the update.
    let asked: Vec<String> = hosts(&e)
        .flat_map(|h| commands(&e, h["fqdn"].as_str().unwrap_or("")))
        .filter(|c| c.starts_with("sqlcmd -S 'sql01.fabrikam.local"))
        .collect();
    assert!(!asked.is_empty(), "sqlcmd was sent:\n{said}");
    assert!(asked.iter().all(|c| c.contains("IS_SRVROLEMEMBER(''sysadmin'')")), "{asked:?}");
}

#[test]
fn a_sql_server_that_does_not_answer_is_refused_with_sqlcmds_error() {
    let (code, said, e) = enterprise_back_end_run(|e| {
        edit_host(e, "sql01.fabrikam.local", |h| {
            for s in h["services"].as_array_mut().into_iter().flatten() {
                if s["name"].as_str().is_some_and(|n| n.starts_with("MSSQL")) {
                    s["running"] = false.into();
                }
            }
        })
    });
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("sql01.fabrikam.local was not started: from "), "{said}");
    assert!(said.contains("could not be checked (sqlcmd): exit code 1"), "{said}");
    for h in hosts(&e) {
        assert!(!h["oplog"].as_array().into_iter().flatten().any(|op| op["applied"] == true), "{}", h["fqdn"]);
    }
}

#[test]
fn one_front_end_refused_keeps_its_whole_pool_untouched() {
    let (code, said, e) =
        enterprise_back_end_run(|e| edit_host(e, "fe02.fabrikam.local", |h| h["elevated"] = false.into()));
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("fe02.fabrikam.local was not started: the session on fe02.fabrikam.local is not elevated"),
        "{said}"
    );
    for other in ["fe01.fabrikam.local", "fe03.fabrikam.local"] {
        let line = said.lines().skip_while(|l| !l.trim_start().starts_with(other)).nth(1).unwrap_or_default();
        assert_eq!(
            line.trim(),
            "not started: fe02.fabrikam.local, of the same pool, was refused before the run (its reason is given with it), so the pool was left as it was",
            "{said}"
        );
    }
    assert_untouched(&e, &said);
}

#[test]
fn with_every_right_the_estate_still_updates() {
    let (code, said, e) = enterprise_back_end_run(|_| {});
    assert_eq!(code, 0, "{said}");
    let target = e["package_build"].as_str().unwrap_or_default().to_owned();
    for h in hosts(&e) {
        for d in h["databases"].as_array().into_iter().flatten() {
            assert_eq!(d["schema"].as_str(), Some(target.as_str()), "{} {}", h["fqdn"], d["name"]);
        }
    }
}

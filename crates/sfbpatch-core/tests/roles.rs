//! Every role (issue 12): roles read from the export, paired pools, the scopes, the runbooks
//! of Directors, Edge, Mediation and Persistent Chat servers, and what is out of scope.

mod common;

use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::{OutOfScopeReason, Runbook, Scope, out_of_scope, targets_in};
use sfbpatch_core::topology::Role;
use sfbpatch_core::{example, topology};

fn request(scope: Scope) -> PlanRequest {
    let mut r = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    r.scope = scope;
    r
}

fn names(v: &[sfbpatch_core::fqdn::Fqdn]) -> Vec<&str> {
    v.iter().map(|f| f.as_str()).collect()
}

#[test]
fn roles_are_read_from_the_export() {
    let t = common::load("topology/roles.xml");
    let role = |f: &str| t.server(f).map(|s| s.role);
    assert_eq!(role("dir01.fabrikam.local"), Some(Role::Director));
    assert_eq!(role("edge02.fabrikam.local"), Some(Role::Edge));
    assert_eq!(role("med11.fabrikam.local"), Some(Role::Mediation));
    assert_eq!(role("pc01.fabrikam.local"), Some(Role::PersistentChat));
    assert_eq!(role("sql03.fabrikam.local"), Some(Role::SqlStore));
    assert_eq!(role("wac01.fabrikam.local"), Some(Role::OfficeWebApps));
    assert_eq!(role("vis01.fabrikam.local"), Some(Role::VideoInterop));
    assert_eq!(role("odd01.fabrikam.local"), Some(Role::Other));
    // The Edge's next hop is the Director pool (its `DependsOn`).
    assert_eq!(t.server("edge01.fabrikam.local").map(|s| names(&s.depends_on)), Some(vec!["dir.fabrikam.local"]));
}

#[test]
fn reciprocal_registrars_are_a_pair_and_a_one_way_link_is_not() {
    let t = common::load("topology/roles.xml");
    assert_eq!(t.pairs.len(), 1, "{:?}", t.pairs);
    assert_eq!((t.pairs[0].0.as_str(), t.pairs[0].1.as_str()), ("pool01.fabrikam.local", "pool02.fabrikam.local"));
    let backup = |p: &str| t.pools.iter().find(|x| x.fqdn.as_str() == p).and_then(|x| x.backup.clone());
    assert_eq!(backup("pool01.fabrikam.local").map(|f| f.to_string()), Some("pool02.fabrikam.local".to_owned()));
    assert_eq!(backup("pool02.fabrikam.local").map(|f| f.to_string()), Some("pool01.fabrikam.local".to_owned()));
    // se03's Registrar depends on pool01's, one way: a backup Registrar, not a pair.
    assert_eq!(backup("se03.fabrikam.local"), None);
    // The undocumented Usage is kept and reported once per value, with its count and the
    // first dependency that carries it (a large estate's hundreds of pairs stay one line).
    assert_eq!(t.unknown_usages.len(), 1, "{:?}", t.unknown_usages);
    assert!(t.unknown_usages[0].starts_with("BackupRegistrar ×2 (first: "), "{:?}", t.unknown_usages);
    let p = plan(&t, &request(Scope::All)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].code, "unknown-usage");
    assert!(p.warnings[0].message.contains("BackupRegistrar"), "{}", p.warnings[0].message);
}

#[test]
fn the_toml_format_states_a_pair_from_one_side() {
    let text = r#"
[[site]]
id = 1
name = "A"

[[sql_server]]
fqdn = "sql1.a.local"
site = 1

[[sql_server]]
fqdn = "sql2.a.local"
site = 1

[[pool]]
fqdn = "p1.a.local"
site = 1
machines = ["fe1.a.local", "fe2.a.local"]
user_store = { sql_server = "sql1.a.local" }
backup = "p2.a.local"

[[pool]]
fqdn = "p2.a.local"
site = 1
machines = ["fe3.a.local", "fe4.a.local"]
user_store = { sql_server = "sql2.a.local" }
"#;
    let t = common::load_str("pair.toml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.pairs.len(), 1);
    assert_eq!((t.pairs[0].0.as_str(), t.pairs[0].1.as_str()), ("p1.a.local", "p2.a.local"));
    assert!(t.unknown_usages.is_empty());
    let bad = text.replace(r#"backup = "p2.a.local""#, r#"backup = "p9.a.local""#);
    assert!(common::load_str("pair.toml", &bad).is_err(), "an unknown backup pool is refused");
}

#[test]
fn every_server_gets_a_runbook_or_a_reason() {
    for (name, t) in [
        ("roles.xml", common::load("topology/roles.xml")),
        ("example", topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"))),
    ] {
        for &scope in Scope::ALL {
            let p = plan(&t, &request(scope)).unwrap_or_else(|e| panic!("{e}"));
            for s in &t.servers {
                let planned = p.servers.iter().any(|x| x.fqdn == s.fqdn || x.fqdn == s.cluster);
                let out = p.out_of_scope.iter().filter(|x| x.fqdn == s.fqdn).count();
                assert!(planned != (out == 1), "{name} {scope}: {} planned {planned}, out {out}", s.fqdn);
            }
            assert!(p.out_of_scope.iter().all(|x| !x.reason.is_empty() && !x.reason.contains('⟦')));
        }
    }
}

#[test]
fn out_of_scope_reasons() {
    let t = common::load("topology/roles.xml");
    let reason =
        |scope, f: &str| out_of_scope(&t, scope).into_iter().find(|(s, _)| s.fqdn.as_str() == f).map(|(_, why)| why);
    assert_eq!(reason(Scope::All, "wac01.fabrikam.local"), Some(OutOfScopeReason::OfficeWebApps));
    assert_eq!(reason(Scope::All, "vis01.fabrikam.local"), Some(OutOfScopeReason::VideoInterop));
    assert_eq!(reason(Scope::All, "odd01.fabrikam.local"), Some(OutOfScopeReason::UnknownRole));
    assert_eq!(reason(Scope::All, "fs01.fabrikam.local"), Some(OutOfScopeReason::NoSfb));
    assert_eq!(reason(Scope::All, "edge01.fabrikam.local"), None);
    assert_eq!(reason(Scope::Backends, "edge01.fabrikam.local"), Some(OutOfScopeReason::NeedsScopeAll));
    // A SQL Server of Persistent Chat stores only belongs with its Persistent Chat servers.
    assert_eq!(reason(Scope::Backends, "sql03.fabrikam.local"), Some(OutOfScopeReason::NeedsScopeAll));
    assert_eq!(reason(Scope::All, "sql03.fabrikam.local"), None);
}

#[test]
fn runbooks_commands_and_order_of_scope_all() {
    let t = common::load("topology/roles.xml");
    let p = plan(&t, &request(Scope::All)).unwrap_or_else(|e| panic!("{e}"));
    let get = |f: &str| p.servers.iter().find(|s| s.fqdn.as_str() == f).unwrap_or_else(|| panic!("{f}"));
    let cmd = |f: &str, id: StepId| get(f).steps.iter().find(|s| s.id == id).and_then(|s| s.command.clone());
    let edge = get("edge01.fabrikam.local");
    assert_eq!(edge.runbook, Runbook::Edge);
    // Nothing that needs AD or the CMS on an Edge; no IIS.
    assert!(edge.steps.iter().all(|s| !matches!(s.id, StepId::CheckRole | StepId::StopW3svc | StepId::StartW3svc)));
    assert_eq!(
        cmd("edge01.fabrikam.local", StepId::StopServices).as_deref(),
        Some("Stop-Service -Name 'REPLICA', 'RTCSRV', 'RTCDATAPROXY', 'RTCMRAUTH', 'RTCMEDIARELAY'")
    );
    assert_eq!(
        cmd("edge01.fabrikam.local", StepId::StartServices).as_deref(),
        Some("Start-Service -Name 'REPLICA', 'RTCSRV', 'RTCDATAPROXY', 'RTCMRAUTH', 'RTCMEDIARELAY'")
    );
    assert!(!cmd("edge01.fabrikam.local", StepId::Verify).unwrap_or_default().contains("W3SVC"));
    assert_eq!(
        cmd("med11.fabrikam.local", StepId::StopServices).as_deref(),
        Some("Stop-CsWindowsService -Name 'RTCMEDSRV' -Graceful; Stop-CsWindowsService -Graceful")
    );
    assert_eq!(get("dir01.fabrikam.local").runbook, Runbook::Director);
    assert!(get("dir01.fabrikam.local").steps.iter().any(|s| s.id == StepId::StopW3svc));
    assert!(get("pc01.fabrikam.local").steps.iter().all(|s| s.id != StepId::StopW3svc));
    // Every command parses; nothing is in the users' outage on these roles when their pool
    // keeps another server up; med11 is its Mediation pool's only server (`lone-mediation`).
    for s in p.servers.iter().filter(|s| {
        matches!(s.runbook, Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat)
    }) {
        let lone = s.fqdn.as_str() == "med11.fabrikam.local";
        assert_eq!(s.estimated_outage_minutes == 0.0, !lone, "{}: {}", s.fqdn, s.estimated_outage_minutes);
        assert_eq!(s.database_update, "none");
        for st in &s.steps {
            if let Some(c) = &st.command {
                assert!(sfbpatch_pwsh::syntax::parse(c).is_ok(), "{c}");
            }
        }
    }
    // Inside out: a server comes after everything it waits for.
    assert_eq!(names(&get("pc01.fabrikam.local").after), ["fe01.fabrikam.local", "fe02.fabrikam.local"]);
    assert_eq!(
        names(&get("dir01.fabrikam.local").after),
        ["fe01.fabrikam.local", "fe02.fabrikam.local", "pc01.fabrikam.local", "pc02.fabrikam.local"]
    );
    let edge_after = names(&edge.after);
    for f in ["dir01.fabrikam.local", "dir02.fabrikam.local", "pc01.fabrikam.local", "fe01.fabrikam.local"] {
        assert!(edge_after.contains(&f), "{f} not in {edge_after:?}");
    }
    // The Persistent Chat store: from an updated Persistent Chat server, after both.
    let sql03 = get("sql03.fabrikam.local");
    assert_eq!(names(&sql03.after), ["pc01.fabrikam.local", "pc02.fabrikam.local"]);
    assert_eq!(
        sql03.database_command().map(|(h, c)| (h.to_string(), c.to_owned())),
        Some((
            "pc01.fabrikam.local".to_owned(),
            "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql03.fabrikam.local'".to_owned()
        ))
    );
    for (i, s) in p.servers.iter().enumerate() {
        for a in &s.after {
            let j = p.servers.iter().position(|x| &x.fqdn == a);
            assert!(j.is_some_and(|j| j < i), "{} waits for {a}, planned after it", s.fqdn);
        }
    }
    // One lane per pool: the servers of a role pool share it.
    assert_eq!(get("edge02.fabrikam.local").pool.as_ref().map(|f| f.as_str()), Some("edge.fabrikam.local"));
}

#[test]
fn the_default_scope_is_unchanged_by_the_new_roles() {
    let t = topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let backends: Vec<String> = targets_in(&t, None, Scope::Backends).iter().map(|x| x.fqdn.to_string()).collect();
    assert_eq!(
        backends,
        [
            "fe01.contoso.local",
            "fe02.contoso.local",
            "fe03.contoso.local",
            "fe11.contoso.local",
            "fe12.contoso.local",
            "se01.contoso.local",
            "sql01.contoso.local",
            "sql02.contoso.local"
        ]
    );
    // And the 7 the example adds for --scope all (Directors, Edges, Mediation).
    assert_eq!(targets_in(&t, None, Scope::All).len(), 8 + 7);
}

#[test]
fn pool_and_site_narrow_and_unknown_names_are_refused() {
    let t = common::load("topology/roles.xml");
    let mut r = request(Scope::All);
    r.pools = vec!["edge.fabrikam.local".into()];
    let p = plan(&t, &r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.servers.iter().map(|s| s.fqdn.as_str()).collect::<Vec<_>>(),
        ["edge01.fabrikam.local", "edge02.fabrikam.local"]
    );
    // Waits on servers outside the plan are dropped, as with --server.
    assert!(p.servers.iter().all(|s| s.after.is_empty()));
    let mut r = request(Scope::All);
    r.sites = vec!["South".into()];
    let p = plan(&t, &r).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.servers.iter().all(|s| s.site == "South"), "{:?}", p.servers.iter().map(|s| &s.site).collect::<Vec<_>>());
    assert_eq!(
        p.servers.len(),
        5,
        "fe11, fe12, se03, med11, sql02: {:?}",
        p.servers.iter().map(|s| s.fqdn.as_str()).collect::<Vec<_>>()
    );
    let mut r = request(Scope::All);
    r.pools = vec!["nowhere.fabrikam.local".into()];
    assert!(matches!(plan(&t, &r), Err(sfbpatch_core::plan::PlanError::UnknownPool { .. })));
    let mut r = request(Scope::All);
    r.sites = vec!["East".into()];
    assert!(matches!(plan(&t, &r), Err(sfbpatch_core::plan::PlanError::UnknownSite { .. })));
}

/// A Director, Edge, Mediation or Persistent Chat server alone in its pool is an outage of what
/// it serves (docs/research/issue12-roles.md §5): its steps from `stop-services` to
/// `start-services` are inside the users' outage window, as on a Standard Edition server; a
/// server of a pool of two opens none.
#[test]
fn a_lone_role_server_opens_the_users_outage_and_a_pooled_one_does_not() {
    let t = common::load("topology/roles.xml");
    let p = plan(&t, &request(Scope::All)).unwrap_or_else(|e| panic!("{e}"));
    let get = |f: &str| p.servers.iter().find(|s| s.fqdn.as_str() == f).unwrap_or_else(|| panic!("{f}"));
    let inside = |f: &str| get(f).steps.iter().filter(|s| s.in_outage).map(|s| s.id).collect::<Vec<_>>();
    let med = get("med11.fabrikam.local");
    assert_eq!(
        inside("med11.fabrikam.local"),
        [
            StepId::StopServices,
            StepId::CloseShells,
            StepId::InstallUpdate,
            StepId::ReopenShell,
            StepId::StopServicesAgain,
            StepId::StartServices
        ]
    );
    // 2.5 + 0.1 + 12 + 0.4 + 1.5 + 3 (runbook::StepId::spec).
    assert_eq!(med.estimated_outage_minutes, 19.5);
    assert!(med.warnings.iter().any(|w| w.code == "lone-mediation"), "{:?}", med.warnings);
    assert_eq!(Runbook::Mediation.outage_bounds(), Some((StepId::StopServices, StepId::StartServices)));
    for f in ["dir01.fabrikam.local", "edge02.fabrikam.local", "pc01.fabrikam.local"] {
        assert!(inside(f).is_empty(), "{f}: {:?}", inside(f));
        assert_eq!(get(f).estimated_outage_minutes, 0.0, "{f}");
        assert!(get(f).warnings.iter().all(|w| !w.code.starts_with("lone-")), "{f}");
    }
    for r in [Runbook::Director, Runbook::Edge, Runbook::Mediation, Runbook::PersistentChat] {
        for step in r.steps() {
            assert!(!r.in_outage_in_pool(*step, 2), "{r} {step}");
            assert_eq!(r.in_outage_in_pool(*step, 1), step.spec().in_outage, "{r} {step}");
        }
    }
    // A Front End's pool size changes nothing: its failover moves its users.
    assert!(!Runbook::FrontEnd.in_outage_in_pool(StepId::InstallUpdate, 1));
}

/// A SQL Server of Persistent Chat stores only is updated from a Persistent Chat server: its
/// reason and its step 11 say so, not "a Front End".
#[test]
fn the_persistent_chat_store_names_the_chat_server_it_runs_from() {
    let t = common::load("topology/roles.xml");
    let p = plan(&t, &request(Scope::All)).unwrap_or_else(|e| panic!("{e}"));
    let get = |f: &str| p.servers.iter().find(|s| s.fqdn.as_str() == f).unwrap_or_else(|| panic!("{f}"));
    let store = get("sql03.fabrikam.local");
    assert_eq!(store.persistent_chat_host().map(|h| h.as_str()), Some("pc01.fabrikam.local"));
    assert_eq!(
        store.runbook_reason,
        "sql03.fabrikam.local is a SQL Server machine with no Skype for Business software that holds only \
         Persistent Chat stores: its databases are updated once, from pc01.fabrikam.local, a Persistent Chat \
         server that already has the update (it has the Management Shell), after every Persistent Chat server \
         that uses them."
    );
    for f in ["sql01.fabrikam.local", "sql02.fabrikam.local"] {
        assert_eq!(get(f).persistent_chat_host(), None, "{f}");
        assert!(get(f).runbook_reason.contains("a Front End that already has the update"), "{f}");
    }
}

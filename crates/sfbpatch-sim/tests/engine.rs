//! The engine through the simulated transport: refusal to patch the machine it runs on
//! together with others, hooks, the outage guard, concurrency per pool, warnings at marks.

mod common;

use common::*;
use sfbpatch_core::Fqdn;
use sfbpatch_engine::event::{Event, Recorder};
use sfbpatch_engine::{RunOptions, run};
use sfbpatch_sim::rehearse::{package_sha256, rehearse};
use sfbpatch_sim::transport::SimTransport;
use tokio::sync::watch;

fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

fn engine_run(servers: &[&str], local: Option<&str>, opts: RunOptions) -> (sfbpatch_engine::RunSummary, Vec<Event>) {
    let mut req = sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.servers = servers.iter().map(|s| (*s).to_owned()).collect();
    let p = sfbpatch_core::plan::plan(&example(), &req).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut t = SimTransport::new(estate(3), package_sha256("SkypeServerUpdateInstaller.exe", &TARGET), TARGET, 1.0);
    if let Some(l) = local {
        t = t.executing_on(fqdn(l));
    }
    let rec = Recorder::default();
    let (_tx, rx) = watch::channel(false);
    let mut opts = opts;
    opts.target_build = Some(TARGET);
    let s = rt.block_on(run(&p, &t, &rec, &opts, None, rx));
    (s, rec.events())
}

#[test]
fn refuses_to_patch_the_machine_it_runs_on_together_with_others() {
    let (s, events) =
        engine_run(&["sql01.contoso.local", "se01.contoso.local"], Some("sql01.contoso.local"), RunOptions::default());
    assert_eq!(s.state.as_str(), "failed");
    assert!(s.servers.iter().all(|x| x.result.as_str() == "not-started"));
    assert!(!events.iter().any(|e| matches!(e, Event::StepStarted { .. })), "nothing was run");
    // Alone in scope, it may patch itself.
    let (s, _) = engine_run(&["se01.contoso.local"], Some("se01.contoso.local"), RunOptions::default());
    assert_eq!(s.state.as_str(), "completed");
    // A back end's database steps run on a named Front End: from another machine's local
    // shell they are refused, nothing run; from that Front End they may run.
    let (s, events) = engine_run(&["sql02.contoso.local"], Some("fe12.contoso.local"), RunOptions::default());
    assert_eq!(s.servers[0].result.as_str(), "not-started");
    assert!(!events.iter().any(|e| matches!(e, Event::StepStarted { .. })), "nothing was run");
    let (s, events) = engine_run(&["sql02.contoso.local"], Some("fe11.contoso.local"), RunOptions::default());
    assert!(events.iter().any(|e| matches!(e, Event::StepStarted { .. })), "its steps ran on fe11: {:?}", s);
}

#[test]
fn a_failing_pre_hook_leaves_the_server_untouched_and_the_post_hook_runs_after() {
    let opts = RunOptions { pre_hook: Some("Stop-ThirdPartyRecorder".into()), ..RunOptions::default() };
    let (s, events) = engine_run(&["se01.contoso.local"], None, opts);
    assert_eq!(s.servers[0].result.as_str(), "not-started");
    assert!(!events.iter().any(|e| matches!(e, Event::OutageOpened { .. })));
    let opts = RunOptions {
        pre_hook: Some("Write-Output 'recorder stopped'".into()),
        post_hook: Some("Write-Output 'recorder started'".into()),
        ..RunOptions::default()
    };
    let (s, events) = engine_run(&["se01.contoso.local"], None, opts);
    assert_eq!(s.state.as_str(), "completed");
    let steps: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { step, .. } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(steps.first(), Some(&"pre-hook"));
    assert_eq!(steps.last(), Some(&"post-hook"));
}

#[test]
fn the_outage_guard_refuses_to_open_an_outage_projected_past_the_budget() {
    let opts = RunOptions { outage_budget_minutes: 20.0, ..RunOptions::default() };
    let (s, events) = engine_run(&["se01.contoso.local"], None, opts);
    assert_eq!(s.servers[0].result.as_str(), "not-started");
    assert!(s.servers[0].error.as_deref().is_some_and(|e| e.contains("--accept-resiliency")));
    assert!(!events.iter().any(|e| matches!(e, Event::OutageOpened { .. })));
    let opts = RunOptions { outage_budget_minutes: 20.0, accept_resiliency: true, ..RunOptions::default() };
    let (s, _) = engine_run(&["se01.contoso.local"], None, opts);
    assert_eq!(s.state.as_str(), "completed");
}

#[test]
fn warnings_mark_an_outage_approaching_its_budget() {
    let opts = RunOptions {
        outage_budget_minutes: 24.0,
        accept_resiliency: true,
        warn_before_budget: vec![10.0, 5.0],
        ..RunOptions::default()
    };
    let (_, events) = engine_run(&["se01.contoso.local"], None, opts);
    let marks: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message, .. } if message.contains("min to the") => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(marks.iter().any(|m| m.contains("less than 10 min")), "{marks:?}");
}

#[test]
fn servers_of_one_pool_never_overlap_and_pools_run_side_by_side() {
    let (r, _) = rehearsal(2, &[], &[]);
    // Three pools, run together: the makespan is far less than the sum of the servers' times.
    let sum: f64 =
        r.servers.iter().map(|s| s.timeline.last().map_or(0.0, |t| t.start_minutes + t.duration_minutes)).sum();
    assert!(r.makespan_minutes < sum * 0.6, "{} vs {sum}", r.makespan_minutes);
    // With --max-parallel 1, one server at a time.
    let mut o = opts(2, &[]);
    o.run.max_parallel = Some(1);
    let (r1, _) = rehearse(&example(), &make_plan(&[]), &o);
    let mut spans: Vec<(f64, f64)> = r1
        .servers
        .iter()
        .map(|s| {
            // The read-only Test-CsDatabase of the preflight runs before everything: not counted.
            let work: Vec<_> = s.timeline.iter().filter(|t| t.step.as_str() != "test-databases").collect();
            let start = work.first().map_or(0.0, |t| t.start_minutes);
            let end = work.last().map_or(0.0, |t| t.start_minutes + t.duration_minutes);
            (start, end)
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in spans.windows(2) {
        assert!(w[1].0 >= w[0].1 - 0.01, "overlap: {spans:?}");
    }
}

#[test]
fn a_clustered_sql_back_end_is_updated_once_by_its_cluster_name_after_the_front_ends() {
    // A SQL failover cluster (two SQL-only nodes) behind a pool of two Front Ends: the
    // Front Ends are updated one at a time, then the databases once, from an updated Front
    // End, by the cluster's FQDN (issue10-sources.md §1.1); both nodes hold them.
    let toml = r#"
[[site]]
id = 1
name = "Lisboa"
[[pool]]
fqdn = "pool01.contoso.local"
site = 1
machines = ["fe01.contoso.local", "fe02.contoso.local"]
user_store = { sql_server = "sqlc.contoso.local", instance = "sfbbe" }
[[sql_server]]
fqdn = "sqlc.contoso.local"
site = 1
machines = ["sqln1.contoso.local", "sqln2.contoso.local"]
[[pool]]
fqdn = "se01.contoso.local"
site = 1
user_store = { sql_server = "se01.contoso.local", instance = "rtc" }
"#;
    let t = sfbpatch_core::topology::load("cluster.toml", toml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let p = sfbpatch_core::plan::plan(&t, &sfbpatch_core::plan::PlanRequest::new("SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (r, e) = rehearse(&t, &p, &opts(8, &[]));
    assert!(r.all_updated(), "{:?}", r.servers.iter().map(|s| (&s.fqdn, s.result, &s.error)).collect::<Vec<_>>());
    let span = |f: &str| {
        // The read-only Test-CsDatabase of the preflight runs before everything: not counted.
        let s = server(&r, f);
        let work: Vec<_> = s.timeline.iter().filter(|t| t.step.as_str() != "test-databases").collect();
        let a = work.first().map_or(0.0, |t| t.start_minutes);
        let b = work.last().map_or(0.0, |t| t.start_minutes + t.duration_minutes);
        (a, b)
    };
    let (fe1, fe2, dbs, se) = (
        span("fe01.contoso.local"),
        span("fe02.contoso.local"),
        span("sqlc.contoso.local"),
        span("se01.contoso.local"),
    );
    assert!(fe2.0 >= fe1.1 - 0.01 || fe1.0 >= fe2.1 - 0.01, "Front Ends of one pool overlapped: {fe1:?} {fe2:?}");
    assert!(dbs.0 >= fe1.1.max(fe2.1) - 0.01, "databases before the Front Ends: {dbs:?} {fe1:?} {fe2:?}");
    assert!(se.0 < fe1.1, "another pool ran alongside: {se:?} {fe1:?}");
    for node in ["sqln1.contoso.local", "sqln2.contoso.local"] {
        let h = e.host(node).unwrap_or_else(|| panic!("{node}"));
        assert!(h.databases.iter().all(|d| d.schema == TARGET), "{node}: {:?}", h.databases);
        assert_eq!(h.busy_intervals.len(), 1, "{node}: one update");
        assert!(h.oplog.is_empty(), "{node}: nothing is ever run on a SQL-only node: {:?}", h.oplog);
    }
    assert!(r.lagging_databases.is_empty());
    assert_eq!(r.pools.iter().find(|p| p.fqdn.as_str() == "pool01.contoso.local").map(|p| p.moves), Some(2));
    // The cluster's entry reads its nodes: SQL running, unavailable while its databases were
    // being updated.
    let c = server(&r, "sqlc.contoso.local");
    assert!(c.services_running);
    assert!(c.outage_minutes > 0.0 && c.outage_minutes < 30.0, "{}", c.outage_minutes);
}

#[test]
fn a_resume_after_an_interrupted_restart_restarts_first() {
    use sfbpatch_core::runbook::StepId;
    use sfbpatch_engine::{ResumeState, ServerResume};
    use sfbpatch_sim::exec::{Request, package};
    let host = "se01.contoso.local";
    let mut e = estate(4);
    let p = make_plan(&[]);
    let staged = p.staged_installer.clone();
    let sha = package_sha256("SkypeServerUpdateInstaller.exe", &TARGET);
    e.put_file(host, None, &staged, package(&sha, TARGET), 0, 600_000);
    let s = e.open_session(host, 0);
    let run = |e: &mut sfbpatch_sim::estate::Estate, script: &str| {
        let at = e.host(host).map_or(0, |h| h.clock_ms);
        e.execute(&Request { host, session: s, step: None, script, at, timeout_ms: 3_600_000 })
    };
    run(&mut e, "Import-Module SkypeForBusiness");
    run(&mut e, "Stop-CsWindowsService");
    run(&mut e, "net stop w3svc");
    let x = e.execute(&Request {
        host,
        session: None,
        step: None,
        script: &format!(
            "$sfbpatchInstaller = Start-Process -FilePath '{staged}' -ArgumentList '/silentmode' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode"
        ),
        at: e.now(),
        timeout_ms: 3_600_000,
    });
    assert_eq!(x.exit_code, 3010, "the open shell forces a restart");
    // The process that saw the 3010 died before restarting the server.
    let done: Vec<StepId> = StepId::ALL.into_iter().take_while(|s| *s != StepId::ReopenShell).collect();
    let mut resume = ResumeState::default();
    for sp in &p.servers {
        let mine = sp.fqdn.as_str() == host;
        resume.servers.insert(
            sp.fqdn.to_string(),
            ServerResume {
                completed: if mine { done.clone() } else { Vec::new() },
                in_flight: None,
                outage_open: mine,
                finished: (!mine).then_some(sfbpatch_core::vocab::ServerResult::Updated),
                build_before: Some(sfbpatch_core::readback::Build([7, 0, 2046, 385])),
                reboot_pending: mine,
            },
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|x| panic!("{x}"));
    let t = SimTransport::new(e, sha, TARGET, 1.0);
    let rec = Recorder::default();
    let (_tx, rx) = watch::channel(false);
    let opts = RunOptions { target_build: Some(TARGET), ..RunOptions::default() };
    let summary = rt.block_on(run_engine(&p, &t, &rec, &opts, &resume, rx));
    let me = summary.servers.iter().find(|s| s.fqdn.as_str() == host).unwrap_or_else(|| panic!("{host}"));
    assert_eq!(me.result.as_str(), "updated", "{:?}", me.error);
    let events = rec.events();
    let first_step = events.iter().find_map(|e| match e {
        Event::StepStarted { server, step, .. } if server.as_str() == host => Some(*step),
        _ => None,
    });
    assert_eq!(first_step.map(|s| s.as_str()), Some("reboot"));
    let e = t.into_estate();
    assert!(!e.host(host).is_some_and(|h| h.pending_reboot));
}

#[test]
fn a_resumed_install_that_did_not_take_runs_in_a_shell_of_its_own() {
    // The run was cut during the install, which did not take: the resumed run reads the
    // build (loading the module into its session) and runs the install again, with
    // close-shells long done. The installer must not share a shell that loaded the module
    // (DOMAIN.md §4 rule 2: 3010 and a restart).
    use sfbpatch_core::runbook::StepId;
    use sfbpatch_engine::{ResumeState, ServerResume};
    use sfbpatch_sim::exec::{Request, package};
    let host = "se01.contoso.local";
    let mut e = estate(4);
    let p = make_plan(&[]);
    let staged = p.staged_installer.clone();
    let sha = package_sha256("SkypeServerUpdateInstaller.exe", &TARGET);
    e.put_file(host, None, &staged, package(&sha, TARGET), 0, 600_000);
    let s = e.open_session(host, 0);
    for script in ["Stop-CsWindowsService", "net stop w3svc"] {
        let at = e.host(host).map_or(0, |h| h.clock_ms);
        let x = e.execute(&Request { host, session: s, step: None, script, at, timeout_ms: 3_600_000 });
        assert!(x.succeeded(), "{x:?}");
    }
    e.close_sessions(host);
    let done: Vec<StepId> = StepId::ALL.into_iter().take_while(|s| *s != StepId::InstallUpdate).collect();
    let mut resume = ResumeState::default();
    for sp in &p.servers {
        let mine = sp.fqdn.as_str() == host;
        resume.servers.insert(
            sp.fqdn.to_string(),
            ServerResume {
                completed: if mine { done.clone() } else { Vec::new() },
                in_flight: mine.then_some(StepId::InstallUpdate),
                outage_open: mine,
                finished: (!mine).then_some(sfbpatch_core::vocab::ServerResult::Updated),
                // Not recorded: read again from the host (the module loaded in that session).
                build_before: None,
                reboot_pending: false,
            },
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|x| panic!("{x}"));
    let t = SimTransport::new(e, sha, TARGET, 1.0);
    let rec = Recorder::default();
    let (_tx, rx) = watch::channel(false);
    let opts = RunOptions { target_build: Some(TARGET), ..RunOptions::default() };
    let summary = rt.block_on(run_engine(&p, &t, &rec, &opts, &resume, rx));
    let me = summary.servers.iter().find(|s| s.fqdn.as_str() == host).unwrap_or_else(|| panic!("{host}"));
    assert_eq!(me.result.as_str(), "updated", "{:?}", me.error);
    let installs: Vec<String> = rec
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { server, step, outcome, .. }
                if server.as_str() == host && step.as_str() == "install-update" =>
            {
                Some(format!("{outcome:?}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(installs, ["Succeeded"], "installed once, no restart asked for");
    let reboots = rec
        .events()
        .iter()
        .filter(|e| matches!(e, Event::StepStarted { server, step, .. } if server.as_str() == host && step.as_str() == "reboot"))
        .count();
    assert_eq!(reboots, 0, "never restarted");
    let e = t.into_estate();
    assert!(e.host(host).is_some_and(|h| !h.pending_reboot));
}

async fn run_engine(
    p: &sfbpatch_core::plan::Plan,
    t: &SimTransport,
    rec: &Recorder,
    opts: &RunOptions,
    resume: &sfbpatch_engine::ResumeState,
    rx: watch::Receiver<bool>,
) -> sfbpatch_engine::RunSummary {
    run(p, t, rec, opts, Some(resume), rx).await
}

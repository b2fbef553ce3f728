//! `rehearse --format text`: per server its runbook, what it waited for, a timeline (with the
//! host of each step that runs elsewhere), the outage against the budget line, the users per
//! pool, and a summary that cannot be missed.

use std::fmt::Write as _;

use sfbpatch_core::Lang;
use sfbpatch_core::plan::Plan;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::topology::Role;
use sfbpatch_core::vocab::{Activity, ServerResult};
use sfbpatch_i18n::{Args, fmt as tr, text};

use super::{minutes, role_name};

/// `rehearse --format text` of `r`, a rehearsal of plan `p`.
pub fn rehearsal_text(r: &sfbpatch_sim::rehearse::Rehearsal, p: &Plan, lang: Lang) -> String {
    let mut o = String::new();
    let build_before = r.servers.first().map(|s| s.build_before.to_string()).unwrap_or_default();
    let _ = writeln!(
        o,
        "{}",
        tr(
            lang,
            "cli.rehearse.header",
            &Args::new()
                .with("package", &r.package)
                .with("from", build_before)
                .with("to", &r.build_target)
                .with("seed", r.seed)
                .with("count", r.servers.len())
                .with("makespan", minutes(r.makespan_minutes)),
        )
    );
    for f in &r.faults {
        let _ = writeln!(o, "  {}", tr(lang, "cli.rehearse.fault", &Args::new().with("fault", f)));
    }
    for s in &r.skipped_steps {
        let _ = writeln!(o, "  {}", tr(lang, "cli.rehearse.skipped", &Args::new().with("step", s)));
    }
    for s in &r.servers {
        let _ = writeln!(o);
        let result = text(lang, &format!("cli.rehearse.result.{}", s.result));
        let pool = s.pool.as_ref().map(|p| p.as_str()).unwrap_or("-");
        let sp = p.servers.iter().find(|x| x.fqdn == s.fqdn);
        if sp.is_some_and(|sp| sp.runbook == Runbook::BackendDatabases) {
            // A SQL Server's entry: no Skype for Business build, no services of its own.
            let _ = writeln!(o, "{}  [{}]  {}: {}", s.fqdn, role_name(s.role, lang), pool, result);
        } else {
            let services = text(
                lang,
                if s.services_running { "cli.rehearse.services-up" } else { "cli.rehearse.services-stopped" },
            );
            let _ = writeln!(
                o,
                "{}  [{}]  {}: {}, {} → {}, {}",
                s.fqdn,
                role_name(s.role, lang),
                pool,
                result,
                s.build_before,
                s.build_after,
                services
            );
        }
        if let Some(sp) = sp {
            let _ = writeln!(
                o,
                "  {}",
                tr(
                    lang,
                    "cli.plan.runbook.line",
                    &Args::new().with("runbook", sp.runbook).with("reason", &sp.runbook_reason)
                )
            );
            if !sp.after.is_empty() {
                let after = sp.after.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ");
                let _ = writeln!(o, "  {}", tr(lang, "cli.plan.runbook.after", &Args::new().with("servers", after)));
            }
        }
        let _ = writeln!(o, "  {}", text(lang, "cli.rehearse.columns"));
        for e in &s.timeline {
            let mark = if e.in_outage { "▌" } else { " " };
            let status = text(lang, &format!("cli.rehearse.status.{}", e.status));
            let host = sp.and_then(|sp| {
                let st = sp.steps.iter().find(|st| Some(st.id) == e.step.step())?;
                super::plan::elsewhere(sp, st)
            });
            let on = host
                .map(|h| format!("  → {}", tr(lang, "cli.plan.runbook.runs-on", &Args::new().with("host", h))))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  {mark}{:>7.1} {:>6.1}  {:<20} {}{on}",
                e.start_minutes, e.duration_minutes, e.step, status
            );
            if let Some(m) = &e.message {
                let _ = writeln!(o, "  {mark}{:>15}{m}", "");
            }
        }
        if s.role == Role::FrontEnd {
            // A Front End's failover moves its users: its time out of service is no users' outage.
            // A Lync Server 2013 Front End has no failover: its services are stopped while the
            // pool's other Front Ends serve its users.
            let args = Args::new().with("minutes", minutes(s.outage_minutes));
            let failed_over = s.timeline.iter().any(|t| t.step == Activity::Step(StepId::Failover));
            let key = if failed_over { "cli.rehearse.failed-over" } else { "cli.rehearse.stopped-in-pool" };
            let _ = writeln!(o, "  {}", tr(lang, key, &args));
        } else if let Some(sp) = sp.filter(|sp| served_by_pool(sp)) {
            // A Director, Edge, Mediation or Persistent Chat server whose pool kept another
            // server up: what it serves went on (docs/research/issue12-roles.md §5), as the
            // plan says (no step inside the users' outage window: `Runbook::in_outage_in_pool`).
            let args = Args::new().with("minutes", minutes(s.outage_minutes)).with("role", role_name(sp.role, lang));
            let _ = writeln!(o, "  {}", tr(lang, "cli.rehearse.served-by-pool", &args));
        } else {
            let _ = writeln!(o, "  {}", outage_bar(s.outage_minutes, r.outage_budget_minutes, lang));
        }
        if s.over_budget {
            let impact = sp.map_or("standard-edition", |sp| over_budget_impact(sp.runbook));
            let args = Args::new()
                .with("server", &s.fqdn)
                .with("minutes", minutes(s.outage_minutes))
                .with("budget", minutes(r.outage_budget_minutes))
                .with("impact", text(lang, &format!("cli.rehearse.over-budget-impact.{impact}")));
            let _ = writeln!(o, "  ! {}", tr(lang, "cli.rehearse.over-budget", &args));
        }
        if let Some(err) = &s.error {
            let step = s.failed_step.map_or("-", |a| a.as_str());
            let _ = writeln!(
                o,
                "  ✗ {}",
                tr(lang, "cli.rehearse.failed-at", &Args::new().with("step", step).with("error", err))
            );
        }
        if !s.services_running && s.result != ServerResult::NotStarted {
            let _ =
                writeln!(o, "  !!! {}", tr(lang, "cli.rehearse.services-down", &Args::new().with("server", &s.fqdn)));
            for c in &s.recovery {
                let _ = writeln!(o, "      {c}");
            }
        }
        if s.reboot_pending {
            let _ =
                writeln!(o, "  ! {}", tr(lang, "cli.rehearse.reboot-pending", &Args::new().with("server", &s.fqdn)));
        }
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.rehearse.pools"));
    for p in &r.pools {
        let line = if p.kind == sfbpatch_core::topology::PoolKind::Standard {
            tr(lang, "cli.rehearse.signed-out", &Args::new().with("minutes", minutes(p.signed_out_minutes)))
        } else {
            // An Enterprise pool: resiliency mode (its back end), signed out (quorum lost),
            // and its users' moves during failovers.
            let args = Args::new()
                .with("minutes", minutes(p.resiliency_minutes))
                .with("signed", minutes(p.signed_out_minutes))
                .with("moves", p.moves);
            tr(lang, "cli.rehearse.pool-users", &args)
        };
        let _ = writeln!(o, "  {:<28} {line}", p.fqdn.as_str());
    }
    // The run's own notices (the window's marks and end, the failure budget), as `run` says them.
    if !r.warnings.is_empty() {
        let _ = writeln!(o);
    }
    for w in &r.warnings {
        let args = Args::new().with("minutes", minutes(w.at_minutes)).with("message", &w.message);
        let _ = writeln!(o, "{}", tr(lang, "cli.rehearse.run-warning", &args));
    }
    let count = |what: ServerResult| r.servers.iter().filter(|s| s.result == what).count();
    let current = count(ServerResult::AlreadyCurrent);
    let key = if current > 0 { "cli.rehearse.summary-current" } else { "cli.rehearse.summary" };
    let _ = writeln!(
        o,
        "\n{}",
        tr(
            lang,
            key,
            &Args::new()
                .with("updated", count(ServerResult::Updated))
                .with("current", current)
                .with("total", r.servers.len())
                .with("failed", count(ServerResult::Failed))
                .with("not_started", count(ServerResult::NotStarted)),
        )
    );
    // Site and pool names, faults and errors come from the topology and the servers (issue 13
    // item 10): control characters shown escaped.
    sfbpatch_core::printable::lines(&o).into_owned()
}

/// A Director, Edge, Mediation or Persistent Chat server that opens no users' outage: its
/// pool's other servers serve while it is updated.
fn served_by_pool(sp: &sfbpatch_core::plan::ServerPlan) -> bool {
    matches!(sp.runbook, Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat)
        && !sp.steps.iter().any(|st| st.in_outage)
}

/// What users lost while a server's outage ran past the budget (catalogue
/// `cli.rehearse.over-budget-impact.<word>`).
fn over_budget_impact(runbook: Runbook) -> &'static str {
    match runbook {
        // A back end's databases (on a SQL Server, or one that carries SfB): its pools' users.
        Runbook::BackendDatabases | Runbook::SeedBackend => "backend-databases",
        Runbook::Director => "director",
        Runbook::Edge => "edge",
        Runbook::Mediation => "mediation",
        Runbook::PersistentChat => "persistent-chat",
        // Services stopped on the server that homes its users.
        Runbook::StandardEdition | Runbook::FrontEnd | Runbook::LyncFrontEnd => "standard-edition",
    }
}

/// `Outage 28.2 min  ████████████████████████████▏··|·····  budget 30`.
fn outage_bar(outage: f64, budget: f64, lang: Lang) -> String {
    const WIDTH: usize = 45;
    let scale = (budget * 1.5).max(outage).max(1.0);
    let col = |m: f64| ((m / scale) * WIDTH as f64).round() as usize;
    let filled = col(outage).min(WIDTH);
    let mark = col(budget).min(WIDTH - 1);
    let bar: String = (0..WIDTH)
        .map(|i| {
            if i == mark {
                '|'
            } else if i < filled {
                '█'
            } else {
                '·'
            }
        })
        .collect();
    tr(
        lang,
        "cli.rehearse.outage",
        &Args::new().with("minutes", minutes(outage)).with("bar", bar).with("budget", minutes(budget)),
    )
}

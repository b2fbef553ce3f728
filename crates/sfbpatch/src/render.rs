//! Text, Markdown and JSON renderings of topologies and plans. Pure functions of their
//! input; every sentence comes from the catalogue.

use std::fmt::Write as _;

use serde::Serialize;
use sfbpatch_core::Lang;
use sfbpatch_core::plan::{Plan, ServerPlan};
use sfbpatch_core::topology::{Role, Topology};
use sfbpatch_core::vocab::{RunState, ServerResult};
use sfbpatch_i18n::{Args, fmt as tr, text};

/// Pretty JSON with a final newline.
pub fn json<T: Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(s) => s + "\n",
        // Serializing plain data structures cannot fail; keep the contract of "JSON out".
        Err(e) => format!("{{\"error\":{:?}}}\n", e.to_string()),
    }
}

fn role_name(role: Role, lang: Lang) -> String {
    text(lang, &format!("role.{}", role.as_str()))
}

fn minutes(m: f64) -> String {
    let s = format!("{m:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// `topology show --format json`.
#[derive(Serialize)]
pub struct TopologyJson<'a> {
    schema: &'static str,
    #[serde(flatten)]
    topology: &'a Topology,
}

impl<'a> TopologyJson<'a> {
    /// Wraps a topology with its schema name.
    pub fn new(topology: &'a Topology) -> Self {
        Self { schema: "sfbpatch.topology/1", topology }
    }
}

fn count(t: &Topology, role: Role) -> usize {
    t.servers.iter().filter(|s| s.role == role).count()
}

/// `topology check`: one paragraph.
pub fn topology_summary(file: &str, t: &Topology, lang: Lang) -> String {
    let in_scope = t.servers.iter().filter(|s| s.role.is_back_end_procedure()).count();
    let args = Args::new()
        .with("file", file)
        .with("sites", t.sites.len())
        .with("pools", t.pools.len())
        .with("servers", t.servers.len())
        .with("backends", count(t, Role::EnterpriseBackend))
        .with("standard", count(t, Role::StandardEdition))
        .with("in_scope", in_scope);
    tr(lang, "cli.topology.summary", &args) + "\n"
}

/// `topology show`: sites, pools, then every server with its role.
pub fn topology_text(t: &Topology, lang: Lang) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", text(lang, "cli.topology.sites"));
    for s in &t.sites {
        let _ = writeln!(o, "  {}  {}", s.id, s.name);
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.topology.pools"));
    for p in &t.pools {
        let kind = text(
            lang,
            &format!(
                "pool-kind.{}",
                match p.kind {
                    sfbpatch_core::topology::PoolKind::Enterprise => "enterprise",
                    sfbpatch_core::topology::PoolKind::Standard => "standard",
                    sfbpatch_core::topology::PoolKind::Director => "director",
                }
            ),
        );
        let backend = p.backend.as_ref().map(|b| format!("  → {b}")).unwrap_or_default();
        let _ = writeln!(o, "  {}  [{}]  {}  ({}){}", p.fqdn, kind, p.site, p.machines.len(), backend);
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.topology.servers"));
    let width = t.servers.iter().map(|s| s.fqdn.as_str().len()).max().unwrap_or(0);
    for s in &t.servers {
        let mut extra = Vec::new();
        if !s.pools.is_empty() {
            extra.push(s.pools.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "));
        }
        if !s.collocated_stores.is_empty() {
            extra.push(tr(
                lang,
                "cli.topology.collocated",
                &Args::new().with("stores", s.collocated_stores.join(", ")),
            ));
        }
        let marker = if s.role.is_back_end_procedure() { "*" } else { " " };
        let _ = writeln!(
            o,
            "{marker} {:width$}  {:<20}  {}  {}",
            s.fqdn.as_str(),
            role_name(s.role, lang),
            s.site,
            extra.join("; "),
        );
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.topology.legend"));
    o
}

fn outage_line(s: &ServerPlan, budget: f64, lang: Lang) -> String {
    tr(
        lang,
        "cli.plan.outage",
        &Args::new().with("estimate", minutes(s.estimated_outage_minutes)).with("budget", minutes(budget)),
    )
}

/// `plan --format text`.
pub fn plan_text(p: &Plan, lang: Lang) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}",
        tr(
            lang,
            "cli.plan.header",
            &Args::new()
                .with("package", &p.package)
                .with("product", p.product.as_str())
                .with("count", p.servers.len())
                .with("budget", minutes(p.outage_budget_minutes)),
        )
    );
    for s in &p.servers {
        let _ = writeln!(o);
        let pool = s.pool.as_ref().map(|p| p.as_str()).unwrap_or("-");
        let _ = writeln!(o, "{}  [{}]  {}  ({})", s.fqdn, role_name(s.role, lang), pool, s.site);
        let _ = writeln!(o, "  {}", variant_line(s, lang));
        let _ = writeln!(o, "  {}", outage_line(s, p.outage_budget_minutes, lang));
        for w in &s.warnings {
            let _ = writeln!(o, "  ! {}", w.message);
        }
        for (i, st) in s.steps.iter().enumerate() {
            let mark = if st.in_outage { "▌" } else { " " };
            let _ = writeln!(o, "  {mark}{:>2}. {:<20} {}", i + 1, st.id.as_str(), st.title);
            if let Some(c) = &st.command {
                let _ = writeln!(o, "  {mark}     {c}");
            }
        }
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.plan.legend"));
    o
}

fn variant_line(s: &ServerPlan, lang: Lang) -> String {
    let stores = if s.collocated_stores.is_empty() { "-".to_owned() } else { s.collocated_stores.join(", ") };
    tr(
        lang,
        &format!("cli.plan.variant.{}", s.database_update),
        &Args::new().with("sql", s.sql_server_fqdn.as_ref().map(|f| f.as_str()).unwrap_or("-")).with("stores", stores),
    )
}

/// `plan --format markdown`: a change checklist for a change ticket.
pub fn plan_markdown(p: &Plan, lang: Lang) -> String {
    let t = |k: &str| text(lang, &format!("md.{k}"));
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", t("title"));
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| {} | `{}` |", t("package"), p.package);
    let _ = writeln!(o, "| {} | {} |", t("product"), p.product.as_str());
    let _ = writeln!(o, "| {} | `{}` |", t("staged"), p.staged_installer);
    let _ = writeln!(o, "| {} | {} min |", t("budget"), minutes(p.outage_budget_minutes));
    let _ = writeln!(o, "| {} | {} |", t("servers"), p.servers.len());
    let _ = writeln!(o, "\n{}\n", t("resiliency"));

    let _ = writeln!(o, "## {}\n", t("scope"));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} |",
        t("col.server"),
        t("col.role"),
        t("col.pool"),
        t("col.site"),
        t("col.variant"),
        t("col.outage")
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for s in &p.servers {
        let pool = s.pools.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | `{}` | {} / {} min |",
            s.fqdn,
            role_name(s.role, lang),
            pool,
            s.site,
            s.database_update,
            minutes(s.estimated_outage_minutes),
            minutes(p.outage_budget_minutes)
        );
    }

    for s in &p.servers {
        let _ = writeln!(o, "\n## {} — {}\n", s.fqdn, role_name(s.role, lang));
        let _ = writeln!(o, "{}  ", variant_line(s, lang));
        let _ = writeln!(o, "{}\n", outage_line(s, p.outage_budget_minutes, lang));
        for w in &s.warnings {
            let _ = writeln!(o, "> ⚠ {}", w.message);
        }
        if !s.warnings.is_empty() {
            let _ = writeln!(o);
        }
        let mut in_outage = false;
        for (i, st) in s.steps.iter().enumerate() {
            if st.in_outage && !in_outage {
                let _ = writeln!(o, "**{}**\n", t("outage-starts"));
            }
            if !st.in_outage && in_outage {
                let _ = writeln!(o, "**{}**\n", t("outage-ends"));
            }
            in_outage = st.in_outage;
            let _ = writeln!(o, "- [ ] **{}. {}** — {}", i + 1, st.title, st.id.detail(lang));
            if let Some(c) = &st.command {
                let _ = writeln!(o, "\n  ```powershell\n  {c}\n  ```\n");
            }
            let _ = writeln!(o, "  {}: ____", t("done-at"));
        }
        let _ = writeln!(o, "\n### {}\n", t("recovery"));
        let _ = writeln!(o, "{}\n", t("recovery-text"));
        let _ = writeln!(o, "{}\n", t("recovery-before"));
        let _ = writeln!(
            o,
            "```powershell\n{}\n```\n",
            s.recovery(sfbpatch_core::runbook::StepId::InstallUpdate).join("\n")
        );
        let _ = writeln!(o, "{}\n", t("recovery-after"));
        let _ = writeln!(
            o,
            "```powershell\n{}\n```",
            s.recovery(sfbpatch_core::runbook::StepId::UpdateDatabases).join("\n")
        );
    }

    let _ = writeln!(o, "\n## {}\n", t("signoff"));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} |\n|---|---|---|---|",
        t("col.function"),
        t("col.name"),
        t("col.signature"),
        t("col.date")
    );
    for who in ["requester", "approver", "implementer"] {
        let _ = writeln!(o, "| {} | | | |", t(&format!("who.{who}")));
    }
    o
}

/// `rehearse --format text`: a timeline per server, the outage against the budget line, the
/// users per pool, and a summary that cannot be missed.
pub fn rehearsal_text(r: &sfbpatch_sim::rehearse::Rehearsal, lang: Lang) -> String {
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
        let services =
            text(lang, if s.services_running { "cli.rehearse.services-up" } else { "cli.rehearse.services-stopped" });
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
        let _ = writeln!(o, "  {}", text(lang, "cli.rehearse.columns"));
        for e in &s.timeline {
            let mark = if e.in_outage { "▌" } else { " " };
            let status = text(lang, &format!("cli.rehearse.status.{}", e.status));
            let _ =
                writeln!(o, "  {mark}{:>7.1} {:>6.1}  {:<20} {}", e.start_minutes, e.duration_minutes, e.step, status);
            if let Some(m) = &e.message {
                let _ = writeln!(o, "  {mark}{:>15}{m}", "");
            }
        }
        let _ = writeln!(o, "  {}", outage_bar(s.outage_minutes, r.outage_budget_minutes, lang));
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
        let key = match p.kind {
            sfbpatch_core::topology::PoolKind::Standard => "cli.rehearse.signed-out",
            _ => "cli.rehearse.resiliency",
        };
        let minutes_value = if p.kind == sfbpatch_core::topology::PoolKind::Standard {
            p.signed_out_minutes
        } else {
            p.resiliency_minutes
        };
        let _ = writeln!(
            o,
            "  {:<28} {}",
            p.fqdn.as_str(),
            tr(lang, key, &Args::new().with("minutes", minutes(minutes_value)))
        );
    }
    let count = |what: ServerResult| r.servers.iter().filter(|s| s.result == what).count();
    let _ = writeln!(
        o,
        "\n{}",
        tr(
            lang,
            "cli.rehearse.summary",
            &Args::new()
                .with("updated", count(ServerResult::Updated))
                .with("total", r.servers.len())
                .with("failed", count(ServerResult::Failed))
                .with("not_started", count(ServerResult::NotStarted)),
        )
    );
    o
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

/// `run --format json`: the run's end.
#[derive(Serialize)]
pub struct RunJson<'a> {
    schema: &'static str,
    run_id: &'a str,
    state: RunState,
    servers: Vec<RunServerJson<'a>>,
}

#[derive(Serialize)]
struct RunServerJson<'a> {
    fqdn: &'a str,
    result: ServerResult,
    error: Option<&'a str>,
    recovery: &'a [String],
    build_before: Option<&'a str>,
    build_after: Option<&'a str>,
    outage_minutes: f64,
    reboot_pending: bool,
}

impl<'a> RunJson<'a> {
    /// From the engine's summary and the journal's figures.
    pub fn new(
        run_id: &'a str,
        s: &'a sfbpatch_engine::RunSummary,
        reports: &'a [sfbpatch_journal::ServerReport],
    ) -> Self {
        Self {
            schema: "sfbpatch.run/1",
            run_id,
            state: s.state,
            servers: s
                .servers
                .iter()
                .map(|x| {
                    let r = reports.iter().find(|r| r.fqdn == x.fqdn.as_str());
                    RunServerJson {
                        fqdn: x.fqdn.as_str(),
                        result: x.result,
                        error: x.error.as_deref(),
                        recovery: &x.recovery,
                        build_before: r.and_then(|r| r.build_before.as_deref()),
                        build_after: r.and_then(|r| r.build_after.as_deref()),
                        outage_minutes: r.map_or(0.0, |r| r.outage_minutes),
                        reboot_pending: r.is_some_and(|r| r.reboot_pending),
                    }
                })
                .collect(),
        }
    }
}

/// The summary that ends every run: cannot be missed.
pub fn run_summary(
    run_id: &str,
    s: &sfbpatch_engine::RunSummary,
    reports: &[sfbpatch_journal::ServerReport],
    budget: f64,
    journal: &std::path::Path,
    lang: Lang,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", tr(lang, &format!("cli.run.end.{}", s.state), &Args::new().with("id", run_id)));
    for x in &s.servers {
        let result = text(lang, &format!("cli.run.result.{}", x.result));
        let r = reports.iter().find(|r| r.fqdn == x.fqdn.as_str());
        let before = r.and_then(|r| r.build_before.clone()).unwrap_or_else(|| "?".into());
        let after = r.and_then(|r| r.build_after.clone()).unwrap_or_else(|| "?".into());
        let outage = r.map_or(0.0, |r| r.outage_minutes);
        let _ = writeln!(
            o,
            "  {:<28} {:<12} {before} → {after}  {}",
            x.fqdn.as_str(),
            result,
            tr(
                lang,
                "cli.run.outage-line",
                &Args::new().with("minutes", minutes(outage)).with("budget", minutes(budget))
            )
        );
        if r.is_some_and(|r| r.reboot_pending) {
            let _ =
                writeln!(o, "  ! {}", tr(lang, "cli.rehearse.reboot-pending", &Args::new().with("server", &x.fqdn)));
        }
        if outage >= budget {
            let _ = writeln!(o, "  ! {}", tr(lang, "cli.run.over-budget", &Args::new().with("server", &x.fqdn)));
        }
        if let Some(e) = &x.error {
            let _ = writeln!(o, "      {e}");
        }
        if !x.recovery.is_empty() {
            let _ =
                writeln!(o, "  !!! {}", tr(lang, "cli.rehearse.services-down", &Args::new().with("server", &x.fqdn)));
            for c in &x.recovery {
                let _ = writeln!(o, "      {c}");
            }
        }
    }
    if s.state != RunState::Completed {
        let _ = writeln!(
            o,
            "{}\n  sfbpatch resume {run_id} --journal '{}'",
            text(lang, "cli.run.resume-hint"),
            journal.display()
        );
    }
    o
}

/// `status` as text.
/// `plan` is the run's stored plan, for each server's number of steps.
pub fn status_text(s: &sfbpatch_journal::RunStatus, plan: Option<&Plan>, lang: Lang) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", tr(lang, "cli.status.header", &Args::new().with("id", &s.run_id).with("state", s.state)));
    for x in &s.servers {
        let current = x.current_step.map_or("-", |s| s.as_str());
        let total = plan
            .and_then(|p| p.servers.iter().find(|sp| sp.fqdn.as_str() == x.fqdn))
            .map_or_else(|| "?".to_owned(), |sp| sp.steps.len().to_string());
        let done = x.completed_steps.len();
        let _ = writeln!(o, "  {:<28} {:<12} {:<20} {done}/{total}", x.fqdn, x.state.as_str(), current);
        if let Some(e) = &x.error {
            let _ = writeln!(o, "      {e}");
        }
    }
    o
}

/// `history` as text.
pub fn history_text(rows: &[sfbpatch_journal::RunRow], lang: Lang) -> String {
    let mut o = String::new();
    if rows.is_empty() {
        let _ = writeln!(o, "{}", text(lang, "cli.run.no-runs"));
    }
    for r in rows {
        let _ = writeln!(
            o,
            "{}  {:<12} {} {}  {}",
            r.run_id,
            r.state.as_str(),
            r.servers,
            text(lang, "cli.history.servers"),
            r.started_at
        );
    }
    o
}

/// `sim show` as text.
pub fn estate_text(e: &sfbpatch_sim::estate::Estate, lang: Lang) -> String {
    let mut o = String::new();
    let _ =
        writeln!(o, "{}", tr(lang, "cli.sim.header", &Args::new().with("seed", e.seed).with("count", e.hosts.len())));
    for h in &e.hosts {
        let stopped: Vec<&str> = h.services.iter().filter(|s| !s.running).map(|s| s.name.as_str()).collect();
        let services = if stopped.is_empty() {
            text(lang, "cli.rehearse.services-up")
        } else {
            format!("stopped: {}", stopped.join(", "))
        };
        let _ = writeln!(
            o,
            "  {:<28} {:<20} {}  {}  ({} ops)",
            h.fqdn.as_str(),
            h.role.as_str(),
            h.build(),
            services,
            h.oplog.len()
        );
    }
    o
}

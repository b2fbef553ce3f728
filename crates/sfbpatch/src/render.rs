//! Text, Markdown and JSON renderings of topologies and plans. Pure functions of their
//! input; every sentence comes from the catalogue.

use std::fmt::Write as _;

use serde::Serialize;
use sfbpatch_core::Lang;
use sfbpatch_core::plan::Plan;
use sfbpatch_core::printable::{field, lines};
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::topology::{Role, Topology};
use sfbpatch_core::vocab::{RunState, ServerResult};
use sfbpatch_i18n::{Args, fmt as tr, text};

mod plan;
mod rehearsal;
mod time;

pub use plan::{plan_markdown, plan_text};
pub use rehearsal::rehearsal_text;

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

/// `topology check`: one paragraph.
pub fn topology_summary(file: &str, t: &Topology, lang: Lang) -> String {
    // The plan's entries: a SQL failover cluster counts once, by its cluster FQDN.
    let targets = sfbpatch_core::scope::targets(t);
    let of = |r: &[Runbook]| targets.iter().filter(|x| r.contains(&x.runbook)).count();
    let args = Args::new()
        .with("file", file)
        .with("sites", t.sites.len())
        .with("pools", t.pools.len())
        .with("servers", t.servers.len())
        .with("front_ends", of(&[Runbook::FrontEnd]))
        .with("backends", of(&[Runbook::BackendDatabases, Runbook::SeedBackend]))
        .with("standard", of(&[Runbook::StandardEdition]))
        .with("in_scope", targets.len());
    tr(lang, "cli.topology.summary", &args) + "\n"
}

/// `topology show`: sites, pools, then every server with its role.
pub fn topology_text(t: &Topology, lang: Lang) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", text(lang, "cli.topology.sites"));
    for s in &t.sites {
        let _ = writeln!(o, "  {}  {}", s.id, field(&s.name));
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
        let _ = writeln!(o, "  {}  [{}]  {}  ({}){}", p.fqdn, kind, field(&p.site), p.machines.len(), backend);
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
        let marker = if sfbpatch_core::scope::in_scope(s.role) { "*" } else { " " };
        let _ = writeln!(
            o,
            "{marker} {:width$}  {:<20}  {}  {}",
            s.fqdn.as_str(),
            role_name(s.role, lang),
            field(&s.site),
            field(&extra.join("; ")),
        );
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.topology.legend"));
    lines(&o).into_owned()
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
        // An already-current server was left alone: its build is the one it had.
        let after = r
            .and_then(|r| r.build_after.clone())
            .or_else(|| (x.result == ServerResult::AlreadyCurrent).then(|| before.clone()))
            .unwrap_or_else(|| "?".into());
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
        // A run its window stopped starts nothing more under that window: it needs a new one.
        let (key, window) = if s.gates.contains(&sfbpatch_engine::schedule::Gate::WindowEnded) {
            ("cli.run.resume-window-hint", " --window-end <TIME>")
        } else {
            ("cli.run.resume-hint", "")
        };
        let _ =
            writeln!(o, "{}\n  sfbpatch resume {run_id} --journal '{}'{window}", text(lang, key), journal.display());
    }
    // Names, errors and hook output come from the topology and the servers (issue 13 item 10).
    lines(&o).into_owned()
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
    lines(&o).into_owned()
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
            // RFC 3339 in UTC; the journal's own value when it is not Unix seconds.
            time::rfc3339_utc(&r.started_at).unwrap_or_else(|| r.started_at.clone())
        );
    }
    lines(&o).into_owned()
}

/// One `history --format json` row: the journal's row (its Unix seconds kept as they were,
/// for compatibility) and the same instants as RFC 3339 in UTC (`null` when the journal's
/// value is no number of seconds).
#[derive(Serialize)]
struct HistoryRow<'a> {
    #[serde(flatten)]
    row: &'a sfbpatch_journal::RunRow,
    started_at_rfc3339: Option<String>,
    finished_at_rfc3339: Option<String>,
}

/// `history --format json`.
pub fn history_json(rows: &[sfbpatch_journal::RunRow]) -> String {
    let rows: Vec<HistoryRow<'_>> = rows
        .iter()
        .map(|row| HistoryRow {
            row,
            started_at_rfc3339: time::rfc3339_utc(&row.started_at),
            finished_at_rfc3339: row.finished_at.as_deref().and_then(time::rfc3339_utc),
        })
        .collect();
    json(&rows)
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
            tr(lang, "cli.sim.show.stopped", &Args::new().with("services", stopped.join(", ")))
        };
        let ops = tr(lang, "cli.sim.show.operations", &Args::new().with("count", h.oplog.len()));
        let _ = writeln!(o, "  {:<28} {:<20} {}  {}  {ops}", h.fqdn.as_str(), h.role.as_str(), h.build(), services);
    }
    o
}

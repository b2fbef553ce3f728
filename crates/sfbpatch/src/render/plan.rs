//! `plan --format text` and the Markdown change checklist (`plan --format markdown`): per
//! server its runbook and why, the servers it comes after, and per step the host that runs it
//! when that is not the server itself (a back end's databases, from an updated Front End).

use std::fmt::Write as _;

use sfbpatch_core::Lang;
use sfbpatch_core::plan::{Plan, PlannedStep, ServerPlan};
use sfbpatch_core::printable::{field, lines};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_i18n::{Args, fmt as tr, text};

use super::{minutes, role_name};

fn outage_line(s: &ServerPlan, budget: f64, lang: Lang) -> String {
    tr(
        lang,
        "cli.plan.outage",
        &Args::new().with("estimate", minutes(s.estimated_outage_minutes)).with("budget", minutes(budget)),
    )
}

/// Step 11's variant, or `None` for a Front End (its databases are its back end's).
fn variant_line(s: &ServerPlan, lang: Lang) -> Option<String> {
    if s.database_update == "none" {
        return None;
    }
    let stores = if s.collocated_stores.is_empty() { "-".to_owned() } else { s.collocated_stores.join(", ") };
    let sql = s.sql_server_fqdn.as_ref().map(|f| f.as_str()).unwrap_or("-");
    // A SQL Server of Persistent Chat stores only: no Enterprise back end, updated from a
    // Persistent Chat server.
    if let Some(host) = s.persistent_chat_host() {
        let args = Args::new().with("sql", sql).with("host", host);
        return Some(tr(lang, "cli.plan.variant.persistent-chat-store", &args));
    }
    Some(tr(
        lang,
        &format!("cli.plan.variant.{}", s.database_update),
        &Args::new().with("sql", sql).with("stores", stores),
    ))
}

fn after_list(s: &ServerPlan) -> String {
    s.after.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
}

/// The host that runs `st`, when it is not the server itself.
pub(crate) fn elsewhere<'a>(s: &'a ServerPlan, st: &'a PlannedStep) -> Option<&'a str> {
    let host = s.host_of(st);
    (host != &s.fqdn).then_some(host.as_str())
}

/// The schedule's line: waves, estimated makespan and its lower bound, parallelism.
fn waves_line(p: &Plan, lang: Lang) -> String {
    let waves = p.servers.iter().map(|s| s.wave).max().unwrap_or(0);
    let parallel = p.max_parallel.map_or_else(|| text(lang, "cli.plan.unlimited"), |n| n.to_string());
    tr(
        lang,
        "cli.plan.waves",
        &Args::new()
            .with("waves", waves)
            .with("makespan", minutes(p.estimated_makespan_minutes))
            .with("bound", minutes(p.makespan_lower_bound_minutes))
            .with("parallel", parallel),
    )
}

/// The paired pools, when the plan has any.
fn pairs_line(p: &Plan, lang: Lang) -> Option<String> {
    if p.pairs.is_empty() {
        return None;
    }
    let pairs: Vec<String> = p.pairs.iter().map(|[a, b]| format!("{a} ↔ {b}")).collect();
    Some(tr(lang, "cli.plan.pairs", &Args::new().with("pairs", pairs.join(", "))))
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
    let _ = writeln!(o, "{}", waves_line(p, lang));
    if let Some(pairs) = pairs_line(p, lang) {
        let _ = writeln!(o, "{pairs}");
    }
    for s in &p.servers {
        let _ = writeln!(o);
        let pool = s.pool.as_ref().map(|p| p.as_str()).unwrap_or("-");
        let wave = tr(lang, "cli.plan.wave", &Args::new().with("wave", s.wave));
        let _ = writeln!(o, "{}  [{}]  {}  ({})  {wave}", s.fqdn, role_name(s.role, lang), pool, field(&s.site));
        let _ = writeln!(
            o,
            "  {}",
            tr(
                lang,
                "cli.plan.runbook.line",
                &Args::new().with("runbook", s.runbook).with("reason", &s.runbook_reason)
            )
        );
        if !s.after.is_empty() {
            let _ =
                writeln!(o, "  {}", tr(lang, "cli.plan.runbook.after", &Args::new().with("servers", after_list(s))));
        }
        if let Some(v) = variant_line(s, lang) {
            let _ = writeln!(o, "  {v}");
        }
        let _ = writeln!(o, "  {}", outage_line(s, p.outage_budget_minutes, lang));
        for w in &s.warnings {
            let _ = writeln!(o, "  ! {}", w.message);
        }
        for (i, st) in s.steps.iter().enumerate() {
            let mark = if st.in_outage { "▌" } else { " " };
            let _ = writeln!(o, "  {mark}{:>2}. {:<20} {}", i + 1, st.id.as_str(), st.title);
            if let Some(host) = elsewhere(s, st) {
                let _ = writeln!(
                    o,
                    "  {mark}     → {}",
                    tr(lang, "cli.plan.runbook.runs-on", &Args::new().with("host", host))
                );
            }
            if let Some(c) = &st.command {
                let _ = writeln!(o, "  {mark}     {c}");
            }
        }
    }
    // The scope, the topology's warnings and every server left out, with why (issue 12).
    let _ = writeln!(o, "\n{}", tr(lang, "cli.plan.scope", &Args::new().with("scope", p.scope.as_str())));
    for w in &p.warnings {
        let _ = writeln!(o, "! {}", w.message);
    }
    if !p.out_of_scope.is_empty() {
        let _ = writeln!(o, "{}", text(lang, "cli.plan.out-of-scope"));
        for x in &p.out_of_scope {
            let _ = writeln!(o, "  {}  [{}]  {}", x.fqdn, role_name(x.role, lang), x.reason);
        }
    }
    let _ = writeln!(o, "\n{}", text(lang, "cli.plan.legend"));
    lines(&o).into_owned()
}

/// `plan --format markdown`: a change checklist for a change ticket.
pub fn plan_markdown(p: &Plan, lang: Lang) -> String {
    let t = |k: &str| text(lang, &format!("md.{k}"));
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", t("title"));
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| {} | `{}` |", t("package"), md_cell(&p.package));
    let _ = writeln!(o, "| {} | {} |", t("product"), p.product.as_str());
    let _ = writeln!(o, "| {} | `{}` |", t("staged"), md_cell(&p.staged_installer));
    let _ = writeln!(o, "| {} | {} min |", t("budget"), minutes(p.outage_budget_minutes));
    let _ = writeln!(o, "| {} | {} |", t("servers"), p.servers.len());
    let _ = writeln!(o, "| {} | {} |", t("waves"), p.servers.iter().map(|s| s.wave).max().unwrap_or(0));
    let _ = writeln!(
        o,
        "| {} | {} min ({} min) |",
        t("makespan"),
        minutes(p.estimated_makespan_minutes),
        minutes(p.makespan_lower_bound_minutes)
    );
    let _ = writeln!(o, "\n{}\n", waves_line(p, lang));
    if let Some(pairs) = pairs_line(p, lang) {
        let _ = writeln!(o, "{pairs}\n");
    }
    let _ = writeln!(o, "{}\n", t("resiliency"));

    let _ = writeln!(o, "## {}\n", t("scope"));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        t("col.wave"),
        t("col.server"),
        t("col.role"),
        t("runbook.col-runbook"),
        t("col.pool"),
        t("col.site"),
        t("col.variant"),
        t("col.outage"),
        t("runbook.col-after")
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for s in &p.servers {
        let pool = s.pools.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
        let variant = if s.database_update == "none" { "-".to_owned() } else { format!("`{}`", s.database_update) };
        let after = if s.after.is_empty() { "-".to_owned() } else { after_list(s) };
        let _ = writeln!(
            o,
            "| {} | {} | {} | `{}` | {} | {} | {} | {} / {} min | {} |",
            s.wave,
            s.fqdn,
            role_name(s.role, lang),
            s.runbook,
            pool,
            md_cell(&s.site),
            variant,
            minutes(s.estimated_outage_minutes),
            minutes(p.outage_budget_minutes),
            after
        );
    }

    for s in &p.servers {
        server_section(&mut o, p, s, lang);
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
    lines(&o).into_owned()
}

/// A table cell's text: no column break, no line break.
fn md_cell(s: &str) -> String {
    field(s).replace('|', "\\|")
}

fn server_section(o: &mut String, p: &Plan, s: &ServerPlan, lang: Lang) {
    let t = |k: &str| text(lang, &format!("md.{k}"));
    let _ = writeln!(o, "\n## {} — {}\n", s.fqdn, role_name(s.role, lang));
    let _ = writeln!(o, "{}\n", tr(lang, "md.wave", &Args::new().with("wave", s.wave)));
    let _ = writeln!(o, "**{} `{}`.** {}\n", t("runbook.heading"), s.runbook, s.runbook_reason);
    if !s.after.is_empty() {
        let _ = writeln!(o, "{}\n", tr(lang, "md.runbook.after", &Args::new().with("servers", after_list(s))));
    }
    if let Some(v) = variant_line(s, lang) {
        let _ = writeln!(o, "{v}  ");
    }
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
        if let Some(host) = elsewhere(s, st) {
            let _ = writeln!(
                o,
                "\n  _{}_",
                tr(lang, "md.runbook.runs-on", &Args::new().with("host", host).with("server", &s.fqdn))
            );
        }
        if let Some(c) = &st.command {
            let _ = writeln!(o, "\n  ```powershell\n  {c}\n  ```\n");
        }
        let _ = writeln!(o, "  {}: ____", t("done-at"));
    }
    let _ = writeln!(o, "\n### {}\n", t("recovery"));
    match s.runbook {
        Runbook::StandardEdition | Runbook::SeedBackend | Runbook::LyncFrontEnd => {
            let _ = writeln!(o, "{}\n", t("recovery-text"));
            let _ = writeln!(o, "{}\n", t("recovery-before"));
            let _ = writeln!(o, "```powershell\n{}\n```\n", s.recovery(StepId::InstallUpdate).join("\n"));
            let _ = writeln!(o, "{}\n", t("recovery-after"));
            let _ = writeln!(o, "```powershell\n{}\n```", s.recovery(StepId::UpdateDatabases).join("\n"));
        }
        // The generic SfB server runbook: no databases, so the same commands whatever failed.
        Runbook::Director | Runbook::Edge | Runbook::Mediation | Runbook::PersistentChat => {
            let _ = writeln!(o, "{}\n", tr(lang, "md.runbook.recovery-generic", &Args::new().with("server", &s.fqdn)));
            let _ = writeln!(o, "```powershell\n{}\n```", s.recovery(StepId::InstallUpdate).join("\n"));
        }
        Runbook::FrontEnd => {
            let _ =
                writeln!(o, "{}\n", tr(lang, "md.runbook.recovery-front-end", &Args::new().with("server", &s.fqdn)));
            let _ = writeln!(o, "```powershell\n{}\n```", s.recovery(StepId::Failover).join("\n"));
        }
        Runbook::BackendDatabases => {
            let (host, command) = s.finishing_database_command().unwrap_or_else(|| (s.fqdn.clone(), String::new()));
            let _ = writeln!(
                o,
                "{}\n",
                tr(lang, "md.runbook.recovery-databases", &Args::new().with("server", &s.fqdn).with("host", &host))
            );
            let check = s.steps.iter().find(|st| st.id == StepId::CheckDatabases).and_then(|st| st.command.as_deref());
            let _ = writeln!(o, "```powershell\n{command}\n{}\n```", check.unwrap_or(""));
        }
    }
}

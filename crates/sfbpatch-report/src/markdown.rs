//! The Markdown report: the same facts as the HTML, for a change ticket.

use std::fmt::Write as _;

use sfbpatch_i18n::{Lang, text};

use crate::Report;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn num(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Renders the report as Markdown.
pub fn markdown(r: &Report, lang: Lang) -> String {
    let t = |k: &str| text(lang, &format!("report.{k}"));
    let mut o = String::new();
    let _ = writeln!(o, "# {} {}\n", t("title"), r.run_id);
    let _ = writeln!(o, "{}\n", r.summary_line(lang));
    let _ = writeln!(o, "## {}\n", t("servers"));
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} |",
        t("col.server"),
        t("col.role"),
        t("col.pool"),
        t("col.result"),
        t("col.before"),
        t("col.after"),
        t("col.outage")
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---:|");
    for s in &r.servers {
        let flag = if s.outage_minutes >= r.outage_budget_minutes { " ⚠" } else { "" };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {}{flag} |",
            cell(&s.fqdn),
            cell(&s.role),
            cell(s.pool.as_deref().unwrap_or("-")),
            cell(&s.result),
            cell(s.build_before.as_deref().unwrap_or("?")),
            cell(s.build_after.as_deref().unwrap_or("?")),
            num(s.outage_minutes)
        );
    }
    let _ = writeln!(o, "\n## {}\n", t("pools"));
    let _ = writeln!(o, "| {} | {} | {} |\n|---|---:|---:|", t("col.pool"), t("col.resiliency"), t("col.signed-out"));
    for p in &r.pools {
        let _ = writeln!(o, "| {} | {} | {} |", cell(&p.fqdn), num(p.resiliency_minutes), num(p.signed_out_minutes));
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "\n## {}\n", t("warnings"));
        for (s, at, m) in &r.warnings {
            let _ =
                writeln!(o, "- {} min — {}{}", num(*at), s.as_ref().map(|s| format!("{s}: ")).unwrap_or_default(), m);
        }
    }
    let _ = writeln!(o, "\n## {}\n", t("log"));
    for s in &r.servers {
        let _ = writeln!(o, "### {} — {}\n", s.fqdn, s.result);
        if let Some(e) = &s.error {
            let _ = writeln!(o, "> {}\n", cell(e));
        }
        let _ = writeln!(
            o,
            "| {} | # | {} | {} | {} |\n|---|---:|---:|---:|---|",
            t("col.step"),
            t("col.start"),
            t("col.duration"),
            t("col.outcome")
        );
        for b in &s.steps {
            let reason = b.reason.as_ref().map(|r| format!(": {}", cell(r))).unwrap_or_default();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {}{reason} |",
                cell(&b.step),
                b.attempt,
                num(b.start_minutes),
                num(b.end_minutes - b.start_minutes),
                cell(&b.outcome)
            );
        }
        let _ = writeln!(o);
    }
    o
}

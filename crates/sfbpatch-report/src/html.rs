//! The HTML report: one self-contained file, an SVG timeline (one row per server, a bar per
//! step, the outage window shaded, a marker where 30 minutes of outage end, failures in
//! red), summary tables, and the full step log in collapsible sections.

use std::fmt::Write as _;

use sfbpatch_i18n::{Args, Lang, fmt as tr, text};

use sfbpatch_core::plan::RESILIENCY_MINUTES;
use sfbpatch_core::vocab::{Outcome, ServerState};

use crate::{BarOutcome, POOL_COLUMNS, Report, SERVER_COLUMNS, STEP_COLUMNS, labels, num};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// A table's heading cells.
fn head(lang: Lang, keys: &[&str]) -> String {
    labels(lang, keys).iter().map(|l| format!("<th>{}</th>", esc(l))).collect()
}

/// One table row, every cell escaped, each with its class (none when empty).
fn row(o: &mut String, cells: &[String], classes: &[&str]) {
    o.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        match classes.get(i).copied().unwrap_or("") {
            "" => {
                let _ = write!(o, "<td>{}</td>", esc(c));
            }
            cls => {
                let _ = write!(o, "<td class=\"{cls}\">{}</td>", esc(c));
            }
        }
    }
    o.push_str("</tr>");
}

const CSS: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .meta{color:#555}
table{border-collapse:collapse;margin:8px 0} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right} .ok{color:#0a7d32} .bad{color:#b00020;font-weight:600}
.legend span{display:inline-block;margin-right:16px} .sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
details{margin:4px 0} summary{cursor:pointer} pre{background:#f7f7f7;padding:6px;margin:2px 0;white-space:pre-wrap;max-height:240px;overflow:auto;font-size:12px}
.timeline{overflow-x:auto;border:1px solid #ddd}
";

const ROW: f64 = 18.0;
const LABEL: f64 = 250.0;
const PLOT: f64 = 900.0;

fn colour(outcome: BarOutcome) -> &'static str {
    match outcome {
        BarOutcome::Ended(Outcome::Succeeded) => "#3b78c3",
        BarOutcome::Ended(Outcome::SucceededRebootPending) => "#e69500",
        BarOutcome::Ended(Outcome::Failed) => "#c8102e",
        BarOutcome::Interrupted => "#8e8e93",
    }
}

fn timeline(r: &Report, lang: Lang) -> String {
    let span = r
        .servers
        .iter()
        .flat_map(|s| s.outages.iter().map(|o| o.0 + RESILIENCY_MINUTES))
        .fold(r.span_minutes.max(1.0), f64::max);
    let scale = PLOT / span;
    let height = (r.servers.len() as f64) * ROW + 30.0;
    let width = LABEL + PLOT + 20.0;
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">",
        esc(&text(lang, "report.timeline"))
    );
    // Time axis every 10 minutes (every 30 beyond two hours).
    let step = if span > 120.0 { 30.0 } else { 10.0 };
    let mut t = 0.0;
    while t <= span {
        let x = LABEL + t * scale;
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#777\">{} min</text>",
            height - 18.0,
            height - 6.0,
            num(t)
        );
        t += step;
    }
    for (i, s) in r.servers.iter().enumerate() {
        let y = i as f64 * ROW;
        let _ = write!(o, "<g class=\"row\" data-server=\"{}\">", esc(&s.fqdn));
        let label_class =
            if matches!(s.result, ServerState::Updated | ServerState::AlreadyCurrent) { "#1d1d1f" } else { "#c8102e" };
        let _ = write!(
            o,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"{label_class}\">{}</text>",
            y + 13.0,
            esc(&s.fqdn)
        );
        for (a, b) in &s.outages {
            let _ = write!(
                o,
                "<rect class=\"outage\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f6b8b3\"><title>{}</title></rect>",
                LABEL + a * scale,
                y + 1.0,
                ((b - a) * scale).max(1.0),
                ROW - 2.0,
                esc(&tr(lang, "report.outage-title", &Args::new().with("minutes", num(b - a))))
            );
            let mx = LABEL + (a + RESILIENCY_MINUTES) * scale;
            let _ = write!(
                o,
                "<line class=\"threshold\" x1=\"{mx:.1}\" y1=\"{:.1}\" x2=\"{mx:.1}\" y2=\"{:.1}\" stroke=\"#7a0010\" stroke-width=\"1.5\" stroke-dasharray=\"3,2\"><title>{}</title></line>",
                y,
                y + ROW,
                esc(&text(lang, "report.threshold-title"))
            );
        }
        for b in &s.steps {
            let w = ((b.end_minutes - b.start_minutes) * scale).max(1.5);
            let _ = write!(
                o,
                "<rect class=\"step {}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} ({}) {} min{}{}</title></rect>",
                b.outcome.as_str(),
                LABEL + b.start_minutes * scale,
                y + 5.0,
                ROW - 10.0,
                colour(b.outcome),
                esc(b.step.as_str()),
                b.outcome.as_str(),
                num(b.end_minutes - b.start_minutes),
                b.reason.as_ref().map(|r| format!(": {}", esc(r))).unwrap_or_default(),
                if b.runs_on == s.fqdn { String::new() } else { format!(" @ {}", esc(&b.runs_on)) }
            );
        }
        o.push_str("</g>");
    }
    o.push_str("</svg>");
    o
}

/// Renders the report as one self-contained HTML page.
pub fn html(r: &Report, lang: Lang) -> String {
    let t = |k: &str| esc(&text(lang, &format!("report.{k}")));
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} {}</title><style>{CSS}</style></head><body>",
        lang.code(),
        t("title"),
        esc(&r.run_id)
    );
    let _ = write!(o, "<h1>{} {}</h1>", t("title"), esc(&r.run_id));
    let _ = write!(o, "<p class=\"meta\">{}</p>", esc(&r.summary_line(lang)));
    let _ = write!(o, "<h2>{}</h2>", t("timeline"));
    let _ = write!(
        o,
        "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#3b78c3\"></i>{}</span><span><i class=\"sw\" style=\"background:#e69500\"></i>{}</span><span><i class=\"sw\" style=\"background:#c8102e\"></i>{}</span><span><i class=\"sw\" style=\"background:#f6b8b3\"></i>{}</span><span><i class=\"sw\" style=\"border-left:2px dashed #7a0010\"></i>{}</span></p>",
        t("legend.ok"),
        t("legend.reboot"),
        t("legend.failed"),
        t("legend.outage"),
        t("legend.threshold")
    );
    let _ = write!(o, "<div class=\"timeline\">{}</div>", timeline(r, lang));

    let _ = write!(o, "<h2>{}</h2><table><thead><tr>{}</tr></thead><tbody>", t("servers"), head(lang, &SERVER_COLUMNS));
    for s in &r.servers {
        let result = if matches!(s.result, ServerState::Updated | ServerState::AlreadyCurrent) { "ok" } else { "bad" };
        let outage = if s.outage_minutes >= r.outage_budget_minutes { "num bad" } else { "num" };
        row(&mut o, &s.cells(), &["", "", "", "", result, "", "", outage]);
    }
    o.push_str("</tbody></table>");

    let _ = write!(o, "<h2>{}</h2><table><thead><tr>{}</tr></thead><tbody>", t("pools"), head(lang, &POOL_COLUMNS));
    for p in &r.pools {
        let resiliency = if p.resiliency_minutes > 0.0 { "num bad" } else { "num" };
        row(&mut o, &p.cells(), &["", resiliency, "num", "num"]);
    }
    o.push_str("</tbody></table>");

    if !r.warnings.is_empty() {
        let _ = write!(o, "<h2>{}</h2><ul>", t("warnings"));
        for (s, at, m) in &r.warnings {
            let _ = write!(
                o,
                "<li>{} min — {}{}</li>",
                num(*at),
                s.as_ref().map(|s| format!("{}: ", esc(s))).unwrap_or_default(),
                esc(m)
            );
        }
        o.push_str("</ul>");
    }

    let _ = write!(o, "<h2>{}</h2>", t("log"));
    for s in &r.servers {
        let _ = write!(
            o,
            "<details><summary>{} — {}</summary><table><thead><tr>{}</tr></thead><tbody>",
            esc(&s.fqdn),
            s.result,
            head(lang, &STEP_COLUMNS)
        );
        o.push_str("<tr><td colspan=\"6\">");
        let _ = write!(o, "<p class=\"runbook\"><b>{}</b>: {}</p>", esc(s.runbook.as_str()), esc(&s.runbook_reason));
        if !s.after.is_empty() {
            let after = tr(lang, "report.runbook.after", &Args::new().with("servers", s.after.join(", ")));
            let _ = write!(o, "<p class=\"after\">{}</p>", esc(&after));
        }
        o.push_str("</td></tr>");
        for b in &s.steps {
            let outcome = if b.outcome == BarOutcome::Ended(Outcome::Failed) { "bad" } else { "" };
            row(&mut o, &b.cells(), &["", "", "", "num", "num", outcome]);
            if b.command.is_some() || !b.stdout.trim().is_empty() || !b.stderr.trim().is_empty() {
                o.push_str("<tr><td colspan=\"6\">");
                if let Some(c) = &b.command {
                    let _ = write!(o, "<pre>PS&gt; {}</pre>", esc(c));
                }
                if !b.stdout.trim().is_empty() {
                    let _ = write!(o, "<pre>{}</pre>", esc(b.stdout.trim_end()));
                }
                if !b.stderr.trim().is_empty() {
                    let _ = write!(o, "<pre class=\"bad\">{}</pre>", esc(b.stderr.trim_end()));
                }
                o.push_str("</td></tr>");
            }
        }
        o.push_str("</tbody></table></details>");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
        );
    }
}

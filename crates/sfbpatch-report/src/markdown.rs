//! The Markdown report: the same facts as the HTML, for a change ticket.

use std::fmt::Write as _;

use sfbpatch_core::printable::{field, lines};
use sfbpatch_i18n::{Args, Lang, fmt, text};

use crate::{POOL_COLUMNS, Report, SERVER_COLUMNS, STEP_COLUMNS, labels, num};

/// A cell's text: control characters shown escaped (`sfbpatch_core::printable`), so that
/// neither a line break nor an escape sequence from the topology reaches the document.
fn cell(s: &str) -> String {
    field(s).replace('|', "\\|")
}

/// One table row, every cell escaped.
fn row(o: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    let _ = writeln!(o, "| {} |", cells.join(" | "));
}

/// A table's heading and its alignment line (`r` for a right-aligned column).
fn head(o: &mut String, lang: Lang, keys: &[&str], align: &str) {
    row(o, &labels(lang, keys));
    let marks: Vec<&str> = align.chars().map(|a| if a == 'r' { "---:" } else { "---" }).collect();
    let _ = writeln!(o, "|{}|", marks.join("|"));
}

/// Renders the report as Markdown.
pub fn markdown(r: &Report, lang: Lang) -> String {
    let t = |k: &str| text(lang, &format!("report.{k}"));
    let mut o = String::new();
    let _ = writeln!(o, "# {} {}\n", t("title"), r.run_id);
    let _ = writeln!(o, "{}\n", r.summary_line(lang));
    let _ = writeln!(o, "## {}\n", t("servers"));
    head(&mut o, lang, &SERVER_COLUMNS, "lllllllr");
    for s in &r.servers {
        let mut cells = s.cells();
        if s.outage_minutes >= r.outage_budget_minutes {
            cells[7].push_str(" ⚠");
        }
        row(&mut o, &cells);
    }
    let _ = writeln!(o, "\n## {}\n", t("pools"));
    head(&mut o, lang, &POOL_COLUMNS, "lrrr");
    for p in &r.pools {
        row(&mut o, &p.cells());
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
        let _ = writeln!(o, "**`{}`**: {}\n", s.runbook, cell(&s.runbook_reason));
        if !s.after.is_empty() {
            let _ = writeln!(
                o,
                "{}\n",
                fmt(lang, "report.runbook.after", &Args::new().with("servers", s.after.join(", ")))
            );
        }
        if let Some(e) = &s.error {
            let _ = writeln!(o, "> {}\n", cell(e));
        }
        head(&mut o, lang, &STEP_COLUMNS, "lrlrrl");
        for b in &s.steps {
            row(&mut o, &b.cells());
        }
        let _ = writeln!(o);
    }
    lines(&o).into_owned()
}

//! `sfbpatch journal verify`, and the check `resume` makes before it sends anything: a run's
//! records against their hash chain (`sfbpatch_journal::Journal::verify`).

use serde::Serialize;
use sfbpatch_core::Lang;
use sfbpatch_i18n::{Args, fmt as tr, text};
use sfbpatch_journal::{Finding, Journal, Tamper};

use crate::cli::{ReportFormat, VerifyArgs};
use crate::inspect::{journal_failure, journal_path, open_journal_read_only, run_or_latest};
use crate::{Failure, Output, render};

/// `journal verify --format json`.
#[derive(Serialize)]
struct Verdict<'a> {
    run_id: &'a str,
    /// No finding is tampering (records of older releases may be unchained).
    intact: bool,
    findings: &'a [Finding],
}

/// One finding, in the operator's language.
fn line(f: &Finding, lang: Lang) -> String {
    let what = match &f.what {
        Tamper::Edited => text(lang, "cli.verify.edited"),
        Tamper::Deleted => text(lang, "cli.verify.deleted"),
        Tamper::Inserted => text(lang, "cli.verify.inserted"),
        Tamper::Reordered { with } => tr(lang, "cli.verify.reordered", &Args::new().with("with", with)),
        Tamper::ChainBroken { .. } => text(lang, "cli.verify.chain-broken"),
        Tamper::Unchained => text(lang, "cli.verify.unchained"),
    };
    format!("  {} {}: {what}", f.table, f.record)
}

/// `sfbpatch journal verify`: exit 0 when no record was tampered with, 1 with each finding.
pub fn verify(args: VerifyArgs, lang: Lang) -> Result<Output, Failure> {
    let jpath = journal_path(args.journal.journal.as_ref());
    let journal = open_journal_read_only(&jpath, lang)?;
    let id = run_or_latest(&journal, args.run_id, lang)?;
    let findings = journal.verify(&id).map_err(|e| journal_failure(lang, &e))?;
    let tampered: Vec<&Finding> = findings.iter().filter(|f| f.is_tampering()).collect();
    let body = match args.format {
        ReportFormat::Json => render::json(&Verdict { run_id: &id, intact: tampered.is_empty(), findings: &findings }),
        ReportFormat::Text => {
            let unchained = findings.len() - tampered.len();
            let mut out = if tampered.is_empty() {
                tr(lang, "cli.verify.intact", &Args::new().with("id", &id))
            } else {
                tr(lang, "cli.verify.tampered", &Args::new().with("id", &id).with("count", tampered.len()))
            };
            out.push('\n');
            for f in &tampered {
                out.push_str(&line(f, lang));
                out.push('\n');
            }
            if unchained > 0 {
                out.push_str(&tr(lang, "cli.verify.unchained-count", &Args::new().with("count", unchained)));
                out.push('\n');
            }
            out
        }
    };
    Ok(Output { text: body, success: tampered.is_empty(), code: None, errors: String::new() })
}

/// Refuses to resume a run whose records were tampered with (nothing is sent).
pub(crate) fn refuse_tampered(journal: &Journal, id: &str, lang: Lang) -> Result<(), Failure> {
    let findings = journal.verify(id).map_err(|e| journal_failure(lang, &e))?;
    let count = findings.iter().filter(|f| f.is_tampering()).count();
    if count == 0 {
        return Ok(());
    }
    Err(Failure::Message(tr(lang, "cli.verify.resume-refused", &Args::new().with("id", id).with("count", count))))
}

//! How a run shows itself while it goes: plain progress lines off a terminal, one live line
//! per server on one. Both are engine event sinks; neither decides anything.

use std::io::Write;

use sfbpatch_core::Lang;
use sfbpatch_engine::event::{Event, EventSink, StepOutcome};
use sfbpatch_i18n::{Args, fmt as tr, text};

/// Plain progress lines on stderr: one per step start and end, outages, warnings.
pub(super) struct Display {
    pub(super) lang: Lang,
}

impl EventSink for Display {
    fn emit(&self, e: &Event) -> Result<(), String> {
        let lang = self.lang;
        let line = match e {
            Event::StepStarted { server, step, attempt, .. } => Some(tr(
                lang,
                "cli.run.step-started",
                &Args::new().with("server", server).with("step", step).with("attempt", attempt),
            )),
            Event::StepFinished { server, step, outcome, .. } => {
                let what = match outcome {
                    StepOutcome::Succeeded => text(lang, "cli.run.ok"),
                    StepOutcome::SucceededRebootPending => text(lang, "cli.run.ok-reboot"),
                    StepOutcome::Failed { reason } => tr(lang, "cli.run.failed", &Args::new().with("reason", reason)),
                };
                Some(format!("[{server}] {step}: {what}"))
            }
            Event::OutageOpened { server, .. } => {
                Some(tr(lang, "cli.run.outage-opened", &Args::new().with("server", server)))
            }
            Event::OutageClosed { server, .. } => {
                Some(tr(lang, "cli.run.outage-closed", &Args::new().with("server", server)))
            }
            Event::Warning { server, message, .. } => {
                let who = server.as_ref().map(|s| format!("[{s}] ")).unwrap_or_default();
                Some(format!("{who}! {message}"))
            }
            _ => None,
        };
        if let Some(l) = line {
            // Reasons and warnings carry what servers and hooks printed (issue 13 item 10).
            let _ = writeln!(std::io::stderr(), "{}", sfbpatch_core::printable::lines(&l));
        }
        Ok(())
    }
}

/// On a terminal: one live line per server (step, time in step, outage timer).
pub(super) struct Bars {
    lang: Lang,
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    pub(super) fn new(lang: Lang) -> Self {
        Self {
            lang,
            multi: indicatif::MultiProgress::new(),
            bars: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    fn bar(&self, server: &str) -> Option<indicatif::ProgressBar> {
        let mut bars = self.bars.lock().ok()?;
        let bar = bars.entry(server.to_owned()).or_insert_with(|| {
            let b = self.multi.add(indicatif::ProgressBar::new_spinner());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {prefix:28} {wide_msg} {elapsed:>6}")
            {
                b.set_style(style);
            }
            b.set_prefix(server.to_owned());
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        });
        Some(bar.clone())
    }
}

impl EventSink for Bars {
    fn emit(&self, e: &Event) -> Result<(), String> {
        let lang = self.lang;
        match e {
            Event::StepStarted { server, step, .. } => {
                if let Some(b) = self.bar(server.as_str()) {
                    let outage = if b.message().starts_with('▌') { "▌ " } else { "" };
                    b.set_message(format!("{outage}{step}"));
                }
            }
            Event::OutageOpened { server, .. } => {
                if let Some(b) = self.bar(server.as_str()) {
                    // From here, the elapsed time shown is the outage's.
                    b.reset_elapsed();
                    b.set_message(format!("▌ {}", text(lang, "cli.run.outage-timer")));
                }
            }
            Event::OutageClosed { server, .. } => {
                if let Some(b) = self.bar(server.as_str()) {
                    b.set_message(text(lang, "cli.run.outage-over"));
                }
            }
            Event::Warning { server, message, .. } => {
                let who = server.as_ref().map(|s| format!("[{s}] ")).unwrap_or_default();
                let _ = self.multi.println(sfbpatch_core::printable::lines(&format!("{who}! {message}")));
            }
            Event::ServerFinished { server, result, .. } => {
                if let Some(b) = self.bar(server.as_str()) {
                    b.finish_with_message(text(lang, &format!("cli.run.result.{result}")));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

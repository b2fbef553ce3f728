//! The engine's events into the journal's tables.
//!
//! Each event is one transaction: a step's start is committed before its command is sent,
//! its end (with the attempt's whole output, carried by [`Event::StepFinished`]) before the
//! next step starts. The sink keeps no state between events: [`Event::StepOutput`] is for
//! live displays and is not recorded, so that servers running at the same time cannot mix
//! or lose each other's output.

use rusqlite::params;
use sfbpatch_core::vocab::RunState;
use sfbpatch_engine::event::{Event, EventSink};

use crate::chain::{self, NEXT_REC, Table};
use crate::{Journal, OUTPUT_LIMIT, now_text};

/// Records the engine's events into the journal.
pub struct JournalSink<'a> {
    pub(crate) journal: &'a Journal,
    pub(crate) run_id: &'a str,
}

/// At most [`OUTPUT_LIMIT`] bytes (on a character boundary), then a marker with what was cut.
pub(crate) fn truncate(s: &str) -> String {
    if s.len() <= OUTPUT_LIMIT {
        return s.to_owned();
    }
    let mut end = OUTPUT_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes not kept]", &s[..end], s.len() - end)
}

impl EventSink for JournalSink<'_> {
    fn emit(&self, e: &Event) -> Result<(), String> {
        let run = self.run_id;
        if matches!(e, Event::StepOutput { .. } | Event::RunStarted { .. }) {
            return Ok(());
        }
        self.journal
            .with(|c| {
                let tx = c.transaction()?;
                match e {
                    Event::RunStarted { .. } | Event::StepOutput { .. } => {}
                    Event::ServerStarted { server, build_before, .. } => {
                        chain::write(
                            &tx,
                            run,
                            Table::Servers,
                            "UPDATE servers SET state = 'running', build_before = COALESCE(build_before, ?3) WHERE run_id = ?1 AND server = ?2 RETURNING rowid",
                            params![run, server.as_str(), build_before],
                        )?;
                    }
                    Event::StepStarted { server, step, at_ms, command, .. } => {
                        // Attempts are numbered by the journal across resumes, so that an attempt
                        // cut short by a crash is kept next to the one that followed it.
                        chain::write(
                            &tx,
                            run,
                            Table::Attempts,
                            "INSERT INTO attempts(run_id, server, step, attempt, command, started_ms)
                             VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = ?3), ?4, ?5)
                             RETURNING rowid",
                            params![run, server.as_str(), step.as_str(), command, *at_ms as i64],
                        )?;
                        if step.step().is_some() {
                            chain::write(
                                &tx,
                                run,
                                Table::Servers,
                                "UPDATE servers SET current_step = ?3 WHERE run_id = ?1 AND server = ?2 RETURNING rowid",
                                params![run, server.as_str(), step.as_str()],
                            )?;
                        }
                    }
                    Event::StepFinished { server, step, at_ms, outcome, output, .. } => {
                        chain::write(
                            &tx,
                            run,
                            Table::Attempts,
                            "UPDATE attempts SET finished_ms = ?4, outcome = ?5, reason = ?6, exit_code = ?7, stdout = ?8, stderr = ?9
                             WHERE run_id = ?1 AND server = ?2 AND step = ?3
                               AND attempt = (SELECT MAX(attempt) FROM attempts WHERE run_id = ?1 AND server = ?2 AND step = ?3)
                             RETURNING rowid",
                            params![
                                run,
                                server.as_str(),
                                step.as_str(),
                                *at_ms as i64,
                                outcome.kind().as_str(),
                                outcome.reason(),
                                output.exit_code,
                                truncate(&output.stdout),
                                truncate(&output.stderr)
                            ],
                        )?;
                        if outcome.is_success() && step.step().is_some() {
                            chain::write(
                                &tx,
                                run,
                                Table::Servers,
                                "UPDATE servers SET current_step = NULL WHERE run_id = ?1 AND server = ?2 AND current_step = ?3 RETURNING rowid",
                                params![run, server.as_str(), step.as_str()],
                            )?;
                        }
                    }
                    Event::OutageOpened { server, at_ms } => {
                        chain::write(
                            &tx,
                            run,
                            Table::Outages,
                            &format!("INSERT INTO outages(run_id, server, opened_ms, rec) VALUES (?1, ?2, ?3, {NEXT_REC}) RETURNING rowid"),
                            params![run, server.as_str(), *at_ms as i64],
                        )?;
                    }
                    Event::OutageClosed { server, at_ms } => {
                        chain::write(
                            &tx,
                            run,
                            Table::Outages,
                            "UPDATE outages SET closed_ms = ?3 WHERE run_id = ?1 AND server = ?2 AND closed_ms IS NULL RETURNING rowid",
                            params![run, server.as_str(), *at_ms as i64],
                        )?;
                    }
                    Event::Warning { server, at_ms, message } => {
                        chain::write(
                            &tx,
                            run,
                            Table::Warnings,
                            &format!("INSERT INTO warnings(run_id, server, at_ms, message, rec) VALUES (?1, ?2, ?3, ?4, {NEXT_REC}) RETURNING rowid"),
                            params![run, server.as_ref().map(|s| s.to_string()), *at_ms as i64, message],
                        )?;
                    }
                    Event::ServerFinished { server, result, error, recovery, .. } => {
                        let rec = serde_json::to_string(recovery).unwrap_or_else(|_| "[]".into());
                        let updated = result.is_done();
                        chain::write(
                            &tx,
                            run,
                            Table::Servers,
                            "UPDATE servers SET state = ?3, error = ?4, recovery = ?5, current_step = CASE WHEN ?6 THEN NULL ELSE current_step END
                             WHERE run_id = ?1 AND server = ?2 RETURNING rowid",
                            params![run, server.as_str(), result.as_str(), error, rec, updated],
                        )?;
                    }
                    Event::RunFinished { state, .. } => {
                        tx.execute(
                            "UPDATE runs SET state = ?2, finished_at = ?3 WHERE id = ?1",
                            params![run, state.as_str(), now_text()],
                        )?;
                        if *state != RunState::Interrupted {
                            tx.execute("DELETE FROM leases WHERE run_id = ?1", params![run])?;
                        }
                    }
                }
                tx.commit()
            })
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_on_a_character_boundary_with_a_marker() {
        let s = "é".repeat(OUTPUT_LIMIT);
        let t = truncate(&s);
        assert!(t.len() < s.len());
        assert!(t.ends_with(&format!("[… {} more bytes not kept]", s.len() - OUTPUT_LIMIT)));
        assert_eq!(truncate("short"), "short");
    }
}

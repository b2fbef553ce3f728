//! The hash chain of a run's records (schema version 4).
//!
//! Every write of a record of a run (a server, an attempt, an outage, a warning) appends an
//! entry to the run's chain (table `chain`): its place (`seq`, from 1), the record it wrote
//! (table and key), the hash of the entry before it (`prev`) and its own hash, the SHA-256 of
//! the previous hash and the record's canonical content as written (`hash`, also stored in the
//! record's own `hash` column). A record updated later gets a new entry; its last entry is the
//! one its current content must match.
//!
//! [`Journal::verify`] walks the chain (each entry must name the one before it: an entry
//! deleted, inserted or moved breaks it) and compares every record with its last entry: a
//! record whose content no longer hashes to it was edited, one that holds another record's
//! hash was moved (reordered), one with no entry was inserted, an entry whose record is gone
//! was deleted. A run begun before version 4 has records with no hash: they are reported as
//! unchained, not as tampering. A chain without a secret detects edits made with SQLite; it
//! does not stop someone who recomputes it.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Params, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Journal, JournalError};

/// A table whose records are chained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Servers,
    Attempts,
    Outages,
    Warnings,
}

impl Table {
    const ALL: [Table; 4] = [Table::Servers, Table::Attempts, Table::Outages, Table::Warnings];

    fn name(self) -> &'static str {
        match self {
            Table::Servers => "servers",
            Table::Attempts => "attempts",
            Table::Outages => "outages",
            Table::Warnings => "warnings",
        }
    }

    /// The canonical content's columns (every column but `run_id` and `hash`), key first.
    fn columns(self) -> &'static str {
        match self {
            Table::Servers => "server, state, current_step, build_before, error, recovery",
            Table::Attempts => {
                "server, step, attempt, command, started_ms, finished_ms, outcome, reason, exit_code, stdout, stderr"
            }
            Table::Outages => "rec, server, opened_ms, closed_ms",
            Table::Warnings => "rec, server, at_ms, message",
        }
    }

    /// How many of the first columns are the record's key.
    fn key_len(self) -> usize {
        match self {
            Table::Attempts => 3,
            _ => 1,
        }
    }
}

/// The chain's first `prev`: the SHA-256 of a fixed text and the run id.
fn genesis(run: &str) -> String {
    hex(&Sha256::digest(format!("sfbpatch journal chain, version 4\n{run}").as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn link(prev: &str, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(content.as_bytes());
    hex(&h.finalize())
}

fn value(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => hex(b).into(),
    }
}

/// A record as read: (rowid, key, canonical content, stored hash).
type Row = (i64, String, String, Option<String>);

fn read_row(r: &rusqlite::Row<'_>, table: Table) -> rusqlite::Result<Row> {
    let n = table.columns().split(',').count();
    let mut values = vec![serde_json::Value::from(table.name())];
    for i in 0..n {
        values.push(value(r.get_ref(i + 2)?));
    }
    let key = serde_json::Value::from(values[1..=table.key_len()].to_vec()).to_string();
    Ok((r.get(0)?, key, serde_json::Value::from(values).to_string(), r.get(1)?))
}

/// The run's last entry: (seq, hash).
fn head(c: &Connection, run: &str) -> rusqlite::Result<(i64, String)> {
    Ok(c.query_row("SELECT seq, hash FROM chain WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1", params![run], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?
    .unwrap_or_else(|| (0, genesis(run))))
}

/// The number the next record inserted into `outages` or `warnings` gets (`rec`).
pub(crate) const NEXT_REC: &str = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM chain WHERE run_id = ?1)";

/// Appends an entry for a record (table, key, content) to the run's chain; its hash.
fn append(c: &Connection, run: &str, table: &str, key: &str, content: &str) -> rusqlite::Result<String> {
    let (seq, prev) = head(c, run)?;
    let hash = link(&prev, content);
    c.execute(
        "INSERT INTO chain(run_id, seq, tbl, key, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![run, seq + 1, table, key, prev, hash],
    )?;
    Ok(hash)
}

/// Marks a run begun by this version: its first entry, so that a record of it with no hash is
/// an insertion, not a record of an older release.
pub(crate) fn begin(c: &Connection, run: &str) -> rusqlite::Result<()> {
    let key = serde_json::Value::from(vec![run]).to_string();
    append(c, run, "runs", &key, &serde_json::json!(["runs", run]).to_string()).map(|_| ())
}

/// Runs `sql` (a write on `table` of run `run` (`?1`) ending in `RETURNING rowid`) and chains
/// every record it wrote.
pub(crate) fn write(c: &Connection, run: &str, table: Table, sql: &str, p: impl Params) -> rusqlite::Result<()> {
    let rowids: Vec<i64> = c.prepare(sql)?.query_map(p, |r| r.get(0))?.collect::<Result<_, _>>()?;
    let select = format!("SELECT rowid, hash, {} FROM {} WHERE rowid = ?1", table.columns(), table.name());
    for rowid in rowids {
        let (_, key, content, _) = c.query_row(&select, params![rowid], |r| read_row(r, table))?;
        let hash = append(c, run, table.name(), &key, &content)?;
        c.execute(&format!("UPDATE {} SET hash = ?2 WHERE rowid = ?1", table.name()), params![rowid, hash])?;
    }
    Ok(())
}

/// What is wrong with a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Tamper {
    /// Its content is not what was written.
    Edited,
    /// It was written and is gone.
    Deleted,
    /// Nothing wrote it.
    Inserted,
    /// It holds what was written as another record (`with`, that record's key).
    Reordered {
        /// The record whose content and hash it holds.
        with: String,
    },
    /// The chain's entry `seq` does not follow the one before it (entries deleted, inserted
    /// or moved).
    ChainBroken {
        /// The entry.
        seq: i64,
    },
    /// Written before version 4: no hash (not tampering).
    Unchained,
}

/// One finding of [`Journal::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The table (`chain` for the chain itself).
    pub table: String,
    /// The record's key (JSON array), or the entry's place in the chain.
    pub record: String,
    /// What.
    #[serde(flatten)]
    pub what: Tamper,
}

impl Finding {
    /// Whether it is tampering (an unchained record of an older release is not).
    pub fn is_tampering(&self) -> bool {
        self.what != Tamper::Unchained
    }
}

/// A chain entry: (seq, tbl, key, prev, hash).
type Entry = (i64, String, String, String, String);

impl Journal {
    /// Checks a run's records against its chain (see the module): every finding, in the
    /// chain's order then the tables'; none when the run is intact.
    pub fn verify(&self, run_id: &str) -> Result<Vec<Finding>, JournalError> {
        self.run(run_id)?;
        self.with(|c| {
            let entries: Vec<Entry> = c
                .prepare("SELECT seq, tbl, key, prev, hash FROM chain WHERE run_id = ?1 ORDER BY seq")?
                .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<_, _>>()?;
            let mut findings = Vec::new();
            let mut prev = genesis(run_id);
            // The last entry of each record: (table, key) → (prev, hash).
            let mut last: Vec<((String, String), (String, String))> = Vec::new();
            for (i, (seq, tbl, key, p, hash)) in entries.iter().enumerate() {
                if *seq != i as i64 + 1 || *p != prev {
                    findings.push(Finding {
                        table: "chain".into(),
                        record: seq.to_string(),
                        what: Tamper::ChainBroken { seq: *seq },
                    });
                }
                prev = hash.clone();
                if tbl == "runs" {
                    continue;
                }
                let k = (tbl.clone(), key.clone());
                last.retain(|(x, _)| *x != k);
                last.push((k, (p.clone(), hash.clone())));
            }
            let begun = entries.first().is_some_and(|e| e.1 == "runs");
            let mut seen = Vec::new();
            for table in Table::ALL {
                let sql = format!(
                    "SELECT rowid, hash, {} FROM {} WHERE run_id = ?1 ORDER BY rowid",
                    table.columns(),
                    table.name()
                );
                let rows: Vec<Row> =
                    c.prepare(&sql)?.query_map(params![run_id], |r| read_row(r, table))?.collect::<Result<_, _>>()?;
                for (_, key, content, stored) in rows {
                    let k = (table.name().to_owned(), key.clone());
                    let entry = last.iter().find(|(x, _)| *x == k).map(|(_, e)| e);
                    let what = match entry {
                        Some((p, h)) if link(p, &content) == *h && stored.as_deref() == Some(h.as_str()) => None,
                        Some(_) => Some(
                            stored
                                .as_ref()
                                .and_then(|s| {
                                    last.iter().find(|((t, x), (_, h))| t == table.name() && *x != key && h == s)
                                })
                                .map_or(Tamper::Edited, |((_, with), _)| Tamper::Reordered { with: with.clone() }),
                        ),
                        None if stored.is_none() && !begun => Some(Tamper::Unchained),
                        None => Some(Tamper::Inserted),
                    };
                    seen.push(k);
                    if let Some(what) = what {
                        findings.push(Finding { table: table.name().into(), record: key, what });
                    }
                }
            }
            for ((t, key), _) in &last {
                if !seen.iter().any(|(x, y)| x == t && y == key) {
                    findings.push(Finding { table: t.clone(), record: key.clone(), what: Tamper::Deleted });
                }
            }
            Ok(findings)
        })
    }
}

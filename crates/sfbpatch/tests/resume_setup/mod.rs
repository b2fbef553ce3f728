//! The resumable run of `resume_inputs.rs` and `resume_trust.rs`: stopped at every server's
//! first (read-only) step by a simulated fault that fires once.
#![allow(dead_code)]

use crate::common::{self, run};
use rusqlite::Connection;
use serde_json::Value;

pub const PKG: &str = "SkypeServerUpdateInstaller.exe";
/// The first server of each of the default estate's pools (a Front End pool goes one server
/// at a time and stops at its first failure; the back ends wait for their pools).
const FIRST_STEPS: [&str; 3] =
    ["fe01.contoso.local:check-role:fail", "fe11.contoso.local:check-role:fail", "se01.contoso.local:check-role:fail"];

fn db(path: &str) -> Connection {
    Connection::open(path).unwrap_or_else(|e| panic!("{e}"))
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub estate: String,
    pub journal: String,
    /// The attempts the stopped run made (its failed `check-role`s and pre-flight reads).
    baseline: std::cell::Cell<i64>,
}

impl Setup {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let estate = dir.path().join("estate").display().to_string();
        let journal = dir.path().join("journal.db").display().to_string();
        let mut args = vec!["sim", "init", "--estate", &estate];
        for f in FIRST_STEPS {
            args.extend_from_slice(&["--fault", f]);
        }
        let init = run(&args);
        assert_eq!(init.code, 0, "{}", init.stderr);
        Self { dir, estate, journal, baseline: std::cell::Cell::new(0) }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A run stopped at every server's first step (read-only), nothing changed; its id.
    pub fn stopped(&self, extra: &[&str]) -> String {
        let mut args = vec!["run", "--yes", "--journal", &self.journal];
        args.extend_from_slice(extra);
        if !extra.contains(&"--package") {
            args.extend_from_slice(&["--package", PKG]);
        }
        if !extra.contains(&"--transport") {
            args.extend_from_slice(&["--transport", "sim", "--estate", &self.estate]);
        }
        let r = run(&args);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        let id: String =
            db(&self.journal).query_row("SELECT id FROM runs", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        let steps: Vec<String> = {
            let c = db(&self.journal);
            let mut q = c.prepare("SELECT DISTINCT step FROM attempts ORDER BY step").unwrap_or_else(|e| panic!("{e}"));
            q.query_map([], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}")).filter_map(Result::ok).collect()
        };
        assert!(
            steps.iter().all(|s| ["check-role", "pre-hook", "test-databases"].contains(&s.as_str())),
            "only read-only steps were run by the stopped run: {steps:?}"
        );
        self.baseline.set(self.attempts());
        id
    }

    pub fn show(&self) -> String {
        let o = run(&["sim", "show", "--estate", &self.estate, "--format", "json"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    }

    pub fn edit(&self, column: &str, f: impl FnOnce(&mut Value)) {
        let c = db(&self.journal);
        let text: String =
            c.query_row(&format!("SELECT {column} FROM runs"), [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        f(&mut v);
        c.execute(&format!("UPDATE runs SET {column} = ?1"), [v.to_string()]).unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn resume(&self, id: &str, extra: &[&str]) -> common::Out {
        let mut args = vec!["resume", id, "--journal", &self.journal, "--window-end", "+600", "--format", "json"];
        args.extend_from_slice(extra);
        run(&args)
    }

    /// The attempts made since the run was stopped.
    pub fn new_attempts(&self) -> i64 {
        self.attempts() - self.baseline.get()
    }

    pub fn attempts(&self) -> i64 {
        db(&self.journal).query_row("SELECT COUNT(*) FROM attempts", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"))
    }
}

pub fn completed(o: &common::Out) {
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    assert_eq!(v["state"], "completed", "{v}");
}

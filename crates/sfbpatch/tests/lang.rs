//! A Spanish run speaks Spanish: every sentence of the engine's and of the run's display
//! comes from the catalogue, warnings and failure reasons included.

use assert_cmd::Command;
use sfbpatch_i18n::{Lang, catalogue};

fn sfbpatch() -> Command {
    let mut c = Command::cargo_bin("sfbpatch").unwrap_or_else(|e| panic!("{e}"));
    c.env("LANG", "C.UTF-8").env_remove("SFBPATCH_LANG").env_remove("SFBPATCH_JOURNAL");
    c
}

/// The fixed parts (between placeholders) of every English sentence of the engine and the
/// run's display that the Spanish catalogue says differently, long enough to be a phrase.
fn english_phrases() -> Vec<String> {
    let (en, es) = (catalogue(Lang::En), catalogue(Lang::Es));
    let mut out = Vec::new();
    for (key, text) in en {
        if !(key.starts_with("engine.") || key.starts_with("cli.run.")) || es.get(key) == Some(text) {
            continue;
        }
        for part in text.split(['{', '}']).step_by(2) {
            let part = part.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
            if part.len() >= 12 {
                out.push(part.to_owned());
            }
        }
    }
    out
}

#[test]
fn a_spanish_run_with_warnings_and_failures_has_no_english_sentence() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let journal = dir.path().join("j.db").display().to_string();
    // A slow install that crosses the outage marks (warnings), a start that fails (a failure
    // reason, recovery, service brought back), a hang that times out and is retried.
    // (Steps of each server's own runbook: a Front End installs, a SQL-only back end has only
    // its database steps, run from a Front End.)
    let faults = [
        "se01.contoso.local:install-update:slow=2.5",
        "fe11.contoso.local:verify:fail",
        "fe01.contoso.local:stop-w3svc:hang",
    ];
    let mut init = vec!["sim", "init", "--estate", estate.as_str(), "--seed", "3"];
    for f in &faults {
        init.extend_from_slice(&["--fault", f]);
    }
    let o = sfbpatch().args(&init).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = sfbpatch()
        .args(["--lang", "es", "run", "--transport", "sim", "--estate", &estate, "--journal", &journal])
        .args(["--package", "SkypeServerUpdateInstaller.exe", "--yes", "--accept-resiliency"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "the run fails (fe11's verify fails): {said}");
    // The scenario really produced the sentences this test is about, in Spanish.
    for spanish in ["interrupción a los", "ha fallado", "sin respuesta en el tiempo límite del paso"] {
        assert!(said.contains(spanish), "expected {spanish:?} in:\n{said}");
    }
    let phrases = english_phrases();
    assert!(phrases.len() > 40, "the check has something to look for: {}", phrases.len());
    let found: Vec<&String> = phrases.iter().filter(|p| said.contains(p.as_str())).collect();
    assert!(found.is_empty(), "English in a Spanish run: {found:?}\n{said}");
}

/// A usage error of ours (a value parser's) is in the language of `--lang`, else of
/// SFBPATCH_LANG and the locale, though clap parses before sfbpatch knows `--lang`.
#[test]
fn a_value_parsers_refusal_speaks_the_operators_language() {
    let es = "\"NaN\" no es un número mayor que 0 y como mucho 1440";
    let en = "\"NaN\" is not a number greater than 0 and at most 1440";
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (&["plan", "--package", "p.exe", "--outage-budget", "NaN"], None, en),
        (&["plan", "--package", "p.exe", "--outage-budget", "NaN"], Some("es"), es),
        (&["--lang", "es", "plan", "--package", "p.exe", "--outage-budget", "NaN"], None, es),
        (&["plan", "--package", "p.exe", "--outage-budget", "NaN", "--lang=es"], Some("en"), es),
    ];
    for (args, env, want) in cases {
        let mut c = sfbpatch();
        if let Some(l) = env {
            c.env("SFBPATCH_LANG", l);
        }
        let o = c.args(args).output().unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?} {env:?}: {err}");
    }
}

/// The estate's and the journal's refusals come from the catalogue: in Spanish, naming the
/// file and the command that fixes it.
#[test]
fn estate_and_journal_refusals_are_in_spanish_with_their_fix() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("nosuch").display().to_string();
    let o = sfbpatch().env("SFBPATCH_LANG", "es").args(["sim", "show", "--estate", &estate]).output();
    let o = o.unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for want in ["no se puede leer el entorno simulado", "nosuch", "Cree uno con: sfbpatch sim init --estate"] {
        assert!(err.contains(want), "{want:?} in {err}");
    }
    let journal = dir.path().join("j.db");
    drop(sfbpatch_journal::Journal::open(&journal).unwrap_or_else(|e| panic!("{e}")));
    let j = journal.display().to_string();
    let o = sfbpatch().env("SFBPATCH_LANG", "es").args(["report", "run-x", "--journal", &j]).output();
    let o = o.unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let want = format!(
        "no hay ninguna ejecución run-x en el diario {j}. Vea sus ejecuciones con: sfbpatch history --journal {j}"
    );
    assert!(err.contains(&want), "{want:?} in {err}");
}

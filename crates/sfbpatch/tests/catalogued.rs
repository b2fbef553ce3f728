//! "Human text from the en/es catalogues only" (issue 13), through the built binary: the
//! sentences that were English whatever the operator's language — a transport that cannot be
//! set up, `sim shell` asked for a host its estate lacks, the value parsers of `--fault`,
//! `--max-failures`, `--window-end`, `--version` and the hooks, and `resume`'s `--config`
//! refusal (which showed a Rust structure) — each in English by default and in Spanish with
//! `--lang es`, exactly.

mod common;
mod resume_setup;

use common::{Out, assert_refused, run, sfbpatch};

/// A refusal after the run was recorded (its "started" line on stdout): exit 1, `want` on
/// stderr, nothing of a panic.
fn assert_failed_with(o: &Out, want: &str) {
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains(want), "expected {want:?} in {}", o.stderr);
    for bad in ["panicked", "⟦"] {
        assert!(!o.stderr.contains(bad), "{bad} in {}", o.stderr);
    }
}
use resume_setup::Setup;

/// `args` with `--lang es` first, run.
fn spanish(args: &[&str]) -> Out {
    let mut all = vec!["--lang", "es"];
    all.extend_from_slice(args);
    run(&all)
}

/// A usage error (clap's exit 2) whose message contains `want`, nothing of a panic, and no
/// catalogue key left unrendered.
fn assert_usage(o: &Out, want: &str) {
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains(want), "expected {want:?} in {}", o.stderr);
    for bad in ["panicked", "⟦"] {
        assert!(!o.stderr.contains(bad), "{bad} in {}", o.stderr);
    }
}

#[test]
fn a_transport_that_cannot_be_set_up_is_refused_in_the_operators_language() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.db").display().to_string();
    // A directory is not a package: refused before anything is recorded (README, B49), in
    // the operator's language (the transport's own refusal, `SetupError::Package`, is left for
    // a file that stops being readable in between: its words are tested in setup_error.rs).
    let package = dir.path().join("package-dir");
    std::fs::create_dir(&package).unwrap_or_else(|e| panic!("{e}"));
    let package = std::fs::canonicalize(&package).unwrap_or_else(|e| panic!("{e}")).display().to_string();
    let shell = "/bin/sh -c true";
    let args = |shell: &'static str| {
        let mut a = vec!["run", "--transport", "local", "--shell", shell, "--package", &package, "--journal"];
        a.extend_from_slice(&[&journal, "--yes", "--server", "se01.contoso.local"]);
        a
    };
    let en = run(&args(shell));
    assert_failed_with(&en, &format!("the package {package} cannot be read (it is not a file): nothing was started."));
    let es = spanish(&args(shell));
    assert_failed_with(
        &es,
        &format!("no se puede leer el paquete {package} (no es un archivo): no se ha iniciado nada."),
    );
    assert!(!std::path::Path::new(&journal).exists(), "a refused run was recorded");
    // A --shell of blanks names no program.
    let file = dir.path().join("p.exe");
    std::fs::write(&file, b"update").unwrap_or_else(|e| panic!("{e}"));
    let file = file.display().to_string();
    let blank = |lang: &[&str]| {
        let mut a: Vec<&str> = lang.to_vec();
        a.extend_from_slice(&["run", "--transport", "local", "--shell", "  ", "--package", &file, "--journal"]);
        a.extend_from_slice(&[&journal, "--yes", "--server", "se01.contoso.local"]);
        run(&a)
    };
    // Refused as the command line is read (README, B50), before any run is recorded.
    assert_usage(
        &blank(&[]),
        "names no program to start: give the shell program and its arguments, for example --shell \
         \"powershell.exe -NoProfile -NonInteractive -Command -\"",
    );
    assert_usage(&blank(&["--lang", "es"]), "no nombra ningún programa que iniciar: indique el programa del shell");
    assert!(!std::path::Path::new(&journal).exists(), "a refused run was recorded");
}

#[test]
fn sim_shell_for_a_host_the_estate_lacks_names_the_estate_in_the_operators_language() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    let init = run(&["sim", "init", "--estate", &estate]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    // A kept shell's input (a step line first): served line by line.
    let input = "$env:SFBPATCH_STEP = 'verify'\nGet-PSDrive C\n";
    let shell = |lang: &[&str]| {
        let o = sfbpatch()
            .args(lang)
            .args(["sim", "shell", "--estate", &estate, "--host", "nope.contoso.local"])
            .write_stdin(input)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    };
    assert_refused(
        &shell(&[]),
        &format!(
            "nope.contoso.local is not a host of the estate {estate}. See its hosts with: sfbpatch sim show --estate \
             {estate}"
        ),
    );
    assert_refused(
        &shell(&["--lang", "es"]),
        &format!("nope.contoso.local no es un equipo del entorno simulado {estate}."),
    );
}

#[test]
fn a_bad_fault_spec_is_refused_in_the_operators_language_with_what_to_give() {
    let cases = [
        (
            "a.b:verify",
            "\"a.b:verify\" is not SERVER:STEP:KIND; give, for example, --fault fe01.contoso.local:install-update:fail",
            "\"a.b:verify\" no tiene la forma SERVIDOR:PASO:TIPO",
        ),
        (
            "a b:verify:fail",
            "\"a b\" is not a valid server FQDN; write the server's full name, as in the topology",
            "\"a b\" no es un FQDN de servidor válido",
        ),
        (
            "a.b:nope:fail",
            "\"nope\" is not a step id; give one of these steps: ",
            "\"nope\" no es un identificador de paso",
        ),
        (
            "a.b:verify:slow=0",
            "\"slow=0\" is not a fault kind; give one of fail, hang, slow=F (F above 0 and at most 1000), reboot",
            "\"slow=0\" no es un tipo de fallo",
        ),
        (
            "a.b:verify:reboot",
            "a reboot fault applies to install-update only; give SERVER:install-update:reboot",
            "un fallo reboot solo se aplica a install-update",
        ),
    ];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e").display().to_string();
    for (spec, en, es) in cases {
        let args = ["sim", "init", "--estate", &estate, "--fault", spec];
        assert_usage(&run(&args), en);
        assert_usage(&spanish(&args), es);
    }
    assert!(!dir.path().join("e").exists(), "nothing was created");
}

#[test]
fn the_other_value_parsers_refuse_in_the_operators_language() {
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["run", "--max-failures", "120%"],
            "\"120%\" is not a percentage from 0% to 100%",
            "\"120%\" no es un porcentaje de 0% a 100%",
        ),
        (
            &["run", "--max-failures", "many"],
            "\"many\" is not a count (N) or a percentage (P%)",
            "\"many\" no es un número (N) ni un porcentaje (P%)",
        ),
        (
            &["run", "--window-end", "tomorrow"],
            "\"tomorrow\" is not a time: give RFC 3339 with its offset (2026-11-28T06:00:00+01:00) or +MINUTES",
            "\"tomorrow\" no es una hora: indique RFC 3339 con su desfase",
        ),
        (
            &["run", "--version", "7.x"],
            "\"7.x\" is not a build like 7.0.2046.0",
            "\"7.x\" no es una compilación como 7.0.2046.0",
        ),
        (
            &["run", "--pre-hook", "Write-Output ("],
            "PowerShell syntax error at line 1, column ",
            "error de sintaxis de PowerShell en la línea 1, columna ",
        ),
    ];
    for (args, en, es) in cases {
        assert_usage(&run(args), en);
        let o = spanish(args);
        assert_usage(&o, es);
        assert!(!o.stderr.contains(en), "{args:?}: {}", o.stderr);
    }
}

#[test]
fn resume_shows_the_config_files_hooks_as_plain_escaped_text_in_the_operators_language() {
    let s = Setup::new();
    let config = s.path("hooks.toml");
    // An escape sequence in a hook (ESC [2J clears a terminal) is shown escaped.
    std::fs::write(&config, "[hooks.servers.\"se01.contoso.local\"]\npost = \"Write-Output 'done\\u001b[2J'\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let id = s.stopped(&["--config", &config]);
    let en = s.resume(&id, &[]);
    assert_refused(
        &en,
        &format!(
            "run {id} is not resumed: it was started with --config post hook of se01.contoso.local: \"Write-Output \
             'done\\x1b[2J'\", and this resume gives nothing."
        ),
    );
    let es = s.resume(&id, &["--lang", "es"]);
    assert_refused(
        &es,
        &format!(
            "la ejecución {id} no se reanuda: se inició con --config hook post de se01.contoso.local: \"Write-Output \
             'done\\x1b[2J'\", y esta reanudación da nada."
        ),
    );
    for o in [&en, &es] {
        assert!(!o.stderr.contains('\u{1b}'), "a raw escape reached the terminal: {:?}", o.stderr);
        assert!(!o.stderr.contains("Some(") && !o.stderr.contains("None"), "{}", o.stderr);
    }
    assert_eq!(s.new_attempts(), 0);
}

#[test]
fn sim_show_says_stopped_services_and_operations_in_the_operators_language() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let estate = dir.path().join("e");
    let e = estate.display().to_string();
    assert_eq!(run(&["sim", "init", "--estate", &e]).code, 0);
    // The first host's first service stopped, as a failed run can leave it.
    let file = estate.join("estate.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|x| panic!("{x}"));
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|x| panic!("{x}"));
    v["hosts"][0]["services"][0]["running"] = serde_json::Value::Bool(false);
    let name = v["hosts"][0]["services"][0]["name"].as_str().unwrap_or_default().to_owned();
    assert!(!name.is_empty(), "{v}");
    std::fs::write(&file, v.to_string()).unwrap_or_else(|x| panic!("{x}"));
    let en = run(&["sim", "show", "--estate", &e]);
    assert_eq!(en.code, 0, "{}", en.stderr);
    assert!(en.stdout.contains(&format!("stopped: {name}  (0 operations)")), "{}", en.stdout);
    let es = spanish(&["sim", "show", "--estate", &e]);
    assert_eq!(es.code, 0, "{}", es.stderr);
    assert!(es.stdout.contains(&format!("detenidos: {name}  (0 operaciones)")), "{}", es.stdout);
    assert!(!es.stdout.contains("stopped:") && !es.stdout.contains(" ops)"), "{}", es.stdout);
}

#[test]
fn a_local_shell_that_cannot_be_started_is_said_in_the_operators_language() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let package = dir.path().join("p.exe");
    std::fs::write(&package, b"update").unwrap_or_else(|e| panic!("{e}"));
    let package = package.display().to_string();
    let missing = dir.path().join("no-such-shell").display().to_string();
    let shell = format!("{missing} -x");
    let go = |lang: &[&str], journal: &str| {
        let mut a: Vec<&str> = lang.to_vec();
        a.extend_from_slice(&["run", "--transport", "local", "--shell", &shell, "--package", &package]);
        a.extend_from_slice(&["--journal", journal, "--yes", "--server", "se01.contoso.local"]);
        let o = run(&a);
        assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
        format!("{}{}", o.stdout, o.stderr)
    };
    let en = go(&[], &dir.path().join("en.db").display().to_string());
    let want = format!("cannot start {missing}: ");
    assert!(en.contains(&want), "{en}");
    assert!(en.contains(". Check --shell: its first word is the program started for each server."), "{en}");
    let es = go(&["--lang", "es"], &dir.path().join("es.db").display().to_string());
    assert!(es.contains(&format!("no se puede iniciar {missing}: ")), "{es}");
    assert!(
        es.contains(". Revise --shell: su primera palabra es el programa que se inicia para cada servidor."),
        "{es}"
    );
    assert!(!es.contains(&want), "{es}");
}

#[test]
fn resume_names_a_config_server_entry_without_hooks_rather_than_saying_nothing_twice() {
    let s = Setup::new();
    let config = s.path("hooks.toml");
    std::fs::write(&config, "[hooks.servers.\"se01.contoso.local\"]\n").unwrap_or_else(|e| panic!("{e}"));
    let id = s.stopped(&["--config", &config]);
    assert_refused(
        &s.resume(&id, &[]),
        &format!(
            "run {id} is not resumed: it was started with --config se01.contoso.local named with no hook, and this \
             resume gives nothing."
        ),
    );
    assert_refused(
        &s.resume(&id, &["--lang", "es"]),
        &format!(
            "la ejecución {id} no se reanuda: se inició con --config se01.contoso.local nombrado sin ningún hook, y \
             esta reanudación da nada."
        ),
    );
}

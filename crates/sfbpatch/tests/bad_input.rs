//! The README's bad-input catalogue (section "Bad input"), row by row, through the built
//! binary: each row's case gives the input, the exit code (1 for sfbpatch's own refusals, 2
//! for clap's usage errors), the words the message must hold (what, where, the fix), and
//! what must be left untouched. `every_row_has_a_case_and_every_case_a_row` keeps the table
//! and the cases from drifting apart (issue 13: "every row tested").

#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::testdata;

const PKG: &str = "SkypeServerUpdateInstaller.exe";

/// One row's case.
struct Case {
    args: Vec<String>,
    /// More inputs of the same row (other values, another command or transport): each must
    /// behave as `args` does (exit code, words, paths).
    also: Vec<Vec<String>>,
    stdin: Option<Vec<u8>>,
    /// 1: sfbpatch refused; 2: a clap usage error.
    code: i32,
    /// Each must appear in stderr.
    says: Vec<String>,
    /// Must be, after the command, exactly as before it (a missing path stays missing).
    untouched: Vec<PathBuf>,
    /// Must not exist after the command.
    absent: Vec<PathBuf>,
    /// Kept alive while the command runs (a lock held by "another process").
    _hold: Option<std::fs::File>,
    /// A last check of the case's folder: what is wrong, if anything.
    then: Option<fn(&Path) -> Option<String>>,
}

fn case(code: i32, args: &[&str], says: &[&str]) -> Case {
    Case {
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        also: Vec::new(),
        stdin: None,
        code,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
        untouched: Vec::new(),
        absent: Vec::new(),
        _hold: None,
        then: None,
    }
}

impl Case {
    fn also(mut self, args: &[&str]) -> Self {
        self.also.push(args.iter().map(|s| (*s).to_owned()).collect());
        self
    }
    fn untouched(mut self, p: &Path) -> Self {
        self.untouched.push(p.to_owned());
        self
    }
    fn absent(mut self, p: &Path) -> Self {
        self.absent.push(p.to_owned());
        self
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(testdata(rel)).unwrap_or_else(|e| panic!("{e}"))
}

/// The bundled enterprise XML with `from` replaced by `to` (once; `from` must be there).
fn enterprise_with(dir: &Path, from: &str, to: &str) -> PathBuf {
    let x = read("topology/enterprise.xml");
    assert!(x.contains(from), "{from}");
    write(dir, "topology.xml", x.replacen(from, to, 1).as_bytes())
}

/// `sim init` of the bundled example into `dir/estate`.
fn estate(dir: &Path) -> PathBuf {
    let e = dir.join("estate");
    let o = common::run(&["sim", "init", "--estate", &s(&e), "--seed", "3"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    e
}

/// A `run --transport sim` of the bundled example that its window stopped: (journal, run id).
fn stopped_run(dir: &Path) -> (PathBuf, String) {
    let e = estate(dir);
    let j = dir.join("journal.db");
    let args = ["run", "--transport", "sim", "--estate", &s(&e), "--package", PKG, "--yes", "--journal", &s(&j)];
    let o = common::run(&[&args[..], &["--window-end", "+10", "--format", "json"]].concat());
    assert_eq!(o.code, 1, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    (j, v["run_id"].as_str().unwrap_or_default().to_owned())
}

/// A connections file in `dir` for the bundled example's servers, with `extra` appended.
fn connections(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "[defaults]\nuser = \"sfbadmin\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n{extra}",
        s(&dir.join("id_ed25519")),
        s(&dir.join("known_hosts"))
    );
    write(dir, "connections.toml", text.as_bytes())
}

/// `run --transport ssh` with `conns` and a package file beside it.
fn ssh_run(conns: &Path, extra: &[&str]) -> Vec<String> {
    let dir = conns.parent().unwrap_or(Path::new("."));
    let pkg = s(&write(dir, PKG, b"cumulative update"));
    let base = ["run", "--transport", "ssh", "--connections", &s(conns), "--package", &pkg, "--yes"];
    base.iter().chain(extra).map(|a| (*a).to_owned()).collect()
}

type Make = fn(&Path) -> Case;

/// Every row of the README's table, by its id.
const CASES: &[(&str, Make)] = &[
    ("B01", |d| {
        let p = write(d, "topology.xml", b"this is neither XML nor TOML\n");
        case(1, &["topology", "check", &s(&p)], &["topology.xml:1:1:", "not well-formed XML", "Get-CsTopology -AsXml"])
    }),
    ("B02", |d| {
        let utf16: Vec<u8> = read("topology/standard-edition.xml").encode_utf16().flat_map(u16::to_le_bytes).collect();
        let p = write(d, "topology.xml", &utf16);
        case(1, &["topology", "check", &s(&p)], &["topology.xml", "UTF-16 without a byte-order mark", "-Encoding utf8"])
    }),
    ("B03", |d| {
        let bytes: Vec<u8> = (0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        let p = write(d, "topology.xml", &bytes);
        case(1, &["topology", "check", &s(&p)], &["topology.xml", "not text"])
    }),
    ("B04", |d| {
        let p = d.join("topology.xml");
        let f = std::fs::File::create(&p).unwrap_or_else(|e| panic!("{e}"));
        f.set_len(40 * 1024 * 1024).unwrap_or_else(|e| panic!("{e}"));
        case(1, &["topology", "check", &s(&p)], &["topology.xml", "MiB"])
    }),
    ("B05", |d| {
        let p = write(d, "topology.xml", format!("{}{}", "<a>".repeat(300), "</a>".repeat(300)).as_bytes());
        case(1, &["topology", "check", &s(&p)], &["topology.xml", "nested"])
    }),
    ("B06", |d| {
        let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE t [<!ENTITY x \"x\">]>\n<Topology>&x;</Topology>";
        let p = write(d, "topology.xml", doc.as_bytes());
        case(1, &["topology", "check", &s(&p)], &["topology.xml", "DTD"])
    }),
    ("B07", |_| {
        case(
            1,
            &["plan", "--package", PKG, "--server", "nosuch.contoso.local"],
            &["nosuch.contoso.local", "Servers in scope: fe01.contoso.local"],
        )
    }),
    ("B08", |_| {
        case(
            1,
            &["plan", "--package", PKG, "--pool", "nosuch.contoso.local"],
            &["--pool nosuch.contoso.local names no pool"],
        )
    }),
    ("B09", |_| {
        case(
            1,
            &["plan", "--package", PKG, "--site", "Atlantis"],
            &["--site Atlantis names no site", "Sites: Lisboa, Porto"],
        )
    }),
    ("B10", |d| {
        let p = enterprise_with(d, "Fqdn=\"sql01.fabrikam.local\"", "Fqdn=\"sql01.fabrikam.local&quot;\"");
        case(1, &["plan", &s(&p), "--package", PKG], &["topology.xml:2", "is not a valid FQDN"])
    }),
    ("B11", |d| {
        // XML 1.0 has no control characters at all (&#x1b; is not well-formed); TOML can carry one.
        let t = "[[site]]\nid = 1\nname = \"Lisboa\"\n\n[[pool]]\nfqdn = \"se01\\u001b.fabrikam.local\"\nsite = 1\n";
        let p = write(d, "topology.toml", t.as_bytes());
        case(1, &["plan", &s(&p), "--package", PKG], &["topology.toml:5:1:", "is not a valid FQDN", "\\u{1b}"])
    }),
    ("B12", |d| {
        let t = read("topology/standard-edition.toml");
        let dup = t.clone() + "\n[[pool]]\nfqdn = \"se01.fabrikam.local\"\nsite = 1\n";
        let p = write(d, "topology.toml", dup.as_bytes());
        case(
            1,
            &["topology", "check", &s(&p)],
            &["topology.toml:17:1:", "se01.fabrikam.local is defined twice (first at line 6)"],
        )
    }),
    ("B13", |d| {
        let p = enterprise_with(
            d,
            "<ClusterId SiteId=\"1\" Number=\"1\" />\n      </InstalledOn>",
            "<ClusterId SiteId=\"4\" Number=\"1\" />\n      </InstalledOn>",
        );
        case(1, &["topology", "check", &s(&p)], &["topology.xml:68:7:", "ClusterId 4:1 (site:number) names no cluster"])
    }),
    ("B14", |d| case(1, &["topology", "check", &s(&d.join("missing.xml"))], &["missing.xml", "cannot read"])),
    ("B15", |_| {
        case(
            1,
            &["plan", "--package", "C:\\updates\\"],
            &["C:", "has no usable file name", "SkypeServerUpdateInstaller.exe"],
        )
    }),
    ("B16", |_| case(1, &["plan", "--package", PKG, "--installer-switch", "/q;calc"], &["/q;calc", "letters, digits"])),
    ("B17", |_| {
        case(1, &["plan", "--package", PKG, "--stage-dir", "updates"], &["\"updates\" is not an absolute Windows path"])
    }),
    ("B18", |_| {
        let run = ["run", "--transport", "sim", "--package", PKG];
        case(2, &[&run[..], &["--time-scale", "NaN"]].concat(), &["--time-scale", "at least 0 and at most 1000"])
            .also(&[&run[..], &["--time-scale", "inf"]].concat())
            .also(&[&run[..], &["--time-scale=-1"]].concat())
    }),
    ("B19", |_| {
        case(2, &["rehearse", "--timeout-scale=-1"], &["--timeout-scale", "greater than 0 and at most 1000"])
            .also(&["rehearse", "--timeout-scale", "0"])
            .also(&["rehearse", "--timeout-scale", "NaN"])
            .also(&["rehearse", "--timeout-scale", "1000.5"])
    }),
    ("B20", |_| {
        case(2, &["rehearse", "--outage-budget", "5e14"], &["--outage-budget", "greater than 0 and at most 1440"])
            .also(&["rehearse", "--outage-budget", "0"])
            .also(&["rehearse", "--outage-budget=-5"])
            .also(&["rehearse", "--outage-budget", "NaN"])
    }),
    ("B21", |_| {
        case(2, &["rehearse", "--warn-before=NaN"], &["--warn-before", "at least 0 and at most 1440"])
            .also(&["rehearse", "--warn-before=-1"])
            .also(&["rehearse", "--warn-before", "1441"])
    }),
    ("B22", |_| case(2, &["rehearse", "--max-failures", "150%"], &["--max-failures"])),
    ("B23", |_| case(2, &["rehearse", "--max-parallel", "0"], &["--max-parallel", "1.."])),
    ("B24", |d| {
        let j = d.join("journal.db");
        let args = ["run", "--transport", "sim", "--package", PKG, "--yes", "--journal", &s(&j)];
        let says = ["2000-01-01T00:00:00Z is already past", "nothing was started", "+MINUTES"];
        // `resume` of a stopped run (its own journal, beside): refused before it is opened.
        let r = d.join("resume");
        std::fs::create_dir(&r).unwrap_or_else(|e| panic!("{e}"));
        let (rj, id) = stopped_run(&r);
        let resume = ["resume", &id, "--journal", &s(&rj), "--window-end", "2000-01-01T00:00:00Z"];
        case(1, &[&args[..], &["--window-end", "2000-01-01T00:00:00Z"]].concat(), &says)
            .also(&resume)
            .absent(&j)
            .untouched(&rj)
    }),
    ("B25", |_| case(2, &["rehearse", "--window-end", "06:00"], &["--window-end", "RFC 3339"])),
    ("B26", |d| {
        let j = d.join("journal.db");
        let args = ["run", "--transport", "sim", "--package", PKG, "--yes", "--journal", &s(&j), "--shell", "pwsh"];
        case(1, &args, &["--shell only applies to", "nothing was started"]).absent(&j)
    }),
    ("B27", |d| {
        let j = d.join("journal.db");
        let args =
            ["run", "--transport", "sim", "--package", PKG, "--yes", "--journal", &s(&j), "--accept-new-host-keys"];
        case(1, &args, &["--accept-new-host-keys only applies to --transport ssh", "nothing was started"]).absent(&j)
    }),
    ("B28", |d| {
        let conns = write(d, "connections.toml", b"[defaults\nuser = 1\n");
        let j = d.join("journal.db");
        with_args(case(1, &[], &["connections.toml:1:", "unclosed table"]), ssh_run(&conns, &["--journal", &s(&j)]))
            .absent(&j)
    }),
    ("B29", |d| {
        // A server of the plan that the connections file does not name, nor any default covers.
        let conns = write(d, "connections.toml", b"[hosts.\"other.contoso.local\"]\nuser = \"a\"\n");
        let j = d.join("journal.db");
        with_args(
            case(
                1,
                &[],
                &["connections.toml gives no user to log on to fe01.contoso.local", "Set user under [defaults]"],
            ),
            ssh_run(&conns, &["--journal", &s(&j)]),
        )
        .absent(&j)
    }),
    ("B30", |d| {
        let pw = write(d, "sfbadmin.pw", b"secret\n");
        set_mode(&pw, 0o644);
        let conns = connections(d, "auth = \"password\"\npassword_file = \"sfbadmin.pw\"\n");
        let j = d.join("journal.db");
        let says = ["sfbadmin.pw", "(mode 644)", "chmod 600", "nothing was contacted"];
        with_args(case(1, &[], &says), ssh_run(&conns, &["--journal", &s(&j)])).absent(&j)
    }),
    ("B31", |d| {
        let conns = connections(d, "");
        let j = d.join("journal.db");
        let says = ["id_ed25519", "fe01.contoso.local", "SSH_AUTH_SOCK", "nothing was contacted", "identity_file"];
        with_args(case(1, &[], &says), ssh_run(&conns, &["--journal", &s(&j)])).absent(&j)
    }),
    ("B32", |d| {
        let j = d.join("journal.db");
        let says = ["there is no journal", "journal.db", "--journal"];
        case(1, &["status", "--journal", &s(&j)], &says).absent(&j)
    }),
    ("B33", |d| {
        let j = d.join("journal.db");
        let says = ["there is no journal", "journal.db", "--journal"];
        case(1, &["history", "--journal", &s(&j)], &says).absent(&j)
    }),
    ("B34", |d| {
        let j = d.join("journal.db");
        let says = ["there is no journal", "journal.db", "--journal"];
        case(1, &["report", "run-1", "--journal", &s(&j)], &says).absent(&j)
    }),
    ("B35", |d| {
        let j = write(d, "journal.db", b"not a database, just text\n");
        case(1, &["history", "--journal", &s(&j)], &["journal.db", "file is not a database"]).untouched(&j)
    }),
    ("B36", |d| {
        let (j, id) = stopped_run(d);
        let c = rusqlite::Connection::open(&j).unwrap_or_else(|e| panic!("{e}"));
        c.execute("UPDATE attempts SET command = 'Remove-Item C:\\ -Recurse' WHERE step = 'install-update'", [])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(c);
        let args = ["resume", &id, "--journal", &s(&j), "--window-end", "+600"];
        let says = ["is not resumed", "records changed since sfbpatch wrote them", "sfbpatch journal verify"];
        case(1, &args, &says).untouched(&j)
    }),
    ("B37", |d| {
        let (j, id) = stopped_run(d);
        let out = d.join("out");
        std::fs::create_dir(&out).unwrap_or_else(|e| panic!("{e}"));
        let args = ["report", &id, "--journal", &s(&j), "-o", &s(&out)];
        case(1, &args, &["out is not a regular file: nothing was written."]).untouched(&out)
    }),
    ("B38", |d| {
        let fifo = d.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap_or_else(|e| panic!("{e}"));
        assert!(made.success());
        let args = ["script", "--package", PKG, "--server", "se01.contoso.local", "-o", &s(&fifo)];
        case(1, &args, &["fifo is not a regular file: nothing was written."]).untouched(&fifo)
    }),
    ("B39", |_| {
        // Refused from its type before anything is opened, so /dev/null is safe to name.
        let args = ["script", "--package", PKG, "--server", "se01.contoso.local", "-o", "/dev/null"];
        case(1, &args, &["/dev/null is not a regular file: nothing was written."])
    }),
    ("B40", |d| {
        let (j, _) = stopped_run(d);
        let says = ["there is no run run-nosuch in the journal", "journal.db", "sfbpatch history --journal"];
        case(1, &["report", "run-nosuch", "--journal", &s(&j)], &says).untouched(&j)
    }),
    ("B41", |d| {
        let (j, _) = stopped_run(d);
        let says = ["there is no run run-nosuch in the journal", "journal.db", "sfbpatch history --journal"];
        case(1, &["resume", "run-nosuch", "--journal", &s(&j)], &says).untouched(&j)
    }),
    ("B42", |d| {
        let e = d.join("estate");
        case(
            2,
            &["sim", "init", "--estate", &s(&e), "--fault", "se01.contoso.local:nope"],
            &["--fault", "is not SERVER:STEP:KIND"],
        )
        .absent(&e)
    }),
    ("B43", |d| {
        let e = estate(d);
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(e.join("estate.lock"));
        let lock = lock.unwrap_or_else(|x| panic!("{x}"));
        lock.lock().unwrap_or_else(|x| panic!("{x}"));
        // A journal that exists (empty): the run must leave it as it was.
        let j = d.join("journal.db");
        drop(sfbpatch_journal::Journal::open(&j).unwrap_or_else(|x| panic!("{x}")));
        let args = ["run", "--transport", "sim", "--estate", &s(&e), "--package", PKG, "--yes", "--journal", &s(&j)];
        let says =
            ["the estate", "is in use by another sfbpatch process", "no run was recorded", "Wait for that process"];
        let mut c = case(1, &args, &says).untouched(&e.join("estate.json")).untouched(&j);
        c.then = Some(no_run_recorded);
        c._hold = Some(lock);
        c
    }),
    ("B44", |d| {
        let e = d.join("nosuch");
        let j = d.join("journal.db");
        let args = ["run", "--transport", "sim", "--estate", &s(&e), "--package", PKG, "--yes", "--journal", &s(&j)];
        case(1, &args, &["nosuch", "nothing was started", "sfbpatch sim init --estate"]).absent(&e).absent(&j)
    }),
    ("B45", |_| {
        case(
            2,
            &["plan", "--package", PKG, "--product", "lync2010"],
            &["--product", "lync2010", "possible values: lync2013, sfb2015, sfb2019, sfbse"],
        )
    }),
    ("B46", |d| {
        let t = s(&PathBuf::from(testdata("topology/mixed-lync2013.xml")));
        let j = d.join("journal.db");
        let args = ["run", &t, "--transport", "sim", "--package", PKG, "--yes", "--journal", &s(&j)];
        case(1, &args, &["several products", "nothing was started", "--server"]).absent(&j)
    }),
    ("B47", |d| {
        let j = d.join("journal.db");
        let args =
            ["run", "--transport", "local", "--shell", "sh", "--package", "nosuch.exe", "--yes", "--journal", &s(&j)];
        let ssh = ssh_run(&connections(d, ""), &["--journal", &s(&j)]);
        let ssh: Vec<&str> = ssh.iter().map(|a| if a.ends_with(PKG) { "nosuch.exe" } else { a.as_str() }).collect();
        let mut psremoting = args;
        psremoting[2] = "psremoting";
        case(1, &args, &["the package nosuch.exe cannot be read", "nothing was started"])
            .also(&ssh)
            .also(&psremoting)
            .absent(&j)
    }),
    ("B48", |d| {
        let j = d.join("journal.db");
        let pkg = s(&write(d, PKG, b"cumulative update"));
        let args = [
            "run",
            "--transport",
            "ssh",
            "--connections",
            "nosuch.toml",
            "--package",
            &pkg,
            "--yes",
            "--journal",
            &s(&j),
        ];
        case(1, &args, &["the connections file nosuch.toml cannot be read", "nothing was started"]).absent(&j)
    }),
    ("B49", |d| {
        let j = d.join("journal.db");
        let folder = d.join("update.exe");
        std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
        let pkg = s(&folder);
        let args = ["run", "--transport", "local", "--shell", "sh", "--package", &pkg, "--yes", "--journal", &s(&j)];
        let mut psremoting = args;
        psremoting[2] = "psremoting";
        case(1, &args, &["cannot be read (it is not a file)", "nothing was started"]).also(&psremoting).absent(&j)
    }),
    ("B50", |d| {
        let j = d.join("journal.db");
        let pkg = s(&write(d, PKG, b"cumulative update"));
        let args = ["run", "--transport", "local", "--shell", "  ", "--package", &pkg, "--yes", "--journal", &s(&j)];
        let mut psremoting = args;
        psremoting[2] = "psremoting";
        case(2, &args, &["--shell", "names no program to start"]).also(&psremoting).absent(&j)
    }),
];

/// B43: the run that could not start is not recorded: `sfbpatch history` shows no run.
fn no_run_recorded(dir: &Path) -> Option<String> {
    let o = common::run(&["history", "--journal", &s(&dir.join("journal.db"))]);
    let want = "the journal has no runs yet.";
    (o.code != 0 || !o.stdout.contains(want)).then(|| format!("history: {} {} {}", o.code, o.stdout, o.stderr))
}

fn with_args(mut c: Case, args: Vec<String>) -> Case {
    c.args = args;
    c
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap_or_else(|e| panic!("{e}"));
}

/// What a path holds: its bytes, `None` when it does not exist (a folder: its names).
fn snapshot(p: &Path) -> Option<Vec<u8>> {
    match std::fs::symlink_metadata(p) {
        Err(_) => None,
        Ok(m) if m.is_dir() => {
            let mut names: Vec<String> = std::fs::read_dir(p)
                .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            names.sort();
            Some(names.join("\n").into_bytes())
        }
        Ok(m) if m.is_file() => std::fs::read(p).ok(),
        Ok(_) => Some(b"special".to_vec()),
    }
}

/// Runs one case, each of its inputs in turn; what went wrong, if anything.
fn check(id: &str, make: Make) -> Option<String> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let c = make(dir.path());
    let before: Vec<Option<Vec<u8>>> = c.untouched.iter().map(|p| snapshot(p)).collect();
    let mut wrongs = Vec::new();
    for args in std::iter::once(&c.args).chain(&c.also) {
        if let Some(w) = check_one(id, &c, args, dir.path(), &before) {
            wrongs.push(w);
        }
    }
    (!wrongs.is_empty()).then(|| wrongs.join("\n"))
}

/// One input of a case.
fn check_one(id: &str, c: &Case, args: &[String], dir: &Path, before: &[Option<Vec<u8>>]) -> Option<String> {
    let mut cmd = common::sfbpatch();
    // No ssh-agent: a missing key file has nothing to fall back on.
    cmd.args(args).current_dir(dir).env_remove("SSH_AUTH_SOCK");
    if let Some(input) = &c.stdin {
        cmd.write_stdin(input.clone());
    }
    let o = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let mut wrong = Vec::new();
    if o.status.code() != Some(c.code) {
        wrong.push(format!("exit {:?}, not {}", o.status.code(), c.code));
    }
    for w in &c.says {
        if !stderr.contains(w.as_str()) {
            wrong.push(format!("stderr lacks {w:?}"));
        }
    }
    if !stdout.is_empty() {
        wrong.push("stdout is not empty".into());
    }
    let first = if c.code == 2 { "error: " } else { "sfbpatch: " };
    if !stderr.lines().any(|l| l.starts_with(first)) {
        wrong.push(format!("no line starts with {first:?}"));
    }
    for bad in ["panicked", "RUST_BACKTRACE", "internal error", "⟦"] {
        if stderr.contains(bad) {
            wrong.push(format!("stderr holds {bad:?}"));
        }
    }
    for (p, was) in c.untouched.iter().zip(before) {
        if snapshot(p) != *was {
            wrong.push(format!("{} changed", p.display()));
        }
    }
    for p in &c.absent {
        if p.exists() {
            wrong.push(format!("{} was created", p.display()));
        }
    }
    if let Some(w) = c.then.and_then(|then| then(dir)) {
        wrong.push(w);
    }
    (!wrong.is_empty()).then(|| format!("{id} {args:?}: {}\n  stdout: {stdout}\n  stderr: {stderr}", wrong.join("; ")))
}

#[test]
fn every_row_of_the_bad_input_table_behaves_as_it_says() {
    let failures: Vec<String> = CASES.iter().filter_map(|(id, make)| check(id, *make)).collect();
    assert!(failures.is_empty(), "{} row(s) wrong:\n{}", failures.len(), failures.join("\n"));
}

/// The ids in the first column of the README's "Bad input" table.
fn readme_ids() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let section = readme.split("\n## Bad input\n").nth(1).unwrap_or_else(|| panic!("no \"## Bad input\" section"));
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .map(str::trim)
        .filter(|id| id.len() == 3 && id.starts_with('B') && id[1..].bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_row_has_a_case_and_every_case_a_row() {
    let rows = readme_ids();
    let unique: BTreeSet<&String> = rows.iter().collect();
    assert_eq!(unique.len(), rows.len(), "an id used twice in the README: {rows:?}");
    let rows: BTreeSet<&str> = rows.iter().map(String::as_str).collect();
    let cases: BTreeSet<&str> = CASES.iter().map(|(id, _)| *id).collect();
    assert_eq!(cases.len(), CASES.len(), "an id used twice in CASES");
    assert!(!rows.is_empty(), "the table has no rows");
    assert_eq!(rows, cases, "README rows vs test cases");
}

//! Issue 13, "commands are never executed from stored text": what a run's plan was made from
//! (`PlanInputs`: the topology as read and every `PlanRequest` field), stored with the run's
//! parameters, so that `resume` makes the plan again with the same reader, validation and
//! planner as `sfbpatch plan`, compares it with the stored plan and executes the plan it made,
//! never the stored command text. The journal's hash chain has no key (whoever can write the
//! file can recompute it): it tells edits made by mistake, it does not make stored text safe
//! to execute.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfbpatch_core::Lang;
use sfbpatch_core::plan::{Plan, PlanRequest, plan};
use sfbpatch_core::printable;
use sfbpatch_core::topology::{self, Format, Topology};
use sfbpatch_core::{example, topology::text};
use sfbpatch_i18n::{Args, fmt as tr, text as say};

use crate::Failure;

/// The topology a run was planned from. The text is the reader's own decoding of the file
/// (`topology::text::decode`: BOMs and UTF-16 handled, binary refused), not its bytes: the
/// reader parses nothing else, the journal stays readable text (an auditor can diff it), and
/// decoding that text again gives the same text (UTF-8 without a BOM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum TopologySource {
    /// A `Get-CsTopology -AsXml` export: its name as given (messages) and its text.
    Xml { file: String, text: String },
    /// sfbpatch's TOML format.
    Toml { file: String, text: String },
    /// No file: the example bundled in this binary.
    BundledExample,
}

impl TopologySource {
    /// Reads a topology file (or the bundled example) as `sfbpatch plan` does, keeping what
    /// was read.
    pub fn read(file: Option<&Path>, lang: Lang) -> Result<(Topology, TopologySource), Failure> {
        let Some(path) = file else {
            return Ok((load(example::NAME, example::TOPOLOGY_XML)?, TopologySource::BundledExample));
        };
        let (name, bytes) = crate::input::read_limited(path, lang)?;
        let decoded = text::decode(&name, &bytes).map_err(Failure::Topology)?;
        let t = load(&name, &decoded)?;
        let source = match Format::detect(&name, &decoded) {
            Format::Xml => TopologySource::Xml { file: name, text: decoded },
            Format::Toml => TopologySource::Toml { file: name, text: decoded },
        };
        Ok((t, source))
    }

    /// Whether `given` (the operator's file, read again) is this stored topology: the same
    /// kind (bundled, XML or TOML, as the reader detects it) and the same decoded text. The
    /// file's name may differ (it is only in messages).
    pub fn same_as(&self, given: &TopologySource) -> bool {
        match (self, given) {
            (TopologySource::BundledExample, TopologySource::BundledExample) => true,
            (TopologySource::Xml { text: a, .. }, TopologySource::Xml { text: b, .. })
            | (TopologySource::Toml { text: a, .. }, TopologySource::Toml { text: b, .. }) => a == b,
            _ => false,
        }
    }

    /// The file's name as given, or the catalogue's words for the bundled example.
    fn label(&self, lang: Lang) -> String {
        match self {
            TopologySource::BundledExample => say(lang, "cli.resume-trust.bundled"),
            TopologySource::Xml { file, .. } | TopologySource::Toml { file, .. } => {
                format!("\"{}\"", printable::field(file))
            }
        }
    }
}

/// A stored record this build cannot read: `what` is a catalogue key (the record's name).
fn unreadable(id: &str, what: &str, why: &str, lang: Lang) -> Failure {
    let a =
        Args::new().with("id", printable::field(id)).with("what", say(lang, what)).with("why", printable::field(why));
    Failure::Message(tr(lang, "cli.resume.unreadable", &a))
}

/// `topology::load`, the function `sfbpatch plan` reads every topology with.
fn load(file: &str, text: &str) -> Result<Topology, Failure> {
    topology::load(file, text.as_bytes()).map_err(Failure::Topology)
}

/// Every input of a run's plan: the topology and the `PlanRequest`, its fields stored beside
/// `topology` (flattened), the JSON shape earlier releases wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanInputs {
    pub topology: TopologySource,
    #[serde(flatten)]
    pub request: PlanRequest,
}

impl PlanInputs {
    /// What `req` asks, with the topology it is asked of.
    pub fn new(topology: TopologySource, req: &PlanRequest) -> Self {
        Self { topology, request: req.clone() }
    }

    /// The plan of `t`, as `run` makes it: `plan::plan`, then one product per run.
    pub fn plan(&self, t: &Topology, lang: Lang) -> Result<Plan, Failure> {
        let p = plan(t, &self.request).map_err(|e| Failure::Message(e.render(lang)))?;
        crate::products::one_product(&p, lang)?;
        Ok(p)
    }
}

/// `resume`: the plan made again from the run's stored inputs, refused unless it is the stored
/// plan. What executes is the plan returned, never the stored text.
///
/// The topology is the operator's (`given`: the resume's `[FILE]`, read as `run` reads it),
/// refused unless it is the stored one: the servers contacted (SSH, `{host}` of a shell,
/// PowerShell remoting) are those it names, so a stored topology replaced together with a
/// plan made from it must not decide where sfbpatch connects.
pub fn regenerate(
    id: &str,
    inputs: Option<&PlanInputs>,
    (t, given): (&Topology, &TopologySource),
    stored_plan: &str,
    lang: Lang,
) -> Result<Plan, Failure> {
    let Some(inputs) = inputs else {
        return Err(Failure::Message(tr(lang, "cli.resume.no-inputs", &Args::new().with("id", id))));
    };
    if !inputs.topology.same_as(given) {
        let a = Args::new()
            .with("id", printable::field(id))
            .with("given", given.label(lang))
            .with("stored", inputs.topology.label(lang));
        return Err(Failure::Message(tr(lang, "cli.resume-trust.topology-differs", &a)));
    }
    crate::resume_checks::plan_numbers(id, inputs, lang)?;
    let fresh = PlanInputs { topology: given.clone(), ..inputs.clone() }.plan(t, lang)?;
    let stored: Value =
        serde_json::from_str(stored_plan).map_err(|e| unreadable(id, "cli.journal.what.plan", &e.to_string(), lang))?;
    let again = serde_json::to_value(&fresh).map_err(|e| Failure::Message(e.to_string()))?;
    match first_difference(&stored, &again, &mut Vec::new()) {
        None => Ok(fresh),
        Some(d) => Err(Failure::Message(d.render(id, &stored, lang))),
    }
}

/// Where two plans first differ: the JSON path, and the two values there as text.
#[derive(Debug, PartialEq)]
struct Difference {
    path: Vec<String>,
    stored: String,
    fresh: String,
}

fn as_text(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn first_difference(a: &Value, b: &Value, path: &mut Vec<String>) -> Option<Difference> {
    let keys: Vec<String> = match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut k: Vec<String> = x.keys().chain(y.keys()).cloned().collect();
            k.sort();
            k.dedup();
            k
        }
        (Value::Array(x), Value::Array(y)) => (0..x.len().max(y.len())).map(|i| i.to_string()).collect(),
        _ if a == b => return None,
        _ => return Some(Difference { path: path.clone(), stored: as_text(Some(a)), fresh: as_text(Some(b)) }),
    };
    for k in keys {
        let (x, y) = match (a, b) {
            (Value::Object(x), Value::Object(y)) => (x.get(&k), y.get(&k)),
            _ => {
                let i: usize = k.parse().unwrap_or(usize::MAX);
                (a.get(i), b.get(i))
            }
        };
        path.push(k);
        let d = match (x, y) {
            (Some(x), Some(y)) => first_difference(x, y, path),
            _ => Some(Difference { path: path.clone(), stored: as_text(x), fresh: as_text(y) }),
        };
        if d.is_some() {
            return d;
        }
        path.pop();
    }
    None
}

impl Difference {
    /// The server (`servers[i].fqdn`) and step (`servers[i].steps[j].id`) the path is in, from
    /// the stored plan; `-` where the path is not in one.
    fn render(&self, id: &str, stored: &Value, lang: Lang) -> String {
        let at = |i: usize| self.path.get(i).and_then(|s| s.parse::<usize>().ok());
        let server = match (self.path.first().map(String::as_str), at(1)) {
            (Some("servers"), Some(i)) => Some(&stored["servers"][i]),
            _ => None,
        };
        let step = match (server, self.path.get(2).map(String::as_str), at(3)) {
            (Some(s), Some("steps"), Some(j)) => as_text(s["steps"].get(j).and_then(|x| x.get("id"))),
            _ => "-".to_owned(),
        };
        let server = server.map(|s| as_text(s.get("fqdn"))).unwrap_or_else(|| "-".to_owned());
        let args = Args::new()
            .with("id", printable::field(id))
            .with("server", printable::field(&server))
            .with("step", printable::field(&step))
            .with("path", self.path.join("."))
            .with("stored", printable::field(&self.stored))
            .with("fresh", printable::field(&self.fresh));
        tr(lang, "cli.resume.plan-differs", &args)
    }
}

/// The programs and commands a run was started with (issue 13): `resume` starts a program or
/// sends a command only when the operator gives it again, equal to the stored one.
pub struct Given<'a> {
    pub shell: Option<&'a str>,
    pub hooks: &'a crate::engine_params::Hooks,
    pub package: Option<&'a str>,
    pub connections: Option<&'a str>,
    /// `--psremoting-authentication` and `--psremoting-credential`.
    pub psremoting: (Option<crate::cli::PsRemotingAuthArg>, Option<&'a str>),
}

/// The stored values the operator must give again; what to use (the operator's).
pub struct Stored<'a> {
    pub shell: Option<&'a [String]>,
    pub hooks: crate::engine_params::Hooks,
    pub package_path: Option<&'a Path>,
    /// The SSH connections file: where each server is and how to log on (a password is sent
    /// to the address it names, so an edited path could send it elsewhere).
    pub connections: Option<&'a Path>,
    /// How PowerShell remoting logs on (an edit could turn Kerberos into CredSSP, delegating
    /// a credential file of the editor's choosing).
    pub psremoting: &'a crate::psremoting::Settings,
}

/// What `resume` uses: the operator's shell argv, package, connections file and logon.
pub struct Kept {
    pub shell: Option<Vec<String>>,
    pub package_path: Option<PathBuf>,
    pub connections: Option<PathBuf>,
    pub psremoting: crate::psremoting::Settings,
}

/// What `check_given` returns: the operator's canonical package, connections file and
/// remoting logon.
type Checked = (Option<PathBuf>, Option<PathBuf>, crate::psremoting::Settings);

/// The shell argv as `run` splits `--shell`.
pub fn shell_argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// `resume`'s `--shell`, hooks, `--package`, `--connections` and remoting logon against the run's: what to
/// use, all of it the operator's.
pub fn given_again(id: &str, stored: &Stored<'_>, args: &crate::cli::ResumeArgs, lang: Lang) -> Result<Kept, Failure> {
    let hooks = crate::engine_params::Hooks::from_flags(
        args.pre_hook.as_deref(),
        args.post_hook.as_deref(),
        args.config.as_deref(),
        lang,
    )
    .map_err(Failure::Message)?;
    let given = Given {
        shell: args.shell.as_deref(),
        hooks: &hooks,
        package: args.package.as_deref(),
        connections: args.connections.as_deref(),
        psremoting: (args.psremoting_authentication, args.psremoting_credential.as_deref()),
    };
    let (package_path, connections, psremoting) = check_given(id, stored, &given, lang)?;
    Ok(Kept { shell: args.shell.as_deref().map(shell_argv), package_path, connections, psremoting })
}

/// The `--config` file's server hooks as a person reads them: `pre hook of SERVER: "HOOK"`,
/// one after the other, every value escaped (`printable::field`); `None` when there is none.
fn server_hooks(servers: &crate::engine_params::ServerHookMap, lang: Lang) -> Option<String> {
    let mut parts = Vec::new();
    for (server, (pre, post)) in servers {
        if pre.is_none() && post.is_none() {
            // A server named with no hook: named all the same, or both sides could read "nothing".
            parts.push(tr(lang, "cli.resume.hooks.empty", &Args::new().with("server", printable::field(server))));
        }
        for (which, hook) in [("pre", pre), ("post", post)] {
            if let Some(hook) = hook {
                let a = Args::new()
                    .with("which", which)
                    .with("server", printable::field(server))
                    .with("hook", format!("\"{}\"", printable::field(hook)));
                parts.push(tr(lang, "cli.resume.hooks.server", &a));
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Refuses unless every program and command of `stored` (and the connections file and the
/// remoting logon) is given again, equal; returns the canonical package path, connections
/// file and remoting logon given.
///
/// The package (copied to the servers by the real transports) is asked for again with
/// `--package` rather than re-derived from the stored input: a relative path canonicalised
/// from the resume's working directory can name another file, and a path found only in the
/// journal is exactly what this check refuses to act on.
pub fn check_given(id: &str, stored: &Stored<'_>, given: &Given<'_>, lang: Lang) -> Result<Checked, Failure> {
    let none = say(lang, "cli.resume.nothing");
    let show = |v: Option<String>| v.map(|s| format!("\"{}\"", printable::field(&s))).unwrap_or_else(|| none.clone());
    let refuse = |flag: &str, s: Option<String>, g: Option<String>| {
        let a = Args::new()
            .with("id", printable::field(id))
            .with("flag", flag)
            .with("stored", show(s))
            .with("given", show(g));
        Failure::Message(tr(lang, "cli.resume.program-differs", &a))
    };
    let given_shell = given.shell.map(shell_argv);
    if stored.shell.map(<[String]>::to_vec) != given_shell {
        return Err(refuse("--shell", stored.shell.map(|v| v.join(" ")), given_shell.map(|v| v.join(" "))));
    }
    let (s, g) = (&stored.hooks, given.hooks);
    if s.pre != g.pre {
        return Err(refuse("--pre-hook", s.pre.clone(), g.pre.clone()));
    }
    if s.post != g.post {
        return Err(refuse("--post-hook", s.post.clone(), g.post.clone()));
    }
    if s.servers != g.servers {
        // Plain text, each hook escaped (it is the operator's, or the journal's): never a
        // Rust structure.
        let text = |h: &crate::engine_params::Hooks| server_hooks(&h.servers, lang).unwrap_or_else(|| none.clone());
        let a = Args::new()
            .with("id", printable::field(id))
            .with("flag", "--config")
            .with("stored", text(s))
            .with("given", text(g));
        return Err(Failure::Message(tr(lang, "cli.resume.program-differs", &a)));
    }
    let canonical = |flag: &str, p: Option<&str>| match p {
        Some(p) => std::fs::canonicalize(p).map(Some).map_err(|e| {
            let a = Args::new()
                .with("id", printable::field(id))
                .with("flag", flag)
                .with("path", printable::field(p))
                .with("why", printable::field(&e.to_string()));
            Failure::Message(tr(lang, "cli.resume-trust.file-missing", &a))
        }),
        None => Ok(None),
    };
    let same = |flag: &str, s: Option<&Path>, g: Option<&str>| -> Result<Option<PathBuf>, Failure> {
        let c = canonical(flag, g)?;
        match (s, &c) {
            (None, None) => Ok(None),
            (Some(s), Some(g)) if s == g => Ok(c),
            (s, _) => Err(refuse(flag, s.map(|p| p.display().to_string()), g.map(str::to_owned))),
        }
    };
    let package = same("--package", stored.package_path, given.package)?;
    let connections = same("--connections", stored.connections, given.connections)?;
    // The mechanism as it acts (none given is Kerberos, as for `run`), then the credential.
    let (s_auth, g_auth) = (stored.psremoting.0.unwrap_or_default(), given.psremoting.0.unwrap_or_default());
    if s_auth != g_auth {
        let name = |m: crate::cli::PsRemotingAuthArg| {
            use clap::ValueEnum;
            m.to_possible_value().map(|v| v.get_name().to_owned())
        };
        return Err(refuse("--psremoting-authentication", name(s_auth), name(g_auth)));
    }
    let credential = same("--psremoting-credential", stored.psremoting.1.as_deref(), given.psremoting.1)?;
    Ok((package, connections, (given.psremoting.0, credential)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_connections_file_is_used_only_when_given_again_equal() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mine, theirs) = (dir.path().join("connections.toml"), dir.path().join("elsewhere.toml"));
        for f in [&mine, &theirs] {
            std::fs::write(f, "").unwrap_or_else(|e| panic!("{e}"));
        }
        let mine = std::fs::canonicalize(&mine).unwrap_or_else(|e| panic!("{e}"));
        let hooks = crate::engine_params::Hooks::default();
        let logon = (None, None);
        let stored = Stored {
            shell: None,
            hooks: hooks.clone(),
            package_path: None,
            connections: Some(&mine),
            psremoting: &logon,
        };
        fn given<'a>(hooks: &'a crate::engine_params::Hooks, c: Option<&'a str>) -> Given<'a> {
            Given { shell: None, hooks, package: None, connections: c, psremoting: (None, None) }
        }
        let refused = |c: Option<&str>| match check_given("run-1", &stored, &given(&hooks, c), Lang::En) {
            Err(Failure::Message(m)) => m,
            _ => panic!("not refused with a message"),
        };
        let m = refused(None);
        assert!(m.contains("it was started with --connections \"") && m.contains("this resume gives nothing"), "{m}");
        let elsewhere = theirs.display().to_string();
        assert!(refused(Some(&elsewhere)).contains(&format!("this resume gives \"{elsewhere}\"")));
        let same = mine.display().to_string();
        match check_given("run-1", &stored, &given(&hooks, Some(&same)), Lang::En) {
            Ok((None, Some(c), (None, None))) => assert_eq!(c, mine),
            _ => panic!("the same file, given again, is refused"),
        }
    }

    /// The `inputs` a journal of the release before `PlanRequest` was stored whole holds, as
    /// it wrote them (`run --max-parallel 2 --failover-wait 30 --draining-timeout 10
    /// --outage-budget 25 --lang es --product sfb2019` on the bundled example).
    const STORED: &str = r#"{"topology":{"format":"bundled-example"},"package":"SkypeServerUpdateInstaller.exe","product":"sfb2019","installer_switches":null,"servers":[],"skip":[],"stage_dir":"C:\\ProgramData\\sfbpatch\\stage\\run-1795748665-0a74","outage_budget_minutes":25.0,"lang":"es","failover_wait_minutes":30,"draining_timeout_minutes":10,"max_parallel":2,"scope":"backends","pools":[],"sites":[]}"#;

    #[test]
    fn inputs_stored_by_earlier_releases_read_as_the_request_and_are_written_back_the_same() {
        let read: PlanInputs = serde_json::from_str(STORED).unwrap_or_else(|e| panic!("{e}"));
        let mut want = PlanRequest::new("SkypeServerUpdateInstaller.exe");
        want.product = Some(sfbpatch_core::runbook::Product::Sfb2019);
        want.stage_dir = r"C:\ProgramData\sfbpatch\stage\run-1795748665-0a74".to_owned();
        want.outage_budget_minutes = 25.0;
        want.lang = Lang::Es;
        want.failover_wait_minutes = Some(30);
        want.draining_timeout_minutes = Some(10);
        want.max_parallel = Some(2);
        assert_eq!(read, PlanInputs::new(TopologySource::BundledExample, &want));
        assert_eq!(serde_json::to_string(&read).unwrap_or_else(|e| panic!("{e}")), STORED);
    }

    #[test]
    fn an_unknown_stored_language_reads_as_the_default() {
        let text = STORED.replace(r#""lang":"es""#, r#""lang":"xx""#);
        let read: PlanInputs = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.request.lang, Lang::default());
    }

    #[test]
    fn the_first_difference_names_its_path_and_both_values() {
        let a = json!({"servers": [{"fqdn": "a", "steps": [{"id": "x", "command": "Get-A"}]}], "z": 1});
        let b = json!({"servers": [{"fqdn": "a", "steps": [{"id": "x", "command": "Get-B"}]}], "z": 2});
        let d = first_difference(&a, &b, &mut Vec::new());
        let want = Difference {
            path: ["servers", "0", "steps", "0", "command"].map(str::to_owned).to_vec(),
            stored: "Get-A".into(),
            fresh: "Get-B".into(),
        };
        assert_eq!(d, Some(want));
        assert_eq!(first_difference(&a, &a, &mut Vec::new()), None);
        let shorter = json!({"servers": [], "z": 1});
        let d = first_difference(&a, &shorter, &mut Vec::new()).unwrap_or_else(|| panic!("a difference"));
        assert_eq!((d.path.join("."), d.fresh.as_str()), ("servers.0".to_owned(), ""));
    }
}

//! Hosts execute the text of PowerShell commands.
//!
//! The text is parsed with a real PowerShell grammar ([`sfbpatch_pwsh::syntax`]); each
//! command is then applied to the host under the rules of DOMAIN.md §4. A command the planner
//! rendered badly (a syntax error, an unknown cmdlet, a parameter the cmdlet does not have)
//! fails here as it would in PowerShell. Unsupported constructs fail loudly rather than being
//! approximated.

use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::topology::Role;
use sfbpatch_pwsh::syntax::{self, CommandName, Element, ParseError, ParsedCommand, Statement};

use crate::Ms;
use crate::estate::{Estate, Host, OpRecord, ServiceKind, Session, SimFile};
use crate::fault::FaultKind;

/// How an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecStatus {
    /// The command ran to its end (successfully or not: see the exit code).
    Completed,
    /// The timeout passed first; the command was abandoned and changed nothing.
    TimedOut,
    /// The session dropped; the command may or may not have been applied.
    Disconnected,
    /// The host did not answer (restarting).
    Unreachable,
}

impl ExecStatus {
    fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Completed => "completed",
            ExecStatus::TimedOut => "timed-out",
            ExecStatus::Disconnected => "disconnected",
            ExecStatus::Unreachable => "unreachable",
        }
    }
}

/// The result of running a script on a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// How it ended.
    pub status: ExecStatus,
    /// Exit code (meaningful when completed).
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Virtual start.
    pub start_ms: Ms,
    /// Virtual end.
    pub end_ms: Ms,
}

impl Execution {
    /// Completed with exit code 0.
    pub fn succeeded(&self) -> bool {
        self.status == ExecStatus::Completed && self.exit_code == 0
    }
}

/// A script to run.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The host's FQDN.
    pub host: &'a str,
    /// The session to run in (`None`: a new session, opened for this script and closed after).
    pub session: Option<u64>,
    /// The step this belongs to (faults are keyed by step).
    pub step: Option<StepId>,
    /// The PowerShell text.
    pub script: &'a str,
    /// When the driver sends it.
    pub at: Ms,
    /// How long the driver waits.
    pub timeout_ms: Ms,
}

/// The outcome of one command inside a script.
struct Out {
    exit: i32,
    stdout: String,
    stderr: String,
    ms: Ms,
}

impl Out {
    fn ok(stdout: impl Into<String>, ms: Ms) -> Self {
        Out { exit: 0, stdout: stdout.into(), stderr: String::new(), ms }
    }
    fn err(stderr: impl Into<String>, ms: Ms) -> Self {
        Out { exit: 1, stdout: String::new(), stderr: stderr.into(), ms }
    }
}

/// Per-execution context.
struct Cx {
    now: Ms,
    reader: Option<crate::estate::LocalReader>,
    package_build: Option<Build>,
    session: u64,
    slow: f64,
    force_reboot: bool,
}

impl Cx {
    fn dur(&self, ms: Ms) -> Ms {
        ((ms as f64) * self.slow).round() as Ms
    }
}

fn not_recognized(name: &str) -> String {
    format!(
        "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. \
Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
    )
}

/// Parsed parameters of one command.
struct Params {
    named: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.named.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_deref())
    }
    fn has(&self, name: &str) -> bool {
        self.named.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

fn env_value(host: &Host, var: &str) -> Option<String> {
    let (domain, user) = host.account.split_once('\\').unwrap_or(("", host.account.as_str()));
    match var.to_ascii_uppercase().as_str() {
        "USERDOMAIN" => Some(domain.to_owned()),
        "USERNAME" => Some(user.to_owned()),
        "COMPUTERNAME" => Some(host.fqdn.host().to_ascii_uppercase()),
        _ => None,
    }
}

/// The value of an element, as PowerShell would bind it. Double-quoted strings may only
/// expand `$env:` variables here.
fn value(host: &Host, e: &Element) -> Result<String, String> {
    match e {
        Element::Literal(s) | Element::Bare(s) => Ok(s.clone()),
        Element::Expression { text, .. } if text.starts_with('"') && text.ends_with('"') && text.len() >= 2 => {
            let inner = &text[1..text.len() - 1];
            let mut out = String::new();
            let mut rest = inner;
            while let Some(i) = rest.find("$env:") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 5..];
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                let var = &after[..end];
                out.push_str(&env_value(host, var).ok_or_else(|| format!("the simulator does not know $env:{var}"))?);
                rest = &after[end..];
            }
            out.push_str(rest);
            if out.contains(['$', '`']) {
                return Err(format!("the simulator cannot expand {text}"));
            }
            Ok(out)
        }
        Element::Expression { text, .. } => Err(format!("the simulator cannot evaluate {text}")),
        Element::Parameter(p) => Ok(format!("-{p}")),
    }
}

/// Binds `elements` to a cmdlet with these switch and value parameters.
fn bind(host: &Host, cmdlet: &str, elements: &[Element], switches: &[&str], values: &[&str]) -> Result<Params, String> {
    let mut p = Params { named: Vec::new(), positional: Vec::new() };
    let mut i = 0;
    while i < elements.len() {
        match &elements[i] {
            Element::Parameter(raw) => {
                let (name, inline) = match raw.split_once(':') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (raw.as_str(), None),
                };
                if switches.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    p.named.push((name.to_owned(), None));
                } else if values.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            match elements.get(i) {
                                Some(Element::Parameter(_)) | None => {
                                    return Err(format!(
                                        "{cmdlet} : Missing an argument for parameter '{name}'. Specify a parameter of the required type and try again."
                                    ));
                                }
                                Some(e) => value(host, e)?,
                            }
                        }
                    };
                    p.named.push((name.to_owned(), Some(v)));
                } else {
                    return Err(format!(
                        "{cmdlet} : A parameter cannot be found that matches parameter name '{name}'."
                    ));
                }
            }
            e => p.positional.push(value(host, e)?),
        }
        i += 1;
    }
    Ok(p)
}

fn table(header: [&str; 3], rows: &[[String; 3]]) -> String {
    let w0 = rows.iter().map(|r| r[0].len()).chain([header[0].len()]).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].len()).chain([header[1].len()]).max().unwrap_or(0);
    let mut s = String::from("\n");
    let line = |a: &str, b: &str, c: &str| format!("{a:<w0$} {b:<w1$} {c}").trim_end().to_owned() + "\n";
    s.push_str(&line(header[0], header[1], header[2]));
    s.push_str(&line(&"-".repeat(header[0].len()), &"-".repeat(header[1].len()), &"-".repeat(header[2].len())));
    for r in rows {
        s.push_str(&line(&r[0], &r[1], &r[2]));
    }
    s.push('\n');
    s
}

fn status_word(running: bool) -> String {
    if running { "Running".into() } else { "Stopped".into() }
}

const SFB_CMDLETS: [&str; 6] = [
    "get-csadminroleassignment",
    "stop-cswindowsservice",
    "start-cswindowsservice",
    "get-cswindowsservice",
    "get-csserverpatchversion",
    "install-csdatabase",
];

impl Host {
    fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id && s.open)
    }

    /// Preconditions of every Skype for Business cmdlet: the module (auto-loaded on first
    /// use, as PowerShell 3+ does), assemblies of the current install (rule 4), and the
    /// CsAdministrator role (rule 8).
    fn sfb_preconditions(&mut self, cx: &mut Cx, cmdlet: &str) -> Result<Ms, Out> {
        let generation = self.install_generation;
        let mut extra = 0;
        let loaded = self.session_mut(cx.session).map(|s| s.module_generation);
        match loaded {
            Some(None) => {
                extra = self.rng.secs(6.0, 15.0);
                if let Some(s) = self.session_mut(cx.session) {
                    s.module_generation = Some(generation);
                }
            }
            Some(Some(g)) if g < generation => {
                return Err(Out::err(
                    format!(
                        "{cmdlet} : Could not load file or assembly 'Microsoft.Rtc.Management, Version=7.0.0.0' or one of its dependencies. \
The located assembly's manifest definition does not match the assembly reference. (This Management Shell was opened before the update was installed: open a new one.)"
                    ),
                    self.rng.secs(1.0, 3.0),
                ));
            }
            _ => {}
        }
        let roles = self.accounts.get(&self.account.to_ascii_lowercase()).cloned().unwrap_or_default();
        if !roles.iter().any(|r| r == "CsAdministrator") {
            return Err(Out::err(
                format!(
                    "{cmdlet} : Access denied. The account {} is not a member of the CsAdministrator role.",
                    self.account
                ),
                extra + self.rng.secs(1.0, 3.0),
            ));
        }
        Ok(extra)
    }

    fn set_sfb_services(&mut self, running: bool, at: Ms) {
        for s in self.services.iter_mut().filter(|s| s.kind == ServiceKind::Sfb) {
            s.running = running;
        }
        self.track(at);
    }

    fn run_command(&mut self, cx: &mut Cx, cmd: &ParsedCommand) -> Out {
        let name = match &cmd.name {
            CommandName::Name(n) => n.clone(),
            CommandName::Path(p) => return self.run_installer(cx, p, &cmd.elements),
            CommandName::Expression(e) => {
                return Out::err(format!("the simulator cannot invoke {e}"), 1000);
            }
        };
        let lower = name.to_ascii_lowercase();
        let mut extra = 0;
        if SFB_CMDLETS.contains(&lower.as_str()) {
            match self.sfb_preconditions(cx, &name) {
                Ok(ms) => extra = ms,
                Err(o) => return o,
            }
        }
        let bound = |h: &Host, sw: &[&str], vals: &[&str]| bind(h, &name, &cmd.elements, sw, vals);
        let mut out = match lower.as_str() {
            "get-csadminroleassignment" => match bound(self, &[], &["Identity"]) {
                Err(e) => Out::err(e, 1000),
                Ok(p) => {
                    let who = p.get("Identity").or(p.positional.first().map(String::as_str)).unwrap_or("").to_owned();
                    match self.accounts.get(&who.to_ascii_lowercase()) {
                        Some(roles) => Out::ok(format!("\n{}\n\n", roles.join("\n")), self.rng.secs(2.0, 6.0)),
                        None => Out::err(
                            format!("{name} : Management object not found for identity \"{who}\"."),
                            self.rng.secs(2.0, 4.0),
                        ),
                    }
                }
            },
            "get-filehash" => match bound(self, &[], &["Algorithm", "LiteralPath", "Path"]) {
                Err(e) => Out::err(e, 1000),
                Ok(p) => {
                    let path = p
                        .get("LiteralPath")
                        .or(p.get("Path"))
                        .or(p.positional.first().map(String::as_str))
                        .unwrap_or("")
                        .to_owned();
                    let algo = p.get("Algorithm").unwrap_or("SHA256").to_ascii_uppercase();
                    match (self.files.get(&path.to_ascii_lowercase()), algo.as_str()) {
                        (_, a) if a != "SHA256" => {
                            Out::err(format!("the simulator computes SHA256 only, not {a}"), 1000)
                        }
                        (None, _) => Out::err(
                            format!("{name} : Cannot find path '{path}' because it does not exist."),
                            self.rng.secs(1.0, 2.0),
                        ),
                        (Some(f), _) => {
                            let rows = [["SHA256".to_owned(), f.sha256.to_ascii_uppercase(), path.clone()]];
                            Out::ok(table(["Algorithm", "Hash", "Path"], &rows), self.rng.secs(4.0, 12.0))
                        }
                    }
                }
            },
            "import-module" => match bound(self, &["Force"], &["Name"]) {
                Err(e) => Out::err(e, 1000),
                Ok(p) => {
                    let module = p.get("Name").or(p.positional.first().map(String::as_str)).unwrap_or("").to_owned();
                    if module.eq_ignore_ascii_case(self.module()) {
                        let g = self.install_generation;
                        if let Some(s) = self.session_mut(cx.session) {
                            s.module_generation = Some(g);
                        }
                        Out::ok("", self.rng.secs(8.0, 20.0))
                    } else {
                        Out::err(
                            format!(
                                "{name} : The specified module '{module}' was not loaded because no valid module file was found in any module directory."
                            ),
                            self.rng.secs(1.0, 3.0),
                        )
                    }
                }
            },
            "stop-cswindowsservice" => match bound(self, &["Graceful", "NoWait"], &["Name"]) {
                Err(e) => Out::err(e, 1000),
                Ok(_) => {
                    let any = self.services.iter().any(|s| s.kind == ServiceKind::Sfb && s.running);
                    let ms = if any { self.rng.secs(60.0, 180.0) } else { self.rng.secs(4.0, 10.0) };
                    self.set_sfb_services(false, cx.now);
                    Out::ok("", ms)
                }
            },
            "start-cswindowsservice" => match bound(self, &["NoWait"], &["Name"]) {
                Err(e) => Out::err(e, 1000),
                Ok(_) => self.start_sfb(cx, &name),
            },
            "get-cswindowsservice" => match bound(self, &["ExcludeActivityLevel"], &["Name"]) {
                Err(e) => Out::err(e, 1000),
                Ok(_) => {
                    let rows: Vec<[String; 3]> = self
                        .services
                        .iter()
                        .filter(|s| s.kind == ServiceKind::Sfb)
                        .map(|s| {
                            [
                                status_word(s.running),
                                s.name.clone(),
                                if s.running { "Active".into() } else { String::new() },
                            ]
                        })
                        .collect();
                    Out::ok(table(["Status", "Name", "ActivityLevel"], &rows), self.rng.secs(2.0, 5.0))
                }
            },
            "get-service" => match bound(self, &[], &["Name"]) {
                Err(e) => Out::err(e, 1000),
                Ok(p) => {
                    let want = p.get("Name").or(p.positional.first().map(String::as_str)).unwrap_or("").to_owned();
                    match self.services.iter().find(|s| s.name.eq_ignore_ascii_case(&want)) {
                        Some(s) => {
                            let rows = [[status_word(s.running), s.name.clone(), s.display_name.clone()]];
                            Out::ok(table(["Status", "Name", "DisplayName"], &rows), self.rng.secs(1.0, 2.0))
                        }
                        None => Out::err(format!("{name} : Cannot find any service with service name '{want}'."), 1000),
                    }
                }
            },
            "get-csserverpatchversion" => match bound(self, &[], &[]) {
                Err(e) => Out::err(e, 1000),
                Ok(_) => {
                    let rows: Vec<[String; 3]> =
                        self.components.iter().map(|(c, b)| [c.clone(), b.to_string(), String::new()]).collect();
                    Out::ok(table(["ComponentName", "Version", "Update"], &rows), self.rng.secs(3.0, 8.0))
                }
            },
            "get-csserverversion" => Out::ok(
                format!("\n{} ({}): Volume license key installed.\n\n", self.product_name(), self.release_build),
                self.rng.secs(1.0, 3.0),
            ),
            "install-csdatabase" => match bound(
                self,
                &["Update", "ConfiguredDatabases", "LocalDatabases", "ExcludeCollocatedStores", "Force"],
                &["SqlServerFqdn"],
            ) {
                Err(e) => Out::err(e, 1000),
                Ok(p) => self.install_database(&name, &p),
            },
            "restart-computer" => match bound(self, &["Force"], &[]) {
                Err(e) => Out::err(e, 1000),
                Ok(_) => self.restart(cx.now),
            },
            "net" => self.net(&cmd.elements),
            "get-content" => match bound(self, &["Raw"], &["Path", "LiteralPath"]) {
                Err(e) => Out::err(e, 500),
                Ok(p) => {
                    let want = p
                        .get("Path")
                        .or(p.get("LiteralPath"))
                        .or(p.positional.first().map(String::as_str))
                        .unwrap_or("");
                    let want = want.to_ascii_lowercase();
                    let wildcard = p.get("LiteralPath").is_none();
                    let matches: Vec<&SimFile> = match want.split_once('*') {
                        Some((prefix, suffix)) if wildcard => self
                            .files
                            .iter()
                            .filter(|(k, _)| k.starts_with(prefix) && k.ends_with(suffix))
                            .map(|(_, f)| f)
                            .collect(),
                        _ => self.files.get(&want).into_iter().collect(),
                    };
                    if matches.is_empty() {
                        Out::err(format!("{name} : Cannot find path '{want}' because it does not exist."), 500)
                    } else {
                        let text: String = matches.iter().filter_map(|f| f.content.clone()).collect();
                        Out::ok(text, self.rng.secs(0.5, 2.0))
                    }
                }
            },
            "get-psdrive" => match bound(self, &[], &["Name"]) {
                Err(e) => Out::err(e, 500),
                Ok(p) => {
                    let name = p.get("Name").or(p.positional.first().map(String::as_str)).unwrap_or("C").to_owned();
                    if !name.eq_ignore_ascii_case("C") {
                        Out::err(
                            format!("{name} : Cannot find drive. A drive with the name '{name}' does not exist."),
                            500,
                        )
                    } else {
                        let gib = |b: u64| format!("{:.2}", b as f64 / 1_073_741_824.0);
                        let used = 40 * 1_073_741_824u64;
                        let rows = format!(
                            "\nName           Used (GB)     Free (GB) Provider      Root\n----           ---------     --------- --------      ----\nC              {:>9} {:>13} FileSystem    C:\\\n\n",
                            gib(used),
                            gib(self.free_bytes)
                        );
                        Out::ok(rows, self.rng.secs(0.5, 1.5))
                    }
                }
            },
            "new-item" => match bound(self, &["Force"], &["ItemType", "Path"]) {
                // Folders exist implicitly on the simulated disk.
                Err(e) => Out::err(e, 500),
                Ok(_) => Out::ok("", 200),
            },
            "copy-item" => match bound(self, &["Force"], &["LiteralPath", "Path", "Destination"]) {
                Err(e) => Out::err(e, 500),
                Ok(p) => {
                    let src = p.get("LiteralPath").or(p.get("Path")).unwrap_or("").to_owned();
                    let dst = p.get("Destination").unwrap_or("").to_ascii_lowercase();
                    match (cx.reader.and_then(|read| read(&src)), &cx.package_build) {
                        (Some(bytes), Some(build)) => {
                            use sha2::Digest as _;
                            let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                            let secs = 20.0 + bytes.len() as f64 / 50_000_000.0;
                            self.files.insert(
                                dst,
                                SimFile { sha256: sha, installs: Some(build.clone()), intact: true, content: None },
                            );
                            Out::ok("", self.rng.secs(secs, secs * 2.0))
                        }
                        (None, _) => {
                            Out::err(format!("{name} : Cannot find path '{src}' because it does not exist."), 500)
                        }
                        (_, None) => Out::err(
                            format!("{name} : this simulated estate has no package build (sim init sets it)."),
                            500,
                        ),
                    }
                }
            },
            "write-output" => match bound(self, &[], &["InputObject"]) {
                Err(e) => Out::err(e, 500),
                Ok(p) => {
                    let mut text: Vec<String> = p.get("InputObject").map(str::to_owned).into_iter().collect();
                    text.extend(p.positional);
                    Out::ok(text.join("\n") + "\n", 200)
                }
            },
            _ => Out::err(not_recognized(&name), self.rng.secs(0.2, 0.5)),
        };
        out.ms = cx.dur(out.ms + extra);
        out
    }

    fn start_sfb(&mut self, cx: &mut Cx, name: &str) -> Out {
        let ms = self.rng.secs(90.0, 210.0);
        if self.pending_reboot {
            return Out::err(
                format!(
                    "{name} : The Skype for Business Server services cannot start: a restart of the computer is pending after the update. Restart the server."
                ),
                self.rng.secs(10.0, 30.0),
            );
        }
        let build = self.build();
        let stale: Vec<String> = self.own_databases().filter(|d| d.schema < build).map(|d| d.store.clone()).collect();
        let end = cx.now + cx.dur(ms);
        for s in self.services.iter_mut().filter(|s| s.kind == ServiceKind::Sfb) {
            s.running = s.name != "RTCSRV" || stale.is_empty();
        }
        self.track(end);
        if stale.is_empty() {
            Out::ok("", ms)
        } else {
            Out {
                exit: 1,
                stdout: String::new(),
                stderr: format!(
                    "{name} : Service RTCSRV failed to start. The schema of the databases {} is older than the installed build {build}: run Install-CsDatabase -Update.",
                    stale.join(", ")
                ),
                ms,
            }
        }
    }

    fn install_database(&mut self, name: &str, p: &Params) -> Out {
        if !p.has("Update") {
            return Out::err(format!("{name} : the simulator models only -Update."), 1000);
        }
        if let Some(s) = self.services.iter().find(|s| s.kind == ServiceKind::Sfb && s.running) {
            return Out::err(
                format!(
                    "{name} : Cannot update the databases while Skype for Business Server services are running on this computer ({} is running). Stop them with Stop-CsWindowsService.",
                    s.name
                ),
                self.rng.secs(10.0, 30.0),
            );
        }
        let build = self.build();
        let targets: Vec<usize> = if p.has("LocalDatabases") {
            if self.role != Role::StandardEdition {
                return Out::err(
                    format!(
                        "{name} : No local databases to update on this computer: -LocalDatabases applies to a Standard Edition server."
                    ),
                    self.rng.secs(10.0, 30.0),
                );
            }
            (0..self.databases.len()).collect()
        } else if p.has("ConfiguredDatabases") {
            let Some(sql) = p.get("SqlServerFqdn") else {
                return Out::err(format!("{name} : -ConfiguredDatabases requires -SqlServerFqdn."), 1000);
            };
            let own = self.sql_server_fqdn.as_ref().map(|f| f.as_str()).unwrap_or(self.fqdn.as_str());
            if !sql.eq_ignore_ascii_case(own) {
                return Out::err(
                    format!("{name} : No configured databases were found on SQL Server '{sql}' from this computer."),
                    self.rng.secs(20.0, 60.0),
                );
            }
            let exclude = p.has("ExcludeCollocatedStores");
            if !self.collocated_stores.is_empty() && !exclude {
                return Out::err(
                    format!(
                        "{name} : The SQL Server '{sql}' also hosts collocated databases ({}). Run the update with -ExcludeCollocatedStores.",
                        self.collocated_stores.join(", ")
                    ),
                    self.rng.secs(20.0, 60.0),
                );
            }
            (0..self.databases.len())
                .filter(|&i| !exclude || !self.collocated_stores.contains(&self.databases[i].store))
                .collect()
        } else {
            return Out::err(format!("{name} : Specify -ConfiguredDatabases or -LocalDatabases."), 1000);
        };
        let mut updated = Vec::new();
        for i in &targets {
            let d = &mut self.databases[*i];
            if d.schema < build {
                d.schema = build.clone();
                updated.push(format!("{}:{}", d.instance, d.store));
            }
        }
        let ms = self.rng.secs(90.0, 180.0) + 30_000 * updated.len() as Ms;
        let text = if updated.is_empty() {
            "The databases are already up to date.\n".to_owned()
        } else {
            format!("Updated databases: {}.\n", updated.join(", "))
        };
        Out::ok(text, ms)
    }

    fn net(&mut self, elements: &[Element]) -> Out {
        let args: Vec<String> = elements
            .iter()
            .filter_map(|e| match e {
                Element::Bare(s) | Element::Literal(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        if let [a, b] = args.as_slice()
            && a.eq_ignore_ascii_case("statistics")
            && b.eq_ignore_ascii_case("workstation")
        {
            let secs = self.boot_ms / 1000;
            let (d, h, m, sec) = (secs / 86_400, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
            return Out::ok(
                format!(
                    "Workstation Statistics for \\\\{}\n\n\nStatistics since 1/{}/2026 {h}:{m:02}:{sec:02}\n\n",
                    self.fqdn.host().to_ascii_uppercase(),
                    d + 1
                ),
                self.rng.secs(0.5, 1.5),
            );
        }
        let [verb, svc_name] = args.as_slice() else {
            return Out {
                exit: 1,
                stdout: String::new(),
                stderr: "The syntax of this command is:\n\nNET STOP|START service\n".into(),
                ms: 500,
            };
        };
        let ms = self.rng.secs(8.0, 30.0);
        let Some(i) = self.services.iter().position(|s| s.name.eq_ignore_ascii_case(svc_name)) else {
            return Out {
                exit: 2,
                stdout: String::new(),
                stderr: "The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.\n".into(),
                ms: 500,
            };
        };
        let display = self.services[i].display_name.clone();
        match (verb.to_ascii_lowercase().as_str(), self.services[i].running) {
            ("stop", true) => {
                self.services[i].running = false;
                Out::ok(format!("The {display} service is stopping.\nThe {display} service was stopped successfully.\n"), ms)
            }
            ("stop", false) => Out { exit: 2, stdout: String::new(), stderr: format!("The {display} service is not started.\n\nMore help is available by typing NET HELPMSG 3521.\n"), ms: 1000 },
            ("start", false) => {
                self.services[i].running = true;
                Out::ok(format!("The {display} service is starting.\nThe {display} service was started successfully.\n"), ms)
            }
            ("start", true) => Out { exit: 2, stdout: String::new(), stderr: "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.\n".into(), ms: 1000 },
            _ => Out { exit: 1, stdout: String::new(), stderr: "The syntax of this command is:\n\nNET STOP|START service\n".into(), ms: 500 },
        }
    }

    fn run_installer(&mut self, cx: &mut Cx, path: &str, elements: &[Element]) -> Out {
        let Some(file) = self.files.get(&path.to_ascii_lowercase()).cloned() else {
            return Out::err(not_recognized(path), 500);
        };
        let Some(target) = file.installs.clone() else {
            return Out::err(format!("Program '{path}' failed to run: it is not an update package."), 500);
        };
        if !file.intact {
            return Out { exit: 1620, stdout: String::new(), stderr: "This installation package could not be opened. Verify that the package exists and is not damaged.\n".into(), ms: cx.dur(self.rng.secs(5.0, 20.0)) };
        }
        self.write_install_log(path, &format!("Starting update to {target} with {} argument(s)", elements.len()));
        let silent = elements
            .iter()
            .any(|e| matches!(e, Element::Bare(s) | Element::Literal(s) if s.eq_ignore_ascii_case("/silentmode")));
        if !silent {
            // Without /silentmode the installer opens its window and waits for a click.
            return Out { exit: i32::MIN, stdout: String::new(), stderr: String::new(), ms: Ms::MAX / 4 };
        }
        if let Some(s) = self.any_sfb_or_iis_running() {
            let s = s.name.clone();
            return Out {
                exit: 1603,
                stdout: "Checking for updates…\n".into(),
                stderr: format!(
                    "Installation failed: files are in use by the running service {s}. Stop the Skype for Business Server services and W3SVC first. (1603)\n"
                ),
                ms: cx.dur(self.rng.secs(60.0, 180.0)),
            };
        }
        if self.build() >= target {
            return Out::ok("No applicable updates were found on this server.\n", cx.dur(self.rng.secs(30.0, 90.0)));
        }
        let ms = cx.dur(self.rng.triangular_minutes(8.0, 12.0, 25.0));
        for c in &mut self.components {
            c.1 = target.clone();
        }
        self.install_generation += 1;
        let shells_open = self.sessions.iter().any(|s| s.open && s.module_generation.is_some() && s.id != cx.session);
        let end = cx.now + ms;
        let reboot = cx.force_reboot || shells_open;
        if reboot {
            self.pending_reboot = true;
            let why = if shells_open {
                "Some files were in use by an open Management Shell and will be replaced when the computer restarts."
            } else {
                "A restart is required to complete the update."
            };
            return Out { exit: 3010, stdout: format!("Updates installed. {why}\n"), stderr: String::new(), ms };
        }
        // Rule 3: the installer leaves some services running again; the Front-End service
        // cannot come up on the old schema (rule 7), so it is never among them.
        let sfb: Vec<usize> = (0..self.services.len())
            .filter(|&i| self.services[i].kind == ServiceKind::Sfb && self.services[i].name != "RTCSRV")
            .collect();
        let mut restarted = 0;
        for &i in &sfb {
            if self.rng.chance(0.5) {
                self.services[i].running = true;
                restarted += 1;
            }
        }
        if let (0, Some(&i)) = (restarted, sfb.first()) {
            self.services[i].running = true;
        }
        self.track(end);
        Out::ok(format!("Installing updates…\nUpdates were installed successfully ({target}).\n"), ms)
    }

    /// The installer writes its log into the folder it runs from.
    fn write_install_log(&mut self, installer: &str, line: &str) {
        let dir = installer.rsplit_once('\\').map_or("", |(d, _)| d);
        let n = self.files.keys().filter(|k| k.ends_with(".log")).count() + 1;
        let path = format!("{dir}\\SkypeServerUpdateInstaller-{n}.log").to_ascii_lowercase();
        let content = format!("{line}\nServer {} build before: {}\n", self.fqdn, self.build());
        self.files
            .insert(path, SimFile { sha256: String::new(), installs: None, intact: true, content: Some(content) });
    }

    fn restart(&mut self, now: Ms) -> Out {
        let down = self.rng.secs(180.0, 480.0);
        for s in &mut self.sessions {
            s.open = false;
        }
        for s in &mut self.services {
            s.running = false;
        }
        self.unreachable_until = now + 2000 + down;
        self.track(now);
        let back = self.unreachable_until;
        self.boot_ms = back;
        self.pending_reboot = false;
        let build = self.build();
        let stale = self.own_databases().any(|d| d.schema < build);
        for s in self.services.iter_mut().filter(|s| s.auto_start) {
            s.running = !(s.name == "RTCSRV" && stale);
        }
        self.track(back);
        Out::ok("", 2000)
    }
}

impl Estate {
    /// The fault for this host and step, if one is set and has not fired yet; it fires now.
    fn fault_for(&mut self, host: &str, step: Option<StepId>) -> Option<FaultKind> {
        let step = step?;
        let i = (0..self.faults.len()).find(|&i| {
            !self.fired.contains(&i) && self.faults[i].server.as_str() == host && self.faults[i].step == step
        })?;
        self.fired.push(i);
        Some(self.faults[i].kind.clone())
    }

    /// Registers, for every quoted Windows path in `script` that the host's simulated disk
    /// lacks, the real file the disk reader finds (a package copied by SFTP).
    fn absorb_disk(&mut self, host: &str, script: &str, disk: crate::estate::LocalReader, build: &Build) {
        use sha2::Digest as _;
        let Some(h) = self.host_mut(host) else { return };
        for piece in script.split('\'').skip(1).step_by(2) {
            let path = piece.replace("''", "'");
            let key = path.to_ascii_lowercase();
            if path.len() < 3 || path.as_bytes().get(1).is_none_or(|b| *b != b':') {
                continue;
            }
            // The disk is the truth for files written onto it from outside: a copy sent again
            // replaces the one the simulator knew.
            if let Some(bytes) = disk(&path) {
                let sha256: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                if h.files.get(&key).is_none_or(|f| f.sha256 != sha256) {
                    h.files.insert(key, SimFile { sha256, installs: Some(build.clone()), intact: true, content: None });
                }
            }
        }
    }

    /// Opens a PowerShell session on a host: its id, or `None` if the host does not answer.
    pub fn open_session(&mut self, host: &str, at: Ms) -> Option<u64> {
        let h = self.host_mut(host)?;
        if at.max(h.clock_ms) < h.unreachable_until {
            return None;
        }
        let id = h.next_session;
        h.next_session += 1;
        h.sessions.push(Session { id, open: true, module_generation: None });
        Some(id)
    }

    /// Ends every session on a host (closing every Management Shell).
    pub fn close_sessions(&mut self, host: &str) {
        if let Some(h) = self.host_mut(host) {
            for s in &mut h.sessions {
                s.open = false;
            }
        }
    }

    /// Copies a file to a host's local disk (a transport action, not a command).
    pub fn put_file(
        &mut self,
        host: &str,
        step: Option<StepId>,
        path: &str,
        file: SimFile,
        at: Ms,
        timeout_ms: Ms,
    ) -> Execution {
        let fault = self.fault_for(host, step);
        let Some(h) = self.host_mut(host) else {
            return Execution {
                status: ExecStatus::Unreachable,
                exit_code: -1,
                stdout: String::new(),
                stderr: format!("no host {host}"),
                start_ms: at,
                end_ms: at,
            };
        };
        let start = at.max(h.clock_ms);
        if start < h.unreachable_until {
            return cut_short(
                h,
                step,
                format!("copy {path}"),
                start,
                start,
                ExecStatus::Unreachable,
                "the host does not answer",
            );
        }
        let mut ms = h.rng.secs(30.0, 90.0);
        let mut file = file;
        let (status, exit, applied, err) = match fault {
            Some(FaultKind::Hang) => {
                ms = timeout_ms;
                (ExecStatus::TimedOut, -1, false, String::new())
            }
            Some(FaultKind::Fail) => (
                ExecStatus::Completed,
                1,
                false,
                format!("Copy of {path} failed: there is not enough space on the disk."),
            ),
            Some(FaultKind::Disconnect) => {
                ms /= 2;
                file.intact = false;
                file.sha256 = format!("{:0>64}", "bad");
                (ExecStatus::Disconnected, -1, true, "the connection dropped during the copy".into())
            }
            Some(FaultKind::Slow(f)) => {
                ms = ((ms as f64) * f).round() as Ms;
                (ExecStatus::Completed, 0, true, String::new())
            }
            _ => (ExecStatus::Completed, 0, true, String::new()),
        };
        let (status, applied, ms) =
            if ms > timeout_ms { (ExecStatus::TimedOut, false, timeout_ms) } else { (status, applied, ms) };
        if applied {
            h.files.insert(path.to_ascii_lowercase(), file);
        }
        record(h, step, format!("copy {path}"), start, start + ms, status, exit, applied, String::new(), err)
    }

    /// Runs a PowerShell script on a host.
    pub fn execute(&mut self, req: &Request<'_>) -> Execution {
        let fault = self.fault_for(req.host, req.step);
        let (reader, package_build) = (self.local_reader, self.package_build.clone());
        // Files written onto the host's disk from outside (SFTP) join its simulated disk.
        if let (Some(disk), Some(build)) = (self.disk_reader, self.package_build.clone()) {
            self.absorb_disk(req.host, req.script, disk, &build);
        }
        let Some(h) = self.host_mut(req.host) else {
            return Execution {
                status: ExecStatus::Unreachable,
                exit_code: -1,
                stdout: String::new(),
                stderr: format!("no host {}", req.host),
                start_ms: req.at,
                end_ms: req.at,
            };
        };
        let start = req.at.max(h.clock_ms);
        let command = req.script.to_owned();
        if start < h.unreachable_until {
            return cut_short(h, req.step, command, start, start, ExecStatus::Unreachable, "the host does not answer");
        }
        // A script run without a session gets one of its own.
        let (session, temporary) = match req.session {
            Some(id) => {
                if !h.sessions.iter().any(|s| s.id == id && s.open) {
                    return cut_short(
                        h,
                        req.step,
                        command,
                        start,
                        start,
                        ExecStatus::Disconnected,
                        "the session is closed",
                    );
                }
                (id, false)
            }
            None => {
                let id = h.next_session;
                h.next_session += 1;
                h.sessions.push(Session { id, open: true, module_generation: None });
                (id, true)
            }
        };
        let mut cx = Cx { now: start, reader, package_build, session, slow: 1.0, force_reboot: false };
        match &fault {
            Some(FaultKind::Hang) => {
                close_temp(h, session, temporary);
                return cut_short(
                    h,
                    req.step,
                    command,
                    start,
                    start + req.timeout_ms,
                    ExecStatus::TimedOut,
                    String::new(),
                );
            }
            Some(FaultKind::Fail) => {
                let ms = h.rng.secs(5.0, 30.0);
                close_temp(h, session, temporary);
                let first = req.script.split_whitespace().next().unwrap_or("command").to_owned();
                return record(
                    h,
                    req.step,
                    command,
                    start,
                    start + ms,
                    ExecStatus::Completed,
                    1,
                    false,
                    String::new(),
                    format!("{first} : The operation failed (simulated fault)."),
                );
            }
            Some(FaultKind::Slow(f)) => cx.slow = *f,
            Some(FaultKind::Reboot) => cx.force_reboot = true,
            _ => {}
        }
        // A snapshot without the operation log (which only grows): cloning it per command
        // would make long runs quadratic.
        let oplog = std::mem::take(&mut h.oplog);
        let snapshot = h.clone();
        h.oplog = oplog;
        let statements = match syntax::parse(req.script) {
            Ok(s) => s,
            Err(ParseError::Syntax(e)) => {
                close_temp(h, session, temporary);
                return record(
                    h,
                    req.step,
                    command,
                    start,
                    start + 500,
                    ExecStatus::Completed,
                    1,
                    false,
                    String::new(),
                    format!("ParserError: {e}"),
                );
            }
            Err(ParseError::Grammar(e)) => {
                close_temp(h, session, temporary);
                return record(
                    h,
                    req.step,
                    command,
                    start,
                    start,
                    ExecStatus::Completed,
                    1,
                    false,
                    String::new(),
                    e.to_string(),
                );
            }
        };
        let (mut stdout, mut stderr, mut exit) = (String::new(), String::new(), 0);
        for st in &statements {
            let out = match st {
                Statement::Command(c) => h.run_command(&mut cx, c),
                Statement::Other { kind, text } => {
                    Out::err(format!("the simulator does not execute {kind}: {text}"), 500)
                }
            };
            cx.now = cx.now.saturating_add(out.ms);
            stdout.push_str(&out.stdout);
            stderr.push_str(&out.stderr);
            exit = out.exit;
            if out.exit != 0 {
                break;
            }
        }
        close_temp(h, session, temporary);
        let end = cx.now;
        if end.saturating_sub(start) > req.timeout_ms {
            restore(h, snapshot);
            return cut_short(h, req.step, command, start, start + req.timeout_ms, ExecStatus::TimedOut, String::new());
        }
        if fault == Some(FaultKind::Disconnect) {
            let applied = h.rng.chance(0.5);
            let cut = start + (end - start) / 2;
            if let Some(s) = h.session_mut(session) {
                s.open = false;
            }
            if !applied {
                let sessions = h.sessions.clone();
                restore(h, snapshot);
                h.sessions = sessions;
            }
            let at = if applied { end } else { cut };
            return record(
                h,
                req.step,
                command,
                start,
                at,
                ExecStatus::Disconnected,
                -1,
                applied,
                String::new(),
                "the session dropped".into(),
            );
        }
        let changed = !same_state(&snapshot, h);
        record(h, req.step, command, start, end, ExecStatus::Completed, exit, changed, stdout, stderr)
    }
}

/// Whether two snapshots of a host differ in anything a command can change.
fn same_state(a: &Host, b: &Host) -> bool {
    a.services == b.services
        && a.components == b.components
        && a.databases == b.databases
        && a.files == b.files
        && a.pending_reboot == b.pending_reboot
        && a.unreachable_until == b.unreachable_until
}

fn close_temp(h: &mut Host, session: u64, temporary: bool) {
    if let (true, Some(s)) = (temporary, h.sessions.iter_mut().find(|s| s.id == session)) {
        s.open = false;
    }
}

/// Puts a host back as it was before a command that was not applied, keeping what moves on
/// regardless: its random generator and its operation log.
fn restore(h: &mut Host, snapshot: Host) {
    let rng = h.rng.clone();
    let oplog = std::mem::take(&mut h.oplog);
    *h = snapshot;
    h.rng = rng;
    h.oplog = oplog;
}

/// Records a command that did not complete (no answer, a dropped session, a silent host):
/// no exit code, no output, nothing applied.
fn cut_short(
    h: &mut Host,
    step: Option<StepId>,
    command: String,
    start: Ms,
    end: Ms,
    status: ExecStatus,
    why: impl Into<String>,
) -> Execution {
    record(h, step, command, start, end, status, -1, false, String::new(), why.into())
}

#[allow(clippy::too_many_arguments)]
fn record(
    h: &mut Host,
    step: Option<StepId>,
    command: String,
    start: Ms,
    end: Ms,
    status: ExecStatus,
    exit_code: i32,
    applied: bool,
    stdout: String,
    stderr: String,
) -> Execution {
    h.clock_ms = h.clock_ms.max(end);
    let seq = h.oplog.len() as u64 + 1;
    h.oplog.push(OpRecord {
        seq,
        step: step.map(|s| s.as_str().to_owned()),
        command,
        start_ms: start,
        end_ms: end,
        exit_code,
        status: status.as_str().to_owned(),
        applied,
    });
    Execution { status, exit_code, stdout, stderr, start_ms: start, end_ms: end }
}

/// The build a file installs, for building [`SimFile`]s in tests and rehearsals.
pub fn package(sha256: &str, installs: Build) -> SimFile {
    SimFile { sha256: sha256.to_owned(), installs: Some(installs), intact: true, content: None }
}

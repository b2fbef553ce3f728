//! The commands a simulated host knows: one table, one entry per cmdlet (its name, its
//! family, whether it belongs to the Skype for Business module, the parameters it binds, its
//! implementation), one module per family. Whether a command is a Skype for Business cmdlet
//! is read from its entry, never from a second list.

mod database;
mod files;
mod install;
pub(crate) mod installer;
mod pool;
mod services;
mod system;

use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::Product;
use sfbpatch_pwsh::syntax::{CommandName, Element, ParsedCommand};

use crate::Ms;
use crate::bind::{Params, bind};
use crate::estate::{Estate, Host, LocalReader};

/// What a command belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// Windows and Skype for Business services.
    Services,
    /// The update installer and the builds it leaves.
    Install,
    /// Database schemas.
    Database,
    /// Files and drives.
    Files,
    /// The machine, the shell and its accounts.
    System,
    /// Front End pools: fabric, readiness, failover and failback.
    Pool,
}

/// How a command's elements reach its implementation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Binding {
    /// Bound to these switch and value parameters; any other parameter is refused.
    Named {
        /// Switch parameters.
        switches: &'static [&'static str],
        /// Parameters that take a value.
        values: &'static [&'static str],
    },
    /// Not bound: the implementation reads the elements itself (a native program).
    Raw,
}

/// A command's implementation: the estate, with the host that runs it in [`Cx::hi`] (a
/// command may act on other machines: a database update on a SQL Server, a failover of
/// another Front End).
pub(crate) type Run = fn(&mut Estate, &mut Cx, &Call<'_>) -> Out;

/// One entry of the table.
#[derive(Clone, Copy)]
pub(crate) struct Cmdlet {
    /// Its name, as the documentation spells it (matched case-insensitively).
    pub(crate) name: &'static str,
    /// Its family: the module that implements it (tests check the two agree).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) family: Family,
    /// A cmdlet of the Skype for Business module: it exists only where Skype for Business is
    /// installed (rule 1) and needs the assemblies of the current install (rule 3).
    pub(crate) sfb: bool,
    /// Its parameters.
    pub(crate) binding: Binding,
    /// Products whose Management Shell does not have it.
    pub(crate) missing_in: &'static [Product],
    /// An SfB cmdlet that touches only the local machine (its services, its installed
    /// builds), so it works on an Edge, which is not a domain member; every other SfB cmdlet
    /// reads Active Directory or the Central Management store and fails there
    /// (docs/research/issue12-roles.md §1.1: "Cmdlets that only touch local services
    /// (Get/Stop/Start-CsWindowsService) are expected to work; cmdlets that need AD or to
    /// write the CMS do not", INFERRED; `Get-CsServerPatchVersion` on an Edge UNVERIFIED,
    /// taken as local: it reads the installed builds).
    pub(crate) local: bool,
    /// How long a refused binding takes.
    pub(crate) refusal_ms: Ms,
    /// What it does.
    pub(crate) run: Run,
}

/// [`Cmdlet::new`]'s `sfb`: a cmdlet of the Skype for Business module.
const SFB: bool = true;
/// [`Cmdlet::new`]'s `sfb`: a Windows cmdlet or program.
const WINDOWS: bool = false;

impl Cmdlet {
    /// An entry whose parameters are bound by name.
    const fn new(
        family: Family,
        sfb: bool,
        name: &'static str,
        switches: &'static [&'static str],
        values: &'static [&'static str],
        run: Run,
    ) -> Self {
        Cmdlet {
            name,
            family,
            sfb,
            binding: Binding::Named { switches, values },
            missing_in: &[],
            local: false,
            refusal_ms: 1000,
            run,
        }
    }

    /// The same, its arguments read by the implementation.
    const fn raw(mut self) -> Self {
        self.binding = Binding::Raw;
        self
    }

    /// The same, absent from these products' Management Shell.
    const fn missing_in(mut self, products: &'static [Product]) -> Self {
        self.missing_in = products;
        self
    }

    /// The same, needing only the local machine (see [`Cmdlet::local`]).
    const fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The same, a refused binding taking `ms`.
    const fn refused_in(mut self, ms: Ms) -> Self {
        self.refusal_ms = ms;
        self
    }
}

/// Every family's commands.
const FAMILIES: [&[Cmdlet]; 6] =
    [services::CMDLETS, install::CMDLETS, database::CMDLETS, files::CMDLETS, system::CMDLETS, pool::CMDLETS];

/// The names of every Skype for Business cmdlet the simulator knows.
pub(crate) fn sfb_names() -> Vec<&'static str> {
    FAMILIES.iter().flat_map(|f| f.iter()).filter(|c| c.sfb).map(|c| c.name).collect()
}

/// The entry of a command name, case-insensitively.
fn find(name: &str) -> Option<&'static Cmdlet> {
    FAMILIES.iter().flat_map(|f| f.iter()).find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Whether `cmd` runs a native console program, which sets `$LASTEXITCODE` (`net`, `whoami`,
/// `sqlcmd`: the table's entries that bind no parameters and are not Verb-Noun cmdlets). A
/// program called by path here is the update installer, a GUI program that sets none
/// (DOMAIN.md §5).
pub(crate) fn is_native(cmd: &ParsedCommand) -> bool {
    match &cmd.name {
        CommandName::Name(n) => find(n).is_some_and(|c| matches!(c.binding, Binding::Raw) && !c.name.contains('-')),
        CommandName::Path(_) | CommandName::Expression(_) => false,
    }
}

/// A command as its implementation receives it.
pub(crate) struct Call<'a> {
    /// The name as written.
    pub(crate) name: &'a str,
    /// Its bound parameters (empty for [`Binding::Raw`]).
    pub(crate) params: Params,
    /// Its elements as parsed.
    pub(crate) elements: &'a [Element],
}

/// An object a command returns (what an assignment keeps), beyond its printed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Object {
    /// A `System.Diagnostics.Process` (`Start-Process -PassThru`): its exit code once it has
    /// exited, `None` while it runs.
    Process {
        /// `.ExitCode`.
        exit_code: Option<i32>,
    },
}

/// The outcome of one command inside a script.
pub(crate) struct Out {
    pub(crate) exit: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) ms: Ms,
    /// The object it returned, when it returns one the simulator models.
    pub(crate) object: Option<Object>,
}

impl Out {
    pub(crate) fn ok(stdout: impl Into<String>, ms: Ms) -> Self {
        Out { exit: 0, stdout: stdout.into(), stderr: String::new(), ms, object: None }
    }

    pub(crate) fn err(stderr: impl Into<String>, ms: Ms) -> Self {
        Out::exit(1, stderr, ms)
    }

    /// A non-zero exit with this error text.
    pub(crate) fn exit(code: i32, stderr: impl Into<String>, ms: Ms) -> Self {
        Out { exit: code, stdout: String::new(), stderr: stderr.into(), ms, object: None }
    }
}

/// Per-execution context.
pub(crate) struct Cx {
    /// The index of the host that runs the script.
    pub(crate) hi: usize,
    pub(crate) now: Ms,
    pub(crate) reader: Option<LocalReader>,
    pub(crate) package_build: Option<Build>,
    pub(crate) session: u64,
    pub(crate) slow: f64,
    pub(crate) force_reboot: bool,
    /// A `busy` fault: `Get-CsPoolUpgradeReadinessState` answers Busy.
    pub(crate) busy: bool,
    /// A `no-credentials` fault: this session has no network credentials (DOMAIN.md §5).
    pub(crate) no_credentials: bool,
    /// Other hosts a command changed, as they were before (to put back a command that was
    /// not applied), by index.
    pub(crate) touched: Vec<(usize, Host)>,
    /// The pools a command changed, as they were before (to put back a command that was not
    /// applied), by index.
    pub(crate) pools_before: Vec<(usize, crate::pools::PoolState)>,
}

impl Cx {
    /// A duration under the execution's slowness (a `slow=F` fault).
    pub(crate) fn dur(&self, ms: Ms) -> Ms {
        ((ms as f64) * self.slow).round() as Ms
    }

    /// Keeps a copy of host `i` (not the running one) before a command changes it.
    pub(crate) fn touch(&mut self, e: &Estate, i: usize) {
        if i != self.hi
            && !self.touched.iter().any(|(j, _)| *j == i)
            && let Some(h) = e.hosts.get(i)
        {
            let mut copy = h.clone();
            copy.oplog = Vec::new();
            self.touched.push((i, copy));
        }
    }

    /// Keeps a copy of pool `pi` before a command changes it: that pool only (a copy of every
    /// pool per failover made a rehearsal's cost grow with pools × Front Ends: issue 12, item 4).
    pub(crate) fn touch_pool(&mut self, e: &Estate, pi: usize) {
        if !self.pools_before.iter().any(|(j, _)| *j == pi)
            && let Some(p) = e.pools.get(pi)
        {
            self.pools_before.push((pi, p.clone()));
        }
    }
}

/// The host that runs the script.
pub(crate) fn me<'a>(e: &'a mut Estate, cx: &Cx) -> &'a mut Host {
    &mut e.hosts[cx.hi]
}

pub(crate) fn not_recognized(name: &str) -> String {
    format!(
        "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. \
Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
    )
}

/// An SfB cmdlet that needs Active Directory on a machine outside the domain (an Edge).
pub(crate) fn not_in_domain(name: &str) -> String {
    format!(
        "{name} : Active Directory error \"-2147016646\" occurred while searching for domain controllers in domain \"\": \"The server is not operational.\" (This computer is not a member of a domain.)"
    )
}

/// A PowerShell table of three columns, as `Format-Table` prints it.
pub(crate) fn table(header: [&str; 3], rows: &[[String; 3]]) -> String {
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

pub(crate) fn status_word(running: bool) -> String {
    if running { "Running".into() } else { "Stopped".into() }
}

/// Preconditions of every Skype for Business cmdlet: Skype for Business installed on the
/// machine (rule 1: elsewhere the cmdlet "is not recognized"), the module (auto-loaded on
/// first use, as PowerShell 3+ does), and assemblies of the current install (rule 3). RBAC
/// roles are not enforced by the Management Shell on the server (rule 8): there is no role
/// check here; `Get-CsAdminRoleAssignment` answers what roles the account has.
fn sfb_preconditions(h: &mut Host, cx: &Cx, cmdlet: &str) -> Result<Ms, Out> {
    if !h.sfb_installed {
        let ms = h.rng.secs(0.2, 0.5);
        return Err(Out::err(not_recognized(cmdlet), ms));
    }
    let generation = h.install_generation;
    let mut extra = 0;
    let loaded = h.session_mut(cx.session).map(|s| s.module_generation);
    match loaded {
        Some(None) => {
            extra = h.rng.secs(6.0, 15.0);
            if let Some(s) = h.session_mut(cx.session) {
                s.module_generation = Some(generation);
            }
        }
        Some(Some(g)) if g < generation => {
            return Err(Out::err(
                format!(
                    "{cmdlet} : Could not load file or assembly 'Microsoft.Rtc.Management, Version=7.0.0.0' or one of its dependencies. \
The located assembly's manifest definition does not match the assembly reference. (This Management Shell was opened before the update was installed: open a new one.)"
                ),
                h.rng.secs(1.0, 3.0),
            ));
        }
        _ => {}
    }
    Ok(extra)
}

/// Runs one command of a script on the host `cx.hi`.
pub(crate) fn run_command(e: &mut Estate, cx: &mut Cx, cmd: &ParsedCommand) -> Out {
    let name = match &cmd.name {
        CommandName::Name(n) => n.as_str(),
        CommandName::Path(p) => return installer::call_operator(me(e, cx), cx, p, &cmd.elements),
        CommandName::Expression(e) => return Out::err(format!("the simulator cannot invoke {e}"), 1000),
    };
    let h = me(e, cx);
    let Some(cmdlet) = find(name) else {
        let ms = h.rng.secs(0.2, 0.5);
        return Out::err(not_recognized(name), cx.dur(ms));
    };
    if cmdlet.missing_in.contains(&h.product) {
        let ms = h.rng.secs(0.2, 0.5);
        return Out::err(not_recognized(name), cx.dur(ms));
    }
    let mut extra = 0;
    if cmdlet.sfb && !cmdlet.local && !h.domain_joined {
        let ms = h.rng.secs(5.0, 20.0);
        return Out::err(not_in_domain(name), cx.dur(ms));
    }
    if cmdlet.sfb {
        match sfb_preconditions(h, cx, name) {
            Ok(ms) => extra = ms,
            Err(o) => return o,
        }
    }
    let bound = match cmdlet.binding {
        Binding::Named { switches, values } => bind(h, name, &cmd.elements, switches, values),
        Binding::Raw => Ok(Params::default()),
    };
    // The module loads first: what the command does happens after it.
    let pre = cx.dur(extra);
    cx.now += pre;
    let mut out = match bound {
        Err(why) => Out::err(why, cmdlet.refusal_ms),
        Ok(params) => (cmdlet.run)(e, cx, &Call { name, params, elements: &cmd.elements }),
    };
    cx.now -= pre;
    out.ms = cx.dur(out.ms) + pre;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once() {
        let all: Vec<&Cmdlet> = FAMILIES.iter().flat_map(|f| f.iter()).collect();
        for (i, c) in all.iter().enumerate() {
            assert!(!all[i + 1..].iter().any(|d| d.name.eq_ignore_ascii_case(c.name)), "{} twice", c.name);
        }
    }

    #[test]
    fn each_family_module_holds_its_own_family() {
        let families =
            [Family::Services, Family::Install, Family::Database, Family::Files, Family::System, Family::Pool];
        for (cmdlets, family) in FAMILIES.iter().zip(families) {
            assert!(cmdlets.iter().all(|c| c.family == family), "{family:?}");
        }
    }

    #[test]
    fn the_sfb_cmdlets_are_exactly_the_cs_nouns() {
        // The Skype for Business module's cmdlets all have a `Cs` noun prefix; no Windows
        // cmdlet or program does.
        for c in FAMILIES.iter().flat_map(|f| f.iter()) {
            let cs_noun = c.name.split_once('-').is_some_and(|(_, noun)| noun.starts_with("Cs"));
            assert_eq!(c.sfb, cs_noun, "{}", c.name);
        }
        assert!(find("stop-cswindowsservice").is_some_and(|c| c.sfb));
        assert!(find("GET-FILEHASH").is_some_and(|c| !c.sfb));
        assert!(find("Get-Nothing").is_none());
    }
}

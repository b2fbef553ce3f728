//! Before any outage and before anything changes: the rights of the sessions that will run
//! each server's steps (issue 11, item 3), read through the same transport as the steps.
//!
//! * **Elevation and local administrator rights** on every host that runs a step: stopping
//!   services and running the installer need an elevated process of a member of
//!   `BUILTIN\Administrators` (DOMAIN.md §5, §4 rule 8). Read from `whoami /groups`
//!   ([`Probe::Groups`], [`parse_token`]).
//! * **RTCUniversalServerAdmins** on every host that runs a database step (`test-databases`,
//!   `update-databases`, `check-databases`). Why this group, and why *besides* the
//!   CsAdministrator role that the `check-role` step asks for: the seed's procedure says to
//!   log on "as a member of the CsAdministrator role" — an RBAC role, which governs what the
//!   account may do through the Skype for Business cmdlets, and which the Management Shell on
//!   the server itself does not enforce (DOMAIN.md §4 rule 8: "RTCUniversal* groups and local
//!   administrator rights apply"). What lets `Test-CsDatabase` and `Install-CsDatabase` read
//!   and update the topology's databases is the group: Microsoft's `Test-CsDatabase` page
//!   names RTCUniversalServerAdmins "and … Administrator privileges on the SQL server"
//!   (docs/research/issue10-sources.md §2.1), and "Move the legacy Central Management Server
//!   to Skype for Business Server 2019" has the `Install-CsDatabase` step run "as a member of
//!   the RTCUniversalServerAdmins group" with "SQL Server database sysadmin user rights"
//!   (Skype/SfBServer2019/migration/move-the-central-management-server.md). So both are
//!   required: CsAdministrator for the procedure the page documents (every server, its own
//!   step), RTCUniversalServerAdmins where databases are read or updated.
//! * **sysadmin on each SQL Server instance** a database update touches, asked from the host
//!   that will run `Install-CsDatabase` with that session's own logon ([`Probe::SqlSysadmin`]):
//!   `Install-CsDatabase` needs it (rule 8). From a host whose logon has no network
//!   credentials nothing remote can be asked (the double hop): that server is refused by its
//!   own procedure with that reason, so it is not asked here.

use futures::stream::{self, StreamExt};
use sfbpatch_core::Fqdn;
use sfbpatch_core::plan::{Plan, ServerPlan};
use sfbpatch_core::probe::{Probe, restart_state, sql_target};
use sfbpatch_core::readback::{Token, parse_sysadmin, parse_token};
use sfbpatch_core::readback_pool::parse_test_database;
use sfbpatch_core::runbook::StepId;

use crate::context::{Ctx, PROBE_TIMEOUT};
use crate::event::EventSink;
use crate::transport::Transport;

/// The Active Directory group that database steps need (see the module's comment).
pub(crate) const SERVER_ADMINS: &str = "RTCUniversalServerAdmins";

/// Steps that read or update the Skype for Business databases.
fn database_step(id: StepId) -> bool {
    matches!(id, StepId::TestDatabases | StepId::UpdateDatabases | StepId::CheckDatabases)
}

/// How many hosts the pre-flight asks at once: a silent host costs its own probe's timeout,
/// not every other host's (issue 13: one stalled host must not delay every server).
const PROBES_AT_ONCE: usize = 8;

/// Reads the token of every host that runs a step of a server `fresh` says may start, each
/// host once, then whether a restart is pending on each server not already refused; the
/// hosts are asked concurrently ([`PROBES_AT_ONCE`] at a time). Returns the servers refused
/// and why, in plan order. A host that answers with anything but a token (`whoami` missing
/// or failing) refuses its servers.
pub(crate) async fn check_tokens<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    plan: &Plan,
    fresh: &dyn Fn(&ServerPlan) -> bool,
) -> Vec<(Fqdn, String)> {
    let servers: Vec<&ServerPlan> = plan.servers.iter().filter(|sp| fresh(sp)).collect();
    let hosts_of = |sp: &'_ ServerPlan| {
        let mut hosts: Vec<Fqdn> = Vec::new();
        for st in &sp.steps {
            if !hosts.contains(sp.host_of(st)) {
                hosts.push(sp.host_of(st).clone());
            }
        }
        hosts
    };
    let mut all_hosts: Vec<Fqdn> = Vec::new();
    for sp in &servers {
        for h in hosts_of(sp) {
            if !all_hosts.contains(&h) {
                all_hosts.push(h);
            }
        }
    }
    // `None`: the host was not asked (the run halted) or did not answer (down, a logon
    // refused): not a refusal here; its own procedure meets the same error at its first
    // command and says so.
    let tokens: Vec<(Fqdn, Option<Result<Token, String>>)> = stream::iter(all_hosts)
        .map(|host| async move {
            if cx.halted() {
                return (host, None);
            }
            let token = match cx.preflight_probe(&host, &Probe::Groups, PROBE_TIMEOUT).await {
                Ok(o) => Some(parse_token(&o.stdout).ok_or_else(|| cx.exit_line(&o))),
                Err(_) => None,
            };
            (host, token)
        })
        .buffered(PROBES_AT_ONCE)
        .collect()
        .await;
    let mut why: Vec<Option<String>> = Vec::with_capacity(servers.len());
    for sp in &servers {
        let mut refused = None;
        for host in hosts_of(sp) {
            let needs_group = sp.steps.iter().any(|st| *sp.host_of(st) == host && database_step(st.id));
            let token = tokens.iter().find(|(h, _)| *h == host).and_then(|(_, t)| t.as_ref());
            if let Some(w) = token.and_then(|t| refusal(cx, sp, &host, t, needs_group)) {
                refused = Some(w);
                break;
            }
        }
        why.push(refused);
    }
    let restarts: Vec<Option<String>> = stream::iter(servers.iter().zip(&why))
        .map(|(sp, refused)| async move {
            if refused.is_some() || !sp.runbook.has_sfb() || cx.halted() {
                return None;
            }
            pending_restart(cx, sp).await
        })
        .buffered(PROBES_AT_ONCE)
        .collect()
        .await;
    servers
        .iter()
        .zip(why.into_iter().zip(restarts))
        .filter_map(|(sp, (token, restart))| token.or(restart).map(|w| (sp.fqdn.clone(), w)))
        .collect()
}

/// A restart already pending on a server the update installs on: the classic cause of the
/// installer's 1603 (DOMAIN.md §5), refused before any server of its pool starts. A host
/// that answers without the three places read (`None` from [`restart_state`]) is refused too:
/// an install must not start on a guess. A host that does not answer at all is left to its
/// own procedure, which meets the same silence at its first command and says so.
async fn pending_restart<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, sp: &ServerPlan) -> Option<String> {
    let o = cx.preflight_probe(&sp.fqdn, &Probe::PendingRestart, PROBE_TIMEOUT).await.ok()?;
    match restart_state(&o.stdout) {
        Some(false) => None,
        Some(true) => Some(cx.say("restart-pending", &[])),
        None => Some(cx.say("restart-pending-unread", &[("why", cx.exit_line(&o))])),
    }
}

/// Why the session on `host` cannot run `sp`'s steps there, if it cannot. A non-member of
/// Administrators is told so first (elevating would not help it).
fn refusal<T: Transport, S: EventSink>(
    cx: &Ctx<'_, T, S>,
    sp: &ServerPlan,
    host: &Fqdn,
    token: &Result<Token, String>,
    needs_group: bool,
) -> Option<String> {
    let args = [("server", sp.fqdn.to_string()), ("host", host.to_string())];
    match token {
        Err(why) => Some(cx.say("rights-unread", &[args[0].clone(), args[1].clone(), ("why", why.clone())])),
        Ok(t) if !t.administrators => Some(cx.say("not-local-admin", &args)),
        Ok(t) if !t.elevated() => Some(cx.say("not-elevated", &args)),
        Ok(t) if needs_group && !t.member_of(SERVER_ADMINS) => Some(cx.say("not-server-admin", &args)),
        Ok(_) => None,
    }
}

/// Whether the account that will run `sp`'s database update is a sysadmin of every SQL
/// Server instance the topology places on its SQL Server; why not, if it is not. The
/// instances are those `Test-CsDatabase` lists (the default instance when it lists none).
pub(crate) async fn check_sql<T: Transport, S: EventSink>(cx: &Ctx<'_, T, S>, sp: &ServerPlan) -> Option<String> {
    let sql = sp.sql_server_fqdn.as_ref()?;
    let (host, _) = sp.finishing_database_command()?;
    if !cx.transport.network_credentials(&host) {
        return None;
    }
    let listed =
        match cx.preflight_probe(&host, &Probe::ConfiguredDatabases { sql: sql.to_string() }, PROBE_TIMEOUT).await {
            Ok(o) => parse_test_database(&o.stdout).into_iter().map(|d| d.instance).collect(),
            Err(_) => Vec::new(),
        };
    let mut instances: Vec<String> = listed;
    instances.sort();
    instances.dedup();
    if instances.is_empty() {
        instances.push(String::new());
    }
    for instance in instances {
        let target = sql_target(sql.as_str(), &instance);
        let args = |why: Option<String>| {
            let mut a = vec![("server", sp.fqdn.to_string()), ("host", host.to_string()), ("target", target.clone())];
            a.extend(why.map(|w| ("why", w)));
            a
        };
        match cx.preflight_probe(&host, &Probe::SqlSysadmin { server: target.clone() }, PROBE_TIMEOUT).await {
            Ok(o) if o.exit_code == 0 && parse_sysadmin(&o.stdout) == Some(true) => {}
            Ok(o) if o.exit_code == 0 && parse_sysadmin(&o.stdout) == Some(false) => {
                return Some(cx.say("not-sysadmin", &args(None)));
            }
            Ok(o) => return Some(cx.say("sql-rights-unread", &args(Some(cx.exit_line(&o))))),
            // The Front End did not answer: its own procedure meets that first and says so.
            Err(_) => return None,
        }
    }
    None
}

//! Services: `Stop-CsWindowsService`, `Start-CsWindowsService`, `Get-CsWindowsService`,
//! `Get-Service`, and `net stop|start` (`net statistics` belongs to the system family).

use super::{Call, Cmdlet, Cx, Family, Out, SFB, WINDOWS, me, status_word, system, table};
use crate::bind::words;
use crate::estate::{Estate, ServiceKind};

const F: Family = Family::Services;

pub(super) const CMDLETS: &[Cmdlet] = &[
    Cmdlet::new(F, SFB, "Stop-CsWindowsService", &["Graceful", "NoWait"], &["Name"], stop_cs).local(),
    Cmdlet::new(F, SFB, "Start-CsWindowsService", &["NoWait"], &["Name"], start_cs).local(),
    Cmdlet::new(F, SFB, "Get-CsWindowsService", &["ExcludeActivityLevel"], &["Name"], get_cs).local(),
    Cmdlet::new(F, WINDOWS, "Get-Service", &[], &["Name"], get_service),
    Cmdlet::new(F, WINDOWS, "Stop-Service", &["Force"], &["Name"], stop_service),
    Cmdlet::new(F, WINDOWS, "Start-Service", &[], &["Name"], start_service),
    Cmdlet::new(F, WINDOWS, "net", &[], &[], net).raw(),
];

/// Stops the Skype for Business services, or only `-Name`'s. `-Graceful`: the service takes
/// no new requests and stops once the existing ones end (the cmdlet reference,
/// docs/research/issue12-roles.md §1.0), so it takes as long as the longest session: a seeded
/// drain time, longest for the Mediation service (calls in progress; §6: "a seeded drain
/// time for Mediation and Director graceful stops", the numbers UNVERIFIED).
fn stop_cs(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let only = call.params.get("Name").map(str::to_owned);
    if let Some(n) = &only
        && !h.services.iter().any(|s| s.kind == ServiceKind::Sfb && s.name.eq_ignore_ascii_case(n))
    {
        return Out::err(format!("{} : Cannot find any service with service name '{n}'.", call.name), 1000);
    }
    let chosen = |s: &crate::estate::Service| {
        s.kind == ServiceKind::Sfb && only.as_ref().is_none_or(|n| s.name.eq_ignore_ascii_case(n))
    };
    let running: Vec<String> = h.services.iter().filter(|s| chosen(s) && s.running).map(|s| s.name.clone()).collect();
    let mut ms = if running.is_empty() { h.rng.secs(4.0, 10.0) } else { h.rng.secs(60.0, 180.0) };
    if call.params.has("Graceful") && !running.is_empty() {
        ms += if running.iter().any(|n| n.eq_ignore_ascii_case("RTCMEDSRV")) {
            h.rng.secs(60.0, 600.0)
        } else {
            h.rng.secs(30.0, 180.0)
        };
    }
    for s in h.services.iter_mut().filter(|s| chosen(s)) {
        s.running = false;
    }
    h.track(cx.now);
    Out::ok("", ms)
}

/// The service names of `-Name` (an array arrives joined with spaces: `bind`).
fn names_of(call: &Call<'_>) -> Vec<String> {
    call.params
        .first_of(&["Name"])
        .unwrap_or("")
        .split([' ', ','])
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `Stop-Service -Name …` (Windows): each named service stopped; a name the machine does not
/// have is PowerShell's "Cannot find any service" and nothing changes.
fn stop_service(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    set_services(e, cx, call, false)
}

/// `Start-Service -Name …` (Windows). A restart pending after the update keeps SfB services
/// from starting, as for `Start-CsWindowsService`.
fn start_service(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    set_services(e, cx, call, true)
}

fn set_services(e: &mut Estate, cx: &mut Cx, call: &Call<'_>, start: bool) -> Out {
    let names = names_of(call);
    let h = me(e, cx);
    if let Some(n) = names.iter().find(|n| !h.services.iter().any(|s| s.name.eq_ignore_ascii_case(n))) {
        return Out::err(format!("{} : Cannot find any service with service name '{n}'.", call.name), 1000);
    }
    if start && h.pending_reboot {
        return Out::err(
            format!(
                "{} : Service '{}' cannot be started: a restart of the computer is pending after the update. Restart the server.",
                call.name,
                names.first().map_or("", String::as_str)
            ),
            h.rng.secs(10.0, 30.0),
        );
    }
    let ms = if start { h.rng.secs(60.0, 180.0) } else { h.rng.secs(30.0, 120.0) };
    for s in h.services.iter_mut().filter(|s| names.iter().any(|n| s.name.eq_ignore_ascii_case(n))) {
        s.running = start;
    }
    h.track(if start { cx.now + cx.dur(ms) } else { cx.now });
    Out::ok("", ms)
}

/// Starts the Skype for Business services. They do not start while a restart the installer
/// asked for is pending (the `reboot` fault's meaning: "services stay down until a restart"),
/// nor while disabled (a failed-over server: Windows refuses to start a disabled service,
/// system error 1058). The Front-End service starts whatever the databases' schema: Front
/// Ends keep running on databases not yet updated (DOMAIN.md §4 rule 6; the earlier refusal
/// was one of the four false rules). A server newer than its databases is recorded.
fn start_cs(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let name = call.name;
    let h = me(e, cx);
    let ms = h.rng.secs(90.0, 210.0);
    if h.pending_reboot {
        return Out::err(
            format!(
                "{name} : The Skype for Business Server services cannot start: a restart of the computer is pending after the update. Restart the server."
            ),
            h.rng.secs(10.0, 30.0),
        );
    }
    if let Some(s) = h.services.iter().find(|s| s.kind == ServiceKind::Sfb && s.disabled) {
        return Out::err(
            format!(
                "{name} : Cannot start service {} on computer '.'. The service cannot be started, either because it is disabled or because it has no enabled devices associated with it. (This server is failed over: run Invoke-CsComputerFailBack.)",
                s.name
            ),
            h.rng.secs(3.0, 10.0),
        );
    }
    let end = cx.now + cx.dur(ms);
    for s in h.services.iter_mut().filter(|s| s.kind == ServiceKind::Sfb) {
        s.running = true;
    }
    h.track(end);
    Out::ok("", ms)
}

fn get_cs(e: &mut Estate, cx: &mut Cx, _: &Call<'_>) -> Out {
    let h = me(e, cx);
    let rows: Vec<[String; 3]> = h
        .services
        .iter()
        .filter(|s| s.kind == ServiceKind::Sfb)
        .map(|s| [status_word(s.running), s.name.clone(), if s.running { "Active".into() } else { String::new() }])
        .collect();
    Out::ok(table(["Status", "Name", "ActivityLevel"], &rows), h.rng.secs(2.0, 5.0))
}

fn get_service(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let want = call.params.first_of(&["Name"]).unwrap_or("").to_owned();
    match h.services.iter().find(|s| s.name.eq_ignore_ascii_case(&want)) {
        Some(s) => {
            let rows = [[status_word(s.running), s.name.clone(), s.display_name.clone()]];
            Out::ok(table(["Status", "Name", "DisplayName"], &rows), h.rng.secs(1.0, 2.0))
        }
        None => Out::err(format!("{} : Cannot find any service with service name '{want}'.", call.name), 1000),
    }
}

const NET_SYNTAX: &str = "The syntax of this command is:\n\nNET STOP|START service\n";

/// `net stop|start SERVICE`, with `net`'s own exit codes: 2 for a service name that does not
/// exist on the machine (DOMAIN.md §4 rule 1: "service name is invalid", NET HELPMSG 2185)
/// or a service already in the state asked for.
fn net(e: &mut Estate, cx: &mut Cx, call: &Call<'_>) -> Out {
    let h = me(e, cx);
    let args = words(call.elements);
    if let [a, b] = args.as_slice()
        && a.eq_ignore_ascii_case("statistics")
        && b.eq_ignore_ascii_case("workstation")
    {
        return system::net_statistics(h);
    }
    let [verb, svc_name] = args.as_slice() else {
        return Out::err(NET_SYNTAX, 500);
    };
    let ms = h.rng.secs(8.0, 30.0);
    let Some(i) = h.services.iter().position(|s| s.name.eq_ignore_ascii_case(svc_name)) else {
        return Out::exit(
            2,
            "The service name is invalid.\n\nMore help is available by typing NET HELPMSG 2185.\n",
            500,
        );
    };
    let start = match verb.to_ascii_lowercase().as_str() {
        "stop" => false,
        "start" => true,
        _ => return Out::err(NET_SYNTAX, 500),
    };
    let display = h.services[i].display_name.clone();
    match (start, h.services[i].running) {
        (false, false) => Out::exit(
            2,
            format!("The {display} service is not started.\n\nMore help is available by typing NET HELPMSG 3521.\n"),
            1000,
        ),
        (true, true) => Out::exit(
            2,
            "The requested service has already been started.\n\nMore help is available by typing NET HELPMSG 2182.\n",
            1000,
        ),
        (true, false) if h.services[i].disabled => Out::exit(
            2,
            "System error 1058 has occurred.\n\nThe service cannot be started, either because it is disabled or because it has no enabled devices associated with it.\n",
            1000,
        ),
        _ => {
            h.services[i].running = start;
            h.track(cx.now + cx.dur(ms));
            let (doing, done) = if start { ("starting", "started") } else { ("stopping", "stopped") };
            Out::ok(format!("The {display} service is {doing}.\nThe {display} service was {done} successfully.\n"), ms)
        }
    }
}

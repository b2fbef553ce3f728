//! The rights a session has, as the simulated Windows answers them (DOMAIN.md §4 rule 8, §5):
//! `whoami /groups /fo csv /nh` from the host's model (elevated or not, a local administrator
//! or not, the account's domain groups), and `sqlcmd`'s `IS_SRVROLEMEMBER('sysadmin')` from
//! the target SQL Server's model, each read back with the core's own parsers, as the engine
//! reads a real server's answer.

use sfbpatch_core::probe::{Probe, sql_target};
use sfbpatch_core::readback::{Integrity, parse_sysadmin, parse_token};
use sfbpatch_core::{example, topology};
use sfbpatch_estate::estate::{Estate, EstateOptions};
use sfbpatch_estate::exec::{Execution, Request};

const FE: &str = "fe01.contoso.local";
const SQL: &str = "sql01.contoso.local";

fn estate() -> Estate {
    let t = topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    Estate::new(&t, &EstateOptions { seed: 3, ..EstateOptions::default() })
}

fn run(e: &mut Estate, host: &str, probe: &Probe) -> Execution {
    let at = e.host(host).map_or(0, |h| h.clock_ms);
    let script = probe.command();
    e.execute(&Request { host, session: None, step: None, script: &script, at, timeout_ms: 600_000 })
}

fn host<'a>(e: &'a mut Estate, fqdn: &str) -> &'a mut sfbpatch_estate::estate::Host {
    e.host_mut(fqdn).unwrap_or_else(|| panic!("{fqdn}"))
}

#[test]
fn whoami_answers_from_the_hosts_model() {
    let mut e = estate();
    let x = run(&mut e, FE, &Probe::Groups);
    assert!(x.succeeded(), "{x:?}");
    let t = parse_token(&x.stdout).unwrap_or_else(|| panic!("a token: {}", x.stdout));
    assert!(t.elevated() && t.administrators, "{t:?}");
    assert!(t.member_of("RTCUniversalServerAdmins") && t.member_of("CsAdministrator"), "{t:?}");
    assert!(x.stdout.contains("\"CONTOSO\\RTCUniversalServerAdmins\",\"Group\""), "{}", x.stdout);
    assert!(!x.stdout.contains("Group Name"), "/nh: no header\n{}", x.stdout);

    host(&mut e, FE).elevated = false;
    let t = parse_token(&run(&mut e, FE, &Probe::Groups).stdout).unwrap_or_else(|| panic!("a token"));
    assert_eq!((t.integrity, t.administrators), (Integrity::Medium, true), "a filtered token");

    host(&mut e, FE).local_admin = false;
    host(&mut e, FE).account_groups = vec!["Domain Users".into()];
    let x = run(&mut e, FE, &Probe::Groups);
    let t = parse_token(&x.stdout).unwrap_or_else(|| panic!("a token"));
    assert!(!t.administrators && !t.member_of("RTCUniversalServerAdmins"), "{}", x.stdout);
    assert!(!x.stdout.contains("S-1-5-32-544"), "{}", x.stdout);
    // Reading the token changes nothing.
    let h = e.host(FE).unwrap_or_else(|| panic!("{FE}"));
    assert!(h.oplog.iter().all(|op| !op.applied), "{:?}", h.oplog);
}

#[test]
fn sqlcmd_answers_is_srvrolemember_from_the_sql_servers_model() {
    let mut e = estate();
    let instance = e.host(SQL).and_then(|h| h.databases.first()).map(|d| d.instance.clone()).unwrap_or_default();
    let ask = Probe::SqlSysadmin { server: sql_target(SQL, &instance) };
    let x = run(&mut e, FE, &ask);
    assert_eq!((x.exit_code, parse_sysadmin(&x.stdout)), (0, Some(true)), "{x:?}");

    host(&mut e, SQL).sql_sysadmin = false;
    let x = run(&mut e, FE, &ask);
    assert_eq!((x.exit_code, parse_sysadmin(&x.stdout)), (0, Some(false)), "not a member is an answer, not an error");

    // An instance the topology does not place there does not answer: -b, exit code 1.
    let x = run(&mut e, FE, &Probe::SqlSysadmin { server: sql_target(SQL, "nosuch") });
    assert_eq!((x.exit_code, parse_sysadmin(&x.stdout)), (1, None), "{x:?}");
    assert!(x.stderr.contains("A network-related or instance-specific error"), "{}", x.stderr);

    // No network credentials (a key-based SSH logon, DOMAIN.md §5): the logon is anonymous.
    host(&mut e, FE).network_credentials = false;
    let x = run(&mut e, FE, &ask);
    assert_eq!(x.exit_code, 1, "{x:?}");
    assert!(x.stderr.contains("Login failed for user 'NT AUTHORITY\\ANONYMOUS LOGON'"), "{}", x.stderr);
}

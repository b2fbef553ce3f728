//! `sim remoting` over the example estate, in memory: the lines the transport writes, the
//! answers PowerShell would give.

use super::*;
use sfbpatch_core::Fqdn;
use sfbpatch_core::remoting::{read_end_stderr, read_end_stdout};

fn estate() -> Estate {
    let topology =
        sfbpatch_core::topology::load(sfbpatch_core::example::NAME, sfbpatch_core::example::TOPOLOGY_XML.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    Estate::new(&topology, &crate::estate::EstateOptions::default())
}

fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Each request followed by its end line, as the transport sends them; per request, what
/// came on stdout and stderr before the markers and the session's state.
fn talk(r: &mut Remoting, e: &mut Estate, requests: &[Request]) -> Vec<(String, String, String)> {
    let mut input = String::new();
    for (i, q) in requests.iter().enumerate() {
        input.push_str(&q.render());
        input.push('\n');
        input.push_str(&Request::End { id: i as u64, nonce: end_nonce(), session: q.session() }.render());
        input.push('\n');
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    r.serve(e, input.as_bytes(), &mut out, &mut err).unwrap_or_else(|x| panic!("{x}"));
    let (out, err) = (String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned());
    let (mut outs, mut errs) = (out.lines(), err.lines());
    (0..requests.len() as u64)
        .map(|id| {
            let (mut o, mut x) = (String::new(), String::new());
            let state = loop {
                let line = outs.next().unwrap_or_else(|| panic!("no end marker {id} in {out}"));
                if let Some(("", s)) = read_end_stdout(line, id, &end_nonce()) {
                    break s.to_owned();
                }
                o.push_str(line);
                o.push('\n');
            };
            for line in errs.by_ref() {
                if read_end_stderr(line, id, &end_nonce()) == Some("") {
                    break;
                }
                x.push_str(line);
                x.push('\n');
            }
            (o, x, state)
        })
        .collect()
}

fn open(n: u64, host: &str, authentication: Authentication) -> Request {
    Request::Open { session: n, computer: fqdn(host), authentication }
}

fn invoke(n: u64, script: &str) -> Request {
    Request::Invoke { session: n, step: None, script: script.into(), nonce: nonce() }
}

/// The nonce of the tests' end lines (a transport draws one per request).
fn end_nonce() -> envelope::Nonce {
    envelope::Nonce::from_bytes([0x4e; 8])
}

/// The nonce of the tests' commands (a transport draws one per command).
fn nonce() -> envelope::Nonce {
    envelope::Nonce::from_bytes([9; 8])
}

const TEST_SQL01: &str = "Test-CsDatabase -ConfiguredDatabases -SqlServerFqdn 'sql01.contoso.local'";

#[test]
fn a_kerberos_session_has_no_network_credentials_and_a_credssp_one_has() {
    let mut e = estate();
    let mut r = Remoting::new(None);
    let answers = talk(
        &mut r,
        &mut e,
        &[
            open(1, "fe01.contoso.local", Authentication::Kerberos),
            invoke(1, "Get-CsWindowsService"),
            invoke(1, TEST_SQL01),
        ],
    );
    assert_eq!(answers[0], (String::new(), String::new(), "Opened".into()));
    let listed = envelope::open(&answers[1].0, &nonce()).unwrap_or_else(|| panic!("no result line: {:?}", answers[1]));
    assert_eq!(listed.exit_code, 0);
    assert!(listed.stdout.contains("RTCSRV"), "{}", listed.stdout);
    let refused = envelope::open(&answers[2].0, &nonce()).map(|o| o.exit_code);
    assert_eq!(refused, Some(1), "{:?}", answers[2]);
    assert!(answers[2].1.contains("ANONYMOUS LOGON"), "{}", answers[2].1);
    assert!(e.host("fe01.contoso.local").is_some_and(|h| h.network_credentials), "the host keeps its own");

    // CredSSP needs the credential first; then the same command reaches sql01.
    let dir = tempfile::tempdir().unwrap_or_else(|x| panic!("{x}"));
    let cred = dir.path().join("cred.xml");
    let mut r = Remoting::new(None);
    let early = talk(&mut r, &mut e, &[open(2, "fe01.contoso.local", Authentication::CredSsp)]);
    assert_eq!(early[0].2, "", "no session without a credential");
    assert!(early[0].1.contains("'Credential'"), "{}", early[0].1);
    std::fs::write(&cred, b"<Objs/>").unwrap_or_else(|x| panic!("{x}"));
    let answers = talk(
        &mut r,
        &mut e,
        &[
            Request::Credential { path: cred.display().to_string() },
            open(3, "fe01.contoso.local", Authentication::CredSsp),
            invoke(3, TEST_SQL01),
        ],
    );
    assert_eq!(answers[0].1, "");
    assert_eq!(answers[1].2, "Opened");
    assert_eq!(envelope::open(&answers[2].0, &nonce()).map(|o| o.exit_code), Some(0), "{:?}", answers[2]);
}

#[test]
fn unknown_hosts_removed_and_dropped_sessions_answer_as_powershell_does() {
    let mut e = estate();
    let mut r = Remoting::new(None);
    let answers = talk(
        &mut r,
        &mut e,
        &[
            open(1, "nope.contoso.local", Authentication::Kerberos),
            invoke(1, "Get-Date"),
            open(2, "fe02.contoso.local", Authentication::Kerberos),
            invoke(2, "Get-CsWindowsService"),
            Request::Remove { session: 2 },
            invoke(2, "Get-Date"),
            Request::Setup,
            Request::Credential { path: "/nonexistent/cred.xml".into() },
        ],
    );
    assert_eq!(answers[0].2, "", "no session");
    assert!(answers[0].1.contains("PSSessionOpenFailed"), "{}", answers[0].1);
    assert!(answers[1].1.contains("parameter 'Session'") && answers[1].0.is_empty(), "{:?}", answers[1]);
    assert_eq!(answers[2].2, "Opened");
    // The session loaded the module; Remove-PSSession ends it on the host.
    let loaded = |e: &Estate| e.host("fe02.contoso.local").map(|h| h.sessions.iter().filter(|s| s.open).count());
    assert_eq!(answers[4].2, "Closed");
    assert_eq!(loaded(&e), Some(0));
    assert!(answers[5].1.contains("The session state is Closed") && answers[5].0.is_empty(), "{:?}", answers[5]);
    assert_eq!(answers[6], (String::new(), String::new(), String::new()));
    assert!(answers[7].1.contains("Could not find file"), "{:?}", answers[7]);

    // A restart ends every session on the host: the next command finds it broken, without
    // a result line.
    let answers = talk(&mut r, &mut e, &[open(3, "fe02.contoso.local", Authentication::Kerberos)]);
    assert_eq!(answers[0].2, "Opened");
    if let Some(h) = e.hosts.iter_mut().find(|h| h.fqdn.as_str() == "fe02.contoso.local") {
        h.sessions.iter_mut().for_each(|s| s.open = false);
    }
    let answers = talk(&mut r, &mut e, &[invoke(3, "Get-Date"), invoke(3, "Get-Date")]);
    assert_eq!(answers[0].2, "Broken");
    assert!(answers[0].1.contains("PSRemotingTransportException"), "{}", answers[0].1);
    assert_eq!(envelope::open(&answers[0].0, &nonce()), None);
    assert!(answers[1].1.contains("The session state is Broken"), "{}", answers[1].1);
}

#[test]
fn a_copy_puts_the_local_files_bytes_on_the_host_and_other_lines_are_refused() {
    let mut e = estate();
    let mut r = Remoting::new(None);
    let dir = tempfile::tempdir().unwrap_or_else(|x| panic!("{x}"));
    let local = dir.path().join("SkypeServerUpdateInstaller.exe");
    std::fs::write(&local, b"abc").unwrap_or_else(|x| panic!("{x}"));
    let remote = "C:\\ProgramData\\sfbpatch\\stage\\run1\\SkypeServerUpdateInstaller.exe";
    let copy =
        |local: String| Request::Copy { session: 1, step: Some(StepId::StagePackage), local, remote: remote.into() };
    let answers = talk(
        &mut r,
        &mut e,
        &[
            open(1, "se01.contoso.local", Authentication::Kerberos),
            copy(local.display().to_string()),
            copy("/nonexistent/x.exe".into()),
        ],
    );
    assert_eq!(answers[1], (String::new(), String::new(), "Opened".into()));
    assert!(answers[2].1.contains("Cannot find path"), "{:?}", answers[2]);
    let file = e.host("se01.contoso.local").and_then(|h| h.files.get(&remote.to_ascii_lowercase())).cloned();
    let file = file.unwrap_or_else(|| panic!("not copied"));
    assert_eq!(file.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(file.installs, e.package_build);

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let input = "Stop-Computer -Force\n".to_owned()
        + &Request::End { id: 9, nonce: end_nonce(), session: None }.render()
        + "\n";
    r.serve(&mut e, input.as_bytes(), &mut out, &mut err).unwrap_or_else(|x| panic!("{x}"));
    assert_eq!(String::from_utf8_lossy(&out), "<<sfbpatch-end:9:4e4e4e4e4e4e4e4e:>>\n");
    assert!(String::from_utf8_lossy(&err).starts_with("sfbpatch-sim: not a line"), "nothing else is executed");
}

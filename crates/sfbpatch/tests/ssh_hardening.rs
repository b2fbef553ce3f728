//! Issue 13 through real sshd (the lab of `ssh_lab`): a host that accepts TCP and never speaks
//! keeps no other server waiting, and known_hosts is read as OpenSSH reads it when new keys
//! are accepted.

#![cfg(unix)]

mod ssh_lab;

use std::net::TcpListener;

use ssh_lab::*;

/// A loopback listener that accepts every connection and never sends a byte (not even the
/// SSH identification string, RFC 4253 §4.2): its port.
fn silent_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// (started_ms, finished_ms, outcome, reason) of every attempt of `server`, in order.
fn attempts(journal: &str, server: &str) -> Vec<(i64, i64, String, String)> {
    let db = rusqlite::Connection::open(journal).unwrap_or_else(|e| panic!("{e}"));
    let mut q = db
        .prepare(
            "SELECT started_ms, COALESCE(finished_ms, -1), COALESCE(outcome, ''), COALESCE(reason, '') \
             FROM attempts WHERE server = ?1 ORDER BY started_ms, step",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    q.query_map([server], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_host_that_accepts_tcp_and_never_speaks_keeps_no_other_server_waiting() {
    let Some(lab) = lab() else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    let conns = lab.connections(&kh);
    // se01 is sent to a listener that never answers; fe11 (another pool, the same wave) to its
    // sshd.
    let stalled = silent_listener();
    let text = std::fs::read_to_string(&conns).unwrap_or_else(|e| panic!("{e}"));
    let text = text.replace(&format!("port = {}\n", lab.ports[2]), &format!("port = {stalled}\n"));
    std::fs::write(&conns, text).unwrap_or_else(|e| panic!("{e}"));
    // The connect timeout is 60 s × --timeout-scale: 30 s here.
    let args = ["--server", "fe11.contoso.local", "--server", "se01.contoso.local", "--timeout-scale", "0.5"];
    let (code, v, err) = run(&lab, &conns, &args);
    assert_eq!(code, Some(1), "{err}\n{v}");
    let result = |fqdn: &str| {
        v["servers"].as_array().into_iter().flatten().find(|s| s["fqdn"] == fqdn).cloned().unwrap_or_default()
    };
    assert_eq!(result("fe11.contoso.local")["result"], "updated", "{v}");
    let se01 = result("se01.contoso.local");
    assert_eq!(se01["result"], "failed", "{v}");
    let want = format!(
        "se01.contoso.local (127.0.0.1:{stalled}) did not complete the SSH handshake and logon within 30.0 s: \
         it was given up, and the other servers were not kept waiting."
    );
    assert_eq!(
        se01["error"].as_str(),
        Some(format!("check-role failed: opening a session: {want}").as_str()),
        "{se01}"
    );
    // se01's lane reads its build (a connect that stalls) before its first step: fe11's steps
    // ran meanwhile, every one of them ended before se01's first attempt began. With the
    // connections' map locked across a connect, each fe11 command waited for se01's.
    let journal = lab.path("journal.db");
    let gave_up = attempts(&journal, "se01.contoso.local");
    let first = gave_up.first().cloned().unwrap_or_else(|| panic!("no attempt on se01"));
    assert_eq!((first.2.as_str(), first.3.as_str()), ("failed", format!("opening a session: {want}").as_str()));
    let done = attempts(&journal, "fe11.contoso.local");
    assert!(!done.is_empty(), "fe11 ran no step");
    let late: Vec<_> = done.iter().filter(|a| a.1 < 0 || a.1 > first.0).collect();
    assert!(late.is_empty(), "fe11's attempts ended after se01's first began at {}: {late:?}", first.0);
    assert_eq!(lab.oplog_len("se01.contoso.local"), 0, "nothing reached se01");
}

#[test]
fn accept_new_records_only_hosts_with_no_line_never_a_revoked_key_or_a_pattern_match() {
    let Some(lab) = lab() else { return };
    let keys = lab.host_keys();
    let fe12 = "fe12.contoso.local";
    let port = lab.ports[1];
    // fe12 falls under a `*` line holding another host's key (of the same type: changed).
    let cases = [
        (format!("# estate\n* {}\n", keys[0]), "HAS CHANGED: it is now SHA256:".to_owned(), "line 2 of"),
        // Its own key, revoked, then a plain line for it: the revocation wins.
        (
            format!("@revoked * {}\n[127.0.0.1]:{port} {}\n", keys[1], keys[1]),
            format!("of 127.0.0.1:{port} is revoked (@revoked at line 1 of"),
            "it is never accepted",
        ),
    ];
    for (i, (text, want, line)) in cases.iter().enumerate() {
        let kh = lab.path(&format!("known_hosts_{i}"));
        std::fs::write(&kh, text).unwrap_or_else(|e| panic!("{e}"));
        let conns = lab.connections(&kh);
        let (code, v, err) = run(&lab, &conns, &["--server", fe12, "--accept-new-host-keys"]);
        assert_eq!(code, Some(1), "{err}\n{v}");
        let error = v["servers"][0]["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(want.as_str()) && error.contains(line) && error.contains(&kh), "{error}");
        assert_eq!(std::fs::read_to_string(&kh).ok().as_deref(), Some(text.as_str()), "nothing appended");
        assert_eq!(lab.oplog_len(fe12), 0, "nothing was executed");
    }
}

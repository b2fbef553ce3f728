use super::*;
use crate::estate::{Estate, EstateOptions};

const SE: &str = "se01.contoso.local";

fn estate() -> Estate {
    let topology =
        sfbpatch_core::topology::load(sfbpatch_core::example::NAME, sfbpatch_core::example::TOPOLOGY_XML.as_bytes())
            .unwrap_or_else(|e| panic!("{e:?}"));
    Estate::new(&topology, &EstateOptions::default())
}

fn template() -> Invocation {
    Invocation { host: SE.into(), script: String::new(), step: None, time_scale: None, disk: None, key_logon: false }
}

const ME: SessionProcess = SessionProcess { pid: 4242, start: Some(7) };

fn serve_text(e: &mut Estate, input: &str) -> (Served, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let served = serve(e, &template(), ME, input.as_bytes(), &mut out, &mut err).unwrap_or_else(|e| panic!("{e:?}"));
    (served, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

#[test]
fn wrapped_lines_run_one_by_one_in_one_session_closed_at_the_end() {
    let mut e = estate();
    let before = e.host(SE).map_or(0, |h| h.sessions.len());
    // Each command its own nonce, each answered with its own.
    let (first, second) = (envelope::Nonce::from_bytes([1; 8]), envelope::Nonce::from_bytes([2; 8]));
    let input = format!(
        "{}{}{}",
        envelope::wrap("Get-CsWindowsService", &first),
        envelope::step_line("stop-w3svc"),
        envelope::wrap("net stop w3svc", &second),
    );
    let (served, out, err) = serve_text(&mut e, &input);
    assert_eq!(served, Served::Ended);
    // Each command's output ends with its result line, on both streams.
    let mut r = envelope::Reader::new(first.clone());
    let mut lines = out.split_inclusive('\n');
    assert_eq!(lines.by_ref().find_map(|l| r.line(l)), Some(0), "{out}");
    let mut r = envelope::Reader::new(second.clone());
    assert_eq!(lines.by_ref().find_map(|l| r.line(l)), Some(0), "{out}");
    assert_eq!(lines.next(), None, "{out}");
    assert_eq!(err, format!("{}\n{}\n", envelope::marker(0, &first), envelope::marker(0, &second)));
    let h = e.host(SE).unwrap_or_else(|| panic!("no host"));
    assert_eq!(h.sessions.len(), before + 1, "one session for both commands: {:?}", h.sessions);
    let s = h.sessions.last().unwrap_or_else(|| panic!("no session"));
    assert!(!s.open, "closed at the end of the input");
    assert_eq!(s.process, Some(ME));
    assert!(s.module_generation.is_some(), "the first command loaded the module into it");
    // The step line reached the second command: it is in the operation log.
    let steps: Vec<_> = h.oplog.iter().rev().take(2).map(|o| o.step.clone()).collect();
    assert_eq!(steps, [Some("stop-w3svc".to_owned()), None], "{:?}", h.oplog);
}

#[test]
fn input_that_is_not_wrapped_is_one_script_as_before() {
    let mut e = estate();
    let (served, out, err) = serve_text(&mut e, "Get-CsWindowsService\nnet stop w3svc\n");
    assert_eq!(served, Served::Script("Get-CsWindowsService\nnet stop w3svc".into()));
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
}

#[test]
fn a_host_the_estate_does_not_have_is_an_error() {
    let mut e = estate();
    let t = Invocation { host: "nope.contoso.local".into(), ..template() };
    let served = serve(
        &mut e,
        &t,
        ME,
        envelope::wrap("Get-PSDrive C", &envelope::Nonce::from_bytes([3; 8])).as_bytes(),
        Vec::new(),
        Vec::new(),
    );
    assert!(matches!(&served, Err(ServeError::NoHost(h)) if h == "nope.contoso.local"), "{served:?}");
}

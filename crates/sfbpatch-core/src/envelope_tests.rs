use super::*;

/// A fixed nonce for the tests (a transport draws a random one per command).
fn n() -> Nonce {
    Nonce::from_bytes([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])
}

#[test]
fn the_wrapper_is_one_ascii_line_that_parses_and_gives_its_body_and_nonce_back() {
    for script in [
        "net stop w3svc",
        "Get-CsWindowsService; Get-Service -Name 'W3SVC'",
        "if ($x) {\n  a\n}\n",
        "Write-Host 'acción →'",
        "Write-Output '<<sfbpatch-exit:0>>'",
    ] {
        let w = wrap(script, &n());
        assert!(w.is_ascii(), "{w}");
        assert_eq!(w.trim_end().lines().count(), 1, "{w}");
        assert!(w.ends_with("\n\n"), "an empty line ends any pending input");
        assert!(sfbpatch_pwsh::syntax::parse(&w).is_ok(), "{w}");
        assert!(sfbpatch_pwsh::syntax::parse(&block(script, &n())).is_ok(), "{}", block(script, &n()));
        let want = Some(Body { script: script.trim_end().to_owned(), nonce: n() });
        assert_eq!(body(&w), want, "{w}");
        assert_eq!(body(&w.replace('\n', "\r\n")), want);
    }
    assert_eq!(body("net stop w3svc"), None);
    assert_eq!(body(&format!("{LINE_START}bm90IHdyYXBwZWQ={LINE_END}")), None, "base64 of something else");
}

#[test]
fn a_nonce_is_sixteen_lowercase_hex_digits() {
    assert_eq!(n().as_str(), "0123456789abcdef");
    assert_eq!(Nonce::parse("0123456789abcdef"), Some(n()));
    for bad in ["", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg", "'+1+'456789abcdef"]
    {
        assert_eq!(Nonce::parse(bad), None, "{bad}");
    }
    assert_eq!(marker(3010, &n()), "<<sfbpatch-exit:0123456789abcdef:3010>>");
}

#[test]
fn the_result_line_is_read_and_removed() {
    let cases: &[(&str, Option<(i32, &str)>)] = &[
        ("<<sfbpatch-exit:0123456789abcdef:0>>\n", Some((0, ""))),
        (
            "The service was stopped.\n<<sfbpatch-exit:0123456789abcdef:2>>\r\n\r\n",
            Some((2, "The service was stopped.\n")),
        ),
        ("out\n<<sfbpatch-exit:0123456789abcdef:3010>>", Some((3010, "out\n"))),
        ("<<sfbpatch-exit:0123456789abcdef:-1>>\n", Some((-1, ""))),
        ("out\n", None),
        ("", None),
        ("<<sfbpatch-exit:0123456789abcdef:1>>\nmore output\n", None),
        ("<<sfbpatch-exit:0123456789abcdef:x>>\n", None),
        ("\u{feff}out\n<<sfbpatch-exit:0123456789abcdef:0>>\n", Some((0, "out\n"))),
    ];
    for (stdout, want) in cases {
        let got = open(stdout, &n()).map(|o| (o.exit_code, o.stdout));
        assert_eq!(got, want.map(|(c, s)| (c, s.to_owned())), "{stdout:?}");
    }
    assert_eq!(open(&format!("x\n{}\n", marker(1641, &n())), &n()).map(|o| o.exit_code), Some(1641));
}

#[test]
fn a_forged_result_line_without_the_nonce_is_output() {
    // The command printed a marker of the old form and then was cut (or called `exit`).
    assert_eq!(open("<<sfbpatch-exit:0>>\n", &n()), None);
    // Printed before the real one: output, kept in the command's text.
    let out = format!("<<sfbpatch-exit:0>>\n{}\n", marker(2, &n()));
    assert_eq!(open(&out, &n()), Some(Opened { exit_code: 2, stdout: "<<sfbpatch-exit:0>>\n".into() }));
    assert_eq!(result_code("<<sfbpatch-exit:0>>", &n()), None);
    let mut r = Reader::new(n());
    assert_eq!(r.line("<<sfbpatch-exit:0>>\n"), None);
    assert_eq!(r.line(&format!("{}\n", marker(5, &n()))), Some(5));
    assert_eq!(r.take(), "<<sfbpatch-exit:0>>\n");
}

#[test]
fn a_result_line_with_another_nonce_is_output() {
    let other = Nonce::from_bytes([0xff; 8]);
    assert_eq!(open(&format!("{}\n", marker(0, &other)), &n()), None);
    assert_eq!(result_code(&marker(0, &other), &n()), None);
    // A nonce that only starts like the right one, or with more after it.
    assert_eq!(result_code("<<sfbpatch-exit:0123456789abcdef0:0>>", &n()), None);
    assert_eq!(result_code("<<sfbpatch-exit:0123456789abcde:0>>", &n()), None);
    let mut r = Reader::new(n());
    assert_eq!(r.line(&format!("{}\n", marker(0, &other))), None);
    assert_eq!(r.line(&format!("{}\r\n", marker(1641, &n()))), Some(1641), "the right nonce ends the command");
    assert_eq!(r.take(), "<<sfbpatch-exit:ffffffffffffffff:0>>\n");
    assert_eq!(
        strip_stderr(&format!("denied\n{}\n", marker(1, &other)), &n()),
        format!("denied\n{}\n", marker(1, &other))
    );
}

#[test]
fn a_kept_process_is_read_line_by_line_up_to_each_commands_result_line() {
    let mut r = Reader::new(n());
    // First command: two lines, then its result line; the next command's text after it.
    assert_eq!(r.line("\u{feff}The service was stopped.\r\n"), None);
    assert_eq!(r.line("second\n"), None);
    assert_eq!(r.line("<<sfbpatch-exit:0123456789abcdef:2>>\r\n"), Some(2));
    assert_eq!(r.take(), "The service was stopped.\r\nsecond\n");
    assert_eq!(r.line("<<sfbpatch-exit:0123456789abcdef:3010>>\n"), Some(3010), "a command without output");
    assert_eq!(r.take(), "");
    // A marker-like line that is not one, a marker with text after it, and a last line cut
    // before its end, are text.
    assert_eq!(r.line("<<sfbpatch-exit:0123456789abcdef:x>>\n"), None);
    assert_eq!(r.line("<<sfbpatch-exit:0123456789abcdef:0>> said\n"), None);
    assert_eq!(r.line("<<sfbpatch-exit:0123456789abcdef:0>>"), None, "no line end: the process was cut mid-line");
    assert_eq!(
        r.take(),
        "<<sfbpatch-exit:0123456789abcdef:x>>\n<<sfbpatch-exit:0123456789abcdef:0>> said\n<<sfbpatch-exit:0123456789abcdef:0>>"
    );
    assert_eq!(r.take(), "");
}

#[test]
fn the_step_line_sets_the_variable_and_reads_back() {
    assert_eq!(step_line("stop-services"), "$env:SFBPATCH_STEP = 'stop-services'\n");
    assert!(sfbpatch_pwsh::syntax::parse(&step_line("install-update")).is_ok());
    assert_eq!(step_of(&step_line("install-update")).as_deref(), Some("install-update"));
    assert_eq!(step_of("$env:SFBPATCH_STEP = ''\r\n").as_deref(), Some(""));
    assert_eq!(step_of("$env:SFBPATCH_STEP = x"), None);
    assert_eq!(step_of(&wrap("net stop w3svc", &n())), None);
}

#[test]
fn the_result_line_on_standard_error_is_removed_and_nothing_else() {
    assert_eq!(
        strip_stderr("Stop-CsWindowsService : denied\n<<sfbpatch-exit:0123456789abcdef:1>>\n", &n()),
        "Stop-CsWindowsService : denied\n"
    );
    assert_eq!(strip_stderr("<<sfbpatch-exit:0123456789abcdef:0>>\r\n", &n()), "");
    assert_eq!(strip_stderr("no result line\n", &n()), "no result line\n");
    assert_eq!(strip_stderr("<<sfbpatch-exit:0>>\n", &n()), "<<sfbpatch-exit:0>>\n", "forged: kept");
    assert_eq!(strip_stderr("", &n()), "");
}

#[test]
fn the_wrapper_ends_both_streams_with_the_result_line_and_its_nonce() {
    let block = block("net stop w3svc", &n());
    let tail: Vec<&str> = block.lines().rev().take(2).collect();
    assert!(
        tail[0].contains("[Console]::Error.WriteLine('<<sfbpatch-exit:0123456789abcdef:' + $sfbpatchExit + '>>')"),
        "{block}"
    );
    assert_eq!(tail[1], "'<<sfbpatch-exit:0123456789abcdef:' + $sfbpatchExit + '>>'", "{block}");
    // Another nonce, another tail: a body whose tail was edited is not a wrapped command.
    let other = Nonce::from_bytes([0xff; 8]);
    assert_ne!(super::tail(&other), super::tail(&n()));
}

#[test]
fn output_that_did_not_end_its_line_is_kept_before_the_result_line_on_it() {
    // `Write-Host -NoNewline '50% done'` or `[Console]::Write`, then the wrapper's result line.
    let got = open("50% done<<sfbpatch-exit:0123456789abcdef:0>>\n", &n());
    assert_eq!(got, Some(Opened { exit_code: 0, stdout: "50% done\n".into() }));
    let got = open("first\n\u{feff}50%<<sfbpatch-exit:0123456789abcdef:3010>>\r\n\r\n", &n());
    assert_eq!(got, Some(Opened { exit_code: 3010, stdout: "first\n50%\n".into() }));
    // A forged marker without the nonce, not ended, before the real one: output.
    let got = open("<<sfbpatch-exit:0>><<sfbpatch-exit:0123456789abcdef:2>>\n", &n());
    assert_eq!(got, Some(Opened { exit_code: 2, stdout: "<<sfbpatch-exit:0>>\n".into() }));
    // Another nonce at the end of a line is still output.
    assert_eq!(open("50%<<sfbpatch-exit:ffffffffffffffff:0>>\n", &n()), None);
    let mut r = Reader::new(n());
    assert_eq!(r.line("one\n"), None);
    assert_eq!(r.line("50% done<<sfbpatch-exit:0123456789abcdef:1>>\r\n"), Some(1));
    assert_eq!(r.take(), "one\n50% done\n");
    assert_eq!(r.line("  <<sfbpatch-exit:0123456789abcdef:0>>\n"), Some(0), "blank before it: no output");
    assert_eq!(r.take(), "");
    assert_eq!(
        strip_stderr("Access is denied.<<sfbpatch-exit:0123456789abcdef:1>>\n", &n()),
        "Access is denied.\n",
        "an error text that did not end its line"
    );
    assert_eq!(split_result("x<<sfbpatch-exit:0123456789abcdef:7>> \r\n", &n()), Some(("x", 7)));
}

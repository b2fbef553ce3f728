//! The PowerShell remoting transport's requests: the lines it writes to a local Windows
//! PowerShell (`powershell.exe -Command -`) that holds one `New-PSSession` per session, and
//! their parse, in one place so that the transport and the simulator standing in for
//! `powershell.exe` cannot drift apart ([`Request::parse`] accepts exactly what
//! [`Request::render`] writes, nothing else).
//!
//! `powershell.exe -Command -` executes its standard input line by line and needs a blank
//! line to end a multi-line statement, so every request is **one line**. A script travels as
//! one base64 literal of its UTF-8 bytes, decoded on the local machine into a script block:
//! Windows PowerShell reads standard input in the console's code page (DOMAIN.md §5,
//! encodings), and base64 keeps the line ASCII whatever the script holds. Every value that
//! comes from input (an FQDN, a path) is a single-quoted literal (`sfbpatch_pwsh::literal`);
//! a session is a variable `$sfbpatchSessionN`, N a number.
//!
//! After each request the transport writes an [`Request::End`] line, which prints a marker on
//! standard output and on standard error: the transport reads each stream up to its marker, so
//! it knows where a request's output ends. Each end marker carries a fresh random
//! [`envelope::Nonce`] besides the request's number (`<<sfbpatch-end:ID:NONCE:STATE>>`,
//! `<<sfbpatch-end:ID:NONCE>>`), as a command's result line does, and is taken only at the end
//! of a line: the far command's own output cannot know it, so it can neither end the read
//! early (with a forged `Broken`) nor leave the real marker to the next request. The stdout
//! marker carries the session's
//! `PSSession.State` (`Opened`, `Broken`, `Closed`; empty when `New-PSSession` gave no session):
//! a dropped connection is read from the session's own state, not from an error message's
//! wording (`System.Management.Automation.Runspaces.RunspaceState`).
//!
//! Cmdlets and parameters, as Microsoft's reference gives them (Windows PowerShell 5.1):
//! `New-PSSession -ComputerName -Authentication {Default | Basic | Credssp | Digest | Kerberos
//! | Negotiate | NegotiateWithImplicitCredential} -Credential <PSCredential>`;
//! `Invoke-Command [-Session] <PSSession[]> [-ScriptBlock] <ScriptBlock>`;
//! `Copy-Item -LiteralPath <String[]> [-Destination] <String> -ToSession <PSSession>`;
//! `Remove-PSSession [-Session] <PSSession[]>`; `Import-Clixml -LiteralPath` (a credential
//! saved with `Export-Clixml` is encrypted with the Windows Data Protection API: only the
//! account that saved it, on that computer, can read it back) —
//! learn.microsoft.com/powershell/module/microsoft.powershell.core/new-pssession?view=powershell-5.1,
//! …/invoke-command, …/microsoft.powershell.management/copy-item, …/remove-pssession,
//! …/microsoft.powershell.utility/export-clixml (Example 3).

use sfbpatch_pwsh::{Arg, Command, Line, Variable, Word, literal};

use crate::envelope;
use crate::fqdn::Fqdn;
use crate::runbook::StepId;

/// How sessions are authenticated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Authentication {
    /// Kerberos, as the operator's own logon: the far side gets no credentials it can pass on
    /// (the double hop, DOMAIN.md §5).
    #[default]
    Kerberos,
    /// CredSSP with an explicit credential: the far side gets the operator's credentials and
    /// can reach another machine's SQL Server with them.
    CredSsp,
}

impl Authentication {
    /// `-Authentication`'s value.
    fn value(self) -> &'static str {
        match self {
            Authentication::Kerberos => "Kerberos",
            Authentication::CredSsp => "Credssp",
        }
    }
}

/// One request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The process's first line: its standard output in UTF-8 (without a byte-order mark), so
    /// that what the servers print arrives as they printed it.
    Setup,
    /// `$sfbpatchCredential = Import-Clixml -LiteralPath '<file>'`: the operator's credential,
    /// saved beforehand with `Get-Credential | Export-Clixml`, for CredSSP sessions.
    Credential {
        /// The file, on this machine.
        path: String,
    },
    /// `$sfbpatchSessionN = New-PSSession -ComputerName '<fqdn>' -Authentication …`.
    Open {
        /// N.
        session: u64,
        /// The server.
        computer: Fqdn,
        /// How.
        authentication: Authentication,
    },
    /// `Invoke-Command -Session $sfbpatchSessionN -ScriptBlock (…)`: `script` inside the
    /// result protocol (`envelope::wrap`), its output turned into text on the server
    /// (`Out-String -Stream`: objects come back as the server formats them, not as
    /// deserialized property bags), the step as a trailing comment (faults are keyed by step
    /// in the simulator; PowerShell ignores it).
    Invoke {
        /// N.
        session: u64,
        /// The step it belongs to.
        step: Option<StepId>,
        /// The command, before wrapping.
        script: String,
        /// The nonce its result line carries (`envelope::Nonce`).
        nonce: envelope::Nonce,
    },
    /// `Copy-Item -LiteralPath '<local>' -Destination '<remote>' -ToSession $sfbpatchSessionN`.
    Copy {
        /// N.
        session: u64,
        /// The step it belongs to.
        step: Option<StepId>,
        /// The file on this machine.
        local: String,
        /// Its path on the server.
        remote: String,
    },
    /// `Remove-PSSession -Session $sfbpatchSessionN`.
    Remove {
        /// N.
        session: u64,
    },
    /// The end of request `id`: the markers on both streams, with `nonce`, the stdout one
    /// with session N's state.
    End {
        /// The request's number.
        id: u64,
        /// The markers' nonce (fresh per request).
        nonce: envelope::Nonce,
        /// The session whose state is reported.
        session: Option<u64>,
    },
}

const SETUP: &str = "[Console]::OutputEncoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false";
const CREDENTIAL: &str = "$sfbpatchCredential";
const SESSION: &str = "$sfbpatchSession";
const STEP_COMMENT: &str = " # sfbpatch-step: ";
const BLOCK_START: &str = "([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(";
const BLOCK_END: &str = "))))";
/// The script block's frame around the wrapped script, on the server.
const FRAME_START: &str = "& {\n";
const FRAME_END: &str = "\n} | Out-String -Stream -Width 4096";
/// The start of the end markers; `<<sfbpatch-end:ID:NONCE:STATE>>` on stdout,
/// `<<sfbpatch-end:ID:NONCE>>` on stderr.
pub const END_START: &str = "<<sfbpatch-end:";

fn word(s: &'static str) -> Word {
    Word::fixed(s)
}

fn session_var(n: u64) -> String {
    format!("{SESSION}{n}")
}

/// The stderr end marker of request `id`.
pub fn end_stderr(id: u64, nonce: &envelope::Nonce) -> String {
    format!("{END_START}{id}:{nonce}>>")
}

/// The stdout end marker of request `id` with a session's state (empty: none).
pub fn end_stdout(id: u64, nonce: &envelope::Nonce, state: &str) -> String {
    format!("{END_START}{id}:{nonce}:{state}>>")
}

/// When a stdout line ends with request `id`'s end marker: the text before it on the line
/// (output that did not end its line; blank: none) and the session's state (letters only, as
/// `PSSession.State` prints). Anything else, a marker with another nonce included, is output.
pub fn read_end_stdout<'a>(line: &'a str, id: u64, nonce: &envelope::Nonce) -> Option<(&'a str, &'a str)> {
    let line = line.trim_end();
    let start = format!("{END_START}{id}:{nonce}:");
    let at = line.rfind(&start)?;
    let state = line[at + start.len()..].strip_suffix(">>")?;
    state.bytes().all(|b| b.is_ascii_alphabetic()).then_some((&line[..at], state))
}

/// When a stderr line ends with request `id`'s end marker: the text before it on the line (an
/// error text that did not end its line; blank: none).
pub fn read_end_stderr<'a>(line: &'a str, id: u64, nonce: &envelope::Nonce) -> Option<&'a str> {
    line.trim_end().strip_suffix(&end_stderr(id, nonce))
}

impl Request {
    /// The line (without its line end).
    pub fn render(&self) -> String {
        match self {
            Request::Setup => SETUP.to_owned(),
            Request::Credential { path } => Line::Capture(
                Variable::fixed("sfbpatchCredential"),
                Command::named(word("Import-Clixml")).arg(Arg::Named(word("LiteralPath"), path.clone())),
            )
            .render(),
            Request::Open { session, computer, authentication } => {
                let mut c = Command::named(word("New-PSSession"))
                    .arg(Arg::Named(word("ComputerName"), computer.as_str().to_owned()))
                    .arg(Arg::Named(word("Authentication"), authentication.value().to_owned()));
                if *authentication == Authentication::CredSsp {
                    c = c.arg(Arg::Switch(word("Credential"))).arg(Arg::Raw(CREDENTIAL));
                }
                format!("{} = {}", session_var(*session), c.render())
            }
            Request::Invoke { session, step, script, nonce } => {
                let block = format!("{FRAME_START}{}{FRAME_END}", envelope::wrap(script, nonce).trim_end());
                let c = Command::named(word("Invoke-Command")).arg(Arg::Switch(word("Session")));
                let encoded = literal(&base64_encode(block.as_bytes()));
                format!(
                    "{} {} -ScriptBlock {BLOCK_START}{encoded}{BLOCK_END}{}",
                    c.render(),
                    session_var(*session),
                    comment(*step)
                )
            }
            Request::Copy { session, step, local, remote } => {
                let c = Command::named(word("Copy-Item"))
                    .arg(Arg::Named(word("LiteralPath"), local.clone()))
                    .arg(Arg::Named(word("Destination"), remote.clone()))
                    .arg(Arg::Switch(word("ToSession")));
                format!("{} {}{}", c.render(), session_var(*session), comment(*step))
            }
            Request::Remove { session } => {
                let c = Command::named(word("Remove-PSSession")).arg(Arg::Switch(word("Session")));
                format!("{} {}", c.render(), session_var(*session))
            }
            Request::End { id, nonce, session } => {
                let state = match session {
                    Some(n) => format!(
                        "{} + {}.State + {}",
                        literal(&format!("{END_START}{id}:{nonce}:")),
                        session_var(*n),
                        literal(">>")
                    ),
                    None => literal(&end_stdout(*id, nonce, "")),
                };
                format!("{state}; [Console]::Error.WriteLine({})", literal(&end_stderr(*id, nonce)))
            }
        }
    }

    /// The request a line is, when it is exactly one that [`Request::render`] writes.
    pub fn parse(line: &str) -> Option<Request> {
        let line = line.trim_end_matches(['\r', '\n']);
        let candidate = Self::read(line)?;
        (candidate.render() == line).then_some(candidate)
    }

    /// A first reading; [`Request::parse`] keeps it only when it renders back to the line.
    fn read(line: &str) -> Option<Request> {
        if line == SETUP {
            return Some(Request::Setup);
        }
        if let Some(rest) = line.strip_prefix("$sfbpatchCredential = Import-Clixml -LiteralPath ") {
            let (path, _) = take_literal(rest)?;
            return Some(Request::Credential { path });
        }
        if let Some(rest) = line.strip_prefix(SESSION) {
            let (session, rest) = take_number(rest)?;
            let rest = rest.strip_prefix(" = New-PSSession -ComputerName ")?;
            let (computer, rest) = take_literal(rest)?;
            let computer = Fqdn::parse(&computer).ok()?;
            let authentication =
                if rest.contains("'Credssp'") { Authentication::CredSsp } else { Authentication::Kerberos };
            return Some(Request::Open { session, computer, authentication });
        }
        if let Some(rest) = line.strip_prefix("Invoke-Command -Session ") {
            let (session, rest) = take_number(rest.strip_prefix(SESSION)?)?;
            let rest = rest.strip_prefix(" -ScriptBlock ")?.strip_prefix(BLOCK_START)?;
            let (encoded, rest) = take_literal(rest)?;
            let step = read_comment(rest.strip_prefix(BLOCK_END)?)?;
            let block = String::from_utf8(base64_decode(&encoded)?).ok()?;
            let wrapped = block.strip_prefix(FRAME_START)?.strip_suffix(FRAME_END)?;
            let envelope::Body { script, nonce } = envelope::body(wrapped)?;
            return Some(Request::Invoke { session, step, script, nonce });
        }
        if let Some(rest) = line.strip_prefix("Copy-Item -LiteralPath ") {
            let (local, rest) = take_literal(rest)?;
            let (remote, rest) = take_literal(rest.strip_prefix(" -Destination ")?)?;
            let rest = rest.strip_prefix(" -ToSession ")?.strip_prefix(SESSION)?;
            let (session, rest) = take_number(rest)?;
            let step = read_comment(rest)?;
            return Some(Request::Copy { session, step, local, remote });
        }
        if let Some(rest) = line.strip_prefix("Remove-PSSession -Session ") {
            let (session, _) = take_number(rest.strip_prefix(SESSION)?)?;
            return Some(Request::Remove { session });
        }
        let (first, rest) = take_literal(line)?;
        let id_text = first.strip_prefix(END_START)?;
        let (id, tail) = take_number(id_text)?;
        let nonce = envelope::Nonce::parse(tail.strip_prefix(':')?.get(..16)?)?;
        let session = match rest.strip_prefix(" + ") {
            Some(r) => Some(take_number(r.strip_prefix(SESSION)?)?.0),
            None => None,
        };
        Some(Request::End { id, nonce, session })
    }

    /// The session a request acts on, if any.
    pub fn session(&self) -> Option<u64> {
        match self {
            Request::Open { session, .. }
            | Request::Invoke { session, .. }
            | Request::Copy { session, .. }
            | Request::Remove { session } => Some(*session),
            Request::End { session, .. } => *session,
            Request::Setup | Request::Credential { .. } => None,
        }
    }
}

fn comment(step: Option<StepId>) -> String {
    step.map(|s| format!("{STEP_COMMENT}{}", s.as_str())).unwrap_or_default()
}

/// The step of a trailing comment (`Some(None)`: no comment at all).
fn read_comment(rest: &str) -> Option<Option<StepId>> {
    if rest.is_empty() {
        return Some(None);
    }
    rest.strip_prefix(STEP_COMMENT)?.parse::<StepId>().ok().map(Some)
}

/// A single-quoted literal at the start of `text`: its value and what follows it.
fn take_literal(text: &str) -> Option<(String, &str)> {
    const QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
    let mut it = text.char_indices();
    let (_, first) = it.next()?;
    if !QUOTES.contains(&first) {
        return None;
    }
    let mut pending_quote = false;
    for (i, c) in it {
        if pending_quote {
            if QUOTES.contains(&c) {
                pending_quote = false;
                continue;
            }
            return Some((sfbpatch_pwsh::unliteral(&text[..i])?, &text[i..]));
        }
        if QUOTES.contains(&c) {
            pending_quote = true;
        }
    }
    pending_quote.then(|| sfbpatch_pwsh::unliteral(text).map(|v| (v, "")))?
}

fn take_number(text: &str) -> Option<(u64, &str)> {
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    Some((text[..end].parse().ok()?, &text[end..]))
}

/// Base64 (RFC 4648, with padding), as `[Convert]::FromBase64String` reads it.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of RFC 4648 base64 text with padding (canonical only); `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fqdn(s: &str) -> Fqdn {
        Fqdn::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn all() -> Vec<Request> {
        vec![
            Request::Setup,
            Request::Credential { path: "C:\\Users\\admin\\sfb cred's.xml".into() },
            Request::Open {
                session: 3,
                computer: fqdn("fe01.contoso.local"),
                authentication: Authentication::Kerberos,
            },
            Request::Open {
                session: 12,
                computer: fqdn("fe02.contoso.local"),
                authentication: Authentication::CredSsp,
            },
            Request::Invoke {
                session: 3,
                step: Some(StepId::InstallUpdate),
                script: "net stop w3svc\nWrite-Output 'it''s → done'".into(),
                nonce: envelope::Nonce::from_bytes([7; 8]),
            },
            Request::Invoke {
                session: 4,
                step: None,
                script: "Get-CsWindowsService".into(),
                nonce: envelope::Nonce::from_bytes([0xa5; 8]),
            },
            Request::Copy {
                session: 5,
                step: Some(StepId::StagePackage),
                local: "/tmp/a b/'Pkg'.exe".into(),
                remote: "C:\\ProgramData\\sfbpatch\\stage\\run-1\\SkypeServerUpdateInstaller.exe".into(),
            },
            Request::Copy { session: 5, step: None, local: "x".into(), remote: "C:\\x".into() },
            Request::Remove { session: 9 },
            Request::End { id: 17, nonce: envelope::Nonce::from_bytes([0x5a; 8]), session: Some(3) },
            Request::End { id: 18, nonce: envelope::Nonce::from_bytes([0; 8]), session: None },
        ]
    }

    #[test]
    fn every_request_is_one_line_of_powershell_that_parses_back_to_itself() {
        for r in all() {
            let line = r.render();
            assert!(!line.contains(['\n', '\r']), "{line}");
            assert!(line.is_ascii() || matches!(r, Request::Credential { .. }), "{line}");
            sfbpatch_pwsh::syntax::check(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(Request::parse(&line), Some(r.clone()), "{line}");
            assert_eq!(Request::parse(&format!("{line}\r\n")), Some(r), "CRLF");
        }
    }

    #[test]
    fn the_exact_lines_are_those_powershell_is_given() {
        let open =
            Request::Open { session: 3, computer: fqdn("fe01.contoso.local"), authentication: Authentication::CredSsp };
        assert_eq!(
            open.render(),
            "$sfbpatchSession3 = New-PSSession -ComputerName 'fe01.contoso.local' -Authentication 'Credssp' -Credential $sfbpatchCredential"
        );
        let end_nonce = envelope::Nonce::from_bytes([0x5a; 8]);
        assert_eq!(
            Request::End { id: 17, nonce: end_nonce, session: Some(3) }.render(),
            "'<<sfbpatch-end:17:5a5a5a5a5a5a5a5a:' + $sfbpatchSession3.State + '>>'; [Console]::Error.WriteLine('<<sfbpatch-end:17:5a5a5a5a5a5a5a5a>>')"
        );
        let copy = Request::Copy { session: 2, step: None, local: "it's".into(), remote: "C:\\x".into() };
        assert_eq!(copy.render(), "Copy-Item -LiteralPath 'it''s' -Destination 'C:\\x' -ToSession $sfbpatchSession2");
        let nonce = envelope::Nonce::from_bytes([1; 8]);
        let invoke = Request::Invoke {
            session: 1,
            step: Some(StepId::StopServices),
            script: "Get-Date".into(),
            nonce: nonce.clone(),
        };
        let line = invoke.render();
        assert!(
            line.starts_with("Invoke-Command -Session $sfbpatchSession1 -ScriptBlock ([scriptblock]::Create("),
            "{line}"
        );
        assert!(line.ends_with(")))) # sfbpatch-step: stop-services"), "{line}");
        // The script block, decoded as PowerShell would: the wrapped command, made text on the server.
        let encoded = line.split('\'').nth(1).unwrap_or_default();
        let block = String::from_utf8(base64_decode(encoded).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            block,
            format!("& {{\n{}\n}} | Out-String -Stream -Width 4096", envelope::wrap("Get-Date", &nonce).trim_end())
        );
        sfbpatch_pwsh::syntax::check(&block).unwrap_or_else(|e| panic!("{block}: {e}"));
    }

    #[test]
    fn anything_else_is_not_a_request() {
        for line in [
            "",
            "Get-Process",
            "Invoke-Command -Session $sfbpatchSession1 -ScriptBlock { Remove-Item C:\\ -Recurse }",
            "$sfbpatchSession1 = New-PSSession -ComputerName 'fe01.contoso.local' -Authentication 'Kerberos'; Stop-Computer",
            "$sfbpatchSession1 = New-PSSession -ComputerName 'not a host' -Authentication 'Kerberos'",
            "Remove-PSSession -Session $sfbpatchSession1 -Verbose",
            "'<<sfbpatch-end:1:>>'",
            "'<<sfbpatch-end:1:5a5a5a5a5a5a5a5a:>>'",
            "'<<sfbpatch-end:1:5a5a5a5a5a5a5a5:>>'; [Console]::Error.WriteLine('<<sfbpatch-end:1:5a5a5a5a5a5a5a5>>')",
            "Copy-Item -LiteralPath 'a' -Destination 'b' -ToSession $sfbpatchSession1 # sfbpatch-step: no-such-step",
        ] {
            assert_eq!(Request::parse(line), None, "{line}");
        }
        // A script block that is not the wrapped frame.
        let block = literal(&base64_encode(b"Stop-Computer"));
        let line = format!("Invoke-Command -Session $sfbpatchSession1 -ScriptBlock {BLOCK_START}{block}{BLOCK_END}");
        assert_eq!(Request::parse(&line), None);
    }

    #[test]
    fn end_markers_are_read_per_request_and_nonce() {
        let n = envelope::Nonce::from_bytes([0x5a; 8]);
        let got = read_end_stdout("<<sfbpatch-end:17:5a5a5a5a5a5a5a5a:Opened>>\r", 17, &n);
        assert_eq!(got, Some(("", "Opened")));
        assert_eq!(read_end_stdout(&end_stdout(17, &n, ""), 17, &n), Some(("", "")));
        assert_eq!(read_end_stdout("<<sfbpatch-end:17:5a5a5a5a5a5a5a5a:Opened>>", 1, &n), None);
        assert_eq!(read_end_stdout("<<sfbpatch-end:170:5a5a5a5a5a5a5a5a:Opened>>", 17, &n), None);
        assert!(read_end_stderr("<<sfbpatch-end:4:5a5a5a5a5a5a5a5a>>\r", 4, &n).is_some());
        assert_eq!(read_end_stderr("<<sfbpatch-end:40:5a5a5a5a5a5a5a5a>>", 4, &n), None);
    }

    #[test]
    fn an_end_marker_without_its_nonce_is_output() {
        let n = envelope::Nonce::from_bytes([0x5a; 8]);
        let other = envelope::Nonce::from_bytes([0xa5; 8]);
        // The form before the nonce, as a far command could print it with a guessed number.
        assert_eq!(read_end_stdout("<<sfbpatch-end:17:Broken>>", 17, &n), None);
        assert_eq!(read_end_stderr("<<sfbpatch-end:17>>", 17, &n), None);
        assert_eq!(read_end_stdout(&end_stdout(17, &other, "Broken"), 17, &n), None);
        assert_eq!(read_end_stderr(&end_stderr(17, &other), 17, &n), None);
        // The marker followed by text, or a state that is not a word, is not one.
        assert_eq!(read_end_stdout(&format!("{} x", end_stdout(17, &n, "Opened")), 17, &n), None);
        assert_eq!(read_end_stdout("<<sfbpatch-end:17:5a5a5a5a5a5a5a5a:Opened>>>>", 17, &n), None);
        assert_eq!(read_end_stderr(&format!("{}x", end_stderr(17, &n)), 17, &n), None);
    }

    #[test]
    fn text_that_did_not_end_its_line_is_kept_before_an_end_marker() {
        let n = envelope::Nonce::from_bytes([0x5a; 8]);
        let line = format!("50% done{}", end_stdout(3, &n, "Opened"));
        assert_eq!(read_end_stdout(&line, 3, &n), Some(("50% done", "Opened")));
        let line = format!("Access is denied.{}\r", end_stderr(3, &n));
        assert_eq!(read_end_stderr(&line, 3, &n), Some("Access is denied."));
    }

    #[test]
    fn base64_round_trips_and_refuses_what_is_not_canonical() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", "→ é".as_bytes()] {
            let e = base64_encode(bytes);
            assert_eq!(base64_decode(&e).as_deref(), Some(bytes), "{e}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        for bad in ["Zm8", "Zm9=", "Z===", "Zm=8", "Zm8=Zm8=", "Zm9v!mFy"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }
}

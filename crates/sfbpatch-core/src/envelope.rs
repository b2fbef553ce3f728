//! The result protocol of the shell transports: a command's own exit code, carried in its
//! output, because the process's exit code cannot carry it.
//!
//! `powershell.exe -Command -` (and `-Command <text>`) exits with 0 or 1 only: 1 when the
//! last command failed, whatever native exit code it had; a native program's code survives
//! only when the script sends it on explicitly (DOMAIN.md §5; PowerShell/PowerShell #13501,
//! #11461). Installer 3010/1641 and `net`'s exit 2 would reach the transport as 1. So every
//! command a shell transport sends is [`wrap`]ped: the wrapper sets `$LASTEXITCODE` to
//! `$null` and clears `$Error`, runs the command, and prints one last line,
//! `<<sfbpatch-exit:N>>`, where N is `$LASTEXITCODE` when a native program (or the install
//! step, which copies the installer's `.ExitCode` there) left one, else 0 when the command
//! succeeded and wrote no error, else 1. The transport reads that line with [`open`], strips
//! it, and takes N as the exit code; when it is missing the command did not run to its end
//! (the process was cut, the script called `exit`, or the far side is not PowerShell) and the
//! result is unknown.
//!
//! On the wire the wrapped script is **one line**: a script block made from base64 of its
//! UTF-8 text. PowerShell reading stdin (`-Command -`) runs it statement by statement as if
//! typed, and a statement spanning several lines runs only after an empty line — at the end
//! of the input it is dropped silently (PowerShell/PowerShell #3223, #15331) — and reads stdin
//! in the console's code page; one ASCII line avoids both. Its output is written as UTF-8
//! without a byte-order mark (`[Console]::OutputEncoding`), so accented text from a Spanish
//! Windows reaches the journal as written. The simulator's shell recognises the line exactly
//! ([`body`]) and models what Windows PowerShell would print.

/// The start of the result line; the code and [`MARKER_END`] follow.
pub const MARKER_START: &str = "<<sfbpatch-exit:";
/// The end of the result line.
pub const MARKER_END: &str = ">>";

/// The wrapper's first lines: output as UTF-8 without a mark (where there is a console to
/// set: a remoting session has none, and the failure is of no consequence); no exit code and
/// no error left over from an earlier command (a remoting session runs many).
const HEAD: &str = "try { [Console]::OutputEncoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false } catch { }\n\
$global:LASTEXITCODE = $null; $Error.Clear()";
/// The wrapper's last lines: `$?` read first (any other statement would reset it), then
/// the code chosen and printed as the command's last output line, and the same line as the
/// last line of its standard error (a process kept for many commands is read on both streams
/// up to their result lines: see [`Reader`]). A failed `Start-Process` leaves
/// `$LASTEXITCODE` `$null` and an error: 1, not 0.
const TAIL: &str = "$sfbpatchOk = $?; $sfbpatchExit = if ($null -ne $global:LASTEXITCODE) { $global:LASTEXITCODE } elseif ($sfbpatchOk -and $Error.Count -eq 0) { 0 } else { 1 }\n\
'<<sfbpatch-exit:' + $sfbpatchExit + '>>'\n\
try { [Console]::Error.WriteLine('<<sfbpatch-exit:' + $sfbpatchExit + '>>'); [Console]::Error.Flush() } catch { }";
/// The line around the base64 text.
const LINE_START: &str = "& ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('";
/// See [`LINE_START`].
const LINE_END: &str = "'))))";

/// The script block the wire line carries: `script` between the head and the tail.
fn block(script: &str) -> String {
    format!("{HEAD}\n{}\n{TAIL}", script.trim_end_matches(['\r', '\n']))
}

/// `script` inside the result protocol's wrapper: one line (and an empty one, which ends any
/// input PowerShell might still be waiting for).
pub fn wrap(script: &str) -> String {
    format!("{LINE_START}{}{LINE_END}\n\n", crate::remoting::base64_encode(block(script).as_bytes()))
}

/// The command inside text made by [`wrap`], or `None` when the text is not wrapped.
pub fn body(text: &str) -> Option<String> {
    let line = text.trim_end_matches(['\r', '\n']);
    let encoded = line.strip_prefix(LINE_START)?.strip_suffix(LINE_END)?;
    let block = String::from_utf8(crate::remoting::base64_decode(encoded)?).ok()?;
    let rest = block.strip_prefix(HEAD)?.strip_prefix('\n')?;
    let inner = rest.strip_suffix(TAIL)?.strip_suffix('\n')?;
    Some(inner.to_owned())
}

/// The result line for `code`, as the wrapper prints it.
pub fn marker(code: i32) -> String {
    format!("{MARKER_START}{code}{MARKER_END}")
}

/// The start of the line that names the step of the commands after it, for a process kept
/// for many commands (a one-shot process gets it in its environment instead).
const STEP_LINE_START: &str = "$env:SFBPATCH_STEP = ";

/// The line a kept process is sent before a command: `SFBPATCH_STEP` set to `step` (empty:
/// none) in that process's environment, as a one-shot process is started with it. It prints
/// nothing; the simulator's shell keys its faults by it.
pub fn step_line(step: &str) -> String {
    format!("{STEP_LINE_START}{}\n", sfbpatch_pwsh::literal(step))
}

/// The step a line made by [`step_line`] names (`Some("")`: none), or `None` when the line is
/// not one.
pub fn step_of(line: &str) -> Option<String> {
    sfbpatch_pwsh::unliteral(line.trim_end_matches(['\r', '\n']).strip_prefix(STEP_LINE_START)?)
}

/// The code on `line` when it is a result line (blank space and a byte-order mark around it
/// ignored), else `None`.
pub fn result_code(line: &str) -> Option<i32> {
    let line = line.trim().trim_start_matches('\u{feff}');
    line.strip_prefix(MARKER_START)?.strip_suffix(MARKER_END)?.parse::<i32>().ok()
}

/// One stream (standard output or standard error) of a process that runs many wrapped
/// commands one after the other (a shell kept for a session), read line by line: a command's
/// text on that stream ends at the first result line. No nonce is needed to tell commands
/// apart: the transport writes a command only once the previous one was read to the result
/// lines of both streams, and a command cut short (timeout, a dropped future) is killed
/// with its process, so no earlier command's output can still be on its way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reader {
    text: String,
}

impl Reader {
    /// Takes one line as read (its end included): `Some(code)` when it is the result line,
    /// which is not kept; the command's text on this stream is then complete ([`Reader::take`]).
    pub fn line(&mut self, line: &str) -> Option<i32> {
        match result_code(line) {
            Some(code) if line.ends_with('\n') => Some(code),
            _ => {
                self.text.push_str(line);
                None
            }
        }
    }

    /// The text read so far (the stream's part of one command), and a fresh start.
    pub fn take(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        match text.strip_prefix('\u{feff}') {
            Some(t) => t.to_owned(),
            None => text,
        }
    }
}

/// `stderr` without its result line (the wrapper writes one there too), when it has one.
pub fn strip_stderr(stderr: &str) -> String {
    open(stderr).map_or_else(|| stderr.to_owned(), |o| o.stdout)
}

/// What a wrapped command printed, opened: its exit code (from the result line) and its
/// standard output without that line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The command's own exit code.
    pub exit_code: i32,
    /// Its standard output, the result line removed.
    pub stdout: String,
}

/// Reads the result line: the last line of `stdout` that is one (a command's own output
/// cannot end after it). `None` when there is none.
pub fn open(stdout: &str) -> Option<Opened> {
    // A byte-order mark some hosts write before the first output.
    let stdout = stdout.strip_prefix('\u{feff}').unwrap_or(stdout);
    let mut end = stdout.len();
    // Walk the lines from the end: only blank lines may follow the result line.
    loop {
        let text = &stdout[..end];
        let line_start = text.trim_end_matches(['\r', '\n']).rfind('\n').map_or(0, |i| i + 1);
        let line = text[line_start..].trim();
        if line.is_empty() {
            if line_start == 0 {
                return None;
            }
            end = line_start;
            continue;
        }
        let code = result_code(line)?;
        return Some(Opened { exit_code: code, stdout: stdout[..line_start].to_owned() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_is_one_ascii_line_that_parses_and_gives_its_body_back() {
        for script in [
            "net stop w3svc",
            "Get-CsWindowsService; Get-Service -Name 'W3SVC'",
            "if ($x) {\n  a\n}\n",
            "Write-Host 'acción →'",
        ] {
            let w = wrap(script);
            assert!(w.is_ascii(), "{w}");
            assert_eq!(w.trim_end().lines().count(), 1, "{w}");
            assert!(w.ends_with("\n\n"), "an empty line ends any pending input");
            assert!(sfbpatch_pwsh::syntax::parse(&w).is_ok(), "{w}");
            assert!(sfbpatch_pwsh::syntax::parse(&block(script)).is_ok(), "{}", block(script));
            assert_eq!(body(&w).as_deref(), Some(script.trim_end()), "{w}");
            assert_eq!(body(&w.replace('\n', "\r\n")).as_deref(), Some(script.trim_end()));
        }
        assert_eq!(body("net stop w3svc"), None);
        assert_eq!(body(&format!("{LINE_START}bm90IHdyYXBwZWQ={LINE_END}")), None, "base64 of something else");
    }

    #[test]
    fn the_result_line_is_read_and_removed() {
        let cases: &[(&str, Option<(i32, &str)>)] = &[
            ("<<sfbpatch-exit:0>>\n", Some((0, ""))),
            ("The service was stopped.\n<<sfbpatch-exit:2>>\r\n\r\n", Some((2, "The service was stopped.\n"))),
            ("out\n<<sfbpatch-exit:3010>>", Some((3010, "out\n"))),
            ("<<sfbpatch-exit:-1>>\n", Some((-1, ""))),
            ("out\n", None),
            ("", None),
            ("<<sfbpatch-exit:1>>\nmore output\n", None),
            ("<<sfbpatch-exit:x>>\n", None),
            ("\u{feff}out\n<<sfbpatch-exit:0>>\n", Some((0, "out\n"))),
        ];
        for (stdout, want) in cases {
            let got = open(stdout).map(|o| (o.exit_code, o.stdout));
            assert_eq!(got, want.map(|(c, s)| (c, s.to_owned())), "{stdout:?}");
        }
        assert_eq!(open(&format!("x\n{}\n", marker(1641))).map(|o| o.exit_code), Some(1641));
    }

    #[test]
    fn a_kept_process_is_read_line_by_line_up_to_each_commands_result_line() {
        let mut r = Reader::default();
        // First command: two lines, then its result line; the next command's text after it.
        assert_eq!(r.line("\u{feff}The service was stopped.\r\n"), None);
        assert_eq!(r.line("second\n"), None);
        assert_eq!(r.line("<<sfbpatch-exit:2>>\r\n"), Some(2));
        assert_eq!(r.take(), "The service was stopped.\r\nsecond\n");
        assert_eq!(r.line("<<sfbpatch-exit:3010>>\n"), Some(3010), "a command without output");
        assert_eq!(r.take(), "");
        // A marker-like line that is not one, and a last line cut before its end, are text.
        assert_eq!(r.line("<<sfbpatch-exit:x>>\n"), None);
        assert_eq!(r.line("say <<sfbpatch-exit:0>>\n"), None);
        assert_eq!(r.line("<<sfbpatch-exit:0>>"), None, "no line end: the process was cut mid-line");
        assert_eq!(r.take(), "<<sfbpatch-exit:x>>\nsay <<sfbpatch-exit:0>>\n<<sfbpatch-exit:0>>");
        assert_eq!(r.take(), "");
    }

    #[test]
    fn the_step_line_sets_the_variable_and_reads_back() {
        assert_eq!(step_line("stop-services"), "$env:SFBPATCH_STEP = 'stop-services'\n");
        assert!(sfbpatch_pwsh::syntax::parse(&step_line("install-update")).is_ok());
        assert_eq!(step_of(&step_line("install-update")).as_deref(), Some("install-update"));
        assert_eq!(step_of("$env:SFBPATCH_STEP = ''\r\n").as_deref(), Some(""));
        assert_eq!(step_of("$env:SFBPATCH_STEP = x"), None);
        assert_eq!(step_of(&wrap("net stop w3svc")), None);
    }

    #[test]
    fn the_result_line_on_standard_error_is_removed_and_nothing_else() {
        assert_eq!(
            strip_stderr("Stop-CsWindowsService : denied\n<<sfbpatch-exit:1>>\n"),
            "Stop-CsWindowsService : denied\n"
        );
        assert_eq!(strip_stderr("<<sfbpatch-exit:0>>\r\n"), "");
        assert_eq!(strip_stderr("no result line\n"), "no result line\n");
        assert_eq!(strip_stderr(""), "");
    }

    #[test]
    fn the_wrapper_ends_both_streams_with_the_result_line() {
        let block = block("net stop w3svc");
        let tail: Vec<&str> = block.lines().rev().take(2).collect();
        assert!(tail[0].contains("[Console]::Error.WriteLine('<<sfbpatch-exit:' + $sfbpatchExit + '>>')"), "{block}");
        assert_eq!(tail[1], "'<<sfbpatch-exit:' + $sfbpatchExit + '>>'", "{block}");
    }
}

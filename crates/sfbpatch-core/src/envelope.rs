//! The result protocol of the shell transports: a command's own exit code, carried in its
//! output, because the process's exit code cannot carry it.
//!
//! `powershell.exe -Command -` (and `-Command <text>`) exits with 0 or 1 only: 1 when the
//! last command failed, whatever native exit code it had; a native program's code survives
//! only when the script sends it on explicitly (DOMAIN.md §5; PowerShell/PowerShell #13501,
//! #11461). Installer 3010/1641 and `net`'s exit 2 would reach the transport as 1. So every
//! command a shell transport sends is [`wrap`]ped: the wrapper sets `$LASTEXITCODE` to
//! `$null` and clears `$Error`, runs the command, and prints one last line,
//! `<<sfbpatch-exit:NONCE:N>>`, where NONCE is the command's own [`Nonce`] and N is `$LASTEXITCODE` when a native program (or the install
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
//!
//! **The nonce.** A command's own output may hold a line that looks like a result line (a
//! hook's `Write-Output`, a file's contents echoed, a message): without a nonce the reader
//! would stop there with a forged exit code, and on a kept process take the real result line
//! as the next command's. Each wrapped command carries a fresh random [`Nonce`], and every
//! reader ([`open`], [`strip_stderr`], [`Reader`]) takes only the result line with that
//! nonce; any other marker-like line is output.

/// The start of the result line; the nonce, `:`, the code and [`MARKER_END`] follow.
pub const MARKER_START: &str = "<<sfbpatch-exit:";

/// A wrapped command's nonce: 16 lowercase hexadecimal digits (64 random bits, drawn by the
/// transport for each command: the core does no I/O).
///
/// It is **not a secret**: it is written in the command line itself (the base64 text the
/// process reads on standard input, on a remote host in its process table and transcripts).
/// It only has to be unknown to whatever produces the command's output before the command
/// runs (a hook, an installer, a file's contents), so that no output can end the command
/// early with a forged exit code, nor carry over to the next command of a kept process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    /// The nonce of 8 random bytes.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        Self(crate::vocab::hex(&bytes))
    }

    /// `text` as a nonce, when it is 16 lowercase hexadecimal digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(text.to_owned()))
    }

    /// The 16 hexadecimal digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
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
/// `$LASTEXITCODE` `$null` and an error: 1, not 0. The nonce is a literal of hexadecimal
/// digits inside the single-quoted strings (nothing to escape).
fn tail(nonce: &Nonce) -> String {
    format!(
        "{TAIL_FIRST}\n'{MARKER_START}{nonce}:' + $sfbpatchExit + '{MARKER_END}'\n\
         try {{ [Console]::Error.WriteLine('{MARKER_START}{nonce}:' + $sfbpatchExit + '{MARKER_END}'); [Console]::Error.Flush() }} catch {{ }}"
    )
}
/// The tail's first line.
const TAIL_FIRST: &str = "$sfbpatchOk = $?; $sfbpatchExit = if ($null -ne $global:LASTEXITCODE) { $global:LASTEXITCODE } elseif ($sfbpatchOk -and $Error.Count -eq 0) { 0 } else { 1 }";
/// The line around the base64 text.
const LINE_START: &str = "& ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('";
/// See [`LINE_START`].
const LINE_END: &str = "'))))";

/// The script block the wire line carries: `script` between the head and the tail.
fn block(script: &str, nonce: &Nonce) -> String {
    format!("{HEAD}\n{}\n{}", script.trim_end_matches(['\r', '\n']), tail(nonce))
}

/// `script` inside the result protocol's wrapper, its result line carrying `nonce` (a fresh
/// one per command): one line (and an empty one, which ends any input PowerShell might still
/// be waiting for).
pub fn wrap(script: &str, nonce: &Nonce) -> String {
    format!("{LINE_START}{}{LINE_END}\n\n", crate::remoting::base64_encode(block(script, nonce).as_bytes()))
}

/// What text made by [`wrap`] carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// The command.
    pub script: String,
    /// The nonce its result line is to carry.
    pub nonce: Nonce,
}

/// The command inside text made by [`wrap`], and its nonce, or `None` when the text is not
/// wrapped.
pub fn body(text: &str) -> Option<Body> {
    let line = text.trim_end_matches(['\r', '\n']);
    let encoded = line.strip_prefix(LINE_START)?.strip_suffix(LINE_END)?;
    let block = String::from_utf8(crate::remoting::base64_decode(encoded)?).ok()?;
    let rest = block.strip_prefix(HEAD)?.strip_prefix('\n')?;
    // The tail starts at its first line's last occurrence; its nonce is read from its second
    // line, then the whole tail is checked against the one that nonce gives.
    let at = rest.rfind(&format!("\n{TAIL_FIRST}\n"))?;
    let (inner, tail_text) = (&rest[..at], &rest[at + 1..]);
    let second = tail_text.strip_prefix(TAIL_FIRST)?.strip_prefix("\n'")?.strip_prefix(MARKER_START)?;
    let nonce = Nonce::parse(second.get(..16)?)?;
    (tail_text == tail(&nonce)).then(|| Body { script: inner.to_owned(), nonce })
}

/// The result line for `code`, as the wrapper prints it for the command of `nonce`.
pub fn marker(code: i32, nonce: &Nonce) -> String {
    format!("{MARKER_START}{nonce}:{code}{MARKER_END}")
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

/// The code on `line` when it is the result line of the command of `nonce` (blank space and
/// a byte-order mark around it ignored), else `None`: a marker without that nonce is output.
pub fn result_code(line: &str, nonce: &Nonce) -> Option<i32> {
    split_result(line, nonce).map(|(_, code)| code)
}

/// The result line of the command of `nonce` at the **end** of `line`: the text before it
/// (the command's last output, when it did not end its line: `Write-Host -NoNewline`,
/// `[Console]::Write`; blank when there was none) and the code. `None` when `line` does not
/// end with that marker: a marker without that nonce, or with text after it, is output.
/// Only the nonce makes this safe: output cannot end with a marker it does not know.
pub fn split_result<'a>(line: &'a str, nonce: &Nonce) -> Option<(&'a str, i32)> {
    let line = line.trim_end().trim_start_matches('\u{feff}');
    let start = format!("{MARKER_START}{nonce}:");
    let at = line.rfind(&start)?;
    let code = line[at + start.len()..].strip_suffix(MARKER_END)?.parse::<i32>().ok()?;
    Some((&line[..at], code))
}

/// `before`, the text [`split_result`] found before a result line, as output: its line ended,
/// nothing when it is blank.
fn ended(before: &str) -> String {
    if before.trim().is_empty() { String::new() } else { format!("{before}\n") }
}

/// One stream (standard output or standard error) of a process that runs many wrapped
/// commands one after the other (a shell kept for a session), read line by line: a command's
/// text on that stream ends at the first result line with its [`Nonce`]. The transport writes
/// a command only once the previous one was read to the result lines of both streams, and a
/// command cut short (timeout, a dropped future) is killed with its process, so no earlier
/// command's output can still be on its way; the nonce keeps the command's own output from
/// ending it (a forged result line is text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    text: String,
    nonce: Nonce,
}

impl Reader {
    /// A reader of the command whose result lines carry `nonce`.
    pub fn new(nonce: Nonce) -> Self {
        Self { text: String::new(), nonce }
    }

    /// Takes one line as read (its end included): `Some(code)` when it ends with the result
    /// line, which is not kept (text before it on the line is, its line ended); the command's text on this stream is then complete ([`Reader::take`]).
    pub fn line(&mut self, line: &str) -> Option<i32> {
        match split_result(line, &self.nonce) {
            Some((before, code)) if line.ends_with('\n') => {
                self.text.push_str(&ended(before));
                Some(code)
            }
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

/// `stderr` without its result line for `nonce` (the wrapper writes one there too), when it
/// has one.
pub fn strip_stderr(stderr: &str, nonce: &Nonce) -> String {
    open(stderr, nonce).map_or_else(|| stderr.to_owned(), |o| o.stdout)
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

/// Reads the result line of the command of `nonce`: the end of the last line of `stdout` (a
/// command's own output cannot end after it; only blank lines may; output that did not end
/// its line is before it on that line, and kept, its line ended). `None` when there is none,
/// or when the last line ends with a result line with another nonce or none (the command's
/// own output).
pub fn open(stdout: &str, nonce: &Nonce) -> Option<Opened> {
    // A byte-order mark some hosts write before the first output.
    let stdout = stdout.strip_prefix('\u{feff}').unwrap_or(stdout);
    let mut end = stdout.len();
    // Walk the lines from the end: only blank lines may follow the result line.
    loop {
        let text = &stdout[..end];
        let line_start = text.trim_end_matches(['\r', '\n']).rfind('\n').map_or(0, |i| i + 1);
        let line = &text[line_start..];
        if line.trim().is_empty() {
            if line_start == 0 {
                return None;
            }
            end = line_start;
            continue;
        }
        let (before, code) = split_result(line, nonce)?;
        return Some(Opened { exit_code: code, stdout: format!("{}{}", &stdout[..line_start], ended(before)) });
    }
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;

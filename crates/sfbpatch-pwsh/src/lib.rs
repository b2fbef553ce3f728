//! PowerShell text for sfbpatch.
//!
//! Everything sfbpatch sends to a server is PowerShell source text. This crate owns the two
//! ends of that contract:
//!
//! * [`Command`] and [`literal`] *build* text: a command is a name plus typed arguments, and
//!   every value that comes from input is rendered as a single-quoted PowerShell literal that
//!   cannot break out of its argument (PowerShell's verbatim-string rules, including the
//!   typographic single quotes PowerShell also accepts as quotes).
//! * [`syntax`] *checks* text with a real PowerShell grammar (tree-sitter-powershell): tests
//!   and, later, the simulator parse every command and script sfbpatch emits.
//!
//! The crate does no I/O.

pub mod syntax;

use std::fmt;

/// The characters PowerShell treats as a single quote inside and around a verbatim string:
/// `'` and the typographic quotes U+2018, U+2019, U+201A, U+201B.
const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Renders `value` as a single-quoted (verbatim) PowerShell string literal.
///
/// Inside single quotes PowerShell expands nothing (`$`, backtick, `;` and `"` are plain
/// characters); the only way out is a single quote, and each one is doubled. Any input string
/// therefore comes back as exactly one literal whose value is `value`.
///
/// ```
/// assert_eq!(sfbpatch_pwsh::literal("sql01.contoso.com"), "'sql01.contoso.com'");
/// assert_eq!(sfbpatch_pwsh::literal("it's"), "'it''s'");
/// ```
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Decodes a verbatim string literal produced by [`literal`] (or written by hand): strips the
/// outer quotes and un-doubles inner quotes. Returns `None` when `text` is not one literal.
pub fn unliteral(text: &str) -> Option<String> {
    let mut chars = text.chars();
    let first = chars.next()?;
    let last = chars.next_back()?;
    if !SINGLE_QUOTES.contains(&first) || !SINGLE_QUOTES.contains(&last) {
        return None;
    }
    let inner: Vec<char> = chars.collect();
    let mut out = String::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if SINGLE_QUOTES.contains(&c) {
            // A quote inside must be doubled (PowerShell pairs any two quote characters).
            if i + 1 < inner.len() && SINGLE_QUOTES.contains(&inner[i + 1]) {
                out.push(c);
                i += 2;
                continue;
            }
            return None;
        }
        out.push(c);
        i += 1;
    }
    Some(out)
}

/// A token that sfbpatch itself wrote, never derived from input: a cmdlet or program name,
/// a parameter name, or a bare argument such as `/silentmode` or `stop`.
///
/// Only characters that PowerShell reads as part of one bare word are allowed; anything else
/// is refused by [`Word::new`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Word(String);

/// Returned when a would-be [`Word`] contains a character that could end or change a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a plain PowerShell word (allowed: letters, digits, and - / : . _ =)")]
pub struct NotAWord(pub String);

impl Word {
    /// Accepts letters, digits and `- / : . _ =`, at least one character, not starting with
    /// `:` or `.` (which PowerShell would read as a drive or member access).
    pub fn new(text: &str) -> Result<Self, NotAWord> {
        let ok = !text.is_empty()
            && !text.starts_with([':', '.'])
            && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | ':' | '.' | '_' | '='));
        if ok { Ok(Self(text.to_owned())) } else { Err(NotAWord(text.to_owned())) }
    }

    /// A word written into sfbpatch's own source (a cmdlet, parameter or switch name).
    /// Never call it with text derived from input: use [`Word::new`]. Debug builds check it.
    pub fn fixed(text: &'static str) -> Self {
        debug_assert!(Word::new(text).is_ok(), "{text:?} is not a plain word");
        Self(text.to_owned())
    }

    /// The word as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One argument of a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `-Name`: a switch parameter.
    Switch(Word),
    /// `-Name 'value'`: a named parameter whose value is rendered as a literal.
    Named(Word, String),
    /// A bare word written by sfbpatch (`stop`, `/silentmode`).
    Bare(Word),
    /// A positional value rendered as a literal.
    Value(String),
    /// `-Name 'a', 'b'`: a named parameter whose value is an array, each item a literal
    /// (`Start-Process -ArgumentList` takes a string array, its reference says).
    NamedList(Word, Vec<String>),
    /// PowerShell source written by sfbpatch itself (for example an expandable string
    /// that reads an environment variable). Never built from input.
    Raw(&'static str),
}

/// How a [`Command`] is invoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// A cmdlet or program found by name on the path (`Stop-CsWindowsService`, `net`).
    Name(Word),
    /// A program at a path, run with the call operator: `& 'C:\path\setup.exe'`.
    Path(String),
}

/// A single PowerShell command: what to invoke and its arguments, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// What runs.
    pub invocation: Invocation,
    /// Its arguments, rendered left to right.
    pub args: Vec<Arg>,
}

impl Command {
    /// A command invoked by name.
    pub fn named(name: Word) -> Self {
        Self { invocation: Invocation::Name(name), args: Vec::new() }
    }

    /// A program invoked by path with the call operator.
    pub fn path(path: impl Into<String>) -> Self {
        Self { invocation: Invocation::Path(path.into()), args: Vec::new() }
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }

    /// The number of command elements (parameters and arguments, a named parameter's value
    /// counting separately) that PowerShell sees after the command name.
    pub fn element_count(&self) -> usize {
        self.args
            .iter()
            .map(|a| match a {
                Arg::Named(..) | Arg::NamedList(..) => 2,
                _ => 1,
            })
            .sum()
    }

    /// The PowerShell source text of this command.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.invocation {
            Invocation::Name(w) => write!(f, "{w}")?,
            Invocation::Path(p) => write!(f, "& {}", literal(p))?,
        }
        for a in &self.args {
            match a {
                Arg::Switch(w) => write!(f, " -{w}")?,
                Arg::Named(w, v) => write!(f, " -{w} {}", literal(v))?,
                Arg::Bare(w) => write!(f, " {w}")?,
                Arg::Value(v) => write!(f, " {}", literal(v))?,
                Arg::NamedList(w, items) => {
                    write!(f, " -{w} ")?;
                    if items.is_empty() {
                        f.write_str("@()")?;
                    }
                    for (i, v) in items.iter().enumerate() {
                        let sep = if i == 0 { "" } else { ", " };
                        write!(f, "{sep}{}", literal(v))?;
                    }
                }
                Arg::Raw(r) => write!(f, " {r}")?,
            }
        }
        Ok(())
    }
}

/// A variable's scope modifier, as PowerShell writes it before a colon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `$global:` — the session's top scope (where `$LASTEXITCODE` lives).
    Global,
}

/// A variable sfbpatch writes itself (`$sfbpatchInstaller`, `$global:LASTEXITCODE`): never a
/// name taken from input. Only letters, digits and `_`, so the name is one token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Variable {
    scope: Option<Scope>,
    name: &'static str,
}

/// Whether `text` is a plain identifier: ASCII letters, digits and `_`, not empty.
fn is_ident(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Variable {
    /// `$name`, a variable of the current scope. Debug builds check the name.
    pub fn fixed(name: &'static str) -> Self {
        debug_assert!(is_ident(name), "{name:?} is not a plain variable name");
        Self { scope: None, name }
    }

    /// `$global:name`.
    pub fn global(name: &'static str) -> Self {
        Self { scope: Some(Scope::Global), ..Self::fixed(name) }
    }

    /// Its scope modifier, if any.
    pub fn scope(&self) -> Option<Scope> {
        self.scope
    }

    /// Its name, without `$` and scope.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Some(Scope::Global) => write!(f, "$global:{}", self.name),
            None => write!(f, "${}", self.name),
        }
    }
}

/// One statement sfbpatch writes: a command, or one of the two assignments the update
/// installer needs (DOMAIN.md §5: a GUI program started with `Start-Process -Wait
/// -PassThru` gives its exit code only as the process object's `.ExitCode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A command; its output goes to the output stream.
    Command(Command),
    /// `$var = <command>`: the command's output (an object) kept in a variable, not printed.
    Capture(Variable, Command),
    /// `$target = $source.Member`: a property of an object copied into a variable.
    Member {
        /// The variable assigned.
        target: Variable,
        /// The variable holding the object.
        source: Variable,
        /// The property read (letters, digits and `_`).
        member: &'static str,
    },
}

impl Line {
    /// `$target = $source.member`. Debug builds check the member name.
    pub fn member(target: Variable, source: Variable, member: &'static str) -> Self {
        debug_assert!(is_ident(member), "{member:?} is not a plain member name");
        Line::Member { target, source, member }
    }

    /// The PowerShell source text of this statement.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

impl From<Command> for Line {
    fn from(c: Command) -> Self {
        Line::Command(c)
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Command(c) => write!(f, "{c}"),
            Line::Capture(v, c) => write!(f, "{v} = {c}"),
            Line::Member { target, source, member } => write!(f, "{target} = {source}.{member}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Word {
        Word::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn literal_doubles_every_kind_of_single_quote() {
        assert_eq!(literal("a'b"), "'a''b'");
        assert_eq!(literal("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(literal(""), "''");
        assert_eq!(literal("$x;`n\""), "'$x;`n\"'");
    }

    #[test]
    fn unliteral_inverts_literal() {
        for s in ["", "x", "it's", "‘’‚‛", "a''b", "; rm -r C:\\ #"] {
            assert_eq!(unliteral(&literal(s)).as_deref(), Some(s));
        }
        assert_eq!(unliteral("'a'b'"), None);
        assert_eq!(unliteral("a"), None);
    }

    #[test]
    fn words_refuse_token_breaking_characters() {
        for bad in ["", "a b", "a;b", "a'b", "$x", "a`b", "a\"b", ".x", "a|b", "a(b"] {
            assert!(Word::new(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["Stop-CsWindowsService", "/silentmode", "w3svc", "-x", "/log:a.txt"] {
            assert!(Word::new(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn renders_named_switch_and_path_commands() {
        let c = Command::named(w("Install-CsDatabase"))
            .arg(Arg::Switch(w("Update")))
            .arg(Arg::Named(w("SqlServerFqdn"), "sql01.contoso.com".into()));
        assert_eq!(c.render(), "Install-CsDatabase -Update -SqlServerFqdn 'sql01.contoso.com'");
        assert_eq!(c.element_count(), 3);
        let c = Command::path(r"C:\stage\x.exe").arg(Arg::Bare(w("/silentmode")));
        assert_eq!(c.render(), r"& 'C:\stage\x.exe' /silentmode");
    }

    #[test]
    fn renders_lists_captures_and_members() {
        let c = Command::named(w("Start-Process"))
            .arg(Arg::Named(w("FilePath"), r"C:\it's\x.exe".into()))
            .arg(Arg::NamedList(w("ArgumentList"), vec!["/silentmode".into(), "/forcereboot".into()]))
            .arg(Arg::Switch(w("Wait")));
        assert_eq!(c.element_count(), 5);
        let p = Variable::fixed("sfbpatchInstaller");
        let capture = Line::Capture(p.clone(), c);
        assert_eq!(
            capture.render(),
            r"$sfbpatchInstaller = Start-Process -FilePath 'C:\it''s\x.exe' -ArgumentList '/silentmode', '/forcereboot' -Wait"
        );
        let m = Line::member(Variable::global("LASTEXITCODE"), p, "ExitCode");
        assert_eq!(m.render(), "$global:LASTEXITCODE = $sfbpatchInstaller.ExitCode");
        let empty = Command::named(w("X")).arg(Arg::NamedList(w("L"), Vec::new()));
        assert_eq!(empty.render(), "X -L @()");
        assert_eq!(Line::from(Command::named(w("Get-Date"))).render(), "Get-Date");
    }
}

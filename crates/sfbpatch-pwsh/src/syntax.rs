//! Checking PowerShell text with a real grammar (tree-sitter-powershell).
//!
//! [`parse`] turns source text into [`Statement`]s, or a [`SyntaxError`] that names the line
//! and column of the first error the grammar found. sfbpatch's tests run every command and
//! script it emits through here; the simulator executes commands from the same structure,
//! so text that a real shell would read differently fails in rehearsal too.

use std::cell::RefCell;
use std::fmt;

use tree_sitter::{Node, Parser};

/// Where and why PowerShell text does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    /// 1-based line of the first error.
    pub line: usize,
    /// 1-based column (in characters) of the first error.
    pub column: usize,
    /// The text of the offending node, shortened.
    pub near: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PowerShell syntax error at line {}, column {}, near {:?}", self.line, self.column, self.near)
    }
}

/// What a command invokes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandName {
    /// A bare name: a cmdlet, function, alias or program on the path.
    Name(String),
    /// The call operator with a quoted path: `& 'C:\x\setup.exe'` (the decoded path).
    Path(String),
    /// Anything else after the call operator (a variable, a script block, …): its text.
    Expression(String),
}

/// One element after a command's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    /// `-Name` or `-Name:value` (the text after the dash).
    Parameter(String),
    /// A verbatim (single-quoted) string, decoded.
    Literal(String),
    /// A bare word such as `stop` or `/silentmode`.
    Bare(String),
    /// An array of two or more verbatim strings, `'a', 'b'`, decoded (one literal alone is a
    /// [`Element::Literal`]).
    List(Vec<String>),
    /// Any other expression (double-quoted strings, variables, sub-expressions): its text and
    /// the grammar's node kind.
    Expression {
        /// The tree-sitter node kind.
        kind: String,
        /// The source text.
        text: String,
    },
}

/// A simple command: one name and its elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedCommand {
    /// What is invoked.
    pub name: CommandName,
    /// The parameters and arguments, in order.
    pub elements: Vec<Element>,
}

/// A variable as written: `$name` or `$scope:name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableRef {
    /// The scope modifier (`global`, `script`, `local`, `private`), as written.
    pub scope: Option<String>,
    /// The name (letters, digits and `_`), as written.
    pub name: String,
}

impl VariableRef {
    /// Whether this is the variable `name` (PowerShell's names are case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// What an assignment stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assigned {
    /// The output of one simple command: `$p = Start-Process …`.
    Command(ParsedCommand),
    /// One property of a variable's value: `$p.ExitCode`.
    Member {
        /// The variable read.
        variable: VariableRef,
        /// The property, as written.
        member: String,
    },
}

/// A top-level statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// A pipeline of exactly one simple command, with no redirection.
    Command(ParsedCommand),
    /// `$variable = <value>` with `=` and one of the values of [`Assigned`].
    Assign {
        /// The variable assigned.
        variable: VariableRef,
        /// What it gets.
        value: Assigned,
    },
    /// Anything else (other assignments, `if`, pipelines of several commands, …).
    Other {
        /// The tree-sitter node kind.
        kind: String,
        /// The source text.
        text: String,
    },
}

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Returned when the grammar cannot be loaded into the parser (a build problem, not input).
#[derive(Clone, Debug, thiserror::Error)]
#[error("the PowerShell grammar could not be loaded: {0}")]
pub struct GrammarError(String);

/// Why [`parse`] failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ParseError {
    /// The text has a syntax error.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// The grammar itself could not be used.
    #[error(transparent)]
    Grammar(#[from] GrammarError),
}

fn with_parser<T>(f: impl FnOnce(&mut Parser) -> Result<T, ParseError>) -> Result<T, ParseError> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_powershell::LANGUAGE.into()).map_err(|e| GrammarError(e.to_string()))?;
            *slot = Some(p);
        }
        match slot.as_mut() {
            Some(p) => f(p),
            None => Err(GrammarError("parser unavailable".into()).into()),
        }
    })
}

/// Parses `src` and returns its top-level statements, or the first syntax error.
pub fn parse(src: &str) -> Result<Vec<Statement>, ParseError> {
    with_parser(|p| {
        let tree = p.parse(src, None).ok_or_else(|| GrammarError("the parser returned no tree".into()))?;
        let root = tree.root_node();
        if root.has_error() {
            return Err(first_error(root, src).into());
        }
        let mut out = Vec::new();
        collect_statements(root, src, &mut out);
        Ok(out)
    })
}

/// Checks that `src` parses without any error or missing node.
pub fn check(src: &str) -> Result<(), ParseError> {
    parse(src).map(|_| ())
}

fn text<'a>(n: Node, src: &'a str) -> &'a str {
    src.get(n.byte_range()).unwrap_or("")
}

fn first_error(root: Node, src: &str) -> SyntaxError {
    let mut stack = vec![root];
    let mut found = root;
    while let Some(n) = stack.pop() {
        if n.is_error() || n.is_missing() {
            found = n;
            // Prefer the innermost: keep descending into an ERROR node's children.
            let mut c = n.walk();
            let kids: Vec<Node> = n.children(&mut c).filter(|k| k.has_error()).collect();
            if kids.is_empty() {
                break;
            }
            stack.clear();
            stack.extend(kids.into_iter().rev());
            continue;
        }
        if n.has_error() {
            let mut c = n.walk();
            let kids: Vec<Node> = n.children(&mut c).collect();
            stack.extend(kids.into_iter().rev());
        }
    }
    let start = found.start_byte();
    let before = src.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let near: String = text(found, src).chars().take(40).collect();
    SyntaxError { line, column, near }
}

fn collect_statements(n: Node, src: &str, out: &mut Vec<Statement>) {
    let mut c = n.walk();
    for child in n.children(&mut c) {
        match child.kind() {
            "statement_list" => collect_statements(child, src, out),
            "empty_statement" | "comment" => {}
            "pipeline" => out.push(pipeline(child, src)),
            kind => out.push(Statement::Other { kind: kind.to_owned(), text: text(child, src).to_owned() }),
        }
    }
}

fn other(n: Node, src: &str) -> Statement {
    Statement::Other { kind: n.kind().to_owned(), text: text(n, src).to_owned() }
}

fn named_children(n: Node) -> Vec<Node> {
    let mut c = n.walk();
    n.named_children(&mut c).collect()
}

fn pipeline(n: Node, src: &str) -> Statement {
    let parsed = match named_children(n).as_slice() {
        [a] if a.kind() == "assignment_expression" => assignment(*a, src),
        _ => simple_command(n, src).map(Statement::Command),
    };
    parsed.unwrap_or_else(|| other(n, src))
}

/// The one simple command of a pipeline node, if that is all it holds.
fn simple_command(n: Node, src: &str) -> Option<ParsedCommand> {
    let chains = named_children(n);
    let [chain] = chains.as_slice() else { return None };
    if chain.kind() != "pipeline_chain" {
        return None;
    }
    let cmds = named_children(*chain);
    let [cmd] = cmds.as_slice() else { return None };
    if cmd.kind() != "command" {
        return None;
    }
    command(*cmd, src)
}

/// Goes down through the grammar's wrapping nodes (one named child each) to the first node
/// of kind `kind`.
fn innermost<'t>(n: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut cur = n;
    loop {
        if cur.kind() == kind {
            return Some(cur);
        }
        match named_children(cur).as_slice() {
            [only] => cur = *only,
            _ => return None,
        }
    }
}

/// `$name` or `$scope:name` with a plain name; `None` for anything else (`${…}`, `$env:`).
fn variable(text: &str) -> Option<VariableRef> {
    let rest = text.strip_prefix('$')?;
    let (scope, name) = match rest.split_once(':') {
        Some((scope, name)) => {
            let known = ["global", "script", "local", "private"].iter().any(|k| k.eq_ignore_ascii_case(scope));
            if !known {
                return None;
            }
            (Some(scope.to_owned()), name)
        }
        None => (None, rest),
    };
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| VariableRef { scope, name: name.to_owned() })
}

/// `$v = <one simple command>` or `$v = $w.Member`, with the plain `=` operator.
fn assignment(n: Node, src: &str) -> Option<Statement> {
    let kids = named_children(n);
    let [left, op, value] = kids.as_slice() else { return None };
    if op.kind() != "assignement_operator" || text(*op, src) != "=" {
        return None;
    }
    let var = variable(text(innermost(*left, "variable")?, src))?;
    let value = if value.kind() == "pipeline"
        && let Some(c) = simple_command(*value, src)
    {
        Assigned::Command(c)
    } else {
        let access = innermost(*value, "member_access")?;
        let [object, member] = named_children(access)[..] else { return None };
        if object.kind() != "variable" || member.kind() != "member_name" {
            return None;
        }
        let name = text(member, src);
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        Assigned::Member { variable: variable(text(object, src))?, member: name.to_owned() }
    };
    Some(Statement::Assign { variable: var, value })
}

fn command(n: Node, src: &str) -> Option<ParsedCommand> {
    let mut name = None;
    let mut elements = Vec::new();
    for child in named_children(n) {
        match child.kind() {
            "command_name" => name = Some(CommandName::Name(text(child, src).to_owned())),
            "command_invokation_operator" => {}
            "command_name_expr" => {
                let t = text(child, src);
                name = Some(match crate::unliteral(t) {
                    Some(p) => CommandName::Path(p),
                    None => CommandName::Expression(t.to_owned()),
                });
            }
            "command_elements" => {
                for e in named_children(child) {
                    match e.kind() {
                        "command_argument_sep" => {}
                        "command_parameter" => {
                            let t = text(e, src);
                            elements.push(Element::Parameter(t.strip_prefix('-').unwrap_or(t).to_owned()));
                        }
                        "generic_token" => elements.push(Element::Bare(text(e, src).to_owned())),
                        "redirection" | "redirections" => return None,
                        _ => {
                            let t = text(e, src);
                            let lit = crate::unliteral(t).filter(|_| is_verbatim(e));
                            elements.push(match (lit, verbatim_list(e, src)) {
                                (Some(v), _) => Element::Literal(v),
                                (None, Some(items)) => Element::List(items),
                                (None, None) => Element::Expression { kind: e.kind().to_owned(), text: t.to_owned() },
                            });
                        }
                    }
                }
            }
            "redirections" | "redirection" => return None,
            _ => return None,
        }
    }
    name.map(|name| ParsedCommand { name, elements })
}

/// The decoded items of an array of two or more verbatim strings (`'a', 'b'`).
fn verbatim_list(n: Node, src: &str) -> Option<Vec<String>> {
    if n.kind() != "array_literal_expression" {
        return None;
    }
    let items = named_children(n);
    if items.len() < 2 {
        return None;
    }
    items.into_iter().map(|i| crate::unliteral(text(i, src)).filter(|_| is_verbatim(i))).collect()
}

/// True when `n` is nothing but one verbatim string literal (possibly wrapped in the
/// grammar's expression nodes).
fn is_verbatim(n: Node) -> bool {
    let mut cur = n;
    loop {
        if cur.kind() == "verbatim_string_characters" {
            return true;
        }
        let kids = named_children(cur);
        match kids.as_slice() {
            [only] => cur = *only,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> ParsedCommand {
        match parse(src) {
            Ok(v) => match v.as_slice() {
                [Statement::Command(c)] => c.clone(),
                other => panic!("not one command: {other:?}"),
            },
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parses_cmdlet_with_parameters_and_literal() {
        let c = one("Install-CsDatabase -Update -SqlServerFqdn 'sql01.contoso.com' -ExcludeCollocatedStores");
        assert_eq!(c.name, CommandName::Name("Install-CsDatabase".into()));
        assert_eq!(
            c.elements,
            vec![
                Element::Parameter("Update".into()),
                Element::Parameter("SqlServerFqdn".into()),
                Element::Literal("sql01.contoso.com".into()),
                Element::Parameter("ExcludeCollocatedStores".into()),
            ]
        );
    }

    #[test]
    fn parses_call_operator_with_quoted_path() {
        let c = one(r"& 'C:\stage\it''s.exe' /silentmode");
        assert_eq!(c.name, CommandName::Path(r"C:\stage\it's.exe".into()));
        assert_eq!(c.elements, vec![Element::Bare("/silentmode".into())]);
    }

    #[test]
    fn two_statements_are_two() {
        let v = parse("Get-Date; net stop w3svc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn unterminated_string_is_a_syntax_error_with_position() {
        match parse("Get-Date\nGet-X 'a") {
            Err(ParseError::Syntax(e)) => assert_eq!(e.line, 2),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn assignments_of_a_command_and_of_a_member_are_typed() {
        let src = "$sfbpatchInstaller = Start-Process -FilePath 'C:\\it''s.exe' -ArgumentList '/silentmode', '/x' -Wait -PassThru; $global:LASTEXITCODE = $sfbpatchInstaller.ExitCode";
        let v = parse(src).unwrap_or_else(|e| panic!("{e}"));
        let installer = VariableRef { scope: None, name: "sfbpatchInstaller".into() };
        assert_eq!(
            v,
            vec![
                Statement::Assign {
                    variable: installer.clone(),
                    value: Assigned::Command(ParsedCommand {
                        name: CommandName::Name("Start-Process".into()),
                        elements: vec![
                            Element::Parameter("FilePath".into()),
                            Element::Literal("C:\\it's.exe".into()),
                            Element::Parameter("ArgumentList".into()),
                            Element::List(vec!["/silentmode".into(), "/x".into()]),
                            Element::Parameter("Wait".into()),
                            Element::Parameter("PassThru".into()),
                        ],
                    }),
                },
                Statement::Assign {
                    variable: VariableRef { scope: Some("global".into()), name: "LASTEXITCODE".into() },
                    value: Assigned::Member { variable: installer, member: "ExitCode".into() },
                },
            ]
        );
    }

    #[test]
    fn other_assignments_stay_other() {
        for src in [
            "$x += Get-Date",
            "$x = Get-Date | Out-String",
            "$x = $a.b.c",
            "$env:X = $p.ExitCode",
            "${x} = $p.ExitCode",
            "$x = 1",
            "$x = @(Get-Date)",
            "$x = $p.ExitCode()",
        ] {
            let v = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert!(matches!(v.as_slice(), [Statement::Other { .. }]), "{src}: {v:?}");
        }
        let c = one("Get-X -L 'a', $b");
        assert!(matches!(&c.elements[1], Element::Expression { .. }), "{c:?}");
    }

    #[test]
    fn double_quoted_string_is_an_expression_not_a_literal() {
        let c = one("Get-CsAdminRoleAssignment -Identity \"$env:USERDOMAIN\\$env:USERNAME\"");
        assert!(matches!(&c.elements[1], Element::Expression { .. }), "{c:?}");
    }
}

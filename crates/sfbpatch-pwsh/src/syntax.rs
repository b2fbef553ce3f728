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

/// A top-level statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    /// A pipeline of exactly one simple command, with no redirection.
    Command(ParsedCommand),
    /// Anything else (assignments, `if`, pipelines of several commands, …).
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
    let chains = named_children(n);
    let [chain] = chains.as_slice() else {
        return other(n, src);
    };
    if chain.kind() != "pipeline_chain" {
        return other(n, src);
    }
    let cmds = named_children(*chain);
    let [cmd] = cmds.as_slice() else {
        return other(n, src);
    };
    if cmd.kind() != "command" {
        return other(n, src);
    }
    match command(*cmd, src) {
        Some(pc) => Statement::Command(pc),
        None => other(n, src),
    }
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
                            elements.push(match lit {
                                Some(v) => Element::Literal(v),
                                None => Element::Expression { kind: e.kind().to_owned(), text: t.to_owned() },
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
    fn double_quoted_string_is_an_expression_not_a_literal() {
        let c = one("Get-CsAdminRoleAssignment -Identity \"$env:USERDOMAIN\\$env:USERNAME\"");
        assert!(matches!(&c.elements[1], Element::Expression { .. }), "{c:?}");
    }
}

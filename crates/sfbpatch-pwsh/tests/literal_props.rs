//! Property: a value rendered with `literal` is always exactly one argument to a real
//! PowerShell parser, and decodes back to itself, whatever characters it holds.

use proptest::prelude::*;
use sfbpatch_pwsh::syntax::{self, Assigned, CommandName, Element, Statement};
use sfbpatch_pwsh::{Arg, Command, Line, Variable, Word};

fn word(s: &str) -> Word {
    Word::new(s).unwrap_or_else(|e| panic!("{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_string_stays_one_literal_argument(value in "[^\u{0}]{0,40}") {
        let cmd = Command::named(word("Install-CsDatabase"))
            .arg(Arg::Switch(word("Update")))
            .arg(Arg::Named(word("SqlServerFqdn"), value.clone()))
            .arg(Arg::Switch(word("ExcludeCollocatedStores")));
        let text = cmd.render();
        let parsed = syntax::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(parsed.len(), 1, "statements in {}", text);
        let Statement::Command(c) = &parsed[0] else { return Err(TestCaseError::fail(format!("not a command: {text}"))) };
        prop_assert_eq!(&c.name, &CommandName::Name("Install-CsDatabase".into()));
        prop_assert_eq!(c.elements.len(), cmd.element_count(), "elements of {}", text);
        prop_assert_eq!(&c.elements[2], &Element::Literal(value));
    }

    #[test]
    fn any_path_stays_the_invoked_program(path in "[^\u{0}]{1,40}") {
        let cmd = Command::path(path.clone()).arg(Arg::Bare(word("/silentmode")));
        let text = cmd.render();
        let parsed = syntax::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(parsed.len(), 1);
        let Statement::Command(c) = &parsed[0] else { return Err(TestCaseError::fail(format!("not a command: {text}"))) };
        prop_assert_eq!(&c.name, &CommandName::Path(path));
        prop_assert_eq!(&c.elements, &vec![Element::Bare("/silentmode".into())]);
    }

    /// The installer's two statements (DOMAIN.md §5): whatever the path and the arguments,
    /// they stay a capture of one `Start-Process` with that path and those items, then the
    /// exit code copied.
    #[test]
    fn any_path_and_arguments_stay_inside_the_start_process_capture(
        path in "[^\u{0}]{1,40}",
        items in proptest::collection::vec("[^\u{0}]{0,12}", 2..4),
    ) {
        let start = Command::named(word("Start-Process"))
            .arg(Arg::Named(word("FilePath"), path.clone()))
            .arg(Arg::NamedList(word("ArgumentList"), items.clone()))
            .arg(Arg::Switch(word("Wait")))
            .arg(Arg::Switch(word("PassThru")));
        let p = Variable::fixed("sfbpatchInstaller");
        let text = [Line::Capture(p.clone(), start), Line::member(Variable::global("LASTEXITCODE"), p, "ExitCode")]
            .iter()
            .map(Line::render)
            .collect::<Vec<_>>()
            .join("; ");
        let parsed = syntax::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(parsed.len(), 2, "statements in {}", text);
        let Statement::Assign { value: Assigned::Command(c), .. } = &parsed[0] else {
            return Err(TestCaseError::fail(format!("not a capture: {text}")));
        };
        prop_assert_eq!(&c.name, &CommandName::Name("Start-Process".into()));
        prop_assert_eq!(&c.elements[1], &Element::Literal(path));
        prop_assert_eq!(&c.elements[3], &Element::List(items));
        prop_assert_eq!(c.elements.len(), 6);
        let is_member = matches!(&parsed[1], Statement::Assign { value: Assigned::Member { .. }, .. });
        prop_assert!(is_member, "{:?}", parsed[1]);
    }
}

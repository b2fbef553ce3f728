//! Fuzz targets on the stable toolchain (issue 13): the simulator's shell input as the
//! PowerShell parser reads it ([`syntax::parse`]), over arbitrary text and over lines built
//! from PowerShell's own pieces. Nothing may panic; an error renders a message. `fuzz_*` are
//! ignored (`scripts/fuzz` runs them); `smoke_*` run 64 cases in CI. Findings are kept in
//! `tests/fuzz.proptest-regressions`.

use proptest::prelude::*;
use sfbpatch_pwsh::syntax;

fn parse(src: &str) {
    if let Err(e) = syntax::parse(src) {
        assert!(!e.to_string().trim().is_empty());
    }
}

/// Statements from PowerShell's pieces: commands, parameters, literals, arrays, pipes,
/// assignments, blocks, quotes and here-strings left open or closed.
fn pwsh_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        "[A-Z][a-z]{1,8}-Cs[A-Za-z]{1,10}",
        "-[A-Za-z]{1,12}(:\\$(true|false))?",
        "'([^']|'')*'?",
        "\"[^\"`]{0,12}\"?",
        "\\$[A-Za-z_]{1,12}(\\.[A-Za-z]{1,8})?",
        "@\\(('[a-z]{0,4}',?){0,3}\\)?",
        "@'\n[ -~]{0,12}\n'@",
        Just("|".to_owned()),
        Just(";".to_owned()),
        Just("=".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("`".to_owned()),
        Just("\n".to_owned()),
        "[0-9]{1,10}",
        "[ -~]{0,6}",
    ];
    prop::collection::vec(token, 0..24).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn smoke_parse_text(s in any::<String>()) { parse(&s); }
    #[test]
    fn smoke_parse_pwsh(s in pwsh_soup()) { parse(&s); }
}

proptest! {
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_parse_text(s in any::<String>()) { parse(&s); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_parse_pwsh(s in pwsh_soup()) { parse(&s); }
}

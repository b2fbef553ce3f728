//! Fuzz targets on the stable toolchain (issue 13): the simulator's fault specifications
//! (`--fault SERVER:STEP:KIND`, [`sfbpatch_estate::fault::Fault`]) over arbitrary text and
//! over specs built from their parts. Nothing may panic; an error renders a message. `fuzz_*`
//! are ignored (`scripts/fuzz` runs them); `smoke_*` run 64 cases in CI. Findings are kept in
//! `tests/fuzz.proptest-regressions`.

use proptest::prelude::*;
use sfbpatch_estate::fault::Fault;

fn fault(spec: &str) {
    match spec.parse::<Fault>() {
        // What parses prints back as a spec that parses to the same fault.
        Ok(f) => assert_eq!(f.to_string().parse::<Fault>().ok(), Some(f)),
        Err(e) => assert!(!e.to_string().trim().is_empty()),
    }
}

fn spec_soup() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9.\\-]{0,24}",
        "(install-update|stop-services|start-services|test-databases|update-databases|[a-z\\-]{0,16})",
        "(fail|hang|reboot|disconnect|busy|no-credentials|slow=-?[0-9.eE+\\-]{0,12}|[ -~]{0,8})",
        "(:[ -~]{0,6})?",
    )
        .prop_map(|(s, st, k, extra)| format!("{s}:{st}:{k}{extra}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn smoke_fault_text(s in any::<String>()) { fault(&s); }
    #[test]
    fn smoke_fault_spec(s in spec_soup()) { fault(&s); }
}

proptest! {
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_fault_text(s in any::<String>()) { fault(&s); }
    #[test]
    #[ignore = "fuzz target: scripts/fuzz"]
    fn fuzz_fault_spec(s in spec_soup()) { fault(&s); }
}

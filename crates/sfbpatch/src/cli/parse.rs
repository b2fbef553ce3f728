//! The command line's value parsers: numbers in their ranges, builds, faults, steps, hooks.
//! Their errors are usage errors in the operator's language, read before clap knows `--lang`.

use sfbpatch_core::Lang;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_i18n::Args as TrArgs;
use sfbpatch_sim::fault::Fault;

/// A hook is the operator's own PowerShell, run as given: it must at least parse.
pub(crate) fn parse_hook(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(sfbpatch_i18n::text(usage_lang(), "cli.usage.hook-empty"));
    }
    sfbpatch_pwsh::syntax::check(s).map_err(|e| e.to_string())?;
    Ok(s.to_owned())
}

pub(crate) fn parse_failures(s: &str) -> Result<sfbpatch_engine::options::FailureBudget, String> {
    s.parse()
}

pub(crate) fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(not_a_number(s, false, 0.0, 1000.0)),
    }
}

/// The language of a usage error found while the command line is parsed, before `--lang` is
/// known to clap: `--lang` read from the arguments as given, else SFBPATCH_LANG and the
/// locale, as for every other message (`crate::language`). Clap's own words around it stay
/// English.
pub(crate) fn usage_lang() -> Lang {
    let args: Vec<String> = std::env::args().collect();
    let flag = args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--lang") {
        Some(v) if v.starts_with('=') => Some(v[1..].to_owned()),
        Some("") => args.get(i + 1).cloned(),
        _ => None,
    });
    crate::language(flag.as_deref())
}

/// "VALUE is not a number greater than LO (or at least LO) and at most HI", in the usage language.
pub(crate) fn not_a_number(s: &str, lo_included: bool, lo: f64, hi: f64) -> String {
    let key = if lo_included { "cli.usage.number-from" } else { "cli.usage.number-above" };
    let a = TrArgs::new().with("value", format!("{s:?}")).with("lo", lo).with("hi", hi);
    sfbpatch_i18n::fmt(usage_lang(), key, &a)
}

/// A finite number in `lo..=hi` (`lo` itself only when `lo_included`): NaN, infinities and
/// numbers out of range are usage errors (issue 13 item 8: a budget of 5e14 minutes or a NaN
/// mark made the outage timer spin; a NaN time scale was accepted).
pub(crate) fn parse_in_range(s: &str, lo: f64, lo_included: bool, hi: f64) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (f > lo || (lo_included && f == lo)) && f <= hi => Ok(f),
        _ => Err(not_a_number(s, lo_included, lo, hi)),
    }
}

/// `--outage-budget`: minutes, more than 0 and at most a day (1440).
pub(crate) fn parse_budget(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, false, 1440.0)
}

/// `--warn-before`: minutes, 0 to a day (1440).
pub(crate) fn parse_warn_before(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, true, 1440.0)
}

/// `--time-scale`: 0 (no waiting) to 1000 real seconds per virtual second.
pub(crate) fn parse_time_scale(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, true, 1000.0)
}

pub(crate) fn parse_build(s: &str) -> Result<Build, String> {
    s.parse()
}

pub(crate) fn parse_fault(s: &str) -> Result<Fault, String> {
    s.parse().map_err(|e: sfbpatch_sim::fault::FaultError| e.to_string())
}

pub(crate) fn parse_step(s: &str) -> Result<StepId, String> {
    s.parse().map_err(|_| {
        let ids: Vec<&str> = StepId::ALL.iter().map(|s| s.as_str()).collect();
        let a = TrArgs::new().with("value", format!("{s:?}")).with("steps", ids.join(", "));
        sfbpatch_i18n::fmt(usage_lang(), "cli.usage.unknown-step", &a)
    })
}

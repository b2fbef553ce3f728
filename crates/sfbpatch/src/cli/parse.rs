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
    use sfbpatch_pwsh::syntax::ParseError;
    sfbpatch_pwsh::syntax::check(s).map_err(|e| match e {
        ParseError::Syntax(e) => {
            let a = TrArgs::new().with("line", e.line).with("column", e.column).with("near", format!("{:?}", e.near));
            sfbpatch_i18n::fmt(usage_lang(), "cli.usage.hook.syntax", &a)
        }
        // The grammar unusable is a defect of sfbpatch, not of the hook.
        ParseError::Grammar(e) => {
            sfbpatch_i18n::fmt(usage_lang(), "cli.failure.internal", &TrArgs::new().with("why", e))
        }
    })?;
    Ok(s.to_owned())
}

/// `--max-failures`: `N` or `P%`; the refusal in the usage language.
/// `--shell`: a program to start, then its arguments; blanks name none (README, "Bad input",
/// B50: refused as the command line is read, before a run is recorded).
pub(crate) fn parse_shell(s: &str) -> Result<String, String> {
    if s.split_whitespace().next().is_none() {
        return Err(sfbpatch_i18n::text(usage_lang(), "cli.usage.shell-empty"));
    }
    Ok(s.to_owned())
}

pub(crate) fn parse_failures(s: &str) -> Result<sfbpatch_engine::options::FailureBudget, String> {
    use sfbpatch_engine::options::FailureBudgetError;
    s.parse().map_err(|e: FailureBudgetError| {
        let key = match e {
            FailureBudgetError::Percent => "cli.usage.failures.percent",
            FailureBudgetError::Count => "cli.usage.failures.count",
        };
        sfbpatch_i18n::fmt(usage_lang(), key, &TrArgs::new().with("value", format!("{s:?}")))
    })
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
    s.parse().map_err(|_| {
        sfbpatch_i18n::fmt(usage_lang(), "cli.usage.build.bad", &TrArgs::new().with("value", format!("{s:?}")))
    })
}

/// `--fault SERVER:STEP:KIND`; the refusal in the usage language, with what to give.
pub(crate) fn parse_fault(s: &str) -> Result<Fault, String> {
    use sfbpatch_sim::fault::FaultError;
    s.parse().map_err(|e: FaultError| {
        let quoted = |v: &str| format!("{v:?}");
        let (key, a) = match &e {
            FaultError::Shape(v) => ("cli.usage.fault.shape", TrArgs::new().with("value", quoted(v))),
            FaultError::Server(v) => ("cli.usage.fault.server", TrArgs::new().with("value", quoted(v))),
            FaultError::Step(v) => {
                ("cli.usage.fault.step", TrArgs::new().with("value", quoted(v)).with("steps", step_ids()))
            }
            FaultError::Kind(v) => ("cli.usage.fault.kind", TrArgs::new().with("value", quoted(v))),
            FaultError::RebootStep => ("cli.usage.fault.reboot-step", TrArgs::new()),
        };
        sfbpatch_i18n::fmt(usage_lang(), key, &a)
    })
}

/// Every step id, comma-separated.
fn step_ids() -> String {
    let ids: Vec<&str> = StepId::ALL.iter().map(|s| s.as_str()).collect();
    ids.join(", ")
}

pub(crate) fn parse_step(s: &str) -> Result<StepId, String> {
    s.parse().map_err(|_| {
        let a = TrArgs::new().with("value", format!("{s:?}")).with("steps", step_ids());
        sfbpatch_i18n::fmt(usage_lang(), "cli.usage.unknown-step", &a)
    })
}

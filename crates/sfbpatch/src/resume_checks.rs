//! `resume`'s checks of a run's stored numbers and safety settings (issue 13, "the journal is
//! trusted blindly"): every number is checked with the function (or range) the command line
//! checks it with, and refused with the field, the flag and the allowed range before anything
//! is recorded or contacted; the safety settings must be given again, equal.

use sfbpatch_core::Lang;
use sfbpatch_core::printable;
use sfbpatch_core::readback::Build;
use sfbpatch_i18n::{Args, fmt as tr, text as say};

use crate::Failure;
use crate::cli::{self, OnFailureArg, ResumeArgs};
use crate::engine_params::EngineParams;
use crate::plan_inputs::PlanInputs;

/// A stored number as the command line would have been given it (`1e300`, `-1.0`).
fn as_given(f: f64) -> String {
    format!("{f:?}")
}

/// The refusal of a stored number: its field, the flag it came from, why.
fn refuse(id: &str, field: &str, flag: &str, why: &str, lang: Lang) -> Failure {
    let a = Args::new()
        .with("id", printable::field(id))
        .with("field", field)
        .with("flag", flag)
        .with("why", printable::field(why));
    Failure::Message(tr(lang, "cli.resume-trust.bad-number", &a))
}

/// A float checked by the command line's own parser for `flag`.
fn float(
    id: &str,
    field: &str,
    flag: &str,
    f: f64,
    parse: fn(&str) -> Result<f64, String>,
    lang: Lang,
) -> Result<(), Failure> {
    parse(&as_given(f)).map(|_| ()).map_err(|why| refuse(id, field, flag, &why, lang))
}

/// A whole number checked against the command line's range for `flag`.
fn whole(
    id: &str,
    field: &str,
    flag: &str,
    n: Option<u64>,
    range: &impl std::ops::RangeBounds<i64>,
    lang: Lang,
) -> Result<(), Failure> {
    let Some(n) = n else { return Ok(()) };
    if i64::try_from(n).is_ok_and(|n| range.contains(&n)) {
        return Ok(());
    }
    let lo = match range.start_bound() {
        std::ops::Bound::Included(lo) => *lo,
        _ => 0,
    };
    let why = match range.end_bound() {
        std::ops::Bound::Included(hi) => {
            let a = Args::new().with("value", format!("\"{n}\"")).with("lo", lo).with("hi", *hi);
            tr(lang, "cli.usage.number-from", &a)
        }
        _ => tr(lang, "cli.resume-trust.at-least", &Args::new().with("value", format!("\"{n}\"")).with("lo", lo)),
    };
    Err(refuse(id, field, flag, &why, lang))
}

/// The plan request's numbers (`plan::plan` checks only that the budget is positive).
pub fn plan_numbers(id: &str, inputs: &PlanInputs, lang: Lang) -> Result<(), Failure> {
    let i = &inputs.request;
    float(id, "inputs.outage_budget_minutes", "--outage-budget", i.outage_budget_minutes, cli::parse_budget, lang)?;
    let max = i.max_parallel.map(|n| n as u64);
    whole(id, "inputs.max_parallel", "--max-parallel", max, &cli::MAX_PARALLEL, lang)?;
    let wait = i.failover_wait_minutes.map(u64::from);
    whole(id, "inputs.failover_wait_minutes", "--failover-wait", wait, &cli::FAILOVER_MINUTES, lang)?;
    let drain = i.draining_timeout_minutes.map(u64::from);
    whole(id, "inputs.draining_timeout_minutes", "--draining-timeout", drain, &cli::FAILOVER_MINUTES, lang)
}

/// The engine's numbers and the simulator's time scale. A stored `1e300` scale made the
/// engine panic (a `Duration` out of range) and left the run `running` with its leases.
pub fn engine_numbers(id: &str, e: &EngineParams, time_scale: f64, lang: Lang) -> Result<(), Failure> {
    float(id, "time_scale", "--time-scale", time_scale, cli::parse_time_scale, lang)?;
    float(id, "timeout_scale", "--timeout-scale", e.timeout_scale, cli::parse_scale, lang)?;
    float(id, "outage_budget", "--outage-budget", e.outage_budget, cli::parse_budget, lang)?;
    for w in &e.warn_before {
        float(id, "warn_before", "--warn-before", *w, cli::parse_warn_before, lang)?;
    }
    whole(id, "max_parallel", "--max-parallel", e.max_parallel.map(u64::from), &cli::MAX_PARALLEL, lang)?;
    // An unparsable budget was dropped silently (the run then had none): refused instead.
    if let Some(b) = &e.max_failures {
        cli::parse_failures(b).map_err(|_| {
            let why = tr(lang, "cli.resume-trust.failures", &Args::new().with("value", format!("\"{b}\"")));
            refuse(id, "max_failures", "--max-failures", &why, lang)
        })?;
    }
    Ok(())
}

/// The run's safety settings, given again: `--accept-resiliency` (an outage may pass the
/// budget), `--on-failure` (a failed server is brought back, or left stopped) and `--version`
/// (the build that counts as done: a server already at it is left alone).
///
/// Refused when they differ rather than taken from either side: taken from the journal, an
/// edit changes what the run does to the servers; taken silently from the resume's flags, a
/// resume typed without them changes a run's behaviour half-way (a run reviewed as `stop`
/// would restore, or the reverse). Asking for them again, as for programs and files, makes the
/// operator state each one; they are then the run's and the resume's alike.
pub fn switches(
    id: &str,
    stored: (bool, OnFailureArg, Option<&Build>),
    args: &ResumeArgs,
    lang: Lang,
) -> Result<(), Failure> {
    let differs = |flag: &str, s: String, g: String| {
        let a = Args::new().with("id", printable::field(id)).with("flag", flag).with("stored", s).with("given", g);
        Failure::Message(tr(lang, "cli.resume-trust.setting-differs", &a))
    };
    let on_off = |b: bool| say(lang, if b { "cli.resume-trust.on" } else { "cli.resume-trust.off" });
    if stored.0 != args.accept_resiliency {
        return Err(differs("--accept-resiliency", on_off(stored.0), on_off(args.accept_resiliency)));
    }
    if stored.1 != args.on_failure {
        let name = |o: OnFailureArg| match o {
            OnFailureArg::Restore => "restore",
            OnFailureArg::Stop => "stop",
        };
        return Err(differs("--on-failure", name(stored.1).to_owned(), name(args.on_failure).to_owned()));
    }
    if stored.2 != args.target_build.as_ref() {
        let show = |b: Option<&Build>| {
            b.map(|b| format!("\"{}\"", printable::field(&b.to_string())))
                .unwrap_or_else(|| say(lang, "cli.resume.nothing"))
        };
        return Err(differs("--version", show(stored.2), show(args.target_build.as_ref())));
    }
    Ok(())
}

/// A real transport's run always stores its package (`run` requires the file): a stored
/// transport edited from `sim` to a real one, with no package, would otherwise resume against
/// real servers with nothing asked again of the operator.
pub fn real_transport_has_package(
    id: &str,
    transport: cli::TransportArg,
    package: Option<&std::path::Path>,
    lang: Lang,
) -> Result<(), Failure> {
    use clap::ValueEnum;
    if transport == cli::TransportArg::Sim || package.is_some() {
        return Ok(());
    }
    let name = transport.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
    let a = Args::new().with("id", printable::field(id)).with("transport", name);
    Err(Failure::Message(tr(lang, "cli.resume-trust.no-package", &a)))
}

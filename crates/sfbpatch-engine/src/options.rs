//! How a run is asked to behave, and where an interrupted run left each server.

use std::collections::BTreeMap;
use std::time::Duration;

use sfbpatch_core::Fqdn;
use sfbpatch_core::Lang;
use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::vocab::ServerResult;

/// What to do when a step fails inside the outage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Bring service back where that is safe, then mark the server failed.
    #[default]
    Restore,
    /// Leave the server as it is and report.
    Stop,
}

/// Timeouts of a restart's stages.
#[derive(Clone, Copy, Debug)]
pub struct RebootTimeouts {
    /// From the request until the host stops answering (or its boot time changes).
    pub down: Duration,
    /// Until it answers again.
    pub back: Duration,
    /// Until its services answer.
    pub healthy: Duration,
    /// Between polls.
    pub poll: Duration,
}

impl Default for RebootTimeouts {
    fn default() -> Self {
        Self {
            down: Duration::from_secs(600),
            back: Duration::from_secs(1800),
            healthy: Duration::from_secs(900),
            poll: Duration::from_secs(15),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// At most this many servers at once (default: one per pool, every pool at once).
    pub max_parallel: Option<usize>,
    /// The outage budget in minutes.
    pub outage_budget_minutes: f64,
    /// Open an outage even when its projection reaches the budget.
    pub accept_resiliency: bool,
    /// Restore service, or stop, when a step fails inside the outage.
    pub on_failure: OnFailure,
    /// The build the package installs, when known (else: newer than before).
    pub target_build: Option<Build>,
    /// Warn when an open outage is this many minutes from the budget (e.g. 10 and 5).
    pub warn_before_budget: Vec<f64>,
    /// Extra attempts for steps safe to run twice.
    pub retries: u32,
    /// First back-off between attempts (doubles each time).
    pub backoff: Duration,
    /// Run on each server before it is touched; if it fails the server is not touched.
    pub pre_hook: Option<String>,
    /// Run on each server after it was updated.
    pub post_hook: Option<String>,
    /// Per-server hooks replacing the two above: FQDN → (pre, post).
    pub server_hooks: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Measured minutes of earlier runs, by (server, step): they replace the estimates in
    /// the outage projection.
    pub history_minutes: BTreeMap<(String, String), f64>,
    /// Restart stage timeouts.
    pub reboot: RebootTimeouts,
    /// Every wait (step, probe, hook and recovery timeouts, back-offs, restart stages and
    /// polls) is multiplied by this (1.0; smaller for fast test estates), through [`RunOptions::scaled`].
    pub timeout_scale: f64,
    /// The language of every sentence the engine writes (warnings, reasons, errors).
    pub lang: Lang,
    /// `--window-end`: after it no new server starts (those running finish).
    pub window: Option<Window>,
    /// `--max-failures`: once more servers than this have failed, no new server starts.
    pub max_failures: Option<FailureBudget>,
}

/// The maintenance window's end, as the run sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Milliseconds from the run's start (on the transport's clock, virtual in rehearsals) to
    /// the window's end; zero or less: it has already ended.
    pub remaining_ms: i64,
    /// The end as the operator gave it, for sentences.
    pub label: String,
}

impl Window {
    /// The end on the transport's clock, for a run that started at `start_ms`.
    pub fn end_ms(&self, start_ms: u64) -> u64 {
        if self.remaining_ms >= 0 {
            start_ms.saturating_add(self.remaining_ms.unsigned_abs())
        } else {
            start_ms.saturating_sub(self.remaining_ms.unsigned_abs())
        }
    }

    /// When each mark (minutes before the end) falls, for a run that started at `start_ms`:
    /// only marks still ahead of the start, latest mark (furthest from the end) first.
    pub fn mark_times(&self, start_ms: u64, marks: &[f64]) -> Vec<(f64, u64)> {
        let end = self.end_ms(start_ms);
        let mut v: Vec<(f64, u64)> = marks
            .iter()
            .filter(|m| m.is_finite() && **m > 0.0)
            .filter_map(|m| Some((*m, end.checked_sub((m * 60_000.0) as u64)?)))
            .filter(|(_, at)| *at >= start_ms && *at < end)
            .collect();
        v.sort_by_key(|(_, at)| *at);
        v.dedup_by_key(|(_, at)| *at);
        v
    }
}

/// How many failed servers a run tolerates before it starts no new server: a count, or a
/// share of the plan's servers. A failure is a server that ended `failed` in this run
/// (preflight refusals of a database test included; servers not started are not failures).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FailureBudget {
    /// At most this many failed servers.
    Count(u32),
    /// At most this percentage of the plan's servers.
    Percent(f64),
}

impl FailureBudget {
    /// Whether `failures` failed servers out of a plan of `servers` exceed the budget.
    pub fn exceeded(self, failures: usize, servers: usize) -> bool {
        match self {
            FailureBudget::Count(n) => failures > n as usize,
            FailureBudget::Percent(p) => failures as f64 * 100.0 > p * servers as f64,
        }
    }
}

/// Why a `--max-failures` value was refused (rendered at the edge, with the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureBudgetError {
    /// Ends with `%` but is not a percentage from 0 to 100.
    Percent,
    /// Neither a count nor a percentage.
    Count,
}

impl std::str::FromStr for FailureBudget {
    type Err = FailureBudgetError;
    /// `N` (a count) or `P%` (0–100).
    fn from_str(s: &str) -> Result<Self, FailureBudgetError> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            match p.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(FailureBudget::Percent(v)),
                _ => Err(FailureBudgetError::Percent),
            }
        } else {
            t.parse::<u32>().map(FailureBudget::Count).map_err(|_| FailureBudgetError::Count)
        }
    }
}

impl std::fmt::Display for FailureBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureBudget::Count(n) => write!(f, "{n}"),
            FailureBudget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_parallel: None,
            outage_budget_minutes: sfbpatch_core::plan::RESILIENCY_MINUTES,
            accept_resiliency: false,
            on_failure: OnFailure::Restore,
            target_build: None,
            warn_before_budget: vec![10.0, 5.0],
            retries: 2,
            backoff: Duration::from_secs(10),
            pre_hook: None,
            post_hook: None,
            server_hooks: BTreeMap::new(),
            history_minutes: BTreeMap::new(),
            reboot: RebootTimeouts::default(),
            timeout_scale: 1.0,
            lang: Lang::En,
            window: None,
            max_failures: None,
        }
    }
}

impl RunOptions {
    /// `d` with `--timeout-scale` applied: the one place every wait of the engine is scaled
    /// (a scale that is not a positive number counts as 1).
    pub fn scaled(&self, d: Duration) -> Duration {
        let s = self.timeout_scale;
        if s.is_finite() && s > 0.0 {
            Duration::try_from_secs_f64(d.as_secs_f64() * s).unwrap_or(Duration::MAX)
        } else {
            d
        }
    }

    /// The (pre, post) hooks of a server.
    pub fn hooks(&self, server: &Fqdn) -> (Option<&String>, Option<&String>) {
        match self.server_hooks.get(server.as_str()) {
            Some((pre, post)) => (pre.as_ref().or(self.pre_hook.as_ref()), post.as_ref().or(self.post_hook.as_ref())),
            None => (self.pre_hook.as_ref(), self.post_hook.as_ref()),
        }
    }
}

/// Where an interrupted run left a server (from the journal).
#[derive(Clone, Debug, Default)]
pub struct ServerResume {
    /// Steps that finished successfully.
    pub completed: Vec<StepId>,
    /// A step that started and did not finish: ambiguous.
    pub in_flight: Option<StepId>,
    /// The outage was open.
    pub outage_open: bool,
    /// The server had already finished (updated, failed…): leave it.
    pub finished: Option<ServerResult>,
    /// The build before the run first touched it.
    pub build_before: Option<Build>,
    /// The installer asked for a restart that was not completed before the interruption.
    pub reboot_pending: bool,
}

/// Where an interrupted run left every server.
#[derive(Clone, Debug, Default)]
pub struct ResumeState {
    /// By server FQDN.
    pub servers: BTreeMap<String, ServerResume>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_is_scaled_by_one_rule() {
        let cases = [
            (1.0, 600, 600_000),
            (0.01, 600, 6_000),
            (0.0, 600, 600_000),
            (f64::NAN, 600, 600_000),
            (-2.0, 60, 60_000),
        ];
        for (scale, secs, want_ms) in cases {
            let o = RunOptions { timeout_scale: scale, ..RunOptions::default() };
            assert_eq!(o.scaled(Duration::from_secs(secs)).as_millis(), want_ms, "scale {scale}");
        }
    }

    #[test]
    fn a_failure_budget_is_exceeded_only_past_it() {
        let cases: [(&str, usize, usize, bool); 9] = [
            ("0", 0, 10, false),
            ("0", 1, 10, true),
            ("2", 2, 10, false),
            ("2", 3, 10, true),
            ("10%", 1, 10, false),
            ("10%", 2, 10, true),
            ("10%", 1, 5, true),
            ("0%", 1, 100, true),
            ("100%", 100, 100, false),
        ];
        for (budget, failures, servers, want) in cases {
            let b: FailureBudget = budget.parse().unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(b.exceeded(failures, servers), want, "{budget}: {failures} of {servers}");
        }
        for bad in ["", "-1", "x", "101%", "%", "1.5"] {
            assert!(bad.parse::<FailureBudget>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn window_marks_fall_before_its_end() {
        let w = Window { remaining_ms: 60 * 60_000, label: "t".into() };
        assert_eq!(w.end_ms(1_000), 1_000 + 3_600_000);
        assert_eq!(w.mark_times(1_000, &[10.0, 5.0]), vec![(10.0, 1_000 + 50 * 60_000), (5.0, 1_000 + 55 * 60_000)]);
        let short = Window { remaining_ms: 7 * 60_000, label: "t".into() };
        assert_eq!(
            short.mark_times(0, &[10.0, 5.0]),
            vec![(5.0, 2 * 60_000)],
            "a mark before the start is not announced"
        );
        let past = Window { remaining_ms: -5_000, label: "t".into() };
        assert_eq!(past.end_ms(10_000), 5_000);
        assert!(past.mark_times(10_000, &[10.0]).is_empty());
    }

    #[test]
    fn a_server_hook_replaces_the_run_hook_it_names() {
        let mut o = RunOptions { pre_hook: Some("a".into()), post_hook: Some("b".into()), ..RunOptions::default() };
        o.server_hooks.insert("se01.contoso.com".into(), (Some("c".into()), None));
        let fqdn = |s: &str| match Fqdn::parse(s) {
            Ok(f) => f,
            Err(e) => panic!("{s}: {e:?}"),
        };
        let (se, other) = (fqdn("se01.contoso.com"), fqdn("sql01.contoso.com"));
        assert_eq!(o.hooks(&se), (Some(&"c".to_owned()), Some(&"b".to_owned())));
        assert_eq!(o.hooks(&other), (Some(&"a".to_owned()), Some(&"b".to_owned())));
    }
}

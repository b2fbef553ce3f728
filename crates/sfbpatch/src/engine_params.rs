//! The engine's settings: from the command line and the config file (`EngineArgs`) into
//! `EngineParams`, the one typed mirror of the engine's `RunOptions`, stored with a run for
//! `resume`.

use crate::cli::{ConfigFile, EngineArgs, OnFailureArg};

impl EngineArgs {
    /// The engine's settings: the config file's hooks, overridden by the command line.
    pub fn params(&self, budget: f64, lang: sfbpatch_core::Lang) -> Result<EngineParams, String> {
        let hooks =
            Hooks::from_flags(self.pre_hook.as_deref(), self.post_hook.as_deref(), self.config.as_deref(), lang)?;
        Ok(EngineParams {
            max_parallel: self.max_parallel,
            accept_resiliency: self.accept_resiliency,
            on_failure: self.on_failure,
            outage_budget: budget,
            pre_hook: hooks.pre,
            post_hook: hooks.post,
            server_hooks: hooks.servers,
            timeout_scale: self.timeout_scale,
            warn_before: self.warn_before.clone(),
            window_end: self.window_end.clone(),
            max_failures: self.max_failures.map(|b| b.to_string()),
        })
    }
}

/// The hooks a run sends to its servers: `--pre-hook`, `--post-hook` and the `--config`
/// file's (the flags win over the file's), as `run` and `resume` both read them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    pub pre: Option<String>,
    pub post: Option<String>,
    /// FQDN (lower case) → (pre, post).
    pub servers: ServerHookMap,
}

/// A server's FQDN (lower case) → its (pre, post) hooks.
pub type ServerHookMap = std::collections::BTreeMap<String, (Option<String>, Option<String>)>;

impl Hooks {
    /// From the flags and the config file, if any.
    pub fn from_flags(
        pre: Option<&str>,
        post: Option<&str>,
        config: Option<&std::path::Path>,
        lang: sfbpatch_core::Lang,
    ) -> Result<Hooks, String> {
        let config = match config {
            Some(p) => ConfigFile::load(p, lang)?,
            None => ConfigFile::default(),
        };
        let servers = config
            .hooks
            .servers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (v.pre.clone(), v.post.clone())))
            .collect();
        Ok(Hooks {
            pre: pre.map(str::to_owned).or(config.hooks.pre),
            post: post.map(str::to_owned).or(config.hooks.post),
            servers,
        })
    }
}

/// The engine's settings as the command line and the config file give them, and as the
/// journal stores them with a run for `resume`: the one mirror of the engine's `RunOptions`,
/// typed, with the field names and words earlier journals were written with.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EngineParams {
    /// `--max-parallel`.
    pub max_parallel: Option<u32>,
    /// `--pre-hook` (or the config file's).
    #[serde(default)]
    pub pre_hook: Option<String>,
    /// `--post-hook` (or the config file's).
    #[serde(default)]
    pub post_hook: Option<String>,
    /// `--warn-before` (empty: the engine's default marks).
    #[serde(default)]
    pub warn_before: Vec<f64>,
    /// `--timeout-scale`.
    #[serde(default = "one")]
    pub timeout_scale: f64,
    /// The config file's per-server hooks: FQDN → (pre, post).
    #[serde(default)]
    pub server_hooks: std::collections::BTreeMap<String, (Option<String>, Option<String>)>,
    /// `--outage-budget`.
    pub outage_budget: f64,
    /// `--accept-resiliency`.
    pub accept_resiliency: bool,
    /// `--on-failure`.
    pub on_failure: OnFailureArg,
    /// `--window-end`, resolved to an instant (a resume keeps the same end).
    #[serde(default)]
    pub window_end: Option<WindowEnd>,
    /// `--max-failures` as given (`N` or `P%`).
    #[serde(default)]
    pub max_failures: Option<String>,
}

/// `--window-end`: an instant, and the text it came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowEnd {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// As the operator wrote it.
    pub label: String,
}

pub(crate) fn now_unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// An RFC 3339 date-time with its offset (`2026-11-28T06:00:00+01:00`, `…Z`, a fraction
/// allowed and dropped) as Unix milliseconds (the `time` crate's RFC 3339 parser).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp() * 1000)
}

/// `--window-end`: RFC 3339 with its offset, or `+MINUTES` / `+Nm` / `+Nh` from now. A local
/// `HH:MM` is not taken: the machine that runs sfbpatch and the servers may be in different
/// time zones, and an offset written out leaves no doubt.
pub fn parse_window_end(s: &str) -> Result<WindowEnd, String> {
    let t = s.trim();
    let bad = || {
        let a = sfbpatch_i18n::Args::new().with("value", format!("{s:?}"));
        sfbpatch_i18n::fmt(crate::cli::usage_lang(), "cli.usage.window.end", &a)
    };
    let unix_ms = if let Some(rel) = t.strip_prefix('+') {
        let (n, unit) = match rel.strip_suffix('h') {
            Some(n) => (n, 60),
            None => (rel.strip_suffix('m').unwrap_or(rel), 1),
        };
        let n: u32 = n.parse().map_err(|_| bad())?;
        now_unix_ms() + i64::from(n) * unit * 60_000
    } else {
        parse_rfc3339(t).ok_or_else(bad)?
    };
    Ok(WindowEnd { unix_ms, label: t.to_owned() })
}

fn one() -> f64 {
    1.0
}

impl EngineParams {
    /// The hooks stored with a run.
    pub fn hooks(&self) -> Hooks {
        Hooks { pre: self.pre_hook.clone(), post: self.post_hook.clone(), servers: self.server_hooks.clone() }
    }

    /// `resume`'s `--window-end`, `--warn-before` and `--max-failures`: each one given replaces
    /// the stored value (the journal then stores the result as the run's parameters, for its
    /// later resumes); those not given keep the run's. Whether anything changed.
    pub fn replace_gates(
        &mut self,
        window_end: Option<WindowEnd>,
        warn_before: &[f64],
        max_failures: Option<sfbpatch_engine::options::FailureBudget>,
    ) -> bool {
        let changed = window_end.is_some() || !warn_before.is_empty() || max_failures.is_some();
        if let Some(w) = window_end {
            self.window_end = Some(w);
        }
        if !warn_before.is_empty() {
            self.warn_before = warn_before.to_vec();
        }
        if let Some(b) = max_failures {
            self.max_failures = Some(b.to_string());
        }
        changed
    }

    /// The engine's options, in `lang`: the only place they are built from settings.
    pub fn run_options(&self, lang: sfbpatch_core::Lang) -> sfbpatch_engine::RunOptions {
        let defaults = sfbpatch_engine::RunOptions::default();
        sfbpatch_engine::RunOptions {
            max_parallel: self.max_parallel.map(|n| n as usize),
            accept_resiliency: self.accept_resiliency,
            on_failure: match self.on_failure {
                OnFailureArg::Restore => sfbpatch_engine::OnFailure::Restore,
                OnFailureArg::Stop => sfbpatch_engine::OnFailure::Stop,
            },
            outage_budget_minutes: self.outage_budget,
            pre_hook: self.pre_hook.clone(),
            post_hook: self.post_hook.clone(),
            server_hooks: self.server_hooks.clone(),
            timeout_scale: self.timeout_scale,
            warn_before_budget: if self.warn_before.is_empty() {
                defaults.warn_before_budget.clone()
            } else {
                self.warn_before.clone()
            },
            lang,
            window: self.window_end.as_ref().map(|w| sfbpatch_engine::options::Window {
                remaining_ms: w.unix_ms - now_unix_ms(),
                label: w.label.clone(),
            }),
            max_failures: self.max_failures.as_deref().and_then(|b| b.parse().ok()),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ends_in_rfc3339() {
        let cases: [(&str, Option<i64>); 9] = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-11-28T06:00:00+01:00", Some(1_795_842_000_000)),
            ("2026-11-28T05:00Z", None),
            ("2026-11-28T05:00:00.250Z", Some(1_795_842_000_000)),
            ("2024-02-29T00:00:00-00:30", Some(1_709_166_600_000)),
            ("2025-02-29T00:00:00Z", None),
            ("2026-11-28T06:00:00", None),
            ("06:00", None),
            ("2026-13-01T00:00:00Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339(text), want, "{text}");
        }
    }

    #[test]
    fn a_relative_window_counts_from_now() {
        let before = now_unix_ms();
        let w = parse_window_end("+90").unwrap_or_else(|e| panic!("{e}"));
        let h = parse_window_end("+2h").unwrap_or_else(|e| panic!("{e}"));
        let after = now_unix_ms();
        assert!(w.unix_ms >= before + 90 * 60_000 && w.unix_ms <= after + 90 * 60_000);
        assert!(h.unix_ms >= before + 120 * 60_000 && h.unix_ms <= after + 120 * 60_000);
        for bad in ["+", "+-5", "+5x", "tomorrow", ""] {
            assert!(parse_window_end(bad).is_err(), "{bad:?}");
        }
    }
}

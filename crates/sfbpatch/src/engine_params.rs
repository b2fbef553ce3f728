//! The engine's settings: from the command line and the config file (`EngineArgs`) into
//! `EngineParams`, the one typed mirror of the engine's `RunOptions`, stored with a run for
//! `resume`.

use crate::cli::{ConfigFile, EngineArgs, OnFailureArg};

impl EngineArgs {
    /// The engine's settings: the config file's hooks, overridden by the command line.
    pub fn params(&self, budget: f64) -> Result<EngineParams, String> {
        let config = match &self.config {
            Some(p) => ConfigFile::load(p)?,
            None => ConfigFile::default(),
        };
        let server_hooks = config
            .hooks
            .servers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (v.pre.clone(), v.post.clone())))
            .collect();
        Ok(EngineParams {
            max_parallel: self.max_parallel,
            accept_resiliency: self.accept_resiliency,
            on_failure: self.on_failure,
            outage_budget: budget,
            pre_hook: self.pre_hook.clone().or(config.hooks.pre),
            post_hook: self.post_hook.clone().or(config.hooks.post),
            server_hooks,
            timeout_scale: self.timeout_scale,
            warn_before: self.warn_before.clone(),
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
}

fn one() -> f64 {
    1.0
}

impl EngineParams {
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
            ..defaults
        }
    }
}

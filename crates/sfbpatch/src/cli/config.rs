//! `--config FILE`: the hooks of a run, for every server or per server, read and checked.

use sfbpatch_core::Lang;
use sfbpatch_i18n::Args as TrArgs;

use super::parse::parse_hook;

/// `--config FILE`.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub hooks: HooksConfig,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    pub pre: Option<String>,
    pub post: Option<String>,
    #[serde(default)]
    pub servers: std::collections::BTreeMap<String, ServerHooks>,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerHooks {
    pub pre: Option<String>,
    pub post: Option<String>,
}

impl ConfigFile {
    /// Reads and checks a config file: every hook must parse, every server key be an FQDN.
    pub fn load(path: &std::path::Path, lang: Lang) -> Result<Self, String> {
        let say = |key: &str, a: TrArgs<'_>| sfbpatch_i18n::fmt(lang, key, &a.with("path", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| say("cli.config.read", TrArgs::new().with("why", e)))?;
        let c: ConfigFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1).unwrap_or(0);
            say("cli.config.syntax", TrArgs::new().with("line", line).with("why", e.message().trim()))
        })?;
        let mut hooks: Vec<(&str, &Option<String>)> = vec![("pre", &c.hooks.pre), ("post", &c.hooks.post)];
        for (server, h) in &c.hooks.servers {
            sfbpatch_core::Fqdn::parse(server)
                .map_err(|_| say("cli.config.server", TrArgs::new().with("server", format!("{server:?}"))))?;
            hooks.push(("pre", &h.pre));
            hooks.push(("post", &h.post));
        }
        for (which, hook) in hooks {
            if let Some(h) = hook {
                parse_hook(h).map_err(|e| {
                    say(
                        "cli.config.hook",
                        TrArgs::new().with("which", which).with("hook", format!("{h:?}")).with("why", e),
                    )
                })?;
            }
        }
        Ok(c)
    }
}

//! sfbpatch's message catalogues.
//!
//! Every sentence an operator reads (step titles, errors, warnings, report headings) lives in
//! one catalogue per language, `catalog/en.toml` and `catalog/es.toml`, compiled into the
//! binary. Code refers to messages by key (`"step.stop-services.title"`) and fills
//! `{placeholders}` with [`Args`]. The catalogues are checked against each other by tests:
//! same keys, same placeholders.
//!
//! A key missing from a catalogue renders as `⟦key⟧`, never as a panic; tests look for that
//! marker.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// A language sfbpatch speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Spanish (Spain): the language of the seed document.
    Es,
}

impl Lang {
    /// Every language, in catalogue order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    /// The two-letter code (`en`, `es`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The language a locale string such as `es_ES.UTF-8` or `en-US` asks for, if any.
    pub fn from_locale(locale: &str) -> Option<Lang> {
        let l = locale.trim().to_ascii_lowercase();
        if l.starts_with("es") {
            Some(Lang::Es)
        } else if l.starts_with("en") || l == "c" || l == "posix" || l.starts_with("c.") {
            Some(Lang::En)
        } else {
            None
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../catalog/en.toml"),
            Lang::Es => include_str!("../catalog/es.toml"),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Returned by [`Lang::from_str`] for an unknown language code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownLang(pub String);

impl fmt::Display for UnknownLang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown language {:?} (expected en or es)", self.0)
    }
}

impl std::error::Error for UnknownLang {}

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "en" => Ok(Lang::En),
            "es" => Ok(Lang::Es),
            _ => Err(UnknownLang(s.to_owned())),
        }
    }
}

/// A parsed catalogue: dotted key → text.
pub type Catalogue = BTreeMap<String, String>;

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalogue) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out)?,
            _ => return Err(format!("{key}: catalogue values must be strings")),
        }
    }
    Ok(())
}

/// Parses catalogue source text. Public so that tests can check the shipped catalogues.
pub fn parse_catalogue(src: &str) -> Result<Catalogue, String> {
    let table: toml::Table = toml::from_str(src).map_err(|e| e.to_string())?;
    let mut out = Catalogue::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

/// The compiled-in catalogue of `lang` (empty if it failed to parse: a test catches that).
pub fn catalogue(lang: Lang) -> &'static Catalogue {
    static EN: OnceLock<Catalogue> = OnceLock::new();
    static ES: OnceLock<Catalogue> = OnceLock::new();
    let cell = match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
    };
    cell.get_or_init(|| parse_catalogue(lang.source()).unwrap_or_default())
}

/// The text of `key` in `lang`, unformatted; `⟦key⟧` when it is missing.
pub fn text(lang: Lang, key: &str) -> String {
    match catalogue(lang).get(key) {
        Some(s) => s.clone(),
        None => format!("⟦{key}⟧"),
    }
}

/// Named values for a message's `{placeholders}`.
#[derive(Default)]
pub struct Args<'a>(Vec<(&'a str, String)>);

impl<'a> Args<'a> {
    /// No arguments.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds `{name}` = `value`.
    pub fn with(mut self, name: &'a str, value: impl fmt::Display) -> Self {
        self.0.push((name, value.to_string()));
        self
    }
}

/// The text of `key` in `lang` with its `{placeholders}` filled from `args`. A placeholder
/// with no value is left as written (tests catch it).
pub fn fmt(lang: Lang, key: &str, args: &Args<'_>) -> String {
    fill(&text(lang, key), args)
}

fn fill(template: &str, args: &Args<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.0.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{placeholder}` names a template uses, sorted and deduplicated.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        names.push(after[..close].to_owned());
        rest = &after[close + 1..];
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_are_not_empty() {
        for lang in Lang::ALL {
            let c = parse_catalogue(lang.source()).unwrap_or_else(|e| panic!("{lang}: {e}"));
            assert!(c.len() > 20, "{lang} has {} keys", c.len());
        }
    }

    #[test]
    fn catalogues_have_the_same_keys_and_placeholders() {
        let en = catalogue(Lang::En);
        let es = catalogue(Lang::Es);
        let only_en: Vec<_> = en.keys().filter(|k| !es.contains_key(*k)).collect();
        let only_es: Vec<_> = es.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(only_en.is_empty(), "missing in es.toml: {only_en:?}");
        assert!(only_es.is_empty(), "missing in en.toml: {only_es:?}");
        for (k, v) in en {
            let theirs = es.get(k).map(|s| placeholders(s)).unwrap_or_default();
            assert_eq!(placeholders(v), theirs, "placeholders differ for {k}");
        }
    }

    #[test]
    fn fills_placeholders_and_marks_missing_keys() {
        let a = Args::new().with("x", 3);
        assert_eq!(fill("a {x} b {y}", &a), "a 3 b {y}");
        assert_eq!(text(Lang::En, "no.such.key"), "⟦no.such.key⟧");
    }

    #[test]
    fn locale_strings_pick_a_language() {
        assert_eq!(Lang::from_locale("es_ES.UTF-8"), Some(Lang::Es));
        assert_eq!(Lang::from_locale("en_US"), Some(Lang::En));
        assert_eq!(Lang::from_locale("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::from_locale("fr_FR"), None);
    }
}

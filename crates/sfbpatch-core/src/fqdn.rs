//! Validated DNS names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fully qualified domain name that passed [`Fqdn::parse`]: RFC 1123 labels (letters,
/// digits, inner hyphens, 1–63 characters), at least two labels, at most 253 characters,
/// stored in lower case. Nothing that could end a shell token (quotes, `;`, spaces, `$`,
/// backticks, …) can be in one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fqdn(String);

/// Why a string is not an [`Fqdn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FqdnProblem {
    /// Empty string.
    Empty,
    /// Longer than 253 characters.
    TooLong,
    /// Only one label: a host name, not a fully qualified one.
    SingleLabel,
    /// Two dots in a row, or a leading or trailing dot.
    EmptyLabel,
    /// A label longer than 63 characters.
    LabelTooLong,
    /// A label starting or ending with `-`.
    HyphenAtEdge,
    /// A character outside letters, digits, `-` and `.`.
    BadCharacter(char),
}

impl FqdnProblem {
    /// Catalogue key of the sentence that explains the problem.
    pub fn key(self) -> &'static str {
        match self {
            FqdnProblem::Empty => "fqdn.empty",
            FqdnProblem::TooLong => "fqdn.too-long",
            FqdnProblem::SingleLabel => "fqdn.single-label",
            FqdnProblem::EmptyLabel => "fqdn.empty-label",
            FqdnProblem::LabelTooLong => "fqdn.label-too-long",
            FqdnProblem::HyphenAtEdge => "fqdn.hyphen-at-edge",
            FqdnProblem::BadCharacter(_) => "fqdn.bad-character",
        }
    }
}

impl Fqdn {
    /// Validates `text` as an FQDN.
    pub fn parse(text: &str) -> Result<Fqdn, FqdnProblem> {
        if text.is_empty() {
            return Err(FqdnProblem::Empty);
        }
        if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
            return Err(FqdnProblem::BadCharacter(c));
        }
        if text.len() > 253 {
            return Err(FqdnProblem::TooLong);
        }
        let labels: Vec<&str> = text.split('.').collect();
        for l in &labels {
            if l.is_empty() {
                return Err(FqdnProblem::EmptyLabel);
            }
            if l.len() > 63 {
                return Err(FqdnProblem::LabelTooLong);
            }
            if l.starts_with('-') || l.ends_with('-') {
                return Err(FqdnProblem::HyphenAtEdge);
            }
        }
        if labels.len() < 2 {
            return Err(FqdnProblem::SingleLabel);
        }
        Ok(Fqdn(text.to_ascii_lowercase()))
    }

    /// The name, in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first label (the host name).
    pub fn host(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Fqdn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Fqdn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fqdn::parse(&s).map_err(|p| serde::de::Error::custom(format!("{s:?} is not a valid FQDN ({p:?})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_names_and_lowercases() {
        for ok in ["sql01.contoso.com", "a.b", "FE-01.Fabrikam.Local", "x1.y2.z3"] {
            assert!(Fqdn::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Fqdn::parse("SQL01.Contoso.COM").map(|f| f.0), Ok("sql01.contoso.com".into()));
    }

    #[test]
    fn refuses_everything_that_could_escape_a_shell_token() {
        for (bad, why) in [
            ("", FqdnProblem::Empty),
            ("sql01", FqdnProblem::SingleLabel),
            ("a..b", FqdnProblem::EmptyLabel),
            ("a.b.", FqdnProblem::EmptyLabel),
            ("-a.b", FqdnProblem::HyphenAtEdge),
            ("a'.b", FqdnProblem::BadCharacter('\'')),
            ("a;b.c", FqdnProblem::BadCharacter(';')),
            ("a b.c", FqdnProblem::BadCharacter(' ')),
            ("$a.b", FqdnProblem::BadCharacter('$')),
            ("a`b.c", FqdnProblem::BadCharacter('`')),
            ("a\"b.c", FqdnProblem::BadCharacter('"')),
            ("ñ.es", FqdnProblem::BadCharacter('ñ')),
        ] {
            assert_eq!(Fqdn::parse(bad), Err(why), "{bad:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(Fqdn::parse(&long_label), Err(FqdnProblem::LabelTooLong));
        let long = format!("{}.com", ["abcdefghij"; 25].join("."));
        assert_eq!(Fqdn::parse(&long), Err(FqdnProblem::TooLong));
    }
}

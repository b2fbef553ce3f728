//! Text from a topology (site names, instance names, store names…) shown to a person: raw
//! control characters would reach the terminal (an ESC starts an ANSI sequence that can
//! recolour, hide or rewrite what the operator reads) and Markdown (a line break starts a new
//! table row or heading). They are shown escaped, visibly and reversibly, never dropped:
//! a C0 or C1 control (Unicode general category Cc, U+0000–U+001F and U+007F–U+009F) as `\xHH`,
//! and the bidirectional formatting characters that reorder what is displayed (Unicode
//! UAX #9: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069; CVE-2021-42574 "Trojan
//! Source") as `\u{HHHH}`. Every other character, the backslash included, is shown as it is
//! (issue 13 item 10).

use std::borrow::Cow;

fn bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let hidden = |c: char| !keep(c) && (c.is_control() || bidi(c));
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !hidden(c) {
            o.push(c);
        } else if c.is_control() {
            o.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            o.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        }
    }
    Cow::Owned(o)
}

/// One field (a name, a table cell): every control character escaped, line breaks and tabs too.
pub fn field(s: &str) -> Cow<'_, str> {
    escaped(s, |_| false)
}

/// A whole rendered text: every control character escaped except the line feed that ends
/// its lines.
pub fn lines(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c == '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped_and_the_rest_unchanged() {
        let cases = [
            ("Lisboa", "Lisboa"),
            ("Lis\u{1b}[31mboa\u{7}", "Lis\\x1b[31mboa\\x07"),
            ("a\nb\tc\r", "a\\x0ab\\x09c\\x0d"),
            ("\u{0}\u{7f}\u{85}\u{9f}", "\\x00\\x7f\\x85\\x9f"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("C:\\x — São Paulo ☎", "C:\\x — São Paulo ☎"),
        ];
        for (input, want) in cases {
            assert_eq!(field(input), want, "{input:?}");
        }
        assert_eq!(lines("a\u{1b}b\nc\r\n"), "a\\x1bb\nc\\x0d\n");
        assert!(matches!(field("plain"), Cow::Borrowed(_)));
    }
}

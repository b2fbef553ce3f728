//! Unix seconds as RFC 3339 in UTC (`2026-11-26T22:54:02Z`), for people reading `history`.

/// `secs` (Unix seconds, as the journal keeps them: `1795734026.599`) as RFC 3339 in UTC with
/// the same fraction (`2026-11-26T23:00:26.599Z`), or `None` when it is no number of seconds
/// or outside the years 0000–9999 (the `time` crate's calendar).
pub fn rfc3339_utc(secs: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let (whole, fraction) = secs.trim().split_once('.').unwrap_or((secs.trim(), ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    // The fraction's digits as nanoseconds (".599" → 599_000_000).
    let nanos: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().ok()? };
    let t = time::OffsetDateTime::from_unix_timestamp(whole.parse().ok()?).ok()?;
    let t = if whole.starts_with('-') {
        t - time::Duration::nanoseconds(nanos)
    } else {
        t + time::Duration::nanoseconds(nanos)
    };
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    t.format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_read_as_utc_dates() {
        let cases = [
            ("0", Some("1970-01-01T00:00:00Z")),
            ("951782400", Some("2000-02-29T00:00:00Z")),
            ("1795733642", Some("2026-11-26T22:54:02Z")),
            ("1795734026.599", Some("2026-11-26T23:00:26.599Z")),
            ("1.5e3", None),
            ("1.1234567891", None),
            ("1795734026.5", Some("2026-11-26T23:00:26.5Z")),
            ("-1", Some("1969-12-31T23:59:59Z")),
            ("253402300799", Some("9999-12-31T23:59:59Z")),
            ("253402300800", None),
            ("soon", None),
        ];
        for (secs, want) in cases {
            assert_eq!(rfc3339_utc(secs).as_deref(), want, "{secs}");
        }
    }
}

//! Unix seconds as RFC 3339 in UTC (`2026-11-26T22:54:02Z`), for people reading `history`.

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html#civil_from_days>).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `secs` (Unix seconds, as the journal keeps them: `1795734026.599`) as RFC 3339 in UTC with
/// the same fraction (`2026-11-26T23:00:26.599Z`), or `None` when it is no number of seconds.
pub fn rfc3339_utc(secs: &str) -> Option<String> {
    let (whole, fraction) = secs.trim().split_once('.').unwrap_or((secs.trim(), ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction = if fraction.is_empty() { String::new() } else { format!(".{fraction}") };
    let t: i64 = whole.parse().ok()?;
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let s = t.rem_euclid(86_400);
    Some(format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{fraction}Z", s / 3600, s % 3600 / 60, s % 60))
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

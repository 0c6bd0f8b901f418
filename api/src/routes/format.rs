//! The reference's three timestamp formats (reference-behaviour.md §1.16), kept because clients of the
//! reference may compare the strings.

use chrono::{DateTime, Timelike, Utc};

/// Django REST framework's rendering, used for person, potential-match, result and event `created`:
/// ISO-8601 with `Z`, microseconds only when not zero (`2025-01-02T03:04:05Z`, `...05.000123Z`).
pub(crate) fn drf(ts: DateTime<Utc>) -> String {
    if ts.nanosecond() / 1000 == 0 {
        ts.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// PostgreSQL's `to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM')` in UTC, used for a record's `created`
/// and `person_updated`: always six fractional digits and `+00:00`.
pub(crate) fn pg_text(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// PostgreSQL's JSON rendering of a timestamptz in UTC, used for a record's `matched_or_reviewed`: the
/// fraction with trailing zeros trimmed (none when zero) and `+00:00`.
pub(crate) fn pg_json(ts: DateTime<Utc>) -> String {
    let micros = ts.nanosecond() / 1000;
    let base = ts.format("%Y-%m-%dT%H:%M:%S").to_string();
    if micros == 0 {
        format!("{base}+00:00")
    } else {
        let fraction = format!("{micros:06}");
        format!("{base}.{}+00:00", fraction.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_reference() {
        let whole = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let fraction = DateTime::parse_from_rfc3339("2025-01-02T03:04:05.1234Z")
            .unwrap()
            .to_utc();
        assert_eq!(drf(whole), "2025-01-02T03:04:05Z");
        assert_eq!(drf(fraction), "2025-01-02T03:04:05.123400Z");
        assert_eq!(pg_text(whole), "2025-01-02T03:04:05.000000+00:00");
        assert_eq!(pg_text(fraction), "2025-01-02T03:04:05.123400+00:00");
        assert_eq!(pg_json(whole), "2025-01-02T03:04:05+00:00");
        assert_eq!(pg_json(fraction), "2025-01-02T03:04:05.1234+00:00");
    }
}

//! Dates on the wire: responses use `yyyy-MM-dd'T'HH:mm:ssZ` (`2021-10-04T09:24:38+0000`);
//! `expires` accepts every form `DateUtil.parseTZDateString` does.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Formats epoch milliseconds as CloudStack does.
pub fn format_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
}

/// Parses an `expires` value: ISO offset date-time (`…Z`, `…+02:00`), `…+0000`, with or
/// without fractional seconds, and the legacy `yyyy-MM-dd'T'HH:mm:ss'Z'Z`.
pub fn parse_expires(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    // Legacy: 2024-05-01T12:00:00Z+0000
    if s.len() > 20 && s.as_bytes().get(19) == Some(&b'Z') {
        let joined = format!("{}{}", &s[..19], &s[20..]);
        if let Ok(d) = DateTime::parse_from_str(&joined, "%Y-%m-%dT%H:%M:%S%z") {
            return Some(d);
        }
    }
    None
}

/// Parses a `date` parameter: `yyyy-MM-dd`, or (where allowed) `yyyy-MM-dd HH:mm:ss`, both
/// taken as UTC. Returns epoch milliseconds.
pub fn parse_date_param(s: &str, allow_time: bool) -> Option<i64> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis());
    }
    if allow_time {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_cloudstack() {
        assert_eq!(format_ms(1_633_339_478_000), "2021-10-04T09:24:38+0000");
    }

    #[test]
    fn every_expires_form_parses_to_the_same_instant() {
        let want = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .expect("ok")
            .timestamp();
        for s in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T14:00:00+02:00",
            "2024-05-01T12:00:00+0000",
            "2024-05-01T12:00:00.000000Z",
            "2024-05-01T12:00:00.123456+0000",
            "2024-05-01T12:00:00Z+0000",
        ] {
            assert_eq!(parse_expires(s).map(|d| d.timestamp()), Some(want), "{s}");
        }
        assert!(parse_expires("tomorrow").is_none());
        assert!(parse_expires("2024-05-01").is_none());
    }

    #[test]
    fn date_params() {
        assert_eq!(
            parse_date_param("2021-10-04", false),
            Some(1_633_305_600_000)
        );
        assert!(parse_date_param("2021-10-04 01:00:00", false).is_none());
        assert_eq!(
            parse_date_param("2021-10-04 01:00:00", true),
            Some(1_633_309_200_000)
        );
    }
}

//! Timestamps are stored as microseconds since the Unix epoch (UTC) and rendered as
//! RFC 3339 with a `Z` and exactly six fractional digits, the form the mobile app parses.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Micros = i64;

pub fn now() -> Micros {
    Utc::now().timestamp_micros()
}

pub fn secs(s: u64) -> Micros {
    (s as i64).saturating_mul(1_000_000)
}

pub fn rfc3339(t: Micros) -> String {
    DateTime::<Utc>::from_timestamp_micros(t)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_utc_with_z_and_micros() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_736_072_553_123_456),
            "2025-01-05T10:22:33.123456Z"
        );
    }
}

//! UTC instants with nanosecond precision, RFC 3339 on the wire.
//!
//! Vendors write time in many shapes (`…Z`, `…+0000`, naive GMT strings, epoch seconds or
//! milliseconds); [`Timestamp::parse_lenient`] reads them all, [`Timestamp::parse_rfc3339`]
//! is the strict form used for our own wire formats.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// An instant, as nanoseconds since the Unix epoch (UTC). Range: years 1678–2261.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// From nanoseconds since the epoch.
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// From seconds since the epoch; None when out of range.
    pub fn from_unix_seconds(secs: i64) -> Option<Self> {
        secs.checked_mul(NANOS_PER_SEC).map(Self)
    }

    /// From milliseconds since the epoch; None when out of range.
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        ms.checked_mul(1_000_000).map(Self)
    }

    /// Nanoseconds since the epoch.
    pub fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (floor).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// This instant plus `secs` seconds (saturating).
    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(NANOS_PER_SEC)))
    }

    /// Strict RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, DomainError> {
        parse(s, false).ok_or_else(|| {
            DomainError::invalid("timestamp", format!("{} is not RFC 3339", clip(s)))
        })
    }

    /// RFC 3339 plus the variants vendors send: offsets without a colon (`+0000`), a space
    /// instead of `T`, no offset at all (read as UTC), and epoch seconds or milliseconds.
    pub fn parse_lenient(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = t
                .parse()
                .map_err(|_| DomainError::invalid("timestamp", "epoch value out of range"))?;
            return Self::from_epoch_guess(n)
                .ok_or_else(|| DomainError::invalid("timestamp", "epoch value out of range"));
        }
        parse(t, true).ok_or_else(|| {
            DomainError::invalid(
                "timestamp",
                format!("{} is not a recognised date-time", clip(s)),
            )
        })
    }

    /// Epoch seconds or milliseconds, told apart by magnitude (ms after 1973 are > 10^11).
    pub fn from_epoch_guess(n: i64) -> Option<Self> {
        if n.abs() >= 100_000_000_000 {
            Self::from_unix_millis(n)
        } else {
            Self::from_unix_seconds(n)
        }
    }

    /// RFC 3339 in UTC with a `Z` (as `Display`).
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    format!("{out:?}")
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = b.get(at..at + n)?;
    part.iter().try_fold(0_i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn parse(s: &str, lenient: bool) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19 || b.len() > 40 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let sep_ok = b[4] == b'-'
        && b[7] == b'-'
        && (matches!(b[10], b'T' | b't') || (lenient && b[10] == b' '));
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if !sep_ok || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0_i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match &b[i..] {
        [] if lenient => 0,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _, b':', _, _] => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                [_, _, _, _] if lenient => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                [_, _] if lenient => (digits(rest, 0, 2)?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    // A leap second is folded into the next second, as most clocks do.
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?
        .checked_add(nanos)
        .map(Timestamp)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )?;
        if nanos != 0 {
            if nanos % 1_000_000 == 0 {
                write!(f, ".{:03}", nanos / 1_000_000)?;
            } else if nanos % 1_000 == 0 {
                write!(f, ".{:06}", nanos / 1_000)?;
            } else {
                write!(f, ".{nanos:09}")?;
            }
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    /// RFC 3339 in UTC with a `Z`, as written by `Display`.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$"
        })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_lenient(s).expect(s)
    }

    #[test]
    fn reads_vendor_shapes() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Timestamp::UNIX_EPOCH);
        assert_eq!(
            ts("2025-04-22T14:30:00-05:00").to_string(),
            "2025-04-22T19:30:00Z"
        );
        assert_eq!(
            ts("2018-01-17T09:02:27.680+0000").to_string(),
            "2018-01-17T09:02:27.680Z"
        );
        assert_eq!(
            ts("2017-03-22T19:28:08").to_string(),
            "2017-03-22T19:28:08Z"
        );
        assert_eq!(
            ts("2019-10-29T17:26:16.808603647Z").to_string(),
            "2019-10-29T17:26:16.808603647Z"
        );
        assert_eq!(ts("1561479335").to_string(), "2019-06-25T16:15:35Z");
        assert_eq!(ts("1561479335123").to_string(), "2019-06-25T16:15:35.123Z");
        assert_eq!(
            ts("2024-02-29 10:00:00Z").to_string(),
            "2024-02-29T10:00:00Z"
        );
    }

    #[test]
    fn strict_form_rejects_vendor_shapes() {
        assert!(Timestamp::parse_rfc3339("2018-01-17T09:02:27.680+0000").is_err());
        assert!(Timestamp::parse_rfc3339("2017-03-22T19:28:08").is_err());
        assert!(Timestamp::parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert!(Timestamp::parse_rfc3339("<ISO formatted timestamp in UTC>").is_err());
        assert!(Timestamp::parse_rfc3339("2023-01-01T00:00:00.Z").is_err());
    }

    proptest! {
        #[test]
        fn display_round_trips(n in -9_000_000_000_000_000_000_i64..9_000_000_000_000_000_000) {
            let t = Timestamp::from_unix_nanos(n);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t));
        }

        #[test]
        fn never_panics(s in ".{0,48}") {
            let _ = Timestamp::parse_lenient(&s);
            let _ = Timestamp::parse_rfc3339(&s);
        }
    }
}

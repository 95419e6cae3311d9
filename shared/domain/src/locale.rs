//! Where a tenant trades: its country (ISO 3166-1 alpha-2) and time zone (an IANA name,
//! checked against the tz database bundled into the binary, so validation needs no I/O and
//! gives the same answer in Lambda, which has no `/usr/share/zoneinfo`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// An ISO 3166-1 alpha-2 country code (`SE`, `US`), upper case; lower-case input is accepted
/// and upper-cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses a two-letter code.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] unless the text is exactly two ASCII letters.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(DomainError::invalid(
                "country",
                format!("{text:?} is not an ISO 3166-1 alpha-2 code such as \"SE\""),
            )),
        }
    }

    /// The code, upper case.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IANA time zone name (`Europe/Stockholm`, `UTC`) known to the bundled tz database.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeZone(String);

impl TimeZone {
    /// Parses an IANA name.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] when the tz database has no zone of that name.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        if text.len() > 64 {
            return Err(DomainError::invalid("time zone", "name too long"));
        }
        match jiff::tz::db().get(text) {
            Ok(tz) => Ok(Self(tz.iana_name().unwrap_or(text).to_owned())),
            Err(_) => Err(DomainError::invalid(
                "time zone",
                format!("{text:?} is not an IANA name such as \"Europe/Stockholm\""),
            )),
        }
    }

    /// The IANA name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! text_serde {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $what.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string" })
            }
        }
    };
}

text_serde!(Country, "Country");
text_serde!(TimeZone, "TimeZone");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_two_letters_upper_cased() {
        assert_eq!(
            Country::parse("se").map(|c| c.to_string()).ok(),
            Some("SE".into())
        );
        for bad in ["", "S", "SWE", "S1", "ÅÄ"] {
            assert!(Country::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn time_zones_come_from_the_bundled_database() {
        assert_eq!(
            TimeZone::parse("Europe/Stockholm")
                .map(|t| t.to_string())
                .ok(),
            Some("Europe/Stockholm".into())
        );
        assert!(TimeZone::parse("UTC").is_ok());
        for bad in ["", "Europe/Atlantis", "CEST+1", "../../etc/passwd"] {
            assert!(TimeZone::parse(bad).is_err(), "{bad:?}");
        }
        let back: Result<TimeZone, _> = serde_json::from_str("\"Mars/Olympus\"");
        assert!(back.is_err());
    }
}

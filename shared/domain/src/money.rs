//! Money: integer minor units plus an ISO 4217 currency. Never floating point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// Currencies whose minor unit is not 1/100 (ISO 4217 exponent ≠ 2).
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// Active ISO 4217 codes (2024 list, funds codes included), sorted for binary search.
const CODES: [&str; 166] = [
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An ISO 4217 currency code, upper case, known to the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars.
    pub const USD: Currency = Currency(*b"USD");

    /// An ISO 4217 alphabetic code (three upper-case letters).
    ///
    /// # Errors
    /// [`DomainError::Invalid`] when it is not three upper-case letters or not an ISO 4217 code.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(DomainError::invalid(
                "currency",
                "expected a three-letter ISO 4217 code such as USD",
            ));
        }
        if CODES.binary_search(&code).is_err() {
            return Err(DomainError::invalid(
                "currency",
                format!("{code} is not an ISO 4217 code"),
            ));
        }
        Ok(Currency([bytes[0], bytes[1], bytes[2]]))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u32 {
        EXPONENTS
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map_or(2, |(_, e)| *e)
    }

    /// Converts a decimal amount in major units ("29.99", "1e2", "-3.5") to minor units,
    /// exactly. Fails rather than rounds when the amount has more precision than the currency.
    pub fn to_minor(&self, major: &str) -> Result<i64, DomainError> {
        let text = major.trim();
        let value = parse_decimal(text).ok_or_else(|| {
            DomainError::invalid("amount", format!("{text:?} is not a decimal number"))
        })?;
        let scaled = value
            .checked_mul(Decimal::from(10_i64.pow(self.exponent())))
            .ok_or_else(|| DomainError::AmountOutOfRange(text.to_owned()))?;
        if !scaled.fract().is_zero() {
            return Err(DomainError::InexactAmount {
                amount: text.to_owned(),
                currency: self.code().to_owned(),
                exponent: self.exponent(),
            });
        }
        i64::try_from(scaled.trunc()).map_err(|_| DomainError::AmountOutOfRange(text.to_owned()))
    }

    /// Formats minor units as a major-unit decimal string ("2999" USD → "29.99").
    pub fn format_minor(&self, minor: i64) -> String {
        Decimal::new(minor, self.exponent()).to_string()
    }
}

/// Parses plain or scientific decimal text exactly ("12.50", "-1", "3e-06").
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let valid = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !valid {
        return None;
    }
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str_exact(text.strip_prefix('+').unwrap_or(text)).ok()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl schemars::JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn inline_schema() -> bool {
        true
    }

    /// An ISO 4217 alphabetic code.
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[A-Z]{3}$" })
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).expect("valid currency")
    }

    #[test]
    fn converts_major_to_minor_exactly() {
        assert_eq!(cur("USD").to_minor("29.99"), Ok(2999));
        assert_eq!(cur("USD").to_minor("0.1"), Ok(10));
        assert_eq!(cur("USD").to_minor("-3.50"), Ok(-350));
        assert_eq!(cur("USD").to_minor("24.5400"), Ok(2454));
        assert_eq!(cur("JPY").to_minor("1200"), Ok(1200));
        assert_eq!(cur("KWD").to_minor("1.234"), Ok(1234));
        assert_eq!(cur("SEK").to_minor("83"), Ok(8300));
        assert_eq!(cur("USD").to_minor("1e2"), Ok(10000));
    }

    #[test]
    fn refuses_to_round() {
        assert!(matches!(
            cur("USD").to_minor("19.999"),
            Err(DomainError::InexactAmount { .. })
        ));
        assert!(matches!(
            cur("JPY").to_minor("10.5"),
            Err(DomainError::InexactAmount { .. })
        ));
        assert!(cur("USD").to_minor("abc").is_err());
        assert!(cur("USD").to_minor("").is_err());
        assert!(cur("USD").to_minor("1e40").is_err());
        assert!(cur("USD").to_minor("NaN").is_err());
    }

    #[test]
    fn only_iso_codes() {
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("ABC").is_err());
        assert!(Currency::parse("US").is_err());
        assert_eq!(cur("EUR").exponent(), 2);
        assert_eq!(cur("CLF").exponent(), 4);
    }

    proptest! {
        #[test]
        fn minor_round_trips_through_text(minor in -1_000_000_000_000_i64..1_000_000_000_000, code in prop::sample::select(vec!["USD", "JPY", "KWD", "SEK", "CLF"])) {
            let c = cur(code);
            prop_assert_eq!(c.to_minor(&c.format_minor(minor)), Ok(minor));
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in ".{0,80}") {
            let _ = cur("USD").to_minor(&text);
        }
    }
}

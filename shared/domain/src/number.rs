//! Serde helpers for exact decimals that appear as JSON numbers (quantities, rates, weights).
//!
//! Reading is exact: a JSON float is taken by its shortest decimal text ("8.875"), never by
//! its binary value. Writing goes through f64, which is exact for every value with fewer
//! than 16 significant digits — all quantities and rates we handle. Money never uses this.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

use crate::money::parse_decimal;

/// Writes a decimal as a JSON number (integers as integers).
///
/// # Errors
/// The serializer's.
pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(d) => match (d.fract().is_zero(), d.to_i64()) {
            (true, Some(i)) => s.serialize_i64(i),
            _ => s.serialize_f64(d.to_f64().unwrap_or(f64::NAN)),
        },
    }
}

/// Reads a JSON number or numeric string exactly.
///
/// # Errors
/// A value that is not a number or a numeric string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a decimal number, a decimal string or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        d.deserialize_any(DecimalVisitor)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Decimal::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if !v.is_finite() {
            return Err(E::custom("number is not finite"));
        }
        // Rust prints the shortest text that reads back as the same f64: the vendor's digits.
        parse_decimal(&v.to_string())
            .map(Some)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_decimal(v.trim())
            .map(Some)
            .ok_or_else(|| E::custom(format!("{v:?} is not a decimal number")))
    }
}

/// The same for a map of decimals (stock per location: `{"LOC1": 5, "LOC2": 2.5}`).
pub mod map {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use serde::de::Error as _;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes each value as [`super::serialize`] does.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(
        v: &BTreeMap<String, Decimal>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        struct One(Decimal);
        impl serde::Serialize for One {
            fn serialize<S2: Serializer>(&self, s: S2) -> Result<S2::Ok, S2::Error> {
                super::serialize(&Some(self.0), s)
            }
        }
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, d) in v {
            m.serialize_entry(k, &One(*d))?;
        }
        m.end()
    }

    /// Reads each value exactly, as [`super::deserialize`] does; null values are refused.
    ///
    /// # Errors
    /// A value that is not a number or a numeric string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct One(#[serde(with = "super")] Option<Decimal>);
        let raw: Option<BTreeMap<String, One>> = Option::deserialize(d)?;
        raw.unwrap_or_default()
            .into_iter()
            .map(|(k, One(v))| {
                v.map(|v| (k.clone(), v))
                    .ok_or_else(|| D::Error::custom(format!("stock at {k:?} is null")))
            })
            .collect()
    }
}

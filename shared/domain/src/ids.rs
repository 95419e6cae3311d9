//! Typed identifiers. Parse, don't validate: a value of these types is always well formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        string_id!(
            $(#[$doc])* $name, $what, $max,
            b'-' | b'_' | b'.' | b':',
            "only letters, digits, '-', '_', '.', ':' are allowed",
            "^[A-Za-z0-9._:-]+$"
        );
    };
    // `$allowed`: the punctuation allowed besides ASCII letters and digits; `$rule` says so in
    // the error, `$pattern` in the JSON Schema.
    (
        $(#[$doc:meta])* $name:ident, $what:literal, $max:expr,
        $allowed:pat, $rule:literal, $pattern:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The id, if it is well formed.
            ///
            /// # Errors
            /// [`DomainError::Invalid`] when it is empty, too long or has a character outside
            /// the allowed set.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                if s.is_empty() || s.len() > $max {
                    return Err(DomainError::invalid($what, format!("must be 1 to {} characters", $max)));
                }
                if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, $allowed)) {
                    return Err(DomainError::invalid($what, $rule));
                }
                Ok(Self(s.to_owned()))
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// For values built by this crate from characters known to be allowed.
            #[allow(dead_code)]
            pub(crate) fn from_trusted(s: String) -> Self {
                debug_assert!(Self::parse(&s).is_ok());
                Self(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": $max,
                    "pattern": $pattern
                })
            }
        }
    };
}

string_id!(
    /// A merchant account in tillbridge. Appears in URLs and table keys, so it is restricted
    /// to URL- and key-safe characters.
    TenantId, "tenant id", 64
);
string_id!(
    /// Our id for one accepted HTTP delivery (time-ordered).
    DeliveryId, "delivery id", 64
);
string_id!(
    /// Id of one canonical event; deterministic for a given delivery and position, so a
    /// redelivered webhook produces the same event ids.
    EventId, "event id", 128
);
string_id!(
    /// Carried through every stage and every log line of one flow.
    CorrelationId, "correlation id", 128
);

string_id!(
    /// One migration (tillbridge makes `mig-` and 20 hex digits). It names table partitions
    /// and blob paths, so it is 1 to 64 ASCII letters, digits, '-' or '_'.
    MigrationId, "migration id", 64,
    b'-' | b'_',
    "only letters, digits, '-', '_' are allowed",
    "^[A-Za-z0-9_-]+$"
);

impl DeliveryId {
    /// A new delivery id from a time-ordered UUID's text.
    pub fn from_uuid_text(uuid: &str) -> Result<Self, DomainError> {
        Self::parse(uuid)
    }
}

impl From<&DeliveryId> for CorrelationId {
    /// A flow started by a delivery is correlated by the delivery's id.
    fn from(d: &DeliveryId) -> Self {
        CorrelationId::from_trusted(d.0.clone())
    }
}

/// The name of a declarative vendor profile (`treez`, `acme-pos`): 1 to 32 of `a-z`, `0-9`
/// and `-`, and never a built-in provider's name. Stored inline (no heap), so [`Provider`]
/// stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileName {
    len: u8,
    bytes: [u8; ProfileName::MAX],
}

impl ProfileName {
    /// The longest name, in bytes.
    pub const MAX: usize = 32;

    /// The name, if it is well formed and not a built-in provider's name.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] when it is empty, longer than 32 bytes, has a character
    /// outside `a-z`, `0-9`, `-`, or is a built-in provider's name (`square`, …).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s.is_empty() || s.len() > Self::MAX {
            return Err(DomainError::invalid(
                "profile name",
                format!("must be 1 to {} characters", Self::MAX),
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(DomainError::invalid(
                "profile name",
                "only a-z, 0-9 and '-' are allowed",
            ));
        }
        if Provider::BUILT_IN.iter().any(|p| p.as_str() == s) {
            return Err(DomainError::invalid(
                "profile name",
                format!("{s} is a built-in provider"),
            ));
        }
        let mut bytes = [0u8; Self::MAX];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The name's text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked by `parse`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProfileName({:?})", self.as_str())
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProfileName {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ProfileName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProfileName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ProfileName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProfileName".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": ProfileName::MAX,
            "pattern": "^[a-z0-9-]+$"
        })
    }
}

/// Declares the built-in providers ONCE: each line gives the variant and its name (lower
/// case; how it appears in URLs, configuration and events). [`Provider`],
/// [`Provider::BUILT_IN`] and [`Provider::as_str`] come from this list, and parsing,
/// `Display`, serde and the JSON Schema go through them.
macro_rules! providers {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// The webhook schemes and POS vendors tillbridge understands: the built-in ones (Rust
        /// code) and, as [`Provider::Profile`], every vendor described by a declarative
        /// profile (tillbridge-profiles).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Provider {
            $( $(#[$doc])* #[doc = concat!("`", $name, "`")] $variant, )*
            /// A vendor described by a declarative profile, named by the profile (the name is
            /// the URL segment, the config key and the events' `provider`, as for built-ins).
            Profile(ProfileName),
        }

        impl Provider {
            /// Every built-in provider, in declaration order.
            pub const BUILT_IN: [Provider; [$(Provider::$variant),*].len()] =
                [$(Provider::$variant),*];

            /// Every built-in provider ([`Provider::BUILT_IN`]; profiles are open-ended).
            pub const ALL: [Provider; [$(Provider::$variant),*].len()] = Provider::BUILT_IN;

            /// The provider's name, e.g. `standard-webhooks`, or the profile's name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Provider::$variant => $name, )*
                    Provider::Profile(name) => name.as_str(),
                }
            }

            /// The built-in provider's name; None for a profile vendor.
            pub fn builtin_name(self) -> Option<&'static str> {
                match self {
                    $( Provider::$variant => Some($name), )*
                    Provider::Profile(_) => None,
                }
            }
        }
    };
}

providers! {
    Square = "square",
    Shopify = "shopify",
    Clover = "clover",
    Toast = "toast",
    Zettle = "zettle",
    WooCommerce = "woocommerce",
    Lightspeed = "lightspeed",
    BigCommerce = "bigcommerce",
    Stripe = "stripe",
    StandardWebhooks = "standard-webhooks",
}

impl Provider {
    /// The profile's name when this is a profile vendor.
    pub fn profile(self) -> Option<ProfileName> {
        match self {
            Provider::Profile(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = DomainError;
    /// A built-in provider's name (any case), else a profile name (lower-cased first).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(p) = Provider::BUILT_IN
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
        {
            return Ok(p);
        }
        ProfileName::parse(&s.to_ascii_lowercase())
            .map(Provider::Profile)
            .map_err(|_| {
                let known: Vec<&str> = Provider::BUILT_IN.iter().map(|p| p.as_str()).collect();
                DomainError::invalid(
                    "provider",
                    format!(
                        "unknown provider (built in: {}; a profile vendor's name is 1 to 32 of a-z, 0-9, '-')",
                        known.join(", ")
                    ),
                )
            })
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl schemars::JsonSchema for Provider {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Provider".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Provider::BUILT_IN.iter().map(|p| p.as_str()).collect();
        schemars::json_schema!({
            "anyOf": [
                { "enum": names },
                {
                    "description": "a vendor profile's name",
                    "type": "string",
                    "minLength": 1,
                    "maxLength": ProfileName::MAX,
                    "pattern": "^[a-z0-9-]+$"
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_key_safe() {
        assert!(TenantId::parse("t1").is_ok());
        assert!(TenantId::parse("acme-coffee_2.eu").is_ok());
        assert!(TenantId::parse("").is_err());
        assert!(TenantId::parse("a/b").is_err());
        assert!(TenantId::parse("a#b").is_err());
        assert!(TenantId::parse(&"x".repeat(65)).is_err());
        assert!(TenantId::parse("é").is_err());
    }

    #[test]
    fn migration_ids_are_key_and_path_safe() {
        assert!(MigrationId::parse("mig-0123456789abcdef0123").is_ok());
        assert!(MigrationId::parse("a_B-9").is_ok());
        assert!(MigrationId::parse(&"x".repeat(64)).is_ok());
        assert!(MigrationId::parse("").is_err());
        assert!(MigrationId::parse(&"x".repeat(65)).is_err());
        for bad in ["a.b", "a:b", "a/b", "a#b", "a b", "é"] {
            assert!(MigrationId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn providers_round_trip_case_insensitively() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().ok(), Some(p));
            assert_eq!(p.as_str().to_uppercase().parse::<Provider>().ok(), Some(p));
        }
        let paypal = "PayPal".parse::<Provider>().ok();
        assert_eq!(paypal.map(|p| p.to_string()), Some("paypal".to_owned()));
        assert!(matches!(paypal, Some(Provider::Profile(_))));
        for bad in ["pay pal", "pay_pal", "", "é", &"x".repeat(33)] {
            assert!(bad.parse::<Provider>().is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_names_are_small_copy_values() {
        let n = ProfileName::parse("treez").ok();
        assert_eq!(n.map(|n| n.to_string()), Some("treez".to_owned()));
        assert!(ProfileName::parse(&"a".repeat(32)).is_ok());
        assert!(ProfileName::parse("Treez").is_err());
        assert!(ProfileName::parse("shopify").is_err());
        let p: Provider = serde_json::from_str("\"acme-pos\"").unwrap_or(Provider::Square);
        assert_eq!(
            serde_json::to_string(&p).ok().as_deref(),
            Some("\"acme-pos\"")
        );
        let copy = p;
        assert_eq!(copy, p);
    }
}

//! The canonical catalog item: the contract between every stage.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Currency, Timestamp};

/// One sellable thing (a product, or one variant of it) in vendor-neutral form.
///
/// Money is integer minor units of `currency`. Optional fields are omitted from JSON when
/// absent, so "unknown" and "empty" stay distinguishable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CatalogItem {
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub tax_rate_percent: Option<Decimal>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub quantity_on_hand: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifier_group_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_of_measure: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub weight: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub thc_percent: Option<Decimal>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub cbd_percent: Option<Decimal>,
}

impl CatalogItem {
    pub fn new(external_id: impl Into<String>) -> Self {
        Self {
            external_id: external_id.into(),
            ..Self::default()
        }
    }

    /// SHA-256 of the canonical JSON form; equal items hash equal. Used to break ties
    /// between two updates stamped with the same time, so every replica converges.
    pub fn content_hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

/// Canonical field names, in the order of ARCHITECTURE.md.
pub const CANONICAL_FIELDS: [&str; 24] = [
    "external_id",
    "sku",
    "name",
    "description",
    "category",
    "price_minor",
    "currency",
    "cost_minor",
    "barcode",
    "tax_rate_percent",
    "quantity_on_hand",
    "is_active",
    "image_url",
    "brand",
    "vendor",
    "variant_name",
    "parent_id",
    "modifier_group_ids",
    "unit_of_measure",
    "weight",
    "created_at",
    "updated_at",
    "thc_percent",
    "cbd_percent",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_decimals_exact() {
        let line = r#"{"external_id":"v1","price_minor":2999,"currency":"USD","tax_rate_percent":8.875,"quantity_on_hand":"5.5","updated_at":"2025-01-02T03:04:05Z"}"#;
        let item: CatalogItem = serde_json::from_str(line).expect("parses");
        assert_eq!(item.tax_rate_percent, Some(Decimal::new(8875, 3)));
        assert_eq!(item.quantity_on_hand, Some(Decimal::new(55, 1)));
        let back = serde_json::to_string(&item).expect("serializes");
        assert_eq!(
            back,
            r#"{"external_id":"v1","price_minor":2999,"currency":"USD","tax_rate_percent":8.875,"quantity_on_hand":5.5,"updated_at":"2025-01-02T03:04:05Z"}"#
        );
    }

    #[test]
    fn unknown_fields_and_bad_types_are_rejected() {
        assert!(
            serde_json::from_str::<CatalogItem>(r#"{"external_id":"a","colour":"red"}"#).is_err()
        );
        assert!(
            serde_json::from_str::<CatalogItem>(r#"{"external_id":"a","price_minor":"12"}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<CatalogItem>(r#"{"external_id":"a","currency":"usd"}"#).is_err()
        );
    }

    #[test]
    fn content_hash_tracks_content() {
        let a = CatalogItem::new("x");
        let mut b = a.clone();
        assert_eq!(a.content_hash(), b.content_hash());
        b.name = Some("Taco".into());
        assert_ne!(a.content_hash(), b.content_hash());
    }
}

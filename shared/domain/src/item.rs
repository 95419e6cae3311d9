//! The canonical catalog item: the contract between every stage.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Currency, Timestamp};

/// Declares the canonical item ONCE: each entry is a field of [`CatalogItem`] (with its
/// serde attributes) and its [`CanonicalField`] variant. The struct, the enum,
/// [`CanonicalField::ALL`] and [`CanonicalField::as_str`] all come from this list, so a field
/// added here is a field everywhere — and every `match` on [`CanonicalField`] must handle it.
macro_rules! canonical_item {
    ($( $(#[$attr:meta])* $field:ident : $ty:ty => $variant:ident, )*) => {
        /// One sellable thing (a product, or one variant of it) in vendor-neutral form.
        ///
        /// Money is integer minor units of `currency`. Optional fields are omitted from JSON
        /// when absent, so "unknown" and "empty" stay distinguishable.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct CatalogItem {
            $( $(#[$attr])* pub $field: $ty, )*
        }

        /// A field of the canonical item, by name (`snake_case` in JSON, as in the item).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum CanonicalField {
            $( #[doc = concat!("`", stringify!($field), "`")] $variant, )*
        }

        impl CanonicalField {
            /// Every canonical field, in the item's order (ARCHITECTURE.md).
            pub const ALL: [CanonicalField; [$(CanonicalField::$variant),*].len()] =
                [$(CanonicalField::$variant),*];

            /// The field's name, as in the item's JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( CanonicalField::$variant => stringify!($field), )*
                }
            }
        }
    };
}

canonical_item! {
    /// The vendor's id of the item (required).
    #[schemars(length(min = 1))]
    external_id: String => ExternalId,
    /// Stock-keeping unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sku: Option<String> => Sku,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String> => Name,
    /// Long description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String> => Description,
    /// Category name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String> => Category,
    /// Selling price in minor units of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    price_minor: Option<i64> => PriceMinor,
    /// ISO 4217 currency of the money fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<Currency> => Currency,
    /// Cost in minor units of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_minor: Option<i64> => CostMinor,
    /// GTIN / UPC / EAN as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    barcode: Option<String> => Barcode,
    /// Tax rate in percent (8.875 means 8.875 %).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    #[schemars(with = "Option<f64>")]
    tax_rate_percent: Option<Decimal> => TaxRatePercent,
    /// Stock on hand (decimal: weighed goods).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    #[schemars(with = "Option<f64>")]
    quantity_on_hand: Option<Decimal> => QuantityOnHand,
    /// Stock per location: the vendor's location id → quantity on hand there (decimal:
    /// weighed goods). `quantity_on_hand` is their sum when both are given.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "crate::number::map"
    )]
    #[schemars(with = "BTreeMap<String, f64>")]
    stock_by_location: BTreeMap<String, Decimal> => StockByLocation,
    /// Sold now (false: hidden, archived, disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_active: Option<bool> => IsActive,
    /// Primary image URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_url: Option<String> => ImageUrl,
    /// The product's page in the shop it comes from: a full URL
    /// (`https://shop.example/products/blue-mug`), a path (`/blue-mug/`) or a handle / slug
    /// (`blue-mug`). A migration into an e-commerce destination redirects it to the new page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product_url: Option<String> => ProductUrl,
    /// Brand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    brand: Option<String> => Brand,
    /// Supplier or vendor name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vendor: Option<String> => Vendor,
    /// The variant's own name ("Large", "Red / M").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variant_name: Option<String> => VariantName,
    /// The parent product's external id, for variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_id: Option<String> => ParentId,
    /// Modifier groups offered with the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    modifier_group_ids: Vec<String> => ModifierGroupIds,
    /// Unit the price is per (each, kg, lb, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit_of_measure: Option<String> => UnitOfMeasure,
    /// Weight, in `unit_of_measure` when it is a weight unit.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    #[schemars(with = "Option<f64>")]
    weight: Option<Decimal> => Weight,
    /// When the vendor created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp> => CreatedAt,
    /// When the vendor last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<Timestamp> => UpdatedAt,
    /// THC content in percent (cannabis).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    #[schemars(with = "Option<f64>")]
    thc_percent: Option<Decimal> => ThcPercent,
    /// CBD content in percent (cannabis).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    #[schemars(with = "Option<f64>")]
    cbd_percent: Option<Decimal> => CbdPercent,
    /// The price is entered at the register when sold (an open or variable price: market
    /// fish, custom cakes); `price_minor`, when given, is only a suggestion. Such an item is
    /// sellable without a fixed price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open_price: Option<bool> => OpenPrice,
}

impl CanonicalField {
    /// The field with this name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl std::fmt::Display for CanonicalField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CatalogItem {
    /// An item with only its external id set.
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

/// Canonical field names, in the order of ARCHITECTURE.md ([`CanonicalField::ALL`] by name).
pub const CANONICAL_FIELDS: [&str; CanonicalField::ALL.len()] = {
    let mut names = [""; CanonicalField::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = CanonicalField::ALL[i].as_str();
        i += 1;
    }
    names
};

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

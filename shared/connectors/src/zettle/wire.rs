//! Zettle's wire types (the fields tillbridge reads), from the Product Library API's
//! `LibraryResponse`/`ProductResponse`/`VariantDTO` (<https://products.izettle.com/swagger>)
//! and the Inventory API v3 stock records
//! (<https://developer.zettle.com/docs/api/inventory/user-guides/manage-inventory-balances/fetch-inventory-balance>).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use tillbridge_domain::{CatalogItem, Currency, Provider, Timestamp};

use crate::api::{FetchedItem, raw_decimal};
use crate::error::{ConnectorError, Result};

const V: Provider = Provider::Zettle;

/// `GET /organizations/self/library`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Library {
    /// The event this answer starts after (with `eventLogUuid`).
    pub from_event_log_uuid: Option<String>,
    /// The last event this answer includes: the next delta's `eventLogUuid`.
    pub until_event_log_uuid: Option<String>,
    /// Products (all, or changed since `eventLogUuid`).
    pub products: Vec<Product>,
    /// Deleted product UUIDs (with `eventLogUuid`).
    pub deleted_products: Vec<String>,
}

/// A product.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// UUID.
    pub uuid: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Category.
    #[serde(default)]
    pub category: Option<Category>,
    /// Unit (`kg`).
    #[serde(default)]
    pub unit_name: Option<String>,
    /// VAT percent (a decimal number).
    #[serde(default)]
    pub vat_percentage: Option<Box<RawValue>>,
    /// Image.
    #[serde(default)]
    pub presentation: Option<Presentation>,
    /// Last change.
    pub updated: String,
    /// 1–99 variants.
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// `{"uuid", "name"}`.
#[derive(Debug, Deserialize)]
pub struct Category {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `{"imageUrl"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presentation {
    /// Image URL.
    #[serde(default)]
    pub image_url: Option<String>,
}

/// A variant: the thing sold.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    /// UUID.
    pub uuid: String,
    /// Name (often empty for a product's only variant).
    #[serde(default)]
    pub name: Option<String>,
    /// SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// Barcode.
    #[serde(default)]
    pub barcode: Option<String>,
    /// Price; absent: priced at the till.
    #[serde(default)]
    pub price: Option<Money>,
    /// Cost.
    #[serde(default)]
    pub cost_price: Option<Money>,
    /// `[{"name": "Size", "value": "Small"}]`.
    #[serde(default)]
    pub options: Option<Vec<VariantOption>>,
}

/// `{"amount": minor units, "currencyId": ISO 4217}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency_id: String,
}

/// One option value of a variant.
#[derive(Debug, Deserialize)]
pub struct VariantOption {
    /// Option name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its value.
    #[serde(default)]
    pub value: Option<String>,
}

/// One Inventory v3 stock record.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRecord {
    /// The inventory (a location).
    pub inventory_uuid: String,
    /// The product.
    #[serde(default)]
    pub product_uuid: Option<String>,
    /// The variant.
    pub variant_uuid: String,
    /// Balance (a decimal number).
    pub balance: Box<RawValue>,
}

/// The reason in a Zettle error body: `developerMessage` (else the OAuth `error_description`,
/// `message` or `error`), then `errorType` and each of `violations` as `propertyName:
/// developerMessage` (`ErrorResponse` / `ConstraintViolation` of the Product Library API).
pub fn reason(body: &[u8]) -> Option<String> {
    let first = crate::api::first_text(
        body,
        &["developerMessage", "error_description", "message", "error"],
    )?;
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Some(first);
    };
    let mut out = first;
    if let Some(kind) = v["errorType"].as_str().filter(|k| !k.is_empty()) {
        out = format!("{kind}: {out}");
    }
    let violations: Vec<String> = v["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| {
            Some(format!(
                "{}: {}",
                x["propertyName"].as_str()?,
                x["developerMessage"].as_str().unwrap_or_default()
            ))
        })
        .collect();
    if !violations.is_empty() {
        out = format!("{out} ({})", violations.join("; "));
    }
    Some(out)
}

fn money(path: &str, m: &Money) -> Result<(i64, Currency)> {
    let currency = Currency::parse(&m.currency_id)
        .map_err(|e| ConnectorError::malformed(V, format!("{path}.currencyId"), e.to_string()))?;
    Ok((m.amount, currency))
}

/// One variant of `product` as a canonical item (without stock).
///
/// # Errors
/// [`ConnectorError::Malformed`] for a bad currency or VAT percentage.
pub fn variant_item(
    path: &str,
    product: &Product,
    variant: &Variant,
    updated: Timestamp,
) -> Result<FetchedItem> {
    let price = variant
        .price
        .as_ref()
        .map(|m| money(&format!("{path}.price"), m))
        .transpose()?;
    let cost = variant
        .cost_price
        .as_ref()
        .map(|m| money(&format!("{path}.costPrice"), m))
        .transpose()?;
    let options: Vec<&str> = variant
        .options
        .iter()
        .flatten()
        .filter_map(|o| o.value.as_deref())
        .collect();
    let variant_name = variant
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| (!options.is_empty()).then(|| options.join(" / ")));
    let vat = match &product.vat_percentage {
        Some(raw) => raw_decimal(V, "vatPercentage", raw)?,
        None => None,
    };
    Ok(FetchedItem {
        item: CatalogItem {
            external_id: variant.uuid.clone(),
            parent_id: Some(product.uuid.clone()),
            name: product.name.clone(),
            variant_name,
            description: product.description.clone().filter(|d| !d.is_empty()),
            category: product.category.as_ref().and_then(|c| c.name.clone()),
            sku: variant.sku.clone().filter(|s| !s.is_empty()),
            barcode: variant.barcode.clone().filter(|s| !s.is_empty()),
            price_minor: price.map(|(a, _)| a),
            currency: price.or(cost).map(|(_, c)| c),
            cost_minor: cost.map(|(a, _)| a),
            tax_rate_percent: vat,
            unit_of_measure: product.unit_name.clone().filter(|u| !u.is_empty()),
            image_url: product
                .presentation
                .as_ref()
                .and_then(|p| p.image_url.clone()),
            is_active: Some(true),
            updated_at: Some(updated),
            ..CatalogItem::default()
        },
        stock_by_location: BTreeMap::new(),
        inventory_item_id: None,
    })
}

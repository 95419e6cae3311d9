//! Square's wire types (the fields tillbridge reads), from the Square API reference:
//! CatalogObject <https://developer.squareup.com/reference/square/objects/CatalogObject>,
//! InventoryCount <https://developer.squareup.com/reference/square/objects/InventoryCount>,
//! Error <https://developer.squareup.com/reference/square/objects/Error>.

use serde::{Deserialize, Serialize};

/// `{"errors": [{"category", "code", "detail", "field"}]}` on every failure.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ErrorBody {
    /// The errors.
    pub errors: Vec<SquareError>,
}

/// One Square error.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SquareError {
    /// `AUTHENTICATION_ERROR`, `RATE_LIMIT_ERROR`, `API_ERROR`, …
    pub category: String,
    /// `UNAUTHORIZED`, `INSUFFICIENT_SCOPES`, `RATE_LIMITED`, …
    pub code: String,
    /// Human-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// ListCatalog / SearchCatalogObjects / BatchRetrieveCatalogObjects answer (the union).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ObjectsResponse {
    /// The objects.
    pub objects: Vec<CatalogObject>,
    /// Referenced objects (with `include_related_objects`).
    pub related_objects: Vec<CatalogObject>,
    /// Next page.
    pub cursor: Option<String>,
    /// Search only: when the catalog was last updated; the next delta's `begin_time`.
    pub latest_time: Option<String>,
}

/// A catalog object (ITEM, ITEM_VARIATION, CATEGORY; others are ignored).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CatalogObject {
    /// `ITEM`, `ITEM_VARIATION`, `CATEGORY`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The object's id.
    pub id: String,
    /// RFC 3339 last change (deletions included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Optimistic-concurrency version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Deleted (only returned with `include_deleted_objects`).
    #[serde(default)]
    pub is_deleted: bool,
    /// ITEM data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_data: Option<ItemData>,
    /// ITEM_VARIATION data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_variation_data: Option<VariationData>,
    /// CATEGORY data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_data: Option<CategoryData>,
}

/// `item_data`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ItemData {
    /// Item name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Legacy single category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<String>,
    /// Categories (2023-12 and later).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<IdRef>,
    /// Archived items are hidden from the POS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// The variations, embedded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variations: Vec<CatalogObject>,
}

/// `{"id": …}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IdRef {
    /// The id.
    pub id: String,
}

/// `item_variation_data`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct VariationData {
    /// Parent ITEM id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Variation name ("Large").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// UPC/EAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upc: Option<String>,
    /// `FIXED_PRICING` or `VARIABLE_PRICING` (open price: no price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing_type: Option<String>,
    /// Price in the smallest unit of its currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_money: Option<Money>,
}

/// `Money`: integer amount in the smallest denomination plus ISO 4217 currency.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Money {
    /// Minor units (cents).
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
}

/// `category_data`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CategoryData {
    /// Category name.
    pub name: Option<String>,
}

/// BatchRetrieveInventoryCounts answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CountsResponse {
    /// The counts (one per object, location and state).
    pub counts: Vec<InventoryCount>,
    /// Next page.
    pub cursor: Option<String>,
}

/// One inventory count.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InventoryCount {
    /// The variation.
    pub catalog_object_id: String,
    /// `IN_STOCK`, `SOLD`, `WASTE`, …; only IN_STOCK is stock.
    pub state: String,
    /// The location.
    pub location_id: String,
    /// Decimal quantity as text.
    pub quantity: String,
    /// When Square computed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculated_at: Option<String>,
}

/// ListLocations answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LocationsResponse {
    /// The locations.
    pub locations: Vec<LocationObject>,
}

/// One location.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LocationObject {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `ACTIVE` or `INACTIVE`.
    #[serde(default)]
    pub status: Option<String>,
}

/// The reason in a Square error body: `CODE: detail` of each error, joined by `; `.
pub fn reason(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let parts: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| match &e.detail {
            Some(d) if !e.code.is_empty() => format!("{}: {d}", e.code),
            Some(d) => d.clone(),
            None => e.code.clone(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

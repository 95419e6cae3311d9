//! Shopify Admin GraphQL: the queries tillbridge sends and the shapes it reads
//! (<https://shopify.dev/docs/api/admin-graphql/latest/queries/products>,
//! <https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductVariant>,
//! <https://shopify.dev/docs/api/admin-graphql/latest/objects/InventoryLevel>).
//!
//! Page sizes keep a query's requested cost under Shopify's single-query maximum of 1,000
//! points (<https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits>):
//! 5 products × 20 variants × 5 inventory levels. A product with more variants than the
//! listing's first page (`variants.pageInfo.hasNextPage`) has the rest read through
//! [`variants_query`], [`VARIANTS_PER_PAGE`] at a time, following `endCursor` (the `Product`
//! object's `variants(first:, after:)` connection,
//! <https://shopify.dev/docs/api/admin-graphql/latest/objects/Product#connection-variants>).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields read of a variant (shared by every query).
const VARIANT_FIELDS: &str = "id title sku barcode price createdAt updatedAt \
     inventoryItem { id inventoryLevels(first: 5) { nodes { location { id } \
     quantities(names: [\"available\"]) { name quantity } } } }";

/// Variants listed with each product (the first page of its `variants` connection).
pub const VARIANTS_WITH_PRODUCT: u32 = 20;

/// The fields read of a product (the first page of its variants included).
fn product_fields() -> String {
    format!(
        "id title descriptionHtml productType vendor status createdAt updatedAt \
         variants(first: {VARIANTS_WITH_PRODUCT}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {VARIANT_FIELDS} }} }}"
    )
}

/// Products page by page, optionally filtered by a search query (`updated_at:>'…'`).
pub fn products_query() -> String {
    format!(
        "query Products($first: Int!, $after: String, $query: String) {{ \
         products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{ \
         pageInfo {{ hasNextPage endCursor }} nodes {{ {} }} }} }}",
        product_fields()
    )
}

/// Products and variants by global id.
pub fn nodes_query() -> String {
    format!(
        "query Nodes($ids: [ID!]!) {{ nodes(ids: $ids) {{ __typename \
         ... on Product {{ {} }} \
         ... on ProductVariant {{ {VARIANT_FIELDS} product {{ id title descriptionHtml productType vendor status createdAt updatedAt }} }} }} }}",
        product_fields()
    )
}

/// One page of a product's variants after `$after`: `data.product.variants`, or
/// `data.product = null` when the product no longer exists.
pub fn variants_query() -> String {
    format!(
        "query Variants($id: ID!, $first: Int!, $after: String) {{ product(id: $id) {{ \
         variants(first: $first, after: $after) {{ pageInfo {{ hasNextPage endCursor }} \
         nodes {{ {VARIANT_FIELDS} }} }} }} }}"
    )
}

/// Variants per page of [`variants_query`].
pub const VARIANTS_PER_PAGE: u32 = 50;
/// The requested cost of a [`variants_query`] page: 1 + 50 × (3 + 5 × 2) ≈ 651, rounded up.
pub const VARIANTS_PAGE_COST: u32 = 700;

/// `data` of [`variants_query`].
#[derive(Debug, Deserialize)]
pub struct VariantsData {
    /// The product; `None` when it was deleted meanwhile.
    pub product: Option<ProductVariants>,
}

/// A product's `variants` connection alone.
#[derive(Debug, Deserialize)]
pub struct ProductVariants {
    /// One page of variants.
    pub variants: Connection<Variant>,
}

/// The shop's locations.
pub const LOCATIONS_QUERY: &str = "query Locations { locations(first: 50) { nodes { id name } } }";

/// Products per page.
pub const PRODUCTS_PER_PAGE: u32 = 5;
/// The requested cost Shopify computes for a products page (5 × (1 + 20 × (3 + 5 × 2)) ≈
/// 1,000 at most); the limiter reserves it before sending.
pub const PAGE_COST: u32 = 1000;

/// A GraphQL answer.
#[derive(Debug, Deserialize)]
pub struct Answer<T> {
    /// The data (absent on errors).
    #[serde(default = "none")]
    pub data: Option<T>,
    /// Errors (`THROTTLED`, `ACCESS_DENIED`, …).
    #[serde(default)]
    pub errors: Vec<GqlError>,
}

fn none<T>() -> Option<T> {
    None
}

/// One GraphQL error.
#[derive(Debug, Deserialize, Serialize)]
pub struct GqlError {
    /// Message.
    pub message: String,
    /// `{"code": "THROTTLED"}` and such.
    #[serde(default)]
    pub extensions: Option<Value>,
}

impl GqlError {
    /// The error's `extensions.code`.
    pub fn code(&self) -> Option<&str> {
        self.extensions.as_ref()?.get("code")?.as_str()
    }
}

/// A connection page.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    /// Cursor info.
    pub page_info: Option<PageInfo>,
    /// The nodes.
    pub nodes: Vec<T>,
}

/// `pageInfo`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// More after this page.
    pub has_next_page: bool,
    /// The cursor to pass as `after`.
    pub end_cursor: Option<String>,
}

/// `data` of the products query.
#[derive(Debug, Deserialize)]
pub struct ProductsData {
    /// The products.
    pub products: Connection<Product>,
}

/// `data` of the nodes query.
#[derive(Debug, Deserialize)]
pub struct NodesData {
    /// One entry per id asked for; `null` for ids that do not exist.
    pub nodes: Vec<Option<Node>>,
}

/// A node: product or variant.
#[derive(Debug, Deserialize)]
#[serde(tag = "__typename")]
pub enum Node {
    /// A product with its variants.
    Product(Product),
    /// A variant with its product.
    ProductVariant(Variant),
    /// Anything else.
    #[serde(other)]
    Other,
}

/// `data` of the locations query.
#[derive(Debug, Deserialize)]
pub struct LocationsData {
    /// The locations.
    pub locations: Connection<LocationNode>,
}

/// A location.
#[derive(Debug, Deserialize, Serialize)]
pub struct LocationNode {
    /// Global id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
}

/// A product.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Global id `gid://shopify/Product/123`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description (HTML).
    #[serde(default)]
    pub description_html: Option<String>,
    /// Product type (the category tillbridge shows).
    #[serde(default)]
    pub product_type: Option<String>,
    /// Vendor.
    #[serde(default)]
    pub vendor: Option<String>,
    /// `ACTIVE`, `ARCHIVED`, `DRAFT`.
    #[serde(default)]
    pub status: Option<String>,
    /// Created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Variants (absent when read through a variant).
    #[serde(default)]
    pub variants: Option<Connection<Variant>>,
}

/// A variant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    /// Global id `gid://shopify/ProductVariant/456`.
    pub id: String,
    /// Title ("Red / M", "Default Title").
    pub title: String,
    /// SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// Barcode.
    #[serde(default)]
    pub barcode: Option<String>,
    /// Price, a decimal string in the shop's currency (the `Money` scalar).
    #[serde(default)]
    pub price: Option<String>,
    /// Created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Stock keeping.
    #[serde(default)]
    pub inventory_item: Option<InventoryItem>,
    /// Its product (nodes query only).
    #[serde(default)]
    pub product: Option<Box<Product>>,
}

/// An inventory item and its levels per location.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    /// Global id.
    pub id: String,
    /// Levels.
    pub inventory_levels: Connection<Level>,
}

/// One location's level.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Level {
    /// The location.
    pub location: IdOnly,
    /// Named quantities (`available`).
    pub quantities: Vec<Quantity>,
}

/// `{ id }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IdOnly {
    /// Global id.
    pub id: String,
}

/// A named quantity.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Quantity {
    /// `available`, `on_hand`, …
    pub name: String,
    /// Units.
    pub quantity: i64,
}

/// The numeric tail of a global id (`gid://shopify/ProductVariant/456` → `456`), which is
/// the id REST and the webhooks use.
pub fn legacy_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

/// The global id of a numeric variant or product id.
pub fn to_gid(kind: &str, id: &str) -> String {
    if id.starts_with("gid://") {
        id.to_owned()
    } else {
        format!("gid://shopify/{kind}/{id}")
    }
}

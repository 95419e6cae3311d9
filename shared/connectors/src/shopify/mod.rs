//! Shopify Admin GraphQL API
//! (<https://shopify.dev/docs/api/admin-graphql>): `POST
//! /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`
//! (<https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens>).
//!
//! - Catalog: `products(first, after, query)` with `pageInfo { hasNextPage endCursor }`;
//!   delta: `query: "updated_at:>'<RFC 3339>'"`
//!   (<https://shopify.dev/docs/api/usage/search-syntax>).
//! - Variants: the first 20 come with their product; the rest of a product's variants are
//!   paged through `product(id:) { variants(first:, after:) }` until `hasNextPage` is false
//!   ([`wire::variants_query`]).
//! - By id: `nodes(ids:)` on `Product` and `ProductVariant` (numeric REST ids are tried as
//!   both).
//! - Stock: each variant's `inventoryItem.inventoryLevels` with the `available` quantity per
//!   location.
//! - Throttling is by query cost: a leaky bucket (`extensions.cost.throttleStatus`:
//!   `maximumAvailable`, `currentlyAvailable`, `restoreRate`). An over-budget query is
//!   answered `200` with `errors[].extensions.code = "THROTTLED"`; it is retried after
//!   `(requestedQueryCost − currentlyAvailable) / restoreRate` seconds
//!   (<https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits>). The
//!   limiter reserves each query's cost up front ([`crate::http::Request::cost`]).
//! - `401` bodies: `{"errors": "[API] Invalid API key or access token …"}`; a missing scope
//!   is `ACCESS_DENIED` in a 200 answer and becomes [`ConnectorError::Refused`] (403).
//!
//! Ids are the numeric tails of the global ids (as in REST and the webhooks); stock per
//! location is keyed by the numeric location id. Deleted products do not appear in GraphQL
//! listings; deletions arrive as `products/delete` webhooks.

pub mod wire;
mod write;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tillbridge_domain::{CatalogItem, Currency, Provider, Secret, Timestamp};

use crate::api::{
    CatalogPage, FetchedItem, Location, StockLevel, VendorApi, decode, stock_levels, to_minor,
    token_header, vendor_time_opt,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, RateLimit, Request, VendorWire};
use wire::{
    Answer, LocationsData, Node, NodesData, Product, ProductsData, Variant, VariantsData, legacy_id,
};

const V: Provider = Provider::Shopify;
/// The Admin API version this client speaks (Shopify supports each quarterly version for at
/// least 12 months: <https://shopify.dev/docs/api/usage/versioning>).
pub const API_VERSION: &str = "2026-07";

fn reason(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match v.get("errors")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(a.first()?.get("message")?.as_str()?.to_owned()),
        Value::Object(o) => o.values().next()?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn throttled(body: &[u8]) -> bool {
    serde_json::from_slice::<Answer<Value>>(body)
        .is_ok_and(|a| a.data.is_none() && a.errors.iter().any(|e| e.code() == Some("THROTTLED")))
}

/// `(requestedQueryCost − currentlyAvailable) / restoreRate` seconds, from the answer.
fn throttle_wait(_: &HeaderMap, body: &[u8]) -> Option<Duration> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let cost = v.get("extensions")?.get("cost")?;
    let requested = cost.get("requestedQueryCost")?.as_f64()?;
    let status = cost.get("throttleStatus")?;
    let available = status.get("currentlyAvailable")?.as_f64()?;
    let restore = status.get("restoreRate")?.as_f64()?;
    if restore <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(((requested - available) / restore).max(0.0)).ok()
}

/// Shopify's error bodies and cost throttling, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire {
    vendor: V,
    reason,
    wait_hint: throttle_wait,
    throttled_ok: throttled,
};

/// Shopify's documented standard-plan bucket: 100 points restored per second, 2,000 points
/// (Shopify Plus: 1,000 and 20,000).
pub const STANDARD_LIMIT: RateLimit = RateLimit::documented(V);

/// A Shopify client for one shop and Admin API access token.
pub struct ShopifyClient {
    http: HttpLayer,
    url: String,
    headers: HeaderMap,
    currency: Currency,
}

impl ShopifyClient {
    /// A client of the shop at `base_url` (`https://{shop}.myshopify.com`, or a fake) with an
    /// Admin API access token; prices are in the shop's `currency`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL or token.
    pub fn new(
        base_url: &str,
        access_token: &Secret,
        currency: Currency,
        config: HttpConfig,
        env: &Env,
    ) -> Result<Self> {
        let url = Url::parse(base_url)
            .and_then(|u| u.join(&format!("/admin/api/{API_VERSION}/graphql.json")))
            .map_err(|e| ConnectorError::config(V, format!("base_url: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert("x-shopify-access-token", token_header(V, access_token)?);
        Ok(Self {
            http: HttpLayer::new(WIRE, access_token.expose(), config, env)?,
            url: url.into(),
            headers,
            currency,
        })
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
        cost: u32,
    ) -> Result<T> {
        self.graphql(query, variables, cost, true).await
    }

    /// One GraphQL request; `replay: false` sends it with [`HttpLayer::send_once`] (a create
    /// that must not be repeated once it may have run).
    async fn graphql<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
        cost: u32,
        replay: bool,
    ) -> Result<T> {
        let body = json!({ "query": query, "variables": variables });
        let request = Request {
            method: Method::POST,
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: Some(body.to_string().into_bytes()),
            cost,
        };
        let response = if replay {
            self.http.send(&request).await?
        } else {
            self.http.send_once(&request).await?
        };
        let answer: Answer<T> = decode(V, &response.body)?;
        if let Some(data) = answer.data {
            return Ok(data);
        }
        let reason = answer
            .errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        if answer
            .errors
            .iter()
            .any(|e| e.code() == Some("ACCESS_DENIED"))
        {
            return Err(ConnectorError::Refused {
                vendor: V,
                status: 403,
                vendor_reason: reason,
            });
        }
        Err(ConnectorError::Rejected {
            vendor: V,
            status: response.status.as_u16(),
            vendor_reason: reason,
        })
    }

    async fn products(&self, filter: Option<String>, cursor: Option<&str>) -> Result<CatalogPage> {
        let variables = json!({
            "first": wire::PRODUCTS_PER_PAGE,
            "after": cursor,
            "query": filter,
        });
        let data: ProductsData = self
            .query(&wire::products_query(), variables, wire::PAGE_COST)
            .await?;
        let mut out = CatalogPage::default();
        for (i, mut p) in data.products.nodes.into_iter().enumerate() {
            self.rest_of_variants(&mut p).await?;
            self.map_product(&format!("data.products.nodes[{i}]"), &p, &mut out)?;
        }
        out.next_cursor = data
            .products
            .page_info
            .filter(|p| p.has_next_page)
            .and_then(|p| p.end_cursor);
        Ok(out)
    }

    /// Reads the variants of `p` beyond the page that came with it, following `endCursor`,
    /// and appends them to `p.variants.nodes`. A product deleted meanwhile keeps what was
    /// read.
    ///
    /// # Errors
    /// As [`VendorApi`]; a page that says `hasNextPage` without an `endCursor` is
    /// [`ConnectorError::Malformed`].
    async fn rest_of_variants(&self, p: &mut Product) -> Result<()> {
        let Some(variants) = p.variants.as_mut() else {
            return Ok(());
        };
        let mut page_info = variants.page_info.take();
        while let Some(info) = page_info.filter(|i| i.has_next_page) {
            let after = info.end_cursor.ok_or_else(|| {
                ConnectorError::malformed(V, "variants.pageInfo.endCursor", "missing")
            })?;
            let vars = json!({"id": p.id, "first": wire::VARIANTS_PER_PAGE, "after": after});
            let data: VariantsData = self
                .query(&wire::variants_query(), vars, wire::VARIANTS_PAGE_COST)
                .await?;
            let Some(product) = data.product else {
                break;
            };
            page_info = product.variants.page_info;
            variants.nodes.extend(product.variants.nodes);
        }
        Ok(())
    }

    /// Every variant of the product at `path` as a canonical item with its stock (variant
    /// paths count across variant pages).
    fn map_product(&self, path: &str, p: &Product, out: &mut CatalogPage) -> Result<()> {
        out.fetched += 1;
        let variants = p.variants.as_ref().map_or(&[][..], |v| v.nodes.as_slice());
        for (j, v) in variants.iter().enumerate() {
            out.fetched += 1;
            out.push_dated(self.map(&format!("{path}.variants.nodes[{j}]"), path, p, v)?);
        }
        Ok(())
    }

    /// One variant of `product` as a canonical item with its stock.
    fn map(&self, path: &str, product_path: &str, p: &Product, v: &Variant) -> Result<FetchedItem> {
        let time = |at: String, t: &Option<String>| vendor_time_opt(V, &at, t.as_deref());
        let product_updated = time(format!("{product_path}.updatedAt"), &p.updated_at)?;
        let variant_updated = time(format!("{path}.updatedAt"), &v.updated_at)?;
        let price_minor = v
            .price
            .as_deref()
            .map(|price| to_minor(V, self.currency, &format!("{path}.price"), price))
            .transpose()?;
        let mut stock = BTreeMap::new();
        if let Some(inv) = &v.inventory_item {
            for level in &inv.inventory_levels.nodes {
                let available: i64 = level
                    .quantities
                    .iter()
                    .filter(|q| q.name == "available")
                    .map(|q| q.quantity)
                    .sum();
                *stock
                    .entry(legacy_id(&level.location.id).to_owned())
                    .or_insert(Decimal::ZERO) += Decimal::from(available);
            }
        }
        Ok(FetchedItem {
            item: CatalogItem {
                external_id: legacy_id(&v.id).to_owned(),
                parent_id: Some(legacy_id(&p.id).to_owned()),
                name: Some(p.title.clone()),
                variant_name: Some(v.title.clone()),
                sku: v.sku.clone().filter(|s| !s.is_empty()),
                barcode: v.barcode.clone().filter(|s| !s.is_empty()),
                description: p.description_html.clone().filter(|s| !s.is_empty()),
                category: p.product_type.clone().filter(|s| !s.is_empty()),
                vendor: p.vendor.clone().filter(|s| !s.is_empty()),
                is_active: p.status.as_deref().map(|s| s == "ACTIVE"),
                price_minor,
                currency: Some(self.currency),
                quantity_on_hand: v
                    .inventory_item
                    .as_ref()
                    .map(|_| stock.values().copied().sum()),
                created_at: time(format!("{path}.createdAt"), &v.created_at)?,
                // Product edits move the product's updatedAt, variant edits the variant's.
                updated_at: product_updated.max(variant_updated),
                ..CatalogItem::default()
            },
            stock_by_location: stock,
            inventory_item_id: v
                .inventory_item
                .as_ref()
                .map(|i| legacy_id(&i.id).to_owned()),
        })
    }
}

#[async_trait]
impl VendorApi for ShopifyClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn catalog_page(&self, cursor: Option<&str>) -> Result<CatalogPage> {
        self.products(None, cursor).await
    }

    async fn changes_page(&self, since: Timestamp, cursor: Option<&str>) -> Result<CatalogPage> {
        let filter = format!("updated_at:>'{}'", since.to_rfc3339());
        self.products(Some(filter), cursor).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage> {
        let mut out = CatalogPage::default();
        for chunk in ids.chunks(wire::PRODUCTS_PER_PAGE as usize) {
            let gids: Vec<String> = chunk
                .iter()
                .flat_map(|id| {
                    if id.starts_with("gid://") {
                        vec![id.clone()]
                    } else {
                        vec![
                            wire::to_gid("Product", id),
                            wire::to_gid("ProductVariant", id),
                        ]
                    }
                })
                .collect();
            let data: NodesData = self
                .query(
                    &wire::nodes_query(),
                    json!({ "ids": gids }),
                    wire::PAGE_COST,
                )
                .await?;
            let mut found = Vec::new();
            for (i, node) in data.nodes.into_iter().enumerate() {
                let path = format!("data.nodes[{i}]");
                match node {
                    Some(Node::Product(mut p)) => {
                        found.push(legacy_id(&p.id).to_owned());
                        self.rest_of_variants(&mut p).await?;
                        self.map_product(&path, &p, &mut out)?;
                    }
                    Some(Node::ProductVariant(v)) => {
                        found.push(legacy_id(&v.id).to_owned());
                        out.fetched += 1;
                        let p = v.product.as_deref().ok_or_else(|| {
                            ConnectorError::malformed(V, format!("{path}.product"), "missing")
                        })?;
                        out.push_dated(self.map(&path, &format!("{path}.product"), p, &v)?);
                    }
                    Some(Node::Other) | None => {}
                }
            }
            out.missing.extend(
                chunk
                    .iter()
                    .filter(|id| !found.iter().any(|f| f == legacy_id(id)))
                    .cloned(),
            );
        }
        Ok(out)
    }

    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        Ok(stock_levels(self.fetch(variation_ids).await?.items))
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        let data: LocationsData = self.query(wire::LOCATIONS_QUERY, json!({}), 10).await?;
        Ok(data
            .locations
            .nodes
            .into_iter()
            .map(|l| Location {
                id: legacy_id(&l.id).to_owned(),
                name: l.name,
            })
            .collect())
    }
}

//! BigCommerce Catalog API v3
//! (<https://developer.bigcommerce.com/docs/rest-catalog/products>).
//!
//! - Base URL `https://api.bigcommerce.com/stores/{store_hash}`; header `X-Auth-Token`
//!   (<https://developer.bigcommerce.com/docs/start/authentication/api-accounts>).
//! - Products with their variants: `GET /v3/catalog/products?include=variants&page=N&limit=250`;
//!   pages from `meta.pagination` (`current_page`, `total_pages`). Delta:
//!   `date_modified:min=<ISO 8601>` (inclusive: an object at exactly the watermark comes back
//!   again, harmless since the newest version wins).
//! - By id: `id:in=1,2,3` on the same listing; variant ids through
//!   `GET /v3/catalog/variants?id:in=…`.
//! - Locations: `GET /v3/inventory/locations`.
//! - Every product has at least one variant (its base variant); a variant's `price: null`
//!   inherits the product's price. Prices are JSON numbers in major units, converted exactly
//!   from their decimal text, never through f64 arithmetic.
//! - 429 answers carry `X-Rate-Limit-Time-Reset-Ms` (ms until the window resets), also
//!   `X-Rate-Limit-Requests-Left`, `-Requests-Quota`, `-Time-Window-Ms`
//!   (<https://developer.bigcommerce.com/docs/start/best-practices/api-rate-limits>).
//! - Errors: `{"status", "title", "type", "errors"}`.
//!
//! The write side (a migration's destination, [`crate::Destination`]) is in `write` and
//! `undo`.
//!
//! Deleted products vanish from the API (no tombstones from a listing); deletions arrive as
//! `store/product/deleted` webhooks. Stock: the catalog's `inventory_level`, at location
//! `default` (multi-location levels of the Inventory API are not read yet).

mod undo;
mod write;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Number, Value};
use tillbridge_domain::{CatalogItem, Currency, Provider, Secret, Timestamp};

use crate::api::{
    CatalogPage, FetchedItem, Location, StockLevel, VendorApi, bad_cursor, decode, join_url,
    stock_levels, to_minor, token_header, vendor_time_opt,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, Request, VendorWire};

const V: Provider = Provider::BigCommerce;
/// BigCommerce's maximum page size.
const LIMIT: &str = "250";
/// The one stock location read from the catalog.
pub const LOCATION: &str = "default";
/// BigCommerce's API host; the store's base URL is `{API_HOST}/stores/{store_hash}`.
pub const API_HOST: &str = "https://api.bigcommerce.com";

fn reason(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let first = match &v {
        Value::Array(a) => a.first()?.clone(),
        other => other.clone(),
    };
    let title = first
        .get("title")
        .or_else(|| first.get("message"))?
        .as_str()?;
    Some(title.to_owned())
}

fn reset_ms(headers: &HeaderMap, _: &[u8]) -> Option<Duration> {
    let ms: u64 = headers
        .get("x-rate-limit-time-reset-ms")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_millis(ms))
}

/// BigCommerce's error bodies and rate-limit headers, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire {
    wait_hint: reset_ms,
    ..VendorWire::plain(V, reason)
};

#[derive(Debug, Deserialize)]
struct Listing {
    data: Vec<Product>,
    #[serde(default)]
    meta: Meta,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
struct Pagination {
    current_page: u32,
    total_pages: u32,
}

#[derive(Debug, Deserialize)]
struct Product {
    id: u64,
    name: String,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    price: Option<Number>,
    #[serde(default)]
    is_visible: Option<bool>,
    #[serde(default)]
    date_created: Option<String>,
    #[serde(default)]
    date_modified: Option<String>,
    #[serde(default)]
    variants: Vec<Variant>,
}

#[derive(Debug, Deserialize)]
struct Variant {
    id: u64,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    price: Option<Number>,
    #[serde(default)]
    upc: Option<String>,
    #[serde(default)]
    inventory_level: Option<i64>,
    #[serde(default)]
    option_values: Vec<OptionValue>,
}

#[derive(Debug, Deserialize)]
struct OptionValue {
    label: String,
}

#[derive(Debug, Deserialize)]
struct VariantListing {
    data: Vec<VariantRef>,
}

#[derive(Debug, Deserialize)]
struct VariantRef {
    id: u64,
    product_id: u64,
}

#[derive(Debug, Deserialize)]
struct Locations {
    data: Vec<LocationObject>,
}

#[derive(Debug, Deserialize)]
struct LocationObject {
    id: u64,
    #[serde(default)]
    label: Option<String>,
}

/// A BigCommerce client for one store and API account token.
pub struct BigCommerceClient {
    http: HttpLayer,
    base: Url,
    headers: HeaderMap,
    currency: Currency,
}

impl BigCommerceClient {
    /// A client of the store at `base_url` (`https://api.bigcommerce.com/stores/{hash}`, or a
    /// fake) with an API account's access token; amounts are in the store's `currency`.
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
        let base = Url::parse(&format!("{}/", base_url.trim_end_matches('/')))
            .map_err(|e| ConnectorError::config(V, format!("base_url: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert("x-auth-token", token_header(V, access_token)?);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Ok(Self {
            http: HttpLayer::new(WIRE, access_token.expose(), config, env)?,
            base,
            headers,
            currency,
        })
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let request = Request::get(join_url(V, &self.base, path, query)?, &self.headers);
        decode(V, &self.http.send(&request).await?.body)
    }

    /// One call with a JSON body; the answer's body (empty for `204`).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>> {
        let request = Request {
            method,
            url: join_url(V, &self.base, path, query)?,
            headers: self.headers.clone(),
            body: body.map(|b| b.to_string().into_bytes()),
            cost: 1,
        };
        Ok(self.http.send(&request).await?.body)
    }

    async fn products(&self, filter: Option<(&str, String)>, page: u32) -> Result<CatalogPage> {
        let mut query = vec![
            ("include", "variants".to_owned()),
            ("page", page.to_string()),
            ("limit", LIMIT.to_owned()),
        ];
        query.extend(filter);
        let listing: Listing = self.get("v3/catalog/products", &query).await?;
        let mut out = CatalogPage::default();
        for (i, product) in listing.data.iter().enumerate() {
            self.map(&format!("data[{i}]"), product, None, &mut out)?;
        }
        out.next_cursor = listing
            .meta
            .pagination
            .filter(|p| p.current_page < p.total_pages)
            .map(|p| (p.current_page + 1).to_string());
        Ok(out)
    }

    /// A product's variants (only `only` when given) as canonical items.
    fn map(
        &self,
        path: &str,
        p: &Product,
        only: Option<&[u64]>,
        out: &mut CatalogPage,
    ) -> Result<()> {
        out.fetched += 1;
        let updated_at = time(&format!("{path}.date_modified"), p.date_modified.as_deref())?;
        out.watermark = out.watermark.max(updated_at);
        for (j, v) in p.variants.iter().enumerate() {
            if only.is_some_and(|ids| !ids.contains(&v.id)) {
                continue;
            }
            out.fetched += 1;
            let vpath = format!("{path}.variants[{j}]");
            let price = match (&v.price, &p.price) {
                (Some(n), _) => Some((format!("{vpath}.price"), n)),
                (None, Some(n)) => Some((format!("{path}.price"), n)),
                (None, None) => None,
            };
            let price_minor = price
                .map(|(at, n)| to_minor(V, self.currency, &at, &n.to_string()))
                .transpose()?;
            let labels: Vec<&str> = v.option_values.iter().map(|o| o.label.as_str()).collect();
            let quantity = v.inventory_level.map(Decimal::from);
            out.items.push(FetchedItem {
                item: CatalogItem {
                    external_id: v.id.to_string(),
                    parent_id: Some(p.id.to_string()),
                    name: Some(p.name.clone()),
                    variant_name: (!labels.is_empty()).then(|| labels.join(" / ")),
                    sku: v.sku.clone().or_else(|| p.sku.clone()),
                    barcode: v.upc.clone().filter(|u| !u.is_empty()),
                    description: p.description.clone().filter(|d| !d.is_empty()),
                    price_minor,
                    currency: price_minor.map(|_| self.currency),
                    quantity_on_hand: quantity,
                    is_active: p.is_visible,
                    created_at: time(&format!("{path}.date_created"), p.date_created.as_deref())?,
                    updated_at,
                    ..CatalogItem::default()
                },
                stock_by_location: quantity
                    .map(|q| (LOCATION.to_owned(), q))
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
                inventory_item_id: None,
            });
        }
        Ok(())
    }
}

fn time(path: &str, text: Option<&str>) -> Result<Option<Timestamp>> {
    vendor_time_opt(V, path, text)
}

fn page_of(cursor: Option<&str>) -> Result<u32> {
    cursor.map_or(Ok(1), |c| c.parse().map_err(|_| bad_cursor(V, c)))
}

#[async_trait]
impl VendorApi for BigCommerceClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn catalog_page(&self, cursor: Option<&str>) -> Result<CatalogPage> {
        self.products(None, page_of(cursor)?).await
    }

    async fn changes_page(&self, since: Timestamp, cursor: Option<&str>) -> Result<CatalogPage> {
        let filter = ("date_modified:min", since.to_rfc3339());
        self.products(Some(filter), page_of(cursor)?).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage> {
        let numeric: Vec<u64> = ids.iter().filter_map(|i| i.parse().ok()).collect();
        let list = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let mut out = CatalogPage::default();
        let mut found: Vec<u64> = Vec::new();
        for chunk in numeric.chunks(250) {
            let query = [
                ("include", "variants".to_owned()),
                ("id:in", list(chunk)),
                ("limit", LIMIT.to_owned()),
            ];
            let listing: Listing = self.get("v3/catalog/products", &query).await?;
            for (i, p) in listing.data.iter().enumerate() {
                found.push(p.id);
                self.map(&format!("data[{i}]"), p, None, &mut out)?;
            }
        }
        // Ids that are not products may be variants: read them, then their products.
        let rest: Vec<u64> = numeric.into_iter().filter(|i| !found.contains(i)).collect();
        let mut variants_found = Vec::new();
        for chunk in rest.chunks(250) {
            let query = [("id:in", list(chunk)), ("limit", LIMIT.to_owned())];
            let variants: VariantListing = self.get("v3/catalog/variants", &query).await?;
            let mut parents: Vec<u64> = variants.data.iter().map(|v| v.product_id).collect();
            parents.sort_unstable();
            parents.dedup();
            variants_found.extend(variants.data.iter().map(|v| v.id));
            if parents.is_empty() {
                continue;
            }
            let query = [
                ("include", "variants".to_owned()),
                ("id:in", list(&parents)),
            ];
            let listing: Listing = self.get("v3/catalog/products", &query).await?;
            for (i, p) in listing.data.iter().enumerate() {
                self.map(&format!("data[{i}]"), p, Some(&variants_found), &mut out)?;
            }
        }
        out.missing = ids
            .iter()
            .filter(|id| {
                id.parse::<u64>().map_or(true, |n| {
                    !found.contains(&n) && !variants_found.contains(&n)
                })
            })
            .cloned()
            .collect();
        Ok(out)
    }

    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        let page = self.fetch(variation_ids).await?;
        let asked = page
            .items
            .into_iter()
            .filter(|i| variation_ids.contains(&i.item.external_id));
        Ok(stock_levels(asked))
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        let locations: Locations = self.get("v3/inventory/locations", &[]).await?;
        Ok(locations
            .data
            .into_iter()
            .map(|l| Location {
                id: l.id.to_string(),
                name: l.label,
            })
            .collect())
    }
}

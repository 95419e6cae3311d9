//! WooCommerce REST API v3 (<https://woocommerce.github.io/woocommerce-rest-api-docs/>).
//!
//! - Products: `GET /wp-json/wc/v3/products?page=N&per_page=100&orderby=id&order=asc`,
//!   pages counted by the `X-WP-TotalPages` header (also `X-WP-Total` and a `Link:
//!   <…>; rel="next"` header). Delta: `modified_after=<ISO 8601>&dates_are_gmt=true`
//!   (WooCommerce 5.8+).
//! - Variations of a variable product: `GET /wp-json/wc/v3/products/{id}/variations`, paged
//!   the same way (one listing per variable product: the API does not embed them).
//! - Trashed products (deletions): `include_status=trash` (WooCommerce 9.6+; an older store
//!   ignores the parameter, so only objects whose `status` IS `trash` become tombstones).
//!   Products deleted for good leave no trace in the API.
//! - Auth over HTTPS: HTTP Basic with the consumer key and secret.
//! - Errors: `{"code": "woocommerce_rest_…", "message": "…", "data": {"status": 401}}`.
//!
//! The write side (a migration's destination, [`crate::Destination`]) is in `write` and
//! `undo`.
//!
//! The product and variation objects are exactly the payloads of WooCommerce's
//! `product.*` webhooks, so they are mapped by the webhook normalizer
//! ([`tillbridge_webhooks::normalize`]); this module adds what only the API knows: the
//! parent's name and categories on each variation, and the variation's attributes as its
//! `variant_name`. WooCommerce has no locations: stock is one level at location `default`.

mod undo;
mod write;

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;
use tillbridge_domain::event::EventData;
use tillbridge_domain::{Currency, Provider, Secret, Timestamp};
use tillbridge_webhooks::{Headers, NormalizeContext};

use crate::api::{
    CatalogPage, FetchedItem, Location, ObjectKind, StockLevel, Tombstone, VendorApi, all_pages,
    bad_cursor, decode, found, join_url, one_location, parse_base, phase_cursor, stock_levels,
    vendor_time,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, Request, Response, VendorWire};

const V: Provider = Provider::WooCommerce;
const PER_PAGE: &str = "100";
/// The one stock location of a WooCommerce store.
pub const LOCATION: &str = "default";

/// `code: message` of a WooCommerce error body.
fn reason(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let message = v.get("message")?.as_str()?;
    Some(match v.get("code").and_then(Value::as_str) {
        Some(code) => format!("{code}: {message}"),
        None => message.to_owned(),
    })
}

/// WooCommerce's error bodies, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire::plain(V, reason);

/// A WooCommerce client for one store and one REST API key.
pub struct WooCommerceClient {
    http: HttpLayer,
    base: Url,
    headers: HeaderMap,
    currency: Currency,
}

/// Which listing a cursor walks: live products, then trashed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Live,
    Trash,
}

fn parse_cursor(cursor: Option<&str>) -> Result<(Phase, u32)> {
    let Some(c) = cursor else {
        return Ok((Phase::Live, 1));
    };
    match phase_cursor(c) {
        Some(("live", page)) => Ok((Phase::Live, page)),
        Some(("trash", page)) => Ok((Phase::Trash, page)),
        _ => Err(bad_cursor(V, c)),
    }
}

/// `X-WP-TotalPages` (absent: one page).
pub(crate) fn total_pages(response: &Response) -> u32 {
    response
        .headers
        .get("x-wp-totalpages")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1)
}

impl WooCommerceClient {
    /// A client of the store at `base_url` (e.g. `https://shop.example`) with a REST API
    /// key; amounts are in the store's `currency` (the tenant's).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL.
    pub fn new(
        base_url: &str,
        consumer_key: &str,
        consumer_secret: &Secret,
        currency: Currency,
        config: HttpConfig,
        env: &Env,
    ) -> Result<Self> {
        let base = parse_base(V, base_url)?;
        let mut pair = format!("{consumer_key}:").into_bytes();
        pair.extend_from_slice(consumer_secret.expose());
        let basic = base64::engine::general_purpose::STANDARD.encode(&pair);
        let mut auth = HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|_| ConnectorError::config(V, "credentials are not header-safe"))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        Ok(Self {
            http: HttpLayer::new(WIRE, &pair, config, env)?,
            base,
            headers,
            currency,
        })
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    /// One call with a JSON body.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Response> {
        let request = Request {
            method,
            url: join_url(V, &self.base, path, query)?,
            headers: self.headers.clone(),
            body: body.map(|b| b.to_string().into_bytes()),
            cost: 1,
        };
        self.http.send(&request).await
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Response> {
        let request = Request::get(join_url(V, &self.base, path, query)?, &self.headers);
        self.http.send(&request).await
    }

    /// One page of a product listing in `phase`, changed after `since` when given.
    async fn page(&self, since: Option<Timestamp>, cursor: Option<&str>) -> Result<CatalogPage> {
        let (phase, page) = parse_cursor(cursor)?;
        let mut query = vec![
            ("page", page.to_string()),
            ("per_page", PER_PAGE.to_owned()),
            ("orderby", "id".to_owned()),
            ("order", "asc".to_owned()),
        ];
        if let Some(t) = since {
            query.push(("modified_after", t.to_rfc3339()));
            query.push(("dates_are_gmt", "true".to_owned()));
        }
        if phase == Phase::Trash {
            query.push(("include_status", "trash".to_owned()));
        }
        let response = self.get("/wp-json/wc/v3/products", &query).await?;
        let products: Vec<Value> = decode(V, &response.body)?;
        let mut out = CatalogPage::default();
        for (i, product) in products.iter().enumerate() {
            let path = format!("$[{i}]");
            match phase {
                Phase::Live => self.product(&path, product, &mut out).await?,
                Phase::Trash => trashed(&path, product, &mut out)?,
            }
        }
        out.next_cursor = match (phase, page < total_pages(&response)) {
            (Phase::Live, true) => Some(format!("live:{}", page + 1)),
            (Phase::Live, false) => Some("trash:1".to_owned()),
            (Phase::Trash, true) => Some(format!("trash:{}", page + 1)),
            (Phase::Trash, false) => None,
        };
        Ok(out)
    }

    /// A live product: itself (simple) or each of its variations (variable).
    async fn product(&self, path: &str, product: &Value, out: &mut CatalogPage) -> Result<()> {
        let status = product.get("status").and_then(Value::as_str);
        if status == Some("trash") {
            return trashed(path, product, out);
        }
        out.fetched += 1;
        if product.get("type").and_then(Value::as_str) != Some("variable") {
            out.push_dated(self.map(path, product)?);
            return Ok(());
        }
        let id = product
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.id"), "no product id"))?;
        let variations_path = format!("/wp-json/wc/v3/products/{id}/variations");
        let items = all_pages(1, |page: u32| {
            let variations_path = &variations_path;
            async move {
                let query = [
                    ("page", page.to_string()),
                    ("per_page", PER_PAGE.to_owned()),
                ];
                let response = self.get(variations_path, &query).await?;
                let variations: Vec<Value> = decode(V, &response.body)?;
                let items = variations
                    .iter()
                    .enumerate()
                    .map(|(j, variation)| {
                        let vpath = format!("{path}.variations[{j}]");
                        self.map(&vpath, &with_parent(variation, product, id))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((items, (page < total_pages(&response)).then_some(page + 1)))
            }
        })
        .await?;
        for item in items {
            out.fetched += 1;
            out.push_dated(item);
        }
        Ok(())
    }

    /// Maps one product or variation through the webhook normalizer.
    fn map(&self, path: &str, object: &Value) -> Result<FetchedItem> {
        let headers = Headers::new().with("x-wc-webhook-topic", "product.updated");
        let ctx = NormalizeContext {
            currency: self.currency,
            headers: &headers,
            received_at: Timestamp::from_unix_nanos(0),
        };
        let body = serde_json::to_vec(object)
            .map_err(|e| ConnectorError::malformed(V, path, e.to_string()))?;
        let normalized = tillbridge_webhooks::normalize(V, &ctx, &body)
            .map_err(|e| ConnectorError::malformed(V, path, e.to_string()))?;
        let mut item = normalized
            .events
            .into_iter()
            .find_map(|e| match e.data {
                EventData::CatalogItemUpserted(u) => Some(u.item),
                _ => None,
            })
            .ok_or_else(|| ConnectorError::malformed(V, path, "not a product"))?;
        if let Some(variant) = attributes(object) {
            item.variant_name = Some(variant);
        }
        let stock_by_location: BTreeMap<String, _> = item
            .quantity_on_hand
            .map(|q| (LOCATION.to_owned(), q))
            .into_iter()
            .collect();
        Ok(FetchedItem {
            item,
            stock_by_location,
            inventory_item_id: None,
        })
    }
}

/// A variation with its parent's name, id and categories (the API leaves them out).
fn with_parent(variation: &Value, product: &Value, parent_id: u64) -> Value {
    let mut v = variation.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("parent_id".into(), Value::from(parent_id));
        for key in ["name", "categories", "description"] {
            if let Some(value) = product.get(key) {
                obj.insert(key.into(), value.clone());
            }
        }
        if let Some(image) = variation.get("image").filter(|i| !i.is_null()) {
            obj.insert("images".into(), Value::Array(vec![image.clone()]));
        }
    }
    v
}

/// A variation's attribute options, `Red / M` (None for products).
fn attributes(object: &Value) -> Option<String> {
    if object.get("parent_id").and_then(Value::as_u64).unwrap_or(0) == 0 {
        return None;
    }
    let options: Vec<&str> = object
        .get("attributes")?
        .as_array()?
        .iter()
        .filter_map(|a| a.get("option")?.as_str())
        .collect();
    (!options.is_empty()).then(|| options.join(" / "))
}

/// A trashed product as tombstones (itself and the variations it lists).
fn trashed(path: &str, product: &Value, out: &mut CatalogPage) -> Result<()> {
    if product.get("status").and_then(Value::as_str) != Some("trash") {
        return Ok(());
    }
    out.fetched += 1;
    let id = product
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.id"), "no product id"))?;
    let at = product
        .get("date_modified_gmt")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ConnectorError::malformed(V, format!("{path}.date_modified_gmt"), "missing")
        })?;
    let deleted_at = vendor_time(V, &format!("{path}.date_modified_gmt"), at)?;
    out.watermark = out.watermark.max(Some(deleted_at));
    let variations = product.get("variations").and_then(Value::as_array);
    for v in variations.into_iter().flatten().filter_map(Value::as_u64) {
        out.tombstones.push(Tombstone {
            external_id: v.to_string(),
            kind: ObjectKind::Variation,
            deleted_at,
        });
    }
    out.tombstones.push(Tombstone {
        external_id: id.to_string(),
        kind: ObjectKind::Product,
        deleted_at,
    });
    Ok(())
}

#[async_trait]
impl VendorApi for WooCommerceClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn catalog_page(&self, cursor: Option<&str>) -> Result<CatalogPage> {
        self.page(None, cursor).await
    }

    async fn changes_page(&self, since: Timestamp, cursor: Option<&str>) -> Result<CatalogPage> {
        self.page(Some(since), cursor).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage> {
        let mut out = CatalogPage::default();
        for (i, id) in ids.iter().enumerate() {
            let path = format!("$[{i}]");
            let path_of = format!("/wp-json/wc/v3/products/{id}");
            let Some(response) = found(self.get(&path_of, &[]).await)? else {
                out.missing.push(id.clone());
                continue;
            };
            let object: Value = decode(V, &response.body)?;
            let parent = object.get("parent_id").and_then(Value::as_u64).unwrap_or(0);
            if parent == 0 {
                self.product(&path, &object, &mut out).await?;
                continue;
            }
            // A variation: its parent carries the name and categories.
            let response = self
                .get(&format!("/wp-json/wc/v3/products/{parent}"), &[])
                .await?;
            let product: Value = decode(V, &response.body)?;
            out.fetched += 1;
            out.push_dated(self.map(&path, &with_parent(&object, &product, parent))?);
        }
        Ok(out)
    }

    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        Ok(stock_levels(self.fetch(variation_ids).await?.items))
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        Ok(one_location(LOCATION))
    }
}

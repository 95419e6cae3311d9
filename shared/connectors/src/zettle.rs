//! PayPal Zettle: Product Library API and Inventory API v3.
//!
//! - Catalog: `GET https://products.izettle.com/organizations/self/library?limit=500`
//!   → `{fromEventLogUuid, untilEventLogUuid, products, discounts, deletedProducts,
//!   deletedDiscounts}`. Larger libraries are paginated with a `Link: <…>; rel="next"` header
//!   whose URL is followed as it is (the API asks clients not to build it themselves);
//!   `limit` is at most 500. With `eventLogUuid`, the answer holds only what changed since
//!   that event, deletions as `deletedProducts` (product UUIDs) (operation `getLibrary`,
//!   <https://products.izettle.com/swagger>; the concept in
//!   <https://developer.zettle.com/docs/api/product-library/concepts/product-library-concept>).
//!   `GET /organizations/self/products/v2` lists the same products without pages or
//!   deletions, so the library is used instead (its ETags cannot be kept between syncs).
//! - Delta: the trait's watermark is a time, the library's is an event UUID. Each answer's
//!   `untilEventLogUuid` is the page's [`CatalogPage::position`], remembered by the client
//!   against the watermark returned (the time inside the version-1 UUID, else the newest
//!   product `updated`) and stored by the caller beside its watermark (the fetcher's sync
//!   state), which hands it to a later client through [`VendorApi::resume`]. A delta from a
//!   watermark at or after a remembered one asks for `eventLogUuid` (the newest remembered
//!   at or before it: a superset, applied idempotently) and gets deletions as product
//!   tombstones stamped with that event's time. A delta with no position at or before its
//!   watermark walks the library and keeps products `updated` after it: deletions are then
//!   not seen until the next full sync, which removes what Zettle no longer lists.
//! - By id: `GET /organizations/self/products/{productUuid}` (a variant UUID is not an
//!   addressable object: it comes back as missing).
//! - Products hold 1–99 variants; each variant is one canonical item (`parent_id` = product
//!   UUID, `variant_name` = the variant's name or its option values). `price` is
//!   `{"amount": minor units, "currencyId"}`
//!   (<https://github.com/iZettle/api-documentation/blob/master/product-library.adoc>); a
//!   variant without a price is priced at the till (open price).
//! - Stock: `GET https://inventory.izettle.com/v3/stock` → `[{inventoryUuid, productUuid,
//!   variantUuid, balance, updated}]`, paginated by `Link` headers; each `STORE` inventory is
//!   one location (<https://developer.zettle.com/docs/api/inventory/user-guides/manage-inventory-balances/fetch-inventory-balance>).
//!   Variants without a balance record are untracked (no stock figure).
//! - Auth `Authorization: Bearer <access token>` (OAuth). With `client_id` and `api_key`
//!   the token is minted and renewed through the assertion grant ([`crate::oauth`]). Error
//!   bodies are not documented publicly: the reason is read from `developerMessage`,
//!   `error_description`, `message` or `error`, whichever is present.
//! - Limits: Inventory v3 allows about 4 requests/s (soft,
//!   <https://developer.zettle.com/docs/api/inventory/overview>); the Product Library
//!   publishes none, so 4/s applies to both.
//!
//! `base_url`, when given, replaces both hosts and the OAuth host (tests and fakes serve
//! every path).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use tillbridge_domain::{Provider, Secret, Timestamp};

use crate::api::{
    CatalogPage, Location, ObjectKind, StockLevel, Tombstone, VendorApi, all_pages, bearer, decode,
    found, join_url, parse_base, raw_decimal, vendor_time,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, Request, Response, VendorWire};
use crate::oauth::TokenSource;

pub mod wire;
pub mod write;

use wire::{Library, Product, StockRecord};

const V: Provider = Provider::Zettle;
/// The Product Library API.
pub const PRODUCTS_URL: &str = "https://products.izettle.com";
/// The Inventory API.
pub const INVENTORY_URL: &str = "https://inventory.izettle.com";
/// Library entries per page (Zettle's maximum).
const LIMIT: &str = "500";

/// Zettle's error bodies, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire::plain(V, wire::reason);

/// Event UUIDs remembered per client.
const REMEMBERED: usize = 32;

/// Per-variant stock: `{variant: {inventory: balance}}`.
type StockMap = HashMap<String, BTreeMap<String, rust_decimal::Decimal>>;

/// A Zettle client for one organization's access token.
pub struct ZettleClient {
    http: HttpLayer,
    products: Url,
    inventory: Url,
    headers: HeaderMap,
    /// `untilEventLogUuid`s by the watermark (unix nanos) they were returned with.
    event_logs: Mutex<BTreeMap<i64, String>>,
    /// Stock read at the start of a pull, for its later pages.
    stock_cache: Mutex<Option<StockMap>>,
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(response: &Response) -> Option<String> {
    let link = response.headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

/// The time inside a version-1 (time-based) UUID.
pub fn uuid_v1_time(uuid: &str) -> Option<Timestamp> {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || hex.as_bytes().get(12) != Some(&b'1') {
        return None;
    }
    let low = u64::from_str_radix(hex.get(0..8)?, 16).ok()?;
    let mid = u64::from_str_radix(hex.get(8..12)?, 16).ok()?;
    let high = u64::from_str_radix(hex.get(13..16)?, 16).ok()?;
    let ticks = (high << 48) | (mid << 32) | low;
    // 100 ns ticks since 1582-10-15.
    let unix_ticks = i64::try_from(ticks).ok()? - 0x01B2_1DD2_1381_4000;
    Some(Timestamp::from_unix_nanos(unix_ticks.checked_mul(100)?))
}

impl ZettleClient {
    /// A client with the organization's access token; `base_url` (tests, fakes) replaces
    /// both [`PRODUCTS_URL`] and [`INVENTORY_URL`].
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL or token.
    pub fn new(
        base_url: Option<&str>,
        access_token: &Secret,
        config: HttpConfig,
        env: &Env,
    ) -> Result<Self> {
        let http = HttpLayer::new(WIRE, access_token.expose(), config, env)?;
        let mut client = Self::build(base_url, http)?;
        client
            .headers
            .insert(AUTHORIZATION, bearer(V, access_token)?);
        Ok(client)
    }

    /// A client whose access token comes from `tokens` (the assertion grant with the
    /// merchant's API key, renewed as [`crate::oauth`] says).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL.
    pub fn with_token_source(
        base_url: Option<&str>,
        tokens: Arc<TokenSource>,
        config: HttpConfig,
        env: &Env,
    ) -> Result<Self> {
        let http = HttpLayer::new(WIRE, tokens.identity(), config, env)?.with_auth(tokens);
        Self::build(base_url, http)
    }

    /// The assertion grant's URL: `{base_url}/token` when `base_url` is given (tests,
    /// fakes), else `https://oauth.zettle.com/token`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL.
    pub fn token_url(base_url: Option<&str>) -> Result<String> {
        let base = parse_base(V, base_url.unwrap_or(crate::oauth::ZETTLE_OAUTH_URL))?;
        join_url(V, &base, "/token", &[])
    }

    fn build(base_url: Option<&str>, http: HttpLayer) -> Result<Self> {
        Ok(Self {
            http,
            products: parse_base(V, base_url.unwrap_or(PRODUCTS_URL))?,
            inventory: parse_base(V, base_url.unwrap_or(INVENTORY_URL))?,
            headers: HeaderMap::new(),
            event_logs: Mutex::default(),
            stock_cache: Mutex::default(),
        })
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    async fn get_url(&self, url: String) -> Result<Response> {
        self.http.send(&Request::get(url, &self.headers)).await
    }

    /// A `Link` URL of `base`'s origin (a cursor never carries the token elsewhere).
    fn same_origin(base: &Url, url: &str) -> Result<String> {
        let parsed = Url::parse(url)
            .map_err(|e| ConnectorError::malformed(V, "Link", format!("not a URL: {e}")))?;
        if parsed.origin() != base.origin() {
            return Err(ConnectorError::malformed(
                V,
                "Link",
                "the next page is on another host",
            ));
        }
        Ok(parsed.into())
    }

    /// Every stock record, following `Link` pages.
    async fn all_stock(&self) -> Result<Vec<StockRecord>> {
        let first = join_url(V, &self.inventory, "/v3/stock", &[("limit", "500".into())])?;
        all_pages(first, |url| async move {
            let response = self.get_url(url).await?;
            let page: Vec<StockRecord> = decode(V, &response.body)?;
            let next = next_link(&response)
                .map(|next| Self::same_origin(&self.inventory, &next))
                .transpose()?;
            Ok((page, next))
        })
        .await
    }

    async fn stock_map(&self, fresh: bool) -> Result<StockMap> {
        if !fresh && let Some(cached) = self.lock_cache().clone() {
            return Ok(cached);
        }
        let mut map = StockMap::new();
        for (i, r) in self.all_stock().await?.iter().enumerate() {
            let Some(balance) = raw_decimal(V, &format!("$[{i}].balance"), &r.balance)? else {
                continue;
            };
            *map.entry(r.variant_uuid.clone())
                .or_default()
                .entry(r.inventory_uuid.clone())
                .or_default() += balance;
        }
        *self.lock_cache() = Some(map.clone());
        Ok(map)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<StockMap>> {
        self.stock_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, watermark: Timestamp, until: &str) {
        let mut mine = self
            .event_logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        mine.insert(watermark.unix_nanos(), until.to_owned());
        while mine.len() > REMEMBERED {
            mine.pop_first();
        }
    }

    /// The newest event UUID remembered at or before `since`.
    fn remembered(&self, since: Timestamp) -> Option<String> {
        self.event_logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .range(..=since.unix_nanos())
            .next_back()
            .map(|(_, uuid)| uuid.clone())
    }

    /// One library page: the first (`cursor` = `None`) or a `Link` URL.
    async fn page(&self, since: Option<Timestamp>, cursor: Option<&str>) -> Result<CatalogPage> {
        let url = match cursor {
            Some(next) => Self::same_origin(&self.products, next)?,
            None => {
                let mut query = vec![("limit", LIMIT.to_owned())];
                if let Some(event) = since.and_then(|s| self.remembered(s)) {
                    query.push(("eventLogUuid", event));
                }
                join_url(V, &self.products, "/organizations/self/library", &query)?
            }
        };
        let by_event_log = url.contains("eventLogUuid=");
        let stock = self.stock_map(cursor.is_none()).await?;
        let response = self.get_url(url).await?;
        let library: Library = decode(V, &response.body)?;
        let until_time = library
            .until_event_log_uuid
            .as_deref()
            .and_then(uuid_v1_time);
        let mut out = CatalogPage::default();
        for (i, product) in library.products.iter().enumerate() {
            let path = format!("products[{i}]");
            let updated = vendor_time(V, &format!("{path}.updated"), &product.updated)?;
            out.watermark = out.watermark.max(Some(updated));
            if !by_event_log && since.is_some_and(|s| updated <= s) {
                continue;
            }
            map_product(&path, product, updated, &stock, &mut out)?;
        }
        if by_event_log && !library.deleted_products.is_empty() {
            let deleted_at = until_time
                .or(since)
                .ok_or_else(|| ConnectorError::malformed(V, "untilEventLogUuid", "no time"))?;
            for uuid in &library.deleted_products {
                out.fetched += 1;
                out.tombstones.push(Tombstone {
                    external_id: uuid.clone(),
                    kind: ObjectKind::Product,
                    deleted_at,
                });
            }
        }
        out.watermark = until_time.or(out.watermark).max(since);
        if let (Some(w), Some(until)) = (out.watermark, &library.until_event_log_uuid) {
            self.remember(w, until);
            out.position = Some(until.clone());
        }
        out.next_cursor = next_link(&response);
        Ok(out)
    }
}

/// Each variant of `product` as a canonical item, with its stock.
fn map_product(
    path: &str,
    product: &Product,
    updated: Timestamp,
    stock: &StockMap,
    out: &mut CatalogPage,
) -> Result<()> {
    out.fetched += 1 + product.variants.len() as u64;
    for (j, variant) in product.variants.iter().enumerate() {
        let vpath = format!("{path}.variants[{j}]");
        let mut fetched = wire::variant_item(&vpath, product, variant, updated)?;
        if let Some(levels) = stock.get(&variant.uuid) {
            fetched.set_stock(levels.clone());
        }
        out.items.push(fetched);
    }
    Ok(())
}

#[async_trait]
impl VendorApi for ZettleClient {
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
        let stock = self.stock_map(true).await?;
        let mut out = CatalogPage::default();
        for (i, id) in ids.iter().enumerate() {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                out.missing.push(id.clone());
                continue;
            }
            let path = format!("/organizations/self/products/{id}");
            let url = join_url(V, &self.products, &path, &[])?;
            let Some(response) = found(self.get_url(url).await)? else {
                out.missing.push(id.clone());
                continue;
            };
            let product: Product = decode(V, &response.body)?;
            let ppath = format!("$[{i}]");
            let updated = vendor_time(V, &format!("{ppath}.updated"), &product.updated)?;
            out.watermark = out.watermark.max(Some(updated));
            map_product(&ppath, &product, updated, &stock, &mut out)?;
        }
        Ok(out)
    }

    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        let wanted: HashSet<&str> = variation_ids.iter().map(String::as_str).collect();
        let stock = self.stock_map(true).await?;
        let mut levels = Vec::new();
        for (variant, by_inventory) in stock {
            if !wanted.is_empty() && !wanted.contains(variant.as_str()) {
                continue;
            }
            for (location_id, quantity) in by_inventory {
                levels.push(StockLevel {
                    external_id: variant.clone(),
                    location_id,
                    quantity,
                    as_of: None,
                });
            }
        }
        Ok(levels)
    }

    /// Remembers `position` (an `untilEventLogUuid`) at `watermark`; one that is not a
    /// UUID is ignored (a full walk of the library is always correct).
    fn resume(&self, watermark: Timestamp, position: &str) {
        let uuid_like = !position.is_empty()
            && position.len() <= 64
            && position.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if uuid_like {
            self.remember(watermark, position);
        }
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        let mut ids: Vec<String> = self
            .all_stock()
            .await?
            .into_iter()
            .map(|r| r.inventory_uuid)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids
            .into_iter()
            .map(|id| Location { id, name: None })
            .collect())
    }
}

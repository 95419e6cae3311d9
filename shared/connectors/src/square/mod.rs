//! Square: Catalog, Inventory and Locations APIs.
//!
//! - Full catalog: `GET /v2/catalog/list?types=ITEM&cursor=…`
//!   (<https://developer.squareup.com/reference/square/catalog-api/list-catalog>); its
//!   watermark is the `latest_time` of a one-object search made before the first page, so
//!   nothing changed during the listing is missed by the next delta.
//! - Delta: `POST /v2/catalog/search` with `begin_time` (exclusive), `object_types`
//!   ITEM/ITEM_VARIATION, `include_deleted_objects`, `include_related_objects` and the
//!   cursor; `latest_time` is the next watermark
//!   (<https://developer.squareup.com/reference/square/catalog-api/search-catalog-objects>).
//! - By id: `POST /v2/catalog/batch-retrieve` with `include_related_objects` (a
//!   variation's parent ITEM comes back among the related objects)
//!   (<https://developer.squareup.com/reference/square/catalog-api/batch-retrieve-catalog-objects>).
//! - Stock: `POST /v2/inventory/counts/batch-retrieve` with `catalog_object_ids`,
//!   `states: ["IN_STOCK"]` and the cursor
//!   (<https://developer.squareup.com/reference/square/inventory-api/batch-retrieve-inventory-counts>).
//! - Locations: `GET /v2/locations`.
//!
//! Headers: `Authorization: Bearer <access token>` (an OAuth token is renewed through
//! ObtainToken, [`crate::oauth`]), `Square-Version: <date>`
//! (<https://developer.squareup.com/docs/build-basics/versioning-overview>). Errors:
//! `{"errors": [{"category", "code", "detail"}]}`.

pub mod map;
mod undo;
pub mod wire;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::json;
use tillbridge_domain::{Provider, Secret, Timestamp};

use crate::api::{
    CatalogPage, Location, StockLevel, VendorApi, all_pages, attach_stock, bearer, decode,
    join_url, missing_ids, parse_base, vendor_decimal, vendor_time,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, Request, VendorWire};
use crate::oauth::TokenSource;
use map::Mapped;
use wire::{CountsResponse, LocationsResponse, ObjectsResponse};

const V: Provider = Provider::Square;

/// Square's production API.
pub const PRODUCTION_URL: &str = "https://connect.squareup.com";
/// The API version this client speaks (`Square-Version`).
pub const SQUARE_VERSION: &str = "2025-10-16";
/// Objects per SearchCatalogObjects page (Square's maximum is 1000).
const SEARCH_LIMIT: usize = 1000;
/// Ids per batch-retrieve and inventory call.
const BATCH_IDS: usize = 1000;

/// Square's error bodies, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire::plain(V, wire::reason);

/// A Square client for one merchant's access token.
pub struct SquareClient {
    http: HttpLayer,
    base: Url,
    headers: HeaderMap,
    /// Category names by id, filled as pages refer to them.
    categories: Mutex<HashMap<String, String>>,
}

impl SquareClient {
    /// A client of `base_url` (default [`PRODUCTION_URL`]) with the merchant's access token
    /// (a personal access token, or an OAuth token that is not renewed here).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL or a token that is not header-safe.
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

    /// A client of `base_url` whose OAuth access token comes from `tokens` and is renewed
    /// through ObtainToken as [`crate::oauth`] says.
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

    /// ObtainToken's URL on `base_url` (default [`PRODUCTION_URL`]): `{base}/oauth2/token`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL.
    pub fn token_url(base_url: Option<&str>) -> Result<String> {
        let base = parse_base(V, base_url.unwrap_or(PRODUCTION_URL))?;
        join_url(V, &base, "/oauth2/token", &[])
    }

    fn build(base_url: Option<&str>, http: HttpLayer) -> Result<Self> {
        let base = parse_base(V, base_url.unwrap_or(PRODUCTION_URL))?;
        let mut headers = HeaderMap::new();
        headers.insert("square-version", HeaderValue::from_static(SQUARE_VERSION));
        Ok(Self {
            http,
            base,
            headers,
            categories: Mutex::default(),
        })
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<String> {
        let query: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        join_url(V, &self.base, path, &query)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T> {
        let request = Request {
            method,
            url: self.url(path, query)?,
            headers: self.headers.clone(),
            body: body.map(|b| b.to_string().into_bytes()),
            cost: 1,
        };
        let response = self.http.send(&request).await?;
        decode(V, &response.body)
    }

    async fn batch_retrieve(&self, ids: &[String], related: bool) -> Result<ObjectsResponse> {
        let mut all = ObjectsResponse::default();
        for chunk in ids.chunks(BATCH_IDS) {
            let body = json!({
                "object_ids": chunk,
                "include_related_objects": related,
                "include_deleted_objects": true,
            });
            let page: ObjectsResponse = self
                .call(Method::POST, "/v2/catalog/batch-retrieve", &[], Some(body))
                .await?;
            all.objects.extend(page.objects);
            all.related_objects.extend(page.related_objects);
        }
        Ok(all)
    }

    /// Learns the names of the categories `resp` refers to (related objects first, then one
    /// batch-retrieve for the rest).
    async fn learn_categories(&self, resp: &ObjectsResponse) -> Result<HashMap<String, String>> {
        let mut known = self.lock_categories().clone();
        for o in resp.related_objects.iter().chain(&resp.objects) {
            if let Some(name) = o.category_data.as_ref().and_then(|c| c.name.clone()) {
                known.insert(o.id.clone(), name);
            }
        }
        let mut missing: Vec<String> = map::category_ids(&resp.objects)
            .chain(map::category_ids(&resp.related_objects))
            .filter(|id| !known.contains_key(*id))
            .map(str::to_owned)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            for o in self.batch_retrieve(&missing, false).await?.objects {
                let name = o.category_data.and_then(|c| c.name);
                known.insert(o.id, name.unwrap_or_default());
            }
        }
        self.lock_categories().clone_from(&known);
        Ok(known)
    }

    fn lock_categories(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.categories
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Maps an answer into a page: categories, orphan variations' parents, stock.
    async fn page(&self, resp: ObjectsResponse, field: &str) -> Result<CatalogPage> {
        let categories = self.learn_categories(&resp).await?;
        let mut mapped = Mapped::default();
        map::map_objects(
            field,
            &resp.objects,
            &resp.related_objects,
            &categories,
            &mut mapped,
        )?;
        if !mapped.orphans.is_empty() {
            self.adopt_orphans(&mut mapped, &categories).await?;
        }
        let mut items: Vec<_> = mapped.items.into_values().collect();
        let ids: Vec<String> = items.iter().map(|i| i.item.external_id.clone()).collect();
        let levels = self.stock(&ids).await?;
        attach_stock(&mut items, &levels);
        Ok(CatalogPage {
            items,
            tombstones: mapped.tombstones,
            fetched: mapped.fetched,
            missing: Vec::new(),
            next_cursor: resp.cursor.filter(|c| !c.is_empty()),
            watermark: None,
            position: None,
        })
    }

    /// Variations whose parent ITEM was not in the answer: fetch the parents, then map.
    async fn adopt_orphans(
        &self,
        mapped: &mut Mapped,
        categories: &HashMap<String, String>,
    ) -> Result<()> {
        let orphans = std::mem::take(&mut mapped.orphans);
        let mut parent_ids: Vec<String> = orphans
            .iter()
            .filter_map(|(_, o)| o.item_variation_data.as_ref()?.item_id.clone())
            .collect();
        parent_ids.sort_unstable();
        parent_ids.dedup();
        let parents = self.batch_retrieve(&parent_ids, false).await?.objects;
        for (path, var) in orphans {
            let parent_id = var
                .item_variation_data
                .as_ref()
                .and_then(|d| d.item_id.as_deref());
            match parents.iter().find(|p| Some(p.id.as_str()) == parent_id) {
                Some(parent) => {
                    let item = map::variation(&path, parent, &var, categories)?;
                    mapped.items.insert(var.id.clone(), item);
                }
                None => {
                    return Err(ConnectorError::malformed(
                        V,
                        format!("{path}.item_variation_data.item_id"),
                        "the parent ITEM does not exist",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The catalog's `latest_time` now (a one-object search).
    async fn latest_time(&self) -> Result<Option<Timestamp>> {
        let body = json!({"object_types": ["ITEM"], "limit": 1});
        let resp: ObjectsResponse = self
            .call(Method::POST, "/v2/catalog/search", &[], Some(body))
            .await?;
        resp.latest_time
            .map(|t| vendor_time(V, "latest_time", &t))
            .transpose()
    }
}

#[async_trait]
impl VendorApi for SquareClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn catalog_page(&self, cursor: Option<&str>) -> Result<CatalogPage> {
        let watermark = match cursor {
            None => self.latest_time().await?,
            Some(_) => None,
        };
        let mut query = vec![("types", "ITEM")];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        let resp: ObjectsResponse = self
            .call(Method::GET, "/v2/catalog/list", &query, None)
            .await?;
        let mut page = self.page(resp, "objects").await?;
        page.watermark = watermark;
        Ok(page)
    }

    async fn changes_page(&self, since: Timestamp, cursor: Option<&str>) -> Result<CatalogPage> {
        let mut body = json!({
            "object_types": ["ITEM", "ITEM_VARIATION"],
            "include_deleted_objects": true,
            "include_related_objects": true,
            "begin_time": since.to_rfc3339(),
            "limit": SEARCH_LIMIT,
        });
        if let Some(c) = cursor {
            body["cursor"] = json!(c);
        }
        let resp: ObjectsResponse = self
            .call(Method::POST, "/v2/catalog/search", &[], Some(body))
            .await?;
        let latest = resp
            .latest_time
            .as_deref()
            .map(|t| vendor_time(V, "latest_time", t))
            .transpose()?;
        let mut page = self.page(resp, "objects").await?;
        page.watermark = latest;
        Ok(page)
    }

    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage> {
        let resp = self.batch_retrieve(ids, true).await?;
        let found: std::collections::HashSet<&str> =
            resp.objects.iter().map(|o| o.id.as_str()).collect();
        let missing = missing_ids(ids, &found);
        let mut page = self.page(resp, "objects").await?;
        page.missing = missing;
        Ok(page)
    }

    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        let mut levels = Vec::new();
        for chunk in variation_ids.chunks(BATCH_IDS) {
            let pages = all_pages(None, |cursor: Option<String>| async move {
                let mut body = json!({
                    "catalog_object_ids": chunk,
                    "states": ["IN_STOCK"],
                    "limit": 1000,
                });
                if let Some(c) = &cursor {
                    body["cursor"] = json!(c);
                }
                let path = "/v2/inventory/counts/batch-retrieve";
                let resp: CountsResponse = self.call(Method::POST, path, &[], Some(body)).await?;
                let mut page = Vec::new();
                for (i, c) in resp.counts.iter().enumerate() {
                    // Other states (SOLD, WASTE, IN_TRANSIT, …) are not stock on hand.
                    if c.state != "IN_STOCK" {
                        continue;
                    }
                    let path = format!("counts[{i}]");
                    page.push(StockLevel {
                        external_id: c.catalog_object_id.clone(),
                        location_id: c.location_id.clone(),
                        quantity: vendor_decimal(V, &format!("{path}.quantity"), &c.quantity)?,
                        as_of: c
                            .calculated_at
                            .as_deref()
                            .map(|t| vendor_time(V, &format!("{path}.calculated_at"), t))
                            .transpose()?,
                    });
                }
                Ok((page, resp.cursor.filter(|c| !c.is_empty()).map(Some)))
            });
            levels.extend(pages.await?);
        }
        Ok(levels)
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        let resp: LocationsResponse = self.call(Method::GET, "/v2/locations", &[], None).await?;
        Ok(resp
            .locations
            .into_iter()
            .map(|l| Location {
                id: l.id,
                name: l.name,
            })
            .collect())
    }
}

//! Clover REST API v3, inventory (<https://docs.clover.com/dev/reference/api-reference-overview>).
//!
//! - Items: `GET /v3/merchants/{mId}/items?expand=itemStock,categories,itemGroup,options`
//!   with `limit`/`offset` pagination (added June 2023,
//!   <https://docs.clover.com/changelog/clover-api-updates-june-2023>); the answer is
//!   `{"elements": […], "href": …}`, and a page shorter than `limit` is the last.
//! - Delta: `filter=modifiedTime>=<epoch ms>` (Clover recommends querying with
//!   `modifiedTime` filters, <https://docs.clover.com/docs/api-usage-rate-limits>). It is
//!   inclusive: an item changed at exactly the watermark comes back again, harmless because
//!   the newest version wins, and never missed.
//! - Deletions: a second listing with `filter=deleted=true` as well. STILL NOT CONFIRMED:
//!   searched Clover's public docs (items guide
//!   <https://docs.clover.com/docs/managing-items-item-groups>, inventory FAQ
//!   <https://docs.clover.com/dev/docs/inventory-faqs>, the items changelogs of April 2021
//!   and June 2023) — they document `modifiedTime`, `itemStock.quantity`, `offset`/`limit`
//!   filters on `/items`, none for deleted items. So the listing stays defensive: only items
//!   whose own `deleted` field is `true` become tombstones (stamped with their
//!   `modifiedTime`), and a `400` for the filter ends the delta without tombstones (the next
//!   full sync removes what the merchant deleted). Item deletions also arrive as webhooks.
//! - By id: `GET /v3/merchants/{mId}/items/{itemId}?expand=…`; stock by id:
//!   `GET /v3/merchants/{mId}/item_stocks/{itemId}` → `{"item", "quantity", "stockCount"}`
//!   (`quantity` is decimal; `stockCount` is deprecated and rounded,
//!   <https://docs.clover.com/docs/querying-inventory>).
//! - Items: `price` in cents (<https://docs.clover.com/docs/managing-items-item-groups>),
//!   `priceType` `FIXED`, `VARIABLE` (open price: no `price_minor`) or `PER_UNIT` (price per
//!   `unitName`), `hidden` (not sold on the POS: inactive). An item in an item group is one
//!   variant: `name` = the group's name, `variant_name` = its option names (`Large / Red`),
//!   `parent_id` = the group's id. Amounts carry no currency: the tenant's is used.
//! - Auth `Authorization: Bearer <access token>`; errors `{"message": "…"}`; limits 16
//!   requests/s per token and 5 concurrent (<https://docs.clover.com/docs/api-usage-rate-limits>);
//!   `429` carries `Retry-After`.
//!
//! A Clover merchant is one location: stock is reported at location `{mId}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tillbridge_domain::{CatalogItem, Currency, Provider, Secret, Timestamp};

use crate::api::{
    CatalogPage, FetchedItem, Location, ObjectKind, StockLevel, Tombstone, VendorApi, bad_cursor,
    bearer, decode, found, join_url, one_location, parse_base, phase_cursor, raw_decimal_opt,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, Request, VendorWire};

const V: Provider = Provider::Clover;
/// Clover's production API (North America; Europe is `https://api.eu.clover.com`).
pub const PRODUCTION_URL: &str = "https://api.clover.com";
/// Items per page (Clover's maximum is 1000).
pub const DEFAULT_PAGE_LIMIT: usize = 1000;
const EXPAND: &str = "itemStock,categories,itemGroup,options";

fn reason(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v.get("message")?.as_str()?.to_owned())
}

/// Clover's error bodies, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire::plain(V, reason);

/// `{"elements": […]}`, Clover's list envelope.
#[derive(Debug, Deserialize)]
pub struct Elements<T> {
    /// The objects.
    #[serde(default = "Vec::new")]
    pub elements: Vec<T>,
}

/// An inventory item (the fields tillbridge reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Id (13 characters).
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Hidden on the POS.
    #[serde(default)]
    pub hidden: Option<bool>,
    /// Price in cents.
    #[serde(default)]
    pub price: Option<i64>,
    /// `FIXED`, `VARIABLE`, `PER_UNIT`.
    #[serde(default)]
    pub price_type: Option<String>,
    /// Unit of a `PER_UNIT` price.
    #[serde(default)]
    pub unit_name: Option<String>,
    /// Cost in cents.
    #[serde(default)]
    pub cost: Option<i64>,
    /// SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// Product code (UPC/EAN).
    #[serde(default)]
    pub code: Option<String>,
    /// Last change, epoch ms.
    #[serde(default)]
    pub modified_time: Option<i64>,
    /// Deleted.
    #[serde(default)]
    pub deleted: Option<bool>,
    /// The item group (variants).
    #[serde(default)]
    pub item_group: Option<Named>,
    /// Stock (with `expand=itemStock`).
    #[serde(default)]
    pub item_stock: Option<ItemStock>,
    /// Categories (with `expand=categories`).
    #[serde(default)]
    pub categories: Option<Elements<Named>>,
    /// Variant options (with `expand=options`).
    #[serde(default)]
    pub options: Option<Elements<Named>>,
}

/// `{"id", "name"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// An item's stock.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemStock {
    /// The item.
    #[serde(default)]
    pub item: Option<Named>,
    /// Decimal quantity (may be negative).
    #[serde(default)]
    pub quantity: Option<Box<RawValue>>,
    /// Deprecated rounded quantity, read only when `quantity` is absent.
    #[serde(default)]
    pub stock_count: Option<i64>,
}

/// A Clover client for one merchant and access token.
pub struct CloverClient {
    http: HttpLayer,
    base: Url,
    merchant: String,
    headers: HeaderMap,
    currency: Currency,
    limit: usize,
    /// Item group names by id, learned as pages refer to them.
    groups: Mutex<HashMap<String, String>>,
}

/// Which listing a cursor walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Live,
    Deleted,
}

fn parse_cursor(cursor: Option<&str>) -> Result<(Phase, usize)> {
    let Some(c) = cursor else {
        return Ok((Phase::Live, 0));
    };
    match phase_cursor(c) {
        Some(("live", offset)) => Ok((Phase::Live, offset)),
        Some(("deleted", offset)) => Ok((Phase::Deleted, offset)),
        _ => Err(bad_cursor(V, c)),
    }
}

fn millis(path: &str, ms: i64) -> Result<Timestamp> {
    Timestamp::from_unix_millis(ms)
        .ok_or_else(|| ConnectorError::malformed(V, path, format!("epoch ms out of range: {ms}")))
}

impl CloverClient {
    /// A client of `base_url` (default [`PRODUCTION_URL`]) for merchant `merchant_id` with an
    /// access token; amounts are in `currency` (the tenant's).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL, merchant id or token.
    pub fn new(
        base_url: Option<&str>,
        merchant_id: &str,
        access_token: &Secret,
        currency: Currency,
        config: HttpConfig,
        env: &Env,
    ) -> Result<Self> {
        let base = parse_base(V, base_url.unwrap_or(PRODUCTION_URL))?;
        if merchant_id.is_empty() || !merchant_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConnectorError::config(
                V,
                "merchant_id must be alphanumeric",
            ));
        }
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, bearer(V, access_token)?);
        Ok(Self {
            http: HttpLayer::new(WIRE, access_token.expose(), config, env)?,
            base,
            merchant: merchant_id.to_owned(),
            headers,
            currency,
            limit: DEFAULT_PAGE_LIMIT,
            groups: Mutex::default(),
        })
    }

    /// Items per page (1..=1000; default [`DEFAULT_PAGE_LIMIT`]).
    #[must_use]
    pub fn with_page_limit(mut self, limit: usize) -> Self {
        self.limit = limit.clamp(1, DEFAULT_PAGE_LIMIT);
        self
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let path = format!("/v3/merchants/{}/{path}", self.merchant);
        let request = Request::get(join_url(V, &self.base, &path, query)?, &self.headers);
        decode(V, &self.http.send(&request).await?.body)
    }

    /// One page of the item listing in `phase`, changed at or after `since` when given.
    async fn page(&self, since: Option<Timestamp>, cursor: Option<&str>) -> Result<CatalogPage> {
        let (phase, offset) = parse_cursor(cursor)?;
        let mut query = vec![
            ("expand", EXPAND.to_owned()),
            ("limit", self.limit.to_string()),
            ("offset", offset.to_string()),
        ];
        if let Some(t) = since {
            let ms = t.unix_nanos().div_euclid(1_000_000);
            query.push(("filter", format!("modifiedTime>={ms}")));
        }
        if phase == Phase::Deleted {
            query.push(("filter", "deleted=true".to_owned()));
        }
        let listing: Elements<Item> = match self.get("items", &query).await {
            Ok(listing) => listing,
            Err(ConnectorError::Rejected { status: 400, .. }) if phase == Phase::Deleted => {
                tracing::warn!("clover: the deleted-items filter was refused; no tombstones");
                return Ok(CatalogPage::default());
            }
            Err(e) => return Err(e),
        };
        let mut out = CatalogPage::default();
        self.map_items("elements", &listing.elements, phase, &mut out)
            .await?;
        let full = listing.elements.len() >= self.limit;
        out.next_cursor = match (phase, full, since.is_some()) {
            (_, true, _) => Some(format!(
                "{}:{}",
                if phase == Phase::Live {
                    "live"
                } else {
                    "deleted"
                },
                offset + listing.elements.len()
            )),
            (Phase::Live, false, true) => Some("deleted:0".to_owned()),
            _ => None,
        };
        Ok(out)
    }

    /// Maps items: live ones to canonical items, deleted ones to tombstones.
    async fn map_items(
        &self,
        field: &str,
        items: &[Item],
        phase: Phase,
        out: &mut CatalogPage,
    ) -> Result<()> {
        self.learn_groups(items).await?;
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{field}[{i}]");
            let at = item
                .modified_time
                .map(|ms| millis(&format!("{path}.modifiedTime"), ms))
                .transpose()?;
            out.watermark = out.watermark.max(at);
            if item.deleted == Some(true) {
                out.fetched += 1;
                let deleted_at = at.ok_or_else(|| {
                    ConnectorError::malformed(
                        V,
                        format!("{path}.modifiedTime"),
                        "a deleted item has no time",
                    )
                })?;
                out.tombstones.push(Tombstone {
                    external_id: item.id.clone(),
                    kind: ObjectKind::Variation,
                    deleted_at,
                });
            } else if phase == Phase::Live {
                out.fetched += 1;
                out.items.push(self.map_item(&path, item, at, &groups)?);
            }
        }
        Ok(())
    }

    /// Learns the names of item groups the items refer to without one.
    async fn learn_groups(&self, items: &[Item]) -> Result<()> {
        let mut missing = Vec::new();
        {
            let mut known = self
                .groups
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for g in items.iter().filter_map(|i| i.item_group.as_ref()) {
                match &g.name {
                    Some(name) => {
                        known.insert(g.id.clone(), name.clone());
                    }
                    None if !known.contains_key(&g.id) && !missing.contains(&g.id) => {
                        missing.push(g.id.clone());
                    }
                    None => {}
                }
            }
        }
        for id in missing {
            let path = format!("item_groups/{id}");
            let Some(group) = found(self.get::<Named>(&path, &[]).await)? else {
                continue;
            };
            if let Some(name) = group.name {
                self.groups
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(id, name);
            }
        }
        Ok(())
    }

    fn map_item(
        &self,
        path: &str,
        item: &Item,
        updated_at: Option<Timestamp>,
        groups: &HashMap<String, String>,
    ) -> Result<FetchedItem> {
        let open = item.price_type.as_deref() == Some("VARIABLE");
        let price_minor = if open { None } else { item.price };
        let options: Vec<&str> = item
            .options
            .iter()
            .flat_map(|o| &o.elements)
            .filter_map(|o| o.name.as_deref())
            .collect();
        let (name, variant_name, parent_id) = match &item.item_group {
            Some(g) => (
                groups.get(&g.id).cloned().or_else(|| item.name.clone()),
                if options.is_empty() {
                    item.name.clone()
                } else {
                    Some(options.join(" / "))
                },
                Some(g.id.clone()),
            ),
            None => (item.name.clone(), None, None),
        };
        let mut stock_by_location = BTreeMap::new();
        if let Some(stock) = &item.item_stock {
            let path = format!("{path}.itemStock.quantity");
            let qty = raw_decimal_opt(V, &path, stock.quantity.as_deref())?;
            if let Some(q) = qty.or_else(|| stock.stock_count.map(Into::into)) {
                stock_by_location.insert(self.merchant.clone(), q);
            }
        }
        let quantity_on_hand =
            (!stock_by_location.is_empty()).then(|| stock_by_location.values().copied().sum());
        let category = item
            .categories
            .as_ref()
            .and_then(|c| c.elements.first())
            .and_then(|c| c.name.clone());
        let per_unit = item.price_type.as_deref() == Some("PER_UNIT");
        Ok(FetchedItem {
            item: CatalogItem {
                external_id: item.id.clone(),
                parent_id,
                name,
                variant_name,
                sku: item.sku.clone().filter(|s| !s.is_empty()),
                barcode: item.code.clone().filter(|s| !s.is_empty()),
                category,
                price_minor,
                currency: price_minor.map(|_| self.currency),
                // `VARIABLE`: priced at the register, no fixed price.
                open_price: open.then_some(true),
                cost_minor: item.cost,
                is_active: Some(!item.hidden.unwrap_or(false)),
                unit_of_measure: if per_unit {
                    item.unit_name.clone()
                } else {
                    None
                },
                quantity_on_hand,
                stock_by_location: stock_by_location.clone(),
                updated_at,
                ..CatalogItem::default()
            },
            stock_by_location,
            inventory_item_id: None,
        })
    }
}

#[async_trait]
impl VendorApi for CloverClient {
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
        let mut items = Vec::new();
        let mut out = CatalogPage::default();
        for id in ids {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                out.missing.push(id.clone());
                continue;
            }
            let query = [("expand", EXPAND.to_owned())];
            match found(self.get::<Item>(&format!("items/{id}"), &query).await)? {
                Some(item) => items.push(item),
                None => out.missing.push(id.clone()),
            }
        }
        self.map_items("$", &items, Phase::Live, &mut out).await?;
        Ok(out)
    }

    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        let mut levels = Vec::new();
        for id in variation_ids {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            let path = format!("item_stocks/{id}");
            let Some(stock) = found(self.get::<ItemStock>(&path, &[]).await)? else {
                continue;
            };
            let qty = raw_decimal_opt(V, "quantity", stock.quantity.as_deref())?;
            if let Some(quantity) = qty.or_else(|| stock.stock_count.map(Into::into)) {
                levels.push(StockLevel {
                    external_id: id.clone(),
                    location_id: self.merchant.clone(),
                    quantity,
                    as_of: None,
                });
            }
        }
        Ok(levels)
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        Ok(one_location(&self.merchant))
    }
}

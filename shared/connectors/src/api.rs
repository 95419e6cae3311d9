//! What every vendor client offers ([`VendorApi`]) and what it returns.
//!
//! Items are canonical [`CatalogItem`]s, one per variation, named as for webhooks
//! (shared/design/CLI.md "Vendor APIs"): `name` = the item's name, `variant_name` = the
//! variation's, `parent_id` = the product id, `price_minor` absent for variable/open prices,
//! `quantity_on_hand` = the sum over locations of IN_STOCK only. The per-location stock
//! travels beside the item in [`FetchedItem::stock_by_location`] until the canonical item
//! grows its own field.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::HeaderValue;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use tillbridge_domain::{CatalogItem, Currency, Provider, Secret, Timestamp};

use crate::error::{ConnectorError, Result};
use crate::http::CallStats;

/// One canonical item as fetched, with its stock per location.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedItem {
    /// The canonical item (one variation). `quantity_on_hand` is the sum of
    /// `stock_by_location` when the vendor tracks stock per location.
    pub item: CatalogItem,
    /// `{location_id: quantity}`, in-stock quantities only; empty when the vendor has no
    /// locations or the item's stock is not tracked.
    pub stock_by_location: BTreeMap<String, Decimal>,
    /// The vendor's separate stock-keeping id, when it has one (Shopify's inventory item).
    pub inventory_item_id: Option<String>,
}

impl FetchedItem {
    /// Sets the item's stock: the per-location map (beside the item and on it) and
    /// `quantity_on_hand`, its sum.
    pub(crate) fn set_stock(&mut self, levels: BTreeMap<String, Decimal>) {
        self.item.quantity_on_hand = Some(levels.values().copied().sum());
        self.item.stock_by_location.clone_from(&levels);
        self.stock_by_location = levels;
    }
}

/// What was deleted: a whole product (all its variations) or one variation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A product (Square ITEM): its variations are gone too.
    Product,
    /// One variation (one canonical item).
    Variation,
}

/// A deletion seen at the vendor, stamped with the vendor's time so an older upsert cannot
/// bring the item back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The vendor's id of the deleted object.
    pub external_id: String,
    /// Product or variation.
    pub kind: ObjectKind,
    /// The vendor's time of the deletion (Square: the object's `updated_at`).
    pub deleted_at: Timestamp,
}

/// One page of catalog objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CatalogPage {
    /// Live variations as canonical items, with stock.
    pub items: Vec<FetchedItem>,
    /// Deleted objects.
    pub tombstones: Vec<Tombstone>,
    /// Vendor objects received (products and variations, deleted ones included).
    pub fetched: u64,
    /// Ids asked for by [`VendorApi::fetch`] that the vendor does not have.
    pub missing: Vec<String>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
    /// The watermark to pass as `since` next time (Square's `latest_time`; otherwise the
    /// newest modification time seen).
    pub watermark: Option<Timestamp>,
    /// The vendor's own resume position for a delta from [`CatalogPage::watermark`], when the
    /// vendor has one besides times (Zettle: the library's `untilEventLogUuid`). Stored with
    /// the watermark and handed back through [`VendorApi::resume`] by a later process.
    pub position: Option<String>,
}

impl CatalogPage {
    /// Adds a live item and raises the watermark to its `updated_at`.
    pub(crate) fn push_dated(&mut self, item: FetchedItem) {
        self.watermark = self.watermark.max(item.item.updated_at);
        self.items.push(item);
    }
}

/// Stock of one variation at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLevel {
    /// The variation's id.
    pub external_id: String,
    /// The location's id.
    pub location_id: String,
    /// In-stock quantity (decimal: weighed goods).
    pub quantity: Decimal,
    /// When the vendor computed it.
    pub as_of: Option<Timestamp>,
}

/// A merchant location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The vendor's id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
}

/// A vendor's catalog API, spoken in its own wire format.
///
/// Every method sends through the shared HTTP layer (rate limit, retries, breaker) and
/// fails with [`ConnectorError`]: `Refused` (401/403, with the vendor's reason),
/// `NotFound`, `Rejected`, `Exhausted { last_status }`, `CircuitOpen`, `Malformed { path }`.
#[async_trait]
pub trait VendorApi: Send + Sync {
    /// The vendor.
    fn provider(&self) -> Provider;

    /// API calls and retries this client has made.
    fn stats(&self) -> CallStats;

    /// One page of the full catalog (live objects, with stock). Start with `None`, then pass
    /// [`CatalogPage::next_cursor`] until it is `None`.
    ///
    /// # Errors
    /// See the trait docs.
    async fn catalog_page(&self, cursor: Option<&str>) -> Result<CatalogPage>;

    /// One page of what changed strictly after `since`, deletions as tombstones.
    ///
    /// # Errors
    /// See the trait docs.
    async fn changes_page(&self, since: Timestamp, cursor: Option<&str>) -> Result<CatalogPage>;

    /// Specific objects by id (fetch-on-notify): products or variations; ids the vendor does
    /// not have come back in [`CatalogPage::missing`].
    ///
    /// # Errors
    /// See the trait docs.
    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage>;

    /// In-stock quantity of these variations at every location.
    ///
    /// # Errors
    /// See the trait docs.
    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>>;

    /// The merchant's locations.
    ///
    /// # Errors
    /// See the trait docs.
    async fn locations(&self) -> Result<Vec<Location>>;

    /// Hands back a resume position an earlier pull returned with `watermark`
    /// ([`Pull::position`], kept by the caller beside its watermark): a delta from
    /// `watermark` or later then starts from it. Vendors whose deltas are by time alone
    /// ignore it (the default).
    fn resume(&self, watermark: Timestamp, position: &str) {
        let _ = (watermark, position);
    }
}

/// Everything a full or delta pull returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pull {
    /// Live variations with stock.
    pub items: Vec<FetchedItem>,
    /// Deletions.
    pub tombstones: Vec<Tombstone>,
    /// Vendor objects received.
    pub fetched: u64,
    /// The watermark for the next delta.
    pub watermark: Option<Timestamp>,
    /// The vendor's resume position at [`Pull::watermark`] (the last page's
    /// [`CatalogPage::position`]), to keep beside the watermark and hand back through
    /// [`VendorApi::resume`].
    pub position: Option<String>,
}

/// Pulls every page: the full catalog (`since` = `None`) or the changes after `since`.
///
/// # Errors
/// The first page that failed (see [`VendorApi`]).
pub async fn pull(api: &dyn VendorApi, since: Option<Timestamp>) -> Result<Pull> {
    let mut out = Pull::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = match since {
            None => api.catalog_page(cursor.as_deref()).await?,
            Some(t) => api.changes_page(t, cursor.as_deref()).await?,
        };
        out.items.extend(page.items);
        out.tombstones.extend(page.tombstones);
        out.fetched += page.fetched;
        out.watermark = out.watermark.max(page.watermark);
        if page.position.is_some() {
            out.position = page.position;
        }
        match page.next_cursor {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Walks a vendor's pages from the cursor `first`: `fetch` answers one page's items and the
/// next page's cursor, `None` on the last. The items of every page, in order.
///
/// # Errors
/// The first page that failed.
pub(crate) async fn all_pages<C, T, F, Fut>(first: C, mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<C>)>>,
{
    let mut all = Vec::new();
    let mut cursor = first;
    loop {
        let (page, next) = fetch(cursor).await?;
        all.extend(page);
        match next {
            Some(next) => cursor = next,
            None => return Ok(all),
        }
    }
}

/// Sums per-location stock into `quantity_on_hand` and stores the map beside the item.
pub(crate) fn attach_stock(items: &mut [FetchedItem], levels: &[StockLevel]) {
    let mut by_item: BTreeMap<&str, BTreeMap<String, Decimal>> = BTreeMap::new();
    for l in levels {
        *by_item
            .entry(l.external_id.as_str())
            .or_default()
            .entry(l.location_id.clone())
            .or_default() += l.quantity;
    }
    for fetched in items {
        let map = by_item
            .remove(fetched.item.external_id.as_str())
            .unwrap_or_default();
        fetched.item.quantity_on_hand = Some(map.values().copied().sum());
        fetched.stock_by_location = map;
    }
}

/// Decodes a vendor answer; a mismatch is [`ConnectorError::Malformed`] naming the JSON path.
pub(crate) fn decode<T: DeserializeOwned>(vendor: Provider, body: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        ConnectorError::malformed(vendor, path, e.into_inner().to_string())
    })
}

/// The per-location stock of fetched items as stock levels, as of each item's `updated_at`.
pub(crate) fn stock_levels(items: impl IntoIterator<Item = FetchedItem>) -> Vec<StockLevel> {
    items
        .into_iter()
        .flat_map(|i| {
            let (id, as_of) = (i.item.external_id, i.item.updated_at);
            i.stock_by_location
                .into_iter()
                .map(move |(location_id, quantity)| StockLevel {
                    external_id: id.clone(),
                    location_id,
                    quantity,
                    as_of,
                })
        })
        .collect()
}

/// The one location of a vendor whose merchant is one place.
pub(crate) fn one_location(id: &str) -> Vec<Location> {
    vec![Location {
        id: id.to_owned(),
        name: None,
    }]
}

/// The ids asked for that are not among `found`, in the order asked.
pub(crate) fn missing_ids(ids: &[String], found: &HashSet<&str>) -> Vec<String> {
    ids.iter()
        .filter(|id| !found.contains(id.as_str()))
        .cloned()
        .collect()
}

/// A 404 as `None`: the object asked for does not exist; other errors stay errors.
pub(crate) fn found<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ConnectorError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The first non-empty string among `keys` of a JSON error body.
pub(crate) fn first_text(body: &[u8], keys: &[&str]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    keys.iter()
        .filter_map(|k| v.get(*k)?.as_str())
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A vendor's base URL; a bad one is a config error.
pub(crate) fn parse_base(vendor: Provider, text: &str) -> Result<Url> {
    Url::parse(text).map_err(|e| ConnectorError::config(vendor, format!("base_url: {e}")))
}

/// A cursor this client did not make: a config error.
pub(crate) fn bad_cursor(vendor: Provider, cursor: &str) -> ConnectorError {
    ConnectorError::config(vendor, format!("not a cursor of this client: {cursor:?}"))
}

/// `phase:number`, a cursor of a client that walks listings one after another; `None`
/// when `cursor` is not of that form.
pub(crate) fn phase_cursor<N: std::str::FromStr>(cursor: &str) -> Option<(&str, N)> {
    let (phase, n) = cursor.split_once(':')?;
    Some((phase, n.parse().ok()?))
}

/// An optional vendor timestamp; a malformed one is [`ConnectorError::Malformed`] at `path`.
pub(crate) fn vendor_time_opt(
    vendor: Provider,
    path: &str,
    text: Option<&str>,
) -> Result<Option<Timestamp>> {
    text.map(|t| vendor_time(vendor, path, t)).transpose()
}

/// A price in major units as text, in minor units of `currency`; a malformed one is
/// [`ConnectorError::Malformed`] at `path`.
pub(crate) fn to_minor(
    vendor: Provider,
    currency: Currency,
    path: &str,
    text: &str,
) -> Result<i64> {
    currency
        .to_minor(text)
        .map_err(|e| ConnectorError::malformed(vendor, path, e.to_string()))
}

/// A vendor timestamp; a malformed one is [`ConnectorError::Malformed`] at `path`.
pub(crate) fn vendor_time(vendor: Provider, path: &str, text: &str) -> Result<Timestamp> {
    Timestamp::parse_lenient(text)
        .map_err(|e| ConnectorError::malformed(vendor, path, format!("not a timestamp: {e}")))
}

/// A decimal quantity sent as text; a malformed one is [`ConnectorError::Malformed`].
pub(crate) fn vendor_decimal(vendor: Provider, path: &str, text: &str) -> Result<Decimal> {
    tillbridge_domain::money::parse_decimal(text.trim())
        .ok_or_else(|| ConnectorError::malformed(vendor, path, format!("not a decimal: {text:?}")))
}

/// The token itself as a header value (marked sensitive, so it never prints).
pub(crate) fn token_header(vendor: Provider, token: &Secret) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_bytes(token.expose())
        .map_err(|_| ConnectorError::config(vendor, "access token is not header-safe"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// `Authorization: Bearer <token>` (marked sensitive, so it never prints).
pub(crate) fn bearer(vendor: Provider, token: &Secret) -> Result<HeaderValue> {
    let text = std::str::from_utf8(token.expose())
        .map_err(|_| ConnectorError::config(vendor, "access token is not UTF-8"))?;
    let mut value = HeaderValue::from_str(&format!("Bearer {text}"))
        .map_err(|_| ConnectorError::config(vendor, "access token is not header-safe"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// `base` joined with `path` and `query`; a base that cannot take the path is a config error.
pub(crate) fn join_url(
    vendor: Provider,
    base: &Url,
    path: &str,
    query: &[(&str, String)],
) -> Result<String> {
    let mut url = base
        .join(path)
        .map_err(|e| ConnectorError::config(vendor, format!("base_url: {e}")))?;
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    Ok(url.into())
}

/// The exact text of a JSON number (or of a number sent as a string); `None` for `null`.
/// Vendors' decimal numbers are read from this text, never through `f64`.
pub(crate) fn number_text(raw: &serde_json::value::RawValue) -> Option<&str> {
    let text = raw.get().trim();
    if text == "null" {
        return None;
    }
    Some(
        text.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text),
    )
}

/// An optional JSON number's exact decimal value (see [`raw_decimal`]).
pub(crate) fn raw_decimal_opt(
    vendor: Provider,
    path: &str,
    raw: Option<&serde_json::value::RawValue>,
) -> Result<Option<Decimal>> {
    raw.map_or(Ok(None), |raw| raw_decimal(vendor, path, raw))
}

/// A JSON number's exact decimal value; a non-number is [`ConnectorError::Malformed`].
pub(crate) fn raw_decimal(
    vendor: Provider,
    path: &str,
    raw: &serde_json::value::RawValue,
) -> Result<Option<Decimal>> {
    number_text(raw)
        .map(|t| vendor_decimal(vendor, path, t))
        .transpose()
}

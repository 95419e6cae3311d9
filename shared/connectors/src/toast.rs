//! Toast menus API v2 and stock API (<https://doc.toasttab.com/doc/devguide/>).
//!
//! - Menus: `GET /menus/v2/menus` returns the restaurant's published menus, fully resolved
//!   (<https://doc.toasttab.com/doc/devguide/apiMenusApiReturnsFullyResolvedJson_V2.html>):
//!   `{restaurantGuid, lastUpdated, menus: [{guid, name, menuGroups: [{guid, name,
//!   menuItems, menuGroups}]}]}`. One request is the whole catalog (no pages). A menu item is
//!   one canonical item (`guid`, `name`; Toast has no variations: sizes are modifier groups,
//!   not read yet); a menu item listed in several groups is one item, its category the first
//!   group's name. Fields are named in
//!   <https://doc.toasttab.com/doc/devguide/apiMappingMenusApiValuesToOtherToastApisAndTheMenuDataExport_V2.html>.
//! - Prices: `price` is a JSON number in major units, converted exactly from its text. The
//!   price is the item's own only for `pricingStrategy` `BASE_PRICE` or `MENU_SPECIFIC_PRICE`;
//!   time-specific, size and open prices depend on the order's context
//!   (<https://doc.toasttab.com/doc/devguide/apiUsingPricingRulesAndPricingStrategyToCalculatePrices_V2.html>),
//!   so those items come without `price_minor` (the open-price rule of the contract).
//! - Delta: `GET /menus/v2/metadata` → `{restaurantGuid, lastUpdated}` (the publication
//!   date). When it is not after the watermark nothing changed and no items come back;
//!   otherwise the whole menu is pulled again. The menus API lists only what is published:
//!   deletions produce no tombstones (a full sync removes items Toast no longer lists).
//! - Stock: `GET /stock/v1/inventory` lists the items whose status is `OUT_OF_STOCK` or
//!   `QUANTITY` (`{guid, status, quantity}`); `IN_STOCK` items are left out and untracked
//!   (<https://doc.toasttab.com/doc/devguide/apiUsingTheStockApi.html>). `QUANTITY` is stock
//!   at the restaurant (location = the restaurant GUID), `OUT_OF_STOCK` is 0, others have no
//!   stock figure.
//! - Headers: `Authorization: Bearer <token>` (a token from Toast's authentication API;
//!   refreshing it is the caller's business) and `Toast-Restaurant-External-ID: <GUID>`.
//!   Errors `{"status", "code", "message", "developerMessage", …}`.
//! - Rate limits: 20 requests/s and 10,000 per 15 minutes by default, and `GET /menus` one
//!   request per second per location (<https://doc.toasttab.com/doc/devguide/apiRateLimiting.html>);
//!   a `429` carries `Retry-After`.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tillbridge_domain::{CatalogItem, Currency, Provider, Secret, Timestamp};

use crate::api::{
    CatalogPage, FetchedItem, Location, StockLevel, VendorApi, bearer, decode, first_text,
    join_url, missing_ids, number_text, one_location, parse_base, raw_decimal_opt, to_minor,
    vendor_time,
};
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, Request, VendorWire};

const V: Provider = Provider::Toast;
/// Toast's production API host.
pub const PRODUCTION_URL: &str = "https://ws-api.toasttab.com";
/// The header naming the restaurant.
pub const RESTAURANT_HEADER: &str = "toast-restaurant-external-id";

fn reason(body: &[u8]) -> Option<String> {
    first_text(body, &["message", "developerMessage"])
}

/// Toast's error bodies, as the HTTP layer reads them.
pub const WIRE: VendorWire = VendorWire::plain(V, reason);

/// `GET /menus/v2/metadata`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The restaurant.
    #[serde(default)]
    pub restaurant_guid: Option<String>,
    /// When the menus were last published.
    pub last_updated: String,
}

/// `GET /menus/v2/menus` (the fields tillbridge reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restaurant {
    /// When the menus were last published.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// The menus.
    #[serde(default)]
    pub menus: Vec<Menu>,
}

/// A menu.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Menu {
    /// Its groups.
    #[serde(default)]
    pub menu_groups: Vec<MenuGroup>,
}

/// A menu group (nested groups allowed).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MenuGroup {
    /// Name (the items' category).
    #[serde(default)]
    pub name: Option<String>,
    /// Items.
    #[serde(default)]
    pub menu_items: Vec<MenuItem>,
    /// Subgroups.
    #[serde(default)]
    pub menu_groups: Vec<MenuGroup>,
}

/// A menu item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MenuItem {
    /// GUID.
    pub guid: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Major units; `null` when it depends on context.
    #[serde(default)]
    pub price: Option<Box<RawValue>>,
    /// The menus API's `pricingStrategy`: `BASE_PRICE`, `MENU_SPECIFIC_PRICE`,
    /// `TIME_SPECIFIC_PRICE`, `SIZE_PRICE`, `OPEN_PRICE`; the menus v2 OpenAPI enum also
    /// lists `SEQUENCE_PRICE`, `SIZE_SEQUENCE_PRICE` and `GROUP_PRICE` (modifier-group
    /// strategies) and `NONE`. Checked against Toast's guide "Using PricingRules and
    /// PricingStrategy to calculate prices"
    /// (<https://doc.toasttab.com/doc/devguide/apiUsingPricingRulesAndPricingStrategyToCalculatePrices_V2.html>):
    /// only Base Price and Menu Specific Price items carry their resolved `price`;
    /// time-specific and size prices are computed from `pricingRules`
    /// (<https://doc.toasttab.com/openapi/menus/tag/Data-definitions/schema/PricingRules>),
    /// so every other value is read as "no own price".
    #[serde(default)]
    pub pricing_strategy: Option<String>,
    /// SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// PLU / barcode.
    #[serde(default)]
    pub plu: Option<String>,
    /// Image URL.
    #[serde(default)]
    pub image: Option<String>,
}

/// One `MenuItemInventory` of the stock API.
#[derive(Debug, Deserialize)]
pub struct Inventory {
    /// The menu item's GUID.
    pub guid: String,
    /// `IN_STOCK`, `QUANTITY`, `OUT_OF_STOCK`.
    pub status: String,
    /// With `QUANTITY`: how many are left.
    #[serde(default)]
    pub quantity: Option<Box<RawValue>>,
}

/// A Toast client for one restaurant and access token.
pub struct ToastClient {
    http: HttpLayer,
    base: Url,
    restaurant: String,
    headers: HeaderMap,
    currency: Currency,
}

impl ToastClient {
    /// A client of `base_url` (default [`PRODUCTION_URL`]) for restaurant `restaurant_guid`
    /// with an access token; prices are in `currency` (the tenant's).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad URL, GUID or token.
    pub fn new(
        base_url: Option<&str>,
        restaurant_guid: &str,
        access_token: &Secret,
        currency: Currency,
        config: HttpConfig,
        env: &Env,
    ) -> Result<Self> {
        let base = parse_base(V, base_url.unwrap_or(PRODUCTION_URL))?;
        let guid = HeaderValue::from_str(restaurant_guid)
            .ok()
            .filter(|_| !restaurant_guid.is_empty())
            .ok_or_else(|| ConnectorError::config(V, "restaurant_guid is not a GUID"))?;
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, bearer(V, access_token)?);
        headers.insert(HeaderName::from_static(RESTAURANT_HEADER), guid);
        Ok(Self {
            http: HttpLayer::new(WIRE, access_token.expose(), config, env)?,
            base,
            restaurant: restaurant_guid.to_owned(),
            headers,
            currency,
        })
    }

    /// The shared HTTP layer (stats, breaker).
    pub fn http(&self) -> &HttpLayer {
        &self.http
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let request = Request::get(join_url(V, &self.base, path, &[])?, &self.headers);
        decode(V, &self.http.send(&request).await?.body)
    }

    /// The whole published menu with stock; `only` keeps just those GUIDs.
    async fn menu(&self, only: Option<&HashSet<&str>>) -> Result<CatalogPage> {
        let restaurant: Restaurant = self.get("/menus/v2/menus").await?;
        let updated_at = restaurant
            .last_updated
            .as_deref()
            .map(|t| vendor_time(V, "lastUpdated", t))
            .transpose()?;
        let mut out = CatalogPage {
            watermark: updated_at,
            ..CatalogPage::default()
        };
        let mut seen = HashSet::new();
        for (m, menu) in restaurant.menus.iter().enumerate() {
            for (g, group) in menu.menu_groups.iter().enumerate() {
                let path = format!("menus[{m}].menuGroups[{g}]");
                self.walk(&path, group, updated_at, only, &mut seen, &mut out)?;
            }
        }
        let levels = self.stock(&[]).await?;
        for fetched in &mut out.items {
            let map: BTreeMap<String, _> = levels
                .iter()
                .filter(|l| l.external_id == fetched.item.external_id)
                .map(|l| (l.location_id.clone(), l.quantity))
                .collect();
            if !map.is_empty() {
                fetched.set_stock(map);
            }
        }
        Ok(out)
    }

    fn walk(
        &self,
        path: &str,
        group: &MenuGroup,
        updated_at: Option<Timestamp>,
        only: Option<&HashSet<&str>>,
        seen: &mut HashSet<String>,
        out: &mut CatalogPage,
    ) -> Result<()> {
        for (i, item) in group.menu_items.iter().enumerate() {
            if only.is_some_and(|o| !o.contains(item.guid.as_str()))
                || !seen.insert(item.guid.clone())
            {
                continue;
            }
            out.fetched += 1;
            let ipath = format!("{path}.menuItems[{i}]");
            out.items
                .push(self.map_item(&ipath, item, group.name.clone(), updated_at)?);
        }
        for (j, sub) in group.menu_groups.iter().enumerate() {
            self.walk(
                &format!("{path}.menuGroups[{j}]"),
                sub,
                updated_at,
                only,
                seen,
                out,
            )?;
        }
        Ok(())
    }

    fn map_item(
        &self,
        path: &str,
        item: &MenuItem,
        category: Option<String>,
        updated_at: Option<Timestamp>,
    ) -> Result<FetchedItem> {
        let own_price = matches!(
            item.pricing_strategy.as_deref(),
            Some("BASE_PRICE" | "MENU_SPECIFIC_PRICE")
        );
        let price_minor = match item.price.as_deref().and_then(number_text) {
            Some(text) if own_price => {
                Some(to_minor(V, self.currency, &format!("{path}.price"), text)?)
            }
            _ => None,
        };
        Ok(FetchedItem {
            item: CatalogItem {
                external_id: item.guid.clone(),
                name: item.name.clone(),
                description: item.description.clone().filter(|d| !d.is_empty()),
                category,
                price_minor,
                currency: price_minor.map(|_| self.currency),
                // `OPEN_PRICE`: the server enters the price at the register.
                open_price: (item.pricing_strategy.as_deref() == Some("OPEN_PRICE"))
                    .then_some(true),
                sku: item.sku.clone().filter(|s| !s.is_empty()),
                barcode: item.plu.clone().filter(|s| !s.is_empty()),
                image_url: item.image.clone().filter(|s| !s.is_empty()),
                is_active: Some(true),
                updated_at,
                ..CatalogItem::default()
            },
            stock_by_location: BTreeMap::new(),
            inventory_item_id: None,
        })
    }
}

#[async_trait]
impl VendorApi for ToastClient {
    fn provider(&self) -> Provider {
        V
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn catalog_page(&self, _cursor: Option<&str>) -> Result<CatalogPage> {
        self.menu(None).await
    }

    async fn changes_page(&self, since: Timestamp, _cursor: Option<&str>) -> Result<CatalogPage> {
        let meta: Metadata = self.get("/menus/v2/metadata").await?;
        let published = vendor_time(V, "lastUpdated", &meta.last_updated)?;
        if published <= since {
            return Ok(CatalogPage {
                watermark: Some(published),
                ..CatalogPage::default()
            });
        }
        let mut page = self.menu(None).await?;
        page.watermark = page.watermark.max(Some(published));
        Ok(page)
    }

    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut page = self.menu(Some(&wanted)).await?;
        let found: HashSet<&str> = page
            .items
            .iter()
            .map(|i| i.item.external_id.as_str())
            .collect();
        page.missing = missing_ids(ids, &found);
        Ok(page)
    }

    /// Stock of these menu items (all tracked items when `variation_ids` is empty).
    async fn stock(&self, variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        let all: Vec<Inventory> = self.get("/stock/v1/inventory").await?;
        let mut levels = Vec::new();
        for (i, inv) in all.iter().enumerate() {
            if !variation_ids.is_empty() && !variation_ids.contains(&inv.guid) {
                continue;
            }
            let quantity = match inv.status.as_str() {
                "OUT_OF_STOCK" => Some(rust_decimal::Decimal::ZERO),
                "QUANTITY" => {
                    raw_decimal_opt(V, &format!("$[{i}].quantity"), inv.quantity.as_deref())?
                }
                _ => None,
            };
            if let Some(quantity) = quantity {
                levels.push(StockLevel {
                    external_id: inv.guid.clone(),
                    location_id: self.restaurant.clone(),
                    quantity,
                    as_of: None,
                });
            }
        }
        Ok(levels)
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        Ok(one_location(&self.restaurant))
    }
}

//! A fake Toast: menus API v2 (`/menus/v2/menus`, `/menus/v2/metadata`) and the stock API
//! (`/stock/v1/inventory`), with Toast's bearer auth, the `Toast-Restaurant-External-ID`
//! header and Toast's error bodies (see [`crate::toast`] for the sources).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::{Canned, Running, lock, require_headers, serve};
use crate::toast::RESTAURANT_HEADER;

/// A menu item in the fake restaurant.
#[derive(Debug, Clone)]
pub struct FakeMenuItem {
    /// GUID.
    pub guid: String,
    /// Name.
    pub name: String,
    /// Price as JSON number text in major units (`"4.5"`); `None` is `null`.
    pub price: Option<String>,
    /// `BASE_PRICE`, `OPEN_PRICE`, …
    pub pricing_strategy: String,
    /// Its menu group's name.
    pub group: String,
}

impl FakeMenuItem {
    /// A base-priced item.
    pub fn priced(guid: &str, name: &str, price: &str, group: &str) -> Self {
        Self {
            guid: guid.into(),
            name: name.into(),
            price: Some(price.into()),
            pricing_strategy: "BASE_PRICE".into(),
            group: group.into(),
        }
    }
}

/// One stock record: (menu item GUID, status, quantity text).
pub type FakeStock = (String, String, Option<String>);

/// The fake restaurant.
#[derive(Debug, Clone)]
pub struct Restaurant {
    /// Its GUID.
    pub guid: String,
    /// When the menus were last published.
    pub last_updated: Timestamp,
    /// Menu items (listed in one menu, grouped by `group`).
    pub items: Vec<FakeMenuItem>,
    /// Stock records; `IN_STOCK` ones are left out of `/inventory` as Toast does.
    pub stock: Vec<FakeStock>,
}

/// Toast's error body.
pub fn error_body(status: u16, code: u32, message: &str) -> String {
    json!({
        "status": status, "code": code, "message": message, "messageKey": null,
        "fieldName": null, "link": "https://doc.toasttab.com/doc/devguide/apiResponseCodes.html",
        "requestId": "00000000-0000-0000-0000-000000000000", "developerMessage": null,
        "errors": [], "canRetry": null,
    })
    .to_string()
}

/// `401`, as Toast answers a bad or expired token.
pub fn unauthorized() -> Canned {
    Canned::json(
        401,
        error_body(401, 10006, "Access token is invalid or expired"),
    )
}

/// `429`, as Toast answers past its rate limits.
pub fn rate_limited() -> Canned {
    Canned::json(429, error_body(429, 10429, "Too many requests"))
        .header("X-Toast-RateLimit-By", "ENDPOINT")
}

type Shared = Arc<Mutex<Restaurant>>;

/// A running fake Toast.
pub struct FakeToast {
    /// The server (base URL, control).
    pub server: Running,
    restaurant: Shared,
}

impl FakeToast {
    /// Serves `restaurant`, accepting only `Authorization: Bearer <token>` with its GUID in
    /// `Toast-Restaurant-External-ID`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(token: &str, restaurant: Restaurant) -> std::io::Result<Self> {
        let guid = restaurant.guid.clone();
        let shared: Shared = Arc::new(Mutex::new(restaurant));
        let router = Router::new()
            .route("/menus/v2/menus", get(menus))
            .route("/menus/v2/metadata", get(metadata))
            .route("/stock/v1/inventory", get(inventory))
            .with_state(shared.clone());
        let expected = vec![
            ("authorization", format!("Bearer {token}")),
            (RESTAURANT_HEADER, guid),
        ];
        let server = serve(router, require_headers(expected, unauthorized)).await?;
        Ok(Self {
            server,
            restaurant: shared,
        })
    }

    /// The restaurant's data, to change between calls.
    pub fn restaurant(&self) -> MutexGuard<'_, Restaurant> {
        lock(&self.restaurant)
    }
}

fn number(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

async fn menus(State(s): State<Shared>) -> Json<Value> {
    let r = lock(&s);
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for item in &r.items {
        let json = json!({
            "name": item.name, "guid": item.guid, "multiLocationId": "1", "masterId": 1,
            "description": "", "image": null, "price": number(item.price.as_deref()),
            "pricingStrategy": item.pricing_strategy, "pricingRules": null,
            "sku": format!("SKU-{}", item.guid), "plu": "", "isDeferred": false,
            "modifierGroupReferences": [],
        });
        match groups.iter_mut().find(|(g, _)| *g == item.group) {
            Some((_, items)) => items.push(json),
            None => groups.push((item.group.clone(), vec![json])),
        }
    }
    let menu_groups: Vec<Value> = groups
        .into_iter()
        .enumerate()
        .map(|(i, (name, items))| {
            json!({"name": name, "guid": format!("group-{i}"), "menuItems": items, "menuGroups": []})
        })
        .collect();
    Json(json!({
        "restaurantGuid": r.guid,
        "lastUpdated": r.last_updated.to_rfc3339(),
        "restaurantTimeZone": "America/New_York",
        "menus": [{"name": "All day", "guid": "menu-1", "menuGroups": menu_groups}],
        "modifierGroupReferences": {}, "modifierOptionReferences": {},
    }))
}

async fn metadata(State(s): State<Shared>) -> Json<Value> {
    let r = lock(&s);
    Json(json!({"restaurantGuid": r.guid, "lastUpdated": r.last_updated.to_rfc3339()}))
}

async fn inventory(State(s): State<Shared>) -> Json<Value> {
    let r = lock(&s);
    let records: Vec<Value> = r
        .stock
        .iter()
        .filter(|(_, status, _)| status != "IN_STOCK")
        .map(|(guid, status, q)| {
            json!({"guid": guid, "itemGuidValidity": "VALID", "status": status,
                   "quantity": number(q.as_deref()), "versionId": 1, "multiLocationId": "1"})
        })
        .collect();
    Json(Value::Array(records))
}

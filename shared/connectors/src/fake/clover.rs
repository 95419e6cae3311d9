//! A fake Clover: REST API v3 items (`expand`, `limit`/`offset`, `filter=modifiedTime>=…`,
//! `filter=deleted=true`), item by id, item stocks and item groups, with Clover's bearer
//! auth and error bodies `{"message": "…"}` (see [`crate::clover`] for the sources).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::{Canned, Running, bearer_auth, lock, serve};

/// An item in the fake inventory.
#[derive(Debug, Clone)]
pub struct FakeItem {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Cents.
    pub price: i64,
    /// `FIXED`, `VARIABLE`, `PER_UNIT`.
    pub price_type: String,
    /// Unit of a `PER_UNIT` price.
    pub unit_name: Option<String>,
    /// Hidden on the POS.
    pub hidden: bool,
    /// (id, name) of its item group.
    pub group: Option<(String, String)>,
    /// Option names (`Large`).
    pub options: Vec<String>,
    /// (id, name) of its category.
    pub category: Option<(String, String)>,
    /// Stock quantity as JSON number text (`"3.5"`); `None`: not tracked.
    pub stock: Option<String>,
    /// Last change.
    pub modified: Timestamp,
    /// Deleted.
    pub deleted: bool,
}

impl FakeItem {
    /// A fixed-price item with `stock` in stock.
    pub fn fixed(id: &str, name: &str, price: i64, stock: &str, modified: Timestamp) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            price,
            price_type: "FIXED".into(),
            unit_name: None,
            hidden: false,
            group: None,
            options: Vec::new(),
            category: Some(("CAT1".into(), "Drinks".into())),
            stock: Some(stock.into()),
            modified,
            deleted: false,
        }
    }

    fn to_json(&self, expand: &[&str]) -> Value {
        let mut v = json!({
            "id": self.id, "name": self.name, "hidden": self.hidden, "available": true,
            "price": self.price, "priceType": self.price_type, "defaultTaxRates": true,
            "isRevenue": true, "sku": format!("SKU-{}", self.id), "code": "",
            "modifiedTime": self.modified.unix_nanos() / 1_000_000,
            "deleted": self.deleted,
        });
        if let Some(unit) = &self.unit_name {
            v["unitName"] = json!(unit);
        }
        if let Some((id, name)) = &self.group {
            v["itemGroup"] = if expand.contains(&"itemGroup") {
                json!({"id": id, "name": name})
            } else {
                json!({"id": id})
            };
        }
        if expand.contains(&"itemStock")
            && let Some(q) = &self.stock
        {
            let n: Value = serde_json::from_str(q).unwrap_or(Value::Null);
            let rounded = tillbridge_domain::money::parse_decimal(q)
                .and_then(|d| i64::try_from(d.round()).ok())
                .unwrap_or(0);
            v["itemStock"] = json!({"item": {"id": self.id}, "quantity": n, "stockCount": rounded});
        }
        if expand.contains(&"categories") {
            let cats: Vec<Value> = self
                .category
                .iter()
                .map(|(id, name)| json!({"id": id, "name": name, "sortOrder": 1}))
                .collect();
            v["categories"] = json!({ "elements": cats });
        }
        if expand.contains(&"options") {
            let opts: Vec<Value> = self
                .options
                .iter()
                .enumerate()
                .map(|(i, name)| json!({"id": format!("OPT{i}{}", self.id), "name": name}))
                .collect();
            v["options"] = json!({ "elements": opts });
        }
        v
    }
}

/// The fake merchant.
#[derive(Debug, Clone, Default)]
pub struct Merchant {
    /// The merchant id (`mId`).
    pub id: String,
    /// Items in listing order.
    pub items: Vec<FakeItem>,
}

/// Clover's error body.
pub fn error_body(message: &str) -> String {
    json!({ "message": message }).to_string()
}

/// `401`, as Clover answers a bad token.
pub fn unauthorized() -> Canned {
    Canned::json(401, error_body("401 Unauthorized"))
}

/// `429`, as Clover answers past its rate limits.
pub fn rate_limited() -> Canned {
    Canned::json(429, error_body("Too Many Requests"))
}

type Shared = Arc<Mutex<Merchant>>;

/// A running fake Clover.
pub struct FakeClover {
    /// The server (base URL, control).
    pub server: Running,
    merchant: Shared,
}

impl FakeClover {
    /// Serves `merchant`, accepting only `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(token: &str, merchant: Merchant) -> std::io::Result<Self> {
        let shared: Shared = Arc::new(Mutex::new(merchant));
        let router = Router::new()
            .route("/v3/merchants/{m}/items", get(items))
            .route("/v3/merchants/{m}/items/{id}", get(item))
            .route("/v3/merchants/{m}/item_stocks/{id}", get(item_stock))
            .route("/v3/merchants/{m}/item_groups/{id}", get(item_group))
            .with_state(shared.clone());
        let server = serve(router, bearer_auth(token, unauthorized)).await?;
        Ok(Self {
            server,
            merchant: shared,
        })
    }

    /// The merchant's data, to change between calls.
    pub fn merchant(&self) -> MutexGuard<'_, Merchant> {
        lock(&self.merchant)
    }
}

type Answer = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn fail(status: StatusCode, message: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({ "message": message })))
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://fake/?{}", query.unwrap_or("")))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn merchant_of<'a>(m: &'a Merchant, id: &str) -> Result<&'a Merchant, (StatusCode, Json<Value>)> {
    if m.id == id {
        Ok(m)
    } else {
        Err(fail(StatusCode::UNAUTHORIZED, "401 Unauthorized"))
    }
}

async fn items(State(s): State<Shared>, Path(m): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let guard = lock(&s);
    let merchant = merchant_of(&guard, &m)?;
    let params = pairs(q.as_deref());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let expand = get("expand").unwrap_or_default();
    let expand: Vec<&str> = expand.split(',').collect();
    let limit: usize = get("limit")
        .map_or(Ok(100), |l| l.parse())
        .map_err(|_| fail(StatusCode::BAD_REQUEST, "Invalid limit"))?;
    let offset: usize = get("offset")
        .map_or(Ok(0), |o| o.parse())
        .map_err(|_| fail(StatusCode::BAD_REQUEST, "Invalid offset"))?;
    let mut since: Option<i64> = None;
    let mut deleted = false;
    for (_, f) in params.iter().filter(|(n, _)| n == "filter") {
        if let Some(ms) = f.strip_prefix("modifiedTime>=") {
            since = Some(
                ms.parse()
                    .map_err(|_| fail(StatusCode::BAD_REQUEST, "Invalid filter"))?,
            );
        } else if f == "deleted=true" {
            deleted = true;
        } else {
            return Err(fail(StatusCode::BAD_REQUEST, "Unsupported filter"));
        }
    }
    let elements: Vec<Value> = merchant
        .items
        .iter()
        .filter(|i| i.deleted == deleted)
        .filter(|i| since.is_none_or(|ms| i.modified.unix_nanos() / 1_000_000 >= ms))
        .skip(offset)
        .take(limit.clamp(1, 1000))
        .map(|i| i.to_json(&expand))
        .collect();
    Ok(Json(
        json!({ "elements": elements, "href": format!("https://api.clover.com/v3/merchants/{m}/items") }),
    ))
}

async fn item(
    State(s): State<Shared>,
    Path((m, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Answer {
    let guard = lock(&s);
    let merchant = merchant_of(&guard, &m)?;
    let params = pairs(q.as_deref());
    let expand = params
        .iter()
        .find(|(n, _)| n == "expand")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let expand: Vec<&str> = expand.split(',').collect();
    merchant
        .items
        .iter()
        .find(|i| i.id == id && !i.deleted)
        .map(|i| Json(i.to_json(&expand)))
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Not Found"))
}

async fn item_stock(State(s): State<Shared>, Path((m, id)): Path<(String, String)>) -> Answer {
    let guard = lock(&s);
    let merchant = merchant_of(&guard, &m)?;
    merchant
        .items
        .iter()
        .find(|i| i.id == id && !i.deleted && i.stock.is_some())
        .and_then(|i| i.to_json(&["itemStock"]).get("itemStock").cloned())
        .map(Json)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Not Found"))
}

async fn item_group(State(s): State<Shared>, Path((m, id)): Path<(String, String)>) -> Answer {
    let guard = lock(&s);
    let merchant = merchant_of(&guard, &m)?;
    merchant
        .items
        .iter()
        .filter_map(|i| i.group.as_ref())
        .find(|(gid, _)| *gid == id)
        .map(|(gid, name)| Json(json!({"id": gid, "name": name})))
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Not Found"))
}

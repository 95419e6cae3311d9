//! The fake BigCommerce's write side, with BigCommerce's semantics (sources in
//! [`crate::bigcommerce`]'s write and undo modules):
//!
//! - `POST /v3/catalog/products`: ids assigned by the store; a product without variants gets
//!   a base variant mirroring its `sku`, `price`, `upc`, `inventory_level`; product names and
//!   SKUs (of products and variants) are unique: a duplicate is `409`; a missing name or
//!   type `422`. Every write moves `date_modified` (one second a write, so versions differ).
//! - `PUT /v3/catalog/products`: at most 10 products (else `413`), all-or-nothing (an unknown
//!   id `422`, a duplicate `409`); variants updated by `id`.
//! - `DELETE /v3/catalog/products?id:in=`: `204`.
//! - `GET/POST/DELETE /v3/catalog/categories` (duplicate name `409`; `GET` and `DELETE`
//!   take `id:in`), `GET /v3/channels/1/site`,
//!   `PUT/GET/DELETE /v3/storefront/redirects` (upsert by `site_id` + `from_path`).
//!
//! [`FakeBigCommerce::lose_responses`] makes the next write answers get lost after the write
//! was applied (a 500 instead), as when a connection drops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use tillbridge_domain::Timestamp;

use super::bigcommerce::{FakeBigCommerce, Shared, rfc};
use super::lock;

const TYPE: &str = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";
/// The id of the store's storefront site (channel 1).
pub const SITE_ID: u64 = 1000;

/// Write state: id counters, the write clock, categories, redirects, scripted failures.
#[derive(Debug, Default)]
pub struct Writes {
    next_id: u64,
    last: Option<Timestamp>,
    lose: usize,
    /// Categories: `{id, parent_id, name}`.
    pub categories: Vec<Value>,
    /// Redirects: `{id, site_id, from_path, to: {type, entity_id}}`.
    pub redirects: Vec<Value>,
    /// Write requests applied.
    pub applied: usize,
}

impl Writes {
    fn tick(&mut self) -> Timestamp {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        let floor = self.last.map_or(0, |l| l.unix_seconds() + 1);
        let now = Timestamp::from_unix_seconds(wall.max(floor))
            .unwrap_or_else(|| Timestamp::from_unix_nanos(0));
        self.last = Some(now);
        now
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        10_000 + self.next_id
    }
}

/// The write state shared by the handlers.
pub type SharedWrites = Arc<Mutex<Writes>>;

#[derive(Clone)]
struct St {
    store: Shared,
    writes: SharedWrites,
}

impl FakeBigCommerce {
    /// The next `n` write answers are lost after the write was applied (500 instead).
    pub fn lose_responses(&self, n: usize) {
        lock(&self.writes).lose = n;
    }

    /// Write requests applied so far.
    pub fn writes_applied(&self) -> usize {
        lock(&self.writes).applied
    }

    /// The write state (categories, redirects).
    pub fn writes(&self) -> MutexGuard<'_, Writes> {
        lock(&self.writes)
    }

    /// Changes product `id` as the merchant would in the control panel (`date_modified`
    /// moves).
    pub fn edit_product(&self, id: u64, edit: impl FnOnce(&mut Value)) {
        let now = lock(&self.writes).tick();
        let mut s = self.store();
        if let Some(p) = s.products.iter_mut().find(|p| p["id"] == id) {
            edit(p);
            p["date_modified"] = json!(rfc(now));
        }
    }
}

pub(crate) fn router(store: Shared, writes: SharedWrites) -> Router {
    Router::new()
        .route(
            "/v3/catalog/products",
            axum::routing::post(create).put(update).delete(delete),
        )
        .route(
            "/v3/catalog/categories",
            get(categories).post(new_category).delete(delete_categories),
        )
        .route("/v3/channels/1/site", get(site))
        .route(
            "/v3/storefront/redirects",
            put(put_redirects)
                .get(get_redirects)
                .delete(delete_redirects),
        )
        .with_state(St { store, writes })
}

fn error(status: u16, title: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    (
        code,
        Json(json!({"status": status, "title": title, "type": TYPE, "errors": {}})),
    )
        .into_response()
}

/// A successful write's answer, or a lost one.
fn done(w: &mut Writes, answer: Response) -> Response {
    w.applied += 1;
    if w.lose > 0 {
        w.lose -= 1;
        return error(500, "Internal Server Error");
    }
    answer
}

fn ids(q: &HashMap<String, String>) -> Vec<u64> {
    q.get("id:in")
        .map(|s| s.split(',').filter_map(|i| i.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn with_variants(p: &Value, q: &HashMap<String, String>) -> Value {
    let mut p = p.clone();
    let include = q
        .get("include")
        .is_some_and(|i| i.split(',').any(|i| i == "variants"));
    if !include && let Some(o) = p.as_object_mut() {
        o.remove("variants");
    }
    p
}

fn skus(p: &Value) -> Vec<String> {
    let mut out: Vec<String> = p["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["sku"].as_str())
        .chain(p["sku"].as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A duplicate name or SKU among the other products (`409`'s title).
fn duplicate(products: &[Value], p: &Value) -> Option<String> {
    let others = products.iter().filter(|o| o["id"] != p["id"]);
    for o in others {
        if o["name"] == p["name"] {
            return Some("The product name is a duplicate".into());
        }
        let theirs = skus(o);
        if let Some(s) = skus(p).into_iter().find(|s| theirs.contains(s)) {
            return Some(format!("Sku {s} is not unique"));
        }
    }
    None
}

fn number_or(v: &Value, default: Value) -> Value {
    if v.is_number() { v.clone() } else { default }
}

/// Keeps the product's derived fields in step: a plain product's base variant mirrors it,
/// `calculated_price`, the product's `inventory_level` under variant tracking.
fn derive(p: &mut Value) {
    let price = number_or(&p["price"], json!(0));
    let plain = p["variants"].as_array().is_some_and(|v| {
        v.len() == 1 && v[0]["option_values"].as_array().is_none_or(Vec::is_empty)
    });
    let (sku, upc, level) = (
        p["sku"].clone(),
        p["upc"].clone(),
        p["inventory_level"].clone(),
    );
    let mut sum = 0i64;
    for v in p["variants"].as_array_mut().into_iter().flatten() {
        if plain {
            v["sku"] = sku.clone();
            v["upc"] = upc.clone();
            v["inventory_level"] = level.clone();
            v["price"] = Value::Null;
        }
        v["calculated_price"] = number_or(&v["price"], price.clone());
        sum += v["inventory_level"].as_i64().unwrap_or(0);
    }
    if !plain && p["inventory_tracking"] == "variant" {
        p["inventory_level"] = json!(sum);
    }
}

async fn create(
    State(st): State<St>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let mut w = lock(&st.writes);
    let mut s = lock(&st.store);
    let (Some(name), Some(_)) = (body["name"].as_str(), body["type"].as_str()) else {
        return error(
            422,
            "The request payload is invalid: name and type are required",
        );
    };
    if name.is_empty() || !body["price"].is_number() || !body["weight"].is_number() {
        return error(
            422,
            "The request payload is invalid: name, price and weight",
        );
    }
    let now = rfc(w.tick());
    let id = w.id();
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let mut p = json!({
        "id": id, "name": name, "type": body["type"], "sku": text("sku"),
        "description": text("description"), "price": body["price"], "weight": body["weight"],
        "is_visible": body["is_visible"].as_bool().unwrap_or(true),
        "categories": body["categories"].as_array().cloned().unwrap_or_default(),
        "inventory_tracking": body["inventory_tracking"].as_str().unwrap_or("none"),
        "inventory_level": body["inventory_level"].as_i64().unwrap_or(0),
        "upc": text("upc"), "date_created": now, "date_modified": now,
    });
    let mut variants = Vec::new();
    for v in body["variants"].as_array().into_iter().flatten() {
        let vid = w.id();
        let options: Vec<Value> = v["option_values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                json!({"id": vid, "option_id": 1, "label": o["label"],
                            "option_display_name": o["option_display_name"]})
            })
            .collect();
        variants.push(json!({
            "id": vid, "product_id": id, "sku": v["sku"].as_str().unwrap_or_default(),
            "price": number_or(&v["price"], Value::Null), "upc": v["upc"].as_str().unwrap_or_default(),
            "inventory_level": v["inventory_level"].as_i64().unwrap_or(0), "option_values": options,
        }));
    }
    if variants.is_empty() {
        variants.push(json!({"id": w.id(), "product_id": id, "option_values": []}));
    }
    p["variants"] = Value::Array(variants);
    derive(&mut p);
    if let Some(title) = duplicate(&s.products, &p) {
        return error(409, &title);
    }
    s.products.push(p.clone());
    let answer = Json(json!({"data": with_variants(&p, &q), "meta": {}})).into_response();
    done(&mut w, answer)
}

fn apply(p: &mut Value, change: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in change {
        match k.as_str() {
            "id" => {}
            "variants" => {
                for var in v.as_array().into_iter().flatten() {
                    let target = p["variants"]
                        .as_array_mut()
                        .and_then(|vs| vs.iter_mut().find(|x| x["id"] == var["id"]))
                        .ok_or_else(|| format!("variant {} not found", var["id"]))?;
                    for f in ["sku", "price", "upc", "inventory_level"] {
                        if let Some(x) = var.get(f) {
                            target[f] = x.clone();
                        }
                    }
                }
            }
            _ => p[k] = v.clone(),
        }
    }
    derive(p);
    Ok(())
}

async fn update(
    State(st): State<St>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let mut w = lock(&st.writes);
    let mut s = lock(&st.store);
    let Some(changes) = body.as_array() else {
        return error(422, "The request payload is invalid: an array of products");
    };
    if changes.len() > 10 {
        return error(
            413,
            "The request payload is too large. The maximum items allowed in the array is 10",
        );
    }
    let mut products = s.products.clone();
    let now = rfc(w.tick());
    let mut written = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let Some(change) = c.as_object() else {
            return error(422, &format!("products[{i}] is not an object"));
        };
        let Some(p) = products
            .iter_mut()
            .find(|p| p["id"] == c["id"] && c["id"].is_u64())
        else {
            return error(422, &format!("products[{i}].id: product not found"));
        };
        if let Err(reason) = apply(p, change) {
            return error(422, &reason);
        }
        p["date_modified"] = json!(now);
        written.push(p.clone());
    }
    for p in &written {
        if let Some(title) = duplicate(&products, p) {
            return error(409, &title);
        }
    }
    s.products = products;
    let data: Vec<Value> = written.iter().map(|p| with_variants(p, &q)).collect();
    done(
        &mut w,
        Json(json!({"data": data, "meta": {}})).into_response(),
    )
}

async fn delete(State(st): State<St>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut w = lock(&st.writes);
    let wanted = ids(&q);
    if wanted.is_empty() {
        return error(422, "The filter(s): id:in are required");
    }
    lock(&st.store)
        .products
        .retain(|p| !p["id"].as_u64().is_some_and(|id| wanted.contains(&id)));
    done(&mut w, StatusCode::NO_CONTENT.into_response())
}

async fn categories(State(st): State<St>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let w = lock(&st.writes);
    let wanted = ids(&q);
    let data: Vec<&Value> = w
        .categories
        .iter()
        .filter(|c| wanted.is_empty() || c["id"].as_u64().is_some_and(|id| wanted.contains(&id)))
        .collect();
    let n = data.len();
    Json(json!({"data": data, "meta": {"pagination": {
        "total": n, "count": n, "per_page": 250, "current_page": 1, "total_pages": 1}}}))
}

/// `DELETE /v3/catalog/categories?id:in=…`: `204` (`id:in` required).
async fn delete_categories(
    State(st): State<St>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut w = lock(&st.writes);
    let wanted = ids(&q);
    if wanted.is_empty() {
        return error(422, "The filter(s): id:in are required");
    }
    w.categories
        .retain(|c| !c["id"].as_u64().is_some_and(|id| wanted.contains(&id)));
    done(&mut w, StatusCode::NO_CONTENT.into_response())
}

async fn new_category(State(st): State<St>, Json(body): Json<Value>) -> Response {
    let mut w = lock(&st.writes);
    let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
        return error(422, "The request payload is invalid: name is required");
    };
    let parent = body["parent_id"].as_u64().unwrap_or(0);
    if w.categories
        .iter()
        .any(|c| c["name"] == name && c["parent_id"] == parent)
    {
        return error(409, "Category name is a duplicate");
    }
    let c = json!({"id": w.id(), "parent_id": parent, "name": name});
    w.categories.push(c.clone());
    done(&mut w, Json(json!({"data": c, "meta": {}})).into_response())
}

async fn site() -> Json<Value> {
    Json(
        json!({"data": {"id": SITE_ID, "url": "https://store.example", "channel_id": 1}, "meta": {}}),
    )
}

async fn put_redirects(State(st): State<St>, Json(body): Json<Value>) -> Response {
    let mut w = lock(&st.writes);
    let Some(list) = body.as_array() else {
        return error(422, "The request payload is invalid: an array of redirects");
    };
    let mut data = Vec::new();
    for r in list {
        let (Some(site), Some(from)) = (r["site_id"].as_u64(), r["from_path"].as_str()) else {
            return error(422, "site_id and from_path are required");
        };
        if r["to"]["type"].as_str().is_none() {
            return error(422, "to.type is required");
        }
        let existing = w
            .redirects
            .iter()
            .position(|x| x["site_id"] == site && x["from_path"] == from);
        let id = match existing {
            Some(i) => w.redirects[i]["id"].clone(),
            None => json!(w.id()),
        };
        let made = json!({"id": id, "site_id": site, "from_path": from, "to": r["to"],
                          "to_url": format!("https://store.example/products/{}", r["to"]["entity_id"])});
        match existing {
            Some(i) => w.redirects[i] = made.clone(),
            None => w.redirects.push(made.clone()),
        }
        data.push(made);
    }
    done(
        &mut w,
        Json(json!({"data": data, "meta": {}})).into_response(),
    )
}

async fn get_redirects(
    State(st): State<St>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let w = lock(&st.writes);
    let wanted = ids(&q);
    let data: Vec<&Value> = w
        .redirects
        .iter()
        .filter(|r| wanted.is_empty() || r["id"].as_u64().is_some_and(|id| wanted.contains(&id)))
        .collect();
    Json(json!({"data": data, "meta": {}}))
}

async fn delete_redirects(
    State(st): State<St>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut w = lock(&st.writes);
    let wanted = ids(&q);
    w.redirects
        .retain(|r| !r["id"].as_u64().is_some_and(|id| wanted.contains(&id)));
    done(&mut w, StatusCode::NO_CONTENT.into_response())
}

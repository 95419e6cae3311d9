//! The fake WooCommerce's write side, with WooCommerce's semantics (sources in
//! [`crate::woocommerce`]'s write and undo modules):
//!
//! - `POST /wp-json/wc/v3/products/batch`: `create`, `update`, `delete` (at most 100 objects
//!   in all, else `413`); each object is answered in place, a failed one as `{"id": 0,
//!   "error": {code, message, data}}` (a partial failure: the others are written). SKUs are
//!   unique among products and variations (`product_invalid_sku`); ids are assigned by the
//!   store; every write moves `date_modified_gmt` (one second a write). A batch delete is
//!   permanent.
//! - `POST /products/{id}/variations/batch`: the same for a variable product's variations;
//!   a variation write moves its parent's `date_modified_gmt` too (WooCommerce syncs it).
//! - `GET/POST /products/categories(/batch)` (a duplicate name: `term_exists` with
//!   `data.resource_id`).
//!
//! [`FakeWooCommerce::lose_responses`] makes the next batch answers get lost after the
//! batch was applied (a 500 instead), as when a connection drops.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::lock;
use super::woocommerce::{FakeWooCommerce, Store, gmt};

/// Write state: id counters, the write clock, categories, scripted failures.
#[derive(Debug, Default)]
pub struct Writes {
    next_id: u64,
    last: Option<Timestamp>,
    lose: usize,
    /// Answers to give normally before losing `lose`.
    keep: usize,
    /// Product categories `{id, name, slug, parent}`.
    pub categories: Vec<Value>,
    /// Write requests applied.
    pub applied: usize,
}

impl Writes {
    fn tick(&mut self) -> String {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        let floor = self.last.map_or(0, |l| l.unix_seconds() + 1);
        let now = Timestamp::from_unix_seconds(wall.max(floor))
            .unwrap_or_else(|| Timestamp::from_unix_nanos(0));
        self.last = Some(now);
        gmt(now)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        20_000 + self.next_id
    }
}

/// The write state shared by the handlers.
pub type SharedWrites = Arc<Mutex<Writes>>;

#[derive(Clone)]
struct St {
    store: Arc<Mutex<Store>>,
    writes: SharedWrites,
}

impl FakeWooCommerce {
    /// The next `n` batch answers are lost after the batch was applied (500 instead).
    pub fn lose_responses(&self, n: usize) {
        self.lose_responses_after(0, n);
    }

    /// The `n` batch answers after the next `keep` are lost after the batch was applied.
    pub fn lose_responses_after(&self, keep: usize, n: usize) {
        let mut w = lock(&self.writes);
        w.keep = keep;
        w.lose = n;
    }

    /// Write requests applied so far.
    pub fn writes_applied(&self) -> usize {
        lock(&self.writes).applied
    }

    /// The write state (categories).
    pub fn writes(&self) -> std::sync::MutexGuard<'_, Writes> {
        lock(&self.writes)
    }

    /// Changes product or variation `id` as the merchant would in wp-admin
    /// (`date_modified_gmt` moves).
    pub fn edit(&self, id: u64, edit: impl FnOnce(&mut Value)) {
        let now = lock(&self.writes).tick();
        let mut s = self.store();
        let Store {
            products,
            variations,
        } = &mut *s;
        if let Some(o) = products
            .iter_mut()
            .chain(variations.iter_mut())
            .find(|p| p["id"] == id)
        {
            edit(o);
            o["date_modified_gmt"] = json!(now);
        }
    }
}

pub(crate) fn router(store: Arc<Mutex<Store>>, writes: SharedWrites) -> Router {
    Router::new()
        .route("/wp-json/wc/v3/products/batch", post(products_batch))
        .route(
            "/wp-json/wc/v3/products/{id}/variations/batch",
            post(variations_batch),
        )
        .route("/wp-json/wc/v3/products/categories", get(categories))
        .route(
            "/wp-json/wc/v3/products/categories/batch",
            post(categories_batch),
        )
        .with_state(St { store, writes })
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let s = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        s,
        Json(json!({"code": code, "message": message, "data": {"status": status}})),
    )
        .into_response()
}

fn object_error(code: &str, message: &str, extra: Value) -> Value {
    let mut data = json!({"status": 400});
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    json!({"id": 0, "error": {"code": code, "message": message, "data": data}})
}

fn done(w: &mut Writes, answer: Value) -> Response {
    w.applied += 1;
    if w.keep > 0 {
        w.keep -= 1;
    } else if w.lose > 0 {
        w.lose -= 1;
        return error(
            500,
            "internal_server_error",
            "There has been a critical error on this website.",
        );
    }
    Json(answer).into_response()
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

fn too_many(body: &Value) -> bool {
    ["create", "update", "delete"]
        .iter()
        .map(|k| list(body, k).len())
        .sum::<usize>()
        > 100
}

/// The id of the product or variation (other than `except`) holding `sku`.
fn sku_owner(s: &Store, sku: &str, except: u64) -> Option<u64> {
    if sku.is_empty() {
        return None;
    }
    s.products
        .iter()
        .chain(&s.variations)
        .filter(|o| o["id"] != except)
        .find(|o| o["sku"] == sku)
        .and_then(|o| o["id"].as_u64())
}

fn invalid_sku(owner: u64, sku: &str) -> Value {
    object_error(
        "product_invalid_sku",
        "Invalid or duplicated SKU.",
        json!({"resource_id": owner, "unique_sku": sku}),
    )
}

const WRITABLE: [&str; 12] = [
    "name",
    "type",
    "status",
    "description",
    "sku",
    "regular_price",
    "sale_price",
    "manage_stock",
    "stock_quantity",
    "categories",
    "attributes",
    "global_unique_id",
];

fn apply(o: &mut Value, change: &Value, categories: &[Value]) {
    for k in WRITABLE {
        if let Some(v) = change.get(k) {
            o[k] = match k {
                // WooCommerce answers categories with their names and slugs.
                "categories" => Value::Array(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| {
                            let found = categories.iter().find(|x| x["id"] == c["id"]);
                            json!({"id": c["id"], "name": found.map_or(c["name"].clone(), |f| f["name"].clone()),
                                   "slug": found.map_or(c["slug"].clone(), |f| f["slug"].clone())})
                        })
                        .collect(),
                ),
                "attributes" => Value::Array(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, a)| {
                            let mut a = a.clone();
                            a["id"] = json!(0);
                            if a.get("options").is_some() {
                                a["position"] = json!(i);
                            }
                            a
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
        }
    }
    o["price"] = o["regular_price"].clone();
}

async fn products_batch(State(st): State<St>, Json(body): Json<Value>) -> Response {
    if too_many(&body) {
        return error(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        );
    }
    let mut w = lock(&st.writes);
    let mut s = lock(&st.store);
    let now = w.tick();
    let mut created = Vec::new();
    for c in list(&body, "create") {
        let sku = c["sku"].as_str().unwrap_or_default();
        if let Some(owner) = sku_owner(&s, sku, 0) {
            created.push(invalid_sku(owner, sku));
            continue;
        }
        let id = w.id();
        let mut p = json!({"id": id, "name": "", "type": "simple", "status": "publish", "sku": "",
            "price": "", "regular_price": "", "sale_price": "", "manage_stock": false,
            "stock_quantity": null, "categories": [], "images": [], "variations": [], "attributes": [],
            "description": "", "date_created_gmt": now, "date_modified_gmt": now});
        apply(&mut p, &c, &w.categories);
        s.products.push(p.clone());
        created.push(p);
    }
    let mut updated = Vec::new();
    for c in list(&body, "update") {
        let id = c["id"].as_u64().unwrap_or(0);
        let sku = c["sku"].as_str().unwrap_or_default();
        if let Some(owner) = sku_owner(&s, sku, id) {
            updated.push(invalid_sku(owner, sku));
            continue;
        }
        let cats = w.categories.clone();
        match s.products.iter_mut().find(|p| p["id"] == id) {
            Some(p) => {
                apply(p, &c, &cats);
                p["date_modified_gmt"] = json!(now);
                updated.push(p.clone());
            }
            None => updated.push(object_error(
                "woocommerce_rest_product_invalid_id",
                "Invalid ID.",
                json!({"status": 404}),
            )),
        }
    }
    let mut deleted = Vec::new();
    for id in list(&body, "delete") {
        match s.products.iter().position(|p| p["id"] == id) {
            Some(i) => {
                let p = s.products.remove(i);
                s.variations.retain(|v| v["parent_id"] != id);
                deleted.push(p);
            }
            None => deleted.push(object_error(
                "woocommerce_rest_product_invalid_id",
                "Invalid ID.",
                json!({"status": 404}),
            )),
        }
    }
    done(
        &mut w,
        json!({"create": created, "update": updated, "delete": deleted}),
    )
}

async fn variations_batch(
    State(st): State<St>,
    Path(parent): Path<u64>,
    Json(body): Json<Value>,
) -> Response {
    if too_many(&body) {
        return error(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        );
    }
    let mut w = lock(&st.writes);
    let mut s = lock(&st.store);
    if !s.products.iter().any(|p| p["id"] == parent) {
        return error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.");
    }
    let now = w.tick();
    let cats = w.categories.clone();
    let mut created = Vec::new();
    for c in list(&body, "create") {
        let sku = c["sku"].as_str().unwrap_or_default();
        if let Some(owner) = sku_owner(&s, sku, 0) {
            created.push(invalid_sku(owner, sku));
            continue;
        }
        let id = w.id();
        let mut v = json!({"id": id, "parent_id": parent, "type": "variation", "status": "publish",
            "sku": "", "price": "", "regular_price": "", "sale_price": "", "manage_stock": false,
            "stock_quantity": null, "image": null, "attributes": [],
            "date_created_gmt": now, "date_modified_gmt": now});
        apply(&mut v, &c, &cats);
        s.variations.push(v.clone());
        created.push(v);
    }
    let mut updated = Vec::new();
    for c in list(&body, "update") {
        let id = c["id"].as_u64().unwrap_or(0);
        let sku = c["sku"].as_str().unwrap_or_default();
        if let Some(owner) = sku_owner(&s, sku, id) {
            updated.push(invalid_sku(owner, sku));
            continue;
        }
        match s
            .variations
            .iter_mut()
            .find(|v| v["id"] == id && v["parent_id"] == parent)
        {
            Some(v) => {
                apply(v, &c, &cats);
                v["date_modified_gmt"] = json!(now);
                updated.push(v.clone());
            }
            None => updated.push(object_error(
                "woocommerce_rest_product_variation_invalid_id",
                "Invalid ID.",
                json!({"status": 404}),
            )),
        }
    }
    let mut deleted = Vec::new();
    for id in list(&body, "delete") {
        match s
            .variations
            .iter()
            .position(|v| v["id"] == id && v["parent_id"] == parent)
        {
            Some(i) => deleted.push(s.variations.remove(i)),
            None => deleted.push(object_error(
                "woocommerce_rest_product_variation_invalid_id",
                "Invalid ID.",
                json!({"status": 404}),
            )),
        }
    }
    let ids: Vec<Value> = s
        .variations
        .iter()
        .filter(|v| v["parent_id"] == parent)
        .map(|v| v["id"].clone())
        .collect();
    if let Some(p) = s.products.iter_mut().find(|p| p["id"] == parent) {
        p["variations"] = Value::Array(ids);
        p["date_modified_gmt"] = json!(now);
    }
    done(
        &mut w,
        json!({"create": created, "update": updated, "delete": deleted}),
    )
}

async fn categories(State(st): State<St>) -> Json<Value> {
    Json(Value::Array(lock(&st.writes).categories.clone()))
}

async fn categories_batch(State(st): State<St>, Json(body): Json<Value>) -> Response {
    let mut w = lock(&st.writes);
    let mut created = Vec::new();
    for c in list(&body, "create") {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        if let Some(existing) = w.categories.iter().find(|x| x["name"] == name.as_str()) {
            let id = existing["id"].clone();
            created.push(object_error(
                "term_exists",
                "A term with the name provided already exists with this parent.",
                json!({"resource_id": id}),
            ));
            continue;
        }
        let cat = json!({"id": w.id(), "name": name, "slug": name.to_lowercase().replace(' ', "-"), "parent": 0});
        w.categories.push(cat.clone());
        created.push(cat);
    }
    // `delete: [ids]`: terms are deleted for good (no trash); an unknown id is an error
    // entry of its own.
    let mut deleted = Vec::new();
    for id in list(&body, "delete") {
        match w.categories.iter().position(|x| x["id"] == id) {
            Some(i) => deleted.push(w.categories.remove(i)),
            None => deleted.push(object_error(
                "woocommerce_rest_term_invalid",
                "Resource does not exist.",
                json!({"status": 404}),
            )),
        }
    }
    done(&mut w, json!({ "create": created, "delete": deleted }))
}

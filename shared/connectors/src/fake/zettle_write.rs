//! The fake Zettle's write side (sources in [`crate::zettle::write`]):
//!
//! - `POST /organizations/self/products`: validates (`name`, `uuid`, 1–99 variants each with
//!   a `uuid`, prices `{amount ≥ 0, currencyId}` in the organization's currency) and answers
//!   `201` with `ETag` and `Location`, no body; a UUID already in the library is refused
//!   with `409` (Zettle does not document that answer; the writer does not depend on it).
//! - `PUT /organizations/self/products/v2/{uuid}`: a JSON merge patch; `variants` is the
//!   full list, each merged by `uuid` into the variant it names; `If-Match` with another
//!   ETag → `412` with an empty body; `204` with the new `ETag`.
//! - `GET /organizations/self/products/{uuid}` serves written products (with `etag`,
//!   `created`, `updated`), before the organization's own ones.
//! - `DELETE /organizations/self/products/{uuid}` (`204`, `404`) and
//!   `DELETE /organizations/self/products?uuid=…` (`204`).
//! - `GET`/`POST /organizations/self/categories/v2` (`400` for a name that exists).
//! - `GET /v3/inventories` (one STORE per [`FakeZettle::stores`], SUPPLIER, BIN, SOLD) and
//!   `POST /v3/movements`: from SUPPLIER or a STORE to a STORE or BIN; balances of written
//!   variants are listed by `/v3/stock`. A movement `identifier` seen before answers as the
//!   first time without moving anything again.
//!
//! Errors are `{"developerMessage", "errorType", "violations": [...]}`.
//! [`FakeZettle::lose_responses`] loses the next write answers after the write was applied
//! (`500` instead), as when a connection drops.

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tillbridge_domain::Timestamp;

use super::lock;
use super::zettle::{Both, FakeZettle};
use crate::destination::shape::number;

/// The library written through the API and the inventory of its variants.
#[derive(Debug, Default)]
pub struct Writes {
    /// Products by UUID, as Zettle stores them (with `etag`, `updated`).
    pub products: BTreeMap<String, Value>,
    /// Insertion order of `products` (the library's order).
    pub order: Vec<String>,
    /// Categories: (uuid, name).
    pub categories: Vec<(String, String)>,
    /// Variant UUID → (product UUID, inventory UUID → balance).
    pub balances: BTreeMap<String, (String, BTreeMap<String, Decimal>)>,
    /// STORE inventory UUIDs.
    pub stores: Vec<String>,
    /// Movement identifiers applied.
    seen: HashSet<String>,
    etag: u64,
    lose: usize,
    /// Writes left before the fake answers `503` without applying (an outage mid-run).
    budget: Option<usize>,
    /// (product UUID, new name): the merchant renames it just before the next update.
    race: Option<(String, String)>,
    /// Write requests applied (replays and refusals excluded).
    pub applied: usize,
}

/// The SUPPLIER inventory.
pub const SUPPLIER: &str = "5a7b0000-0000-1000-8000-00000000005a";
/// The BIN inventory.
pub const BIN: &str = "b1b10000-0000-1000-8000-0000000000b1";
const SOLD: &str = "501d0000-0000-1000-8000-000000000501";
/// The STORE inventory a fake starts with.
pub const STORE: &str = "57000000-0000-1000-8000-000000000057";

impl Writes {
    pub(crate) fn new() -> Self {
        Self {
            stores: vec![STORE.to_owned()],
            ..Self::default()
        }
    }

    fn next_etag(&mut self) -> String {
        self.etag += 1;
        format!("{:016x}", self.etag)
    }
}

impl FakeZettle {
    /// The written library and inventory, to look at or change between calls.
    pub fn writes(&self) -> std::sync::MutexGuard<'_, Writes> {
        lock(&self.state.writes)
    }

    /// Puts `product` (Zettle's JSON, with `uuid`) in the library as the merchant would in
    /// the back office: a new ETag and `updated`; `stock` sets the STORE balances of its
    /// variants (variant UUID, balance).
    pub fn put_product(&self, mut product: Value, stock: &[(&str, i64)]) {
        let mut w = self.writes();
        let etag = w.next_etag();
        let uuid = product["uuid"].as_str().unwrap_or_default().to_owned();
        stamp(&mut product, &etag);
        if !w.products.contains_key(&uuid) {
            w.order.push(uuid.clone());
        }
        w.products.insert(uuid.clone(), product);
        let store = w.stores.first().cloned().unwrap_or_default();
        for (variant, q) in stock {
            w.balances
                .entry((*variant).to_owned())
                .or_insert_with(|| (uuid.clone(), BTreeMap::new()))
                .1
                .insert(store.clone(), Decimal::from(*q));
        }
    }

    /// Changes a written product as the merchant would (its ETag moves).
    pub fn edit(&self, uuid: &str, edit: impl FnOnce(&mut Value)) {
        let mut w = self.writes();
        let etag = w.next_etag();
        if let Some(p) = w.products.get_mut(uuid) {
            edit(p);
            stamp(p, &etag);
        }
    }

    /// The next `n` write answers are lost after the write was applied (`500` instead).
    pub fn lose_responses(&self, n: usize) {
        self.writes().lose = n;
    }

    /// After `n` more applied writes, every write answers `503` without applying it until
    /// [`FakeZettle::writes_resume`].
    pub fn writes_fail_after(&self, n: usize) {
        self.writes().budget = Some(n);
    }

    /// Ends [`FakeZettle::writes_fail_after`].
    pub fn writes_resume(&self) {
        self.writes().budget = None;
    }

    /// The merchant renames product `uuid` in the back office just before the next update
    /// arrives (a race between our read and our write).
    pub fn rename_before_next_update(&self, uuid: &str, name: &str) {
        self.writes().race = Some((uuid.to_owned(), name.to_owned()));
    }

    /// Write requests applied so far.
    pub fn writes_applied(&self) -> usize {
        self.writes().applied
    }

    /// Written products now.
    pub fn product_count(&self) -> usize {
        self.writes().products.len()
    }
}

fn stamp(p: &mut Value, etag: &str) {
    let now = Timestamp::from_unix_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(0)),
    )
    .to_rfc3339();
    if p.get("created").is_none_or(Value::is_null) {
        p["created"] = json!(now);
    }
    p["updated"] = json!(now);
    p["updatedBy"] = json!("fake-user");
    p["etag"] = json!(format!("\"{etag}\""));
}

pub(crate) fn error(status: StatusCode, kind: &str, message: &str, violations: Value) -> Response {
    (
        status,
        Json(json!({"developerMessage": message, "errorType": kind, "violations": violations})),
    )
        .into_response()
}

fn invalid(property: &str, message: &str, constraint: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "CONSTRAINT_VIOLATION",
        "Request validation failed",
        json!([{"propertyName": property, "developerMessage": message, "constraintType": constraint}]),
    )
}

/// `503` when the write budget is spent.
fn out_of_budget(w: &Writes) -> Option<Response> {
    (w.budget == Some(0)).then(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable",
            json!([]),
        )
    })
}

/// Applies `reply` as a write: counted, and lost when asked.
fn written(w: &mut Writes, reply: Response) -> Response {
    w.applied += 1;
    if let Some(b) = w.budget.as_mut() {
        *b = b.saturating_sub(1);
    }
    if w.lose > 0 {
        w.lose -= 1;
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An unexpected error occurred",
            json!([]),
        );
    }
    reply
}

fn with_etag(status: StatusCode, etag: &str, location: Option<String>) -> Response {
    let mut r = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        r.headers_mut().insert("etag", v);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert("location", l);
    }
    r
}

fn validate(p: &Value, currency: &str) -> Option<Response> {
    if p["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
        return Some(invalid("name", "must not be empty", "MUST_NOT_BE_EMPTY"));
    }
    let variants = p["variants"].as_array().map_or(&[][..], Vec::as_slice);
    if variants.is_empty() || variants.len() > 99 {
        return Some(invalid(
            "variants",
            "size must be between 1 and 99",
            "INVALID_SIZE",
        ));
    }
    for (i, v) in variants.iter().enumerate() {
        if v["uuid"].as_str().is_none_or(str::is_empty) {
            return Some(invalid(
                &format!("variants[{i}].uuid"),
                "must not be null",
                "MUST_NOT_BE_NULL",
            ));
        }
        for field in ["price", "costPrice"] {
            let m = &v[field];
            if m.is_null() {
                continue;
            }
            if m["amount"].as_i64().is_none_or(|a| a < 0) {
                return Some(invalid(
                    &format!("variants[{i}].{field}.amount"),
                    "must be greater than or equal to 0",
                    "MUST_BE_GREATER_OR_EQUAL_TO",
                ));
            }
            if m["currencyId"].as_str() != Some(currency) {
                return Some(invalid(
                    &format!("variants[{i}].{field}.currencyId"),
                    &format!("must be the organization's currency {currency}"),
                    "UNKNOWN",
                ));
            }
        }
    }
    None
}

pub(crate) async fn create_product(State(s): State<Both>, Json(body): Json<Value>) -> Response {
    let currency = lock(&s.org).currency.clone();
    let Some(uuid) = body["uuid"]
        .as_str()
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
    else {
        return invalid("uuid", "must not be null", "MUST_NOT_BE_NULL");
    };
    if let Some(bad) = validate(&body, &currency) {
        return bad;
    }
    let mut w = lock(&s.writes);
    if let Some(r) = out_of_budget(&w) {
        return r;
    }
    if w.products.contains_key(&uuid) {
        return error(
            StatusCode::CONFLICT,
            "ENTITY_ALREADY_EXISTS",
            &format!("Product with uuid {uuid} already exists"),
            json!([]),
        );
    }
    let etag = w.next_etag();
    let mut p = body;
    stamp(&mut p, &etag);
    w.products.insert(uuid.clone(), p);
    w.order.push(uuid.clone());
    let location = format!("/organizations/self/products/{uuid}");
    let reply = with_etag(StatusCode::CREATED, &etag, Some(location));
    written(&mut w, reply)
}

/// RFC 7396 merge of `patch` into `target`, `variants` merged by `uuid`.
fn merge(target: &mut Value, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            if let Some(m) = target.as_object_mut() {
                m.remove(k);
            }
        } else if k == "variants" {
            let before = target["variants"].as_array().cloned().unwrap_or_default();
            let merged: Vec<Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|pv| {
                    let mut base = before
                        .iter()
                        .find(|b| b["uuid"] == pv["uuid"])
                        .cloned()
                        .unwrap_or_else(|| json!({}));
                    if let Some(m) = pv.as_object() {
                        merge(&mut base, m);
                    }
                    base
                })
                .collect();
            target["variants"] = Value::Array(merged);
        } else {
            target[k] = v.clone();
        }
    }
}

pub(crate) async fn update_product(
    State(s): State<Both>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let currency = lock(&s.org).currency.clone();
    let Some(patch) = body.as_object() else {
        return invalid("", "must be an object", "UNKNOWN");
    };
    let mut w = lock(&s.writes);
    if let Some(r) = out_of_budget(&w) {
        return r;
    }
    if let Some((id, name)) = w.race.take_if(|(id, _)| *id == uuid) {
        let etag = w.next_etag();
        if let Some(p) = w.products.get_mut(&id) {
            p["name"] = json!(name);
            stamp(p, &etag);
        }
    }
    let Some(current) = w.products.get(&uuid).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            "Product not found",
            json!([]),
        );
    };
    if let Some(asked) = headers.get("if-match").and_then(|v| v.to_str().ok())
        && Some(asked) != current["etag"].as_str()
    {
        return StatusCode::PRECONDITION_FAILED.into_response();
    }
    let mut next = current;
    merge(&mut next, patch);
    if let Some(bad) = validate(&next, &currency) {
        return bad;
    }
    let etag = w.next_etag();
    stamp(&mut next, &etag);
    let variants: HashSet<String> = next["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["uuid"].as_str().map(str::to_owned))
        .collect();
    w.balances
        .retain(|v, (p, _)| *p != uuid || variants.contains(v));
    w.products.insert(uuid.clone(), next);
    let reply = with_etag(StatusCode::NO_CONTENT, &etag, None);
    written(&mut w, reply)
}

/// The written product `uuid`, if any.
pub(crate) fn written_product(s: &Both, uuid: &str) -> Option<Value> {
    lock(&s.writes).products.get(uuid).cloned()
}

fn remove(w: &mut Writes, uuid: &str) -> bool {
    let had = w.products.remove(uuid).is_some();
    if had {
        w.order.retain(|u| u != uuid);
        w.balances.retain(|_, (p, _)| p != uuid);
    }
    had
}

pub(crate) async fn delete_product(State(s): State<Both>, Path(uuid): Path<String>) -> Response {
    let mut w = lock(&s.writes);
    if let Some(r) = out_of_budget(&w) {
        return r;
    }
    if !remove(&mut w, &uuid) {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            "Product not found",
            json!([]),
        );
    }
    written(&mut w, StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn delete_products(State(s): State<Both>, RawQuery(q): RawQuery) -> Response {
    let uuids: Vec<String> = q
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("uuid="))
        .map(str::to_owned)
        .collect();
    if uuids.is_empty() {
        return invalid("uuid", "must not be empty", "MUST_NOT_BE_EMPTY");
    }
    let mut w = lock(&s.writes);
    if let Some(r) = out_of_budget(&w) {
        return r;
    }
    for u in &uuids {
        remove(&mut w, u);
    }
    written(&mut w, StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn categories(State(s): State<Both>) -> Response {
    let w = lock(&s.writes);
    let list: Vec<Value> = w
        .categories
        .iter()
        .map(|(u, n)| json!({"uuid": u, "name": n}))
        .collect();
    Json(json!({ "categories": list })).into_response()
}

pub(crate) async fn create_categories(State(s): State<Both>, Json(body): Json<Value>) -> Response {
    let mut w = lock(&s.writes);
    let asked = body["categories"].as_array().cloned().unwrap_or_default();
    for c in &asked {
        let (Some(u), Some(n)) = (c["uuid"].as_str(), c["name"].as_str()) else {
            return invalid(
                "categories",
                "uuid and name are required",
                "MUST_NOT_BE_NULL",
            );
        };
        if w.categories.iter().any(|(_, have)| have == n) {
            return error(
                StatusCode::BAD_REQUEST,
                "CATEGORY_ALREADY_EXISTS",
                "Category already exists",
                json!([]),
            );
        }
        w.categories.push((u.to_owned(), n.to_owned()));
    }
    written(&mut w, StatusCode::CREATED.into_response())
}

/// `DELETE /organizations/self/categories/v2/{uuid}`: `204`, `404` for an unknown one.
pub(crate) async fn delete_category(State(s): State<Both>, Path(uuid): Path<String>) -> Response {
    let mut w = lock(&s.writes);
    let before = w.categories.len();
    w.categories.retain(|(u, _)| *u != uuid);
    if w.categories.len() == before {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            "Category not found",
            json!([]),
        );
    }
    written(&mut w, StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn inventories(State(s): State<Both>) -> Response {
    let w = lock(&s.writes);
    let mut list: Vec<Value> = w
        .stores
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"inventoryUuid": u, "name": format!("Store {i}"), "type": "STORE", "default": i == 0}))
        .collect();
    for (u, kind) in [(SUPPLIER, "SUPPLIER"), (BIN, "BIN"), (SOLD, "SOLD")] {
        list.push(json!({"inventoryUuid": u, "name": kind, "type": kind, "default": false}));
    }
    Json(json!(list)).into_response()
}

pub(crate) async fn movements(State(s): State<Both>, Json(body): Json<Value>) -> Response {
    let mut w = lock(&s.writes);
    if let Some(r) = out_of_budget(&w) {
        return r;
    }
    let Some(identifier) = body["identifier"].as_str().map(str::to_owned) else {
        return invalid("identifier", "must not be null", "MUST_NOT_BE_NULL");
    };
    if w.seen.contains(&identifier) {
        return StatusCode::OK.into_response();
    }
    let list = body["movements"].as_array().cloned().unwrap_or_default();
    let known = |w: &Writes, u: &str| w.stores.iter().any(|s| s == u) || u == SUPPLIER || u == BIN;
    let mut planned = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let (Some(product), Some(variant), Some(from), Some(to)) = (
            m["productUuid"].as_str(),
            m["variantUuid"].as_str(),
            m["from"].as_str(),
            m["to"].as_str(),
        ) else {
            return invalid(
                &format!("movements[{i}]"),
                "productUuid, variantUuid, from and to are required",
                "MUST_NOT_BE_NULL",
            );
        };
        let change = Decimal::from_str_exact(m["change"].to_string().trim_matches('"')).ok();
        let Some(change) = change.filter(|c| c.is_sign_positive() && !c.is_zero()) else {
            return invalid(
                &format!("movements[{i}].change"),
                "must be greater than 0",
                "MUST_BE_GREATER_THAN",
            );
        };
        if !known(&w, from) || !known(&w, to) {
            return invalid(&format!("movements[{i}]"), "unknown inventory", "UNKNOWN");
        }
        let has_variant = w.products.get(product).is_some_and(|p| {
            p["variants"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(|v| v["uuid"] == variant))
        });
        if !has_variant {
            return error(
                StatusCode::NOT_FOUND,
                "ENTITY_NOT_FOUND",
                "Product or variant not found",
                json!([]),
            );
        }
        planned.push((
            product.to_owned(),
            variant.to_owned(),
            from.to_owned(),
            to.to_owned(),
            change,
        ));
    }
    for (product, variant, from, to, change) in planned {
        let stores = w.stores.clone();
        let entry = w
            .balances
            .entry(variant)
            .or_insert_with(|| (product, BTreeMap::new()));
        if stores.contains(&from) {
            *entry.1.entry(from).or_default() -= change;
        }
        if stores.contains(&to) {
            *entry.1.entry(to).or_default() += change;
        }
    }
    w.seen.insert(identifier);
    written(&mut w, StatusCode::OK.into_response())
}

/// Stock records of written variants, as `/v3/stock` lists them.
pub(crate) fn stock_records(s: &Both) -> Vec<Value> {
    let w = lock(&s.writes);
    w.balances
        .iter()
        .flat_map(|(variant, (product, by))| {
            by.iter().map(move |(inv, bal)| {
                json!({"organizationUuid": "self", "inventoryUuid": inv, "productUuid": product,
                       "variantUuid": variant, "balance": number(&bal.normalize().to_string()).map_or(Value::Null, Value::Number),
                       "lowStockLevel": 0, "lowStockAlert": false, "checksum": "1"})
            })
        })
        .collect()
}

//! The fake Square's write side, with Square's semantics (sources in
//! [`crate::square`]'s write and undo modules):
//!
//! - `POST /v2/catalog/batch-upsert`: `idempotency_key` required; the same key with the same
//!   request answers the stored answer again (nothing written twice), with another request
//!   `400 IDEMPOTENCY_KEY_REUSED`. `#` ids are created and reported in `id_mappings`; an
//!   update must carry the current `version` of the ITEM and of each variation it includes,
//!   else `400 VERSION_MISMATCH`, and nothing of the request is written (one batch is
//!   all-or-nothing; this fake treats the whole request so). Every write moves `updated_at`
//!   and so `version`. Existing variations left out of an ITEM's `variations` are deleted.
//! - `POST /v2/inventory/changes/batch-create`: `PHYSICAL_COUNT` changes set the `IN_STOCK`
//!   count; idempotent as above.
//! - `POST /v2/catalog/batch-delete`: deletes ITEMs (with their variations), variations and
//!   CATEGORYs; answers `deleted_object_ids` and `deleted_at`. An upsert's answer lists every
//!   object written, CATEGORYs included.
//!
//! [`FakeSquare::lose_responses`] makes the next write answers get lost after the write was
//! applied (a 500 instead of the answer), as when a connection drops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::lock;
use super::square::{
    Catalog, FakeCount, FakeItem, FakeSquare, FakeVariation, Shared, category_object, error_body,
    item_object, read,
};

/// Idempotency records and the write clock.
#[derive(Debug, Default)]
pub struct Writes {
    /// key → (request without the key, status, answer).
    keys: HashMap<String, (Value, u16, Value)>,
    next_id: u64,
    last: Option<Timestamp>,
    lose: usize,
    /// (item id, new name): the merchant renames it just before the next upsert.
    race: Option<(String, String)>,
    /// Writes applied (requests that changed something, replays excluded).
    pub applied: usize,
}

/// The write state shared by the handlers.
pub type SharedWrites = Arc<Mutex<Writes>>;

#[derive(Clone)]
struct St {
    catalog: Shared,
    writes: SharedWrites,
}

impl Writes {
    /// A strictly increasing "now" (versions are its microseconds).
    fn tick(&mut self) -> Timestamp {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let floor = self.last.map_or(0, |l| l.unix_nanos() + 1000);
        let now = Timestamp::from_unix_nanos((wall / 1000 * 1000).max(floor));
        self.last = Some(now);
        now
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("SQW{:021}", self.next_id)
    }
}

impl FakeSquare {
    /// The next `n` write answers are lost after the write was applied (500 instead).
    pub fn lose_responses(&self, n: usize) {
        lock(&self.writes).lose = n;
    }

    /// The merchant renames item `id` just before the next upsert is applied (a race
    /// between our read and our write).
    pub fn rename_before_next_upsert(&self, id: &str, name: &str) {
        lock(&self.writes).race = Some((id.to_owned(), name.to_owned()));
    }

    /// Write requests applied so far (idempotent replays not counted).
    pub fn writes_applied(&self) -> usize {
        lock(&self.writes).applied
    }

    /// Changes an item as the merchant would at Square (its version moves).
    pub fn edit_item(&self, id: &str, edit: impl FnOnce(&mut FakeItem)) {
        let now = lock(&self.writes).tick();
        let mut c = self.catalog();
        if let Some(item) = c.items.iter_mut().find(|i| i.id == id) {
            edit(item);
            item.updated_at = now;
        }
    }
}

pub(crate) fn router(catalog: Shared, writes: SharedWrites) -> Router {
    Router::new()
        .route("/v2/catalog/batch-upsert", post(batch_upsert))
        .route(
            "/v2/inventory/changes/batch-create",
            post(inventory_changes),
        )
        .route("/v2/catalog/batch-delete", post(batch_delete))
        .with_state(St { catalog, writes })
}

type Reply = (StatusCode, Json<Value>);

fn error(status: StatusCode, code: &str, detail: &str) -> Reply {
    let body = serde_json::from_str(&error_body("INVALID_REQUEST_ERROR", code, detail))
        .unwrap_or(Value::Null);
    (status, Json(body))
}

/// Runs `apply` once per idempotency key; replays, key reuse and lost answers as Square.
fn idempotent(
    st: &St,
    body: Value,
    apply: impl FnOnce(&mut Catalog, &mut Writes, &Value) -> Result<Value, Reply>,
) -> Reply {
    let Some(key) = body["idempotency_key"].as_str().map(str::to_owned) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MISSING_REQUIRED_PARAMETER",
            "Field must be set",
        );
    };
    let mut request = body;
    if let Some(m) = request.as_object_mut() {
        m.remove("idempotency_key");
    }
    let mut w = lock(&st.writes);
    let reply = match w.keys.get(&key) {
        Some((seen, status, answer)) if *seen == request => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
            Json(answer.clone()),
        ),
        Some(_) => error(
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_KEY_REUSED",
            "The idempotency key can only be retried with the same request data.",
        ),
        None => {
            let mut c = read(&st.catalog);
            let reply = match apply(&mut c, &mut w, &request) {
                Ok(answer) => (StatusCode::OK, Json(answer)),
                Err(e) => e,
            };
            if reply.0 == StatusCode::OK {
                w.applied += 1;
                w.keys
                    .insert(key, (request, reply.0.as_u16(), reply.1.0.clone()));
            }
            reply
        }
    };
    if w.lose > 0 && reply.0 == StatusCode::OK {
        w.lose -= 1;
        let body = error_body(
            "API_ERROR",
            "INTERNAL_SERVER_ERROR",
            "An internal error has occurred",
        );
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::from_str(&body).unwrap_or(Value::Null)),
        );
    }
    reply
}

async fn batch_upsert(State(st): State<St>, Json(body): Json<Value>) -> Reply {
    idempotent(&st, body.clone(), |c, w, req| {
        if let Some((id, name)) = w.race.take() {
            let at = w.tick();
            if let Some(item) = c.items.iter_mut().find(|i| i.id == id) {
                item.name = name;
                item.updated_at = at;
            }
        }
        let objects: Vec<&Value> = req["batches"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["objects"].as_array().into_iter().flatten())
            .collect();
        for o in &objects {
            check(c, o)?;
        }
        let now = w.tick();
        let mut mappings: Vec<(String, String)> = Vec::new();
        let mut written = Vec::new();
        let mut categories = Vec::new();
        for o in objects {
            let id = o["id"].as_str().unwrap_or_default();
            match o["type"].as_str() {
                Some("CATEGORY") => {
                    let name = o["category_data"]["name"].as_str().unwrap_or_default();
                    let real = real_id(w, &mut mappings, id);
                    c.categories.retain(|(cid, _)| *cid != real);
                    c.categories.push((real.clone(), name.to_owned()));
                    categories.push(json!(category_object(&real, name)));
                }
                Some("ITEM") => written.push(upsert_item(c, w, &mut mappings, o, now)),
                _ => {}
            }
        }
        let objects: Vec<Value> = categories
            .into_iter()
            .chain(
                written
                    .iter()
                    .filter_map(|id| c.items.iter().find(|i| &i.id == id))
                    .map(|i| json!(item_object(i, false))),
            )
            .collect();
        let mappings: Vec<Value> = mappings
            .into_iter()
            .map(|(client, id)| json!({"client_object_id": client, "object_id": id}))
            .collect();
        Ok(json!({"objects": objects, "updated_at": now.to_rfc3339(), "id_mappings": mappings}))
    })
}

/// Validates one object of an upsert: existing ids exist, versions match.
fn check(c: &Catalog, o: &Value) -> Result<(), Reply> {
    let id = o["id"].as_str().unwrap_or_default();
    let kind = o["type"].as_str().unwrap_or_default();
    if id.is_empty() || !matches!(kind, "ITEM" | "CATEGORY") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_VALUE",
            "Invalid object",
        ));
    }
    if kind != "ITEM" || id.starts_with('#') {
        return Ok(());
    }
    let Some(item) = c.items.iter().find(|i| i.id == id && !i.deleted) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_VALUE",
            &format!("Object `{id}` not found."),
        ));
    };
    let mismatch = || {
        error(
            StatusCode::BAD_REQUEST,
            "VERSION_MISMATCH",
            "Object version does not match latest database version.",
        )
    };
    if o["version"].as_i64() != Some(item.updated_at.unix_nanos() / 1000) {
        return Err(mismatch());
    }
    for v in o["item_data"]["variations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let vid = v["id"].as_str().unwrap_or_default();
        if vid.starts_with('#') {
            continue;
        }
        match item.variations.iter().find(|x| x.id == vid && !x.deleted) {
            Some(x) if v["version"].as_i64() == Some(x.updated_at.unix_nanos() / 1000) => {}
            _ => return Err(mismatch()),
        }
    }
    Ok(())
}

fn real_id(w: &mut Writes, mappings: &mut Vec<(String, String)>, id: &str) -> String {
    if !id.starts_with('#') {
        return id.to_owned();
    }
    if let Some((_, real)) = mappings.iter().find(|(c, _)| c == id) {
        return real.clone();
    }
    let real = w.new_id();
    mappings.push((id.to_owned(), real.clone()));
    real
}

fn upsert_item(
    c: &mut Catalog,
    w: &mut Writes,
    mappings: &mut Vec<(String, String)>,
    o: &Value,
    now: Timestamp,
) -> String {
    let id = real_id(w, mappings, o["id"].as_str().unwrap_or_default());
    let d = &o["item_data"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let category = text(&d["categories"][0]["id"]).or_else(|| text(&d["category_id"]));
    let category_id = category.map(|cat| real_id(w, mappings, &cat));
    let mut variations = Vec::new();
    for v in d["variations"].as_array().into_iter().flatten() {
        let vd = &v["item_variation_data"];
        let fixed = vd["pricing_type"].as_str() != Some("VARIABLE_PRICING");
        variations.push(FakeVariation {
            id: real_id(w, mappings, v["id"].as_str().unwrap_or_default()),
            name: text(&vd["name"]).unwrap_or_default(),
            sku: text(&vd["sku"]),
            price: vd["price_money"]["amount"].as_i64().filter(|_| fixed),
            upc: text(&vd["upc"]),
            updated_at: now,
            deleted: false,
        });
    }
    let item = FakeItem {
        id: id.clone(),
        name: text(&d["name"]).unwrap_or_default(),
        category_id,
        description: text(&d["description"]),
        archived: d["is_archived"].as_bool().unwrap_or(false),
        updated_at: now,
        deleted: false,
        variations,
    };
    match c.items.iter_mut().find(|i| i.id == id) {
        Some(old) => {
            let mut dropped: Vec<FakeVariation> = old
                .variations
                .iter()
                .filter(|v| !item.variations.iter().any(|n| n.id == v.id))
                .cloned()
                .collect();
            for v in &mut dropped {
                if !v.deleted {
                    v.deleted = true;
                    v.updated_at = now;
                }
            }
            *old = item;
            old.variations.extend(dropped);
        }
        None => c.items.push(item),
    }
    id
}

async fn inventory_changes(State(st): State<St>, Json(body): Json<Value>) -> Reply {
    idempotent(&st, body, |c, _, req| {
        let mut counts = Vec::new();
        for ch in req["changes"].as_array().into_iter().flatten() {
            let pc = &ch["physical_count"];
            if ch["type"] != "PHYSICAL_COUNT" || pc["state"] != "IN_STOCK" {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_VALUE",
                    "Unsupported change",
                ));
            }
            let (Some(var), Some(loc), Some(qty)) = (
                pc["catalog_object_id"].as_str(),
                pc["location_id"].as_str(),
                pc["quantity"].as_str(),
            ) else {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "MISSING_REQUIRED_PARAMETER",
                    "physical_count",
                ));
            };
            c.counts.retain(|n| {
                !(n.variation_id == var && n.location_id == loc && n.state == "IN_STOCK")
            });
            c.counts.push(FakeCount {
                variation_id: var.into(),
                location_id: loc.into(),
                state: "IN_STOCK".into(),
                quantity: qty.into(),
            });
            counts.push(json!({"catalog_object_id": var, "location_id": loc,
                               "state": "IN_STOCK", "quantity": qty}));
        }
        Ok(json!({ "counts": counts }))
    })
}

async fn batch_delete(State(st): State<St>, Json(body): Json<Value>) -> Reply {
    let mut w = lock(&st.writes);
    let now = w.tick();
    let mut c = read(&st.catalog);
    let mut deleted = Vec::new();
    for id in body["object_ids"].as_array().into_iter().flatten() {
        let id = id.as_str().unwrap_or_default();
        if c.categories.iter().any(|(cid, _)| cid == id) {
            c.categories.retain(|(cid, _)| cid != id);
            deleted.push(id.to_owned());
        }
        for item in &mut c.items {
            if item.id == id && !item.deleted {
                item.deleted = true;
                item.updated_at = now;
                deleted.push(item.id.clone());
                for v in item.variations.iter_mut().filter(|v| !v.deleted) {
                    v.deleted = true;
                    v.updated_at = now;
                    deleted.push(v.id.clone());
                }
            }
            if let Some(v) = item
                .variations
                .iter_mut()
                .find(|v| v.id == id && !v.deleted)
            {
                v.deleted = true;
                v.updated_at = now;
                deleted.push(v.id.clone());
            }
        }
    }
    w.applied += 1;
    (
        StatusCode::OK,
        Json(json!({"deleted_object_ids": deleted, "deleted_at": now.to_rfc3339()})),
    )
}

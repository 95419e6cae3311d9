//! WooCommerce read-back and undo: what a product is now, deleting what a migration created
//! and restoring what it changed, each verified by reading back.
//!
//! - Read: `GET /wp-json/wc/v3/products?include=…&per_page=100`, then each variable
//!   product's `GET /products/{id}/variations` (paged by `X-WP-TotalPages`).
//! - Delete: `POST /products/batch` with `delete: [ids]` (a batch delete is permanent, not
//!   to the trash; the variations go with the product); per-object `error` entries fail
//!   only that product.
//! - Restore: `POST /products/batch` `update` with the prior product's fields, then `POST
//!   /products/{id}/variations/batch` updating the prior variations and deleting the ones
//!   the migration added.
//!
//! A snapshot's `body` is `{"product": …, "variations": […]}` (WooCommerce's own objects);
//! versions are each object's `date_modified_gmt`
//! (<https://woocommerce.github.io/woocommerce-rest-api-docs/#product-properties>).

use std::collections::BTreeMap;

use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use tillbridge_domain::Provider;

use super::{LOCATION, WooCommerceClient, total_pages};
use crate::api::decode;
use crate::destination::shape::holds;
use crate::destination::{Outcome, PriorState, Snapshot, Undo, UndoResult};
use crate::error::{ConnectorError, Result};

const V: Provider = Provider::WooCommerce;
/// Ids per listing and objects per batch (WooCommerce's maximum).
pub(crate) const PER: usize = 100;
pub(crate) const PRODUCTS: &str = "/wp-json/wc/v3/products";
const PRODUCT_FIELDS: [&str; 10] = [
    "name",
    "description",
    "status",
    "categories",
    "sku",
    "regular_price",
    "sale_price",
    "manage_stock",
    "stock_quantity",
    "attributes",
];
const VARIATION_FIELDS: [&str; 6] = [
    "sku",
    "regular_price",
    "sale_price",
    "manage_stock",
    "stock_quantity",
    "attributes",
];

fn id_of(v: &Value, path: &str) -> Result<String> {
    v["id"]
        .as_u64()
        .map(|n| n.to_string())
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.id"), "not an integer"))
}

fn modified(v: &Value, path: &str) -> Result<String> {
    v["date_modified_gmt"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            ConnectorError::malformed(V, format!("{path}.date_modified_gmt"), "not a string")
        })
}

fn level(v: &Value) -> Option<BTreeMap<String, Decimal>> {
    (v["manage_stock"] == true)
        .then(|| v["stock_quantity"].as_i64())
        .flatten()
        .map(|q| BTreeMap::from([(LOCATION.to_owned(), Decimal::from(q))]))
}

/// A product's snapshot from the product and its variations.
pub(crate) fn snapshot_of(product: &Value, variations: Vec<Value>, path: &str) -> Result<Snapshot> {
    let id = id_of(product, path)?;
    let mut versions = BTreeMap::from([(id.clone(), modified(product, path)?)]);
    let mut stock = BTreeMap::new();
    if let Some(l) = level(product) {
        stock.insert(id.clone(), l);
    }
    for (j, v) in variations.iter().enumerate() {
        let vpath = format!("{path}.variations[{j}]");
        let vid = id_of(v, &vpath)?;
        versions.insert(vid.clone(), modified(v, &vpath)?);
        if let Some(l) = level(v) {
            stock.insert(vid, l);
        }
    }
    Ok(Snapshot {
        object_id: id,
        versions,
        body: json!({"product": product, "variations": variations}),
        stock,
    })
}

/// The live products among `ids`, with their variations.
pub(crate) async fn read_back(
    c: &WooCommerceClient,
    ids: &[String],
) -> Result<BTreeMap<String, Snapshot>> {
    let numeric: Vec<&String> = ids.iter().filter(|i| i.parse::<u64>().is_ok()).collect();
    let mut out = BTreeMap::new();
    for chunk in numeric.chunks(PER) {
        let include = chunk
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let query = [("include", include), ("per_page", PER.to_string())];
        let response = c.call(Method::GET, PRODUCTS, &query, None).await?;
        let products: Vec<Value> = decode(V, &response.body)?;
        for (i, p) in products.iter().enumerate() {
            let path = format!("$[{i}]");
            if p["status"] == "trash" {
                continue;
            }
            let variations = if p["type"] == "variable" {
                variations(c, &id_of(p, &path)?, &[]).await?
            } else {
                Vec::new()
            };
            let s = snapshot_of(p, variations, &path)?;
            out.insert(s.object_id.clone(), s);
        }
    }
    Ok(out)
}

/// The `date_modified_gmt` of the live products among `ids` (no variations read).
pub(crate) async fn product_dates(
    c: &WooCommerceClient,
    ids: &[String],
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(PER) {
        let query = [("include", chunk.join(",")), ("per_page", PER.to_string())];
        let response = c.call(Method::GET, PRODUCTS, &query, None).await?;
        let products: Vec<Value> = decode(V, &response.body)?;
        for (i, p) in products.iter().enumerate() {
            let path = format!("$[{i}]");
            out.insert(id_of(p, &path)?, modified(p, &path)?);
        }
    }
    Ok(out)
}

/// A variable product's variations (`filter`: extra query, e.g. `sku`).
pub(crate) async fn variations(
    c: &WooCommerceClient,
    id: &str,
    filter: &[(&str, String)],
) -> Result<Vec<Value>> {
    let path = format!("{PRODUCTS}/{id}/variations");
    let mut out = Vec::new();
    let mut page = 1u32;
    loop {
        let mut query = vec![("page", page.to_string()), ("per_page", PER.to_string())];
        query.extend(filter.iter().cloned());
        let response = c.call(Method::GET, &path, &query, None).await?;
        let list: Vec<Value> = decode(V, &response.body)?;
        out.extend(list);
        if page >= total_pages(&response) {
            return Ok(out);
        }
        page += 1;
    }
}

/// A per-object failure in a batch answer (`{"id": 0, "error": {"code", "message"}}`).
pub(crate) fn object_error(v: &Value) -> Option<(String, String)> {
    let e = v.get("error")?;
    Some((
        e["code"].as_str().unwrap_or("error").to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// One `POST …/batch` with `body`, its answer.
pub(crate) async fn batch(c: &WooCommerceClient, path: &str, body: &Value) -> Result<Value> {
    let response = c.call(Method::POST, path, &[], Some(body)).await?;
    decode(V, &response.body)
}

fn undo(o: &Outcome, result: UndoResult, verified: bool) -> Undo {
    Undo {
        source_id: o.source_id.clone(),
        object_id: o.object_id.clone(),
        result,
        verified,
    }
}

fn conflict(o: &Outcome, now: Option<&Snapshot>) -> Option<UndoResult> {
    let found = now.map(|s| s.versions.clone()).unwrap_or_default();
    (found != o.versions).then(|| UndoResult::Conflict {
        recorded: o.versions.clone(),
        found,
    })
}

fn failed(o: &Outcome, reason: String) -> Undo {
    undo(o, UndoResult::Failed { reason }, false)
}

/// Deletes what the migration created, unless changed since.
pub(crate) async fn delete(c: &WooCommerceClient, created: &[Outcome]) -> Result<Vec<Undo>> {
    let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
    let now = read_back(c, &ids).await?;
    let mut out = Vec::new();
    let mut doomed = Vec::new();
    for o in created {
        match o.object_id.as_ref().map(|id| now.get(id)) {
            None | Some(None) => out.push(undo(o, UndoResult::Nothing, true)),
            Some(Some(s)) => match conflict(o, Some(s)) {
                Some(conflict) => out.push(undo(o, conflict, false)),
                None => doomed.push(o),
            },
        }
    }
    let mut deleted = Vec::new();
    for chunk in doomed.chunks(PER) {
        let ids: Vec<u64> = chunk
            .iter()
            .filter_map(|o| o.object_id.as_ref()?.parse().ok())
            .collect();
        let answer = match batch(c, &format!("{PRODUCTS}/batch"), &json!({"delete": ids})).await {
            Ok(a) => a,
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                out.extend(chunk.iter().map(|o| failed(o, vendor_reason.clone())));
                continue;
            }
            Err(e) => return Err(e),
        };
        let answers = answer["delete"].as_array().map_or(&[][..], Vec::as_slice);
        for (o, a) in chunk
            .iter()
            .zip(answers.iter().map(Some).chain(std::iter::repeat(None)))
        {
            match a.and_then(object_error) {
                Some((code, message)) => out.push(failed(o, format!("{code}: {message}"))),
                None => deleted.push(*o),
            }
        }
    }
    let deleted_ids: Vec<String> = deleted.iter().filter_map(|o| o.object_id.clone()).collect();
    let after = read_back(c, &deleted_ids).await?;
    for o in deleted {
        let gone = o
            .object_id
            .as_ref()
            .is_some_and(|id| !after.contains_key(id));
        out.push(undo(o, UndoResult::Deleted, gone));
    }
    Ok(out)
}

/// Every live category: id → name (`GET /products/categories`, paged).
async fn category_names(c: &WooCommerceClient) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut page = 1u32;
    loop {
        let query = [("per_page", PER.to_string()), ("page", page.to_string())];
        let path = format!("{PRODUCTS}/categories");
        let response = c.call(Method::GET, &path, &query, None).await?;
        let list: Vec<Value> = decode(V, &response.body)?;
        for cat in &list {
            if let (Some(id), Some(name)) = (cat["id"].as_u64(), cat["name"].as_str()) {
                out.insert(id.to_string(), name.to_owned());
            }
        }
        if page >= total_pages(&response) {
            return Ok(out);
        }
        page += 1;
    }
}

/// Deletes the categories the migration created (`source_id` = the name it gave them),
/// unless renamed since, with `POST /products/categories/batch` `delete` (terms are not
/// trashed), and reads them back.
pub(crate) async fn delete_categories(
    c: &WooCommerceClient,
    created: &[Outcome],
) -> Result<Vec<Undo>> {
    let now = category_names(c).await?;
    let mut out = Vec::new();
    let mut doomed = Vec::new();
    for o in created {
        match o.object_id.as_ref().map(|id| now.get(id)) {
            None | Some(None) => out.push(undo(o, UndoResult::Nothing, true)),
            Some(Some(name)) if *name != o.source_id => {
                let conflict = UndoResult::Conflict {
                    recorded: o.versions.clone(),
                    found: BTreeMap::new(),
                };
                out.push(undo(o, conflict, false));
            }
            Some(Some(_)) => doomed.push(o),
        }
    }
    let mut deleted = Vec::new();
    for chunk in doomed.chunks(PER) {
        let ids: Vec<u64> = chunk
            .iter()
            .filter_map(|o| o.object_id.as_ref()?.parse().ok())
            .collect();
        let path = format!("{PRODUCTS}/categories/batch");
        let answer = match batch(c, &path, &json!({ "delete": ids })).await {
            Ok(a) => a,
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                out.extend(chunk.iter().map(|o| failed(o, vendor_reason.clone())));
                continue;
            }
            Err(e) => return Err(e),
        };
        let answers = answer["delete"].as_array().map_or(&[][..], Vec::as_slice);
        for (o, a) in chunk
            .iter()
            .zip(answers.iter().map(Some).chain(std::iter::repeat(None)))
        {
            match a.and_then(object_error) {
                Some((code, message)) => out.push(failed(o, format!("{code}: {message}"))),
                None => deleted.push(*o),
            }
        }
    }
    if deleted.is_empty() {
        return Ok(out);
    }
    let after = category_names(c).await?;
    for o in deleted {
        let gone = o
            .object_id
            .as_ref()
            .is_some_and(|id| !after.contains_key(id));
        out.push(undo(o, UndoResult::Deleted, gone));
    }
    Ok(out)
}

/// Puts back what the migration changed, unless changed since.
pub(crate) async fn restore(c: &WooCommerceClient, changed: &[Outcome]) -> Result<Vec<Undo>> {
    let mut out = Vec::new();
    for o in changed {
        let (Some(id), Some(PriorState::Existed { snapshot })) = (&o.object_id, &o.prior) else {
            out.push(undo(o, UndoResult::Nothing, true));
            continue;
        };
        match restore_one(c, o, id, snapshot).await {
            Ok(u) => out.push(u),
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                out.push(failed(o, vendor_reason));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn pick(v: &Value, fields: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), v["id"].clone());
    for f in fields {
        if let Some(x) = v.get(*f) {
            m.insert((*f).into(), x.clone());
        }
    }
    m
}

/// Whether `now` holds the prior content (product and variations).
fn as_before(now: &Snapshot, prior: &Snapshot) -> bool {
    let product = Value::Object(pick(&prior.body["product"], &PRODUCT_FIELDS));
    let vars: Vec<Value> = prior.body["variations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| Value::Object(pick(v, &VARIATION_FIELDS)))
        .collect();
    let same_set = now.versions.len() == prior.versions.len()
        && now.versions.keys().all(|k| prior.versions.contains_key(k));
    same_set
        && holds(&now.body["product"], &product)
        && holds(&now.body["variations"], &Value::Array(vars))
}

async fn restore_one(
    c: &WooCommerceClient,
    o: &Outcome,
    id: &str,
    prior: &Snapshot,
) -> Result<Undo> {
    let ids = [id.to_owned()];
    let now = read_back(c, &ids).await?;
    if let Some(conflict) = conflict(o, now.get(id)) {
        return Ok(undo(o, conflict, false));
    }
    let Some(current) = now.get(id) else {
        return Ok(undo(o, UndoResult::Nothing, true));
    };
    if as_before(current, prior) {
        // A write whose answer was lost may not have landed: nothing to put back.
        return Ok(undo(o, UndoResult::Nothing, true));
    }
    let product = Value::Object(pick(&prior.body["product"], &PRODUCT_FIELDS));
    let answer = batch(
        c,
        &format!("{PRODUCTS}/batch"),
        &json!({"update": [product]}),
    )
    .await?;
    if let Some((code, message)) = answer["update"].get(0).and_then(object_error) {
        return Ok(failed(o, format!("{code}: {message}")));
    }
    let prior_vars = prior.body["variations"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let update: Vec<Value> = prior_vars
        .iter()
        .filter(|v| {
            v["id"]
                .as_u64()
                .is_some_and(|n| current.versions.contains_key(&n.to_string()))
        })
        .map(|v| Value::Object(pick(v, &VARIATION_FIELDS)))
        .collect();
    let added: Vec<u64> = current
        .versions
        .keys()
        .filter(|k| *k != id && !prior.versions.contains_key(*k))
        .filter_map(|k| k.parse().ok())
        .collect();
    if !update.is_empty() || !added.is_empty() {
        let body = json!({"update": update, "delete": added});
        batch(c, &format!("{PRODUCTS}/{id}/variations/batch"), &body).await?;
    }
    let after = read_back(c, &ids).await?;
    let verified = after.get(id).is_some_and(|s| as_before(s, prior));
    Ok(undo(o, UndoResult::Restored, verified))
}

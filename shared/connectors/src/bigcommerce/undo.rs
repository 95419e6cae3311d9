//! BigCommerce read-back and undo: what a product is now, deleting what a migration created
//! and restoring what it changed, each verified by reading back; the migration's storefront
//! redirects are deleted with them.
//!
//! - Read: `GET /v3/catalog/products?id:in=…&include=variants` (50 ids a request).
//! - Delete: `DELETE /v3/catalog/products?id:in=…` (`204`; the variants go with the
//!   product) (<https://developer.bigcommerce.com/docs/rest-catalog/products#delete-products>).
//!   Deletes take no version, so the conflict check reads first.
//! - Restore: a batch update putting back the prior product's fields and its variants'
//!   (`name`, `description`, `is_visible`, `categories`, `price`, `sku`, `upc`,
//!   `inventory_tracking`, `inventory_level`).
//! - Redirects: `DELETE /v3/storefront/redirects?id:in=…`, verified with `GET
//!   /v3/storefront/redirects?id:in=…`.
//! - Categories the migration created: `DELETE /v3/catalog/categories?id:in=…`, after the
//!   products, verified with `GET /v3/catalog/categories?id:in=…`
//!   (<https://developer.bigcommerce.com/docs/rest-catalog/category-trees/categories>).
//!
//! Versions: a product's is its `date_modified`; a variant has none, so its version is a
//! digest of its JSON without `inventory_level` (stock moves with every sale; a sale is not
//! an edit).

use std::collections::BTreeMap;

use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use tillbridge_domain::Provider;

use super::write::id_text;
use super::{BigCommerceClient, LOCATION};
use crate::api::decode;
use crate::destination::shape::holds;
use crate::destination::{Outcome, PriorState, Snapshot, Undo, UndoResult, token};
use crate::error::{ConnectorError, Result};

const V: Provider = Provider::BigCommerce;
/// Ids per `id:in` request.
const IDS: usize = 50;
/// The product and variant fields a restore puts back.
const PRODUCT_FIELDS: [&str; 9] = [
    "name",
    "description",
    "is_visible",
    "categories",
    "price",
    "sku",
    "upc",
    "inventory_tracking",
    "inventory_level",
];
const VARIANT_FIELDS: [&str; 4] = ["sku", "price", "upc", "inventory_level"];

fn list(ids: &[String]) -> String {
    ids.join(",")
}

/// A product's snapshot (JSON with `variants`): versions, body, stock at [`LOCATION`].
pub(crate) fn snapshot_of(p: &Value, path: &str) -> Result<Snapshot> {
    let id = p["id"]
        .as_u64()
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.id"), "not an integer"))?
        .to_string();
    let modified = p["date_modified"].as_str().ok_or_else(|| {
        ConnectorError::malformed(V, format!("{path}.date_modified"), "not a string")
    })?;
    let mut versions = BTreeMap::from([(id.clone(), modified.to_owned())]);
    let mut stock = BTreeMap::new();
    let variants = match &p["variants"] {
        Value::Null => &[][..],
        Value::Array(a) => a.as_slice(),
        _ => {
            let at = format!("{path}.variants");
            return Err(ConnectorError::malformed(V, at, "not an array"));
        }
    };
    for (j, v) in variants.iter().enumerate() {
        let vid = v["id"].as_u64().ok_or_else(|| {
            ConnectorError::malformed(V, format!("{path}.variants[{j}].id"), "not an integer")
        })?;
        let mut content = v.clone();
        if let Some(m) = content.as_object_mut() {
            m.remove("inventory_level");
        }
        versions.insert(
            vid.to_string(),
            format!("v-{}", token(&[&content.to_string()])),
        );
        if let Some(level) = v["inventory_level"].as_i64() {
            stock.insert(
                vid.to_string(),
                BTreeMap::from([(LOCATION.to_owned(), Decimal::from(level))]),
            );
        }
    }
    Ok(Snapshot {
        object_id: id,
        versions,
        body: p.clone(),
        stock,
    })
}

/// The live products among `ids`.
pub(crate) async fn read_back(
    c: &BigCommerceClient,
    ids: &[String],
) -> Result<BTreeMap<String, Snapshot>> {
    let mut out = BTreeMap::new();
    let numeric: Vec<String> = ids
        .iter()
        .filter(|i| i.parse::<u64>().is_ok())
        .cloned()
        .collect();
    for chunk in numeric.chunks(IDS) {
        let query = [
            ("id:in", list(chunk)),
            ("include", "variants".to_owned()),
            ("limit", "250".to_owned()),
        ];
        let bytes = c
            .call(Method::GET, "v3/catalog/products", &query, None)
            .await?;
        let answer: Value = decode(V, &bytes)?;
        for (i, p) in answer["data"].as_array().into_iter().flatten().enumerate() {
            let s = snapshot_of(p, &format!("data[{i}]"))?;
            out.insert(s.object_id.clone(), s);
        }
    }
    Ok(out)
}

async fn delete_products(c: &BigCommerceClient, ids: &[String]) -> Result<()> {
    for chunk in ids.chunks(IDS) {
        c.call(
            Method::DELETE,
            "v3/catalog/products",
            &[("id:in", list(chunk))],
            None,
        )
        .await?;
    }
    Ok(())
}

/// Deletes redirects by id; true when none of them is left.
async fn delete_redirects(c: &BigCommerceClient, ids: &[String]) -> Result<bool> {
    let mut left = false;
    for chunk in ids.chunks(IDS) {
        let query = [("id:in", list(chunk))];
        c.call(Method::DELETE, "v3/storefront/redirects", &query, None)
            .await?;
        let bytes = c
            .call(Method::GET, "v3/storefront/redirects", &query, None)
            .await?;
        let answer: Value = decode(V, &bytes)?;
        left |= answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| id_text(&r["id"]))
            .any(|id| chunk.contains(&id));
    }
    Ok(!left)
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

fn redirect_ids(o: &Outcome) -> Vec<String> {
    o.redirects.keys().cloned().collect()
}

fn rejected(o: &Outcome, e: ConnectorError) -> Result<Undo> {
    match e {
        ConnectorError::Rejected { vendor_reason, .. } => Ok(undo(
            o,
            UndoResult::Failed {
                reason: vendor_reason,
            },
            false,
        )),
        e => Err(e),
    }
}

/// The live categories among `ids`: id → name.
async fn category_names(c: &BigCommerceClient, ids: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(IDS) {
        let query = [("id:in", list(chunk)), ("limit", "250".to_owned())];
        let bytes = c
            .call(Method::GET, "v3/catalog/categories", &query, None)
            .await?;
        let answer: Value = decode(V, &bytes)?;
        for cat in answer["data"].as_array().into_iter().flatten() {
            if let (Some(id), Some(name)) = (id_text(&cat["id"]), cat["name"].as_str()) {
                out.insert(id, name.to_owned());
            }
        }
    }
    Ok(out)
}

/// Deletes the categories the migration created (`source_id` = the name it gave them),
/// unless renamed since, and reads them back.
pub(crate) async fn delete_categories(
    c: &BigCommerceClient,
    created: &[Outcome],
) -> Result<Vec<Undo>> {
    let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
    let now = category_names(c, &ids).await?;
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
    let doomed_ids: Vec<String> = doomed.iter().filter_map(|o| o.object_id.clone()).collect();
    for chunk in doomed_ids.chunks(IDS) {
        let query = [("id:in", list(chunk))];
        if let Err(e) = c
            .call(Method::DELETE, "v3/catalog/categories", &query, None)
            .await
        {
            let ConnectorError::Rejected { vendor_reason, .. } = e else {
                return Err(e);
            };
            for o in &doomed {
                let reason = vendor_reason.clone();
                out.push(undo(o, UndoResult::Failed { reason }, false));
            }
            return Ok(out);
        }
    }
    if doomed.is_empty() {
        return Ok(out);
    }
    let after = category_names(c, &doomed_ids).await?;
    for o in doomed {
        let gone = o
            .object_id
            .as_ref()
            .is_some_and(|id| !after.contains_key(id));
        out.push(undo(o, UndoResult::Deleted, gone));
    }
    Ok(out)
}

/// Deletes what the migration created (and its redirects), unless changed since.
pub(crate) async fn delete(c: &BigCommerceClient, created: &[Outcome]) -> Result<Vec<Undo>> {
    let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
    let now = read_back(c, &ids).await?;
    let mut out = Vec::new();
    let mut doomed = Vec::new();
    for o in created {
        match o.object_id.as_ref().map(|id| now.get(id)) {
            None => out.push(undo(o, UndoResult::Nothing, true)),
            Some(None) => {
                // Gone already: only our redirects to it are left to remove.
                let clean = delete_redirects(c, &redirect_ids(o)).await?;
                out.push(undo(o, UndoResult::Nothing, clean));
            }
            Some(Some(s)) => match conflict(o, Some(s)) {
                Some(conflict) => out.push(undo(o, conflict, false)),
                None => doomed.push(o),
            },
        }
    }
    let doomed_ids: Vec<String> = doomed.iter().filter_map(|o| o.object_id.clone()).collect();
    if let Err(e) = delete_products(c, &doomed_ids).await {
        let ConnectorError::Rejected { vendor_reason, .. } = e else {
            return Err(e);
        };
        for o in doomed {
            let reason = vendor_reason.clone();
            out.push(undo(o, UndoResult::Failed { reason }, false));
        }
        return Ok(out);
    }
    let redirects: Vec<String> = doomed.iter().flat_map(|o| redirect_ids(o)).collect();
    let clean = delete_redirects(c, &redirects).await?;
    let after = read_back(c, &doomed_ids).await?;
    for o in doomed {
        let gone = o
            .object_id
            .as_ref()
            .is_some_and(|id| !after.contains_key(id));
        out.push(undo(o, UndoResult::Deleted, gone && clean));
    }
    Ok(out)
}

/// Puts back what the migration changed (and deletes its redirects), unless changed since.
pub(crate) async fn restore(c: &BigCommerceClient, changed: &[Outcome]) -> Result<Vec<Undo>> {
    let mut out = Vec::new();
    for o in changed {
        let (Some(id), Some(PriorState::Existed { snapshot })) = (&o.object_id, &o.prior) else {
            out.push(undo(o, UndoResult::Nothing, true));
            continue;
        };
        match restore_one(c, o, id, snapshot).await {
            Ok(u) => out.push(u),
            Err(e) => out.push(rejected(o, e)?),
        }
    }
    Ok(out)
}

async fn restore_one(
    c: &BigCommerceClient,
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
    let body = restore_body(&prior.body, current);
    let mut did = !o.redirects.is_empty();
    let clean = delete_redirects(c, &redirect_ids(o)).await?;
    if !holds(&current.body, &body) {
        c.put_products(std::slice::from_ref(&body)).await?;
        did = true;
    }
    let after = read_back(c, &ids).await?;
    let verified = clean && after.get(id).is_some_and(|s| holds(&s.body, &body));
    let result = if did {
        UndoResult::Restored
    } else {
        // A write whose answer was lost may not have landed: nothing to put back.
        UndoResult::Nothing
    };
    Ok(undo(o, result, verified))
}

/// The update putting `prior`'s fields back, for the variants that still exist.
fn restore_body(prior: &Value, now: &Snapshot) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), prior["id"].clone());
    for f in PRODUCT_FIELDS {
        if let Some(v) = prior.get(f) {
            body.insert(f.into(), v.clone());
        }
    }
    let variants: Vec<Value> = prior["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| id_text(&v["id"]).is_some_and(|vid| now.versions.contains_key(&vid)))
        .map(|v| {
            let mut m = Map::new();
            m.insert("id".into(), v["id"].clone());
            for f in VARIANT_FIELDS {
                if let Some(x) = v.get(f) {
                    m.insert(f.into(), x.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    if !variants.is_empty() {
        body.insert("variants".into(), Value::Array(variants));
    }
    Value::Object(body)
}

//! Square read-back and undo: what a product is now, deleting what a migration created and
//! restoring what it changed, each verified by reading back.
//!
//! - `POST /v2/catalog/batch-retrieve` (`object_ids`) for the current objects and versions
//!   (<https://developer.squareup.com/reference/square/catalog-api/batch-retrieve-catalog-objects>).
//! - `POST /v2/catalog/batch-delete` (`object_ids`); deleting an ITEM deletes its variations
//!   and the answer lists every deleted id in `deleted_object_ids`
//!   (<https://developer.squareup.com/reference/square/catalog-api/batch-delete-catalog-objects>).
//!   Square's deletes take no version, so the conflict check reads first.
//! - Restore upserts the prior ITEM as it was, with the current versions (Square rejects an
//!   update without them), after deleting variations the migration added.

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tillbridge_domain::Provider;

use super::SquareClient;
use super::write::physical_count;
use crate::api::{VendorApi, all_pages};
use crate::destination::{Outcome, PriorState, Snapshot, Undo, UndoResult};
use crate::error::{ConnectorError, Result};

const V: Provider = Provider::Square;
/// Ids per batch-retrieve / batch-delete request.
const IDS: usize = 200;

/// A batch-upsert answer: `id_mappings` and the written ITEMs' versions.
#[derive(Debug, Default)]
pub(crate) struct UpsertAnswer {
    mappings: HashMap<String, String>,
    /// Written ITEMs by id (no stock).
    pub items: HashMap<String, Snapshot>,
    /// Written CATEGORYs: id → version (when the answer has one).
    pub categories: HashMap<String, Option<String>>,
}

impl UpsertAnswer {
    /// Reads `{"objects": [...], "id_mappings": [{client_object_id, object_id}]}`.
    pub(crate) fn parse(answer: &Value) -> Result<Self> {
        let mut out = Self::default();
        for (i, m) in array(answer, "id_mappings")?.iter().enumerate() {
            let path = format!("id_mappings[{i}]");
            out.mappings.insert(
                text(m, &path, "client_object_id")?.to_owned(),
                text(m, &path, "object_id")?.to_owned(),
            );
        }
        for (i, o) in array(answer, "objects")?.iter().enumerate() {
            if o["type"] == "ITEM" {
                let s = snapshot_of(o, &format!("objects[{i}]"))?;
                out.items.insert(s.object_id.clone(), s);
            } else if o["type"] == "CATEGORY" {
                let id = text(o, &format!("objects[{i}]"), "id")?.to_owned();
                out.categories
                    .insert(id, o["version"].as_i64().map(|n| n.to_string()));
            }
        }
        Ok(out)
    }

    /// The real id of a temporary (`#…`) id.
    pub(crate) fn mapped(&self, id: &str) -> Option<String> {
        self.mappings.get(id).cloned()
    }
}

fn array<'v>(v: &'v Value, field: &str) -> Result<&'v [Value]> {
    match &v[field] {
        Value::Null => Ok(&[]),
        Value::Array(a) => Ok(a),
        _ => Err(ConnectorError::malformed(V, field, "not an array")),
    }
}

fn text<'v>(v: &'v Value, path: &str, field: &str) -> Result<&'v str> {
    v[field]
        .as_str()
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.{field}"), "not a string"))
}

fn version(v: &Value, path: &str) -> Result<String> {
    v["version"]
        .as_i64()
        .map(|n| n.to_string())
        .ok_or_else(|| ConnectorError::malformed(V, format!("{path}.version"), "not an integer"))
}

/// An ITEM's snapshot: its versions and those of its variations (stock left empty).
fn snapshot_of(obj: &Value, path: &str) -> Result<Snapshot> {
    let id = text(obj, path, "id")?.to_owned();
    let mut versions = BTreeMap::from([(id.clone(), version(obj, path)?)]);
    let vars = match &obj["item_data"]["variations"] {
        Value::Null => &[][..],
        Value::Array(a) => a,
        _ => {
            let p = format!("{path}.item_data.variations");
            return Err(ConnectorError::malformed(V, p, "not an array"));
        }
    };
    for (j, var) in vars.iter().enumerate() {
        let vpath = format!("{path}.item_data.variations[{j}]");
        versions.insert(text(var, &vpath, "id")?.to_owned(), version(var, &vpath)?);
    }
    Ok(Snapshot {
        object_id: id,
        versions,
        body: obj.clone(),
        stock: BTreeMap::new(),
    })
}

/// The live ITEMs among `ids`, with their in-stock counts.
pub(crate) async fn read_back(
    c: &SquareClient,
    ids: &[String],
) -> Result<BTreeMap<String, Snapshot>> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(IDS) {
        let body = json!({"object_ids": chunk, "include_related_objects": false});
        let answer: Value = c
            .call(Method::POST, "/v2/catalog/batch-retrieve", &[], Some(body))
            .await?;
        for (i, o) in array(&answer, "objects")?.iter().enumerate() {
            if o["type"] == "ITEM" && o["is_deleted"] != true {
                let s = snapshot_of(o, &format!("objects[{i}]"))?;
                out.insert(s.object_id.clone(), s);
            }
        }
    }
    let vars: Vec<String> = out
        .values()
        .flat_map(|s| s.versions.keys().filter(|k| **k != s.object_id).cloned())
        .collect();
    if vars.is_empty() {
        return Ok(out);
    }
    let levels = c.stock(&vars).await?;
    let owner: HashMap<&str, &str> = out
        .values()
        .flat_map(|s| {
            s.versions
                .keys()
                .map(|k| (k.as_str(), s.object_id.as_str()))
        })
        .collect();
    let mut stock: BTreeMap<String, BTreeMap<String, BTreeMap<String, Decimal>>> = BTreeMap::new();
    for l in levels {
        if let Some(item) = owner.get(l.external_id.as_str()) {
            *stock
                .entry((*item).to_owned())
                .or_default()
                .entry(l.external_id)
                .or_default()
                .entry(l.location_id)
                .or_default() += l.quantity;
        }
    }
    for (item, s) in stock {
        if let Some(snap) = out.get_mut(&item) {
            snap.stock = s;
        }
    }
    Ok(out)
}

/// Category name → id (live categories).
pub(crate) async fn list_categories(c: &SquareClient) -> Result<HashMap<String, String>> {
    let named = all_pages(None, |cursor: Option<String>| async move {
        let mut query = vec![("types", "CATEGORY")];
        if let Some(cur) = &cursor {
            query.push(("cursor", cur.as_str()));
        }
        let answer: Value = c
            .call(Method::GET, "/v2/catalog/list", &query, None)
            .await?;
        let mut page = Vec::new();
        for (i, o) in array(&answer, "objects")?.iter().enumerate() {
            if o["type"] != "CATEGORY" || o["is_deleted"] == true {
                continue;
            }
            let id = text(o, &format!("objects[{i}]"), "id")?;
            if let Some(name) = o["category_data"]["name"].as_str() {
                page.push((name.to_owned(), id.to_owned()));
            }
        }
        let next = answer["cursor"].as_str().filter(|c| !c.is_empty());
        Ok((page, next.map(|n| Some(n.to_owned()))))
    })
    .await?;
    let mut out = HashMap::new();
    for (name, id) in named {
        out.entry(name).or_insert(id);
    }
    Ok(out)
}

async fn batch_delete(c: &SquareClient, ids: &[String]) -> Result<()> {
    for chunk in ids.chunks(IDS) {
        let _: Value = c
            .call(
                Method::POST,
                "/v2/catalog/batch-delete",
                &[],
                Some(json!({ "object_ids": chunk })),
            )
            .await?;
    }
    Ok(())
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

/// Deletes what the migration created, unless changed since.
pub(crate) async fn delete(
    c: &SquareClient,
    _migration: &str,
    created: &[Outcome],
) -> Result<Vec<Undo>> {
    let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
    let now = read_back(c, &ids).await?;
    let mut out = Vec::new();
    let mut doomed = Vec::new();
    for o in created {
        let Some(id) = &o.object_id else {
            out.push(undo(o, UndoResult::Nothing, true));
            continue;
        };
        match now.get(id) {
            None => out.push(undo(o, UndoResult::Nothing, true)),
            Some(s) => match conflict(o, Some(s)) {
                Some(c) => out.push(undo(o, c, false)),
                None => doomed.push(o),
            },
        }
    }
    let doomed_ids: Vec<String> = doomed.iter().filter_map(|o| o.object_id.clone()).collect();
    if delete_or_fail(c, &doomed, &doomed_ids, &mut out).await? {
        let after = read_back(c, &doomed_ids).await?;
        record_deleted(&doomed, |id| after.contains_key(id), &mut out);
    }
    Ok(out)
}

/// Deletes `ids` (the objects of `doomed`) in one batch. A refusal fails each of them with
/// the vendor's reason (false: nothing to verify); other errors end the undo.
async fn delete_or_fail(
    c: &SquareClient,
    doomed: &[&Outcome],
    ids: &[String],
    out: &mut Vec<Undo>,
) -> Result<bool> {
    match batch_delete(c, ids).await {
        Ok(()) => Ok(true),
        Err(ConnectorError::Rejected { vendor_reason, .. }) => {
            for o in doomed {
                let reason = vendor_reason.clone();
                out.push(undo(o, UndoResult::Failed { reason }, false));
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Each of `doomed` deleted, verified when reading back no longer finds it.
fn record_deleted(doomed: &[&Outcome], still_there: impl Fn(&str) -> bool, out: &mut Vec<Undo>) {
    for o in doomed {
        let gone = o.object_id.as_deref().is_some_and(|id| !still_there(id));
        out.push(undo(o, UndoResult::Deleted, gone));
    }
}

/// The live CATEGORYs among `ids`: id → (name, version).
async fn read_categories(
    c: &SquareClient,
    ids: &[String],
) -> Result<HashMap<String, (Option<String>, Option<String>)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(IDS) {
        let body = json!({"object_ids": chunk, "include_related_objects": false});
        let answer: Value = c
            .call(Method::POST, "/v2/catalog/batch-retrieve", &[], Some(body))
            .await?;
        for (i, o) in array(&answer, "objects")?.iter().enumerate() {
            if o["type"] == "CATEGORY" && o["is_deleted"] != true {
                let id = text(o, &format!("objects[{i}]"), "id")?.to_owned();
                let name = o["category_data"]["name"].as_str().map(str::to_owned);
                out.insert(id, (name, o["version"].as_i64().map(|n| n.to_string())));
            }
        }
    }
    Ok(out)
}

/// Deletes the categories the migration created (`source_id` = the name it gave them),
/// unless renamed or changed since (version), and reads them back.
pub(crate) async fn delete_categories(
    c: &SquareClient,
    _migration: &str,
    created: &[Outcome],
) -> Result<Vec<Undo>> {
    let ids: Vec<String> = created.iter().filter_map(|o| o.object_id.clone()).collect();
    let now = read_categories(c, &ids).await?;
    let mut out = Vec::new();
    let mut doomed = Vec::new();
    for o in created {
        let Some(id) = &o.object_id else {
            out.push(undo(o, UndoResult::Nothing, true));
            continue;
        };
        let Some((name, version)) = now.get(id) else {
            out.push(undo(o, UndoResult::Nothing, true));
            continue;
        };
        let recorded = o.versions.get(id);
        let moved = recorded.is_some() && recorded != version.as_ref();
        if moved || name.as_deref() != Some(o.source_id.as_str()) {
            let found = version.iter().map(|v| (id.clone(), v.clone())).collect();
            let conflict = UndoResult::Conflict {
                recorded: o.versions.clone(),
                found,
            };
            out.push(undo(o, conflict, false));
        } else {
            doomed.push(o);
        }
    }
    let doomed_ids: Vec<String> = doomed.iter().filter_map(|o| o.object_id.clone()).collect();
    if doomed_ids.is_empty() {
        return Ok(out);
    }
    if delete_or_fail(c, &doomed, &doomed_ids, &mut out).await? {
        let after = read_categories(c, &doomed_ids).await?;
        record_deleted(&doomed, |id| after.contains_key(id), &mut out);
    }
    Ok(out)
}

/// Puts back what the migration changed, unless changed since.
pub(crate) async fn restore(
    c: &SquareClient,
    migration: &str,
    changed: &[Outcome],
) -> Result<Vec<Undo>> {
    let mut out = Vec::new();
    for o in changed {
        let (Some(id), Some(PriorState::Existed { snapshot })) = (&o.object_id, &o.prior) else {
            out.push(undo(o, UndoResult::Nothing, true));
            continue;
        };
        match restore_one(c, migration, o, id, snapshot).await {
            Ok(u) => out.push(u),
            Err(ConnectorError::Rejected { vendor_reason, .. }) => {
                let reason = vendor_reason;
                out.push(undo(o, UndoResult::Failed { reason }, false));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

async fn restore_one(
    c: &SquareClient,
    migration: &str,
    o: &Outcome,
    id: &str,
    prior: &Snapshot,
) -> Result<Undo> {
    let ids = [id.to_owned()];
    let mut now = read_back(c, &ids).await?;
    if let Some(conflict) = conflict(o, now.get(id)) {
        return Ok(undo(o, conflict, false));
    }
    let unchanged =
        |s: &Snapshot| strip(&s.body) == strip(&prior.body) && same_stock(&s.stock, &prior.stock);
    let Some(found) = now.get(id) else {
        let gone = UndoResult::Conflict {
            recorded: o.versions.clone(),
            found: BTreeMap::new(),
        };
        return Ok(undo(o, gone, false));
    };
    if unchanged(found) {
        // A write whose answer was lost may not have landed: nothing to put back.
        return Ok(undo(o, UndoResult::Nothing, true));
    }
    let added: Vec<String> = found
        .versions
        .keys()
        .filter(|k| !prior.versions.contains_key(*k))
        .cloned()
        .collect();
    if !added.is_empty() {
        batch_delete(c, &added).await?;
        now = read_back(c, &ids).await?;
    }
    let Some(current) = now.get(id) else {
        return Ok(undo(
            o,
            UndoResult::Failed {
                reason: "gone while restoring".into(),
            },
            false,
        ));
    };
    let body = with_versions(&prior.body, &current.versions);
    c.batch_upsert(migration, "restore", vec![body]).await?;
    let changes = stock_back(&prior.stock, &current.stock);
    if !changes.is_empty() {
        c.inventory_changes(migration, "restore-stock", changes)
            .await?;
    }
    let after = read_back(c, &ids).await?;
    let verified = after.get(id).is_some_and(unchanged);
    Ok(undo(o, UndoResult::Restored, verified))
}

/// The prior ITEM with the current versions (variations gone since are left out).
fn with_versions(prior: &Value, versions: &BTreeMap<String, String>) -> Value {
    let mut body = prior.clone();
    let v = |id: &Value| {
        id.as_str()
            .and_then(|i| versions.get(i))
            .and_then(|s| s.parse::<i64>().ok())
    };
    if let Some(n) = v(&body["id"]) {
        body["version"] = json!(n);
    }
    if let Some(vars) = body["item_data"]["variations"].as_array_mut() {
        vars.retain(|var| v(&var["id"]).is_some());
        for var in vars {
            if let Some(n) = v(&var["id"]) {
                var["version"] = json!(n);
            }
        }
    }
    body
}

fn stock_back(
    prior: &BTreeMap<String, BTreeMap<String, Decimal>>,
    now: &BTreeMap<String, BTreeMap<String, Decimal>>,
) -> Vec<Value> {
    let at = crate::destination::now_rfc3339();
    let mut changes = Vec::new();
    for (var, locs) in now {
        for (loc, qty) in locs {
            let want = prior
                .get(var)
                .and_then(|p| p.get(loc))
                .copied()
                .unwrap_or_default();
            if want != *qty {
                changes.push(physical_count(var, loc, want, &at));
            }
        }
    }
    for (var, locs) in prior {
        for (loc, qty) in locs {
            if now.get(var).and_then(|n| n.get(loc)).is_none() && !qty.is_zero() {
                changes.push(physical_count(var, loc, *qty, &at));
            }
        }
    }
    changes
}

fn same_stock(
    a: &BTreeMap<String, BTreeMap<String, Decimal>>,
    b: &BTreeMap<String, BTreeMap<String, Decimal>>,
) -> bool {
    let nonzero = |m: &BTreeMap<String, BTreeMap<String, Decimal>>| {
        m.iter()
            .flat_map(|(v, l)| {
                l.iter()
                    .map(move |(loc, q)| ((v.clone(), loc.clone()), q.normalize()))
            })
            .filter(|(_, q)| !q.is_zero())
            .collect::<BTreeMap<_, _>>()
    };
    nonzero(a) == nonzero(b)
}

/// The object without what Square sets on every write (versions, times).
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "version" | "updated_at" | "created_at"))
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

//! The migration report's destination part: per item what the write did at the destination.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use tillbridge_connectors::{Action, Outcome};
use tillbridge_domain::{CatalogItem, Provider};
use tillbridge_ports::{BlobStore, Table};

use super::{load_journal, parent_key, prepared_items};
use crate::{Migration, MigrationError};

/// Per item (in `items` order) its `{"provider", "object_id", "action"}` (and `reason` when
/// it failed), from the outcome of its product: a variation's object id through the
/// outcome's variation id map, a parent's own record the product's id.
pub(crate) fn item_views(
    provider: Provider,
    items: &[CatalogItem],
    outcomes: &BTreeMap<String, Outcome>,
) -> Vec<(String, Value)> {
    items
        .iter()
        .map(|item| {
            let o = outcomes.get(parent_key(item));
            let object_id = o.and_then(|o| {
                o.variation_ids
                    .get(&item.external_id)
                    .or(o.object_id.as_ref())
                    .cloned()
            });
            let (action, reason) = match o.map(|o| &o.action) {
                Some(Action::Created) => ("created", None),
                Some(Action::Updated) => ("updated", None),
                Some(Action::Unchanged) => ("unchanged", None),
                Some(Action::Failed { reason }) => ("failed", Some(reason.clone())),
                None => ("failed", Some("not written".to_owned())),
            };
            let mut v = json!({
                "provider": provider.as_str(),
                "object_id": object_id,
                "action": action,
            });
            if let Some(r) = reason {
                v["reason"] = json!(r);
            }
            (item.external_id.clone(), v)
        })
        .collect()
}

/// Per prepared item of the migration, what the write did at its destination (empty
/// without a destination).
///
/// # Errors
/// The stores failed, or the journal or prepared items are corrupt.
pub async fn item_destinations(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
) -> Result<Vec<(String, Value)>, MigrationError> {
    let Some(provider) = m.destination else {
        return Ok(Vec::new());
    };
    if m.items_key.is_none() {
        return Ok(Vec::new());
    }
    let items = prepared_items(blobs, m).await?;
    let journal = load_journal(table, &m.id).await?;
    Ok(item_views(provider, &items, &journal.entries))
}

/// The migration report (the validation report, JSON) with, for a migration with a
/// destination, every item under `items` carrying its `destination`, the counts under
/// `destination` and what flowed during the cutover under `cutover`. `Ok(None)`: the report is not written yet.
///
/// # Errors
/// The stores failed, or the stored report does not parse.
pub async fn report_json(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
) -> Result<Option<Value>, MigrationError> {
    let Some(bytes) = blobs.get(&crate::prepare::report_key(m)).await? else {
        return Ok(None);
    };
    let mut report: Value = serde_json::from_slice(&bytes)
        .map_err(|e| MigrationError::Permanent(format!("stored report does not parse: {e}")))?;
    let Some(provider) = m.destination else {
        return Ok(Some(report));
    };
    let views = item_destinations(table, blobs, m).await?;
    let items = if m.items_key.is_some() {
        prepared_items(blobs, m).await?
    } else {
        Vec::new()
    };
    let mut counts = BTreeMap::<String, u64>::new();
    for (_, v) in &views {
        *counts
            .entry(v["action"].as_str().unwrap_or("failed").to_owned())
            .or_default() += 1;
    }
    let by_id: BTreeMap<&str, &Value> = views.iter().map(|(id, v)| (id.as_str(), v)).collect();
    if !report["items"].is_array() {
        report["items"] = json!([]);
    }
    let mut listed = HashSet::new();
    if let Some(entries) = report["items"].as_array_mut() {
        for e in entries.iter_mut() {
            let id = e["external_id"].as_str().unwrap_or("").to_owned();
            if let Some(v) = by_id.get(id.as_str()) {
                e["destination"] = (*v).clone();
            }
            listed.insert(id);
        }
        for item in items.iter().filter(|i| !listed.contains(&i.external_id)) {
            let mut e = json!({"external_id": item.external_id});
            for (k, v) in [
                ("name", &item.name),
                ("variant_name", &item.variant_name),
                ("sku", &item.sku),
            ] {
                if let Some(v) = v {
                    e[k] = json!(v);
                }
            }
            if let Some(v) = by_id.get(item.external_id.as_str()) {
                e["destination"] = (*v).clone();
            }
            entries.push(e);
        }
    }
    let mut summary = json!({"provider": provider.as_str()});
    for a in ["created", "updated", "unchanged", "failed"] {
        summary[a] = json!(counts.get(a).copied().unwrap_or(0));
    }
    report["destination"] = summary;
    if let Some(c) = super::cutover_report(table, m).await? {
        report["cutover"] = c;
    }
    Ok(Some(report))
}

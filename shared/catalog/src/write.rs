//! Writing the catalog: upserts, deletes, variant listings and stock readings, each a
//! version or reading merged into the record by [`crate::record`]'s rules.
//!
//! Links before records: an upsert writes its parent link (and inventory alias) before it
//! reads the parent's tombstones and listings; a delete or listing writes to the parent
//! before it reads the links. Whichever runs second sees the other, so a variant racing its
//! parent's delete cannot survive it.

use std::collections::BTreeMap;

use tillbridge_domain::event::{InventoryAdjusted, ItemDeleted, ItemUpserted, VariantListing};
use tillbridge_domain::{Envelope, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, Update, query_all, update_item};

use crate::keys::{self, catalog_pk as pk, item_sk};
use crate::record::{EventRef, Inserted, Stock, Version, VersionKey, merge_stock};
use crate::{ApplyOutcome, CatalogError, CatalogRecord, MAX_ATTEMPTS, Rejected, RejectedFinding};

/// What a decision on one record wants written.
struct Decision<T> {
    record: Option<CatalogRecord>,
    also: Vec<TxWrite>,
    value: T,
}

/// Reads the record (and `read_also`), lets `f` decide, writes conditionally; retries races.
async fn update_record<T>(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    id: &str,
    read_also: &[(&str, &str)],
    mut f: impl FnMut(CatalogRecord, &[Option<Item>]) -> Result<Decision<T>, CatalogError>,
) -> Result<T, CatalogError> {
    let (pk, sk) = (pk(tenant), item_sk(namespace, id));
    update_item(
        table,
        &pk,
        &sk,
        read_also,
        MAX_ATTEMPTS,
        |current, others| {
            let record = match current {
                Some(i) => i.doc::<CatalogRecord>()?,
                None => CatalogRecord::default(),
            };
            let d = f(record, others)?;
            Ok(match d.record {
                None => Update::Done(d.value),
                Some(next) => Update::Put {
                    item: Item::with_doc(&pk, &sk, &next)?,
                    also: d.also,
                    value: d.value,
                },
            })
        },
    )
    .await
}

fn tombstone_version(at: Timestamp) -> Version {
    Version {
        key: VersionKey {
            at,
            rank: 1,
            hash: String::new(),
        },
        item: None,
        event: None,
        rejected: false,
        product_variants: None,
    }
}

/// The rejected list follows the replay: verdicts turned to rejected are listed, verdicts
/// turned to accepted are taken off.
fn rejected_writes(
    tenant: &TenantId,
    id: &str,
    ins: &Inserted,
) -> Result<Vec<TxWrite>, CatalogError> {
    let mut out = Vec::new();
    for (v, findings) in &ins.newly_rejected {
        let Some(e) = &v.event else { continue };
        let record = Rejected {
            event_id: e.event_id.clone(),
            external_id: id.to_owned(),
            received_at: e.received_at,
            findings: findings
                .iter()
                .map(|f| RejectedFinding {
                    rule: f.rule.as_str().to_owned(),
                    message: f.message.clone(),
                    fix: f.fix.clone(),
                })
                .collect(),
        };
        let sk = keys::rejected_sk(e.received_at, &e.event_id);
        out.push(TxWrite::Put {
            item: Item::with_doc(keys::rejected_pk(tenant), sk, &record)?
                .expiring_at(e.received_at.unix_seconds() + crate::REJECTED_TTL_SECS),
            condition: Condition::Always,
        });
    }
    for v in &ins.newly_accepted {
        let Some(e) = &v.event else { continue };
        out.push(TxWrite::Delete {
            pk: keys::rejected_pk(tenant),
            sk: keys::rejected_sk(e.received_at, &e.event_id),
            condition: Condition::Always,
        });
    }
    Ok(out)
}

/// Inserts `v` (and tombstones implied by the parent) into a record; the outcome of `v`.
fn decide_version(
    tenant: &TenantId,
    id: &str,
    mut rec: CatalogRecord,
    v: Version,
    implied: &[Timestamp],
    pending: Option<BTreeMap<String, Stock>>,
) -> Result<Decision<ApplyOutcome>, CatalogError> {
    let mut changed = false;
    for t in implied {
        let ins = rec.insert(tombstone_version(*t));
        changed |= !ins.duplicate && !ins.stale;
    }
    for (loc, s) in pending.unwrap_or_default() {
        changed |= merge_stock(&mut rec.stock_by_location, &loc, &s);
    }
    let ins = rec.insert(v);
    let outcome = if ins.duplicate {
        ApplyOutcome::Duplicate
    } else if ins.rejected {
        ApplyOutcome::Rejected
    } else if ins.stale {
        ApplyOutcome::Stale
    } else {
        ApplyOutcome::Applied
    };
    let also = rejected_writes(tenant, id, &ins)?;
    let write = changed || !ins.duplicate;
    Ok(Decision {
        record: write.then_some(rec),
        also,
        value: outcome,
    })
}

/// An upsert: links first, then the parent's listing, then the version itself together with
/// the parent's tombstones and listings that concern it and stock that waited for it.
pub(crate) async fn upsert(
    table: &dyn Table,
    tenant: &TenantId,
    ns: &str,
    u: &ItemUpserted,
    event: &Envelope,
) -> Result<ApplyOutcome, CatalogError> {
    let item = &u.item;
    let id = item.external_id.as_str();
    let at = item.updated_at.unwrap_or(event.occurred_at);
    if let Some(parent) = &item.parent_id {
        let link = Item::with_doc(pk(tenant), keys::child_sk(ns, parent, id), &id)?;
        table.put(link, Condition::Always).await?;
        if let Some(listing) = &u.parent_variants {
            apply_listing(table, tenant, ns, parent, listing).await?;
        }
    }
    if let Some(inv) = &u.inventory_item_id {
        let alias = Item::with_doc(pk(tenant), keys::alias_sk(ns, inv), &id)?;
        table.put(alias, Condition::Always).await?;
    }
    let catalog = pk(tenant);
    let parent_sk = item.parent_id.as_deref().map(|p| item_sk(ns, p));
    let pending_sk = u
        .inventory_item_id
        .as_deref()
        .map(|i| keys::pending_stock_sk(ns, i));
    let mut read_also: Vec<(&str, &str)> = Vec::new();
    if let Some(sk) = &parent_sk {
        read_also.push((&catalog, sk));
    }
    if let Some(sk) = &pending_sk {
        read_also.push((&catalog, sk));
    }
    let version = Version {
        key: VersionKey {
            at,
            rank: 0,
            hash: item.content_hash(),
        },
        item: Some(item.clone()),
        event: Some(EventRef {
            event_id: event.event_id.to_string(),
            received_at: event.received_at,
        }),
        rejected: false,
        product_variants: u.product_variants.clone().filter(|v| !v.is_empty()),
    };
    update_record(table, tenant, ns, id, &read_also, |rec, others| {
        let mut others = others.iter();
        let mut implied = Vec::new();
        if parent_sk.is_some()
            && let Some(Some(p)) = others.next()
        {
            let parent: CatalogRecord = p.doc()?;
            implied.extend(parent.delete_times());
            implied.extend(parent.absent_in_listings(id));
        }
        let pending = match others.next() {
            Some(Some(p)) => Some(p.doc::<BTreeMap<String, Stock>>()?),
            _ => None,
        };
        decide_version(tenant, id, rec, version.clone(), &implied, pending)
    })
    .await
}

/// Keeps a parent's listing and tombstones the variants it no longer lists, as of its time.
async fn apply_listing(
    table: &dyn Table,
    tenant: &TenantId,
    ns: &str,
    parent: &str,
    listing: &VariantListing,
) -> Result<(), CatalogError> {
    let fresh = update_record(table, tenant, ns, parent, &[], |mut rec, _| {
        let fresh = rec.add_listing(listing);
        Ok(Decision {
            record: fresh.then_some(rec),
            also: Vec::new(),
            value: fresh,
        })
    })
    .await?;
    if !fresh {
        return Ok(());
    }
    for child in query_all(table, &pk(tenant), &keys::children_prefix(ns, parent)).await? {
        let id: String = child.doc()?;
        if !listing.ids.contains(&id) {
            tombstone(table, tenant, ns, &id, listing.as_of).await?;
        }
    }
    Ok(())
}

/// A delete: the item's tombstone, then its variants'.
pub(crate) async fn delete(
    table: &dyn Table,
    tenant: &TenantId,
    ns: &str,
    d: &ItemDeleted,
) -> Result<ApplyOutcome, CatalogError> {
    let outcome = tombstone(table, tenant, ns, &d.external_id, d.deleted_at).await?;
    // Variants go with their parent (those arriving later see the parent's tombstone).
    for child in query_all(
        table,
        &pk(tenant),
        &keys::children_prefix(ns, &d.external_id),
    )
    .await?
    {
        let id: String = child.doc()?;
        tombstone(table, tenant, ns, &id, d.deleted_at).await?;
    }
    Ok(outcome)
}

async fn tombstone(
    table: &dyn Table,
    tenant: &TenantId,
    ns: &str,
    id: &str,
    at: Timestamp,
) -> Result<ApplyOutcome, CatalogError> {
    update_record(table, tenant, ns, id, &[], |rec, _| {
        decide_version(tenant, id, rec, tombstone_version(at), &[], None)
    })
    .await
}

/// A stock reading: merged per location into the item's record, or — named only by an
/// inventory id whose item has not arrived — kept pending until the item's upsert merges it.
pub(crate) async fn adjust(
    table: &dyn Table,
    tenant: &TenantId,
    ns: &str,
    a: &InventoryAdjusted,
) -> Result<ApplyOutcome, CatalogError> {
    let reading = Stock {
        quantity: a.quantity,
        status: a.stock_status,
        as_of: a.as_of,
    };
    let location = a.location_id.clone().unwrap_or_default();
    let alias = |inv: &str| keys::alias_sk(ns, inv);
    let id = match (&a.external_id, &a.inventory_item_id) {
        (Some(id), _) => id.clone(),
        (None, Some(inv)) => match table.get(&pk(tenant), &alias(inv)).await? {
            Some(found) => found.doc()?,
            None => {
                let outcome = keep_pending(table, tenant, ns, inv, &location, &reading).await?;
                // The item may have arrived meanwhile (it merges pending stock after writing
                // its alias; this reads the alias after writing pending stock).
                match table.get(&pk(tenant), &alias(inv)).await? {
                    Some(found) => found.doc()?,
                    None => return Ok(outcome),
                }
            }
        },
        (None, None) => {
            return Err(CatalogError::Permanent(
                "inventory event names no item".into(),
            ));
        }
    };
    update_record(table, tenant, ns, &id, &[], |mut rec, _| {
        let changed = merge_stock(&mut rec.stock_by_location, &location, &reading);
        Ok(Decision {
            record: changed.then_some(rec),
            also: Vec::new(),
            value: if changed {
                ApplyOutcome::Applied
            } else {
                ApplyOutcome::Stale
            },
        })
    })
    .await
}

async fn keep_pending(
    table: &dyn Table,
    tenant: &TenantId,
    ns: &str,
    inv: &str,
    location: &str,
    reading: &Stock,
) -> Result<ApplyOutcome, CatalogError> {
    let (pk, sk) = (pk(tenant), keys::pending_stock_sk(ns, inv));
    update_item(table, &pk, &sk, &[], MAX_ATTEMPTS, |current, _| {
        let mut stock: BTreeMap<String, Stock> = match current {
            Some(i) => i.doc()?,
            None => BTreeMap::new(),
        };
        if !merge_stock(&mut stock, location, reading) {
            return Ok(Update::Done(ApplyOutcome::Stale));
        }
        Ok(Update::Put {
            item: Item::with_doc(&pk, &sk, &stock)?,
            also: Vec::new(),
            value: ApplyOutcome::Applied,
        })
    })
    .await
}

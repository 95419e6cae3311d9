//! The tenant's catalog as webhooks keep it: per object the newest update wins.
//!
//! Ordering is by the vendor's own time (`updated_at`, or the event time), never by arrival.
//! Equal times are broken by the content hash so every replay order converges to the same
//! state. Duplicates and stale updates are no-ops; deletes are tombstones with their time,
//! and a deleted parent takes its variants with it.

#![warn(missing_docs)]

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{
    EventData, InventoryAdjusted, ItemDeleted, ItemUpserted, OrderUpserted, StockStatus,
};
use tillbridge_domain::{CatalogItem, Envelope, TenantId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, Update, query_all, update_item};

mod error;
pub mod keys;

pub use error::CatalogError;

/// What applying one event did to the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The newer version was written.
    Applied,
    /// Same content as stored (a redelivery).
    Duplicate,
    /// Older than what is stored.
    Stale,
    /// Recorded only (fetch requests) or not a catalog event.
    Recorded,
    /// Failed validation: not applied, kept with its findings (`rejected#<tenant>`).
    Rejected,
}

/// The stored state of one catalog object: the newest item version, its tombstone if deleted,
/// and its stock (kept apart: stock events arrive on their own clock).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogRecord {
    /// The item as of `version_at` (absent for a stock-only or deleted record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<CatalogItem>,
    /// Version of `item`: (time, content hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_at: Option<Timestamp>,
    /// Content hash of `item`, breaking ties between updates with the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_hash: Option<String>,
    /// Tombstone: deleted at this vendor time; older upserts cannot bring it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// The newest stock reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<Stock>,
}

/// A stock reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "tillbridge_domain::number"
    )]
    /// Quantity on hand (decimal: weighed goods), when the vendor gave one.
    pub quantity: Option<Decimal>,
    /// In stock, out of stock, low — when the vendor reports a status instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StockStatus>,
    /// The vendor time of the reading; older readings lose.
    pub as_of: Timestamp,
}

impl CatalogRecord {
    /// The item as the API shows it: stock newer than the item's own version overrides
    /// its quantity.
    pub fn visible_item(&self) -> Option<CatalogItem> {
        let mut item = self.item.clone()?;
        if let Some(stock) = &self.stock
            && let Some(q) = stock.quantity
            && self.version_at.is_none_or(|v| stock.as_of >= v)
        {
            item.quantity_on_hand = Some(q);
        }
        Some(item)
    }
}

use keys::{catalog_pk as pk, item_sk};

const MAX_ATTEMPTS: usize = 8;

/// Reads a record, lets `f` decide the new one, writes it conditionally; retries on races.
async fn update_record(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
    mut f: impl FnMut(&CatalogRecord) -> Option<(CatalogRecord, ApplyOutcome)>,
    unchanged: ApplyOutcome,
) -> Result<ApplyOutcome, CatalogError> {
    let (pk, sk) = (pk(tenant), item_sk(id));
    update_item(table, &pk, &sk, &[], MAX_ATTEMPTS, |current, _| {
        let record = match current {
            Some(i) => i.doc::<CatalogRecord>()?,
            None => CatalogRecord::default(),
        };
        Ok(match f(&record) {
            None => Update::Done(unchanged),
            Some((next, outcome)) => Update::Put {
                item: Item::with_doc(&pk, &sk, &next)?,
                also: Vec::new(),
                value: outcome,
            },
        })
    })
    .await
}

/// Applies one canonical event to the tenant's catalog.
pub async fn apply(table: &dyn Table, event: &Envelope) -> Result<ApplyOutcome, CatalogError> {
    let tenant = &event.tenant_id;
    match &event.body {
        EventData::CatalogItemUpserted(u) => {
            if !gate(table, tenant, u, event).await? {
                tracing::warn!(tenant = %tenant, event_id = %event.event_id, correlation_id = %event.correlation_id, item = %u.item.external_id, "update rejected by validation");
                return Ok(ApplyOutcome::Rejected);
            }
            upsert(table, tenant, u, event.occurred_at).await
        }
        EventData::CatalogItemDeleted(d) => delete(table, tenant, d).await,
        EventData::InventoryAdjusted(a) => adjust(table, tenant, a).await,
        EventData::OrderUpserted(o) => order(table, tenant, o).await,
        EventData::FetchRequested(f) => {
            // A fetcher (vendor API client) picks these up; keep the newest request per object.
            let (fpk, sk) = keys::fetch(tenant, &f.object_type, f.object_id.as_deref());
            let doc = serde_json::json!({ "request": f, "occurred_at": event.occurred_at, "event_id": event.event_id });
            table
                .put(Item::with_doc(fpk, sk, &doc)?, Condition::Always)
                .await?;
            Ok(ApplyOutcome::Recorded)
        }
        EventData::WebhookQuarantined(_)
        | EventData::AiUsageRecorded(_)
        | EventData::BudgetThresholdCrossed(_)
        | EventData::MigrationValidationRequested(_)
        | EventData::MigrationValidated(_)
        | EventData::MigrationRequested(_)
        | EventData::MigrationMappingSuggested(_)
        | EventData::MigrationMappingApproved(_)
        | EventData::MigrationApplyRequested(_)
        | EventData::MigrationApplied(_)
        | EventData::MigrationRollbackRequested(_)
        | EventData::MigrationRolledBack(_) => Ok(ApplyOutcome::Recorded),
    }
}

/// Rejected updates are kept this long for the operator.
pub const REJECTED_TTL_SECS: i64 = 30 * 24 * 3600;

/// A webhook update that failed validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// The rejected event.
    pub event_id: String,
    /// The item it would have changed.
    pub external_id: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// Why: the validation findings that failed it.
    pub findings: Vec<RejectedFinding>,
}

/// One validation finding of a rejected update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedFinding {
    /// Dotted rule id, e.g. `price.unit_error`.
    pub rule: String,
    /// What is wrong, for the merchant.
    pub message: String,
    /// The suggested fix, when it is clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Rejected updates of a tenant, oldest first.
pub async fn list_rejected(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<Rejected>, CatalogError> {
    query_all(table, &keys::rejected_pk(tenant), "")
        .await?
        .iter()
        .map(|i| i.doc().map_err(CatalogError::from))
        .collect()
}

/// The validation gate: per-item rules, and the new price against the stored one.
async fn gate(
    table: &dyn Table,
    tenant: &TenantId,
    u: &ItemUpserted,
    event: &Envelope,
) -> Result<bool, CatalogError> {
    let previous = match table
        .get(&pk(tenant), &item_sk(&u.item.external_id))
        .await?
    {
        Some(i) => i.doc::<CatalogRecord>()?.item,
        None => None,
    };
    let findings: Vec<RejectedFinding> = tillbridge_validation::validate_update(
        &u.item,
        previous.as_ref(),
        &tillbridge_validation::Options::default(),
    )
    .into_iter()
    .filter(|f| f.severity == tillbridge_validation::Severity::Error)
    .map(|f| RejectedFinding {
        rule: f.rule.as_str().to_owned(),
        message: f.message,
        fix: f.fix,
    })
    .collect();
    if findings.is_empty() {
        return Ok(true);
    }
    let record = Rejected {
        event_id: event.event_id.to_string(),
        external_id: u.item.external_id.clone(),
        received_at: event.received_at,
        findings,
    };
    let sk = keys::rejected_sk(event.received_at, &event.event_id.to_string());
    let item = Item::with_doc(keys::rejected_pk(tenant), sk, &record)?
        .expiring_at(event.received_at.unix_seconds() + REJECTED_TTL_SECS);
    match table.put(item, Condition::IfAbsent).await {
        Ok(_) | Err(PortError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn upsert(
    table: &dyn Table,
    tenant: &TenantId,
    u: &ItemUpserted,
    occurred_at: Timestamp,
) -> Result<ApplyOutcome, CatalogError> {
    let item = &u.item;
    let at = item.updated_at.unwrap_or(occurred_at);
    let hash = item.content_hash();
    let outcome = update_record(
        table,
        tenant,
        &item.external_id,
        |rec| {
            if rec.deleted_at.is_some_and(|d| d >= at) {
                return None;
            }
            if let (Some(v), Some(h)) = (rec.version_at, rec.version_hash.as_deref())
                && (v, h) >= (at, hash.as_str())
            {
                return None;
            }
            let next = CatalogRecord {
                item: Some(item.clone()),
                version_at: Some(at),
                version_hash: Some(hash.clone()),
                deleted_at: None,
                stock: rec.stock.clone(),
            };
            Some((next, ApplyOutcome::Applied))
        },
        ApplyOutcome::Stale,
    )
    .await?;
    let outcome = match outcome {
        ApplyOutcome::Stale if is_same(table, tenant, &item.external_id, &hash).await? => {
            ApplyOutcome::Duplicate
        }
        o => o,
    };
    if outcome == ApplyOutcome::Applied {
        if let Some(parent) = &item.parent_id {
            let sk = keys::child_sk(parent, &item.external_id);
            table
                .put(
                    Item::with_doc(pk(tenant), sk, &item.external_id)?,
                    Condition::Always,
                )
                .await?;
        }
        if let Some(inv) = &u.inventory_item_id {
            table
                .put(
                    Item::with_doc(pk(tenant), keys::alias_sk(inv), &item.external_id)?,
                    Condition::Always,
                )
                .await?;
        }
    }
    Ok(outcome)
}

async fn is_same(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
    hash: &str,
) -> Result<bool, CatalogError> {
    Ok(match table.get(&pk(tenant), &item_sk(id)).await? {
        Some(i) => i.doc::<CatalogRecord>()?.version_hash.as_deref() == Some(hash),
        None => false,
    })
}

async fn delete(
    table: &dyn Table,
    tenant: &TenantId,
    d: &ItemDeleted,
) -> Result<ApplyOutcome, CatalogError> {
    let outcome = tombstone(table, tenant, &d.external_id, d.deleted_at).await?;
    // Variants go with their parent.
    for child in query_all(table, &pk(tenant), &keys::children_prefix(&d.external_id)).await? {
        let id: String = child.doc()?;
        tombstone(table, tenant, &id, d.deleted_at).await?;
    }
    Ok(outcome)
}

async fn tombstone(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
    at: Timestamp,
) -> Result<ApplyOutcome, CatalogError> {
    update_record(
        table,
        tenant,
        id,
        |rec| {
            if rec.deleted_at.is_some_and(|d| d >= at) {
                return None;
            }
            // An update newer than the deletion wins (the item was re-created).
            if rec.version_at.is_some_and(|v| v > at) {
                return None;
            }
            Some((
                CatalogRecord {
                    item: None,
                    deleted_at: Some(at),
                    ..rec.clone()
                },
                ApplyOutcome::Applied,
            ))
        },
        ApplyOutcome::Stale,
    )
    .await
}

async fn adjust(
    table: &dyn Table,
    tenant: &TenantId,
    a: &InventoryAdjusted,
) -> Result<ApplyOutcome, CatalogError> {
    let id = match (&a.external_id, &a.inventory_item_id) {
        (Some(id), _) => id.clone(),
        (None, Some(inv)) => match table.get(&pk(tenant), &keys::alias_sk(inv)).await? {
            Some(alias) => alias.doc()?,
            // The item has not arrived yet: keep the stock under the inventory id until it does.
            None => format!("inventory_item:{inv}"),
        },
        (None, None) => {
            return Err(CatalogError::Permanent(
                "inventory event names no item".into(),
            ));
        }
    };
    update_record(
        table,
        tenant,
        &id,
        |rec| {
            if rec.stock.as_ref().is_some_and(|s| s.as_of >= a.as_of) {
                return None;
            }
            let stock = Stock {
                quantity: a.quantity,
                status: a.stock_status,
                as_of: a.as_of,
            };
            Some((
                CatalogRecord {
                    stock: Some(stock),
                    ..rec.clone()
                },
                ApplyOutcome::Applied,
            ))
        },
        ApplyOutcome::Stale,
    )
    .await
}

async fn order(
    table: &dyn Table,
    tenant: &TenantId,
    o: &OrderUpserted,
) -> Result<ApplyOutcome, CatalogError> {
    let (pk, sk) = keys::order(tenant, &o.order_id);
    update_item(table, &pk, &sk, &[], MAX_ATTEMPTS, |current, _| {
        if let Some(i) = current {
            let stored: OrderUpserted = i.doc()?;
            if (stored.updated_at, stored.version) >= (o.updated_at, o.version) {
                return Ok(Update::Done(if stored == *o {
                    ApplyOutcome::Duplicate
                } else {
                    ApplyOutcome::Stale
                }));
            }
        }
        Ok(Update::Put {
            item: Item::with_doc(&pk, &sk, o)?,
            also: Vec::new(),
            value: ApplyOutcome::Applied,
        })
    })
    .await
}

impl ApplyOutcome {
    /// The counter name (`applied`, `duplicate`, `stale`, `recorded`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Applied => "applied",
            ApplyOutcome::Duplicate => "duplicate",
            ApplyOutcome::Stale => "stale",
            ApplyOutcome::Recorded => "recorded",
            ApplyOutcome::Rejected => "rejected",
        }
    }
}

/// Applies an event, counts the outcome per tenant (`stats#<tenant>` / `catalog`: the outcome,
/// and `<provider>.<outcome>` for vendor events) and logs it with the event's ids — for a stale
/// update with both times (what is stored, what arrived).
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn apply_and_count(
    table: &dyn Table,
    event: &Envelope,
) -> Result<ApplyOutcome, CatalogError> {
    let outcome = apply(table, event).await?;
    let (pk, sk) = keys::stats(&event.tenant_id);
    let per_provider = event.provider.map(|p| format!("{p}.{}", outcome.as_str()));
    let mut deltas = vec![(outcome.as_str(), 1)];
    if let Some(name) = &per_provider {
        deltas.push((name.as_str(), 1));
    }
    table.add(&pk, sk, &deltas).await?;
    log_outcome(table, event, outcome).await;
    Ok(outcome)
}

/// One log line per applied event: applied, tombstoned, duplicate, stale (with the stored and
/// the incoming time), rejected or recorded, with the event and correlation (delivery) ids.
async fn log_outcome(table: &dyn Table, event: &Envelope, outcome: ApplyOutcome) {
    let what = match (outcome, &event.body) {
        (ApplyOutcome::Applied, EventData::CatalogItemDeleted(_)) => "tombstoned",
        _ => outcome.as_str(),
    };
    let provider = event.provider.map(|p| p.as_str()).unwrap_or("-");
    if outcome != ApplyOutcome::Stale {
        tracing::info!(
            tenant = %event.tenant_id, provider, event_id = %event.event_id,
            correlation_id = %event.correlation_id, entity = %event.entity_id,
            event_type = event.event_type().as_str(), outcome = what, "catalog event applied"
        );
        return;
    }
    let stored = match table
        .get(&pk(&event.tenant_id), &item_sk(&event.entity_id))
        .await
        .ok()
        .flatten()
        .and_then(|i| i.doc::<CatalogRecord>().ok())
    {
        Some(r) => r
            .deleted_at
            .or(r.version_at)
            .or(r.stock.map(|s| s.as_of))
            .map(|t| t.to_string()),
        None => None,
    };
    tracing::info!(
        tenant = %event.tenant_id, provider, event_id = %event.event_id,
        correlation_id = %event.correlation_id, entity = %event.entity_id,
        event_type = event.event_type().as_str(), outcome = what,
        stored_at = stored.as_deref().unwrap_or("-"), incoming_at = %event.occurred_at,
        "catalog event older than what is stored; not applied"
    );
}

/// The tenant's catalog outcome counters (`applied`, `stale`, … and `<provider>.<outcome>`),
/// empty before the first event.
///
/// # Errors
/// The table failed.
pub async fn stats(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<serde_json::Map<String, serde_json::Value>, CatalogError> {
    let (pk, sk) = keys::stats(tenant);
    Ok(tillbridge_ports::table::attrs_of(table, &pk, sk).await?)
}

/// The item as currently known, or None when absent or deleted.
pub async fn get_item(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CatalogItem>, CatalogError> {
    match table.get(&pk(tenant), &item_sk(id)).await? {
        Some(i) => Ok(i.doc::<CatalogRecord>()?.visible_item()),
        None => Ok(None),
    }
}

/// Every live item of the tenant, ordered by id.
pub async fn list_items(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<CatalogItem>, CatalogError> {
    let mut out = Vec::new();
    for_each_item(table, tenant, |item| {
        out.push(item);
        Ok::<_, CatalogError>(())
    })
    .await?;
    Ok(out)
}

/// One page of the tenant's live items in id order: at most `limit` items after the item
/// `cursor` (an item id; None: from the start), and the cursor of the next page (None: this was
/// the last). Deleted items are skipped, so a page can hold fewer than `limit`.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn items_page(
    table: &dyn Table,
    tenant: &TenantId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<CatalogItem>, Option<String>), CatalogError> {
    let after = cursor.map(item_sk);
    let page = table
        .query(
            &pk(tenant),
            keys::ITEM_PREFIX,
            after.as_deref(),
            limit.max(1),
        )
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for i in &page.items {
        if let Some(item) = i.doc::<CatalogRecord>()?.visible_item() {
            items.push(item);
        }
    }
    let next = page
        .next
        .as_deref()
        .and_then(keys::item_id)
        .map(str::to_owned);
    Ok((items, next))
}

/// Visits every live item of the tenant in id order, a page at a time (the catalog can be
/// far larger than memory wants to hold twice).
pub async fn for_each_item<E: From<CatalogError>>(
    table: &dyn Table,
    tenant: &TenantId,
    mut f: impl FnMut(CatalogItem) -> Result<(), E>,
) -> Result<(), E> {
    let mut after: Option<String> = None;
    loop {
        let page = table
            .query(&pk(tenant), keys::ITEM_PREFIX, after.as_deref(), 500)
            .await
            .map_err(CatalogError::from)?;
        for i in &page.items {
            let record = i.doc::<CatalogRecord>().map_err(CatalogError::from)?;
            if let Some(item) = record.visible_item() {
                f(item)?;
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}

/// An order as last received.
///
/// # Errors
/// The table failed, or the stored order is corrupt.
pub async fn get_order(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<OrderUpserted>, CatalogError> {
    match table
        .get(&keys::order(tenant, id).0, &keys::order(tenant, id).1)
        .await?
    {
        Some(i) => Ok(Some(i.doc()?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_domain::event::{SCHEMA_VERSION, derive_event_id};
    use tillbridge_domain::{CorrelationId, Currency, Provider};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    fn upsert(at: &str, price: i64) -> Envelope {
        let t = Timestamp::parse_rfc3339(at).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut item = CatalogItem::new("v1");
        item.name = Some("Latte".into());
        item.sku = Some("L1".into());
        item.category = Some("Coffee".into());
        item.price_minor = Some(price);
        item.currency = Some(Currency::USD);
        item.updated_at = Some(t);
        Envelope {
            event_id: derive_event_id(at, 0),
            body: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
            })),
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
            provider: Some(Provider::Shopify),
            entity_id: "v1".into(),
            occurred_at: t,
            received_at: t,
            correlation_id: CorrelationId::parse("d1").unwrap_or_else(|e| panic!("{e}")),
        }
    }

    /// Outcomes are counted per tenant and per provider: a late, older update is stale.
    #[tokio::test]
    async fn outcomes_are_counted_per_provider() {
        let table = MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
        let newer = upsert("2026-01-02T00:00:00Z", 450);
        let older = upsert("2026-01-01T00:00:00Z", 400);
        assert_eq!(
            apply_and_count(&table, &newer).await.ok(),
            Some(ApplyOutcome::Applied)
        );
        assert_eq!(
            apply_and_count(&table, &older).await.ok(),
            Some(ApplyOutcome::Stale)
        );
        let (pk, sk) = keys::stats(&newer.tenant_id);
        let stats = table
            .get(&pk, sk)
            .await
            .ok()
            .flatten()
            .map(|i| i.attrs)
            .unwrap_or_default();
        assert_eq!(stats["applied"], 1);
        assert_eq!(stats["stale"], 1);
        assert_eq!(stats["shopify.applied"], 1);
        assert_eq!(stats["shopify.stale"], 1);
    }
}

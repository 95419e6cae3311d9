//! The tenant's catalog as webhooks keep it: per object the newest version wins.
//!
//! Identity: an item is (tenant, namespace, id) — the namespace is the vendor, or a
//! migration's source name ([`keys`]). Ordering is by the vendor's own time, never by arrival
//! ([`record`]): every arrival order of the same creates, updates, deletes and stock readings
//! (duplicates and late retries included) ends in the state in-order application gives.
//! Deletes are tombstones with their time; a deleted parent takes its variants with it, also
//! the variants that arrive after the delete; a parent's variant listing tombstones the
//! variants it no longer lists, as of its time. Stock is kept per location.

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{EventData, OrderUpserted};
use tillbridge_domain::{Envelope, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, Update, query_all, update_item};

mod error;
pub mod keys;
mod read;
pub mod record;
pub mod watch;
mod write;
pub mod xref;

pub use error::CatalogError;
pub use read::{
    for_each_item, get_item, get_item_in, get_item_with_namespace, items_page, list_items,
    live_items_in,
};
pub use record::{CatalogRecord, Stock};

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

/// The namespace of an event's items: its vendor (`tillbridge` for events without one).
pub fn namespace(event: &Envelope) -> &str {
    event.provider.as_ref().map_or("tillbridge", |p| p.as_str())
}

/// Applies one canonical event to the tenant's catalog.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn apply(table: &dyn Table, event: &Envelope) -> Result<ApplyOutcome, CatalogError> {
    let tenant = &event.tenant_id;
    let ns = namespace(event);
    match &event.body {
        EventData::CatalogItemUpserted(u) => {
            let outcome = write::upsert(table, tenant, ns, u, event).await?;
            if outcome == ApplyOutcome::Rejected {
                tracing::warn!(tenant = %tenant, event_id = %event.event_id, correlation_id = %event.correlation_id, item = %u.item.external_id, "update rejected by validation");
            }
            Ok(outcome)
        }
        EventData::CatalogItemDeleted(d) => write::delete(table, tenant, ns, d).await,
        EventData::InventoryAdjusted(a) => write::adjust(table, tenant, ns, a).await,
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
        | EventData::PrivacyRequested(_)
        | EventData::AiUsageRecorded(_)
        | EventData::BudgetThresholdCrossed(_)
        | EventData::MigrationValidationRequested(_)
        | EventData::MigrationValidated(_)
        | EventData::MigrationRequested(_)
        | EventData::MigrationMappingSuggested(_)
        | EventData::MigrationMappingApproved(_)
        | EventData::MigrationApplyRequested(_)
        | EventData::MigrationApplied(_)
        | EventData::MigrationCutoverRequested(_)
        | EventData::MigrationRollbackRequested(_)
        | EventData::MigrationRolledBack(_)
        | EventData::OperationsAlarmChanged(_) => Ok(ApplyOutcome::Recorded),
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

/// Rejected updates of a tenant, oldest first. An update is listed while the gate rejects it
/// as judged at its own vendor time: a late, older update that changes the verdict of a newer
/// one adds it here or takes it off.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
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

const MAX_ATTEMPTS: usize = 8;

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
    apply_and_mark(table, event)
        .await
        .map(|(outcome, _)| outcome)
}

/// [`apply_and_count`], also telling whether the change was marked for a migration's cutover
/// (its namespace is watched): then the caller asks for the cutover to flow
/// (`migration.cutover.requested`) rather than writing to the destination on the way.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn apply_and_mark(
    table: &dyn Table,
    event: &Envelope,
) -> Result<(ApplyOutcome, bool), CatalogError> {
    let outcome = apply(table, event).await?;
    if let (EventData::CatalogItemUpserted(u), ApplyOutcome::Applied | ApplyOutcome::Duplicate) =
        (&event.body, outcome)
    {
        xref::index(table, &event.tenant_id, namespace(event), &u.item).await?;
    }
    // A watched namespace (a migration's cutover) learns what changed.
    let marked = outcome == ApplyOutcome::Applied && watch::note(table, event).await?;
    tillbridge_ports::metrics::count(
        "ApplyOutcomes",
        &[
            (
                "provider",
                event.provider.as_ref().map_or("none", |p| p.as_str()),
            ),
            ("outcome", outcome.as_str()),
        ],
        Some(event.tenant_id.as_str()),
        1,
    );
    let (pk, sk) = keys::stats(&event.tenant_id);
    let per_provider = event.provider.map(|p| format!("{p}.{}", outcome.as_str()));
    let mut deltas = vec![(outcome.as_str(), 1)];
    if let Some(name) = &per_provider {
        deltas.push((name.as_str(), 1));
    }
    // Sharded by the event: one busy tenant's counters spread over several partitions.
    let shard_key = event.event_id.to_string();
    tillbridge_ports::table::add_sharded(table, &pk, sk, &shard_key, &deltas).await?;
    tillbridge_ports::table::add_hourly(
        table,
        &keys::stats_hourly_pk(&event.tenant_id),
        "catalog",
        event.received_at,
        &shard_key,
        &deltas,
    )
    .await?;
    record_outcome(table, event, outcome).await;
    log_outcome(table, event, outcome).await;
    Ok((outcome, marked))
}

/// How long an event's apply outcome is kept (as its delivery's story).
pub const OUTCOME_TTL_SECS: i64 = 7 * 24 * 3600;

/// Keeps what applying `event` did, for its delivery's story; best effort (the apply itself
/// is done and counted).
async fn record_outcome(table: &dyn Table, event: &Envelope, outcome: ApplyOutcome) {
    let (pk, sk) = keys::event_outcome(&event.tenant_id, event.event_id.as_str());
    let what = match (outcome, &event.body) {
        (ApplyOutcome::Applied, EventData::CatalogItemDeleted(_)) => "tombstoned",
        _ => outcome.as_str(),
    };
    let mut attrs = serde_json::Map::new();
    attrs.insert("outcome".into(), serde_json::json!(what));
    attrs.insert("entity".into(), serde_json::json!(event.entity_id));
    attrs.insert("vendor_time".into(), serde_json::json!(event.occurred_at));
    let item =
        Item::new(pk, sk, attrs).expiring_at(event.received_at.unix_seconds() + OUTCOME_TTL_SECS);
    if let Err(e) = table.put(item, Condition::Always).await {
        tracing::warn!(tenant = %event.tenant_id, event_id = %event.event_id, error = %e, "could not record the apply outcome");
    }
}

/// What applying one event did (`applied`, `tombstoned`, `stale`, `duplicate`, `rejected`,
/// `recorded`), with its entity and vendor time; None before it was applied or after 7 days.
///
/// # Errors
/// The table failed.
pub async fn event_outcome(
    table: &dyn Table,
    tenant: &TenantId,
    event_id: &str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, CatalogError> {
    let (pk, sk) = keys::event_outcome(tenant, event_id);
    Ok(table.get(&pk, sk).await?.map(|i| i.attrs))
}

/// One log line per applied event: applied, tombstoned, duplicate, stale (with the stored and
/// the incoming time), rejected or recorded, with the event and correlation (delivery) ids.
async fn log_outcome(table: &dyn Table, event: &Envelope, outcome: ApplyOutcome) {
    let what = match (outcome, &event.body) {
        (ApplyOutcome::Applied, EventData::CatalogItemDeleted(_)) => "tombstoned",
        _ => outcome.as_str(),
    };
    let provider = event.provider.as_ref().map_or("-", |p| p.as_str());
    let vendor_delivery_id = event.delivery_key.as_deref().unwrap_or("-");
    if outcome != ApplyOutcome::Stale {
        tracing::info!(
            tenant = %event.tenant_id, provider, vendor_delivery_id, event_id = %event.event_id,
            correlation_id = %event.correlation_id, entity = %event.entity_id,
            event_type = event.event_type().as_str(), outcome = what, "catalog event applied"
        );
        return;
    }
    let stored = match read::record(table, &event.tenant_id, namespace(event), &event.entity_id)
        .await
        .ok()
        .flatten()
    {
        Some(r) => r
            .deleted_at
            .or(r.version_at)
            .or(r.stock_by_location.values().map(|s| s.as_of).max())
            .map(|t| t.to_string()),
        None => None,
    };
    tracing::info!(
        tenant = %event.tenant_id, provider, vendor_delivery_id, event_id = %event.event_id,
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
    Ok(tillbridge_ports::table::sum_sharded(table, &pk, sk).await?)
}

/// The newest "changed, fetch it" request per object (thin webhooks), oldest object first:
/// `{request: {object_type, object_id, change, vendor_event}, occurred_at, event_id}` each.
/// A vendor with API credentials fetches them on its own; the others wait here for an operator.
///
/// # Errors
/// The table failed.
pub async fn fetch_requests(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<serde_json::Value>, CatalogError> {
    let (pk, _) = keys::fetch(tenant, "", None);
    Ok(tillbridge_ports::table::query_all(table, &pk, "")
        .await?
        .into_iter()
        .filter_map(|i| i.attrs.get("doc").cloned())
        .collect())
}

/// The tenant's catalog outcome counters over the hours (of receipt) from `from`'s to `to`'s,
/// both included.
///
/// # Errors
/// The table failed.
pub async fn stats_between(
    table: &dyn Table,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<serde_json::Map<String, serde_json::Value>, CatalogError> {
    Ok(tillbridge_ports::table::sum_hourly(
        table,
        &keys::stats_hourly_pk(tenant),
        "catalog",
        from,
        to,
    )
    .await?)
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
    let (pk, sk) = keys::order(tenant, id);
    match table.get(&pk, &sk).await? {
        Some(i) => Ok(Some(i.doc()?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_domain::CatalogItem;
    use tillbridge_domain::event::{ItemUpserted, SCHEMA_VERSION, derive_event_id};
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
                parent_variants: None,
                product_variants: None,
            })),
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
            provider: Some(Provider::Shopify),
            entity_id: "v1".into(),
            occurred_at: t,
            received_at: t,
            correlation_id: CorrelationId::parse("d1").unwrap_or_else(|e| panic!("{e}")),
            delivery_key: None,
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
        let stats = stats(&table, &newer.tenant_id).await.unwrap_or_default();
        assert_eq!(stats["applied"], 1);
        assert_eq!(stats["stale"], 1);
        assert_eq!(stats["shopify.applied"], 1);
        assert_eq!(stats["shopify.stale"], 1);
    }
}

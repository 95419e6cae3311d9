//! Quarantine: deliveries that are forged or cannot be understood. Kept (raw body in the
//! blob store, a record in the table) with the reason, never retried, listable per tenant.

use serde::{Deserialize, Serialize};
use tillbridge_domain::{DeliveryId, Provider, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, query_all};
use tillbridge_ports::{BlobStore, PortError};

use crate::{SyncError, keys};

/// Raw payloads and quarantine records expire after 30 days (retention).
pub const QUARANTINE_TTL_SECS: i64 = 30 * 24 * 3600;

/// A delivery that was forged or could not be understood, kept with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// Our delivery id.
    pub delivery_id: DeliveryId,
    /// The vendor the request claimed to come from.
    pub provider: Provider,
    /// Why it was quarantined, for the operator (never the secret or the body).
    pub reason: String,
    /// When the ingress accepted it.
    pub received_at: Timestamp,
    /// Where the raw body is kept (30 days), for inspection and replay.
    pub blob_key: String,
}

/// The blob key of a quarantined delivery's raw body.
pub fn blob_key(tenant: &TenantId, delivery_id: &DeliveryId) -> String {
    keys::quarantine_blob(tenant, delivery_id)
}

/// Stores the raw body and the record. Idempotent per delivery id.
pub async fn put(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    record: &QuarantineRecord,
    raw: &[u8],
) -> Result<(), SyncError> {
    blobs.put(&record.blob_key, raw).await?;
    let sk = keys::quarantine_sk(record.received_at, &record.delivery_id);
    let item = Item::with_doc(keys::quarantine_pk(tenant), sk, record)?
        .expiring_at(record.received_at.unix_seconds() + QUARANTINE_TTL_SECS);
    match table.put(item, Condition::IfAbsent).await {
        Ok(_) | Err(PortError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Quarantined deliveries of a tenant, oldest first.
pub async fn list(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<QuarantineRecord>, SyncError> {
    query_all(table, &keys::quarantine_pk(tenant), "")
        .await?
        .iter()
        .map(|i| i.doc().map_err(SyncError::from))
        .collect()
}

/// One quarantined delivery by our delivery id, with its stored raw body (None when there is
/// no such delivery; the body is empty once its blob expired).
///
/// # Errors
/// The table or the blob store failed, or a record is corrupt.
pub async fn get(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    delivery_id: &str,
) -> Result<Option<(QuarantineRecord, Vec<u8>)>, SyncError> {
    let Some(record) = list(table, tenant)
        .await?
        .into_iter()
        .find(|r| r.delivery_id.as_str() == delivery_id)
    else {
        return Ok(None);
    };
    let body = blobs.get(&record.blob_key).await?.unwrap_or_default();
    Ok(Some((record, body)))
}

//! Quarantine: deliveries that are forged or cannot be understood. Kept (raw body in the
//! blob store, a record in the table) with the reason, never retried, listable per tenant.

use serde::{Deserialize, Serialize};
use tillbridge_domain::{DeliveryId, Provider, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, query_all};
use tillbridge_ports::{BlobStore, PortError};

use tillbridge_ports::Queue;
use tillbridge_webhooks::{Headers, identity};

use crate::inbound::{InboundBody, InboundDelivery};
use crate::signature_check::ClaimState;
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
    /// The request headers as the ingress passed them on (credentials already dropped), so a
    /// replay verifies exactly what arrived. Absent on records kept before replays existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
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

/// One page of a tenant's quarantine, oldest first: at most `limit` records after the sort
/// key `after`, and the sort key to continue after (None on the last page).
///
/// # Errors
/// The table failed, or a record is corrupt.
pub async fn page(
    table: &dyn Table,
    tenant: &TenantId,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<QuarantineRecord>, Option<String>), SyncError> {
    let page = table
        .query(&keys::quarantine_pk(tenant), "", after, limit.max(1))
        .await?;
    let records = page
        .items
        .iter()
        .map(|i| i.doc().map_err(SyncError::from))
        .collect::<Result<Vec<QuarantineRecord>, _>>()?;
    // A full page may be the last one: only say "more" when the table does.
    let next = page.next.and(page.items.last().map(|i| i.sk.clone()));
    Ok((records, next))
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

/// What [`replay`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Queued for the signature check again (with the tenant's secrets as they are now).
    Queued(DeliveryId),
    /// No quarantined delivery has this id.
    NotFound,
    /// Kept before headers were stored with quarantined deliveries: it cannot be verified again.
    NoHeaders,
    /// Its raw body expired (30 days).
    BodyExpired,
}

/// Sends a quarantined delivery through the signature check again — after a secret was fixed,
/// a tenant configured, a provider enabled. The same request (same delivery id, headers, body
/// and receive time) goes on the inbound queue; the idempotency record that ended it as
/// quarantined is released first, so the check runs afresh. Idempotent: once a replay was
/// published, replaying again is a duplicate.
///
/// # Errors
/// The table, blob store or queue failed.
pub async fn replay(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    inbound: &dyn Queue,
    tenant: &TenantId,
    delivery_id: &str,
) -> Result<Replay, SyncError> {
    let Some((record, body)) = get(table, blobs, tenant, delivery_id).await? else {
        return Ok(Replay::NotFound);
    };
    let Some(headers) = record.headers.clone() else {
        return Ok(Replay::NoHeaders);
    };
    if body.is_empty() && blobs.get(&record.blob_key).await?.is_none() {
        return Ok(Replay::BodyExpired);
    }
    let key = identity::delivery_key(record.provider, &headers, &body);
    let (pk, sk) = (
        keys::idempotency_pk(tenant),
        keys::idempotency_sk(record.provider, &key),
    );
    if let Some(claim) = table.get(&pk, &sk).await? {
        let done = claim.attrs.get("state") == Some(&serde_json::json!(ClaimState::Done));
        let quarantined = claim.attrs.get("outcome") == Some(&serde_json::json!("quarantined"));
        if done && quarantined {
            match table
                .delete(&pk, &sk, Condition::IfVersion(claim.version))
                .await
            {
                Ok(()) | Err(PortError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let day = record.received_at.to_string();
    let blob = keys::raw_body_blob(
        tenant,
        day.get(..10).unwrap_or("undated"),
        &record.delivery_id,
    );
    let delivery = InboundDelivery {
        delivery_id: record.delivery_id.clone(),
        tenant_id: tenant.clone(),
        provider: record.provider,
        received_at: record.received_at,
        correlation_id: tillbridge_domain::CorrelationId::from(&record.delivery_id),
        headers,
        body: InboundBody::store(blobs, &blob, &body).await?,
    };
    let message = serde_json::to_string(&delivery)
        .map_err(|e| SyncError::Permanent(format!("delivery does not serialize: {e}")))?;
    inbound.send(&message).await?;
    Ok(Replay::Queued(record.delivery_id))
}

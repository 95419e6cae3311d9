//! Sync: the webhook path. Ingress (cheap checks, the raw request stored before the 202),
//! the inbound queue message, the signature check (verify, drop duplicates, normalize,
//! publish) and quarantine. The catalog the events land in is `tillbridge-catalog`.
//! Storage layout: [`keys`].

#![warn(missing_docs)]

pub mod deliveries;
mod error;
pub mod inbound;
pub mod ingress;
pub mod keys;
pub mod quarantine;
pub mod signature_check;
pub mod trail;

pub use error::SyncError;

use tillbridge_domain::TenantId;
use tillbridge_ports::Table;

/// The timestamp tolerance of a profile vendor: the tenant's explicit setting, else the
/// profile's documented one, else the default (seconds).
pub(crate) fn profile_tolerance(
    tenant: &tillbridge_ports::TenantConfig,
    provider: tillbridge_domain::Provider,
    profile: &tillbridge_profiles::Profile,
) -> i64 {
    tenant
        .providers
        .get(&provider)
        .and_then(|c| c.tolerance_secs)
        .or(profile.tolerance_secs())
        .unwrap_or(tillbridge_domain::secret::DEFAULT_TOLERANCE_SECS)
}

/// A tenant's webhook counters (`published`, `duplicates`, `quarantined`, `unhandled`), empty
/// before the first delivery.
///
/// # Errors
/// The table failed, retryable or not.
pub async fn stats(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<serde_json::Map<String, serde_json::Value>, SyncError> {
    let (pk, sk) = keys::stats(tenant);
    Ok(tillbridge_ports::table::sum_sharded(table, &pk, sk).await?)
}

/// A tenant's webhook counters over the hours from `from`'s to `to`'s (both included), and
/// per provider (`shopify.published`).
///
/// # Errors
/// The table failed.
pub async fn stats_between(
    table: &dyn Table,
    tenant: &TenantId,
    from: tillbridge_domain::Timestamp,
    to: tillbridge_domain::Timestamp,
) -> Result<serde_json::Map<String, serde_json::Value>, SyncError> {
    Ok(tillbridge_ports::table::sum_hourly(
        table,
        &keys::stats_hourly_pk(tenant),
        "webhooks",
        from,
        to,
    )
    .await?)
}

/// What became of a vendor's delivery, looked up by the vendor's own delivery id (Shopify's
/// `X-Shopify-Webhook-Id`, Square's `event_id`, …): `state` (`in_progress` or `done`), the
/// `outcome` once done (`published`, `quarantined`, `unhandled`) and our `delivery_id`. None
/// when no delivery with that id arrived in the idempotency window (7 days).
///
/// # Errors
/// The table failed.
pub async fn delivery_status(
    table: &dyn Table,
    tenant: &TenantId,
    provider: tillbridge_domain::Provider,
    vendor_delivery_id: &str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, SyncError> {
    let key = format!("id:{vendor_delivery_id}");
    let item = table
        .get(
            &keys::idempotency_pk(tenant),
            &keys::idempotency_sk(provider, &key),
        )
        .await?;
    Ok(item.map(|i| {
        let mut out = i.attrs;
        out.remove("locked_until");
        out
    }))
}

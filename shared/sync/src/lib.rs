//! Sync: the webhook path. Ingress (cheap checks, the raw request stored before the 202),
//! the inbound queue message, the signature check (verify, drop duplicates, normalize,
//! publish) and quarantine. The catalog the events land in is `tillbridge-catalog`.
//! Storage layout: [`keys`].

#![warn(missing_docs)]

mod error;
pub mod inbound;
pub mod ingress;
pub mod keys;
pub mod quarantine;
pub mod signature_check;

pub use error::SyncError;

use tillbridge_domain::TenantId;
use tillbridge_ports::Table;

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
    Ok(table
        .get(&pk, sk)
        .await?
        .map(|i| i.attrs)
        .unwrap_or_default())
}

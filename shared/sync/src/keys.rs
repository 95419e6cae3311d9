//! The sync context's storage layout; no other module builds these keys.
//!
//! Table (partition → sort key):
//! - `idem#<tenant>` → `<provider>#<delivery key>`: idempotency records (TTL 7 days)
//! - `quarantine#<tenant>` → `<received nanos, 20 digits>#<delivery id>`: quarantined
//!   deliveries (TTL 30 days)
//! - `trail#<tenant>#<delivery id>` → `<nanos, 20 digits>#<step>`: a delivery's story (TTL 7
//!   days)
//! - `deliveries#<tenant>#<YYYY-MM-DDTHH>#<shard>` → `<delivery id>`: the delivery log, one
//!   receipt per delivery, also the story's `received` step (TTL 7 days; built in
//!   [`crate::deliveries`])
//! - `stats-hourly#<tenant>` → `<YYYY-MM-DDTHH>#webhooks`: the same counters per hour (the
//!   catalog context keeps `<hour>#catalog` beside them)
//! - `handshake#<tenant>` → `<provider>`: vendor setup requests (Clover verification code)
//! - `stats#<tenant>` → `webhooks`: counters; `unhandled#<provider>#<vendor event>`: event types
//!   received but not handled (a count each)
//!
//! Blobs: `raw/<tenant>/<YYYY-MM-DD>/<delivery id>` (claim-check bodies), `quarantine/<tenant>/<delivery
//! id>` (raw bodies of quarantined deliveries).

use tillbridge_domain::{DeliveryId, Provider, TenantId, Timestamp};

/// Partition of a tenant's idempotency records.
pub fn idempotency_pk(tenant: &TenantId) -> String {
    format!("idem#{tenant}")
}

/// Sort key of one vendor delivery's idempotency record.
pub fn idempotency_sk(provider: Provider, delivery_key: &str) -> String {
    format!("{provider}#{delivery_key}")
}

/// Partition of a tenant's quarantine.
pub fn quarantine_pk(tenant: &TenantId) -> String {
    format!("quarantine#{tenant}")
}

/// Sort key of a quarantined delivery: received time first, so a query lists oldest first.
pub fn quarantine_sk(received_at: Timestamp, delivery_id: &DeliveryId) -> String {
    format!("{:020}#{delivery_id}", received_at.unix_nanos().max(0))
}

/// Blob of a quarantined delivery's raw body.
pub fn quarantine_blob(tenant: &TenantId, delivery_id: &DeliveryId) -> String {
    format!("quarantine/{tenant}/{delivery_id}")
}

/// Blob of a claim-checked request body, by day received.
pub fn raw_body_blob(tenant: &TenantId, day: &str, delivery_id: &DeliveryId) -> String {
    format!("raw/{tenant}/{day}/{delivery_id}")
}

/// Partition of a tenant's vendor handshakes (sort key: the provider).
pub fn handshake_pk(tenant: &TenantId) -> String {
    format!("handshake#{tenant}")
}

/// Partition and sort key of a tenant's webhook counters.
pub fn stats(tenant: &TenantId) -> (String, &'static str) {
    (format!("stats#{tenant}"), "webhooks")
}

/// Sort key (under [`stats`]' partition) counting one vendor event type we do not handle.
pub fn unhandled_sk(provider: Provider, vendor_event: &str) -> String {
    format!("unhandled#{provider}#{vendor_event}")
}

/// Partition of one delivery's story.
pub fn trail_pk(tenant: &TenantId, delivery_id: &DeliveryId) -> String {
    format!("trail#{tenant}#{delivery_id}")
}

/// Sort key of one step: time first, so a query reads the story in order.
pub fn trail_sk(at: Timestamp, step: &str) -> String {
    format!("{:020}#{step}", at.unix_nanos().max(0))
}

/// Partition of a tenant's hourly counters (shared with the catalog context's hourly outcome
/// counters; the kinds differ).
pub fn stats_hourly_pk(tenant: &TenantId) -> String {
    format!("stats-hourly#{tenant}")
}

//! A delivery's story, step by step: `received` (ingress), then one of `published` (with the
//! canonical events it became), `duplicate`, `quarantined` (with the reason), `unhandled`, and
//! `replayed` when an operator sent it through the signature check again. The catalog apply
//! stage records each event's outcome on its side (`tillbridge_catalog::event_outcome`), so
//! `GET /v1/tenants/{t}/deliveries/{id}` tells the whole story. Kept as long as the
//! idempotency records ([`TRAIL_TTL_SECS`]).

use serde_json::{Map, Value, json};
use tillbridge_domain::{DeliveryId, TenantId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, query_all};

use crate::keys;

/// How long a delivery's story is kept: 7 days, as its idempotency record.
pub const TRAIL_TTL_SECS: i64 = 7 * 24 * 3600;

/// Records one step of a delivery's story; `detail` (an object) adds what the step knows.
///
/// # Errors
/// The table failed.
pub async fn record(
    table: &dyn Table,
    tenant: &TenantId,
    delivery_id: &DeliveryId,
    at: Timestamp,
    step: &str,
    detail: Value,
) -> Result<(), PortError> {
    let mut attrs = match detail {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    attrs.insert("step".into(), json!(step));
    attrs.insert("at".into(), json!(at));
    let item = Item::new(
        keys::trail_pk(tenant, delivery_id),
        keys::trail_sk(at, step),
        attrs,
    )
    .expiring_at(at.unix_seconds() + TRAIL_TTL_SECS);
    table.put(item, Condition::Always).await?;
    Ok(())
}

/// A delivery's steps, oldest first (empty when unknown or expired): its receipt (the
/// delivery log's index item, [`crate::deliveries`]), then the steps recorded here.
///
/// # Errors
/// The table failed.
pub async fn history(
    table: &dyn Table,
    tenant: &TenantId,
    delivery_id: &DeliveryId,
) -> Result<Vec<Map<String, Value>>, PortError> {
    let mut steps: Vec<Map<String, Value>> = crate::deliveries::receipt(table, tenant, delivery_id)
        .await?
        .into_iter()
        .collect();
    steps.extend(recorded(table, tenant, delivery_id).await?);
    Ok(steps)
}

/// The steps recorded after the receipt (everything of [`history`] but its first step, for
/// a caller that read the receipt already), oldest first.
///
/// # Errors
/// The table failed.
pub async fn recorded(
    table: &dyn Table,
    tenant: &TenantId,
    delivery_id: &DeliveryId,
) -> Result<Vec<Map<String, Value>>, PortError> {
    Ok(query_all(table, &keys::trail_pk(tenant, delivery_id), "")
        .await?
        .into_iter()
        .map(|i| i.attrs)
        .collect())
}

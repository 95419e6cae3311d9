//! BigCommerce webhooks.
//!
//! Signature (bigcommerce/docs `docs/integrations/webhooks/https-webhook-overview.mdx`): the
//! Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`
//! over `id.timestamp.body`), keyed with the app's client secret bytes as they are.
//! Delivery identity: `webhook-id`.
//!
//! Normalizer: BigCommerce: thin callbacks `{scope, data: {type, id}, created_at}`. Deletions are
//! complete; absolute inventory updates carry the value; everything else needs a fetch.

use serde_json::Value;
use tillbridge_domain::event::{Change, EventData, FetchRequested, InventoryAdjusted, ItemDeleted};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::SignOptions;
use crate::signature::{Secret, Verified, VerifyError, VerifyOptions, verified};
use crate::vendors::standard_webhooks;
use crate::vendors::{Vendor, parse_json};

/// BigCommerce in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify,
    precheck: |headers, _, now, tolerance| precheck(headers, now, tolerance),
    delivery_id: |headers, _| delivery_id(headers),
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign: |secret, body, opts| Ok(sign(secret, body, opts)),
};

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    opts: &VerifyOptions<'_>,
) -> Result<Verified, VerifyError> {
    // BigCommerce's HMAC key is the client secret's own bytes (its sample code
    // base64-encodes the secret only for the library to decode it again).
    let keys: Vec<Vec<u8>> = secrets.iter().map(|s| s.expose().to_vec()).collect();
    standard_webhooks::verify_with_keys(headers, body, &keys, opts, &["webhook"])
        .map(|i| verified("bigcommerce-standard-webhooks", i))
}

/// Precheck: the Standard Webhooks headers (`webhook-*` only).
pub(crate) fn precheck(
    headers: &Headers,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<Precheck, VerifyError> {
    standard_webhooks::precheck_headers(headers, false, now_unix, tolerance_secs)
}

/// Delivery identity: `webhook-id`.
pub(crate) fn delivery_id(headers: &Headers) -> Option<String> {
    headers.get("webhook-id").map(str::to_owned)
}

/// Standard Webhooks headers keyed with the client secret's own bytes.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8], opts: &SignOptions<'_>) -> Vec<(String, String)> {
    standard_webhooks::sign_with_key(secret, body, opts)
}

// ---- normalizer ----

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let scope = text(json, "scope").ok_or_else(|| malformed("no \"scope\""))?;
    let data = json.get("data").ok_or_else(|| malformed("no \"data\""))?;
    let id = required_id(data, "id", "callback data")?;
    let at = time(json, "created_at").unwrap_or(ctx.received_at);
    let parts: Vec<&str> = scope.split('/').collect();
    let event = |data: EventData| NormalizedEvent {
        data,
        entity_id: id.clone(),
        occurred_at: at,
        dedupe_key: None,
    };
    let fetch = |object_type: &str, change: Change| {
        event(EventData::FetchRequested(FetchRequested {
            object_type: object_type.to_owned(),
            object_id: Some(id.clone()),
            change,
            vendor_event: scope.clone(),
        }))
    };
    let ev = match parts.as_slice() {
        ["store", kind @ ("product" | "sku"), "deleted"] => {
            let _ = kind;
            event(EventData::CatalogItemDeleted(ItemDeleted {
                external_id: id.clone(),
                deleted_at: at,
            }))
        }
        ["store", kind @ ("product" | "sku"), "inventory", "updated"] => {
            let inv = data.get("inventory");
            let absolute = inv
                .and_then(|i| text(i, "method"))
                .is_some_and(|m| m == "absolute");
            match (absolute, inv.and_then(|i| decimal(i, "value"))) {
                (true, Some(q)) => event(EventData::InventoryAdjusted(InventoryAdjusted {
                    external_id: Some(id.clone()),
                    inventory_item_id: None,
                    location_id: None,
                    quantity: Some(q),
                    stock_status: None,
                    as_of: at,
                })),
                _ => fetch(kind, Change::Updated),
            }
        }
        ["store", kind @ ("product" | "sku"), rest @ ..] => {
            let change = if rest.first() == Some(&"created") {
                Change::Created
            } else {
                Change::Updated
            };
            fetch(kind, change)
        }
        ["store", "order", rest @ ..] => {
            let change = match rest.first() {
                Some(&"created") => Change::Created,
                Some(&"archived") => Change::Deleted,
                _ => Change::Updated,
            };
            fetch("order", change)
        }
        _ => return Ok(Normalized::unhandled(scope)),
    };
    Ok(Normalized::handled(scope.clone(), vec![ev]))
}

//! Toast webhooks.
//!
//! Signature (<https://doc.toasttab.com/doc/devguide/apiMessageSigning.html>): header
//! `Toast-Signature`, base64 of HMAC-SHA256 keyed with the webhook secret over the raw body
//! followed by the envelope's `timestamp` string, no separator. Delivery identity: the
//! envelope's `guid` (<https://doc.toasttab.com/doc/devguide/apiMessageDataSchema.html>).
//!
//! Normalizer: Toast: `menus_updated` (fetch the menu) and stock events (`in_stock`, `out_of_stock`,
//! `low_quantity`).

#[cfg(feature = "signing")]
use base64::Engine as _;
use serde_json::Value;
use tillbridge_domain::event::{Change, EventData, FetchRequested, InventoryAdjusted, StockStatus};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::hmac_sha256;
#[cfg(feature = "signing")]
use crate::signature::B64;
use crate::signature::{
    Secret, Verified, VerifyError, b64_header, decode_b64, hmac_sha256_any, require, verified,
};
use crate::vendors::{Vendor, parse_json};
use rust_decimal::Decimal;

/// Toast in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify: |headers, body, secrets, _| verify(headers, body, secrets),
    precheck: |headers, _, _, _| precheck(headers),
    delivery_id: |_, body| delivery_id(body),
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign: |secret, body, _| sign(secret, body),
};

/// A top-level string field of a JSON object body, as its exact decoded value.
pub(crate) fn json_string_field(body: &[u8], field: &str) -> Result<String, VerifyError> {
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| VerifyError::MalformedBody(format!("not a JSON object: {e}")))?;
    match v.get(field) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(VerifyError::MalformedBody(format!(
            "\"{field}\" is not a string"
        ))),
        None => Err(VerifyError::MalformedBody(format!("no \"{field}\" field"))),
    }
}

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
) -> Result<Verified, VerifyError> {
    let sig = b64_header(headers, "toast-signature")?;
    // Toast signs body + the envelope's `timestamp` string, with no separator.
    let timestamp = json_string_field(body, "timestamp")?;
    hmac_sha256_any(
        secrets.iter().map(|s| s.expose().to_vec()),
        &[body, timestamp.as_bytes()],
        &[sig],
    )
    .map(|i| verified("toast-hmac-sha256", i))
    .ok_or(VerifyError::Mismatch(
        "HMAC-SHA256 of body + envelope timestamp",
    ))
}

/// Precheck: `Toast-Signature` is present and base64.
pub(crate) fn precheck(headers: &Headers) -> Result<Precheck, VerifyError> {
    decode_b64("toast-signature", require(headers, "toast-signature")?)?;
    Ok(Precheck::Signed)
}

/// Delivery identity: the envelope's `guid`.
pub(crate) fn delivery_id(body: &[u8]) -> Option<String> {
    crate::identity::json_str(body, "guid")
}

/// `Toast-Signature`: base64 HMAC-SHA256 of body + the envelope's `timestamp` string.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> Result<Vec<(String, String)>, VerifyError> {
    let timestamp = json_string_field(body, "timestamp")?;
    Ok(vec![(
        "Toast-Signature".into(),
        B64.encode(hmac_sha256(secret, &[body, timestamp.as_bytes()])),
    )])
}

// ---- normalizer ----

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let kind = text(json, "eventType").ok_or_else(|| malformed("no \"eventType\""))?;
    // Toast's timestamp is signed but documented loosely; fall back to our receive time.
    let at = time(json, "timestamp").unwrap_or(ctx.received_at);
    let details = json.get("details").unwrap_or(&Value::Null);
    match kind.as_str() {
        "menus_updated" => {
            let restaurant = text(details, "restaurantGuid");
            Ok(Normalized::handled(
                kind.clone(),
                vec![NormalizedEvent {
                    data: EventData::FetchRequested(FetchRequested {
                        object_type: "menu".into(),
                        object_id: restaurant.clone(),
                        change: Change::Updated,
                        vendor_event: kind,
                    }),
                    entity_id: restaurant.unwrap_or_else(|| "menu".into()),
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        "in_stock" | "out_of_stock" | "low_quantity" => {
            let item = required_id(details, "itemGuid", "stock event")?;
            let status = match kind.as_str() {
                "in_stock" => StockStatus::InStock,
                "out_of_stock" => StockStatus::OutOfStock,
                _ => StockStatus::LowQuantity,
            };
            let quantity = match status {
                StockStatus::OutOfStock => Some(Decimal::ZERO),
                _ => decimal(details, "quantity"),
            };
            Ok(Normalized::handled(
                kind,
                vec![NormalizedEvent {
                    data: EventData::InventoryAdjusted(InventoryAdjusted {
                        external_id: Some(item.clone()),
                        inventory_item_id: None,
                        location_id: text(details, "restaurantGuid"),
                        quantity,
                        stock_status: Some(status),
                        as_of: at,
                    }),
                    entity_id: item,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        _ => Ok(Normalized::unhandled(kind)),
    }
}

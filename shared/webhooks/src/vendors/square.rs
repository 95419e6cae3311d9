//! Square webhooks.
//!
//! Signature (<https://developer.squareup.com/docs/webhooks/step3validate>): header
//! `x-square-hmacsha256-signature`, base64 of HMAC-SHA256 keyed with the subscription's
//! signature key over the notification URL (exactly as subscribed) followed by the raw body.
//! Older subscriptions send `x-square-signature`: base64 HMAC-SHA1 over the same bytes.
//! No signed timestamp. Delivery identity: the body's `event_id`
//! (<https://developer.squareup.com/docs/webhooks/step4manage>).
//!
//! Normalizer: Square: inventory.count.updated, order.created/updated, catalog.version.updated.

#[cfg(feature = "signing")]
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use tillbridge_domain::event::{
    Change, EventData, FetchRequested, InventoryAdjusted, OrderUpserted, StockStatus,
};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::{SignOptions, hmac_sha256};
#[cfg(feature = "signing")]
use crate::signature::B64;
use crate::signature::{
    Secret, Verified, VerifyError, VerifyOptions, b64_header, decode_b64, hmac_sha256_any, require,
    verified,
};
use crate::vendors::{Vendor, parse_json};

/// Square in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify,
    precheck: |headers, _, _, _| precheck(headers),
    delivery_id: |_, body| delivery_id(body),
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign,
};

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    opts: &VerifyOptions<'_>,
) -> Result<Verified, VerifyError> {
    let url = opts
        .url
        .filter(|u| !u.is_empty())
        .ok_or(VerifyError::MissingUrl("square"))?;
    if headers.get("x-square-hmacsha256-signature").is_none()
        && let Some(legacy) = headers.get("x-square-signature").filter(|v| !v.is_empty())
    {
        // Older subscriptions: HMAC-SHA1 over URL + body.
        let sig = decode_b64("x-square-signature", legacy)?;
        for (i, s) in secrets.iter().enumerate() {
            let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(s.expose()) else {
                continue;
            };
            mac.update(url.as_bytes());
            mac.update(body);
            if mac.verify_slice(&sig).is_ok() {
                return Ok(verified("square-hmac-sha1-legacy", i));
            }
        }
        return Err(VerifyError::Mismatch(
            "legacy HMAC-SHA1 of notification URL + body",
        ));
    }
    let sig = b64_header(headers, "x-square-hmacsha256-signature")?;
    hmac_sha256_any(
        secrets.iter().map(|s| s.expose().to_vec()),
        &[url.as_bytes(), body],
        &[sig],
    )
    .map(|i| verified("square-hmac-sha256", i))
    .ok_or(VerifyError::Mismatch(
        "HMAC-SHA256 of notification URL + body; is the URL exactly the subscription's?",
    ))
}

/// Precheck: `x-square-hmacsha256-signature` (or the legacy `x-square-signature`) is base64.
pub(crate) fn precheck(headers: &Headers) -> Result<Precheck, VerifyError> {
    match headers
        .get("x-square-hmacsha256-signature")
        .filter(|v| !v.is_empty())
    {
        Some(v) => decode_b64("x-square-hmacsha256-signature", v)?,
        None => decode_b64(
            "x-square-signature",
            require(headers, "x-square-signature")
                .map_err(|_| VerifyError::MissingHeader("x-square-hmacsha256-signature"))?,
        )?,
    };
    Ok(Precheck::Signed)
}

/// Delivery identity: the body's `event_id` (the same on every retry).
pub(crate) fn delivery_id(body: &[u8]) -> Option<String> {
    crate::identity::json_str(body, "event_id")
}

/// `x-square-hmacsha256-signature`: base64 HMAC-SHA256 of notification URL + body.
#[cfg(feature = "signing")]
pub(crate) fn sign(
    secret: &[u8],
    body: &[u8],
    opts: &SignOptions<'_>,
) -> Result<Vec<(String, String)>, VerifyError> {
    let url = opts
        .url
        .filter(|u| !u.is_empty())
        .ok_or(VerifyError::MissingUrl("square"))?;
    let sig = hmac_sha256(secret, &[url.as_bytes(), body]);
    Ok(vec![(
        "x-square-hmacsha256-signature".into(),
        B64.encode(sig),
    )])
}

// ---- normalizer ----

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let kind = text(json, "type").ok_or_else(|| malformed("no \"type\""))?;
    let created_at = time(json, "created_at").unwrap_or(ctx.received_at);
    let object = json.get("data").and_then(|d| d.get("object"));
    match kind.as_str() {
        "inventory.count.updated" => {
            let counts = object.map(|o| array(o, "inventory_counts")).unwrap_or(&[]);
            let mut events = Vec::new();
            for c in counts {
                // Square reports a count per state; only IN_STOCK is the quantity on hand.
                if text(c, "state").as_deref() != Some("IN_STOCK") {
                    continue;
                }
                let id = required_id(c, "catalog_object_id", "inventory count")?;
                let quantity = decimal(c, "quantity")
                    .ok_or_else(|| malformed("inventory count without a decimal quantity"))?;
                let as_of = time(c, "calculated_at").unwrap_or(created_at);
                events.push(NormalizedEvent {
                    data: EventData::InventoryAdjusted(InventoryAdjusted {
                        external_id: Some(id.clone()),
                        inventory_item_id: None,
                        location_id: text(c, "location_id"),
                        stock_status: Some(if quantity.is_sign_positive() && !quantity.is_zero() {
                            StockStatus::InStock
                        } else {
                            StockStatus::OutOfStock
                        }),
                        quantity: Some(quantity),
                        as_of,
                    }),
                    entity_id: id,
                    occurred_at: as_of,
                    dedupe_key: None,
                });
            }
            Ok(Normalized::handled(kind, events))
        }
        "order.created" | "order.updated" => {
            let key = if kind == "order.created" {
                "order_created"
            } else {
                "order_updated"
            };
            let o = object
                .and_then(|o| o.get(key))
                .ok_or_else(|| malformed(format!("no data.object.{key}")))?;
            let order_id = required_id(o, "order_id", "order")?;
            let updated_at = time(o, "updated_at")
                .or_else(|| time(o, "created_at"))
                .unwrap_or(created_at);
            Ok(Normalized::handled(
                kind,
                vec![NormalizedEvent {
                    data: EventData::OrderUpserted(OrderUpserted {
                        order_id: order_id.clone(),
                        status: text(o, "state"),
                        currency: None,
                        total_minor: None,
                        line_items: Vec::new(),
                        version: o.get("version").and_then(Value::as_i64),
                        created_at: time(o, "created_at"),
                        updated_at,
                    }),
                    entity_id: order_id,
                    occurred_at: updated_at,
                    dedupe_key: None,
                }],
            ))
        }
        "catalog.version.updated" => {
            // Catalog-level: no object id (data.id/type are not reliable here). Fetch needed.
            let at = object
                .and_then(|o| o.get("catalog_version"))
                .and_then(|c| time(c, "updated_at"))
                .unwrap_or(created_at);
            Ok(Normalized::handled(
                kind.clone(),
                vec![NormalizedEvent {
                    data: EventData::FetchRequested(FetchRequested {
                        object_type: "catalog".into(),
                        object_id: None,
                        change: Change::Updated,
                        vendor_event: kind,
                    }),
                    entity_id: "catalog".into(),
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        _ => Ok(Normalized::unhandled(kind)),
    }
}

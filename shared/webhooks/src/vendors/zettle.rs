//! Zettle (PayPal Zettle, Pusher API) webhooks.
//!
//! Signature (iZettle/api-documentation `pusher-api/user-guides/event-subscriptions.md`,
//! <https://developer.zettle.com/docs/api/pusher/api-reference-md>): header
//! `X-iZettle-Signature`, hex of HMAC-SHA256 keyed with the subscription's `signingKey` over
//! the envelope's `timestamp` + `.` + `payload`. Real deliveries carry `payload` as a JSON
//! string and sign its decoded value. Delivery identity: the envelope's `messageId`.
//!
//! Normalizer: Zettle (Pusher API): Product{Created,Updated,Deleted} and InventoryBalanceChanged.
//! Real deliveries carry `payload` as a JSON-encoded string; the docs show an object.

use serde_json::Value;
use tillbridge_domain::CatalogItem;
use tillbridge_domain::event::{
    EventData, InventoryAdjusted, ItemDeleted, ItemUpserted, StockStatus, VariantListing,
};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::hmac_sha256;
use crate::signature::{
    Secret, Verified, VerifyError, decode_hex, hmac_sha256_any, require, verified,
};
use crate::vendors::{Vendor, parse_json};
use rust_decimal::Decimal;
use tillbridge_domain::{Currency, Timestamp};

/// Zettle in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify: |headers, body, secrets, _| verify(headers, body, secrets),
    precheck: |headers, _, _, _| precheck(headers),
    delivery_id: |_, body| delivery_id(body),
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign: |secret, body, _| sign(secret, body),
};

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
) -> Result<Verified, VerifyError> {
    let sig = decode_hex(
        "x-izettle-signature",
        require(headers, "x-izettle-signature")?,
    )?;
    let (timestamp, payload) = signed_parts(body)?;
    hmac_sha256_any(
        secrets.iter().map(|s| s.expose().to_vec()),
        &[timestamp.as_bytes(), b".", payload.as_bytes()],
        &[sig],
    )
    .map(|i| verified("zettle-hmac-sha256", i))
    .ok_or(VerifyError::Mismatch("HMAC-SHA256 of timestamp.payload"))
}

/// The envelope's `timestamp` and the signed text of its `payload`.
fn signed_parts(body: &[u8]) -> Result<(String, String), VerifyError> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        timestamp: String,
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
    }
    let env: Envelope<'_> = serde_json::from_slice(body).map_err(|e| {
        VerifyError::MalformedBody(format!(
            "not a Zettle envelope with timestamp and payload: {e}"
        ))
    })?;
    // Real deliveries carry the payload as a JSON string and sign its decoded value; the
    // documentation shows an object, whose text is then signed as it appears.
    let raw = env.payload.get();
    let payload = if raw.starts_with('"') {
        serde_json::from_str::<String>(raw)
            .map_err(|e| VerifyError::MalformedBody(e.to_string()))?
    } else {
        raw.to_owned()
    };
    Ok((env.timestamp, payload))
}

/// Precheck: `X-iZettle-Signature` is present and hexadecimal.
pub(crate) fn precheck(headers: &Headers) -> Result<Precheck, VerifyError> {
    decode_hex(
        "x-izettle-signature",
        require(headers, "x-izettle-signature")?,
    )?;
    Ok(Precheck::Signed)
}

/// Delivery identity: the envelope's `messageId`.
pub(crate) fn delivery_id(body: &[u8]) -> Option<String> {
    crate::identity::json_str(body, "messageId")
}

/// `X-iZettle-Signature`: hex HMAC-SHA256 of `timestamp.payload`, both read from the body.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> Result<Vec<(String, String)>, VerifyError> {
    let (timestamp, payload) = signed_parts(body)?;
    Ok(vec![(
        "X-iZettle-Signature".into(),
        hex::encode(hmac_sha256(
            secret,
            &[timestamp.as_bytes(), b".", payload.as_bytes()],
        )),
    )])
}

// ---- normalizer ----

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let kind = text(json, "eventName").ok_or_else(|| malformed("no \"eventName\""))?;
    let payload: Value = match json.get("payload") {
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| malformed(format!("payload string is not JSON: {e}")))?,
        Some(v @ Value::Object(_)) => v.clone(),
        _ => return Err(malformed("no \"payload\"")),
    };
    let at = time(json, "timestamp").unwrap_or(ctx.received_at);
    match kind.as_str() {
        "ProductCreated" => Ok(Normalized::handled(kind, product(ctx, &payload, at)?)),
        "ProductUpdated" => {
            let entity = payload
                .get("newEntity")
                .ok_or_else(|| malformed("ProductUpdated without newEntity"))?;
            Ok(Normalized::handled(kind, product(ctx, entity, at)?))
        }
        "ProductDeleted" => {
            let product_id = required_id(&payload, "uuid", "product")?;
            let mut ids: Vec<String> = array(&payload, "variants")
                .iter()
                .filter_map(|v| text(v, "uuid"))
                .collect();
            ids.push(product_id);
            let events = ids
                .into_iter()
                .map(|id| NormalizedEvent {
                    data: EventData::CatalogItemDeleted(ItemDeleted {
                        external_id: id.clone(),
                        deleted_at: at,
                    }),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                })
                .collect();
            Ok(Normalized::handled(kind, events))
        }
        "InventoryBalanceChanged" => {
            let mut events = Vec::new();
            for b in array(&payload, "balanceAfter") {
                let id = required_id(b, "variantUuid", "balance")?;
                let quantity =
                    decimal(b, "balance").ok_or_else(|| malformed("balance is not a number"))?;
                events.push(NormalizedEvent {
                    data: EventData::InventoryAdjusted(InventoryAdjusted {
                        external_id: Some(id.clone()),
                        inventory_item_id: None,
                        location_id: text(b, "locationUuid"),
                        stock_status: Some(if quantity > Decimal::ZERO {
                            StockStatus::InStock
                        } else {
                            StockStatus::OutOfStock
                        }),
                        quantity: Some(quantity),
                        as_of: at,
                    }),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                });
            }
            Ok(Normalized::handled(kind, events))
        }
        _ => Ok(Normalized::unhandled(kind)),
    }
}

fn product(
    ctx: &NormalizeContext<'_>,
    p: &Value,
    at: Timestamp,
) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    let product_id = required_id(p, "uuid", "product")?;
    let updated_at = time(p, "updated").or(Some(at));
    let category = array(p, "categories").first().and_then(|c| match c {
        Value::String(s) => Some(s.clone()),
        other => text(other, "name"),
    });
    let base = CatalogItem {
        name: text(p, "name"),
        description: text(p, "description"),
        category,
        tax_rate_percent: decimal(p, "vatPercentage"),
        image_url: p.get("presentation").and_then(|pr| text(pr, "imageUrl")),
        created_at: time(p, "created"),
        updated_at,
        ..CatalogItem::default()
    };
    // The whole product arrives: a variant it no longer lists was removed as of this update.
    let listing = VariantListing {
        ids: array(p, "variants")
            .iter()
            .filter_map(|v| text(v, "uuid"))
            .collect(),
        as_of: updated_at.unwrap_or(at),
    };
    let mut events = Vec::new();
    for v in array(p, "variants") {
        let id = required_id(v, "uuid", "variant")?;
        let (price_minor, price_currency) = money(v.get("price"))?;
        let (cost_minor, cost_currency) = money(v.get("costPrice"))?;
        let item = CatalogItem {
            external_id: id.clone(),
            parent_id: Some(product_id.clone()),
            variant_name: text(v, "name"),
            sku: text(v, "sku"),
            barcode: text(v, "barcode"),
            price_minor,
            cost_minor,
            currency: price_currency.or(cost_currency).or(Some(ctx.currency)),
            ..base.clone()
        };
        events.push(NormalizedEvent {
            entity_id: id,
            data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: Some(listing.clone()),
                product_variants: None,
            })),
            occurred_at: updated_at.unwrap_or(at),
            dedupe_key: None,
        });
    }
    if events.is_empty() {
        let item = CatalogItem {
            external_id: product_id.clone(),
            currency: Some(ctx.currency),
            ..base
        };
        events.push(NormalizedEvent {
            entity_id: product_id,
            data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: None,
                product_variants: None,
            })),
            occurred_at: updated_at.unwrap_or(at),
            dedupe_key: None,
        });
    }
    Ok(events)
}

/// Zettle money: `{"amount": <minor units>, "currencyId": "SEK"}`.
fn money(v: Option<&Value>) -> Result<(Option<i64>, Option<Currency>), NormalizeError> {
    match v {
        Some(m @ Value::Object(_)) => {
            Ok((minor_amount(m, "amount")?, currency_field(m, "currencyId")?))
        }
        _ => Ok((None, None)),
    }
}

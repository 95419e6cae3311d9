//! Lightspeed Retail (X-Series, formerly Vend) webhooks.
//!
//! Signature (<https://x-series-api.lightspeedhq.com/docs/webhooks>): header
//! `X-Signature: signature=<hex>, algorithm=HMAC-SHA256`, hex HMAC-SHA256 keyed with the app's
//! client secret over the raw (form-encoded) body; some integrations send the bare hex digest.
//! No delivery id: identity is the body hash.
//!
//! Normalizer: Lightspeed Retail (X-Series): form bodies whose `payload` field holds the API 1.0
//! object; the `type` field names the event (product.update, inventory.update, sale.update).

use serde_json::Value;
use tillbridge_domain::CatalogItem;
use tillbridge_domain::event::{EventData, InventoryAdjusted, ItemUpserted, OrderUpserted};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::hmac_sha256;
use crate::signature::clip;
use crate::signature::{
    Secret, Verified, VerifyError, decode_hex, hmac_sha256_any, require, verified,
};
use crate::vendors::{Vendor, no_delivery_id};

/// Lightspeed in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify: |headers, body, secrets, _| verify(headers, body, secrets),
    precheck: |headers, _, _, _| precheck(headers),
    delivery_id: no_delivery_id,
    normalize: Some(normalize),
    #[cfg(feature = "signing")]
    sign: |secret, body, _| Ok(sign(secret, body)),
};

/// `X-Signature: signature=<hex>, algorithm=HMAC-SHA256` (or the bare hex digest).
pub(crate) fn parse_header(value: &str) -> Result<Vec<u8>, VerifyError> {
    const H: &str = "x-signature";
    let mut signature = None;
    for part in value.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "signature" => signature = Some(v.trim()),
            "algorithm" if !v.trim().eq_ignore_ascii_case("hmac-sha256") => {
                return Err(VerifyError::MalformedHeader {
                    header: H,
                    reason: format!("unsupported algorithm {}", clip(v.trim())),
                });
            }
            _ => {}
        }
    }
    match signature {
        Some(sig) => decode_hex(H, sig),
        // Some integrations send the bare hex digest.
        None if !value.contains('=') => decode_hex(H, value),
        None => Err(VerifyError::MalformedHeader {
            header: H,
            reason: "no signature= part".into(),
        }),
    }
}

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
) -> Result<Verified, VerifyError> {
    let sig = parse_header(require(headers, "x-signature")?)?;
    hmac_sha256_any(secrets.iter().map(|s| s.expose().to_vec()), &[body], &[sig])
        .map(|i| verified("lightspeed-hmac-sha256", i))
        .ok_or(VerifyError::Mismatch("HMAC-SHA256 of the body"))
}

/// Precheck: `X-Signature` is present and well formed.
pub(crate) fn precheck(headers: &Headers) -> Result<Precheck, VerifyError> {
    parse_header(require(headers, "x-signature")?)?;
    Ok(Precheck::Signed)
}

/// `X-Signature: signature=<hex>, algorithm=HMAC-SHA256` over the body.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> Vec<(String, String)> {
    let sig = hex::encode(hmac_sha256(secret, &[body]));
    vec![(
        "X-Signature".into(),
        format!("signature={sig}, algorithm=HMAC-SHA256"),
    )]
}

// ---- normalizer ----

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    body: &[u8],
) -> Result<Normalized, NormalizeError> {
    let form = crate::form::parse(body).ok_or_else(|| malformed("not a form-encoded body"))?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let payload: Value =
        serde_json::from_str(field("payload").ok_or_else(|| malformed("no payload field"))?)
            .map_err(|e| malformed(format!("payload is not JSON: {e}")))?;
    let kind = field("type")
        .map(str::to_owned)
        .unwrap_or_else(|| infer_kind(&payload).to_owned());
    match kind.as_str() {
        "product.update" => {
            let id = required_id(&payload, "id", "product")?;
            let price = match major_amount(&payload, "price", ctx.currency)? {
                Some(p) => Some(p),
                None => major_amount(&payload, "price_excluding_tax", ctx.currency)?,
            };
            let item = CatalogItem {
                external_id: id.clone(),
                sku: text(&payload, "sku"),
                name: text(&payload, "name"),
                description: text(&payload, "description"),
                price_minor: price,
                cost_minor: major_amount(&payload, "supply_price", ctx.currency)?,
                currency: Some(ctx.currency),
                is_active: boolean(&payload, "active"),
                brand: text(&payload, "brand_name"),
                vendor: text(&payload, "supplier_name"),
                variant_name: text(&payload, "variant_name"),
                parent_id: text(&payload, "variant_parent_id"),
                image_url: text(&payload, "image_url").or_else(|| text(&payload, "image")),
                updated_at: time(&payload, "updated_at"),
                created_at: time(&payload, "created_at"),
                ..CatalogItem::default()
            };
            let at = item.updated_at.unwrap_or(ctx.received_at);
            Ok(Normalized::handled(
                kind,
                vec![NormalizedEvent {
                    data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                        item,
                        inventory_item_id: None,
                        parent_variants: None,
                        product_variants: None,
                    })),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        "inventory.update" => {
            let product = required_id(&payload, "product_id", "inventory")?;
            let at = time(&payload, "updated_at").unwrap_or(ctx.received_at);
            Ok(Normalized::handled(
                kind,
                vec![NormalizedEvent {
                    data: EventData::InventoryAdjusted(InventoryAdjusted {
                        external_id: Some(product.clone()),
                        inventory_item_id: None,
                        location_id: text(&payload, "outlet_id"),
                        quantity: decimal(&payload, "count")
                            .or_else(|| decimal(&payload, "current_amount")),
                        stock_status: None,
                        as_of: at,
                    }),
                    entity_id: product,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        "sale.update" => {
            let id = required_id(&payload, "id", "sale")?;
            let at = time(&payload, "updated_at")
                .or_else(|| time(&payload, "sale_date"))
                .unwrap_or(ctx.received_at);
            let total = payload
                .get("totals")
                .map(|t| major_amount(t, "total_price", ctx.currency))
                .transpose()?
                .flatten();
            Ok(Normalized::handled(
                kind,
                vec![NormalizedEvent {
                    data: EventData::OrderUpserted(OrderUpserted {
                        order_id: id.clone(),
                        status: text(&payload, "status"),
                        currency: Some(ctx.currency),
                        total_minor: total,
                        line_items: Vec::new(),
                        version: None,
                        created_at: time(&payload, "created_at"),
                        updated_at: at,
                    }),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        _ => Ok(Normalized::unhandled(kind)),
    }
}

fn infer_kind(payload: &Value) -> &'static str {
    if payload.get("register_sale_products").is_some() || payload.get("sale_date").is_some() {
        "sale.update"
    } else if payload.get("outlet_id").is_some() && payload.get("product_id").is_some() {
        "inventory.update"
    } else if payload.get("handle").is_some() || payload.get("sku").is_some() {
        "product.update"
    } else {
        "unknown"
    }
}

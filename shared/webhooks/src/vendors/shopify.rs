//! Shopify webhooks.
//!
//! Signature (<https://shopify.dev/docs/apps/build/webhooks/verify-deliveries>): header
//! `X-Shopify-Hmac-Sha256`, base64 of HMAC-SHA256 keyed with the app's client secret over the
//! raw body. No signed timestamp. Delivery identity: `X-Shopify-Webhook-Id`, the same on every
//! retry (<https://shopify.dev/docs/apps/build/webhooks/delivery-structure>).
//!
//! Normalizer: Shopify: products/* (one canonical item per variant), inventory_levels/update, orders/*.

#[cfg(feature = "signing")]
use base64::Engine as _;
use serde_json::Value;
use tillbridge_domain::CatalogItem;
use tillbridge_domain::event::{
    Change, EventData, FetchRequested, InventoryAdjusted, ItemDeleted, ItemUpserted, OrderLine,
    OrderUpserted, PrivacyKind, PrivacyRequest, VariantListing,
};

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
use tillbridge_domain::Timestamp;

/// Shopify in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify: |headers, body, secrets, _| verify(headers, body, secrets),
    precheck: |headers, _, _, _| precheck(headers),
    delivery_id: |headers, _| delivery_id(headers),
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign: |secret, body, _| Ok(sign(secret, body)),
};

/// `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body.
pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
) -> Result<Verified, VerifyError> {
    let sig = b64_header(headers, "x-shopify-hmac-sha256")?;
    hmac_sha256_any(secrets.iter().map(|s| s.expose().to_vec()), &[body], &[sig])
        .map(|i| verified("shopify-hmac-sha256", i))
        .ok_or(VerifyError::Mismatch("HMAC-SHA256 of the body"))
}

/// Precheck: the signature header is present and base64.
pub(crate) fn precheck(headers: &Headers) -> Result<Precheck, VerifyError> {
    decode_b64(
        "x-shopify-hmac-sha256",
        require(headers, "x-shopify-hmac-sha256")?,
    )?;
    Ok(Precheck::Signed)
}

/// Delivery identity: `X-Shopify-Webhook-Id`.
pub(crate) fn delivery_id(headers: &Headers) -> Option<String> {
    headers.get("x-shopify-webhook-id").map(str::to_owned)
}

/// `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the body.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> Vec<(String, String)> {
    vec![(
        "X-Shopify-Hmac-Sha256".into(),
        B64.encode(hmac_sha256(secret, &[body])),
    )]
}

// ---- normalizer ----

/// Shopify's mandatory compliance webhooks (shopify.dev "Privacy law compliance"):
/// `customers/redact` `{"shop_id", "shop_domain", "customer": {"id", "email", "phone"},
/// "orders_to_redact": [ids]}`, `customers/data_request` (the same with `orders_requested`
/// and `data_request: {"id"}`) and `shop/redact` `{"shop_id", "shop_domain"}`.
fn privacy(
    ctx: &NormalizeContext<'_>,
    json: &Value,
    topic: &str,
) -> Result<Normalized, NormalizeError> {
    let kind = match topic {
        "customers/redact" => PrivacyKind::CustomerErase,
        "customers/data_request" => PrivacyKind::CustomerExport,
        _ => PrivacyKind::ShopErase,
    };
    let customer = json.get("customer").unwrap_or(&Value::Null);
    let customer_id = text(customer, "id");
    let (email, phone) = (text(customer, "email"), text(customer, "phone"));
    if kind != PrivacyKind::ShopErase && customer_id.is_none() && email.is_none() && phone.is_none()
    {
        return Err(malformed(format!(
            "{topic} names no customer (id, email or phone)"
        )));
    }
    let orders_key = if kind == PrivacyKind::CustomerExport {
        "orders_requested"
    } else {
        "orders_to_redact"
    };
    let order_ids = json
        .get(orders_key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| match o {
                    Value::Number(n) => Some(n.to_string()),
                    Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let request_id = json.get("data_request").and_then(|d| text(d, "id"));
    let entity_id = customer_id
        .clone()
        .or_else(|| text(json, "shop_id"))
        .unwrap_or_else(|| "shop".to_owned());
    Ok(Normalized::handled(
        topic,
        vec![NormalizedEvent {
            data: EventData::PrivacyRequested(PrivacyRequest {
                kind,
                request_id,
                customer_id,
                email,
                phone,
                order_ids,
            }),
            entity_id,
            occurred_at: ctx.received_at,
            dedupe_key: None,
        }],
    ))
}

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let topic = ctx
        .headers
        .get("x-shopify-topic")
        .unwrap_or("")
        .to_ascii_lowercase();
    let triggered = ctx
        .headers
        .get("x-shopify-triggered-at")
        .and_then(|t| Timestamp::parse_lenient(t).ok());
    match topic.as_str() {
        "products/create" | "products/update" => products(ctx, json, &topic),
        "products/delete" => {
            let id = required_id(json, "id", "product")?;
            let at = triggered.unwrap_or(ctx.received_at);
            Ok(Normalized::handled(
                topic,
                vec![NormalizedEvent {
                    data: EventData::CatalogItemDeleted(ItemDeleted {
                        external_id: id.clone(),
                        deleted_at: at,
                    }),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        "inventory_levels/update" | "inventory_levels/connect" => {
            let inventory_item_id = required_id(json, "inventory_item_id", "inventory level")?;
            let as_of = time(json, "updated_at")
                .or(triggered)
                .unwrap_or(ctx.received_at);
            Ok(Normalized::handled(
                topic,
                vec![NormalizedEvent {
                    data: EventData::InventoryAdjusted(InventoryAdjusted {
                        external_id: None,
                        inventory_item_id: Some(inventory_item_id.clone()),
                        location_id: text(json, "location_id"),
                        quantity: decimal(json, "available"),
                        stock_status: None,
                        as_of,
                    }),
                    entity_id: inventory_item_id,
                    occurred_at: as_of,
                    dedupe_key: None,
                }],
            ))
        }
        t if t.starts_with("orders/") => orders(ctx, json, t),
        "customers/redact" | "customers/data_request" | "shop/redact" => privacy(ctx, json, &topic),
        t if t.starts_with("inventory_items/") => {
            let id = required_id(json, "id", "inventory item")?;
            let change = match t {
                "inventory_items/create" => Change::Created,
                "inventory_items/delete" => Change::Deleted,
                _ => Change::Updated,
            };
            let at = time(json, "updated_at")
                .or(triggered)
                .unwrap_or(ctx.received_at);
            Ok(Normalized::handled(
                t,
                vec![NormalizedEvent {
                    data: EventData::FetchRequested(FetchRequested {
                        object_type: "inventory_item".into(),
                        object_id: Some(id.clone()),
                        change,
                        vendor_event: t.to_owned(),
                    }),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        "" => Err(malformed("no X-Shopify-Topic header")),
        other => Ok(Normalized::unhandled(other)),
    }
}

fn products(
    ctx: &NormalizeContext<'_>,
    p: &Value,
    topic: &str,
) -> Result<Normalized, NormalizeError> {
    let product_id = required_id(p, "id", "product")?;
    let product_updated = time(p, "updated_at");
    let image = p
        .get("image")
        .and_then(|i| text(i, "src"))
        .or_else(|| array(p, "images").first().and_then(|i| text(i, "src")));
    let base = CatalogItem {
        name: text(p, "title"),
        description: text(p, "body_html"),
        category: text(p, "product_type"),
        vendor: text(p, "vendor"),
        is_active: text(p, "status").map(|s| s == "active"),
        image_url: image,
        created_at: time(p, "created_at"),
        currency: Some(ctx.currency),
        ..CatalogItem::default()
    };
    let variants = array(p, "variants");
    if variants.is_empty() {
        let item = CatalogItem {
            external_id: product_id,
            updated_at: product_updated,
            ..base
        };
        return Ok(Normalized::handled(topic, vec![upserted(item, None, ctx)]));
    }
    // The whole product arrives: a variant it no longer lists was removed as of this update.
    let listing = VariantListing {
        ids: variants.iter().filter_map(|v| text(v, "id")).collect(),
        as_of: product_updated
            .or_else(|| {
                ctx.headers
                    .get("x-shopify-triggered-at")
                    .and_then(|t| Timestamp::parse_lenient(t).ok())
            })
            .unwrap_or(ctx.received_at),
    };
    let mut events = Vec::with_capacity(variants.len());
    for v in variants {
        let id = required_id(v, "id", "variant")?;
        // Product-level edits (title) move the product's updated_at, variant edits the
        // variant's: the item is as new as the newer of the two.
        let updated_at = match (product_updated, time(v, "updated_at")) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let item = CatalogItem {
            external_id: id,
            parent_id: Some(product_id.clone()),
            variant_name: text(v, "title"),
            sku: text(v, "sku"),
            barcode: text(v, "barcode"),
            price_minor: major_amount(v, "price", ctx.currency)?,
            quantity_on_hand: decimal(v, "inventory_quantity"),
            weight: decimal(v, "weight"),
            unit_of_measure: text(v, "weight_unit"),
            created_at: time(v, "created_at").or(base.created_at),
            updated_at,
            ..base.clone()
        };
        let mut event = upserted(item, text(v, "inventory_item_id"), ctx);
        if let EventData::CatalogItemUpserted(u) = &mut event.data {
            u.parent_variants = Some(listing.clone());
        }
        events.push(event);
    }
    Ok(Normalized::handled(topic, events))
}

fn upserted(
    item: CatalogItem,
    inventory_item_id: Option<String>,
    ctx: &NormalizeContext<'_>,
) -> NormalizedEvent {
    let occurred_at = item.updated_at.unwrap_or(ctx.received_at);
    NormalizedEvent {
        entity_id: item.external_id.clone(),
        data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
            item,
            inventory_item_id,
            parent_variants: None,
            product_variants: None,
        })),
        occurred_at,
        dedupe_key: None,
    }
}

fn orders(
    ctx: &NormalizeContext<'_>,
    o: &Value,
    topic: &str,
) -> Result<Normalized, NormalizeError> {
    let order_id = required_id(o, "id", "order")?;
    let currency = currency_field(o, "currency")?.unwrap_or(ctx.currency);
    let status =
        if topic == "orders/cancelled" || o.get("cancelled_at").is_some_and(|c| !c.is_null()) {
            Some("cancelled".to_owned())
        } else {
            text(o, "financial_status")
        };
    let line_items = array(o, "line_items")
        .iter()
        .map(|l| {
            Ok(OrderLine {
                external_id: text(l, "variant_id").or_else(|| text(l, "product_id")),
                sku: text(l, "sku"),
                quantity: decimal(l, "quantity"),
                unit_price_minor: major_amount(l, "price", currency)?,
            })
        })
        .collect::<Result<Vec<_>, NormalizeError>>()?;
    let updated_at = time(o, "updated_at").unwrap_or(ctx.received_at);
    Ok(Normalized::handled(
        topic,
        vec![NormalizedEvent {
            data: EventData::OrderUpserted(OrderUpserted {
                order_id: order_id.clone(),
                status,
                currency: Some(currency),
                total_minor: major_amount(o, "total_price", currency)?,
                line_items,
                version: None,
                created_at: time(o, "created_at"),
                updated_at,
            }),
            entity_id: order_id,
            occurred_at: updated_at,
            dedupe_key: None,
        }],
    ))
}

//! WooCommerce: product.* and order.* (bodies are the REST v3 resources; the topic is in
//! the X-WC-Webhook-Topic header).

use serde_json::Value;
use tillbridge_domain::CatalogItem;
use tillbridge_domain::event::{EventData, ItemDeleted, ItemUpserted, OrderLine, OrderUpserted};

use super::*;

pub(super) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let topic = ctx
        .headers
        .get("x-wc-webhook-topic")
        .unwrap_or("")
        .to_ascii_lowercase();
    match topic.as_str() {
        "product.created" | "product.updated" | "product.restored" => product(ctx, json, &topic),
        "product.deleted" => {
            let id = required_id(json, "id", "product")?;
            let at = gmt(json, "date_modified_gmt").unwrap_or(ctx.received_at);
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
        t if t.starts_with("order.") => order(ctx, json, t),
        "" => Err(malformed("no X-WC-Webhook-Topic header")),
        other => Ok(Normalized::unhandled(other)),
    }
}

/// WooCommerce's `*_gmt` fields are UTC without an offset.
fn gmt(v: &Value, key: &str) -> Option<Timestamp> {
    time(v, key)
}

fn product(
    ctx: &NormalizeContext<'_>,
    p: &Value,
    topic: &str,
) -> Result<Normalized, NormalizeError> {
    let id = required_id(p, "id", "product")?;
    let parent = text(p, "parent_id").filter(|v| v != "0");
    let price = match major_amount(p, "price", ctx.currency)? {
        Some(v) => Some(v),
        None => major_amount(p, "regular_price", ctx.currency)?,
    };
    let item = CatalogItem {
        external_id: id.clone(),
        sku: text(p, "sku"),
        name: text(p, "name"),
        description: text(p, "description").or_else(|| text(p, "short_description")),
        category: array(p, "categories").first().and_then(|c| text(c, "name")),
        price_minor: price,
        currency: Some(ctx.currency),
        quantity_on_hand: decimal(p, "stock_quantity"),
        is_active: text(p, "status").map(|s| s == "publish"),
        image_url: array(p, "images").first().and_then(|i| text(i, "src")),
        parent_id: parent,
        weight: decimal(p, "weight"),
        created_at: gmt(p, "date_created_gmt"),
        updated_at: gmt(p, "date_modified_gmt"),
        ..CatalogItem::default()
    };
    let at = item.updated_at.unwrap_or(ctx.received_at);
    // WooCommerce does not retry and its delivery ids change per delivery; the resource
    // version (id, modified time) identifies the event.
    let dedupe_key = item
        .updated_at
        .map(|t| format!("{topic}/{id}/{}", t.unix_nanos()));
    Ok(Normalized::handled(
        topic,
        vec![NormalizedEvent {
            data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
            })),
            entity_id: id,
            occurred_at: at,
            dedupe_key,
        }],
    ))
}

fn order(ctx: &NormalizeContext<'_>, o: &Value, topic: &str) -> Result<Normalized, NormalizeError> {
    let id = required_id(o, "id", "order")?;
    let currency = currency_field(o, "currency")?.unwrap_or(ctx.currency);
    let line_items = array(o, "line_items")
        .iter()
        .map(|l| {
            let variation = text(l, "variation_id").filter(|v| v != "0");
            Ok(OrderLine {
                external_id: variation.or_else(|| text(l, "product_id")),
                sku: text(l, "sku"),
                quantity: decimal(l, "quantity"),
                unit_price_minor: major_amount(l, "price", currency)?,
            })
        })
        .collect::<Result<Vec<_>, NormalizeError>>()?;
    let updated_at = gmt(o, "date_modified_gmt").unwrap_or(ctx.received_at);
    let status = if topic == "order.deleted" {
        Some("deleted".to_owned())
    } else {
        text(o, "status")
    };
    Ok(Normalized::handled(
        topic,
        vec![NormalizedEvent {
            data: EventData::OrderUpserted(OrderUpserted {
                order_id: id.clone(),
                status,
                currency: Some(currency),
                total_minor: major_amount(o, "total", currency)?,
                line_items,
                version: None,
                created_at: gmt(o, "date_created_gmt"),
                updated_at,
            }),
            entity_id: id,
            occurred_at: updated_at,
            dedupe_key: None,
        }],
    ))
}

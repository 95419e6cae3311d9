//! Square: inventory.count.updated, order.created/updated, catalog.version.updated.

use serde_json::Value;
use tillbridge_domain::event::{
    Change, EventData, FetchRequested, InventoryAdjusted, OrderUpserted, StockStatus,
};

use super::*;

pub(super) fn normalize(
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

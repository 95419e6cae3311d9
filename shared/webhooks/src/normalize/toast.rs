//! Toast: `menus_updated` (fetch the menu) and stock events (`in_stock`, `out_of_stock`,
//! `low_quantity`).

use serde_json::Value;
use tillbridge_domain::event::{Change, EventData, FetchRequested, InventoryAdjusted, StockStatus};

use super::*;

pub(super) fn normalize(
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

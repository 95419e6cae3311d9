//! Clover: thin notifications `{appId, merchants: {id: [{objectId: "I:ID", type, ts}]}}`.
//! Only ids travel; every change becomes a fetch request, except item deletions, which
//! are complete as they are.

use serde_json::Value;
use tillbridge_domain::event::{Change, EventData, FetchRequested, ItemDeleted};

use super::*;

fn object_type(prefix: &str) -> &str {
    match prefix {
        "I" => "item",
        "IC" => "category",
        "IG" => "modifier_group",
        "IM" => "modifier",
        "O" => "order",
        "P" => "payment",
        "C" => "customer",
        "M" => "merchant",
        "A" => "app",
        "E" => "employee",
        "CA" => "cash_adjustment",
        other => other,
    }
}

pub(super) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let merchants = json
        .get("merchants")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no \"merchants\" object"))?;
    let mut events = Vec::new();
    for (merchant_id, updates) in merchants {
        let updates = updates
            .as_array()
            .ok_or_else(|| malformed("merchant updates are not a list"))?;
        for u in updates {
            let object_id = required_id(u, "objectId", "update")?;
            let (prefix, id) = object_id
                .split_once(':')
                .filter(|(p, i)| !p.is_empty() && !i.is_empty())
                .ok_or_else(|| malformed(format!("objectId {object_id:?} is not KEY:ID")))?;
            let change = match text(u, "type").as_deref() {
                Some("CREATE") => Change::Created,
                Some("UPDATE") => Change::Updated,
                Some("DELETE") => Change::Deleted,
                other => return Err(malformed(format!("unknown update type {other:?}"))),
            };
            let at = time(u, "ts").unwrap_or(ctx.received_at);
            // Clover sends no ids: one update is (merchant, object, type, ts).
            let dedupe_key = Some(format!(
                "{merchant_id}/{object_id}/{change:?}/{}",
                at.unix_nanos()
            ));
            let data = if prefix == "I" && change == Change::Deleted {
                EventData::CatalogItemDeleted(ItemDeleted {
                    external_id: id.to_owned(),
                    deleted_at: at,
                })
            } else {
                EventData::FetchRequested(FetchRequested {
                    object_type: object_type(prefix).to_owned(),
                    object_id: Some(id.to_owned()),
                    change,
                    vendor_event: format!("{prefix}:{change:?}").to_ascii_lowercase(),
                })
            };
            events.push(NormalizedEvent {
                data,
                entity_id: id.to_owned(),
                occurred_at: at,
                dedupe_key,
            });
        }
    }
    Ok(Normalized::handled("clover.notification", events))
}

//! A verified profile-vendor payload → canonical events: the event type says which rule
//! applies, the rule says where the records are and what they mean, and the profile's mapping
//! (shared/mapping's `apply`, exactly as a migration applies an approved mapping) makes upserted
//! records canonical items. Money converts exactly or the delivery is refused.

use serde_json::Value;
use tillbridge_domain::Timestamp;
use tillbridge_domain::event::{
    Change, EventData, FetchRequested, InventoryAdjusted, ItemDeleted, ItemUpserted, OrderUpserted,
};
use tillbridge_domain::money::parse_decimal;
use tillbridge_webhooks::{NormalizeContext, NormalizeError, Normalized, NormalizedEvent};

use crate::Profile;
use crate::model::{EventRule, Meaning};
use crate::pointer;
use crate::verify::{decode_body, locate};

fn malformed(s: impl Into<String>) -> NormalizeError {
    NormalizeError::Malformed(s.into())
}

/// Whether a rule's type pattern matches an event type (exact, or a `*`-terminated prefix).
fn matches(pattern: &str, event: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event.starts_with(prefix),
        None => pattern == event,
    }
}

/// A time from JSON: RFC 3339 (lenient) text, or epoch seconds / millis.
pub(crate) fn time_of(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => Timestamp::parse_lenient(s.trim()).ok(),
        Value::Number(n) => n.as_i64().and_then(Timestamp::from_epoch_guess),
        _ => None,
    }
}

/// Normalizes one verified payload of a profile vendor (raw body bytes). Event types no rule
/// lists come back with `unhandled` set.
///
/// # Errors
/// [`NormalizeError::Malformed`] when the body is not the profile's shape (not JSON, no event
/// type, no records where the rule says, a record without the id it needs) or the mapping
/// cannot convert a value exactly (the mapping's problems, joined).
pub fn normalize(
    profile: &Profile,
    ctx: &NormalizeContext<'_>,
    body: &[u8],
) -> Result<Normalized, NormalizeError> {
    let w =
        profile.doc().webhooks.as_ref().ok_or_else(|| {
            malformed(format!("profile {} describes no webhooks", profile.name()))
        })?;
    let json = decode_body(profile, body).map_err(malformed)?;
    let event = locate(ctx.headers, Some(&json), &w.event_type)
        .ok_or_else(|| malformed("the payload has no event type where the profile says"))?;
    let Some(rule) = w
        .events
        .iter()
        .find(|r| r.types.iter().any(|t| matches(t, &event)))
    else {
        return Ok(Normalized {
            vendor_event: event,
            events: Vec::new(),
            unhandled: true,
        });
    };
    let occurred = w
        .occurred_at
        .as_ref()
        .and_then(|l| match l {
            crate::model::Locator::Pointer(p) => pointer::at(&json, p).and_then(|v| time_of(&v)),
            crate::model::Locator::Header(h) => ctx
                .headers
                .get(h)
                .and_then(|t| time_of(&Value::String(t.to_owned()))),
            crate::model::Locator::Constant(_) => None,
        })
        .unwrap_or(ctx.received_at);
    let records = records(&json, rule)?;
    let events = match rule.meaning {
        Meaning::Upsert => upserts(profile, ctx, rule, &records, occurred)?,
        _ => records
            .iter()
            .enumerate()
            .map(|(i, r)| other(ctx, rule, &event, i, r, occurred))
            .collect::<Result<_, _>>()?,
    };
    Ok(Normalized {
        vendor_event: event,
        events,
        unhandled: false,
    })
}

/// The rule's records: the value at its pointer (a JSON string holding JSON is decoded); an
/// array is its elements.
fn records(json: &Value, rule: &EventRule) -> Result<Vec<Value>, NormalizeError> {
    let v = pointer::at(json, &rule.records)
        .map(|c| pointer::decode_string(c.into_owned()))
        .ok_or_else(|| malformed(format!("no records at {:?}", rule.records)))?;
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(_) => Ok(vec![v]),
        _ => Err(malformed(format!(
            "records at {:?} are not an object or an array",
            rule.records
        ))),
    }
}

fn upserts(
    profile: &Profile,
    ctx: &NormalizeContext<'_>,
    rule: &EventRule,
    records: &[Value],
    occurred: Timestamp,
) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    exact_money(profile, ctx, records)?;
    let (items, problems) = tillbridge_mapping::apply(records, profile.mapping(), ctx.currency);
    if !problems.is_empty() {
        return Err(malformed(format!("mapping: {}", problems.join("; "))));
    }
    let record_time = |r: &Value| {
        rule.fields
            .updated_at
            .as_ref()
            .and_then(|p| pointer::at(r, p))
            .and_then(|v| time_of(&v))
    };
    // Items of one record share its time; apply keeps record order.
    let fallback = records.first().and_then(record_time).unwrap_or(occurred);
    Ok(items
        .into_iter()
        .map(|mut item| {
            let at = item.updated_at.unwrap_or(fallback);
            item.updated_at = Some(at);
            if item.currency.is_none() && (item.price_minor.is_some() || item.cost_minor.is_some())
            {
                item.currency = Some(ctx.currency);
            }
            NormalizedEvent {
                entity_id: item.external_id.clone(),
                occurred_at: at,
                dedupe_key: None,
                data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                    item,
                    inventory_item_id: None,
                    parent_variants: None,
                    product_variants: None,
                })),
            }
        })
        .collect())
}

fn other(
    ctx: &NormalizeContext<'_>,
    rule: &EventRule,
    event: &str,
    i: usize,
    r: &Value,
    occurred: Timestamp,
) -> Result<NormalizedEvent, NormalizeError> {
    let f = &rule.fields;
    let get = |p: &Option<String>| p.as_ref().and_then(|p| pointer::text(r, p));
    let at = f
        .updated_at
        .as_ref()
        .and_then(|p| pointer::at(r, p))
        .and_then(|v| time_of(&v))
        .unwrap_or(occurred);
    let id = get(&f.id);
    let need_id = || {
        id.clone().ok_or_else(|| {
            malformed(format!(
                "record {} has no id at {:?}",
                i + 1,
                f.id.as_deref().unwrap_or("")
            ))
        })
    };
    let (data, entity) =
        match rule.meaning {
            Meaning::Delete => {
                let id = need_id()?;
                (
                    EventData::CatalogItemDeleted(ItemDeleted {
                        external_id: id.clone(),
                        deleted_at: at,
                    }),
                    id,
                )
            }
            Meaning::Stock => {
                let id = need_id()?;
                let text = get(&f.quantity)
                    .ok_or_else(|| malformed(format!("record {} has no quantity", i + 1)))?;
                let quantity = parse_decimal(&text).ok_or_else(|| {
                    malformed(format!(
                        "record {}: quantity {text:?} is not a number",
                        i + 1
                    ))
                })?;
                (
                    EventData::InventoryAdjusted(InventoryAdjusted {
                        external_id: Some(id.clone()),
                        inventory_item_id: None,
                        location_id: get(&f.location),
                        quantity: Some(quantity),
                        stock_status: None,
                        as_of: at,
                    }),
                    id,
                )
            }
            Meaning::Order => {
                let id = need_id()?;
                let total_minor =
                    match get(&f.total) {
                        None => None,
                        Some(t) => Some(ctx.currency.to_minor(&t).map_err(|source| {
                            NormalizeError::Value {
                                field: "total",
                                source,
                            }
                        })?),
                    };
                (
                    EventData::OrderUpserted(OrderUpserted {
                        order_id: id.clone(),
                        status: get(&f.status),
                        currency: total_minor.map(|_| ctx.currency),
                        total_minor,
                        line_items: Vec::new(),
                        version: None,
                        created_at: None,
                        updated_at: at,
                    }),
                    id,
                )
            }
            Meaning::Fetch | Meaning::Upsert => {
                let lower = event.to_ascii_lowercase();
                let change = if lower.contains("delete") || lower.contains("remove") {
                    Change::Deleted
                } else if lower.contains("create") {
                    Change::Created
                } else {
                    Change::Updated
                };
                (
                    EventData::FetchRequested(FetchRequested {
                        object_type: f.object_type.clone().unwrap_or_else(|| "item".into()),
                        object_id: id.clone(),
                        change,
                        vendor_event: event.to_owned(),
                    }),
                    id.unwrap_or_else(|| "*".into()),
                )
            }
        };
    Ok(NormalizedEvent {
        data,
        entity_id: entity,
        occurred_at: at,
        dedupe_key: None,
    })
}

/// Vendor JSON writes amounts with `.` as the decimal mark, always. The mapping's reader also
/// serves spreadsheets, where "4.505" may be 4505 with a thousands dot; a webhook's "4.505"
/// USD is a third decimal the currency does not have, so it is refused here, before the
/// mapping could read it otherwise.
fn exact_money(
    profile: &Profile,
    ctx: &NormalizeContext<'_>,
    records: &[Value],
) -> Result<(), NormalizeError> {
    money_exact(profile, ctx.currency, records).map_err(malformed)
}

/// Records pulled from the vendor's API as canonical items, through the profile's mapping
/// (the same `apply` as webhooks and migrations): per record, the items, or why the record was
/// refused (an amount with more precision than the currency, a value that did not convert).
/// A refused record never sinks the others. Items without a time keep none; amounts carry
/// `currency`.
pub fn items(
    profile: &Profile,
    currency: tillbridge_domain::Currency,
    records: &[Value],
) -> Vec<Result<Vec<tillbridge_domain::CatalogItem>, String>> {
    records
        .iter()
        .map(|r| {
            let one = std::slice::from_ref(r);
            money_exact(profile, currency, one)?;
            let (mut items, problems) = tillbridge_mapping::apply(one, profile.mapping(), currency);
            if !problems.is_empty() {
                return Err(format!("mapping: {}", problems.join("; ")));
            }
            for item in &mut items {
                if item.currency.is_none()
                    && (item.price_minor.is_some() || item.cost_minor.is_some())
                {
                    item.currency = Some(currency);
                }
            }
            Ok(items)
        })
        .collect()
}

fn money_exact(
    profile: &Profile,
    currency: tillbridge_domain::Currency,
    records: &[Value],
) -> Result<(), String> {
    use tillbridge_mapping::Conversion;
    for line in profile
        .mapping()
        .iter()
        .filter(|m| m.conversion == Conversion::MajorToMinor)
    {
        for (n, r) in records.iter().enumerate() {
            for v in values_at(r, &line.source) {
                let text = match v {
                    Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
                    Value::Number(x) => x.to_string(),
                    _ => continue,
                };
                currency.to_minor(&text).map_err(|e| {
                    format!("mapping: record {}: {} {text:?}: {e}", n + 1, line.source)
                })?;
            }
        }
    }
    Ok(())
}

/// Values at a mapping path (`a.b[].c`, `[]` per array level) in a record.
fn values_at<'v>(record: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![record];
    for seg in path.split('.') {
        let (key, arrays) = seg.split_at(seg.find("[]").unwrap_or(seg.len()));
        let mut next: Vec<&Value> = current
            .iter()
            .filter_map(|v| if key.is_empty() { Some(*v) } else { v.get(key) })
            .collect();
        for _ in 0..arrays.len() / 2 {
            next = next.iter().filter_map(|v| v.as_array()).flatten().collect();
        }
        current = next;
    }
    current
}

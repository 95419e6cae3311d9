//! Read routes over the catalog and the webhook path: items, orders, quarantine, rejected
//! updates, webhook counters.

use serde_json::{Value, json};
use tillbridge_catalog as catalog;
use tillbridge_sync::quarantine;

use serde::Serialize;
use tillbridge_domain::{Classify, DeliveryId, TenantId};

use crate::{Api, Request, Response, known_tenant};

/// The largest page of items one request may ask for.
pub const MAX_PAGE: usize = 1000;

/// `GET /v1/tenants/{tenant}/items`: every visible item, or with `limit` (1–1000) and
/// `cursor` one page of them in id order; the next page's address is in the `Link` header
/// (`rel="next"`), absent on the last page.
pub(crate) async fn list_items(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if req.param("limit").is_some() || req.param("cursor").is_some() {
        let limit = match req.param("limit").map(str::parse::<usize>) {
            None => 100,
            Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
            Some(_) => return Response::error(400, "limit is a number from 1 to 1000"),
        };
        let page =
            catalog::items_page(api.table.as_ref(), &tenant, req.param("cursor"), limit).await;
        return match page {
            Ok((items, next)) => {
                let mut r = Response::json(200, &json!(items));
                if let Some(next) = next {
                    r.headers.push((
                        "link",
                        format!(
                            "</v1/tenants/{tenant}/items?limit={limit}&cursor={}>; rel=\"next\"",
                            encode_cursor(&next)
                        ),
                    ));
                }
                r
            }
            Err(e) => Response::failure(&e),
        };
    }
    listed(catalog::list_items(api.table.as_ref(), &tenant).await)
}

/// `GET /v1/tenants/{tenant}/items/{id}`: the live item with the vendor id `id`; with
/// `?provider=P` (a vendor, or a migration's source name) the one of that namespace only —
/// without it, when several vendors have a live item with this id, the most recently changed.
pub(crate) async fn get_item(api: &Api, req: &Request<'_>, tenant: &str, id: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let item = match req.param("provider") {
        Some(ns) => catalog::get_item_in(api.table.as_ref(), &tenant, ns, id)
            .await
            .map(|i| i.map(|i| (ns.to_owned(), i))),
        None => catalog::get_item_with_namespace(api.table.as_ref(), &tenant, id).await,
    };
    let (namespace, item) = match item {
        Ok(Some(found)) => found,
        Ok(None) => return Response::error(404, "item not found"),
        Err(e) => return Response::failure(&e),
    };
    let same_as = match catalog::xref::same_as(api.table.as_ref(), &tenant, &namespace, &item).await
    {
        Ok(s) => s,
        Err(e) => return Response::failure(&e),
    };
    let mut v = json!(item);
    if let Some(o) = v.as_object_mut() {
        o.insert("provider".into(), json!(namespace));
        if !same_as.is_empty() {
            o.insert("same_as".into(), json!(same_as));
        }
    }
    Response::json(200, &v)
}

/// `GET /v1/tenants/{tenant}/xref?sku=…&gtin=…`: the same product at every vendor — the
/// live items carrying this SKU or GTIN (a UPC-A and its EAN-13 form are one GTIN).
pub(crate) async fn xref(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (sku, gtin) = (req.param("sku"), req.param("gtin"));
    if sku.is_none() && gtin.is_none() {
        return Response::error(400, "give sku or gtin");
    }
    match catalog::xref::lookup(api.table.as_ref(), &tenant, sku, gtin).await {
        Ok(items) => Response::json(200, &json!({ "items": items })),
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/tenants/{tenant}/orders/{id}`
pub(crate) async fn get_order(api: &Api, tenant: &str, id: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    found(
        catalog::get_order(api.table.as_ref(), &tenant, id).await,
        "order",
    )
}

/// `GET /v1/tenants/{tenant}/quarantine`: quarantined deliveries, oldest first.
pub(crate) async fn list_quarantine(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if req.param("limit").is_none() && req.param("cursor").is_none() {
        return listed(quarantine::list(api.table.as_ref(), &tenant).await);
    }
    let limit = match req.param("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => return Response::error(400, "limit is a number from 1 to 1000"),
    };
    let after = match req.param("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match b64
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|a| a.len() <= 200)
        {
            Some(a) => Some(a),
            None => return Response::error(400, "cursor is not one this route gave"),
        },
    };
    match quarantine::page(api.table.as_ref(), &tenant, after.as_deref(), limit).await {
        Ok((records, next)) => {
            let mut r = Response::json(200, &json!(records));
            if let Some(next) = next {
                r.headers.push((
                    "link",
                    format!(
                        "</v1/tenants/{tenant}/quarantine?limit={limit}&cursor={}>; rel=\"next\"",
                        b64.encode(next)
                    ),
                ));
            }
            r
        }
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/tenants/{tenant}/quarantine/{id}`: the record and the stored request body
/// (`body_base64`, and `body` when it is UTF-8 text), for inspection before a replay.
pub(crate) async fn get_quarantined(api: &Api, tenant: &str, id: &str) -> Response {
    use base64::Engine as _;
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match quarantine::get(api.table.as_ref(), api.blobs.as_ref(), &tenant, id).await {
        Ok(Some((record, body))) => Response::json(
            200,
            &json!({
                "record": record,
                "body_base64": base64::engine::general_purpose::STANDARD.encode(&body),
                "body": std::str::from_utf8(&body).ok(),
            }),
        ),
        Ok(None) => Response::error(404, "no such quarantined delivery"),
        Err(e) => Response::failure(&e),
    }
}

/// `POST /v1/tenants/{tenant}/quarantine/{id}/replay`: the delivery goes through the
/// signature check again (after a secret was fixed): 202 once queued, 404 unknown, 409 when it
/// cannot be verified again (kept without headers, or its body expired).
pub(crate) async fn replay_quarantined(
    api: &Api,
    req: &Request<'_>,
    tenant: &str,
    id: &str,
) -> Response {
    use quarantine::Replay;
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let replayed = quarantine::replay(
        api.table.as_ref(),
        api.blobs.as_ref(),
        api.inbound.as_ref(),
        &tenant,
        id,
    )
    .await;
    match replayed {
        Ok(Replay::Queued(d)) => {
            replayed_step(api, &tenant, &d, req.operator).await;
            Response::json(202, &json!({ "delivery_id": d }))
        }
        Ok(Replay::NotFound) => Response::error(404, "no such quarantined delivery"),
        Ok(Replay::NoHeaders) => Response::error(
            409,
            "kept before quarantined requests stored their headers; it cannot be verified again",
        ),
        Ok(Replay::BodyExpired) => Response::error(409, "the stored request body has expired"),
        Err(e) => Response::failure(&e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayMany {
    delivery_ids: Vec<String>,
}

/// `POST /v1/tenants/{tenant}/quarantine/replay` with `{"delivery_ids": [...]}` (1 to 100):
/// each goes through the signature check again; the answer names each id's outcome
/// (`queued`, `not_found`, `no_headers`, `body_expired`).
pub(crate) async fn replay_many(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    use quarantine::Replay;
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body: ReplayMany = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    if body.delivery_ids.is_empty() || body.delivery_ids.len() > 100 {
        return Response::error(400, "give 1 to 100 delivery_ids");
    }
    let mut outcomes = serde_json::Map::new();
    for id in &body.delivery_ids {
        let replayed = quarantine::replay(
            api.table.as_ref(),
            api.blobs.as_ref(),
            api.inbound.as_ref(),
            &tenant,
            id,
        )
        .await;
        let outcome = match replayed {
            Ok(Replay::Queued(d)) => {
                replayed_step(api, &tenant, &d, req.operator).await;
                "queued"
            }
            Ok(Replay::NotFound) => "not_found",
            Ok(Replay::NoHeaders) => "no_headers",
            Ok(Replay::BodyExpired) => "body_expired",
            Err(e) => return Response::failure(&e),
        };
        outcomes.insert(id.clone(), json!(outcome));
    }
    tracing::info!(tenant = %tenant, operator = %req.operator, count = outcomes.len(), "quarantine replayed");
    Response::json(200, &json!({ "tenant_id": tenant, "replayed": outcomes }))
}

/// `GET /v1/tenants/{tenant}/deliveries/{provider}/{id}`: what became of the vendor's
/// delivery `id` (its own delivery id).
pub(crate) async fn get_delivery(api: &Api, tenant: &str, provider: &str, id: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(provider) = provider.parse::<tillbridge_domain::Provider>() else {
        return Response::error(404, "unknown provider");
    };
    match tillbridge_sync::delivery_status(api.table.as_ref(), &tenant, provider, id).await {
        Ok(Some(mut status)) => {
            status.insert("provider".into(), json!(provider));
            status.insert("vendor_delivery_id".into(), json!(id));
            let ours = status
                .get("delivery_id")
                .and_then(Value::as_str)
                .and_then(|d| DeliveryId::parse(d).ok());
            if let Some(ours) = ours {
                match story(api, &tenant, &ours).await {
                    Ok((history, events)) => {
                        status.insert("history".into(), Value::Array(history));
                        status.insert("events".into(), Value::Array(events));
                    }
                    Err(r) => return r,
                }
            }
            Response::json(200, &Value::Object(status))
        }
        Ok(None) => Response::error(404, "no delivery with this id in the last 7 days"),
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/tenants/{tenant}/rejected`: webhook updates that failed validation, with the
/// findings and suggested fixes.
pub(crate) async fn list_rejected(api: &Api, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    listed(catalog::list_rejected(api.table.as_ref(), &tenant).await)
}

/// `GET /v1/tenants/{tenant}/stats`: the webhook counters and the catalog outcome counters in
/// one object (`{}` before the first delivery) — since the start, or over a window of hours:
/// `?window=1h|24h|7d|30d` (ending now) or `?from=…&to=…` (RFC 3339, at most 93 days).
pub(crate) async fn stats(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let window = match stats_window(api, req) {
        Ok(w) => w,
        Err(message) => return Response::error(400, &message),
    };
    let (webhooks, outcomes) = match window {
        None => (
            tillbridge_sync::stats(api.table.as_ref(), &tenant).await,
            catalog::stats(api.table.as_ref(), &tenant).await,
        ),
        Some((from, to)) => (
            tillbridge_sync::stats_between(api.table.as_ref(), &tenant, from, to).await,
            catalog::stats_between(api.table.as_ref(), &tenant, from, to).await,
        ),
    };
    let mut counters = match webhooks {
        Ok(c) => c,
        Err(e) => return Response::failure(&e),
    };
    match outcomes {
        Ok(c) => counters.extend(c),
        Err(e) => return Response::failure(&e),
    }
    if let Some((from, to)) = window {
        counters.insert("window".into(), json!({ "from": from, "to": to }));
    }
    Response::json(200, &Value::Object(counters))
}

/// The longest stats window: 93 days of hourly buckets.
const MAX_WINDOW_SECS: i64 = 93 * 24 * 3600;

/// The window a stats request asks for, if any.
fn stats_window(
    api: &Api,
    req: &Request<'_>,
) -> Result<Option<(tillbridge_domain::Timestamp, tillbridge_domain::Timestamp)>, String> {
    use tillbridge_domain::Timestamp;
    let now = api.clock.now();
    let parse = |name: &str| -> Result<Option<Timestamp>, String> {
        req.param(name)
            .map(|v| Timestamp::parse_rfc3339(v).map_err(|e| format!("{name}: {e}")))
            .transpose()
    };
    let (from, to) = match (req.param("window"), parse("from")?, parse("to")?) {
        (None, None, None) => return Ok(None),
        (Some(w), None, None) => {
            let secs = match w {
                "1h" => 3600,
                "24h" => 24 * 3600,
                "7d" => 7 * 24 * 3600,
                "30d" => 30 * 24 * 3600,
                _ => return Err("window is one of 1h, 24h, 7d, 30d".into()),
            };
            (now.plus_seconds(-secs), now)
        }
        (None, Some(from), to) => (from, to.unwrap_or(now)),
        (None, None, Some(_)) => return Err("to needs from".into()),
        (Some(_), _, _) => return Err("give window or from/to, not both".into()),
    };
    if to < from {
        return Err("to is before from".into());
    }
    if to.unix_seconds() - from.unix_seconds() > MAX_WINDOW_SECS {
        return Err("the window is at most 93 days".into());
    }
    Ok(Some((from, to)))
}

/// An item id as a query value: unreserved characters as they are, the rest percent-encoded.
fn encode_cursor(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// 200 with the value as JSON, or the failure's status.
fn listed<T: Serialize, E: Classify>(result: Result<T, E>) -> Response {
    match result {
        Ok(v) => Response::json(200, &json!(v)),
        Err(e) => Response::failure(&e),
    }
}

/// 200 with the value, 404 "`what` not found" when absent, or the failure's status.
fn found<T: Serialize, E: Classify>(result: Result<Option<T>, E>, what: &str) -> Response {
    match result {
        Ok(Some(v)) => Response::json(200, &json!(v)),
        Ok(None) => Response::error(404, &format!("{what} not found")),
        Err(e) => Response::failure(&e),
    }
}

/// `POST /v1/tenants/{tenant}/sync/{provider}[?since=RFC3339]`: pulls the tenant's catalog
/// from the vendor's API and applies it — inside the request where a fetcher runs (`serve`:
/// 200 with the report), else queued for the fetch function as a full sync (202).
pub(crate) async fn sync_provider(
    api: &Api,
    req: &Request<'_>,
    tenant: &str,
    provider: &str,
) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(provider) = provider.parse::<tillbridge_domain::Provider>() else {
        return Response::error(404, "unknown provider");
    };
    let since = match req.param("since") {
        Some(s) => match tillbridge_domain::Timestamp::parse_rfc3339(s) {
            Ok(t) => Some(t),
            Err(e) => return Response::error(400, &format!("since: {e}")),
        },
        None => None,
    };
    if let Some(syncs) = &api.syncs {
        tracing::info!(operator = %req.operator, tenant = %tenant, provider = %provider, "sync requested");
        return match syncs.sync(&tenant, provider, since).await {
            Ok(report) => Response::json(200, &report),
            Err((status, message)) => Response::error(status, &message),
        };
    }
    let now = api.clock.now();
    let Ok(correlation) = tillbridge_domain::CorrelationId::parse(&format!(
        "sync-{provider}-{}",
        now.unix_nanos().max(0)
    )) else {
        return Response::error(500, "internal error");
    };
    let event = tillbridge_domain::Envelope {
        event_id: tillbridge_domain::event::derive_event_id(
            &format!("sync/{tenant}/{provider}/{}", now.unix_nanos()),
            0,
        ),
        entity_id: "catalog".into(),
        body: tillbridge_domain::EventData::FetchRequested(
            tillbridge_domain::event::FetchRequested {
                object_type: "catalog".into(),
                object_id: Some("*".into()),
                change: tillbridge_domain::event::Change::Updated,
                vendor_event: tillbridge_domain::event::OPERATOR_SYNC.into(),
            },
        ),
        schema_version: tillbridge_domain::event::SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: Some(provider),
        occurred_at: now,
        received_at: now,
        correlation_id: correlation,
        delivery_key: None,
    };
    match tillbridge_ports::publish(api.bus.as_ref(), std::slice::from_ref(&event)).await {
        Ok(()) => Response::json(
            202,
            &json!({ "queued": true, "event_id": event.event_id, "tenant": tenant, "provider": provider }),
        ),
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/tenants/{tenant}/deliveries/{id}`: a delivery's story by our delivery id (the
/// `delivery_id` of the 202): received → published / duplicate / quarantined / unhandled
/// (→ replayed), and what the catalog did with each event it became.
pub(crate) async fn get_delivery_by_id(api: &Api, tenant: &str, id: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(delivery) = DeliveryId::parse(id) else {
        return Response::error(404, "no delivery with this id in the last 7 days");
    };
    let (history, events) = match story(api, &tenant, &delivery).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if history.is_empty() {
        return Response::error(404, "no delivery with this id in the last 7 days");
    }
    let field = |name: &str| {
        history
            .iter()
            .find_map(|s| s.get(name).filter(|v| !v.is_null()).cloned())
            .unwrap_or(Value::Null)
    };
    let state = history
        .last()
        .and_then(|s| s.get("step"))
        .cloned()
        .unwrap_or(Value::Null);
    Response::json(
        200,
        &json!({
            "delivery_id": delivery,
            "provider": field("provider"),
            "vendor_delivery_key": field("vendor_delivery_key"),
            "state": state,
            "history": history,
            "events": events,
        }),
    )
}

/// A delivery's steps and, for each event it became, the catalog's outcome.
async fn story(
    api: &Api,
    tenant: &TenantId,
    delivery: &DeliveryId,
) -> Result<(Vec<Value>, Vec<Value>), Response> {
    let steps = tillbridge_sync::trail::history(api.table.as_ref(), tenant, delivery)
        .await
        .map_err(|e| Response::failure(&e))?;
    let mut events = Vec::new();
    for step in &steps {
        let Some(list) = step.get("events").and_then(Value::as_array) else {
            continue;
        };
        for e in list {
            let mut e = e.as_object().cloned().unwrap_or_default();
            let id = e
                .get("event_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let outcome = catalog::event_outcome(api.table.as_ref(), tenant, &id)
                .await
                .map_err(|e| Response::failure(&e))?;
            match outcome {
                Some(o) => e.extend(o),
                None => {
                    e.insert("outcome".into(), json!("pending"));
                }
            }
            events.push(Value::Object(e));
        }
    }
    Ok((steps.into_iter().map(Value::Object).collect(), events))
}

/// The "replayed" step of a delivery's story, with who replayed it; best effort.
async fn replayed_step(api: &Api, tenant: &TenantId, delivery: &DeliveryId, operator: &str) {
    let step = tillbridge_sync::trail::record(
        api.table.as_ref(),
        tenant,
        delivery,
        api.clock.now(),
        "replayed",
        json!({ "operator": operator }),
    );
    if let Err(e) = step.await {
        tracing::warn!(tenant = %tenant, delivery_id = %delivery, error = %e, "could not record the replay");
    }
}

/// `GET /v1/tenants/{tenant}/fetches`: what thin webhooks announced, newest request per object;
/// a vendor with API credentials fetches these on its own, the others wait for an operator
/// (`POST …/sync/{provider}` once credentials are set).
pub(crate) async fn fetches(api: &Api, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match catalog::fetch_requests(api.table.as_ref(), &tenant).await {
        Ok(list) => Response::json(200, &json!({ "requests": list })),
        Err(e) => Response::failure(&e),
    }
}

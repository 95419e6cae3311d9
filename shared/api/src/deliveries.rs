//! The delivery log (`GET /v1/tenants/{tenant}/deliveries`) and the per-provider delivery
//! stats against their SLA targets (`GET /v1/tenants/{tenant}/stats/providers`).

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tillbridge_catalog as catalog;
use tillbridge_domain::{DeliveryId, TenantId, Timestamp};
use tillbridge_sync::deliveries::{self, Position};

use crate::{Api, Request, Response, known_tenant};

/// The largest page of the delivery log.
pub const MAX_LOG_PAGE: usize = 200;

/// The outcomes a delivery-log row can have (the `outcome` filter's values).
pub const OUTCOMES: [&str; 9] = [
    "received",
    "published",
    "applied",
    "stale",
    "rejected",
    "quarantined",
    "duplicate",
    "unhandled",
    "replayed",
];

/// How many shard rounds (each [`tillbridge_ports::table::COUNTER_SHARDS`] queries) and
/// deliveries one request may read before it answers with what it has and a cursor.
const MAX_ROUNDS: usize = 48;
const MAX_EXAMINED: usize = 2_000;
/// Events of one delivery whose apply outcome is looked up to name the delivery's outcome.
const MAX_EVENTS_LOOKED_UP: usize = 25;

/// The delivery-success SLA targets per provider, in percent of deliveries processed
/// (published, duplicate or unhandled) over those received: the defaults of the
/// `<Provider>SlaPercent` parameters of infra/template.yaml, whose alarms use them (a test
/// keeps the two equal). Providers not listed have no target.
pub const SLA_TARGETS: [(&str, &str); 3] =
    [("square", "99"), ("shopify", "98.5"), ("zettle", "98")];

fn opaque(pos: &Position) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pos.to_text())
}

fn unopaque(cursor: &str) -> Option<Position> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    Position::parse(std::str::from_utf8(&bytes).ok()?)
}

/// A delivery's state (its last step) and outcome, derived from its story: the signature
/// check's verdict, and for a published delivery what applying its events did (`rejected` or
/// `stale` when any event was, `applied` when every looked-up event was applied, `published`
/// while one is pending).
async fn outcome_of(
    api: &Api,
    tenant: &TenantId,
    receipt: &Map<String, Value>,
) -> Result<Map<String, Value>, Response> {
    let id = receipt
        .get("delivery_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut row = Map::new();
    row.insert("delivery_id".into(), json!(id));
    row.insert(
        "received_at".into(),
        receipt.get("at").cloned().unwrap_or(Value::Null),
    );
    for k in ["provider", "bytes"] {
        row.insert(k.into(), receipt.get(k).cloned().unwrap_or(Value::Null));
    }
    let steps = match DeliveryId::parse(id) {
        Ok(d) => tillbridge_sync::trail::recorded(api.table.as_ref(), tenant, &d)
            .await
            .map_err(|e| Response::failure(&e))?,
        Err(_) => Vec::new(),
    };
    let state = steps
        .last()
        .and_then(|s| s.get("step"))
        .and_then(Value::as_str)
        .unwrap_or("received")
        .to_owned();
    let key = steps
        .iter()
        .find_map(|s| s.get("vendor_delivery_key").filter(|v| !v.is_null()))
        .cloned()
        .unwrap_or(Value::Null);
    let mut outcome = state.clone();
    if state == "published" {
        let events: Vec<String> = steps
            .last()
            .and_then(|s| s.get("events"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("event_id").and_then(Value::as_str).map(str::to_owned))
            .take(MAX_EVENTS_LOOKED_UP)
            .collect();
        let (mut pending, mut stale, mut rejected) = (false, false, false);
        for e in &events {
            let o = catalog::event_outcome(api.table.as_ref(), tenant, e)
                .await
                .map_err(|e| Response::failure(&e))?;
            match o
                .as_ref()
                .and_then(|o| o.get("outcome"))
                .and_then(Value::as_str)
            {
                None => pending = true,
                Some("stale") => stale = true,
                Some("rejected") => rejected = true,
                Some(_) => {}
            }
        }
        outcome = if rejected {
            "rejected"
        } else if stale {
            "stale"
        } else if pending || events.is_empty() {
            "published"
        } else {
            "applied"
        }
        .to_owned();
    }
    if let Some(reason) = steps
        .iter()
        .rev()
        .find(|s| s.get("step").and_then(Value::as_str) == Some("quarantined"))
        .and_then(|s| s.get("reason"))
    {
        row.insert("reason".into(), reason.clone());
    }
    row.insert("state".into(), json!(state));
    row.insert("outcome".into(), json!(outcome));
    row.insert("vendor_delivery_key".into(), key);
    Ok(row)
}

/// `GET /v1/tenants/{tenant}/deliveries`: the tenant's deliveries received in a window
/// (default the last 24 hours), oldest first, each with its provider, state and outcome,
/// filtered by provider and outcome; `next_cursor` (and a `Link` header) continues.
pub(crate) async fn list(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = api.clock.now();
    let parse = |name: &str| -> Result<Option<Timestamp>, Response> {
        req.param(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                Timestamp::parse_rfc3339(v)
                    .map_err(|e| Response::error(400, &format!("{name}: {e}")))
            })
            .transpose()
    };
    let to = match parse("to") {
        Ok(t) => t.unwrap_or(now),
        Err(r) => return r,
    };
    let from = match parse("from") {
        Ok(f) => f.unwrap_or(to.plus_seconds(-24 * 3600)),
        Err(r) => return r,
    };
    if to < from {
        return Response::error(400, "to is before from");
    }
    if to.unix_seconds() - from.unix_seconds() > tillbridge_sync::trail::TRAIL_TTL_SECS {
        return Response::error(
            400,
            "the window is at most 7 days (deliveries are kept 7 days)",
        );
    }
    let limit = match req
        .param("limit")
        .filter(|v| !v.is_empty())
        .map(str::parse::<usize>)
    {
        None => 50,
        Some(Ok(n)) if (1..=MAX_LOG_PAGE).contains(&n) => n,
        Some(_) => return Response::error(400, "limit is a number from 1 to 200"),
    };
    let provider = req.param("provider").filter(|p| !p.is_empty());
    let outcome = req
        .param("outcome")
        .filter(|o| !o.is_empty() && *o != "all");
    if let Some(o) = outcome
        && !OUTCOMES.contains(&o)
    {
        return Response::error(400, &format!("outcome is one of {}", OUTCOMES.join(", ")));
    }
    let mut pos = match req.param("cursor").filter(|c| !c.is_empty()) {
        Some(c) => match unopaque(c) {
            Some(p) => Some(p),
            None => return Response::error(400, "cursor is not one this route gave"),
        },
        None => Some(Position::from(from)),
    };
    let mut rows: Vec<Value> = Vec::new();
    let (mut rounds, mut examined) = (0, 0);
    'read: while let Some(p) = pos.take() {
        if rounds >= MAX_ROUNDS || examined >= MAX_EXAMINED {
            pos = Some(p);
            break;
        }
        rounds += 1;
        let (receipts, next) =
            match deliveries::scan(api.table.as_ref(), &tenant, &p, to, limit + 1).await {
                Ok(r) => r,
                Err(e) => return Response::failure(&e),
            };
        pos = next;
        for r in receipts {
            examined += 1;
            let id = r
                .get("delivery_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if provider.is_some_and(|p| r.get("provider").and_then(Value::as_str) != Some(p)) {
                continue;
            }
            let row = match outcome_of(api, &tenant, &r).await {
                Ok(row) => row,
                Err(resp) => return resp,
            };
            if outcome.is_some_and(|o| row.get("outcome").and_then(Value::as_str) != Some(o)) {
                continue;
            }
            rows.push(Value::Object(row));
            if rows.len() == limit {
                // Continue after this row (the rest of this round is read again).
                pos = Position::after_id(&id);
                break 'read;
            }
        }
    }
    let next = pos.as_ref().map(opaque);
    let mut resp = Response::json(
        200,
        &json!({
            "from": from,
            "to": to,
            "deliveries": rows,
            "next_cursor": next,
        }),
    );
    if let Some(c) = &next {
        let mut link = format!("/v1/tenants/{tenant}/deliveries?limit={limit}&cursor={c}");
        for (k, v) in [("provider", provider), ("outcome", outcome)] {
            if let Some(v) = v {
                link.push_str(&format!("&{k}={}", crate::console::enc(v)));
            }
        }
        link.push_str(&format!("&to={}", crate::console::enc(&to.to_string())));
        resp.headers
            .push(("link", format!("<{link}>; rel=\"next\"")));
    }
    resp
}

/// `GET /v1/tenants/{tenant}/stats/providers?window=`: per provider, the deliveries by
/// outcome over the window (the hourly counters of the signature check and the catalog),
/// the delivery success rate (published, duplicate or unhandled over those plus quarantined,
/// as the SLA alarms count it) and the provider's SLA target.
pub(crate) async fn provider_stats(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    use rust_decimal::Decimal;
    let tenant_id = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = api.clock.now();
    let (label, secs) = match req.param("window").unwrap_or("24h") {
        "1h" => ("1h", 3600),
        "24h" => ("24h", 24 * 3600),
        "7d" => ("7d", 7 * 24 * 3600),
        "30d" => ("30d", 30 * 24 * 3600),
        _ => return Response::error(400, "window is one of 1h, 24h, 7d, 30d"),
    };
    let from = now.plus_seconds(-secs);
    let mut counters =
        match tillbridge_sync::stats_between(api.table.as_ref(), &tenant_id, from, now).await {
            Ok(c) => c,
            Err(e) => return Response::failure(&e),
        };
    match catalog::stats_between(api.table.as_ref(), &tenant_id, from, now).await {
        Ok(c) => counters.extend(c),
        Err(e) => return Response::failure(&e),
    }
    // Providers: the tenant's configured ones and any that has counters in the window.
    let mut providers: Vec<String> = match api.directory.tenant(&tenant_id).await {
        Ok(Some(t)) => t.providers.keys().map(|p| p.as_str().to_owned()).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Response::failure(&e),
    };
    for k in counters.keys() {
        if let Some((p, _)) = k.split_once('.')
            && !providers.iter().any(|x| x == p)
        {
            providers.push(p.to_owned());
        }
    }
    providers.sort();
    let n = |p: &str, what: &str| {
        counters
            .get(&format!("{p}.{what}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let rows: Vec<Value> = providers
        .iter()
        .map(|p| {
            let ok = n(p, "published") + n(p, "duplicates") + n(p, "unhandled");
            let received = ok + n(p, "quarantined");
            let rate = (received > 0).then(|| {
                (Decimal::from(ok) * Decimal::from(100) / Decimal::from(received)).round_dp(2)
            });
            let target = SLA_TARGETS
                .iter()
                .find(|(name, _)| name == p)
                .and_then(|(_, t)| t.parse::<Decimal>().ok());
            let met = match (rate, target) {
                (Some(r), Some(t)) => json!(r >= t),
                _ => Value::Null,
            };
            json!({
                "provider": p,
                "received": received,
                "published": n(p, "published"),
                "duplicates": n(p, "duplicates"),
                "unhandled": n(p, "unhandled"),
                "quarantined": n(p, "quarantined"),
                "applied": n(p, "applied"),
                "stale": n(p, "stale"),
                "rejected": n(p, "rejected"),
                "success_percent": rate.map(|r| r.to_string()),
                "sla_target_percent": target.map(|t| t.to_string()),
                "sla_met": met,
            })
        })
        .collect();
    Response::json(
        200,
        &json!({ "window": label, "from": from, "to": now, "providers": rows }),
    )
}

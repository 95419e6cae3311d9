//! api: the management API behind API Gateway. Finance routes:
//! `GET /v1/costs?period=YYYY-MM` (all tenants) and
//! `GET /v1/tenants/{tenant}/costs?period=…&group_by=model|operation|migration|day`,
//! JSON by default, CSV with `Accept: text/csv` or `?format=csv`. Migration routes
//! (`/v1/migrations…`, see `tillbridge_pipeline::migration::http`): start, review and
//! override mappings, approve, pause, resume, cancel, roll back, reports and the audit.

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use tillbridge_costs::PriceBook;
use tillbridge_costs::table::Budgets;
use tillbridge_domain::TenantId;
use tillbridge_pipeline::finance;
use tillbridge_pipeline::migration::http;
use tillbridge_ports::tenants::TableDirectory;
use tillbridge_ports::{BlobStore, Clock, EventBus, Table, TenantDirectory};
use tracing::error;

pub struct Api {
    pub table: std::sync::Arc<dyn Table>,
    pub directory: TableDirectory,
    /// Parsed on the first finance request (about 1 ms of JSON a migration request never needs).
    pub prices: std::sync::LazyLock<PriceBook>,
    pub blobs: std::sync::Arc<dyn BlobStore>,
    pub bus: std::sync::Arc<dyn EventBus>,
    pub clock: std::sync::Arc<dyn Clock>,
}

/// Who is calling: the IAM principal API Gateway authenticated (the management routes use
/// AWS_IAM authorization), else the operator header (tests, local tools).
fn operator(req: &Request) -> String {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(arn) = ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone())
    {
        return arn;
    }
    req.headers()
        .get("x-tillbridge-operator")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty() && v.len() <= 200)
        .unwrap_or("anonymous")
        .to_owned()
}

async fn migrations(api: &Api, req: &Request) -> Option<Response<Body>> {
    if !req.uri().path().starts_with("/v1/migrations") {
        return None;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let query: Vec<(String, String)> = req
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let operator = operator(req);
    let r = http::route(
        &http::Api {
            table: api.table.as_ref(),
            blobs: api.blobs.as_ref(),
            bus: api.bus.as_ref(),
            directory: &api.directory,
            clock: api.clock.as_ref(),
        },
        &http::Request {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: &query,
            content_type: header("content-type"),
            idempotency_key: header("idempotency-key"),
            operator: &operator,
            correlation_id: header("x-correlation-id"),
            body: req.body().as_ref(),
        },
    )
    .await?;
    Some(
        Response::builder()
            .status(r.status)
            .header("content-type", r.content_type)
            .body(Body::Binary(r.body))
            .unwrap_or_else(|_| Response::new(Body::Empty)),
    )
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Text(String::new())))
}

fn json_reply(status: u16, v: serde_json::Value) -> Response<Body> {
    respond(status, "application/json", v.to_string())
}

fn internal(e: impl std::fmt::Display) -> Response<Body> {
    error!(error = %e, "request failed");
    json_reply(500, json!({ "error": "internal error" }))
}

/// Answers one request; every outcome is an HTTP response.
pub async fn handle(api: &Api, req: Request) -> Response<Body> {
    if let Some(r) = migrations(api, &req).await {
        return r;
    }
    let query = req.query_string_parameters();
    let csv = query.first("format") == Some("csv")
        || req
            .headers()
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"));
    let period = match finance::period_param(query.first("period")) {
        Ok(p) => Some(p),
        Err(m) => return json_reply(400, json!({ "error": m })),
    };
    let period = period.unwrap_or_default();
    let path: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    if req.method() != "GET" {
        return json_reply(405, json!({ "error": "method not allowed" }));
    }
    match path.as_slice() {
        ["v1", "costs"] => {
            let tenants = match api.directory.tenant_ids().await {
                Ok(t) => t,
                Err(e) => return internal(e),
            };
            match finance::cost_table(
                api.table.as_ref(),
                &tenants,
                &api.prices,
                &period,
                &Budgets::default(),
            )
            .await
            {
                Ok(t) if csv => respond(200, "text/csv; charset=utf-8", t.to_csv()),
                Ok(t) => json_reply(200, json!(t.rendered())),
                Err(e) => internal(e),
            }
        }
        ["v1", "tenants", tenant, "costs"] => {
            let known = match TenantId::parse(tenant) {
                Ok(id) => match api.directory.tenant(&id).await {
                    Ok(Some(_)) => Some(id),
                    Ok(None) => None,
                    Err(e) => return internal(e),
                },
                Err(_) => None,
            };
            let Some(tenant) = known else {
                return json_reply(404, json!({ "error": "tenant not found" }));
            };
            let group = query.first("group_by").unwrap_or("model").to_owned();
            if !finance::GROUPS.contains(&group.as_str()) {
                return json_reply(
                    400,
                    json!({ "error": "group_by is one of model, operation, migration, day" }),
                );
            }
            match finance::tenant_costs(api.table.as_ref(), &api.prices, &tenant, &period, &group)
                .await
            {
                Ok(rows) if csv => respond(
                    200,
                    "text/csv; charset=utf-8",
                    finance::grouped_csv(&group, &rows),
                ),
                Ok(rows) => json_reply(
                    200,
                    json!({ "tenant_id": tenant, "period": period, "group_by": group, "rows": rows }),
                ),
                Err(e) => internal(e),
            }
        }
        _ => json_reply(404, json!({ "error": "no such route" })),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use lambda_http::http;
    use tillbridge_domain::event::UsageRecorded;
    use tillbridge_domain::{CorrelationId, Currency, Timestamp};
    use tillbridge_pipeline::accounting;
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::bus::LocalBus;
    use tillbridge_ports::memory::MemoryTable;
    use tillbridge_ports::tenants::TenantConfig;

    use super::*;

    async fn api() -> Api {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        let directory = TableDirectory::new(table.clone(), Duration::from_secs(60));
        for t in ["acme", "bistro"] {
            let config = TenantConfig {
                tenant_id: TenantId::parse(t).unwrap_or_else(|e| panic!("{e}")),
                currency: Currency::USD,
                providers: Default::default(),
                max_body_bytes: None,
            };
            directory
                .put(&config)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let bus = LocalBus::new(Vec::new(), clock);
        let at = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
        let usage = UsageRecorded {
            request_id: "r1".into(),
            migration_id: None,
            operation: "mapping.suggest".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input_tokens: 400_000,
            output_tokens: 1_000,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
        };
        let e = accounting::usage_event(
            &TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            usage,
            at,
            &CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
        );
        accounting::record_usage(table.as_ref(), &bus, &PriceBook::bundled(), &e)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Api {
            table,
            directory,
            prices: std::sync::LazyLock::new(PriceBook::bundled),
            blobs: Arc::new(tillbridge_ports::memory::MemoryBlobStore::default()),
            bus: Arc::new(tillbridge_ports::memory::RecordingBus::default()),
            clock: Arc::new(ManualClock::new(at)),
        }
    }

    fn get(uri: &str, accept: Option<&str>) -> Request {
        let mut b = http::Request::builder().method("GET").uri(uri);
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        let query: std::collections::HashMap<String, String> = uri
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        b.body(Body::Empty)
            .unwrap_or_default()
            .with_query_string_parameters(query)
    }

    fn text(r: &Response<Body>) -> String {
        String::from_utf8_lossy(r.body().as_ref()).into_owned()
    }

    #[tokio::test]
    async fn finance_routes_answer_json_and_csv() {
        let api = api().await;
        let r = handle(&api, get("/v1/costs?period=2026-03", None)).await;
        assert_eq!(r.status(), 200);
        let rows: serde_json::Value = serde_json::from_str(&text(&r)).unwrap_or_default();
        // 400k input at $2.50/MTok + 1k output at $10/MTok = $1.01; only acme has usage.
        assert_eq!(rows.as_array().map(Vec::len), Some(1));
        assert_eq!(rows[0]["cost_usd"], "1.010000");
        assert_eq!(rows[0]["infra_cost_usd"], "0.000000");
        let csv = handle(&api, get("/v1/costs?period=2026-03", Some("text/csv"))).await;
        assert!(text(&csv).starts_with("tenant_id,requests,"));
        let by_model = handle(
            &api,
            get(
                "/v1/tenants/acme/costs?period=2026-03&group_by=model&format=csv",
                None,
            ),
        )
        .await;
        assert!(
            text(&by_model).contains("gpt-4o,1,400000,0,0,1000,1.010000,0"),
            "{}",
            text(&by_model)
        );
        assert_eq!(
            handle(&api, get("/v1/tenants/nobody/costs?period=2026-03", None))
                .await
                .status(),
            404
        );
        assert_eq!(
            handle(&api, get("/v1/costs?period=March", None))
                .await
                .status(),
            400
        );
        assert_eq!(handle(&api, get("/v1/costs", None)).await.status(), 400);
        assert_eq!(
            handle(&api, get("/v1/elsewhere?period=2026-03", None))
                .await
                .status(),
            404
        );
    }

    #[tokio::test]
    async fn migration_routes_start_show_and_refuse() {
        let bus = Arc::new(tillbridge_ports::memory::RecordingBus::default());
        let api = Api {
            bus: bus.clone(),
            ..api().await
        };
        let body = r#"{"tenant_id":"acme","source_name":"square","export":[{"id":"a1","name":"Latte","price":"4.50"}]}"#;
        let post = http::Request::builder()
            .method("POST")
            .uri("/v1/migrations")
            .header("content-type", "application/json")
            .header("x-tillbridge-operator", "ana@ops")
            .header("idempotency-key", "first")
            .body(Body::Text(body.into()))
            .unwrap_or_default();
        let r = handle(&api, post).await;
        assert_eq!(r.status(), 202, "{}", text(&r));
        let m: serde_json::Value = serde_json::from_str(&text(&r)).unwrap_or_default();
        assert_eq!(m["status"], "pending");
        assert_eq!(m["created_by"], "ana@ops");
        let published = bus.published();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].event_type().as_str(), "migration.requested");

        let id = m["id"].as_str().unwrap_or_default();
        let shown = handle(&api, get(&format!("/v1/migrations/{id}"), None)).await;
        assert_eq!(shown.status(), 200);
        assert!(text(&shown).contains("\"percent\":0"));
        let report = handle(&api, get(&format!("/v1/migrations/{id}/report"), None)).await;
        assert_eq!(report.status(), 404, "no report before validation");
        let approve = http::Request::builder()
            .method("POST")
            .uri(format!("/v1/migrations/{id}/approve"))
            .body(Body::Empty)
            .unwrap_or_default();
        assert_eq!(handle(&api, approve).await.status(), 409);
        let unknown = handle(
            &api,
            http::Request::builder()
                .method("POST")
                .uri("/v1/migrations")
                .body(Body::Text(
                    r#"{"tenant_id":"nobody","source_name":"x","export":[]}"#.into(),
                ))
                .unwrap_or_default(),
        )
        .await;
        assert_eq!(unknown.status(), 404);
    }
}

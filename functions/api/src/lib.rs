//! api: the management API behind API Gateway (IAM-authorized). Every route is
//! `tillbridge_api`'s one router ([`tillbridge_api::ROUTES`]), the same code `tillbridge
//! serve` answers with; this crate only turns a lambda_http request into a
//! [`tillbridge_api::Request`] and the answer back.

use lambda_http::{Body, Request, RequestExt, Response};
pub use tillbridge_api::Api;

/// Who is calling: the IAM principal API Gateway authenticated (the management routes use
/// AWS_IAM authorization). Never a header or a body field: those anyone can set.
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
    "anonymous".to_owned()
}

/// Answers one request; every outcome is an HTTP response.
pub async fn handle(api: &Api, req: Request) -> Response<Body> {
    let query: Vec<(String, String)> = req
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let operator = operator(&req);
    let r = tillbridge_api::handle(
        api,
        &tillbridge_api::Request {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: &query,
            headers: &headers,
            operator: &operator,
            body: req.body().as_ref(),
        },
    )
    .await;
    let mut builder = Response::builder()
        .status(r.status)
        .header("content-type", r.content_type);
    for (name, value) in r.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::Binary(r.body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use lambda_http::http;
    use tillbridge_accounting as accounting;
    use tillbridge_costs::PriceBook;
    use tillbridge_domain::TenantId;
    use tillbridge_domain::event::UsageRecorded;
    use tillbridge_domain::{CorrelationId, Currency, Timestamp};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::Table;
    use tillbridge_ports::bus::LocalBus;
    use tillbridge_ports::memory::MemoryTable;
    use tillbridge_ports::tenants::TableDirectory;
    use tillbridge_ports::tenants::TenantConfig;

    use super::*;

    async fn api() -> Api {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        let directory = TableDirectory::new(table.clone(), Duration::from_secs(60));
        for t in ["acme", "bistro"] {
            let config = TenantConfig::new(
                TenantId::parse(t).unwrap_or_else(|e| panic!("{e}")),
                Currency::USD,
            );
            directory
                .put(&config)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let inbound = Arc::new(tillbridge_ports::TableQueue::new(
            "inbound",
            table.clone(),
            clock.clone(),
        ));
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
            secrets: Arc::new(tillbridge_ports::tenants::StaticDirectory::default()),
            directory: Arc::new(directory),
            prices: std::sync::LazyLock::new(Box::new(|| Arc::new(PriceBook::bundled()))),
            blobs: Arc::new(tillbridge_ports::memory::MemoryBlobStore::default()),
            bus: Arc::new(tillbridge_ports::memory::RecordingBus::default()),
            inbound,
            clock: Arc::new(ManualClock::new(at)),
            admins: vec!["ana@ops".into()],
            syncs: None,
            dead_letters: Vec::new(),
        }
    }

    /// A GET by the administrator `ana@ops`.
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
        let req = b
            .body(Body::Empty)
            .unwrap_or_default()
            .with_query_string_parameters(query);
        as_principal(req, "ana@ops")
    }

    /// The request as API Gateway passes it on after IAM authorization of `arn`.
    fn as_principal(req: Request, arn: &str) -> Request {
        use lambda_http::aws_lambda_events::apigw::{
            ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
            ApiGatewayV2httpRequestContext,
        };
        let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
        iam.user_arn = Some(arn.to_owned());
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.iam = Some(iam);
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.authorizer = Some(authorizer);
        req.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(ctx))
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
            .header("idempotency-key", "first")
            .body(Body::Text(body.into()))
            .unwrap_or_default();
        // An operator header is ignored in the cloud: only the IAM principal counts.
        let mut post = as_principal(post, "ana@ops");
        post.headers_mut().insert(
            "x-tillbridge-operator",
            http::HeaderValue::from_static("mallory"),
        );
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
        assert_eq!(
            handle(&api, as_principal(approve, "ana@ops"))
                .await
                .status(),
            409
        );
        let unknown = handle(
            &api,
            http::Request::builder()
                .method("POST")
                .uri("/v1/migrations")
                .body(Body::Text(
                    r#"{"tenant_id":"nobody","source_name":"x","export":[]}"#.into(),
                ))
                .map(|r| as_principal(r, "ana@ops"))
                .unwrap_or_default(),
        )
        .await;
        assert_eq!(unknown.status(), 404);
    }
}

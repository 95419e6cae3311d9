//! `tillbridge serve`: the deployed API Gateway's routes, backed by the embedded store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;
use tillbridge_costs::table::Budgets;
use tillbridge_costs::{CostTable, PriceBook};
use tillbridge_domain::TenantId;
use tillbridge_embedded::Embedded;
use tillbridge_pipeline::ingress::IngressRequest;
use tillbridge_pipeline::local::LocalRuntime;
use tillbridge_pipeline::quarantine;
use tillbridge_pipeline::{accounting, catalog, finance};
use tillbridge_ports::SystemClock;
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_webhooks::Headers;
use tracing::info;

use crate::{Failure, Outcome};

/// API Gateway HTTP APIs accept at most 10 MB; tenants may set a lower cap.
pub const MAX_HTTP_BODY: usize = 10 * 1024 * 1024;

/// Tenants used when none are given: the demo's, with their published test secrets.
pub const SAMPLE_TENANTS: &str = include_str!("../../../samples/tenants.json");

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// State directory (table file and blobs); survives restarts.
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (JSON, CLI.md); default: STATE/tenants.json, else the bundled samples.
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Seconds a message being processed stays invisible; after a crash it is redelivered then.
    #[arg(long, default_value_t = 30)]
    visibility_timeout_secs: u64,
    /// Log format on stderr.
    #[arg(long, default_value = "json", value_parser = ["json", "text"])]
    log_format: String,
    /// Where state lives: the embedded store in --state, or AWS — DynamoDB `TABLE_NAME` and
    /// S3 `BUCKET_NAME`, endpoint from `AWS_ENDPOINT_URL` (an emulator) or the default chain.
    #[arg(long, default_value = "embedded", value_parser = ["embedded", "aws"])]
    backend: String,
}

pub fn run(a: Args) -> Outcome {
    init_logging(&a.log_format);
    let directory = load_tenants(a.tenants.as_deref(), &a.state)?;
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let mut runtime = if a.backend == "aws" {
            open_aws_runtime(directory).await?
        } else {
            open_runtime(&a.state, directory)?
        };
        load_budgets(&runtime).await?;
        runtime.visibility = std::time::Duration::from_secs(a.visibility_timeout_secs.max(1));
        let runtime = Arc::new(runtime);
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {}: {e}", a.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| Failure::usage(e.to_string()))?;
        println!("listening on http://{local}");
        info!(addr = %local, state = %a.state.display(), "serving");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let workers = tokio::spawn(runtime.clone().run_workers(stop_rx));
        axum::serve(listener, router(runtime))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Failure::usage(format!("server failed: {e}")))?;
        let _ = stop_tx.send(true);
        let _ = workers.await;
        info!("stopped");
        Ok(())
    })
}

pub fn load_tenants(file: Option<&Path>, state: &Path) -> Result<Arc<StaticDirectory>, Failure> {
    let in_state = state.join("tenants.json");
    let text = match file {
        Some(f) => std::fs::read_to_string(f).map_err(|e| {
            Failure::usage(format!("cannot read tenants file {}: {e}", f.display()))
        })?,
        None if in_state.exists() => std::fs::read_to_string(&in_state)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", in_state.display())))?,
        None => {
            eprintln!(
                "note: no --tenants given; using the bundled sample tenants (test secrets only)"
            );
            SAMPLE_TENANTS.to_owned()
        }
    };
    StaticDirectory::from_json(&text)
        .map(Arc::new)
        .map_err(|e| Failure::usage(e.to_string()))
}

pub fn open_runtime(
    state: &Path,
    directory: Arc<StaticDirectory>,
) -> Result<LocalRuntime, Failure> {
    let clock = Arc::new(SystemClock);
    let store = Embedded::open(state, clock.clone()).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(LocalRuntime::new(
        store.table,
        store.blobs,
        directory,
        clock,
    ))
}

/// The same runtime on the AWS adapters: the table in DynamoDB, blobs in S3 (the queues and
/// the bus are built on the table, as on the embedded store).
pub async fn open_aws_runtime(directory: Arc<StaticDirectory>) -> Result<LocalRuntime, Failure> {
    use tillbridge_aws::{DynamoTable, S3Blobs, load_config, required_env, s3_client};
    let config = load_config().await;
    let clock = Arc::new(SystemClock);
    let table = Arc::new(DynamoTable::new(
        tillbridge_aws::dynamodb_client(&config),
        required_env("TABLE_NAME").map_err(Failure::usage)?,
        clock.clone(),
    ));
    let blobs = Arc::new(S3Blobs::new(
        s3_client(&config),
        required_env("BUCKET_NAME").map_err(Failure::usage)?,
    ));
    Ok(LocalRuntime::new(table, blobs, directory, clock))
}

/// Loads the tenants' monthly budgets from the tenants file into the store.
pub async fn load_budgets(rt: &LocalRuntime) -> Result<(), Failure> {
    for (tenant, text) in &rt.directory.budgets {
        let amount = tillbridge_domain::money::parse_decimal(text).ok_or_else(|| {
            Failure::usage(format!("budget of {tenant}: {text:?} is not an amount"))
        })?;
        accounting::set_budget(rt.table.as_ref(), tenant, amount)
            .await
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    Ok(())
}

/// The per-tenant cost table of a month from the store's ledger aggregates.
pub async fn cost_table(
    rt: &LocalRuntime,
    book: &PriceBook,
    period: &str,
    budgets: &Budgets,
) -> Result<CostTable, tillbridge_pipeline::PipelineError> {
    finance::cost_table(
        rt.table.as_ref(),
        &rt.directory.tenant_ids(),
        book,
        period,
        budgets,
    )
    .await
}

/// `tillbridge costs table --state DIR`: the same table from serve's embedded store.
pub fn store_cost_table(
    state: &Path,
    tenants: Option<&Path>,
    book: &PriceBook,
    period: &str,
    budgets: &Budgets,
) -> Result<CostTable, Failure> {
    let directory = load_tenants(tenants, state)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let runtime = open_runtime(state, directory)?;
        load_budgets(&runtime).await?;
        cost_table(&runtime, book, period, budgets)
            .await
            .map_err(|e| Failure::usage(e.to_string()))
    })
}

pub fn router(rt: Arc<LocalRuntime>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({ "status": "ok" })) }),
        )
        .route("/v1/webhooks/{provider}/{tenant}", post(webhook))
        .route("/v1/tenants/{tenant}/items", get(list_items))
        .route("/v1/tenants/{tenant}/items/{external_id}", get(get_item))
        .route("/v1/tenants/{tenant}/orders/{order_id}", get(get_order))
        .route("/v1/tenants/{tenant}/quarantine", get(list_quarantine))
        .route("/v1/tenants/{tenant}/stats", get(stats))
        .route("/v1/tenants/{tenant}/rejected", get(list_rejected))
        .route("/v1/tenants/{tenant}/usage", post(post_usage))
        .route("/v1/tenants/{tenant}/costs", get(tenant_costs))
        .route("/v1/costs", get(all_costs))
        .route("/v1/migrations", any(migrations))
        .route("/v1/migrations/{*rest}", any(migrations))
        .layer(DefaultBodyLimit::max(MAX_HTTP_BODY))
        .with_state(rt)
}

type Shared = State<Arc<LocalRuntime>>;

fn reply(status: u16, body: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    reply(404, json!({ "error": format!("{what} not found") }))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    reply(500, json!({ "error": "internal error" }))
}

async fn webhook(
    State(rt): Shared,
    UrlPath((provider, tenant)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: Headers = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let r = rt
        .ingress
        .handle(IngressRequest {
            provider: &provider,
            tenant: &tenant,
            headers,
            body: &body,
        })
        .await;
    reply(r.status, r.body)
}

/// The migration routes (shared with the api function): start, review, approve, pause,
/// resume, cancel, roll back, reports. The operator is the `x-tillbridge-operator` header.
async fn migrations(
    State(rt): Shared,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use tillbridge_pipeline::migration::http;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let api = http::Api {
        table: rt.table.as_ref(),
        blobs: rt.blobs.as_ref(),
        bus: rt.bus.as_ref(),
        directory: rt.directory.as_ref(),
        clock: rt.clock.as_ref(),
    };
    let request = http::Request {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        content_type: header("content-type"),
        idempotency_key: header("idempotency-key"),
        operator: header("x-tillbridge-operator").unwrap_or("local"),
        correlation_id: header("x-correlation-id"),
        body: &body,
    };
    match http::route(&api, &request).await {
        Some(r) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(axum::http::header::CONTENT_TYPE, r.content_type)],
            r.body,
        )
            .into_response(),
        None => not_found("route"),
    }
}

/// A known tenant id, or the 404 to answer.
async fn known_tenant(rt: &LocalRuntime, tenant: &str) -> Result<TenantId, Response> {
    let id = TenantId::parse(tenant).map_err(|_| not_found("tenant"))?;
    use tillbridge_ports::TenantDirectory;
    match rt.directory.tenant(&id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(not_found("tenant")),
        Err(e) => Err(internal(e)),
    }
}

async fn get_item(State(rt): Shared, UrlPath((tenant, id)): UrlPath<(String, String)>) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match catalog::get_item(rt.table.as_ref(), &tenant, &id).await {
        Ok(Some(item)) => reply(200, json!(item)),
        Ok(None) => not_found("item"),
        Err(e) => internal(e),
    }
}

async fn list_items(State(rt): Shared, UrlPath(tenant): UrlPath<String>) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match catalog::list_items(rt.table.as_ref(), &tenant).await {
        Ok(items) => reply(200, json!(items)),
        Err(e) => internal(e),
    }
}

async fn get_order(
    State(rt): Shared,
    UrlPath((tenant, id)): UrlPath<(String, String)>,
) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match catalog::get_order(rt.table.as_ref(), &tenant, &id).await {
        Ok(Some(order)) => reply(200, json!(order)),
        Ok(None) => not_found("order"),
        Err(e) => internal(e),
    }
}

async fn list_quarantine(State(rt): Shared, UrlPath(tenant): UrlPath<String>) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match quarantine::list(rt.table.as_ref(), &tenant).await {
        Ok(records) => reply(200, json!(records)),
        Err(e) => internal(e),
    }
}

/// Webhook updates that failed validation, with the findings and suggested fixes.
async fn list_rejected(State(rt): Shared, UrlPath(tenant): UrlPath<String>) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match catalog::list_rejected(rt.table.as_ref(), &tenant).await {
        Ok(records) => reply(200, json!(records)),
        Err(e) => internal(e),
    }
}

async fn stats(State(rt): Shared, UrlPath(tenant): UrlPath<String>) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match rt.table.get(&format!("stats#{tenant}"), "webhooks").await {
        Ok(Some(item)) => reply(200, serde_json::Value::Object(item.attrs)),
        Ok(None) => reply(200, json!({})),
        Err(e) => internal(e),
    }
}

#[derive(serde::Deserialize)]
struct CostQuery {
    period: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
}

fn wants_csv(q: &CostQuery, headers: &HeaderMap) -> bool {
    q.format.as_deref() == Some("csv")
        || headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))
}

fn csv_response(body: String, name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    (
        StatusCode::OK,
        [
            ("content-type", "text/csv; charset=utf-8".to_owned()),
            ("content-disposition", disposition),
        ],
        body,
    )
        .into_response()
}

/// GET /v1/costs?period=YYYY-MM — every tenant, JSON or CSV.
async fn all_costs(State(rt): Shared, Query(q): Query<CostQuery>, headers: HeaderMap) -> Response {
    let period = match finance::period_param(q.period.as_deref()) {
        Ok(p) => p,
        Err(message) => return reply(400, json!({ "error": message })),
    };
    match cost_table(&rt, &rt.prices, &period, &Budgets::default()).await {
        Ok(t) if wants_csv(&q, &headers) => csv_response(t.to_csv(), &format!("costs-{period}")),
        Ok(t) => reply(200, json!(t.rendered())),
        Err(e) => internal(e),
    }
}

/// GET /v1/tenants/{tenant}/costs?period=…&group_by=model|operation|migration|day
async fn tenant_costs(
    State(rt): Shared,
    UrlPath(tenant): UrlPath<String>,
    Query(q): Query<CostQuery>,
    headers: HeaderMap,
) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let period = match finance::period_param(q.period.as_deref()) {
        Ok(p) => p,
        Err(message) => return reply(400, json!({ "error": message })),
    };
    let group = q.group_by.clone().unwrap_or_else(|| "model".into());
    if !finance::GROUPS.contains(&group.as_str()) {
        return reply(
            400,
            json!({ "error": "group_by is one of model, operation, migration, day" }),
        );
    }
    let rows = match finance::tenant_costs(rt.table.as_ref(), &rt.prices, &tenant, &period, &group)
        .await
    {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    if wants_csv(&q, &headers) {
        return csv_response(
            finance::grouped_csv(&group, &rows),
            &format!("costs-{tenant}-{period}-by-{group}"),
        );
    }
    reply(
        200,
        json!({ "tenant_id": tenant, "period": period, "group_by": group, "rows": rows }),
    )
}

/// POST /v1/tenants/{tenant}/usage — a model client reports one call (a usage line of
/// CLI.md); it is published as `ai.usage.recorded` and accounted asynchronously, once per
/// request_id.
async fn post_usage(State(rt): Shared, UrlPath(tenant): UrlPath<String>, body: Bytes) -> Response {
    let tenant = match known_tenant(&rt, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return reply(400, json!({ "error": format!("not JSON: {e}") })),
    };
    let Some(fields) = value.as_object_mut() else {
        return reply(400, json!({ "error": "expected a usage object" }));
    };
    let occurred_at = fields
        .remove("occurred_at")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    fields.remove("tenant_id");
    let Ok(at) = tillbridge_domain::Timestamp::parse_rfc3339(&occurred_at) else {
        return reply(400, json!({ "error": "occurred_at must be RFC 3339" }));
    };
    let usage: tillbridge_domain::event::UsageRecorded = match serde_json::from_value(value) {
        Ok(u) => u,
        Err(e) => return reply(400, json!({ "error": format!("not a usage record: {e}") })),
    };
    let safe_id: String = usage
        .request_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    let Ok(corr) = tillbridge_domain::CorrelationId::parse(&format!("usage-{safe_id}")) else {
        return reply(400, json!({ "error": "request_id is empty" }));
    };
    let event = accounting::usage_event(&tenant, usage, at, &corr);
    match tillbridge_pipeline::signature_check::publish(
        rt.bus.as_ref(),
        std::slice::from_ref(&event),
    )
    .await
    {
        Ok(()) => reply(202, json!({ "event_id": event.event_id })),
        Err(e) => internal(e),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// JSON (default) or text logs on stderr; level from RUST_LOG (default info).
pub fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

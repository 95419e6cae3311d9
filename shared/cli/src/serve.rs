//! `tillbridge serve`: the deployed API Gateway's routes, backed by the embedded store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tillbridge_accounting::{self as accounting, AccountingError, finance};
use tillbridge_api::Api;
use tillbridge_costs::table::Budgets;
use tillbridge_costs::{CostTable, PriceBook};
use tillbridge_domain::TenantId;
use tillbridge_embedded::Embedded;
use tillbridge_local::LocalRuntime;
use tillbridge_ports::SecretStore;
use tillbridge_ports::SystemClock;
use tillbridge_ports::tenants::{StaticDirectory, TableDirectory, Tenants};
use tillbridge_sync::ingress::IngressRequest;
use tillbridge_webhooks::Headers;
use tracing::info;

use crate::{Failure, Outcome};

/// API Gateway HTTP APIs accept at most 10 MB; tenants may set a lower cap.
pub use tillbridge_api::MAX_HTTP_BODY;

/// Tenants used when none are given: the demo's, with their published test secrets.
pub const SAMPLE_TENANTS: &str = include_str!("../../../samples/tenants.json");

// Not a doc comment: clap would turn it into the subcommand's help text.
#[allow(missing_docs)]
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
    /// Who operates this server: the identity the audit records for management requests
    /// that carry no `X-Operator` header (there is no IAM locally).
    #[arg(long, default_value = "local")]
    operator: String,
    /// The operators' tenant: the local alarms (the template's, evaluated on this process's
    /// metrics and dead-letter queues) become its `operations.alarm.changed` notifications.
    /// Empty: no local alarms.
    #[arg(long, default_value = "operations")]
    alarms_tenant: String,
}

/// `tillbridge serve`: the HTTP API and the workers until SIGINT/SIGTERM.
pub fn run(a: Args) -> Outcome {
    init_logging(&a.log_format);
    let directory = load_tenants(a.tenants.as_deref(), &a.state)?;
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let mut runtime = if a.backend == "aws" {
            open_aws_runtime(directory).await?
        } else {
            open_runtime(&a.state, directory).await?
        };
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
        let workers = tokio::spawn(runtime.clone().run_workers(stop_rx.clone()));
        let logs = tokio::spawn(file_log_bytes(runtime.clone()));
        let alarms = if a.alarms_tenant.is_empty() {
            None
        } else {
            let tenant = TenantId::parse(&a.alarms_tenant)
                .map_err(|e| Failure::usage(format!("--alarms-tenant: {e}")))?;
            // Every minute, as CloudWatch; TILLBRIDGE_ALARM_TICK_MS shortens it (tests).
            let tick = std::env::var("TILLBRIDGE_ALARM_TICK_MS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map_or(
                    std::time::Duration::from_secs(60),
                    std::time::Duration::from_millis,
                );
            Some(tokio::spawn(runtime.clone().watch_alarms(
                tenant,
                tick,
                stop_rx.clone(),
            )))
        };
        axum::serve(listener, router(runtime.clone(), &a.operator))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Failure::usage(format!("server failed: {e}")))?;
        let _ = stop_tx.send(true);
        let _ = workers.await;
        if let Some(alarms) = alarms {
            let _ = alarms.await;
        }
        logs.abort();
        file_log_bytes_once(&runtime).await;
        info!("stopped");
        Ok(())
    })
}

/// The tenants file: `--tenants`, else `STATE/tenants.json`, else the bundled samples.
///
/// # Errors
/// An unreadable or invalid tenants file (exit 2).
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

/// The local runtime on the embedded store in `state`, with the tenants file applied: the
/// tenants it names get its settings, secrets and budgets (at every start; API credentials
/// whose OAuth token was renewed from exactly the file's are kept, being newer); tenants created
/// through the API (`PUT /v1/tenants/{tenant}`) keep theirs, secrets in `STATE/secrets.json`.
///
/// # Errors
/// The state directory cannot be opened, or a budget in the file is not an amount.
pub async fn open_runtime(
    state: &Path,
    file: Arc<StaticDirectory>,
) -> Result<LocalRuntime, Failure> {
    let clock = Arc::new(SystemClock);
    let store = Embedded::open(state, clock.clone()).map_err(|e| Failure::usage(e.to_string()))?;
    let directory = Arc::new(TableDirectory::new(
        store.table.clone(),
        std::time::Duration::from_secs(60),
    ));
    for entry in &file.entries {
        directory
            .put(&entry.config())
            .await
            .map_err(|e| Failure::usage(e.to_string()))?;
        for (provider, p) in &entry.providers {
            if let Some(s) = p.webhook_secrets() {
                store
                    .secrets
                    .set_webhook_secrets(&entry.tenant_id, *provider, &s)
                    .map_err(|e| Failure::usage(e.to_string()))?;
            }
            if let Some(c) = p.api_credentials() {
                let stored = store
                    .secrets
                    .api_credentials(&entry.tenant_id, *provider)
                    .await
                    .map_err(|e| Failure::usage(e.to_string()))?;
                // A token renewed from exactly these credentials is newer than the file's.
                if stored.is_some_and(|s| tillbridge_connectors::oauth::keeps_refreshed(&s, &c)) {
                    continue;
                }
                store
                    .secrets
                    .put_api_credentials(&entry.tenant_id, *provider, &c)
                    .await
                    .map_err(|e| Failure::usage(e.to_string()))?;
            }
        }
    }
    let poster = tillbridge_notifications::http::HttpPoster::new()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let runtime = LocalRuntime::new(
        store.table,
        store.blobs,
        Tenants {
            directory,
            secrets: store.secrets,
        },
        clock,
    )
    // Notifications: webhooks and chat over HTTP, email to STATE/outbox/.
    .with_notifications(Arc::new(poster), store.outbox);
    load_budgets(&runtime, &file).await?;
    Ok(runtime)
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
    let runtime = LocalRuntime::new(table, blobs, directory.clone(), clock);
    load_budgets(&runtime, &directory).await?;
    Ok(runtime)
}

/// Loads the tenants' monthly budgets from the tenants file into the store.
pub async fn load_budgets(rt: &LocalRuntime, file: &StaticDirectory) -> Result<(), Failure> {
    for (tenant, text) in &file.budgets {
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
) -> Result<CostTable, AccountingError> {
    // The operator's price overrides (POST /v1/prices/overrides) apply here too.
    let book = accounting::prices::with_overrides(rt.table.as_ref(), book).await?;
    finance::cost_table(
        rt.table.as_ref(),
        &rt.directory.tenant_ids().await?,
        &book,
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
        let runtime = open_runtime(state, directory).await?;
        cost_table(&runtime, book, period, budgets)
            .await
            .map_err(|e| Failure::usage(e.to_string()))
    })
}

/// `tillbridge costs budgets --state DIR`: every budget in serve's embedded store, with the
/// announcements it recorded.
pub fn store_budgets(
    state: &Path,
    tenants: Option<&Path>,
    book: &PriceBook,
    period: &str,
) -> Result<Vec<accounting::BudgetStatus>, Failure> {
    let directory = load_tenants(tenants, state)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let runtime = open_runtime(state, directory).await?;
        let fail = |e: AccountingError| Failure::usage(e.to_string());
        let table = runtime.table.as_ref();
        let book = accounting::prices::with_overrides(table, book)
            .await
            .map_err(fail)?;
        let mut out = Vec::new();
        for (tenant, _) in accounting::all_budgets(table).await.map_err(fail)? {
            let Ok(tenant) = tillbridge_domain::TenantId::parse(&tenant) else {
                continue;
            };
            if let Some(s) = accounting::budget_status(table, &book, &tenant, period)
                .await
                .map_err(fail)?
            {
                out.push(s);
            }
        }
        Ok(out)
    })
}

/// `tillbridge costs reconcile`: every tenant's metered infrastructure cost per service.
pub fn store_metered_by_service(
    state: &Path,
    tenants: Option<&Path>,
    period: &str,
    prices: &tillbridge_costs::infra::AwsPrices,
) -> Result<std::collections::BTreeMap<&'static str, rust_decimal::Decimal>, Failure> {
    let directory = load_tenants(tenants, state)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let runtime = open_runtime(state, directory).await?;
        let ids = runtime
            .directory
            .tenant_ids()
            .await
            .map_err(|e| Failure::usage(e.to_string()))?;
        accounting::reconcile::metered_by_service(runtime.table.as_ref(), &ids, period, prices)
            .await
            .map_err(|e| Failure::usage(e.to_string()))
    })
}

/// `tillbridge costs census`: the storage census of every tenant of serve's embedded store.
pub fn store_census(
    state: &Path,
    tenants: Option<&Path>,
) -> Result<Vec<accounting::census::CensusLine>, Failure> {
    let directory = load_tenants(tenants, state)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let runtime = open_runtime(state, directory).await?;
        let ids = runtime
            .directory
            .tenant_ids()
            .await
            .map_err(|e| Failure::usage(e.to_string()))?;
        let mut out = Vec::new();
        for r in accounting::census::census_all(
            runtime.table.as_ref(),
            runtime.blobs.as_ref(),
            runtime.secrets.as_ref(),
            &ids,
            runtime.clock.now(),
        )
        .await
        {
            match r {
                Ok(line) => out.push(line),
                Err((tenant, e)) => eprintln!("census of {tenant} failed: {e}"),
            }
        }
        Ok(out)
    })
}

/// `tillbridge costs import`: a legacy usage log into serve's embedded store.
pub fn store_import_legacy(
    state: &Path,
    tenants: Option<&Path>,
    book: &PriceBook,
    rows: &[accounting::legacy::LegacyRow],
    errors: Vec<accounting::legacy::RowError>,
    services: &accounting::legacy::ServiceMapping,
    tenant: Option<&tillbridge_domain::TenantId>,
) -> Result<accounting::legacy::ImportReport, Failure> {
    let directory = load_tenants(tenants, state)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let runtime = open_runtime(state, directory).await?;
        accounting::legacy::import_legacy(
            runtime.table.as_ref(),
            book,
            rows,
            errors,
            services,
            tenant,
        )
        .await
        .map_err(|e| Failure::usage(e.to_string()))
    })
}

/// The webhook route (the ingress stage) and, for everything else, the management API's one
/// router ([`tillbridge_api::handle`]) — the same code the deployed api function runs.
/// `operator` is who the audit records when a request names nobody (`X-Operator`).
pub fn router(rt: Arc<LocalRuntime>, operator: &str) -> Router {
    let operator: Arc<str> = Arc::from(operator);
    let runtime = rt.clone();
    let api = Arc::new(Api {
        table: rt.table.clone(),
        blobs: rt.blobs.clone(),
        bus: rt.bus.clone(),
        inbound: rt.inbound.clone(),
        directory: rt.directory.clone(),
        secrets: rt.secrets.clone(),
        clock: rt.clock.clone(),
        prices: std::sync::LazyLock::new(Box::new(move || Arc::new(runtime.prices.base().clone()))),
        // No IAM locally: whoever runs serve administers it; others need grants.
        admins: vec![operator.to_string()],
        syncs: Some(Arc::new(LocalSyncs(rt.fetcher.clone()))),
        dead_letters: rt
            .dead_letters()
            .into_iter()
            .map(
                |(name, dlq, target)| tillbridge_api::dead_letters::DeadLetters {
                    name,
                    dlq,
                    target,
                },
            )
            .collect(),
    });
    Router::new()
        .route(tillbridge_api::WEBHOOK_ROUTE.1, post(webhook))
        .route("/metrics", axum::routing::get(metrics))
        .with_state(rt)
        .fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: HeaderMap,
                  body: Bytes| {
                api_route(api.clone(), operator.clone(), method, uri, headers, body)
            },
        )
        .layer(DefaultBodyLimit::max(MAX_HTTP_BODY))
}

/// `GET /metrics`: the process's counters (the same the Lambdas publish as EMF) in
/// Prometheus' text format; no tenant label.
async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        tillbridge_ports::metrics::global().prometheus(),
    )
        .into_response()
}

fn reply(status: u16, body: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

async fn webhook(
    State(rt): State<Arc<LocalRuntime>>,
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

/// Every other route: the management API. The operator is the `X-Operator` header (also
/// read as `X-Tillbridge-Operator`), else serve's `--operator`: there is no IAM locally.
async fn api_route(
    api: Arc<Api>,
    default_operator: Arc<str>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> = uri.query().map(url_decoded).unwrap_or_default();
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let operator = headers
        .iter()
        .find(|(k, v)| {
            (k == "x-operator" || k == "x-tillbridge-operator")
                && !v.trim().is_empty()
                && v.len() <= 200
        })
        .map_or(&*default_operator, |(_, v)| v.as_str())
        .to_owned();
    let r = tillbridge_api::handle(
        &api,
        &tillbridge_api::Request {
            method: method.as_str(),
            path: uri.path(),
            query: &query,
            headers: &headers,
            operator: &operator,
            body: &body,
        },
    )
    .await;
    let mut response = (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(axum::http::header::CONTENT_TYPE, r.content_type)],
        r.body,
    )
        .into_response();
    for (name, value) in r.headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Query parameters, percent- and plus-decoded (as axum's `Query` and API Gateway give them).
fn url_decoded(query: &str) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{query}").parse().unwrap_or_default(),
    )
    .map(|q| q.0)
    .unwrap_or_default()
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

/// JSON (default) or text logs on stderr; level from RUST_LOG (default info); text has colour
/// only when stderr is a terminal. The bytes of lines carrying a tenant are counted for it
/// (log ingestion, [`accounting::logs`]).
pub fn init_logging(format: &str) {
    use accounting::logs::{CountingWriter, TenantLogLayer};
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into files or log collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(CountingWriter(std::io::stderr));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(TenantLogLayer);
    let _ = if format == "json" {
        registry.with(fmt.json().flatten_event(true)).try_init()
    } else {
        registry.with(fmt).try_init()
    };
}

/// Files the log bytes counted per tenant every minute (function `serve`).
async fn file_log_bytes(runtime: Arc<LocalRuntime>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        file_log_bytes_once(&runtime).await;
    }
}

async fn file_log_bytes_once(runtime: &LocalRuntime) {
    accounting::logs::file_log_bytes(runtime.table.as_ref(), runtime.clock.now(), "serve").await;
}

/// `POST /v1/tenants/{tenant}/sync/{provider}` inside `serve`: the runtime's fetcher, now.
struct LocalSyncs(Arc<tillbridge_fetch::Fetcher>);

#[async_trait::async_trait]
impl tillbridge_api::Syncs for LocalSyncs {
    async fn sync(
        &self,
        tenant: &tillbridge_domain::TenantId,
        provider: tillbridge_domain::Provider,
        since: Option<tillbridge_domain::Timestamp>,
    ) -> Result<serde_json::Value, (u16, String)> {
        use tillbridge_fetch::FetchError;
        // Off the HTTP runtime: a sync applies thousands of items between awaits.
        let (fetcher, tenant_id) = (self.0.clone(), tenant.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || {
                let result = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(fetcher.sync(&tenant_id, provider, since)),
                    Err(e) => Err(FetchError::Store(tillbridge_ports::PortError::Transient(
                        e.to_string(),
                    ))),
                };
                let _ = tx.send(result);
            });
        if spawned.is_err() {
            return Err((503, "temporarily unavailable; retry".into()));
        }
        let Ok(result) = rx.await else {
            return Err((500, "internal error".into()));
        };
        match result {
            Ok(report) => Ok(serde_json::to_value(report).unwrap_or_default()),
            Err(e @ FetchError::UnknownTenant(_)) => Err((404, e.to_string())),
            Err(e @ FetchError::NoApi { .. }) => Err((409, e.to_string())),
            Err(e) if e.is_refusal() => Err((502, e.to_string())),
            Err(e @ FetchError::Vendor(_)) => Err((504, e.to_string())),
            Err(e) => {
                tracing::error!(error = %e, "sync failed");
                Err((500, "internal error".into()))
            }
        }
    }
}

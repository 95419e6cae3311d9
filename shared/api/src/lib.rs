//! The management and read API as ONE router: the deployed `api` function (API Gateway,
//! lambda_http) and `tillbridge serve` (axum) both turn their request into a [`Request`],
//! call [`handle`] and send the [`Response`] back. [`ROUTES`] is the route table; a test
//! checks that infra/template.yaml, the README and `serve` declare every route in it.
//!
//! Webhooks (`POST /v1/webhooks/{provider}/{tenant}`, [`WEBHOOK_ROUTE`]) are not here: the
//! webhook-ingress function answers them, and `serve` routes them to the same ingress stage.

#![warn(missing_docs)]

pub mod access;
mod catalog;
pub mod console;
pub mod dead_letters;
pub mod deliveries;
mod finance;
pub mod migrations;
mod notifications;
pub mod openapi;
mod privacy;
mod profiles;
pub mod retention;
mod tenants;

use std::sync::{Arc, LazyLock};

use serde_json::{Value, json};
use tillbridge_costs::PriceBook;
use tillbridge_domain::{Classify, ErrorKind, TenantId};
use tillbridge_ports::{BlobStore, Clock, EventBus, Queue, SecretStore, Table, TenantDirectory};

use crate::access::Permission;

/// The largest request body accepted (API Gateway HTTP APIs accept at most 10 MB).
pub const MAX_HTTP_BODY: usize = 10 * 1024 * 1024;

/// The webhook route, answered by the ingress stage rather than this router.
pub const WEBHOOK_ROUTE: (&str, &str) = ("POST", "/v1/webhooks/{provider}/{tenant}");

/// The price book, parsed on the first finance request (about 1 ms of JSON that a
/// migration request never needs).
pub type LazyPrices = LazyLock<Arc<PriceBook>, Box<dyn FnOnce() -> Arc<PriceBook> + Send>>;

/// What the routes read and write. Built once per process (per Lambda container).
pub struct Api {
    /// The table every context keeps its records in.
    pub table: Arc<dyn Table>,
    /// Exports, reports, snapshots, quarantined bodies.
    pub blobs: Arc<dyn BlobStore>,
    /// Where migration and usage events are published.
    pub bus: Arc<dyn EventBus>,
    /// The inbound queue of the signature check (quarantine replays go there).
    pub inbound: Arc<dyn Queue>,
    /// Which tenants exist, with their settings.
    pub directory: Arc<dyn TenantDirectory>,
    /// Vendor secrets (webhook secrets, API credentials): written by tenant onboarding,
    /// never shown.
    pub secrets: Arc<dyn SecretStore>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Model prices for the finance routes.
    pub prices: LazyPrices,
    /// Operators with every permission on every tenant (see [`access`]).
    pub admins: Vec<String>,
    /// Dead-letter queues with the queues they came from (listed and redriven by admins).
    pub dead_letters: Vec<dead_letters::DeadLetters>,
    /// Runs a vendor sync inside the request (`serve`); None in the cloud, where
    /// `POST …/sync/{provider}` queues it for the fetch function instead.
    pub syncs: Option<Arc<dyn Syncs>>,
}

/// Runs a vendor sync now (the local runtime's fetcher behind `serve`).
#[async_trait::async_trait]
pub trait Syncs: Send + Sync {
    /// Pulls `provider`'s catalog for `tenant` (everything, or what changed after `since`)
    /// and applies it: the report as JSON, or the status and message to answer.
    async fn sync(
        &self,
        tenant: &TenantId,
        provider: tillbridge_domain::Provider,
        since: Option<tillbridge_domain::Timestamp>,
    ) -> Result<Value, (u16, String)>;
}

/// One HTTP request, as the front door received and authenticated it.
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path without the query string.
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    /// Headers with lower-case names.
    pub headers: &'a [(String, String)],
    /// The operator as the front door authenticated them (the IAM principal behind API
    /// Gateway; `serve`'s `X-Operator` header or `--operator` locally). The audit records
    /// it; a body never sets it.
    pub operator: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

impl Request<'_> {
    /// A header's value (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The client asked for CSV (`?format=csv` or `Accept: text/csv`).
    pub fn wants_csv(&self) -> bool {
        self.param("format") == Some("csv")
            || self
                .header("accept")
                .is_some_and(|a| a.contains("text/csv"))
    }
}

/// One HTTP response.
#[derive(Debug, PartialEq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Further headers: `Content-Disposition` of downloads (CSV tables), `Link` to the next
    /// page of a paginated list.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, &json!({ "error": message }))
    }

    /// A CSV download named `name.csv`.
    pub fn csv(body: String, name: &str) -> Self {
        Self {
            status: 200,
            content_type: "text/csv; charset=utf-8",
            headers: vec![(
                "content-disposition",
                format!("attachment; filename=\"{name}.csv\""),
            )],
            body: body.into_bytes(),
        }
    }

    /// The one place a failed operation becomes a status: 503 when a retry may help, else
    /// 500. The cause is logged, never sent to the client.
    pub fn failure(e: &dyn Classify) -> Self {
        tracing::error!(error = %e, "request failed");
        match e.kind() {
            ErrorKind::Retryable => Self::error(503, "temporarily unavailable; retry"),
            ErrorKind::Permanent => Self::error(500, "internal error"),
        }
    }
}

/// Every route of the router, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// `GET /healthz`
    Health,
    /// Every tenant's cost table of a month.
    AllCosts,
    /// The tenants the operator may read.
    ListTenants,
    /// One tenant's settings.
    GetTenant,
    /// Create or replace a tenant (secrets to the secret store).
    PutTenant,
    /// One tenant's costs grouped by model, operation, migration or day.
    TenantCosts,
    /// A model client reports one call.
    PostUsage,
    /// The tenant's monthly AI budget and what is spent of it.
    GetBudget,
    /// Set the tenant's monthly AI budget.
    PutBudget,
    /// Every tenant's budget and where its month stands.
    ListBudgets,
    /// A Cost and Usage Report set beside the metered infrastructure cost.
    ReconcileCosts,
    /// What is kept, where, how long.
    Retention,
    /// Erase one customer's data, or every customer's.
    PrivacyErase,
    /// Export one customer's data.
    PrivacyExport,
    /// The erasures carried out.
    PrivacyErasures,
    /// Consolidate a legacy usage log into a tenant's ledger.
    ImportLegacyUsage,
    /// The AI feature registry.
    ListFeatures,
    /// File an operation under an AI feature.
    PutFeature,
    /// Stored price overrides.
    ListPriceOverrides,
    /// Set a price override from a future date on.
    AddPriceOverride,
    /// Dead-letter queues: depth and the oldest messages (ids only).
    ListDeadLetters,
    /// Move a dead-letter queue's messages back to their queue.
    RedriveDeadLetters,
    /// An operator's grants.
    GetGrants,
    /// Replace an operator's grants.
    PutGrants,
    /// The tenant's catalog.
    ListItems,
    /// One catalog item.
    GetItem,
    /// The same product at every vendor, by SKU or GTIN.
    Xref,
    /// One order.
    GetOrder,
    /// Quarantined deliveries.
    ListQuarantine,
    /// One quarantined delivery with its stored request body.
    GetQuarantined,
    /// Send a quarantined delivery through the signature check again.
    ReplayQuarantined,
    /// Send several quarantined deliveries through the signature check again.
    ReplayManyQuarantined,
    /// Webhook updates that failed validation.
    ListRejected,
    /// What became of a vendor's delivery, by the vendor's delivery id.
    GetDelivery,
    /// A delivery's story by our delivery id.
    GetDeliveryById,
    /// The delivery log: deliveries by time, filtered by provider and outcome, paginated.
    ListDeliveries,
    /// Deliveries by outcome per provider over a window, with the success rate and SLA target.
    ProviderStats,
    /// Pull the tenant's catalog from a vendor's API now.
    SyncProvider,
    /// What thin webhooks announced (fetch-needed records).
    ListFetches,
    /// Webhook counters.
    Stats,
    /// Start a migration.
    StartMigration,
    /// List a tenant's migrations.
    ListMigrations,
    /// One migration's status and progress.
    GetMigration,
    /// Suggestions and decisions.
    GetMappings,
    /// Overrides (audited).
    PutMappings,
    /// approve | pause | resume | cancel | rollback
    MigrationAction,
    /// The validation report.
    MigrationReport,
    /// The rollback report.
    RollbackReport,
    /// The audit report.
    MigrationAudit,
    /// The approved mapping as a vendor profile's mapping (and the vendor's next profile).
    MigrationProfileMapping,
    /// Every vendor profile, built in and stored, with versions.
    ListProfiles,
    /// One vendor profile as the webhook path uses it (or a given version).
    GetProfile,
    /// Store a new version of a vendor profile (effective at once).
    PutProfile,
    /// The tenant's notification settings and failed deliveries.
    GetNotifications,
    /// Replace the tenant's notification settings (webhook secrets to the secret store).
    PutNotifications,
}

/// One entry of the route table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Which handler.
    pub id: RouteId,
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern; `{name}` matches one segment. `{action}` of
    /// [`RouteId::MigrationAction`] is one of [`migrations::ACTIONS`].
    pub path: &'static str,
}

const fn route(id: RouteId, method: &'static str, path: &'static str) -> Route {
    Route { id, method, path }
}

/// The route table: every route the management API answers.
pub const ROUTES: &[Route] = &[
    route(RouteId::Health, "GET", "/healthz"),
    route(RouteId::AllCosts, "GET", "/v1/costs"),
    route(RouteId::ListTenants, "GET", "/v1/tenants"),
    route(RouteId::ListBudgets, "GET", "/v1/budgets"),
    route(RouteId::ReconcileCosts, "POST", "/v1/costs/reconcile"),
    route(RouteId::Retention, "GET", "/v1/retention"),
    route(RouteId::ListFeatures, "GET", "/v1/features"),
    route(
        RouteId::PrivacyErase,
        "POST",
        "/v1/tenants/{tenant}/privacy/erase",
    ),
    route(
        RouteId::PrivacyExport,
        "POST",
        "/v1/tenants/{tenant}/privacy/export",
    ),
    route(
        RouteId::PrivacyErasures,
        "GET",
        "/v1/tenants/{tenant}/privacy/erasures",
    ),
    route(RouteId::PutFeature, "PUT", "/v1/features/{operation}"),
    route(
        RouteId::ImportLegacyUsage,
        "POST",
        "/v1/tenants/{tenant}/costs/import",
    ),
    route(RouteId::GetTenant, "GET", "/v1/tenants/{tenant}"),
    route(RouteId::PutTenant, "PUT", "/v1/tenants/{tenant}"),
    route(RouteId::TenantCosts, "GET", "/v1/tenants/{tenant}/costs"),
    route(RouteId::PostUsage, "POST", "/v1/tenants/{tenant}/usage"),
    route(RouteId::GetBudget, "GET", "/v1/tenants/{tenant}/budget"),
    route(RouteId::PutBudget, "PUT", "/v1/tenants/{tenant}/budget"),
    route(
        RouteId::GetNotifications,
        "GET",
        "/v1/tenants/{tenant}/notifications",
    ),
    route(
        RouteId::PutNotifications,
        "PUT",
        "/v1/tenants/{tenant}/notifications",
    ),
    route(RouteId::ListItems, "GET", "/v1/tenants/{tenant}/items"),
    route(RouteId::GetItem, "GET", "/v1/tenants/{tenant}/items/{id}"),
    route(RouteId::Xref, "GET", "/v1/tenants/{tenant}/xref"),
    route(RouteId::GetOrder, "GET", "/v1/tenants/{tenant}/orders/{id}"),
    route(
        RouteId::ListQuarantine,
        "GET",
        "/v1/tenants/{tenant}/quarantine",
    ),
    route(
        RouteId::GetQuarantined,
        "GET",
        "/v1/tenants/{tenant}/quarantine/{id}",
    ),
    route(
        RouteId::ReplayManyQuarantined,
        "POST",
        "/v1/tenants/{tenant}/quarantine/replay",
    ),
    route(
        RouteId::ReplayQuarantined,
        "POST",
        "/v1/tenants/{tenant}/quarantine/{id}/replay",
    ),
    route(
        RouteId::ListRejected,
        "GET",
        "/v1/tenants/{tenant}/rejected",
    ),
    route(RouteId::Stats, "GET", "/v1/tenants/{tenant}/stats"),
    route(
        RouteId::ProviderStats,
        "GET",
        "/v1/tenants/{tenant}/stats/providers",
    ),
    route(RouteId::ListFetches, "GET", "/v1/tenants/{tenant}/fetches"),
    route(
        RouteId::SyncProvider,
        "POST",
        "/v1/tenants/{tenant}/sync/{provider}",
    ),
    route(
        RouteId::ListDeliveries,
        "GET",
        "/v1/tenants/{tenant}/deliveries",
    ),
    route(
        RouteId::GetDeliveryById,
        "GET",
        "/v1/tenants/{tenant}/deliveries/{id}",
    ),
    route(
        RouteId::GetDelivery,
        "GET",
        "/v1/tenants/{tenant}/deliveries/{provider}/{id}",
    ),
    route(RouteId::ListPriceOverrides, "GET", "/v1/prices/overrides"),
    route(RouteId::AddPriceOverride, "POST", "/v1/prices/overrides"),
    route(RouteId::ListDeadLetters, "GET", "/v1/dead-letters"),
    route(
        RouteId::RedriveDeadLetters,
        "POST",
        "/v1/dead-letters/{queue}/redrive",
    ),
    route(RouteId::GetGrants, "GET", "/v1/grants"),
    route(RouteId::PutGrants, "PUT", "/v1/grants"),
    route(RouteId::StartMigration, "POST", "/v1/migrations"),
    route(RouteId::ListMigrations, "GET", "/v1/migrations"),
    route(RouteId::GetMigration, "GET", "/v1/migrations/{id}"),
    route(RouteId::GetMappings, "GET", "/v1/migrations/{id}/mappings"),
    route(RouteId::PutMappings, "PUT", "/v1/migrations/{id}/mappings"),
    route(
        RouteId::MigrationAction,
        "POST",
        "/v1/migrations/{id}/{action}",
    ),
    route(
        RouteId::MigrationReport,
        "GET",
        "/v1/migrations/{id}/report",
    ),
    route(
        RouteId::RollbackReport,
        "GET",
        "/v1/migrations/{id}/rollback-report",
    ),
    route(RouteId::MigrationAudit, "GET", "/v1/migrations/{id}/audit"),
    route(
        RouteId::MigrationProfileMapping,
        "GET",
        "/v1/migrations/{id}/profile-mapping",
    ),
    route(RouteId::ListProfiles, "GET", "/v1/profiles"),
    route(RouteId::GetProfile, "GET", "/v1/profiles/{name}"),
    route(RouteId::PutProfile, "PUT", "/v1/profiles/{name}"),
];

/// The path parameters a pattern bound, in order.
fn matches<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let mut pat = pattern.trim_matches('/').split('/');
    let mut segs = path.trim_matches('/').split('/');
    let mut params = Vec::new();
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return Some(params),
            (Some("{action}"), Some(s)) => {
                if !migrations::ACTIONS.contains(&s) {
                    return None;
                }
                params.push(s);
            }
            (Some(p), Some(s)) if p.starts_with('{') && !s.is_empty() => params.push(s),
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

/// The route for a method and path: `Ok((route, params))`, `Err(405)` when the path exists
/// under another method, `Err(404)` when it does not.
pub fn resolve<'p>(method: &str, path: &'p str) -> Result<(Route, Vec<&'p str>), u16> {
    let mut path_known = false;
    for r in ROUTES {
        if let Some(params) = matches(r.path, path) {
            if r.method == method {
                return Ok((*r, params));
            }
            path_known = true;
        }
    }
    Err(if path_known { 405 } else { 404 })
}

/// Answers one request; every outcome is a response. Paths under `/console` are the
/// console's pages ([`console`]), which call the JSON routes below for everything they show.
pub async fn handle(api: &Api, req: &Request<'_>) -> Response {
    if req.path == console::PREFIX || req.path.starts_with("/console/") {
        return console::route(api, req).await;
    }
    api_route(api, req).await
}

/// Answers one request of the JSON API (the route table).
pub(crate) async fn api_route(api: &Api, req: &Request<'_>) -> Response {
    let (route, params) = match resolve(req.method, req.path) {
        Ok(found) => found,
        Err(405) => return Response::error(405, "method not allowed"),
        Err(_) => return Response::error(404, "no such route"),
    };
    let p = |i: usize| params.get(i).copied().unwrap_or_default();
    if let Some((tenant, permission)) = route_needs(route.id, &params)
        && let Err(refused) = authorize(api, req.operator, tenant, permission).await
    {
        return refused;
    }
    match route.id {
        RouteId::Health => Response::json(200, &json!({ "status": "ok" })),
        RouteId::AllCosts => finance::all_costs(api, req).await,
        RouteId::ListTenants => tenants::list(api, req).await,
        RouteId::GetTenant => tenants::get(api, p(0)).await,
        RouteId::PutTenant => tenants::put(api, req, p(0)).await,
        RouteId::TenantCosts => finance::tenant_costs(api, req, p(0)).await,
        RouteId::PostUsage => finance::post_usage(api, req, p(0)).await,
        RouteId::GetBudget => finance::get_budget(api, req, p(0)).await,
        RouteId::ListBudgets => finance::list_budgets(api, req).await,
        RouteId::ReconcileCosts => finance::reconcile(api, req).await,
        RouteId::Retention => Response::json(
            200,
            &serde_json::json!({ "retention": retention::policies() }),
        ),
        RouteId::ListFeatures => finance::list_features(api).await,
        RouteId::PrivacyErase => privacy::erase(api, req, p(0)).await,
        RouteId::PrivacyExport => privacy::export(api, req, p(0)).await,
        RouteId::PrivacyErasures => privacy::erasures(api, p(0)).await,
        RouteId::PutFeature => finance::put_feature(api, req, p(0)).await,
        RouteId::ImportLegacyUsage => finance::import_legacy(api, req, p(0)).await,
        RouteId::PutBudget => finance::put_budget(api, req, p(0)).await,
        RouteId::ListPriceOverrides => finance::list_overrides(api).await,
        RouteId::AddPriceOverride => finance::add_override(api, req).await,
        RouteId::ListDeadLetters => dead_letters::list(api).await,
        RouteId::RedriveDeadLetters => dead_letters::redrive(api, req, p(0)).await,
        RouteId::GetGrants => grants_route(api, req, false).await,
        RouteId::PutGrants => grants_route(api, req, true).await,
        RouteId::ListItems => catalog::list_items(api, req, p(0)).await,
        RouteId::GetItem => catalog::get_item(api, req, p(0), p(1)).await,
        RouteId::Xref => catalog::xref(api, req, p(0)).await,
        RouteId::GetOrder => catalog::get_order(api, p(0), p(1)).await,
        RouteId::ListQuarantine => catalog::list_quarantine(api, req, p(0)).await,
        RouteId::GetQuarantined => catalog::get_quarantined(api, p(0), p(1)).await,
        RouteId::ReplayQuarantined => catalog::replay_quarantined(api, req, p(0), p(1)).await,
        RouteId::ReplayManyQuarantined => catalog::replay_many(api, req, p(0)).await,
        RouteId::ListRejected => catalog::list_rejected(api, p(0)).await,
        RouteId::Stats => catalog::stats(api, req, p(0)).await,
        RouteId::ProviderStats => deliveries::provider_stats(api, req, p(0)).await,
        RouteId::ListDeliveries => deliveries::list(api, req, p(0)).await,
        RouteId::GetDelivery => catalog::get_delivery(api, p(0), p(1), p(2)).await,
        RouteId::GetDeliveryById => catalog::get_delivery_by_id(api, p(0), p(1)).await,
        RouteId::SyncProvider => catalog::sync_provider(api, req, p(0), p(1)).await,
        RouteId::ListFetches => catalog::fetches(api, p(0)).await,
        RouteId::StartMigration => migrations::start(api, req).await,
        RouteId::ListMigrations => migrations::list(api, req).await,
        RouteId::ListProfiles => profiles::list(api).await,
        RouteId::GetProfile => profiles::get(api, req, p(0)).await,
        RouteId::PutProfile => profiles::put(api, req, p(0)).await,
        RouteId::GetNotifications => notifications::get(api, p(0)).await,
        RouteId::PutNotifications => notifications::put(api, req, p(0)).await,
        RouteId::GetMigration
        | RouteId::GetMappings
        | RouteId::PutMappings
        | RouteId::MigrationAction
        | RouteId::MigrationReport
        | RouteId::RollbackReport
        | RouteId::MigrationAudit
        | RouteId::MigrationProfileMapping => migrations::one(api, req, route.id, p(0), p(1)).await,
    }
}

/// The tenant (None: every tenant) and permission a route needs, for routes that name their
/// tenant in the path or need no tenant; migration routes check once they know the tenant.
fn route_needs<'p>(id: RouteId, params: &[&'p str]) -> Option<(Option<&'p str>, Permission)> {
    let tenant = params.first().copied();
    match id {
        // The list shows only the tenants the operator may read.
        RouteId::Health
        | RouteId::ListTenants
        | RouteId::StartMigration
        | RouteId::ListMigrations
        | RouteId::GetMigration
        | RouteId::GetMappings
        | RouteId::PutMappings
        | RouteId::MigrationAction
        | RouteId::MigrationReport
        | RouteId::RollbackReport
        | RouteId::MigrationAudit
        | RouteId::MigrationProfileMapping => None,
        RouteId::AllCosts
        | RouteId::ListPriceOverrides
        | RouteId::ListBudgets
        | RouteId::ListFeatures
        | RouteId::ReconcileCosts
        | RouteId::Retention
        | RouteId::ListProfiles
        | RouteId::GetProfile => Some((None, Permission::Read)),
        RouteId::GetGrants
        | RouteId::PutGrants
        | RouteId::AddPriceOverride
        | RouteId::PutFeature
        | RouteId::PutProfile
        | RouteId::ListDeadLetters
        | RouteId::RedriveDeadLetters => Some((None, Permission::Admin)),
        RouteId::PostUsage => Some((tenant, Permission::Ai)),
        RouteId::PutBudget
        | RouteId::PutTenant
        | RouteId::PutNotifications
        | RouteId::ImportLegacyUsage
        | RouteId::PrivacyErase
        | RouteId::PrivacyExport => Some((tenant, Permission::Admin)),
        RouteId::ReplayQuarantined | RouteId::ReplayManyQuarantined | RouteId::SyncProvider => {
            Some((tenant, Permission::Write))
        }
        RouteId::TenantCosts
        | RouteId::GetTenant
        | RouteId::GetNotifications
        | RouteId::GetBudget
        | RouteId::PrivacyErasures
        | RouteId::ListItems
        | RouteId::GetItem
        | RouteId::Xref
        | RouteId::GetOrder
        | RouteId::ListQuarantine
        | RouteId::GetQuarantined
        | RouteId::ListRejected
        | RouteId::GetDelivery
        | RouteId::GetDeliveryById
        | RouteId::ListDeliveries
        | RouteId::ListFetches
        | RouteId::ProviderStats
        | RouteId::Stats => Some((tenant, Permission::Read)),
    }
}

/// Whether `operator` may act with `permission` on `tenant` (None: every tenant); the 403 to
/// answer otherwise. Checked before anything else, so a refusal tells nothing about the tenant.
pub(crate) async fn authorize(
    api: &Api,
    operator: &str,
    tenant: Option<&str>,
    permission: Permission,
) -> Result<(), Response> {
    if api.admins.iter().any(|a| a == operator) {
        return Ok(());
    }
    match access::grants(api.table.as_ref(), operator).await {
        Ok(g) if g.allow(tenant, permission) => Ok(()),
        Ok(_) => Err(Response::error(
            403,
            &format!(
                "{operator} has no {} permission on {}",
                serde_json::to_value(permission)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                tenant.unwrap_or("every tenant")
            ),
        )),
        Err(e) => Err(Response::failure(&e)),
    }
}

/// `GET|PUT /v1/grants?principal=…`: an operator's grants (admins only).
async fn grants_route(api: &Api, req: &Request<'_>, put: bool) -> Response {
    let Some(principal) = req
        .param("principal")
        .filter(|p| !p.is_empty() && p.len() <= 512)
    else {
        return Response::error(400, "name the operator with ?principal=…");
    };
    if put {
        let grants: access::Grants = match serde_json::from_slice(req.body) {
            Ok(g) => g,
            Err(e) => return Response::error(400, &format!("body: {e}")),
        };
        if let Err(e) = access::set_grants(api.table.as_ref(), principal, &grants).await {
            return Response::failure(&e);
        }
        tracing::info!(operator = %req.operator, principal, "grants set");
    }
    match access::grants(api.table.as_ref(), principal).await {
        Ok(g) => Response::json(
            200,
            &json!({ "principal": principal, "tenants": g.tenants }),
        ),
        Err(e) => Response::failure(&e),
    }
}

/// A configured tenant, or the 404 to answer.
async fn known_tenant(api: &Api, tenant: &str) -> Result<TenantId, Response> {
    let Ok(id) = TenantId::parse(tenant) else {
        return Err(Response::error(404, "tenant not found"));
    };
    match api.directory.tenant(&id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(Response::error(404, "tenant not found")),
        Err(e) => Err(Response::failure(&e)),
    }
}

#[cfg(test)]
mod tests;

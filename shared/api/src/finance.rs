//! Finance routes: cost tables (JSON, or CSV to download) and the usage a model client
//! reports.

use serde_json::json;
use tillbridge_accounting::{self as accounting, CostGroup, finance};
use tillbridge_costs::UsageRecord;
use tillbridge_costs::format_fixed;
use tillbridge_costs::table::Budgets;
use tillbridge_domain::event::UsageRecorded;
use tillbridge_domain::{CorrelationId, TenantId};

use crate::{Api, Request, Response, known_tenant};

fn period(req: &Request<'_>) -> Result<String, Response> {
    finance::period_param(req.param("period")).map_err(|m| Response::error(400, &m))
}

/// `GET /v1/costs?period=YYYY-MM[&totals=true]`: every tenant with AI or infrastructure
/// usage; with `totals=true` a last `(total)` row, the rows' amounts allocated so they add
/// up to it exactly.
pub(crate) async fn all_costs(api: &Api, req: &Request<'_>) -> Response {
    let period = match period(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tenants = match api.directory.tenant_ids().await {
        Ok(t) => t,
        Err(e) => return Response::failure(&e),
    };
    let book = match book(api).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let table = finance::cost_table(
        api.table.as_ref(),
        &tenants,
        &book,
        &period,
        &Budgets::default(),
    )
    .await;
    let totals = matches!(req.param("totals"), Some("true" | "1"));
    match table {
        Ok(t) if req.wants_csv() => {
            let csv = if totals {
                t.to_csv_with_totals()
            } else {
                t.to_csv()
            };
            Response::csv(csv, &format!("costs-{period}"))
        }
        Ok(t) if totals => Response::json(200, &json!(t.rendered_with_totals())),
        Ok(t) => Response::json(200, &json!(t.rendered())),
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/tenants/{tenant}/costs?period=…&group_by=model|operation|migration|day|feature`: rows
/// that add up to `totals` (usage without a migration is the `(none)` row; models by their
/// canonical name with the recorded names in `raw_models`); CSV ends with a `(total)` row.
pub(crate) async fn tenant_costs(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let period = match period(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let group = match CostGroup::parse(req.param("group_by").unwrap_or("model")) {
        Some(g) if CostGroup::REPORTED.contains(&g) => g,
        _ => {
            return Response::error(
                400,
                "group_by is one of model, operation, migration, day, feature",
            );
        }
    };
    let book = match book(api).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let grouped =
        match finance::tenant_costs(api.table.as_ref(), &book, &tenant, &period, group).await {
            Ok(g) => g,
            Err(e) => return Response::failure(&e),
        };
    if req.wants_csv() {
        return Response::csv(
            grouped.to_csv(),
            &format!("costs-{tenant}-{period}-by-{group}"),
        );
    }
    Response::json(
        200,
        &json!({ "tenant_id": tenant, "period": period, "group_by": group,
            "rows": grouped.rows_json(), "totals": grouped.totals_json() }),
    )
}

/// `POST /v1/tenants/{tenant}/usage`: a model client reports one call as a usage line of
/// CLI.md — the very format `costs table --usage` reads (`tenant_id` may be left out; when
/// given it must be the path's tenant). It is published as `ai.usage.recorded` and
/// accounted asynchronously, once per request_id. A line without `operation` or `provider`
/// is filed under `(none)`.
pub(crate) async fn post_usage(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut value: serde_json::Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) => return Response::error(400, &format!("not JSON: {e}")),
    };
    let Some(fields) = value.as_object_mut() else {
        return Response::error(400, "expected a usage object");
    };
    match fields.get("tenant_id") {
        None => {
            fields.insert("tenant_id".into(), json!(tenant.as_str()));
        }
        Some(t) if t.as_str() == Some(tenant.as_str()) => {}
        Some(_) => return Response::error(400, "tenant_id differs from the tenant in the path"),
    }
    let text = value.to_string();
    let (line, at) = match UsageRecord::parse(&text) {
        Ok(l) => l,
        Err(e) => return Response::error(400, &e),
    };
    // Usage is priced by the regime in force when it occurred; prices change at most
    // `MIN_LEAD` ahead, so a line from further ahead could land in the wrong regime.
    let latest = api
        .clock
        .now()
        .plus_seconds(accounting::prices::MIN_LEAD.as_secs() as i64);
    if at > latest {
        return Response::error(400, "occurred_at is in the future");
    }
    let tokens = line.tokens();
    let none = || finance::NONE_LABEL.to_owned();
    let usage = UsageRecorded {
        request_id: line.request_id.into_owned(),
        migration_id: line.migration_id.map(|m| m.into_owned()),
        operation: line.operation.map_or_else(none, |o| o.into_owned()),
        provider: line.provider.map_or_else(none, |p| p.into_owned()),
        model: line.model.into_owned(),
        input_tokens: tokens.input,
        output_tokens: tokens.output,
        cached_input_tokens: tokens.cached_input,
        cache_write_tokens: tokens.cache_write,
    };
    let safe_id: String = usage
        .request_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    let Ok(corr) = CorrelationId::parse(&format!("usage-{safe_id}")) else {
        return Response::error(400, "request_id is empty");
    };
    let event = accounting::usage_event(&tenant, usage, at, &corr);
    match tillbridge_ports::publish(api.bus.as_ref(), std::slice::from_ref(&event)).await {
        Ok(()) => Response::json(202, &json!({ "event_id": event.event_id })),
        Err(e) => Response::failure(&e),
    }
}

/// The budget view: the budget and hard limit, what is spent and reserved in `period`, the
/// share used, the thresholds crossed and where the month stands; `monthly_usd` null without
/// a budget.
async fn budget_view(api: &Api, tenant: &TenantId, period: &str) -> Response {
    let book = match book(api).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match accounting::budget_status(api.table.as_ref(), &book, tenant, period).await {
        Ok(Some(status)) => Response::json(200, &status.to_json()),
        Ok(None) => {
            let spent = match accounting::spent(api.table.as_ref(), &book, tenant, period).await {
                Ok(s) => s,
                Err(e) => return Response::failure(&e),
            };
            Response::json(
                200,
                &json!({
                    "tenant_id": tenant,
                    "period": period,
                    "monthly_usd": null,
                    "hard_limit_usd": null,
                    "spent_usd": format_fixed(spent, 6),
                    "used_percent": null,
                    "thresholds_crossed": [],
                    "state": "no_budget",
                }),
            )
        }
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/tenants/{tenant}/budget?period=YYYY-MM` (default: this month).
pub(crate) async fn get_budget(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let period = match req.param("period") {
        None => accounting::period_of(api.clock.now()),
        Some(_) => match period(req) {
            Ok(p) => p,
            Err(r) => return r,
        },
    };
    budget_view(api, &tenant, &period).await
}

/// `GET /v1/budgets?period=YYYY-MM` (default: this month): every tenant with a budget and
/// where its month stands, for finance; tenants over budget first is the reader's sort.
pub(crate) async fn list_budgets(api: &Api, req: &Request<'_>) -> Response {
    let period = match req.param("period") {
        None => accounting::period_of(api.clock.now()),
        Some(_) => match period(req) {
            Ok(p) => p,
            Err(r) => return r,
        },
    };
    let book = match book(api).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let budgets = match accounting::all_budgets(api.table.as_ref()).await {
        Ok(b) => b,
        Err(e) => return Response::failure(&e),
    };
    let mut rows = Vec::new();
    for (tenant, _) in budgets {
        let Ok(tenant) = TenantId::parse(&tenant) else {
            continue;
        };
        match accounting::budget_status(api.table.as_ref(), &book, &tenant, &period).await {
            Ok(Some(status)) => rows.push(status.to_json()),
            Ok(None) => {}
            Err(e) => return Response::failure(&e),
        }
    }
    Response::json(200, &json!({ "period": period, "budgets": rows }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetBody {
    /// USD per month, as an exact decimal string or number: the soft limit.
    monthly_usd: serde_json::Value,
    /// USD per month where AI calls are refused (default: the budget).
    #[serde(default)]
    hard_limit_usd: Option<serde_json::Value>,
}

fn usd(v: &serde_json::Value) -> Option<rust_decimal::Decimal> {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    tillbridge_domain::money::parse_decimal(text.trim())
        .filter(|a| *a >= rust_decimal::Decimal::ZERO && a.scale() <= 6)
}

/// `PUT /v1/tenants/{tenant}/budget` with `{"monthly_usd": "25.00", "hard_limit_usd":
/// "30.00"?}`: sets the monthly AI budget (thresholds at 50, 80, 100 % of it are announced,
/// spending goes on) and the hard limit where the LLM tier's calls are refused (default: the
/// budget). 400 when an amount is not a non-negative USD amount with at most 6 decimals or
/// the hard limit is below the budget.
pub(crate) async fn put_budget(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body: BudgetBody = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    let Some(amount) = usd(&body.monthly_usd) else {
        return Response::error(
            400,
            "monthly_usd is a non-negative amount in USD with at most 6 decimal places",
        );
    };
    let hard = match body.hard_limit_usd.as_ref().filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match usd(v) {
            Some(h) if h >= amount => Some(h),
            _ => {
                return Response::error(
                    400,
                    "hard_limit_usd is an amount in USD with at most 6 decimal places, not below monthly_usd",
                );
            }
        },
    };
    let limits = accounting::Budget {
        monthly_usd: amount,
        hard_limit_usd: hard,
    };
    if let Err(e) = accounting::set_budget_limits(api.table.as_ref(), &tenant, limits).await {
        return Response::failure(&e);
    }
    tracing::info!(tenant = %tenant, operator = %req.operator, monthly_usd = %amount, hard_limit_usd = ?hard, "budget set");
    budget_view(api, &tenant, &accounting::period_of(api.clock.now())).await
}

/// The price book in force: the bundled map and the stored overrides.
async fn book(api: &Api) -> Result<tillbridge_costs::PriceBook, Response> {
    accounting::prices::with_overrides(api.table.as_ref(), &api.prices)
        .await
        .map_err(|e| Response::failure(&e))
}

/// `GET /v1/prices/overrides`: every stored price override, by effective date.
pub(crate) async fn list_overrides(api: &Api) -> Response {
    match accounting::prices::overrides(api.table.as_ref()).await {
        Ok(list) => Response::json(200, &json!({ "overrides": list })),
        Err(e) => Response::failure(&e),
    }
}

/// `POST /v1/prices/overrides`: a negotiated or corrected price from a future date on.
pub(crate) async fn add_override(api: &Api, req: &Request<'_>) -> Response {
    let correction: tillbridge_costs::price::Override = match serde_json::from_slice(req.body) {
        Ok(o) => o,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    let added = accounting::prices::add_override(
        api.table.as_ref(),
        &api.prices,
        correction,
        req.operator,
        api.clock.now(),
    )
    .await;
    match added {
        Ok(Ok(stored)) => {
            tracing::info!(
                operator = %req.operator,
                model = %stored.correction.model,
                field = %stored.correction.field,
                value = %stored.correction.value,
                effective_from = %stored.correction.effective_from,
                "price override set"
            );
            Response::json(201, &json!(stored))
        }
        Ok(Err(refused)) => Response::error(400, &refused.to_string()),
        Err(e) => Response::failure(&e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    /// Service name → operation and feature.
    services: tillbridge_accounting::legacy::ServiceMapping,
    /// The legacy log's text: CSV with a header row, or JSON lines.
    log: String,
}

/// `POST /v1/tenants/{tenant}/costs/import` with `{"services": {"SERVICE": {"operation",
/// "feature"?}}, "log": "<CSV or JSON lines>"}`: consolidates a legacy usage log into the
/// tenant's ledger (rows naming another tenant are rejected). 200 with the import report
/// when the check passed, 422 with it when it did not (unmapped services, rejected rows,
/// totals that differ); 400 for a body that is not such an object.
pub(crate) async fn import_legacy(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body: ImportBody = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    let (mut rows, mut errors) =
        match tillbridge_accounting::legacy::read_legacy(body.log.as_bytes()) {
            Ok(r) => r,
            Err(e) => return Response::error(400, &format!("log: {e}")),
        };
    rows.retain(|r| match &r.tenant {
        Some(t) if t != tenant.as_str() => {
            errors.push(tillbridge_accounting::legacy::RowError {
                row: r.row,
                reason: format!("the row names tenant {t}, not {tenant}"),
            });
            false
        }
        _ => true,
    });
    let book = match book(api).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match tillbridge_accounting::legacy::import_legacy(
        api.table.as_ref(),
        &book,
        &rows,
        errors,
        &body.services,
        Some(&tenant),
    )
    .await
    {
        Ok(report) => {
            tracing::info!(
                tenant = %tenant,
                operator = %req.operator,
                rows_in = report.rows_in,
                recorded = report.recorded,
                already_recorded = report.already_recorded,
                check_passed = report.check_passed,
                "legacy usage imported"
            );
            let status = if report.check_passed { 200 } else { 422 };
            Response::json(status, &serde_json::to_value(&report).unwrap_or_default())
        }
        Err(e) => Response::failure(&e),
    }
}

/// `GET /v1/features`: the AI feature registry, operation → feature (built-in entries and
/// the operators').
pub(crate) async fn list_features(api: &Api) -> Response {
    match tillbridge_accounting::features::registry(api.table.as_ref()).await {
        Ok(r) => Response::json(200, &json!({ "features": r })),
        Err(e) => Response::failure(&e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureBody {
    feature: String,
}

/// `PUT /v1/features/{operation}` with `{"feature": "…"}`: files an operation's cost under an
/// AI feature (`group_by=feature`). 400 for an empty or over-long name.
pub(crate) async fn put_feature(api: &Api, req: &Request<'_>, operation: &str) -> Response {
    let body: FeatureBody = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    let name = body.feature.trim();
    if name.is_empty() || name.len() > 100 || operation.len() > 200 {
        return Response::error(400, "feature is 1–100 characters; operation at most 200");
    }
    if let Err(e) =
        tillbridge_accounting::features::set_feature(api.table.as_ref(), operation, name).await
    {
        return Response::failure(&e);
    }
    tracing::info!(operator = %req.operator, operation, feature = name, "feature registered");
    list_features(api).await
}

/// `POST /v1/costs/reconcile?period=YYYY-MM` with an AWS Cost and Usage Report export (CSV)
/// as the body: the bill per service beside every tenant's metered infrastructure cost, the
/// difference and the services not metered; CSV with `Accept: text/csv`. 400 for a body that
/// is not a CUR export.
pub(crate) async fn reconcile(api: &Api, req: &Request<'_>) -> Response {
    use tillbridge_accounting::reconcile as r;
    let period = match period(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cur = match r::read_cur(req.body, &period) {
        Ok(c) => c,
        Err(e) => return Response::error(400, &e),
    };
    let tenants = match api.directory.tenant_ids().await {
        Ok(t) => t,
        Err(e) => return Response::failure(&e),
    };
    let prices = r::configured_prices();
    let metered =
        match r::metered_by_service(api.table.as_ref(), &tenants, &period, &prices.prices).await {
            Ok(m) => m,
            Err(e) => return Response::failure(&e),
        };
    let mut report = r::reconcile(&period, &metered, &cur);
    report.priced_with = Some(prices.clone());
    if req.wants_csv() {
        return Response::csv(report.to_csv(), &format!("reconciliation-{period}"));
    }
    Response::json(200, &serde_json::to_value(&report).unwrap_or_default())
}

//! The finance views shared by `tillbridge serve` and the api function: per-tenant cost
//! tables (AI cost beside infrastructure cost) and one tenant's costs grouped by model,
//! operation, migration or day, as JSON or CSV.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tillbridge_costs::infra::AwsPrices;
use tillbridge_costs::table::{Budgets, CostRow};
use tillbridge_costs::usage::TokenCounts;
use tillbridge_costs::{CostTable, Period, PriceBook, format_fixed};
use tillbridge_domain::TenantId;
use tillbridge_ports::Table;

use crate as accounting;
use crate::{AccountingError, CostGroup};

/// A validated `period` parameter, or the message of a 400.
pub fn period_param(period: Option<&str>) -> Result<String, String> {
    let p = period.ok_or_else(|| "period=YYYY-MM is required".to_owned())?;
    Period::parse(p)
        .map(|p| p.label())
        .map_err(|e| e.to_string())
}

/// One row per tenant with usage in the month, sorted by tenant id.
pub async fn cost_table(
    table: &dyn Table,
    tenants: &[TenantId],
    book: &PriceBook,
    period: &str,
    budgets: &Budgets,
) -> Result<CostTable, AccountingError> {
    let mut rows = Vec::new();
    let mut unpriced_models = BTreeSet::new();
    let mut sorted = tenants.to_vec();
    sorted.sort();
    for tenant in sorted {
        let total =
            accounting::grouped_costs(table, book, &tenant, period, CostGroup::Total).await?;
        let Some(line) = total.get("all") else {
            continue;
        };
        for (model, l) in
            accounting::grouped_costs(table, book, &tenant, period, CostGroup::Model).await?
        {
            if l.unpriced_requests > 0 {
                unpriced_models.insert(model);
            }
        }
        let budget = match budgets.0.get(tenant.as_str()) {
            Some(b) => Some(*b),
            None => accounting::budget(table, &tenant).await?,
        };
        let infra = accounting::infra_usage(table, &tenant, period)
            .await?
            .cost(&AwsPrices::us_east_1());
        rows.push(CostRow {
            tenant_id: tenant.to_string(),
            requests: line.requests,
            tokens: TokenCounts {
                input: line.input_tokens,
                cached_input: line.cached_input_tokens,
                cache_write: line.cache_write_tokens,
                output: line.output_tokens,
            },
            cost_usd: line.cost,
            unpriced_requests: line.unpriced_requests,
            budget_usd: budget,
            infra_cost_usd: Some(infra),
        });
    }
    Ok(CostTable {
        rows,
        unpriced_models,
    })
}

/// One tenant's month grouped by `group` (model, operation, migration, day).
pub async fn tenant_costs(
    table: &dyn Table,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
    group: CostGroup,
) -> Result<Vec<Value>, AccountingError> {
    let lines = accounting::grouped_costs(table, book, tenant, period, group).await?;
    Ok(lines
        .iter()
        .map(|(k, l)| {
            json!({
                group.as_str(): k, "requests": l.requests, "input_tokens": l.input_tokens, "cached_input_tokens": l.cached_input_tokens,
                "cache_write_tokens": l.cache_write_tokens, "output_tokens": l.output_tokens,
                "cost_usd": format_fixed(l.cost, 6), "unpriced_requests": l.unpriced_requests,
            })
        })
        .collect())
}

/// CSV of grouped rows, header first.
pub fn grouped_csv(group: CostGroup, rows: &[Value]) -> String {
    let cols = [
        group.as_str(),
        "requests",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "cost_usd",
        "unpriced_requests",
    ];
    let mut out = cols.join(",") + "\r\n";
    for r in rows {
        let cell = |c: &str| {
            let s = r[c]
                .as_str()
                .map_or_else(|| r[c].to_string(), str::to_owned);
            let s = if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s
            };
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s
            }
        };
        out.push_str(&cols.map(cell).join(","));
        out.push_str("\r\n");
    }
    out
}

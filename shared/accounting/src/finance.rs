//! The finance views shared by `tillbridge serve` and the api function: per-tenant cost
//! tables (AI cost beside infrastructure cost) and one tenant's costs grouped by model,
//! operation, migration or day, as JSON or CSV.

use std::collections::BTreeSet;

use tillbridge_costs::infra::InfraUsage;
use tillbridge_costs::table::{Budgets, CostRow};
use tillbridge_costs::usage::TokenCounts;
use tillbridge_costs::{CostTable, Period, PriceBook};
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

/// One row per tenant with AI usage or infrastructure usage in the month, sorted by tenant
/// id: a tenant that made no model call but whose records cost infrastructure still has its
/// row (zero tokens, `cost_usd` 0, its `infra_cost_usd`).
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
        let infra_usage = accounting::infra_usage(table, &tenant, period).await?;
        let total =
            accounting::grouped_costs(table, book, &tenant, period, CostGroup::Total).await?;
        let line = match total.get("all") {
            Some(l) => l.clone(),
            None if infra_usage != InfraUsage::default() => accounting::CostLine::default(),
            None => continue,
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
            infra_cost_usd: Some(infra_usage.cost(&crate::reconcile::configured_prices().prices)),
        });
    }
    Ok(CostTable {
        rows,
        unpriced_models,
    })
}

pub use crate::grouped::{GroupedCosts, GroupedRow, NONE_LABEL, TOTAL_LABEL, tenant_costs};

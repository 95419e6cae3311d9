//! The per-tenant table with a totals row whose amounts the rows add up to exactly.

use super::{CostTable, RowOut};
use crate::format_fixed;
use crate::rounding::allocate;

/// The `tenant_id` of the totals row.
pub const TOTAL_LABEL: &str = "(total)";

impl CostTable {
    /// The rows as printed, then a totals row (`tenant_id` [`TOTAL_LABEL`]): requests, tokens
    /// and unpriced requests summed; `cost_usd` (and `infra_cost_usd`) the exact sum rounded
    /// half-even to 6 places, with each row's amount allocated by largest remainder
    /// ([`allocate`]) so the rendered rows add up to the rendered total to the last digit (a
    /// row then differs from its exact amount by less than 0.000001). The totals row has no
    /// budget.
    pub fn rendered_with_totals(&self) -> Vec<RowOut<'_>> {
        let costs: Vec<_> = self.rows.iter().map(|r| r.cost_usd).collect();
        let (costs, cost_total) = allocate(&costs, 6);
        let with_infra = self.rows.iter().any(|r| r.infra_cost_usd.is_some());
        let infra: Vec<_> = self
            .rows
            .iter()
            .map(|r| r.infra_cost_usd.unwrap_or_default())
            .collect();
        let (infra, infra_total) = allocate(&infra, 6);
        let mut rows = self.rendered();
        let mut total = RowOut {
            tenant_id: TOTAL_LABEL,
            requests: 0,
            input_tokens: 0,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
            output_tokens: 0,
            cost_usd: format_fixed(cost_total, 6),
            unpriced_requests: 0,
            budget_usd: None,
            budget_used_percent: None,
            infra_cost_usd: with_infra.then(|| format_fixed(infra_total, 6)),
        };
        for (i, row) in rows.iter_mut().enumerate() {
            if let Some(c) = costs.get(i) {
                row.cost_usd = format_fixed(*c, 6);
            }
            if row.infra_cost_usd.is_some()
                && let Some(c) = infra.get(i)
            {
                row.infra_cost_usd = Some(format_fixed(*c, 6));
            }
            total.requests = total.requests.saturating_add(row.requests);
            total.input_tokens = total.input_tokens.saturating_add(row.input_tokens);
            total.cached_input_tokens = total
                .cached_input_tokens
                .saturating_add(row.cached_input_tokens);
            total.cache_write_tokens = total
                .cache_write_tokens
                .saturating_add(row.cache_write_tokens);
            total.output_tokens = total.output_tokens.saturating_add(row.output_tokens);
            total.unpriced_requests = total
                .unpriced_requests
                .saturating_add(row.unpriced_requests);
        }
        rows.push(total);
        rows
    }

    /// [`CostTable::rendered_with_totals`] as a pretty-printed JSON array (the totals row
    /// last).
    pub fn to_json_with_totals(&self) -> String {
        serde_json::to_string_pretty(&self.rendered_with_totals()).unwrap_or_else(|_| "[]".into())
    }

    /// [`CostTable::to_csv`] with the totals row last and the rows' amounts allocated as in
    /// [`CostTable::rendered_with_totals`].
    pub fn to_csv_with_totals(&self) -> String {
        let with_infra = self.rows.iter().any(|r| r.infra_cost_usd.is_some());
        super::csv_of(self.rendered_with_totals(), with_infra)
    }
}

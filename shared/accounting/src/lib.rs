//! AI cost accounting over the table port: an idempotent ledger entry per request, token
//! aggregates per tenant × month × model × operation × migration × day (written in the same
//! transaction), budget thresholds announced once, and hard limits enforced by reserving an
//! estimate before a model call and settling after.
//!
//! Aggregates hold integer token counts per model and price regime; money is computed from
//! them exactly when read, so a price correction re-prices history without rewriting it.

#![warn(missing_docs)]

use rust_decimal::Decimal;
use serde_json::Value;
use tillbridge_costs::usage::TokenCounts;
use tillbridge_domain::Timestamp;
use tillbridge_ports::table::Item;

mod budget;
pub mod census;
mod error;
pub mod features;
pub mod finance;
mod grouped;
mod infra;
pub mod keys;
mod ledger;
pub mod legacy;
pub mod logs;
pub mod metering;
pub mod prices;
pub mod reconcile;

pub use budget::{
    Budget, BudgetState, BudgetStatus, CrossedThreshold, Reserve, all_budgets, budget,
    budget_limits, budget_state, budget_status, reserve, set_budget, set_budget_limits, settle,
};
pub use error::AccountingError;
pub use infra::{infra_for_record, infra_usage, record_infra};
pub use ledger::{CostLine, grouped_costs, record_usage, spent, usage_event};

/// Budget thresholds announced once per tenant and month, in percent of the budget.
pub const THRESHOLDS: [u32; 3] = [50, 80, 100];
pub(crate) const MAX_ATTEMPTS: usize = 16;

/// `YYYY-MM` of an instant (UTC).
pub fn period_of(at: Timestamp) -> String {
    at.to_string().get(..7).unwrap_or("0000-00").to_owned()
}

/// A stored exact amount; a corrupt one is an error, never $0.
pub(crate) fn dec(s: &str) -> Result<Decimal, AccountingError> {
    tillbridge_domain::money::parse_decimal(s)
        .ok_or_else(|| AccountingError::Permanent(format!("stored amount {s:?} is not a decimal")))
}

/// Whether a usage event was new or a redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written to the ledger and the aggregates.
    New,
    /// Its `request_id` was already in the ledger: nothing changed.
    Duplicate,
}

/// A dimension the token aggregates are kept and reported by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostGroup {
    /// One row: everything.
    Total,
    /// By model name.
    Model,
    /// By operation (`mapping.suggest`, …).
    Operation,
    /// By migration id (usage that names no migration is the `(none)` row of the finance
    /// views).
    Migration,
    /// By day of the month (`01`…`31`).
    Day,
    /// By AI feature: the operations' rows through the feature registry
    /// ([`features::registry`]); read-time only, no aggregates are written for it.
    Feature,
}

impl CostGroup {
    /// Every dimension.
    pub const ALL: [CostGroup; 6] = [
        CostGroup::Total,
        CostGroup::Model,
        CostGroup::Operation,
        CostGroup::Migration,
        CostGroup::Day,
        CostGroup::Feature,
    ];

    /// The dimensions a finance table can be grouped by (`group_by=`).
    pub const REPORTED: [CostGroup; 5] = [
        CostGroup::Model,
        CostGroup::Operation,
        CostGroup::Migration,
        CostGroup::Day,
        CostGroup::Feature,
    ];

    /// The name, as in keys, URLs and CSV headers.
    pub fn as_str(self) -> &'static str {
        match self {
            CostGroup::Total => "total",
            CostGroup::Model => "model",
            CostGroup::Operation => "operation",
            CostGroup::Migration => "migration",
            CostGroup::Day => "day",
            CostGroup::Feature => "feature",
        }
    }

    /// The dimension with this name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

impl std::fmt::Display for CostGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn token_deltas(t: &TokenCounts, priced: bool) -> Vec<(String, i64)> {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    vec![
        ("requests".into(), 1),
        ("input_tokens".into(), i(t.input)),
        ("cached_input_tokens".into(), i(t.cached_input)),
        ("cache_write_tokens".into(), i(t.cache_write)),
        ("output_tokens".into(), i(t.output)),
        ("unpriced_requests".into(), i64::from(!priced)),
    ]
}

/// Keeps model names and group values usable inside sort keys.
pub(crate) fn safe(s: &str) -> String {
    s.chars()
        .take(120)
        .map(|c| if c == '#' { '_' } else { c })
        .collect()
}

pub(crate) fn attr(i: &Item, k: &str) -> u64 {
    i.attrs
        .get(k)
        .and_then(Value::as_i64)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;

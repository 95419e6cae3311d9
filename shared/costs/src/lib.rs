//! Exact AI cost accounting.
//!
//! Prices are USD per token as exact decimals (read from the price map's text, never via
//! f64). Costs are computed from integer token counts; only final amounts are rounded
//! (half-even, 6 decimal places; percentages 2).

#![warn(missing_docs)]

pub mod infra;
pub mod price;
pub mod price_list;
pub mod rounding;
pub mod table;
pub mod usage;

pub use price::{ModelPrice, PriceBook, PriceTable};
pub use table::{CostRow, CostTable, Period};
pub use usage::{TokenCounts, UsageRecord};

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds a final amount to `dp` places, half to even, and renders every place.
pub fn format_fixed(value: Decimal, dp: u32) -> String {
    let mut r = value.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven);
    r.rescale(dp);
    r.to_string()
}

/// Why cost inputs were refused. All are permanent: they describe bad input (a price map,
/// a usage line, a budgets file, a period argument) that has to be corrected, never a
/// transient failure worth retrying.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CostError {
    /// The price map is not LiteLLM's JSON format, or a price in it is not a non-negative
    /// number (`model.field: text`).
    #[error("price map: {0}")]
    PriceMap(String),
    /// A usage line is not a usage record: bad JSON, a missing or empty required field, or
    /// an `occurred_at` that is not RFC 3339.
    #[error("line {line}: {reason}")]
    Usage {
        /// 1-based line number in the usage input.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// The budgets file is not `{"TENANT": "MONTHLY_USD"}` or has a negative or non-numeric
    /// amount.
    #[error("budgets: {0}")]
    Budgets(String),
    /// A period is not `YYYY-MM` (years 1970–2200).
    #[error("period: {0}")]
    Period(String),
    /// An AWS Price List offer file is unreadable or lacks a metered price for the region.
    #[error("{0}")]
    Prices(String),
}

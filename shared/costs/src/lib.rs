//! Exact AI cost accounting.
//!
//! Prices are USD per token as exact decimals (read from the price map's text, never via
//! f64). Costs are computed from integer token counts; only final amounts are rounded
//! (half-even, 6 decimal places; percentages 2).

pub mod infra;
pub mod price;
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

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CostError {
    #[error("price map: {0}")]
    PriceMap(String),
    #[error("line {line}: {reason}")]
    Usage { line: usize, reason: String },
    #[error("budgets: {0}")]
    Budgets(String),
    #[error("period: {0}")]
    Period(String),
}

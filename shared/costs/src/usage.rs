//! Usage lines: one model call each, token classes additive (CLI.md).

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::price::ModelPrice;

/// One model call. Unknown fields are allowed (vendors' extras pass through).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UsageRecord<'a> {
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    #[serde(borrow)]
    pub tenant_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub migration_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub operation: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub provider: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
    #[serde(borrow)]
    pub occurred_at: Cow<'a, str>,
}

impl UsageRecord<'_> {
    pub fn tokens(&self) -> TokenCounts {
        TokenCounts {
            input: self.input_tokens,
            cached_input: self.cached_input_tokens.unwrap_or(0),
            cache_write: self.cache_write_tokens.unwrap_or(0),
            output: self.output_tokens,
        }
    }
}

/// Token counts per class. Input does not include cached or cache-write tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    pub input: u64,
    pub cached_input: u64,
    pub cache_write: u64,
    pub output: u64,
}

impl TokenCounts {
    pub fn add(&mut self, other: &TokenCounts) {
        self.input = self.input.saturating_add(other.input);
        self.cached_input = self.cached_input.saturating_add(other.cached_input);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.output = self.output.saturating_add(other.output);
    }

    /// Exact USD: each class at its rate.
    pub fn cost(&self, price: &ModelPrice) -> Decimal {
        Decimal::from(self.input) * price.input
            + Decimal::from(self.cached_input) * price.cache_read_rate()
            + Decimal::from(self.cache_write) * price.cache_write_rate()
            + Decimal::from(self.output) * price.output
    }
}

//! Usage lines: one model call each, token classes additive (CLI.md).

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tillbridge_domain::Timestamp;

use crate::price::ModelPrice;

/// One model call. Unknown fields are allowed (vendors' extras pass through).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UsageRecord<'a> {
    /// The call's unique id; a line whose id was seen before is a duplicate and counted once.
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    /// The tenant the call is billed to (non-empty).
    #[serde(borrow)]
    pub tenant_id: Cow<'a, str>,
    /// The migration the call served, if any (informational).
    #[serde(default, borrow)]
    pub migration_id: Option<Cow<'a, str>>,
    /// What the call did, e.g. a mapping suggestion (informational).
    #[serde(default, borrow)]
    pub operation: Option<Cow<'a, str>>,
    /// The model vendor, if given (informational; prices are looked up by `model`).
    #[serde(default, borrow)]
    pub provider: Option<Cow<'a, str>>,
    /// The model name as in the price map, optionally `provider/`-prefixed.
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    /// Uncached input tokens (not including cached or cache-write tokens).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache; absent = 0.
    #[serde(default)]
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to the prompt cache; absent = 0.
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
    /// When the call happened, RFC 3339; decides the period and the price in force.
    #[serde(borrow)]
    pub occurred_at: Cow<'a, str>,
}

impl<'a> UsageRecord<'a> {
    /// Reads one usage line (CLI.md's format, the same for `costs table --usage` and `POST
    /// /v1/tenants/{tenant}/usage`) and its `occurred_at`.
    ///
    /// # Errors
    ///
    /// A message when the text is not a usage record, `occurred_at` is not RFC 3339, or
    /// `request_id`, `tenant_id` or `model` is empty.
    pub fn parse(text: &'a str) -> Result<(Self, Timestamp), String> {
        let r: UsageRecord<'a> =
            serde_json::from_str(text).map_err(|e| format!("not a usage record: {e}"))?;
        let at = Timestamp::parse_rfc3339(&r.occurred_at).map_err(|e| e.to_string())?;
        if r.request_id.is_empty() || r.tenant_id.is_empty() || r.model.is_empty() {
            return Err("request_id, tenant_id and model must not be empty".into());
        }
        Ok((r, at))
    }

    /// The call's token counts per class, absent classes as 0.
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
    /// Uncached input tokens, priced at [`ModelPrice::input`].
    pub input: u64,
    /// Cache-read input tokens, priced at [`ModelPrice::cache_read_rate`].
    pub cached_input: u64,
    /// Cache-write input tokens, priced at [`ModelPrice::cache_write_rate`].
    pub cache_write: u64,
    /// Output tokens, priced at [`ModelPrice::output`].
    pub output: u64,
}

impl TokenCounts {
    /// Adds `other` class by class, saturating at `u64::MAX`.
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

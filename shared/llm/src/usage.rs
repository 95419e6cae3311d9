//! Every vendor's usage block converted into our token classes (CLI.md): uncached input,
//! cache read, cache write and output, additive — `input` never includes the cached or the
//! cache-write tokens, whatever the vendor's own convention is.
//!
//! The vendors disagree on what their input count includes:
//!
//! | shape | fields | input count includes the cache tokens? |
//! |---|---|---|
//! | OpenAI Chat Completions | `prompt_tokens`, `prompt_tokens_details.cached_tokens`, `completion_tokens` | yes: `cached_tokens` is a subset of `prompt_tokens` |
//! | OpenAI Responses | `input_tokens`, `input_tokens_details.cached_tokens`, `output_tokens` | yes, a subset |
//! | Anthropic Messages | `input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`, `output_tokens` | no: the three input fields add up |
//! | Bedrock Converse `TokenUsage` | `inputTokens`, `cacheReadInputTokens`, `cacheWriteInputTokens`, `outputTokens` | no: reported separately |
//! | OpenAI-compatible gateway in front of Anthropic (LiteLLM) | `prompt_tokens`, `prompt_tokens_details.cached_tokens`, `cache_creation_input_tokens`, `completion_tokens` | yes: `prompt_tokens` is the whole input, cache reads and writes included |
//!
//! Sources (checked when this was written):
//! - OpenAI, chat completion object, `usage`: `prompt_tokens` is the number of tokens in the
//!   prompt and `prompt_tokens_details.cached_tokens` the part of them retrieved from the
//!   prompt cache (<https://platform.openai.com/docs/api-reference/chat/object>,
//!   <https://platform.openai.com/docs/guides/prompt-caching>); the Responses API reports the
//!   same under `usage.input_tokens_details.cached_tokens`
//!   (<https://platform.openai.com/docs/api-reference/responses/object>). OpenAI has no
//!   cache-creation field.
//! - Anthropic, Messages API `usage` and the prompt-caching guide: `input_tokens` are the
//!   input tokens after the last cache breakpoint, and the total input is
//!   `cache_read_input_tokens + cache_creation_input_tokens + input_tokens`
//!   (<https://docs.anthropic.com/en/api/messages>,
//!   <https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching>).
//! - Amazon Bedrock, `TokenUsage` of Converse: `inputTokens`, `outputTokens`,
//!   `cacheReadInputTokens` ("input tokens read from the cache"), `cacheWriteInputTokens`
//!   ("input tokens written to the cache")
//!   (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html>);
//!   with prompt caching `inputTokens` counts only the tokens neither read from nor written
//!   to the cache (<https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html>).
//! - LiteLLM (the usual OpenAI-compatible gateway), prompt caching: it returns the OpenAI
//!   usage object for every provider — `prompt_tokens` "all prompt tokens including
//!   cache-miss and cache-hit input tokens", `prompt_tokens_details.cached_tokens` the cache
//!   hits — and, for Anthropic, `cache_creation_input_tokens`, the tokens written to the
//!   cache (<https://docs.litellm.ai/docs/completion/prompt_caching>). Such a gateway often
//!   passes `cache_read_input_tokens` too, equal to `cached_tokens`: it is the same tokens,
//!   counted once.
//!
//! Gateways are not all alike about `prompt_tokens`, so the conversion checks the counts:
//! when `prompt_tokens` is smaller than cache reads + cache writes it cannot include both,
//! and the largest reading consistent with the numbers is taken (includes the reads only,
//! else neither) — a token is never negative and never counted twice.
//!
//! Anthropic's split of cache writes by lifetime (`cache_creation.ephemeral_5m_input_tokens`,
//! `ephemeral_1h_input_tokens`) is not read: usage lines carry one cache-write class, priced
//! at the price map's `cache_creation_input_token_cost`.

use serde::Deserialize;
use tillbridge_costs::usage::TokenCounts;

/// Token counts of one call in our classes (additive: `input` excludes `cached_input` and
/// `cache_write`), converted from the vendor's usage block by [`Tokens::from_usage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Uncached input tokens, billed at the input rate.
    pub input: u64,
    /// Output (completion) tokens.
    pub output: u64,
    /// Input tokens read from the provider's prompt cache (cache-read rate).
    pub cached_input: u64,
    /// Input tokens written to the provider's prompt cache (cache-creation rate).
    pub cache_write: u64,
}

/// The vendor convention a usage block was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageShape {
    /// OpenAI Chat Completions (and compatible servers): cache reads inside `prompt_tokens`.
    OpenAiChat,
    /// An OpenAI-compatible gateway passing Anthropic's `cache_creation_input_tokens` beside
    /// `prompt_tokens`.
    Gateway,
    /// OpenAI Responses: `input_tokens` with `input_tokens_details.cached_tokens` inside.
    OpenAiResponses,
    /// Anthropic Messages: the three input fields add up.
    Anthropic,
    /// Amazon Bedrock Converse `TokenUsage` (camelCase), additive like Anthropic.
    BedrockConverse,
}

/// Every field any of the shapes uses; absent and `null` are both "not reported".
#[derive(Deserialize, Default)]
struct Wire {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<Details>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<Details>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    #[serde(rename = "inputTokens")]
    bedrock_input: Option<u64>,
    #[serde(rename = "outputTokens")]
    bedrock_output: Option<u64>,
    #[serde(rename = "cacheReadInputTokens")]
    bedrock_cache_read: Option<u64>,
    #[serde(rename = "cacheWriteInputTokens")]
    bedrock_cache_write: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Details {
    cached_tokens: Option<u64>,
    /// Some OpenAI-compatible servers report cache writes here.
    cache_write_tokens: Option<u64>,
}

impl Tokens {
    /// Converts a vendor's usage block (the `usage` object of the response) into our
    /// classes, recognising the shape by its fields (see the module documentation).
    ///
    /// # Errors
    ///
    /// A message when the block is not an object of non-negative integer counts, or has no
    /// input count of any known shape.
    pub fn from_usage(usage: &serde_json::Value) -> Result<(Self, UsageShape), String> {
        let w = Wire::deserialize(usage).map_err(|e| format!("usage: {e}"))?;
        let n = |v: Option<u64>| v.unwrap_or(0);
        if let Some(input) = w.bedrock_input {
            let t = Tokens {
                input,
                output: n(w.bedrock_output),
                cached_input: n(w.bedrock_cache_read),
                cache_write: n(w.bedrock_cache_write),
            };
            return Ok((t, UsageShape::BedrockConverse));
        }
        if let Some(prompt) = w.prompt_tokens {
            let details = w.prompt_tokens_details.unwrap_or_default();
            // The same cache hits may be named both ways: counted once.
            let cached = n(details.cached_tokens).max(n(w.cache_read_input_tokens));
            let write = n(w.cache_creation_input_tokens).max(n(details.cache_write_tokens));
            let shape = if w.cache_creation_input_tokens.is_some() {
                UsageShape::Gateway
            } else {
                UsageShape::OpenAiChat
            };
            let (input, cached_input, cache_write) = inclusive(prompt, cached, write);
            let t = Tokens {
                input,
                output: n(w.completion_tokens),
                cached_input,
                cache_write,
            };
            return Ok((t, shape));
        }
        let Some(input) = w.input_tokens else {
            return Err(
                "usage has no input token count (prompt_tokens, input_tokens or inputTokens)"
                    .into(),
            );
        };
        if let Some(details) = w.input_tokens_details {
            let (input, cached_input, cache_write) = inclusive(
                input,
                n(details.cached_tokens),
                n(details.cache_write_tokens),
            );
            let t = Tokens {
                input,
                output: n(w.output_tokens),
                cached_input,
                cache_write,
            };
            return Ok((t, UsageShape::OpenAiResponses));
        }
        let t = Tokens {
            input,
            output: n(w.output_tokens),
            cached_input: n(w.cache_read_input_tokens),
            cache_write: n(w.cache_creation_input_tokens),
        };
        Ok((t, UsageShape::Anthropic))
    }

    /// The counts as the cost crate's [`TokenCounts`].
    pub fn counts(&self) -> TokenCounts {
        TokenCounts {
            input: self.input,
            cached_input: self.cached_input,
            cache_write: self.cache_write,
            output: self.output,
        }
    }

    /// Every token of the call, all classes.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cached_input)
            .saturating_add(self.cache_write)
    }
}

/// Splits an input count that includes the cache tokens: `(uncached, read, write)`. When the
/// total is too small to include reads and writes, it is read as including the reads only,
/// else as including neither (see the module documentation).
fn inclusive(total: u64, read: u64, write: u64) -> (u64, u64, u64) {
    if let Some(rest) = total.checked_sub(read.saturating_add(write)) {
        (rest, read, write)
    } else if let Some(rest) = total.checked_sub(read) {
        (rest, read, write)
    } else {
        (total, read, write)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tokens(v: serde_json::Value) -> (Tokens, UsageShape) {
        Tokens::from_usage(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn t(input: u64, cached_input: u64, cache_write: u64, output: u64) -> Tokens {
        Tokens {
            input,
            output,
            cached_input,
            cache_write,
        }
    }

    #[test]
    fn openai_chat_cached_tokens_are_inside_prompt_tokens() {
        let got = tokens(json!({"prompt_tokens": 1000, "completion_tokens": 50,
            "total_tokens": 1050, "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0}}));
        assert_eq!(got, (t(800, 200, 0, 50), UsageShape::OpenAiChat));
        let plain = tokens(json!({"prompt_tokens": 7, "completion_tokens": 3}));
        assert_eq!(plain, (t(7, 0, 0, 3), UsageShape::OpenAiChat));
        let nulls = tokens(
            json!({"prompt_tokens": 7, "completion_tokens": 3, "prompt_tokens_details": null}),
        );
        assert_eq!(nulls.0, t(7, 0, 0, 3));
    }

    #[test]
    fn openai_responses_cached_tokens_are_inside_input_tokens() {
        let got = tokens(
            json!({"input_tokens": 125, "output_tokens": 48, "total_tokens": 173,
            "input_tokens_details": {"cached_tokens": 98}, "output_tokens_details": {"reasoning_tokens": 0}}),
        );
        assert_eq!(got, (t(27, 98, 0, 48), UsageShape::OpenAiResponses));
    }

    #[test]
    fn anthropic_input_fields_add_up() {
        let got = tokens(json!({"input_tokens": 9, "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 2000, "output_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0}}));
        assert_eq!(got, (t(9, 100, 2000, 50), UsageShape::Anthropic));
        let no_cache = tokens(json!({"input_tokens": 12, "output_tokens": 4,
            "cache_read_input_tokens": null, "cache_creation_input_tokens": null}));
        assert_eq!(no_cache.0, t(12, 0, 0, 4));
    }

    #[test]
    fn bedrock_converse_reports_cache_tokens_separately() {
        let got = tokens(
            json!({"inputTokens": 9, "outputTokens": 50, "totalTokens": 2159,
            "cacheReadInputTokens": 100, "cacheWriteInputTokens": 2000}),
        );
        assert_eq!(got, (t(9, 100, 2000, 50), UsageShape::BedrockConverse));
        let plain = tokens(json!({"inputTokens": 30, "outputTokens": 5, "totalTokens": 35}));
        assert_eq!(plain.0, t(30, 0, 0, 5));
    }

    #[test]
    fn gateway_prompt_tokens_include_reads_and_writes() {
        // data-19: LiteLLM in front of Anthropic, 9 uncached + 100 read + 2000 written.
        let usage = json!({"prompt_tokens": 2109, "completion_tokens": 50, "total_tokens": 2159,
            "prompt_tokens_details": {"cached_tokens": 100},
            "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 100});
        assert_eq!(tokens(usage), (t(9, 100, 2000, 50), UsageShape::Gateway));
        // Only the Anthropic names, no prompt_tokens_details: the reads are not counted twice.
        let only_anthropic = json!({"prompt_tokens": 2109, "completion_tokens": 50,
            "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 100});
        assert_eq!(tokens(only_anthropic).0, t(9, 100, 2000, 50));
        // A cache write without reads.
        let write_only = json!({"prompt_tokens": 2009, "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 0}, "cache_creation_input_tokens": 2000});
        assert_eq!(tokens(write_only).0, t(9, 0, 2000, 1));
    }

    #[test]
    fn gateway_counts_that_cannot_include_the_writes_never_go_negative() {
        // prompt_tokens includes the reads but not the writes (older gateways).
        let reads_only = json!({"prompt_tokens": 109, "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 100}, "cache_creation_input_tokens": 2000});
        assert_eq!(tokens(reads_only).0, t(9, 100, 2000, 50));
        // prompt_tokens is the uncached part only.
        let neither = json!({"prompt_tokens": 9, "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 100}, "cache_creation_input_tokens": 2000});
        assert_eq!(tokens(neither).0, t(9, 100, 2000, 50));
        // OpenAI with cached_tokens larger than the prompt (a broken server).
        let broken = json!({"prompt_tokens": 5, "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 9}});
        assert_eq!(tokens(broken).0.input, 5);
    }

    #[test]
    fn malformed_usage_is_an_error_not_a_panic() {
        for bad in [
            json!({}),
            json!([]),
            json!("x"),
            json!({"prompt_tokens": -1}),
            json!({"prompt_tokens": 1.5}),
            json!({"completion_tokens": 3}),
            json!({"inputTokens": "9"}),
        ] {
            assert!(Tokens::from_usage(&bad).is_err(), "{bad}");
        }
        let huge = json!({"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX,
            "prompt_tokens_details": {"cached_tokens": u64::MAX}, "cache_creation_input_tokens": u64::MAX});
        let (t, _) = tokens(huge);
        assert_eq!(t.total(), u64::MAX);
    }

    #[test]
    fn counts_price_each_class_at_its_rate() {
        // data-19's numbers at claude-3-5-sonnet-20241022's bundled prices: 0.008307 USD.
        let price = tillbridge_costs::PriceTable::bundled()
            .get("claude-3-5-sonnet-20241022")
            .copied();
        let cost = price.map(|p| t(9, 100, 2000, 50).counts().cost(&p));
        assert_eq!(
            cost.map(|c| tillbridge_costs::format_fixed(c, 6)),
            Some("0.008307".to_owned())
        );
    }
}

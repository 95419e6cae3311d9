//! The LLM tier of mapping suggestions. Off unless configured; when on, the offline tiers
//! still decide first and the model is asked only about uncertain fields, in one batched
//! prompt with customer PII masked. The cheapest model goes first; fields still below 0.9
//! escalate to the next. Answers are cached by schema hash in the table port, each call is
//! reserved against the tenant's budget first and emits `ai.usage.recorded`, and any failure
//! (timeouts, 429, 5xx, an open circuit, a refused budget, an unusable answer) falls back to
//! the offline suggestions.

#![warn(missing_docs)]

mod client;
mod usage;

use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tillbridge_accounting::{self as accounting, Reserve};
use tillbridge_costs::PriceTable;
use tillbridge_domain::event::UsageRecorded;
use tillbridge_domain::{CorrelationId, Envelope, TenantId, Timestamp};
use tillbridge_mapping::llm::{self, Answer};
use tillbridge_mapping::{FieldProfile, Suggestion};
use tillbridge_migration::suggest::{ModelCall, Refine, RefineContext};
use tillbridge_ports::{Condition, EventBus, Item, Table};

pub use client::{ChatClient, Completion, Config, LlmError};
pub use usage::{Tokens, UsageShape};

/// Output tokens we budget per field asked about.
const OUTPUT_TOKENS_PER_FIELD: u64 = 60;

/// Who is asking, and what they may spend.
pub struct Request<'a> {
    /// The tenant whose budget pays.
    pub tenant: &'a TenantId,
    /// The migration the call serves (grouping in the cost tables).
    pub migration_id: Option<&'a str>,
    /// Carried onto the `ai.usage.recorded` events.
    pub correlation: &'a CorrelationId,
    /// The tenant's monthly hard limit in USD (None: no AI budget set, calls are refused).
    pub budget_usd: Option<Decimal>,
    /// Now (the month budgets and usage are filed under).
    pub at: Timestamp,
}

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The model called.
    pub model: String,
    /// SHA-256 of the prompt sent (for `ai_suggestion` audit entries); never the prompt.
    pub prompt_hash: String,
    /// Tokens the provider reported.
    pub tokens: Tokens,
    /// Fields the model answered usably, and their mean confidence.
    pub answered: usize,
    /// Mean confidence of the usable answers (0..1).
    pub mean_confidence: f64,
}

/// What the tier did, for the suggestions' audit trail and the operator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Model calls, in order.
    pub calls: Vec<Call>,
    /// Answers came from the schema-hash cache: no call was made.
    pub cache_hit: bool,
    /// Why the tier stopped early or fell back, if it did.
    pub fallback: Option<String>,
}

impl Outcome {
    /// The models called, in order.
    pub fn models(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.model.as_str()).collect()
    }
}

#[derive(Serialize, Deserialize)]
struct CachedAnswer {
    path: String,
    target: Option<String>,
    confidence: f64,
    reason: String,
    model: String,
}

/// The LLM tier over one table and bus: a cache by schema hash, budget reservations and
/// usage events around every call.
pub struct LlmTier<'a> {
    /// The chat-completions client.
    pub client: &'a ChatClient,
    /// Cache, budgets and reservations.
    pub table: &'a dyn Table,
    /// Where `ai.usage.recorded` goes.
    pub bus: &'a dyn EventBus,
    /// Model prices for estimates and settlements (USD per token).
    pub prices: &'a PriceTable,
}

/// Why the escalation over models ends or moves on.
enum Stop {
    /// Fall back to the offline suggestions: no price, no budget, the call failed.
    Fallback(String),
    /// The model answered unusably: record the call and try the next model.
    Escalate(Call, String),
}

impl LlmTier<'_> {
    /// Improves `suggestions` (the offline tiers' output for `fields`) in place.
    pub async fn refine(
        &self,
        fields: &[FieldProfile],
        suggestions: &mut [Suggestion],
        req: &Request<'_>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let schema = llm::schema_hash(fields);
        let cache_pk = format!("llmcache#{schema}");

        if let Ok(Some(item)) = self.table.get(&cache_pk, "answers").await
            && let Ok(cached) = item.doc::<Vec<CachedAnswer>>()
        {
            for c in &cached {
                llm::merge(suggestions, fields, &[to_answer(c)], &c.model);
            }
            outcome.cache_hit = true;
            return outcome;
        }

        let mut learned: Vec<CachedAnswer> = Vec::new();
        let models = self.client.config().models.clone();
        for (attempt, model) in models.iter().enumerate() {
            let asked: Vec<Suggestion> = llm::uncertain(suggestions).into_iter().cloned().collect();
            if asked.is_empty() {
                break;
            }
            let step = self
                .ask(
                    model,
                    attempt,
                    fields,
                    &asked,
                    suggestions,
                    req,
                    &mut learned,
                )
                .await;
            match step {
                Ok(call) => outcome.calls.push(call),
                Err(Stop::Fallback(reason)) => {
                    outcome.fallback = Some(reason);
                    break;
                }
                Err(Stop::Escalate(call, reason)) => {
                    outcome.calls.push(call);
                    outcome.fallback = Some(reason);
                }
            }
        }

        if !learned.is_empty()
            && let Ok(item) = Item::with_doc(&cache_pk, "answers", &learned)
            && let Err(e) = self.table.put(item, Condition::Always).await
        {
            tracing::warn!(error = %e, "could not cache model answers");
        }
        outcome
    }

    /// One call to `model` about the `asked` fields: reserve its estimated cost under the
    /// tenant's hard limit, call, settle the actual cost, emit the usage, merge the answers.
    #[allow(clippy::too_many_arguments)]
    async fn ask(
        &self,
        model: &str,
        attempt: usize,
        fields: &[FieldProfile],
        asked: &[Suggestion],
        suggestions: &mut [Suggestion],
        req: &Request<'_>,
        learned: &mut Vec<CachedAnswer>,
    ) -> Result<Call, Stop> {
        let asked_refs: Vec<&Suggestion> = asked.iter().collect();
        let body = llm::prompt(model, fields, &asked_refs);
        let text = body.to_string();
        let prompt_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        let request_id = format!("map-{}-{attempt}", &prompt_hash[..16]);
        let Some(price) = self.prices.get(model) else {
            return Err(Stop::Fallback(format!("no price known for model {model}")));
        };
        let estimate_tokens = (text.len() as u64).div_ceil(3);
        let estimate = price.input * Decimal::from(estimate_tokens)
            + price.output * Decimal::from(OUTPUT_TOKENS_PER_FIELD * asked.len() as u64);
        let period = accounting::period_of(req.at);
        self.reserve(req, &period, &request_id, estimate).await?;

        let completion = match self.client.complete(model, &text).await {
            Ok(c) => c,
            Err(e) => {
                // Nothing was spent: release the reservation.
                let _ =
                    accounting::settle(self.table, req.tenant, &period, &request_id, Decimal::ZERO)
                        .await;
                return Err(Stop::Fallback(format!("{model}: {e}")));
            }
        };
        let t = completion.tokens;
        // Every class at its own rate (cache writes at the cache-creation rate).
        let actual = t.counts().cost(price);
        if let Err(e) =
            accounting::settle(self.table, req.tenant, &period, &request_id, actual).await
        {
            tracing::warn!(error = %e, "could not settle the model call's reservation");
        }
        self.emit_usage(req, &request_id, &completion).await;
        let mut call = Call {
            model: model.to_owned(),
            prompt_hash,
            tokens: t,
            answered: 0,
            mean_confidence: 0.0,
        };
        match llm::parse(&completion.content, &asked_refs) {
            Ok(answers) => {
                call.answered = answers.len();
                call.mean_confidence =
                    answers.iter().map(|a| a.confidence).sum::<f64>() / answers.len().max(1) as f64;
                llm::merge(suggestions, fields, &answers, model);
                learned.retain(|c| !answers.iter().any(|a| a.path == c.path));
                learned.extend(answers.into_iter().map(|a| CachedAnswer {
                    path: a.path,
                    target: a.target.map(String::from),
                    confidence: a.confidence,
                    reason: a.reason,
                    model: model.to_owned(),
                }));
                Ok(call)
            }
            Err(e) => {
                tracing::warn!(model = %model, error = %e, "unusable model answer; escalating");
                Err(Stop::Escalate(call, format!("{model}: {e}")))
            }
        }
    }

    /// Reserves `estimate` USD of the tenant's monthly hard limit for one call.
    async fn reserve(
        &self,
        req: &Request<'_>,
        period: &str,
        request_id: &str,
        estimate: Decimal,
    ) -> Result<(), Stop> {
        let Some(limit) = req.budget_usd else {
            return Err(Stop::Fallback("no AI budget set for the tenant".into()));
        };
        match accounting::reserve(self.table, req.tenant, period, request_id, estimate, limit).await
        {
            Ok(Reserve::Granted) => Ok(()),
            Ok(Reserve::Refused { available }) => Err(Stop::Fallback(format!(
                "AI budget exhausted ({available} USD left, call needs about {estimate})"
            ))),
            Err(e) => Err(Stop::Fallback(format!("budget check failed: {e}"))),
        }
    }

    async fn emit_usage(&self, req: &Request<'_>, request_id: &str, c: &Completion) {
        let usage = UsageRecorded {
            request_id: if c.id.is_empty() {
                request_id.to_string()
            } else {
                c.id.clone()
            },
            migration_id: req.migration_id.map(String::from),
            operation: "mapping.suggest".into(),
            provider: self.client.config().provider.clone(),
            model: c.model.clone(),
            input_tokens: c.tokens.input,
            output_tokens: c.tokens.output,
            cached_input_tokens: c.tokens.cached_input,
            cache_write_tokens: c.tokens.cache_write,
        };
        let event: Envelope = accounting::usage_event(req.tenant, usage, req.at, req.correlation);
        let failed = match self.bus.put_events(std::slice::from_ref(&event)).await {
            Ok(results) => results.into_iter().find_map(Result::err),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            tracing::error!(error = %e, "could not publish ai.usage.recorded");
        }
    }
}

fn to_answer(c: &CachedAnswer) -> Answer {
    Answer {
        path: c.path.clone(),
        target: c
            .target
            .as_deref()
            .and_then(|t| llm::TARGETS.iter().copied().find(|x| *x == t)),
        confidence: c.confidence,
        reason: format!("{} (cached)", c.reason),
    }
}

/// The LLM tier as the mapping-suggest stage's refiner: reads the tenant's AI budget, runs
/// the tier, and reports each call for the audit trail.
pub struct LlmRefiner {
    /// The chat-completions client.
    pub client: Arc<ChatClient>,
    /// Cache, budgets and reservations.
    pub table: Arc<dyn Table>,
    /// Where `ai.usage.recorded` goes.
    pub bus: Arc<dyn EventBus>,
    /// Model prices (USD per token).
    pub prices: PriceTable,
}

#[async_trait]
impl Refine for LlmRefiner {
    async fn refine(
        &self,
        cx: &RefineContext<'_>,
        fields: &[FieldProfile],
        suggestions: &mut [Suggestion],
    ) -> Vec<ModelCall> {
        let budget_usd = match accounting::budget_limits(self.table.as_ref(), cx.tenant).await {
            Ok(b) => b.map(|b| b.hard_limit()),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the AI budget; staying offline");
                return Vec::new();
            }
        };
        let tier = LlmTier {
            client: &self.client,
            table: self.table.as_ref(),
            bus: self.bus.as_ref(),
            prices: &self.prices,
        };
        let req = Request {
            tenant: cx.tenant,
            migration_id: Some(cx.migration),
            correlation: cx.correlation,
            budget_usd,
            at: cx.at,
        };
        let outcome = tier.refine(fields, suggestions, &req).await;
        if let Some(why) = &outcome.fallback {
            tracing::info!(tenant = %cx.tenant, reason = %why, "LLM tier fell back to the offline suggestions");
        }
        outcome
            .calls
            .into_iter()
            .map(|c| ModelCall {
                summary: format!("{} fields answered", c.answered),
                tokens: c.tokens.total(),
                confidence: c.mean_confidence,
                model: c.model,
                prompt_hash: c.prompt_hash,
            })
            .collect()
    }
}

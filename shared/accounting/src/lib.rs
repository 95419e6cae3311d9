//! AI cost accounting over the table port: an idempotent ledger entry per request, token
//! aggregates per tenant × month × model × operation × migration × day (written in the same
//! transaction), budget thresholds announced once, and hard limits enforced by reserving an
//! estimate before a model call and settling after.
//!
//! Aggregates hold integer token counts per model and price regime; money is computed from
//! them exactly when read, so a price correction re-prices history without rewriting it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tillbridge_costs::infra::InfraUsage;
use tillbridge_costs::usage::TokenCounts;
use tillbridge_costs::{PriceBook, format_fixed};
use tillbridge_domain::event::{
    EventData, SCHEMA_VERSION, ThresholdCrossed, UsageRecorded, derive_event_id,
};
use tillbridge_domain::{Envelope, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};
use tillbridge_ports::{EventBus, PortError};

mod error;
pub mod finance;
pub mod metering;

pub use error::AccountingError;
use tillbridge_ports::publish;

pub const THRESHOLDS: [u32; 3] = [50, 80, 100];
const MAX_ATTEMPTS: usize = 16;

/// `YYYY-MM` of an instant (UTC).
pub fn period_of(at: Timestamp) -> String {
    at.to_string().get(..7).unwrap_or("0000-00").to_owned()
}

fn dec(s: &str) -> Decimal {
    tillbridge_domain::money::parse_decimal(s).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

/// Group dimensions an aggregate is kept for.
pub const GROUPS: [&str; 5] = ["total", "model", "operation", "migration", "day"];

fn token_deltas(t: &TokenCounts, priced: bool) -> Vec<(String, i64)> {
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

/// Records one model call: ledger entry and aggregates in one transaction (a redelivered
/// event is a no-op), then announces budget thresholds crossed.
pub async fn record_usage(
    table: &dyn Table,
    bus: &dyn EventBus,
    book: &PriceBook,
    event: &Envelope,
) -> Result<Recorded, AccountingError> {
    let EventData::AiUsageRecorded(u) = &event.body else {
        return Err(AccountingError::Permanent(format!(
            "{} is not a usage event",
            event.event_type().as_str()
        )));
    };
    let tenant = &event.tenant_id;
    let at = event.occurred_at;
    let period = period_of(at);
    let tokens = TokenCounts {
        input: u.input_tokens,
        cached_input: u.cached_input_tokens,
        cache_write: u.cache_write_tokens,
        output: u.output_tokens,
    };
    let regime = book.change_points().partition_point(|c| *c <= at);
    let price = book
        .version_at(at)
        .and_then(|v| book.price(v, &u.model, at));
    let cost = price.map(|p| tokens.cost(&p));
    let ledger = Item::with_doc(
        format!("ledger#{tenant}#{period}"),
        format!("req#{}", u.request_id),
        &json!({ "usage": u, "occurred_at": at, "regime": regime, "cost_usd": cost.map(|c| c.to_string()), "event_id": event.event_id }),
    )?;
    let agg_pk = format!("costagg#{tenant}#{period}");
    let day = at.to_string().get(8..10).unwrap_or("00").to_owned();
    let mut writes = vec![TxWrite::Put {
        item: ledger,
        condition: Condition::IfAbsent,
    }];
    let model_key = format!("{}#r{regime}", safe(&u.model));
    let mut group = |g: &str, v: &str| {
        writes.push(TxWrite::Add {
            pk: agg_pk.clone(),
            sk: format!("{g}#{}#{model_key}", safe(v)),
            deltas: token_deltas(&tokens, price.is_some()),
        });
    };
    group("total", "all");
    group("model", &u.model);
    group("operation", &u.operation);
    if let Some(m) = &u.migration_id {
        group("migration", m);
    }
    group("day", &day);
    match table.transact(writes).await {
        Ok(()) => {}
        Err(PortError::ConditionFailed) => return Ok(Recorded::Duplicate),
        Err(e) => return Err(e.into()),
    }
    announce_thresholds(table, bus, book, tenant, &period, event).await?;
    Ok(Recorded::New)
}

/// Keeps model names and group values usable inside sort keys.
fn safe(s: &str) -> String {
    s.chars()
        .take(120)
        .map(|c| if c == '#' { '_' } else { c })
        .collect()
}

/// One aggregate row of a tenant's month: tokens and exact cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostLine {
    pub requests: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    #[serde(skip)]
    pub cost: Decimal,
    pub unpriced_requests: u64,
}

fn attr(i: &Item, k: &str) -> u64 {
    i.attrs
        .get(k)
        .and_then(Value::as_i64)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

/// Aggregates of one tenant's month grouped by `group` (total, model, operation, migration,
/// day), priced with `book`.
pub async fn grouped_costs(
    table: &dyn Table,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
    group: &str,
) -> Result<BTreeMap<String, CostLine>, AccountingError> {
    let items = query_all(
        table,
        &format!("costagg#{tenant}#{period}"),
        &format!("{group}#"),
    )
    .await?;
    let changes = book.change_points();
    let mut out: BTreeMap<String, CostLine> = BTreeMap::new();
    for i in items {
        // sk = group#value#model#r<regime>
        let parts: Vec<&str> = i.sk.splitn(2, '#').collect();
        let rest = parts.get(1).copied().unwrap_or("");
        let Some((value_model, regime)) = rest.rsplit_once("#r") else {
            continue;
        };
        let Some((value, model)) = value_model.split_once('#') else {
            continue;
        };
        let regime: usize = regime.parse().unwrap_or(0);
        let tokens = TokenCounts {
            input: attr(&i, "input_tokens"),
            cached_input: attr(&i, "cached_input_tokens"),
            cache_write: attr(&i, "cache_write_tokens"),
            output: attr(&i, "output_tokens"),
        };
        // An instant inside the regime prices the whole aggregate.
        let at = if regime == 0 {
            Timestamp::UNIX_EPOCH
        } else {
            changes
                .get(regime - 1)
                .copied()
                .unwrap_or(Timestamp::UNIX_EPOCH)
        };
        let priced_requests = attr(&i, "requests") - attr(&i, "unpriced_requests");
        let cost = if priced_requests > 0 {
            book.version_at(at)
                .and_then(|v| book.price(v, model, at))
                .map(|p| tokens.cost(&p))
                .unwrap_or_default()
        } else {
            Decimal::ZERO
        };
        let line = out.entry(value.to_owned()).or_default();
        line.requests += attr(&i, "requests");
        line.input_tokens += tokens.input;
        line.cached_input_tokens += tokens.cached_input;
        line.cache_write_tokens += tokens.cache_write;
        line.output_tokens += tokens.output;
        line.unpriced_requests += attr(&i, "unpriced_requests");
        line.cost += cost;
    }
    Ok(out)
}

/// The tenant's AI spend this month, exact.
pub async fn spent(
    table: &dyn Table,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
) -> Result<Decimal, AccountingError> {
    Ok(grouped_costs(table, book, tenant, period, "total")
        .await?
        .values()
        .map(|l| l.cost)
        .sum())
}

/// Monthly budgets live in the table (`budgets` / `<tenant>`).
pub async fn set_budget(
    table: &dyn Table,
    tenant: &TenantId,
    monthly_usd: Decimal,
) -> Result<(), AccountingError> {
    table
        .put(
            Item::with_doc(
                "budgets",
                tenant.as_str(),
                &json!({ "monthly_usd": monthly_usd.to_string() }),
            )?,
            Condition::Always,
        )
        .await?;
    Ok(())
}

pub async fn budget(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Option<Decimal>, AccountingError> {
    Ok(table.get("budgets", tenant.as_str()).await?.and_then(|i| {
        i.attrs
            .get("doc")
            .and_then(|d| d["monthly_usd"].as_str().map(dec))
    }))
}

async fn announce_thresholds(
    table: &dyn Table,
    bus: &dyn EventBus,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
    cause: &Envelope,
) -> Result<(), AccountingError> {
    let Some(limit) = budget(table, tenant).await? else {
        return Ok(());
    };
    if limit.is_zero() {
        return Ok(());
    }
    let spent = spent(table, book, tenant, period).await?;
    for t in THRESHOLDS {
        if spent * Decimal::ONE_HUNDRED < limit * Decimal::from(t) {
            continue;
        }
        // Record first, publish, then mark sent: a crash in between republishes the same
        // event id (consumers dedupe), it never skips the announcement.
        let pk = format!("budget#{tenant}#{period}");
        let sk = format!("threshold#{t}");
        let created = match table
            .put(
                Item::with_doc(&pk, &sk, &json!({ "state": "pending" }))?,
                Condition::IfAbsent,
            )
            .await
        {
            Ok(_) => true,
            Err(PortError::ConditionFailed) => false,
            Err(e) => return Err(e.into()),
        };
        let existing = table.get(&pk, &sk).await?;
        let pending = existing.as_ref().is_some_and(|i| {
            i.attrs.get("doc").and_then(|d| d["state"].as_str()) == Some("pending")
        });
        if !(created || pending) {
            continue;
        }
        let event = Envelope {
            event_id: derive_event_id(&format!("budget/{tenant}/{period}/{t}"), 0),
            body: EventData::BudgetThresholdCrossed(ThresholdCrossed {
                period: period.to_owned(),
                threshold_percent: t,
                budget_usd: format_fixed(limit, 6),
                spent_usd: format_fixed(spent, 6),
            }),
            schema_version: SCHEMA_VERSION,
            tenant_id: tenant.clone(),
            provider: None,
            entity_id: format!("{tenant}/{period}"),
            occurred_at: cause.occurred_at,
            received_at: cause.received_at,
            correlation_id: cause.correlation_id.clone(),
        };
        publish(bus, std::slice::from_ref(&event)).await?;
        if let Some(item) = existing {
            let sent = Item::with_doc(
                &pk,
                &sk,
                &json!({ "state": "sent", "event_id": event.event_id }),
            )?;
            match table.put(sent, Condition::IfVersion(item.version)).await {
                Ok(_) | Err(PortError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BudgetState {
    committed: String,
    reserved: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reservation {
    estimate: String,
    state: String,
    #[serde(default)]
    actual: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserve {
    Granted,
    /// The call would exceed the hard limit; `available` is what is left.
    Refused {
        available: Decimal,
    },
}

/// Reserves `estimate` USD of the tenant's monthly hard `limit` before a model call.
/// Concurrent reservations can never together exceed the limit: the budget state is
/// updated with a version condition in the same transaction as the reservation record.
/// Idempotent per `reservation_id`.
pub async fn reserve(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
    reservation_id: &str,
    estimate: Decimal,
    limit: Decimal,
) -> Result<Reserve, AccountingError> {
    let pk = format!("budget#{tenant}#{period}");
    let res_sk = format!("res#{reservation_id}");
    for _ in 0..MAX_ATTEMPTS {
        if table.get(&pk, &res_sk).await?.is_some() {
            return Ok(Reserve::Granted);
        }
        let current = table.get(&pk, "state").await?;
        let (state, condition) = match &current {
            Some(i) => (i.doc::<BudgetState>()?, Condition::IfVersion(i.version)),
            None => (BudgetState::default(), Condition::IfAbsent),
        };
        let (committed, reserved) = (dec(&state.committed), dec(&state.reserved));
        if committed + reserved + estimate > limit {
            return Ok(Reserve::Refused {
                available: (limit - committed - reserved).max(Decimal::ZERO),
            });
        }
        let next = BudgetState {
            committed: committed.to_string(),
            reserved: (reserved + estimate).to_string(),
        };
        let writes = vec![
            TxWrite::Put {
                item: Item::with_doc(&pk, "state", &next)?,
                condition,
            },
            TxWrite::Put {
                item: Item::with_doc(
                    &pk,
                    &res_sk,
                    &Reservation {
                        estimate: estimate.to_string(),
                        state: "open".into(),
                        actual: None,
                    },
                )?,
                condition: Condition::IfAbsent,
            },
        ];
        match table.transact(writes).await {
            Ok(()) => return Ok(Reserve::Granted),
            Err(PortError::ConditionFailed) => {
                tokio::task::yield_now().await;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AccountingError::Retryable(
        "budget is under heavy contention; retry".into(),
    ))
}

/// Settles a reservation with the call's actual cost. Idempotent.
pub async fn settle(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
    reservation_id: &str,
    actual: Decimal,
) -> Result<(), AccountingError> {
    let pk = format!("budget#{tenant}#{period}");
    let res_sk = format!("res#{reservation_id}");
    for _ in 0..MAX_ATTEMPTS {
        let Some(res_item) = table.get(&pk, &res_sk).await? else {
            return Err(AccountingError::Permanent(format!(
                "no reservation {reservation_id}"
            )));
        };
        let res: Reservation = res_item.doc()?;
        if res.state == "settled" {
            return Ok(());
        }
        let Some(state_item) = table.get(&pk, "state").await? else {
            return Err(AccountingError::Permanent("budget state missing".into()));
        };
        let state: BudgetState = state_item.doc()?;
        let next = BudgetState {
            committed: (dec(&state.committed) + actual).to_string(),
            reserved: (dec(&state.reserved) - dec(&res.estimate))
                .max(Decimal::ZERO)
                .to_string(),
        };
        let settled = Reservation {
            estimate: res.estimate.clone(),
            state: "settled".into(),
            actual: Some(actual.to_string()),
        };
        let writes = vec![
            TxWrite::Put {
                item: Item::with_doc(&pk, "state", &next)?,
                condition: Condition::IfVersion(state_item.version),
            },
            TxWrite::Put {
                item: Item::with_doc(&pk, &res_sk, &settled)?,
                condition: Condition::IfVersion(res_item.version),
            },
        ];
        match table.transact(writes).await {
            Ok(()) => return Ok(()),
            Err(PortError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AccountingError::Retryable(
        "budget is under heavy contention; retry".into(),
    ))
}

/// Committed and reserved amounts of the month (for reports and tests).
pub async fn budget_state(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
) -> Result<(Decimal, Decimal), AccountingError> {
    Ok(
        match table
            .get(&format!("budget#{tenant}#{period}"), "state")
            .await?
        {
            Some(i) => {
                let s: BudgetState = i.doc()?;
                (dec(&s.committed), dec(&s.reserved))
            }
            None => (Decimal::ZERO, Decimal::ZERO),
        },
    )
}

/// Adds what a function spent handling one record for `tenant` (`infra#<tenant>#<month>` /
/// `<function>`), written to the unmetered table so the meter does not count itself.
pub async fn record_infra(
    table: &dyn Table,
    tenant: &TenantId,
    at: Timestamp,
    function: &str,
    usage: &InfraUsage,
) -> Result<(), AccountingError> {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let deltas = [
        ("lambda_requests", i(usage.lambda_requests)),
        ("lambda_mb_ms", i(usage.lambda_mb_ms)),
        ("http_api_requests", i(usage.http_api_requests)),
        ("sqs_requests", i(usage.sqs_requests)),
        ("eventbridge_events", i(usage.eventbridge_events)),
        ("dynamodb_wru", i(usage.dynamodb_wru)),
        ("dynamodb_rru", i(usage.dynamodb_rru)),
        ("s3_put", i(usage.s3_put)),
        ("s3_get", i(usage.s3_get)),
    ];
    table
        .add(
            &format!("infra#{tenant}#{}", period_of(at)),
            function,
            &deltas,
        )
        .await?;
    Ok(())
}

/// A tenant's infrastructure usage in a month, all functions summed.
pub async fn infra_usage(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
) -> Result<InfraUsage, AccountingError> {
    let mut total = InfraUsage::default();
    for item in query_all(table, &format!("infra#{tenant}#{period}"), "").await? {
        total.add(&InfraUsage {
            lambda_requests: attr(&item, "lambda_requests"),
            lambda_mb_ms: attr(&item, "lambda_mb_ms"),
            http_api_requests: attr(&item, "http_api_requests"),
            sqs_requests: attr(&item, "sqs_requests"),
            eventbridge_events: attr(&item, "eventbridge_events"),
            dynamodb_wru: attr(&item, "dynamodb_wru"),
            dynamodb_rru: attr(&item, "dynamodb_rru"),
            s3_put: attr(&item, "s3_put"),
            s3_get: attr(&item, "s3_get"),
        });
    }
    Ok(total)
}

/// Turns a meter reading and a measured duration into the usage of one handled record.
pub fn infra_for_record(
    units: tillbridge_ports::meter::InfraUnits,
    elapsed: std::time::Duration,
    memory_mb: u64,
    http: bool,
) -> InfraUsage {
    // Lambda bills duration in 1 ms steps.
    let ms = u64::try_from(elapsed.as_micros().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1);
    InfraUsage {
        lambda_requests: 1,
        lambda_mb_ms: ms.saturating_mul(memory_mb),
        http_api_requests: u64::from(http),
        sqs_requests: units.sqs_requests,
        eventbridge_events: units.eventbridge_events,
        dynamodb_wru: units.dynamodb_wru,
        dynamodb_rru: units.dynamodb_rru,
        s3_put: units.s3_put,
        s3_get: units.s3_get,
    }
}

/// A usage event as the model client emits it.
pub fn usage_event(
    tenant: &TenantId,
    usage: UsageRecorded,
    at: Timestamp,
    correlation: &tillbridge_domain::CorrelationId,
) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("usage/{tenant}/{}", usage.request_id), 0),
        entity_id: usage.request_id.clone(),
        body: EventData::AiUsageRecorded(usage),
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: None,
        occurred_at: at,
        received_at: at,
        correlation_id: correlation.clone(),
    }
}

#[cfg(test)]
mod tests;

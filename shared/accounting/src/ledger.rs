//! The ledger: one idempotent entry per model call, token aggregates in the same
//! transaction, grouped cost reads.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use tillbridge_costs::PriceBook;
use tillbridge_costs::usage::TokenCounts;
use tillbridge_domain::event::{EventData, SCHEMA_VERSION, UsageRecorded, derive_event_id};
use tillbridge_domain::{Envelope, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};
use tillbridge_ports::{EventBus, PortError};

use crate::budget::announce_thresholds;
use crate::legacy::LEGACY_MODEL;
use crate::{AccountingError, CostGroup, Recorded, attr, keys, period_of, safe, token_deltas};

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
    let (ledger_pk, ledger_sk) = keys::ledger(tenant, &period, &u.request_id);
    let ledger = Item::with_doc(
        ledger_pk,
        ledger_sk,
        &json!({ "usage": u, "occurred_at": at, "regime": regime, "cost_usd": cost.map(|c| c.to_string()), "event_id": event.event_id }),
    )?;
    let agg_pk = keys::aggregates_pk(tenant, &period);
    let day = at.to_string().get(8..10).unwrap_or("00").to_owned();
    let mut writes = vec![TxWrite::Put {
        item: ledger,
        condition: Condition::IfAbsent,
    }];
    let model = safe(&u.model);
    let mut group = |g: CostGroup, v: &str| {
        writes.push(TxWrite::Add {
            pk: agg_pk.clone(),
            sk: keys::aggregate_sk(g, &safe(v), &model, regime),
            deltas: token_deltas(&tokens, price.is_some()),
        });
    };
    group(CostGroup::Total, "all");
    group(CostGroup::Model, &u.model);
    group(CostGroup::Operation, &u.operation);
    if let Some(m) = &u.migration_id {
        group(CostGroup::Migration, m);
    }
    group(CostGroup::Day, &day);
    match table.transact(writes).await {
        Ok(()) => {}
        Err(PortError::ConditionFailed) => return Ok(Recorded::Duplicate),
        Err(e) => return Err(e.into()),
    }
    usage_metrics(tenant, &model, &tokens, cost);
    announce_thresholds(table, bus, book, tenant, &period, event).await?;
    Ok(Recorded::New)
}

/// One aggregate row of a tenant's month: tokens and exact cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostLine {
    /// Model calls.
    pub requests: u64,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_input_tokens: u64,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Exact USD cost of the priced calls (not serialized; rendered with 6 places by callers).
    #[serde(skip)]
    pub cost: Decimal,
    /// Calls whose model had no price at the time: counted, not costed.
    pub unpriced_requests: u64,
}

/// Aggregates of one tenant's month grouped by `group` (total, model, operation, migration,
/// day), priced with `book`.
pub async fn grouped_costs(
    table: &dyn Table,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
    group: CostGroup,
) -> Result<BTreeMap<String, CostLine>, AccountingError> {
    let items = query_all(
        table,
        &keys::aggregates_pk(tenant, period),
        &keys::aggregate_prefix(group),
    )
    .await?;
    let changes = book.change_points();
    let mut out: BTreeMap<String, CostLine> = BTreeMap::new();
    for i in items {
        // sk = group#value#model#r<regime>
        let parts: Vec<&str> = i.sk.splitn(2, '#').collect();
        let rest = parts.get(1).copied().unwrap_or("");
        let corrupt = || AccountingError::Permanent(format!("aggregate key {:?} is corrupt", i.sk));
        let (value_model, regime) = rest.rsplit_once("#r").ok_or_else(corrupt)?;
        let (value, model) = value_model.split_once('#').ok_or_else(corrupt)?;
        let regime: usize = regime.parse().map_err(|_| corrupt())?;
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
        let requests = attr(&i, "requests");
        let mut unpriced = attr(&i, "unpriced_requests");
        let cost = if model == LEGACY_MODEL {
            // Imported legacy usage: the cost as recorded, never re-priced.
            Decimal::from(attr(&i, "fixed_cost_nanos")) / Decimal::from(1_000_000_000u64)
        } else {
            let price = book.version_at(at).and_then(|v| book.price(v, model, at));
            // A model with no price (any more) is counted unpriced, never costed at $0.
            match price {
                Some(p) if requests > unpriced => tokens.cost(&p),
                Some(_) => Decimal::ZERO,
                None => {
                    unpriced = requests;
                    Decimal::ZERO
                }
            }
        };
        let line = out.entry(value.to_owned()).or_default();
        line.requests += requests;
        line.input_tokens += tokens.input;
        line.cached_input_tokens += tokens.cached_input;
        line.cache_write_tokens += tokens.cache_write;
        line.output_tokens += tokens.output;
        line.unpriced_requests += unpriced;
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
    Ok(grouped_costs(table, book, tenant, period, CostGroup::Total)
        .await?
        .values()
        .map(|l| l.cost)
        .sum())
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
        delivery_key: None,
    }
}

/// `AiTokens` and `AiCostMicroUsd` (exact cost rounded to the micro-dollar) by model; the
/// tenant is a property. An unpriced model counts tokens only.
fn usage_metrics(
    tenant: &TenantId,
    model: &str,
    tokens: &TokenCounts,
    cost: Option<rust_decimal::Decimal>,
) {
    use tillbridge_ports::metrics::{Kind, Unit, record};
    let total = tokens
        .input
        .saturating_add(tokens.cached_input)
        .saturating_add(tokens.cache_write)
        .saturating_add(tokens.output);
    let dims = [("model", model)];
    let t = Some(tenant.as_str());
    record(
        "AiTokens",
        Unit::None,
        Kind::Counter,
        &dims,
        t,
        i64::try_from(total).unwrap_or(i64::MAX),
    );
    if let Some(c) = cost {
        let micro = (c * rust_decimal::Decimal::from(1_000_000)).round();
        let micro = i64::try_from(micro).unwrap_or(i64::MAX);
        record("AiCostMicroUsd", Unit::None, Kind::Counter, &dims, t, micro);
    }
}

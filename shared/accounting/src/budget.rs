//! Budgets: monthly limits, thresholds announced once, and hard limits enforced by
//! reserving an estimate before a model call and settling after.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tillbridge_costs::{PriceBook, format_fixed};
use tillbridge_domain::event::{EventData, SCHEMA_VERSION, ThresholdCrossed, derive_event_id};
use tillbridge_domain::{Envelope, TenantId};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, Update, query_all, update_item};
use tillbridge_ports::{EventBus, PortError};

use crate::ledger::spent;
use crate::{AccountingError, MAX_ATTEMPTS, THRESHOLDS, dec, keys};
use tillbridge_ports::publish;

/// A tenant's monthly AI budget, USD, exact. The budget is the soft limit: thresholds at
/// [`crate::THRESHOLDS`] percent of it are announced (event, log line) and spending may go on;
/// the hard limit is where the LLM tier's reservations are refused (the budget itself unless
/// set higher).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The monthly budget (soft limit), USD.
    pub monthly_usd: Decimal,
    /// Where AI calls are refused, USD; None: at the budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_limit_usd: Option<Decimal>,
}

impl Budget {
    /// Where AI calls are refused.
    pub fn hard_limit(&self) -> Decimal {
        self.hard_limit_usd.unwrap_or(self.monthly_usd)
    }
}

/// Sets the monthly budget (monthly budgets live in the table, `budgets` / `<tenant>`); the
/// hard limit is the budget itself.
pub async fn set_budget(
    table: &dyn Table,
    tenant: &TenantId,
    monthly_usd: Decimal,
) -> Result<(), AccountingError> {
    set_budget_limits(
        table,
        tenant,
        Budget {
            monthly_usd,
            hard_limit_usd: None,
        },
    )
    .await
}

/// Sets the monthly budget and the hard limit.
///
/// # Errors
/// [`AccountingError::Permanent`] when the hard limit is below the budget; the table failed.
pub async fn set_budget_limits(
    table: &dyn Table,
    tenant: &TenantId,
    budget: Budget,
) -> Result<(), AccountingError> {
    if budget
        .hard_limit_usd
        .is_some_and(|h| h < budget.monthly_usd)
    {
        return Err(AccountingError::Permanent(
            "the hard limit is below the monthly budget".into(),
        ));
    }
    let doc = json!({
        "monthly_usd": budget.monthly_usd.to_string(),
        "hard_limit_usd": budget.hard_limit_usd.map(|h| h.to_string()),
    });
    table
        .put(
            Item::with_doc(keys::BUDGETS_PK, tenant.as_str(), &doc)?,
            Condition::Always,
        )
        .await?;
    Ok(())
}

fn stored_budget(tenant: &str, doc: Option<&serde_json::Value>) -> Result<Budget, AccountingError> {
    let amount = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => dec(s).map(Some),
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(_) => Err(AccountingError::Permanent(format!(
            "the budget of {tenant} has an amount that is not a decimal string"
        ))),
    };
    let monthly_usd = amount(doc.and_then(|d| d.get("monthly_usd")))?.ok_or_else(|| {
        AccountingError::Permanent(format!("the budget of {tenant} has no monthly_usd amount"))
    })?;
    Ok(Budget {
        monthly_usd,
        hard_limit_usd: amount(doc.and_then(|d| d.get("hard_limit_usd")))?,
    })
}

/// The tenant's monthly budget in USD, if one is set.
///
/// # Errors
/// The table failed, or the stored amount is not a decimal.
pub async fn budget(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Option<Decimal>, AccountingError> {
    Ok(budget_limits(table, tenant).await?.map(|b| b.monthly_usd))
}

/// The tenant's budget and hard limit, if a budget is set.
///
/// # Errors
/// The table failed, or a stored amount is not a decimal.
pub async fn budget_limits(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Option<Budget>, AccountingError> {
    match table.get(keys::BUDGETS_PK, tenant.as_str()).await? {
        None => Ok(None),
        Some(item) => stored_budget(tenant.as_str(), item.attrs.get("doc")).map(Some),
    }
}

/// Every tenant with a budget, sorted by tenant id.
///
/// # Errors
/// The table failed, or a stored amount is not a decimal.
pub async fn all_budgets(table: &dyn Table) -> Result<Vec<(String, Budget)>, AccountingError> {
    let mut out = Vec::new();
    for item in query_all(table, keys::BUDGETS_PK, "").await? {
        out.push((
            item.sk.clone(),
            stored_budget(&item.sk, item.attrs.get("doc"))?,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Where a tenant's month stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// Below the budget.
    Within,
    /// At or above the budget (the soft limit), below the hard limit: calls go on.
    OverBudget,
    /// At the hard limit: AI calls are refused (the mapping falls back to offline).
    HardLimitReached,
}

/// One threshold of the month that was crossed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossedThreshold {
    /// Percent of the budget.
    pub percent: u32,
    /// The `budget.threshold_crossed` event's id, once it is published.
    pub event_id: Option<String>,
}

/// A tenant's budget in one month: limits, spend, and the thresholds announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetStatus {
    /// The tenant.
    pub tenant_id: String,
    /// `YYYY-MM`.
    pub period: String,
    /// The monthly budget (soft limit), USD.
    pub monthly_usd: Decimal,
    /// Where AI calls are refused, USD.
    pub hard_limit_usd: Decimal,
    /// Priced AI spend of the month, USD, exact.
    pub spent_usd: Decimal,
    /// Reserved for calls in flight, USD.
    pub reserved_usd: Decimal,
    /// Spend in percent of the budget (None with a budget of 0).
    pub used_percent: Option<Decimal>,
    /// The thresholds crossed this month, lowest first.
    pub thresholds_crossed: Vec<CrossedThreshold>,
    /// Where the month stands.
    pub state: BudgetState,
}

impl BudgetStatus {
    /// The view the API and CLI print: amounts with 6 decimals, percent with 2.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "tenant_id": self.tenant_id,
            "period": self.period,
            "monthly_usd": format_fixed(self.monthly_usd, 6),
            "hard_limit_usd": format_fixed(self.hard_limit_usd, 6),
            "spent_usd": format_fixed(self.spent_usd, 6),
            "reserved_usd": format_fixed(self.reserved_usd, 6),
            "used_percent": self.used_percent.map(|p| format_fixed(p, 2)),
            "thresholds_crossed": self.thresholds_crossed,
            "state": self.state,
        })
    }
}

/// The budget status of `tenant` in `period`; None without a budget.
///
/// # Errors
/// The table failed, or a stored amount is not a decimal.
pub async fn budget_status(
    table: &dyn Table,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
) -> Result<Option<BudgetStatus>, AccountingError> {
    let Some(b) = budget_limits(table, tenant).await? else {
        return Ok(None);
    };
    let spent_usd = spent(table, book, tenant, period).await?;
    let (_, reserved_usd) = budget_state(table, tenant, period).await?;
    let pk = keys::budget_pk(tenant, period);
    let mut thresholds_crossed = Vec::new();
    for t in THRESHOLDS {
        if let Some(item) = table.get(&pk, &keys::threshold_sk(t)).await? {
            let event_id = item
                .attrs
                .get("doc")
                .and_then(|d| d.get("event_id"))
                .and_then(|e| e.as_str())
                .map(str::to_owned);
            thresholds_crossed.push(CrossedThreshold {
                percent: t,
                event_id,
            });
        }
    }
    let state = if spent_usd >= b.hard_limit() {
        BudgetState::HardLimitReached
    } else if spent_usd >= b.monthly_usd {
        BudgetState::OverBudget
    } else {
        BudgetState::Within
    };
    Ok(Some(BudgetStatus {
        tenant_id: tenant.to_string(),
        period: period.to_owned(),
        monthly_usd: b.monthly_usd,
        hard_limit_usd: b.hard_limit(),
        spent_usd,
        reserved_usd,
        used_percent: (!b.monthly_usd.is_zero())
            .then(|| spent_usd * Decimal::ONE_HUNDRED / b.monthly_usd),
        thresholds_crossed,
        state,
    }))
}

pub(crate) async fn announce_thresholds(
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
    let used = (spent * Decimal::ONE_HUNDRED / limit).round();
    tillbridge_ports::metrics::record(
        "BudgetUsedPercent",
        tillbridge_ports::metrics::Unit::Percent,
        tillbridge_ports::metrics::Kind::Gauge,
        &[],
        Some(tenant.as_str()),
        i64::try_from(used).unwrap_or(i64::MAX),
    );
    for t in THRESHOLDS {
        if spent * Decimal::ONE_HUNDRED < limit * Decimal::from(t) {
            continue;
        }
        // Record first, publish, then mark sent: a crash in between republishes the same
        // event id (consumers dedupe), it never skips the announcement.
        let pk = keys::budget_pk(tenant, period);
        let sk = keys::threshold_sk(t);
        let created = match table
            .put(
                Item::with_doc(&pk, &sk, &json!({ "state": MarkState::Pending }))?,
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
            i.attrs
                .get("doc")
                .and_then(|d| serde_json::from_value::<MarkState>(d["state"].clone()).ok())
                == Some(MarkState::Pending)
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
            delivery_key: None,
        };
        publish(bus, std::slice::from_ref(&event)).await?;
        tillbridge_ports::metrics::count("BudgetThresholdsCrossed", &[], Some(tenant.as_str()), 1);
        tracing::warn!(
            tenant = %tenant,
            period,
            threshold_percent = t,
            budget_usd = %format_fixed(limit, 6),
            spent_usd = %format_fixed(spent, 6),
            event_id = %event.event_id,
            "AI budget threshold crossed"
        );
        if let Some(item) = existing {
            let sent = Item::with_doc(
                &pk,
                &sk,
                &json!({ "state": MarkState::Sent, "event_id": event.event_id }),
            )?;
            match table.put(sent, Condition::IfVersion(item.version)).await {
                Ok(_) | Err(PortError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Committed and reserved USD of a tenant's month (exact decimals as strings).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Committed {
    committed: String,
    reserved: String,
}

impl Default for Committed {
    fn default() -> Self {
        Self {
            committed: "0".into(),
            reserved: "0".into(),
        }
    }
}

/// Where a reservation is in its life (stored as `open` / `settled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ReservationState {
    /// Reserved before the call; counts against the limit as `estimate`.
    Open,
    /// Settled with the call's actual cost.
    Settled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reservation {
    estimate: String,
    state: ReservationState,
    #[serde(default)]
    actual: Option<String>,
}

/// A threshold announcement's mark (stored as `pending` / `sent`): recorded before the
/// event is published, marked sent after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MarkState {
    Pending,
    Sent,
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserve {
    /// Reserved (or reserved before under this id).
    Granted,
    /// The call would exceed the hard limit; `available` is what is left.
    Refused {
        /// USD left under the limit.
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
    let (pk, res_sk) = (
        keys::budget_pk(tenant, period),
        keys::reservation_sk(reservation_id),
    );
    let read_also = [(pk.as_str(), res_sk.as_str())];
    update_item(
        table,
        &pk,
        keys::BUDGET_STATE_SK,
        &read_also,
        MAX_ATTEMPTS,
        |current, also| {
            if also.first().is_some_and(Option::is_some) {
                return Ok(Update::Done(Reserve::Granted));
            }
            let state = match current {
                Some(i) => i.doc::<Committed>()?,
                None => Committed::default(),
            };
            let (committed, reserved) = (dec(&state.committed)?, dec(&state.reserved)?);
            if committed + reserved + estimate > limit {
                return Ok(Update::Done(Reserve::Refused {
                    available: (limit - committed - reserved).max(Decimal::ZERO),
                }));
            }
            let next = Committed {
                committed: committed.to_string(),
                reserved: (reserved + estimate).to_string(),
            };
            let reservation = Reservation {
                estimate: estimate.to_string(),
                state: ReservationState::Open,
                actual: None,
            };
            Ok(Update::Put {
                item: Item::with_doc(&pk, keys::BUDGET_STATE_SK, &next)?,
                also: vec![TxWrite::Put {
                    item: Item::with_doc(&pk, &res_sk, &reservation)?,
                    condition: Condition::IfAbsent,
                }],
                value: Reserve::Granted,
            })
        },
    )
    .await
}

/// Settles a reservation with the call's actual cost. Idempotent.
pub async fn settle(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
    reservation_id: &str,
    actual: Decimal,
) -> Result<(), AccountingError> {
    let (pk, res_sk) = (
        keys::budget_pk(tenant, period),
        keys::reservation_sk(reservation_id),
    );
    let read_also = [(pk.as_str(), res_sk.as_str())];
    update_item(
        table,
        &pk,
        keys::BUDGET_STATE_SK,
        &read_also,
        MAX_ATTEMPTS,
        |current, also| {
            let Some(res_item) = also.first().and_then(Option::as_ref) else {
                return Err(AccountingError::Permanent(format!(
                    "no reservation {reservation_id}"
                )));
            };
            let res: Reservation = res_item.doc()?;
            if res.state == ReservationState::Settled {
                return Ok(Update::Done(()));
            }
            let Some(state_item) = current else {
                return Err(AccountingError::Permanent("budget state missing".into()));
            };
            let state: Committed = state_item.doc()?;
            let next = Committed {
                committed: (dec(&state.committed)? + actual).to_string(),
                reserved: (dec(&state.reserved)? - dec(&res.estimate)?)
                    .max(Decimal::ZERO)
                    .to_string(),
            };
            let settled = Reservation {
                estimate: res.estimate.clone(),
                state: ReservationState::Settled,
                actual: Some(actual.to_string()),
            };
            Ok(Update::Put {
                item: Item::with_doc(&pk, keys::BUDGET_STATE_SK, &next)?,
                also: vec![TxWrite::Put {
                    item: Item::with_doc(&pk, &res_sk, &settled)?,
                    condition: Condition::IfVersion(res_item.version),
                }],
                value: (),
            })
        },
    )
    .await
}

/// Committed and reserved amounts of the month (for reports and tests).
pub async fn budget_state(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
) -> Result<(Decimal, Decimal), AccountingError> {
    Ok(
        match table
            .get(&keys::budget_pk(tenant, period), keys::BUDGET_STATE_SK)
            .await?
        {
            Some(i) => {
                let s: Committed = i.doc()?;
                (dec(&s.committed)?, dec(&s.reserved)?)
            }
            None => (Decimal::ZERO, Decimal::ZERO),
        },
    )
}

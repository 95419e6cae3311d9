//! Budgets: monthly limits, thresholds announced once, and hard limits enforced by
//! reserving an estimate before a model call and settling after.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tillbridge_costs::{PriceBook, format_fixed};
use tillbridge_domain::event::{EventData, SCHEMA_VERSION, ThresholdCrossed, derive_event_id};
use tillbridge_domain::{Envelope, TenantId};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, Update, update_item};
use tillbridge_ports::{EventBus, PortError};

use crate::ledger::spent;
use crate::{AccountingError, MAX_ATTEMPTS, THRESHOLDS, dec, keys};
use tillbridge_ports::publish;

/// Monthly budgets live in the table (`budgets` / `<tenant>`).
pub async fn set_budget(
    table: &dyn Table,
    tenant: &TenantId,
    monthly_usd: Decimal,
) -> Result<(), AccountingError> {
    table
        .put(
            Item::with_doc(
                keys::BUDGETS_PK,
                tenant.as_str(),
                &json!({ "monthly_usd": monthly_usd.to_string() }),
            )?,
            Condition::Always,
        )
        .await?;
    Ok(())
}

/// The tenant's monthly budget in USD, if one is set.
///
/// # Errors
/// The table failed, or the stored amount is not a decimal.
pub async fn budget(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Option<Decimal>, AccountingError> {
    let Some(item) = table.get(keys::BUDGETS_PK, tenant.as_str()).await? else {
        return Ok(None);
    };
    match item.attrs.get("doc").map(|d| &d["monthly_usd"]) {
        Some(serde_json::Value::String(s)) => Ok(Some(dec(s)?)),
        _ => Err(AccountingError::Permanent(format!(
            "the budget of {tenant} has no monthly_usd amount"
        ))),
    }
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
struct BudgetState {
    committed: String,
    reserved: String,
}

impl Default for BudgetState {
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
                Some(i) => i.doc::<BudgetState>()?,
                None => BudgetState::default(),
            };
            let (committed, reserved) = (dec(&state.committed)?, dec(&state.reserved)?);
            if committed + reserved + estimate > limit {
                return Ok(Update::Done(Reserve::Refused {
                    available: (limit - committed - reserved).max(Decimal::ZERO),
                }));
            }
            let next = BudgetState {
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
            let state: BudgetState = state_item.doc()?;
            let next = BudgetState {
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
                let s: BudgetState = i.doc()?;
                (dec(&s.committed)?, dec(&s.reserved)?)
            }
            None => (Decimal::ZERO, Decimal::ZERO),
        },
    )
}

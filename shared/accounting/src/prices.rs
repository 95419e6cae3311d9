//! Price overrides an operator sets without a deploy: a negotiated or corrected per-token
//! price for a model, from an effective date on, stored in the table (`prices` →
//! `override#<effective nanos>#<model>#<field>`) and layered over the bundled price map.
//!
//! Overrides only take effect in the future (at least [`MIN_LEAD`] from now): aggregates are
//! kept per price regime (the span between two price changes) and priced when read, so a
//! change that started in the past would split a regime whose usage is already summed. Past
//! usage stays priced as it was recorded. The lead also covers [`Prices`]' cache: every
//! container sees a new override before it applies.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tillbridge_costs::PriceBook;
use tillbridge_costs::price::{OVERRIDE_FIELDS, Override};
use tillbridge_domain::Timestamp;
use tillbridge_ports::table::{Condition, Item, Table, query_all};

use crate::AccountingError;

/// How far ahead of now an override must start (longer than [`CACHE_TTL`]).
pub const MIN_LEAD: Duration = Duration::from_secs(300);
/// How long a container reuses the price book before reading the overrides again.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

const PK: &str = "prices";

/// An override as stored: the correction, who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOverride {
    /// The correction.
    #[serde(flatten)]
    pub correction: Override,
    /// The operator who set it.
    pub set_by: String,
    /// When it was set.
    pub set_at: Timestamp,
}

/// Why an override was refused (a 400 for the API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideRefused {
    /// The bundled map has no such model.
    #[error("unknown model {0:?}: only models in the price map can be overridden")]
    UnknownModel(String),
    /// Not one of [`OVERRIDE_FIELDS`].
    #[error("unknown field {0:?}; one of {OVERRIDE_FIELDS:?}")]
    UnknownField(String),
    /// Not a non-negative decimal.
    #[error("value {0:?} is not a non-negative USD-per-token amount such as \"0.0000025\"")]
    BadValue(String),
    /// Starts earlier than [`MIN_LEAD`] from now.
    #[error(
        "effective_from must be at least 5 minutes ahead ({0} or later): past usage stays priced as recorded"
    )]
    TooEarly(Timestamp),
    /// No reason given.
    #[error("reason is required (for the audit trail)")]
    NoReason,
}

/// Checks and stores an override set by `operator` at `now`.
///
/// # Errors
/// [`OverrideRefused`] for a bad override (nothing stored), else the table's errors.
pub async fn add_override(
    table: &dyn Table,
    base: &PriceBook,
    correction: Override,
    operator: &str,
    now: Timestamp,
) -> Result<Result<StoredOverride, OverrideRefused>, AccountingError> {
    if !base.knows(&correction.model) {
        return Ok(Err(OverrideRefused::UnknownModel(correction.model)));
    }
    if !OVERRIDE_FIELDS.contains(&correction.field.as_str()) {
        return Ok(Err(OverrideRefused::UnknownField(correction.field)));
    }
    match tillbridge_domain::money::parse_decimal(&correction.value) {
        Some(v) if !v.is_sign_negative() => {}
        _ => return Ok(Err(OverrideRefused::BadValue(correction.value))),
    }
    let earliest = now.plus_seconds(MIN_LEAD.as_secs() as i64);
    if correction.effective_from < earliest {
        return Ok(Err(OverrideRefused::TooEarly(earliest)));
    }
    if correction.reason.trim().is_empty() {
        return Ok(Err(OverrideRefused::NoReason));
    }
    let stored = StoredOverride {
        correction,
        set_by: operator.to_owned(),
        set_at: now,
    };
    let c = &stored.correction;
    let sk = format!(
        "override#{:020}#{}#{}",
        c.effective_from.unix_nanos().max(0),
        crate::safe(&c.model),
        c.field
    );
    table
        .put(Item::with_doc(PK, sk, &stored)?, Condition::Always)
        .await?;
    Ok(Ok(stored))
}

/// Every stored override, by effective date.
///
/// # Errors
/// The table failed, or a stored override is corrupt.
pub async fn overrides(table: &dyn Table) -> Result<Vec<StoredOverride>, AccountingError> {
    query_all(table, PK, "override#")
        .await?
        .iter()
        .map(|i| i.doc().map_err(AccountingError::from))
        .collect()
}

/// `base` with every stored override layered on.
///
/// # Errors
/// As [`overrides`].
pub async fn with_overrides(
    table: &dyn Table,
    base: &PriceBook,
) -> Result<PriceBook, AccountingError> {
    let mut book = base.clone();
    for o in overrides(table).await? {
        book.add_override(o.correction);
    }
    Ok(book)
}

/// The price book in force for a container: the bundled map plus the stored overrides, read
/// again after [`CACHE_TTL`].
pub struct Prices {
    base: Arc<PriceBook>,
    table: Arc<dyn Table>,
    cache: Mutex<Option<(Instant, Arc<PriceBook>)>>,
}

impl Prices {
    /// Prices from `base` and the overrides in `table`.
    pub fn new(base: Arc<PriceBook>, table: Arc<dyn Table>) -> Self {
        Self {
            base,
            table,
            cache: Mutex::new(None),
        }
    }

    /// The map without overrides.
    pub fn base(&self) -> &PriceBook {
        &self.base
    }

    /// The book in force now.
    ///
    /// # Errors
    /// As [`overrides`].
    pub async fn book(&self) -> Result<Arc<PriceBook>, AccountingError> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, book)) = c.as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(book.clone());
        }
        let book = Arc::new(with_overrides(self.table.as_ref(), &self.base).await?);
        if let Ok(mut c) = self.cache.lock() {
            *c = Some((Instant::now(), book.clone()));
        }
        Ok(book)
    }
}

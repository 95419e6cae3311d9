//! The circuit breaker, its state in the table so every Lambda container sees the same one.
//!
//! Per (vendor, credential fingerprint), one item `connector#breaker` / `<vendor>#<fp>`:
//! closed → open after [`BreakerPolicy::failures_to_open`] consecutive failures (5) →
//! half-open once [`BreakerPolicy::open_for`] (60 s) has passed: ONE trial call is let
//! through (claimed with a conditional write, so two containers never both trial); its
//! success closes the breaker, its failure opens it again for another `open_for`.
//!
//! Failures are answers that say the vendor is unwell: 5xx, timeouts, connection errors.
//! Any other answer (2xx, a 4xx that is our request's fault, a 429 that is the vendor
//! pacing us) shows the vendor is up: it resets the count and closes a half-open breaker.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tillbridge_domain::{Provider, Timestamp};
use tillbridge_ports::table::{Update, update_item};
use tillbridge_ports::{Clock, Item, Table};

use crate::error::{ConnectorError, Result};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker (5).
    pub failures_to_open: u32,
    /// How long it stays open before a trial call (60 s).
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures_to_open: 5,
            open_for: Duration::from_secs(60),
        }
    }
}

/// The breaker's state as seen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures so far.
        failures: u32,
    },
    /// Calls are refused until `until`.
    Open {
        /// When a trial call will be let through.
        until: Timestamp,
    },
    /// The open period is over: the next call is a trial (or one is running).
    HalfOpen,
}

/// The stored document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    failures: u32,
    /// Unix nanos when it (last) opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    opened_at: Option<i64>,
    /// Unix nanos when a half-open trial was claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trial_at: Option<i64>,
}

/// What [`Breaker::admit`] let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed and clean: nothing to write on success.
    Clean,
    /// Closed with some failures counted, or a half-open trial: success must reset it.
    Dirty,
}

const PK: &str = "connector#breaker";
const ATTEMPTS: usize = 8;

/// One breaker (vendor, credential) over the table.
#[derive(Clone)]
pub struct Breaker {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    vendor: Provider,
    sk: String,
    policy: BreakerPolicy,
}

impl Breaker {
    /// The breaker of `vendor` and the credential with this fingerprint.
    pub fn new(
        table: Arc<dyn Table>,
        clock: Arc<dyn Clock>,
        vendor: Provider,
        fingerprint: &str,
        policy: BreakerPolicy,
    ) -> Self {
        Self {
            table,
            clock,
            vendor,
            sk: format!("{}#{fingerprint}", vendor.as_str()),
            policy,
        }
    }

    fn open_nanos(&self) -> i64 {
        i64::try_from(self.policy.open_for.as_nanos()).unwrap_or(i64::MAX)
    }

    /// The state now.
    ///
    /// # Errors
    /// The table failed.
    pub async fn state(&self) -> Result<BreakerState> {
        let stored = self.read().await?;
        let now = self.clock.now().unix_nanos();
        Ok(match stored.opened_at {
            None => BreakerState::Closed {
                failures: stored.failures,
            },
            Some(at) if now < at.saturating_add(self.open_nanos()) => BreakerState::Open {
                until: Timestamp::from_unix_nanos(at.saturating_add(self.open_nanos())),
            },
            Some(_) => BreakerState::HalfOpen,
        })
    }

    async fn read(&self) -> Result<Stored> {
        match self.table.get(PK, &self.sk).await? {
            Some(item) => Ok(item.doc()?),
            None => Ok(Stored::default()),
        }
    }

    /// Lets a call through, or refuses it while open (or while another container's
    /// half-open trial runs).
    ///
    /// # Errors
    /// [`ConnectorError::CircuitOpen`]; the table's errors.
    pub(crate) async fn admit(&self) -> Result<Admission> {
        let now = self.clock.now().unix_nanos();
        let open_for = self.open_nanos();
        let vendor = self.vendor;
        let refuse = |at: i64| ConnectorError::CircuitOpen {
            vendor,
            until: Timestamp::from_unix_nanos(at.saturating_add(open_for)),
        };
        update_item(&*self.table, PK, &self.sk, &[], ATTEMPTS, |item, _| {
            let stored: Stored = item.map(Item::doc).transpose()?.unwrap_or_default();
            match stored.opened_at {
                None if stored.failures == 0 => Ok(Update::Done(Admission::Clean)),
                None => Ok(Update::Done(Admission::Dirty)),
                Some(at) if now < at.saturating_add(open_for) => Err(refuse(at)),
                // Half-open: a trial is running (and not stale) → refuse; else claim it.
                Some(_)
                    if stored
                        .trial_at
                        .is_some_and(|t| now < t.saturating_add(open_for)) =>
                {
                    Err(refuse(stored.trial_at.unwrap_or(now)))
                }
                Some(_) => Ok(Update::Put {
                    item: Item::with_doc(
                        PK,
                        &self.sk,
                        &Stored {
                            trial_at: Some(now),
                            ..stored
                        },
                    )?,
                    also: Vec::new(),
                    value: Admission::Dirty,
                }),
            }
        })
        .await
    }

    /// Records a success: closes the breaker (writes only when something was counted).
    ///
    /// # Errors
    /// The table failed.
    pub(crate) async fn success(&self, admission: Admission) -> Result<()> {
        if admission == Admission::Clean {
            return Ok(());
        }
        let item = Item::with_doc(PK, &self.sk, &Stored::default())?;
        self.table
            .put(item, tillbridge_ports::Condition::Always)
            .await?;
        Ok(())
    }

    /// Records a failure: counts it, and opens (or re-opens after a failed trial).
    ///
    /// # Errors
    /// The table failed.
    pub(crate) async fn failure(&self) -> Result<()> {
        let now = self.clock.now().unix_nanos();
        let threshold = self.policy.failures_to_open;
        update_item(&*self.table, PK, &self.sk, &[], ATTEMPTS, |item, _| {
            let mut stored: Stored = item.map(Item::doc).transpose()?.unwrap_or_default();
            stored.failures = stored.failures.saturating_add(1);
            let trial_failed = stored.trial_at.is_some();
            if trial_failed || (stored.opened_at.is_none() && stored.failures >= threshold) {
                stored.opened_at = Some(now);
                stored.trial_at = None;
            }
            Ok::<_, ConnectorError>(Update::Put {
                item: Item::with_doc(PK, &self.sk, &stored)?,
                also: Vec::new(),
                value: (),
            })
        })
        .await
    }
}

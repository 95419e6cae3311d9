//! Errors that know whether trying again can help.

use thiserror::Error;

/// Whether an operation that failed may succeed when retried unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Transient: throttling, a timeout, a lock held by another worker. Retry with backoff.
    Retryable,
    /// The input or the state makes this fail every time. Do not retry; record and move on.
    Permanent,
}

/// Errors raised while building or checking domain values from untrusted input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// A value is malformed: `what` names the kind ("tenant id"), `reason` says why.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The kind of value ("tenant id", "timestamp").
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// An amount has more decimal places than its currency's minor unit allows (`12.345` USD).
    #[error("amount {amount} is not exact in {currency} (more than {exponent} decimal places)")]
    InexactAmount {
        /// The amount as given.
        amount: String,
        /// The ISO 4217 code.
        currency: String,
        /// The currency's number of decimal places.
        exponent: u32,
    },
    /// An amount does not fit in i64 minor units.
    #[error("amount {0} is out of range")]
    AmountOutOfRange(String),
}

impl DomainError {
    /// A [`DomainError::Invalid`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }

    /// Domain errors come from input, so they never go away on retry.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Permanent
    }
}

/// An error that knows whether a retry may help. Every context's error implements it, so
/// queue handlers decide "retry, then dead-letter" in one place.
pub trait Classify: std::error::Error + Send + Sync + 'static {
    /// Retryable (transient) or permanent.
    fn kind(&self) -> ErrorKind;
}

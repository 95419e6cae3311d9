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
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("amount {amount} is not exact in {currency} (more than {exponent} decimal places)")]
    InexactAmount {
        amount: String,
        currency: String,
        exponent: u32,
    },
    #[error("amount {0} is out of range")]
    AmountOutOfRange(String),
}

impl DomainError {
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

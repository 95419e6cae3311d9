//! The accounting context's error: what failed, with its source, and whether a retry may help.

use thiserror::Error;
use tillbridge_domain::{Classify, ErrorKind};
use tillbridge_ports::PortError;

/// A accounting operation failed. Retryable errors are retried by the queue (then dead-lettered);
/// permanent ones still go to the DLQ, where the alarm tells an operator — nothing is
/// dropped silently.
#[derive(Debug, Error)]
pub enum AccountingError {
    /// The table, blob store or bus failed; its own kind decides.
    #[error("{}: {}", .0.label(), .0)]
    Store(#[from] PortError),
    /// Transient: try again later (a claim-check object not visible yet, a lock held).
    #[error("retryable: {0}")]
    Retryable(String),
    /// The message or the stored data makes this fail every time.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl Classify for AccountingError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Store(e) => e.kind(),
            Self::Retryable(_) => ErrorKind::Retryable,
            Self::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

impl AccountingError {
    /// Retryable or permanent (see [`Classify`]).
    pub fn kind(&self) -> ErrorKind {
        Classify::kind(self)
    }
}

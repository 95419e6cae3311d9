//! The migration context's error: what failed, with its source, and whether a retry may help.

use thiserror::Error;
use tillbridge_catalog::CatalogError;

use crate::review::OverrideError;
use tillbridge_domain::{Classify, ErrorKind};
use tillbridge_ports::PortError;

/// A migration operation failed. Retryable errors are retried by the queue (then dead-lettered);
/// permanent ones still go to the DLQ, where the alarm tells an operator — nothing is
/// dropped silently.
#[derive(Debug, Error)]
pub enum MigrationError {
    /// The table, blob store or bus failed; its own kind decides.
    #[error("{}: {}", .0.label(), .0)]
    Store(#[from] PortError),
    /// The catalog failed under a migration step.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The operator's request does not fit the migration's state (not found, a conflict,
    /// invalid input): answered to the operator, never retried.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// A reviewer's override was refused (unknown field, a concurrent change, invalid).
    #[error("{0}")]
    Override(#[from] OverrideError),
    /// Transient: try again later (a claim-check object not visible yet, a lock held).
    #[error("retryable: {0}")]
    Retryable(String),
    /// The message or the stored data makes this fail every time.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl Classify for MigrationError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Store(e) => e.kind(),
            Self::Catalog(e) => e.kind(),
            Self::Refused(_) | Self::Override(_) => ErrorKind::Permanent,
            Self::Retryable(_) => ErrorKind::Retryable,
            Self::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

impl MigrationError {
    /// Retryable or permanent (see [`Classify`]).
    pub fn kind(&self) -> ErrorKind {
        Classify::kind(self)
    }
}

/// Why an operator's request was refused (HTTP 404 / 409 / 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No migration has that id (404).
    NotFound,
    /// The request does not fit the migration's status; the message says why (409).
    Conflict(String),
    /// The request itself is wrong (a missing reviewer, a bad source name or export); the
    /// message says what (400).
    Invalid(String),
}

impl std::error::Error for Refusal {}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound => f.write_str("migration not found"),
            Refusal::Conflict(m) | Refusal::Invalid(m) => f.write_str(m),
        }
    }
}

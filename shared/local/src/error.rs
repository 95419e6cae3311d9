//! The local runtime context's error: what failed, with its source, and whether a retry may help.

use thiserror::Error;
use tillbridge_accounting::AccountingError;
use tillbridge_catalog::CatalogError;
use tillbridge_domain::{Classify, ErrorKind};
use tillbridge_fetch::FetchError;
use tillbridge_migration::MigrationError;
use tillbridge_ports::PortError;
use tillbridge_sync::SyncError;

/// A local runtime operation failed. Retryable errors are retried by the queue (then dead-lettered);
/// permanent ones still go to the DLQ, where the alarm tells an operator — nothing is
/// dropped silently.
#[derive(Debug, Error)]
pub enum LocalError {
    /// The table, blob store or bus failed; its own kind decides.
    #[error("{}: {}", .0.label(), .0)]
    Store(#[from] PortError),
    /// A webhook stage failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A catalog apply failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A migration step failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// Cost accounting failed.
    #[error(transparent)]
    Accounting(#[from] AccountingError),
    /// A fetch from a vendor's API failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Transient: try again later (a claim-check object not visible yet, a lock held).
    #[error("retryable: {0}")]
    Retryable(String),
    /// The message or the stored data makes this fail every time.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl Classify for LocalError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Store(e) => e.kind(),
            Self::Sync(e) => e.kind(),
            Self::Catalog(e) => e.kind(),
            Self::Migration(e) => e.kind(),
            Self::Accounting(e) => e.kind(),
            Self::Fetch(e) => e.kind(),
            Self::Retryable(_) => ErrorKind::Retryable,
            Self::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

impl LocalError {
    /// Retryable or permanent (see [`Classify`]).
    pub fn kind(&self) -> ErrorKind {
        Classify::kind(self)
    }
}

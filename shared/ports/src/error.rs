//! The one error type of every port, classified retryable or permanent.

use thiserror::Error;
use tillbridge_domain::ErrorKind;

/// A port call's result: [`PortError`] unless another error type is given.
pub type Result<T, E = PortError> = std::result::Result<T, E>;

/// Errors of any port implementation, classified so callers know whether to retry.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PortError {
    /// A conditional write found the item in another state (a lost race or a duplicate).
    /// Not retryable as is: re-read the item and decide again (see
    /// [`crate::table::update_item`]).
    #[error("condition not met")]
    ConditionFailed,
    /// A payload over a backend limit (a queue message over 256 KiB, an EventBridge entry
    /// over its limit). Permanent: the same payload never fits.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large (`"queue message"`, …).
        what: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },
    /// Throttling, timeouts, 5xx, I/O hiccups: try again.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Bad request, missing resource, corrupt data: retrying won't help.
    #[error("{0}")]
    Permanent(String),
}

impl PortError {
    /// [`ErrorKind::Retryable`] for [`PortError::Transient`], [`ErrorKind::Permanent`] for
    /// everything else.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PortError::Transient(_) => ErrorKind::Retryable,
            PortError::ConditionFailed | PortError::TooLarge { .. } | PortError::Permanent(_) => {
                ErrorKind::Permanent
            }
        }
    }

    /// True when retrying the same call later may succeed ([`PortError::Transient`]).
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Retryable
    }

    /// "retryable" or "permanent": the prefix a context error shows before this one.
    pub fn label(&self) -> &'static str {
        if self.is_retryable() {
            "retryable"
        } else {
            "permanent"
        }
    }
}

impl tillbridge_domain::Classify for PortError {
    fn kind(&self) -> ErrorKind {
        PortError::kind(self)
    }
}

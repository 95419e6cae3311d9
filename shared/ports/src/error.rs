use thiserror::Error;
use tillbridge_domain::ErrorKind;

pub type Result<T, E = PortError> = std::result::Result<T, E>;

/// Errors of any port implementation, classified so callers know whether to retry.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PortError {
    /// A conditional write found the item in another state (a lost race or a duplicate).
    #[error("condition not met")]
    ConditionFailed,
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge { what: &'static str, limit: usize },
    /// Throttling, timeouts, 5xx, I/O hiccups: try again.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Bad request, missing resource, corrupt data: retrying won't help.
    #[error("{0}")]
    Permanent(String),
}

impl PortError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PortError::Transient(_) => ErrorKind::Retryable,
            PortError::ConditionFailed | PortError::TooLarge { .. } | PortError::Permanent(_) => {
                ErrorKind::Permanent
            }
        }
    }

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

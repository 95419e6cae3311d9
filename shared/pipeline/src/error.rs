use thiserror::Error;
use tillbridge_domain::ErrorKind;
use tillbridge_ports::PortError;

/// A stage failed on a message; the message must be retried (and dead-lettered if it keeps
/// failing). Permanent errors still retry: nothing is dropped silently, and the DLQ alarm
/// tells an operator.
#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("retryable: {0}")]
    Retryable(String),
    #[error("permanent: {0}")]
    Permanent(String),
}

impl PipelineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Retryable(_) => ErrorKind::Retryable,
            PipelineError::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

impl From<PortError> for PipelineError {
    fn from(e: PortError) -> Self {
        if e.is_retryable() {
            PipelineError::Retryable(e.to_string())
        } else {
            PipelineError::Permanent(e.to_string())
        }
    }
}

//! The connector layer's one error type, each variant known to be retryable or permanent.

use thiserror::Error;
use tillbridge_domain::{Classify, ErrorKind, Provider, Timestamp};
use tillbridge_ports::PortError;

/// A connector call's result.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Why a vendor API call failed. Messages never contain credentials.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// 401/403: bad credentials or a missing scope. `vendor_reason` is the vendor's own
    /// message from its error body. Permanent until the merchant fixes the credentials.
    #[error("{vendor} refused the request ({status}): {vendor_reason}")]
    Refused {
        /// The vendor.
        vendor: Provider,
        /// 401 or 403.
        status: u16,
        /// The vendor's message (error body), or the status text when the body has none.
        vendor_reason: String,
    },
    /// 404: the object or endpoint does not exist at the vendor.
    #[error("{vendor} has no {what}")]
    NotFound {
        /// The vendor.
        vendor: Provider,
        /// What was asked for (path or object id).
        what: String,
    },
    /// Any other 4xx (400, 409, 422, …): the request itself is wrong; retrying won't help.
    #[error("{vendor} rejected the request ({status}): {vendor_reason}")]
    Rejected {
        /// The vendor.
        vendor: Provider,
        /// The HTTP status.
        status: u16,
        /// The vendor's message.
        vendor_reason: String,
    },
    /// 429, 5xx, timeouts or connection failures kept coming until the retry policy ran out.
    /// `last_status` is `None` when the last attempt got no HTTP answer (timeout, refused).
    #[error("{vendor}: gave up after {attempts} attempts; last answer {}: {last_reason}", last_status.map_or_else(|| "none".to_owned(), |s| s.to_string()))]
    Exhausted {
        /// The vendor.
        vendor: Provider,
        /// HTTP requests sent for this call, the first included.
        attempts: u32,
        /// The status of the last answer, if there was one.
        last_status: Option<u16>,
        /// The vendor's reason of the last answer, or the transport error.
        last_reason: String,
    },
    /// The circuit breaker for this vendor and credential is open: recent calls kept failing.
    /// Retry after `until`.
    #[error("{vendor}: circuit open until {until} after repeated failures")]
    CircuitOpen {
        /// The vendor.
        vendor: Provider,
        /// When a trial call will be let through again.
        until: Timestamp,
    },
    /// The vendor's answer is not the documented shape; `path` names where (JSON path).
    #[error("{vendor} answered malformed JSON at {path}: {reason}")]
    Malformed {
        /// The vendor.
        vendor: Provider,
        /// Where in the answer (`objects[3].item_data.variations[0].id`), or `$`.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The client is misconfigured (bad base URL, missing credential).
    #[error("{vendor} connector misconfigured: {reason}")]
    Config {
        /// The vendor.
        vendor: Provider,
        /// What is wrong.
        #[source]
        reason: ConfigProblem,
    },
    /// The table holding the breaker state failed.
    #[error("breaker state: {0}")]
    Store(#[from] PortError),
}

/// What is wrong with a connector's configuration.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct ConfigProblem(pub String);

impl ConnectorError {
    /// A malformed-answer error.
    pub fn malformed(vendor: Provider, path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            vendor,
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A configuration error.
    pub fn config(vendor: Provider, reason: impl Into<String>) -> Self {
        Self::Config {
            vendor,
            reason: ConfigProblem(reason.into()),
        }
    }

    /// Retryable (later, by the caller): exhausted retries, an open circuit, a store hiccup.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Exhausted { .. } | Self::CircuitOpen { .. } => ErrorKind::Retryable,
            Self::Store(e) => e.kind(),
            Self::Refused { .. }
            | Self::NotFound { .. }
            | Self::Rejected { .. }
            | Self::Malformed { .. }
            | Self::Config { .. } => ErrorKind::Permanent,
        }
    }
}

impl Classify for ConnectorError {
    fn kind(&self) -> ErrorKind {
        ConnectorError::kind(self)
    }
}

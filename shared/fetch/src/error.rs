//! What can stop a sync.

use thiserror::Error;
use tillbridge_catalog::CatalogError;
use tillbridge_connectors::ConnectorError;
use tillbridge_domain::{Classify, ErrorKind, Provider, TenantId};
use tillbridge_ports::PortError;

/// Why a sync or a fetch did not finish.
#[derive(Debug, Error)]
pub enum FetchError {
    /// No such tenant.
    #[error("unknown tenant {0}")]
    UnknownTenant(TenantId),
    /// The tenant has no API credentials for this vendor (the tenants file's `api`, or
    /// `PUT /v1/tenants/{tenant}`).
    #[error("tenant {tenant} has no API credentials for {provider}")]
    NoApi {
        /// The tenant.
        tenant: TenantId,
        /// The vendor.
        provider: Provider,
    },
    /// The vendor's API failed: refused (bad credentials, missing scope), exhausted retries,
    /// breaker open, malformed answers.
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    /// Applying to the catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The table or the secret store failed.
    #[error(transparent)]
    Store(#[from] PortError),
}

impl FetchError {
    /// The vendor refused (401/403, or another 4xx): the merchant must fix something.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            FetchError::Vendor(
                ConnectorError::Refused { .. }
                    | ConnectorError::Rejected { .. }
                    | ConnectorError::NotFound { .. }
            )
        )
    }
}

impl Classify for FetchError {
    fn kind(&self) -> ErrorKind {
        match self {
            FetchError::UnknownTenant(_) | FetchError::NoApi { .. } => ErrorKind::Permanent,
            FetchError::Vendor(
                ConnectorError::Exhausted { .. } | ConnectorError::CircuitOpen { .. },
            ) => ErrorKind::Retryable,
            FetchError::Vendor(_) => ErrorKind::Permanent,
            FetchError::Catalog(e) => e.kind(),
            FetchError::Store(e) => e.kind(),
        }
    }
}

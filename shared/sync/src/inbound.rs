//! The message the ingress enqueues for the signature check: the raw request, untouched.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tillbridge_domain::{CorrelationId, DeliveryId, Provider, TenantId, Timestamp};
use tillbridge_ports::BlobStore;
use tillbridge_webhooks::Headers;

use crate::SyncError;

/// Bodies above this go to the blob store and travel by reference (claim check): the queue
/// message also carries headers and base64 inflates by a third; SQS caps messages at 256 KiB.
pub const INLINE_BODY_LIMIT: usize = 160 * 1024;

/// One accepted webhook request as the ingress enqueued it: the exact bytes and headers the
/// vendor sent, with our delivery id. The signature check reads it from the inbound queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundDelivery {
    /// Our id of this HTTP delivery (time-ordered; the 202 names it).
    pub delivery_id: DeliveryId,
    /// The tenant from the URL.
    pub tenant_id: TenantId,
    /// The vendor from the URL.
    pub provider: Provider,
    /// When the ingress accepted it.
    pub received_at: Timestamp,
    /// Carried by every event and log line of this flow (`x-correlation-id`, else the delivery id).
    pub correlation_id: CorrelationId,
    /// The request headers, minus credentials (Authorization, Cookie, X-Api-Key).
    pub headers: Headers,
    /// The raw body, inline or by claim check.
    pub body: InboundBody,
}

/// The raw body of a delivery: inline (base64) when small, else in the blob store by key
/// with its size and SHA-256 (claim check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundBody {
    /// The exact bytes, base64-encoded.
    Inline {
        /// Standard base64 of the body.
        base64: String,
    },
    /// Stored in the blob store (bodies over [`INLINE_BODY_LIMIT`]).
    Blob {
        /// Blob key.
        key: String,
        /// Size in bytes.
        size: usize,
        /// Lower-case hex SHA-256 of the bytes; a blob that no longer matches is refused.
        sha256: String,
    },
}

impl InboundBody {
    /// Keeps `bytes` inline or writes them to `blobs` at `key`.
    ///
    /// # Errors
    /// The blob store failed (retryable when it says so).
    pub async fn store(blobs: &dyn BlobStore, key: &str, bytes: &[u8]) -> Result<Self, SyncError> {
        if bytes.len() <= INLINE_BODY_LIMIT {
            return Ok(InboundBody::Inline {
                base64: STANDARD.encode(bytes),
            });
        }
        blobs.put(key, bytes).await?;
        Ok(InboundBody::Blob {
            key: key.to_owned(),
            size: bytes.len(),
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// The exact bytes received; a blob whose hash changed is refused.
    pub async fn load(&self, blobs: &dyn BlobStore) -> Result<Vec<u8>, SyncError> {
        match self {
            InboundBody::Inline { base64 } => STANDARD
                .decode(base64)
                .map_err(|e| SyncError::Permanent(format!("inline body is not base64: {e}"))),
            InboundBody::Blob { key, sha256, .. } => {
                let bytes = blobs.get(key).await?.ok_or_else(|| {
                    SyncError::Retryable(format!("claim-check object {key} not found yet"))
                })?;
                if hex::encode(Sha256::digest(&bytes)) != *sha256 {
                    return Err(SyncError::Permanent(format!(
                        "claim-check object {key} does not match its hash"
                    )));
                }
                Ok(bytes)
            }
        }
    }
}

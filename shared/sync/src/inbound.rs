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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundDelivery {
    pub delivery_id: DeliveryId,
    pub tenant_id: TenantId,
    pub provider: Provider,
    pub received_at: Timestamp,
    pub correlation_id: CorrelationId,
    pub headers: Headers,
    pub body: InboundBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundBody {
    Inline {
        base64: String,
    },
    Blob {
        key: String,
        size: usize,
        sha256: String,
    },
}

impl InboundBody {
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

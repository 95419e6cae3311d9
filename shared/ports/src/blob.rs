//! The blob store port (S3 semantics): whole objects by key.

use async_trait::async_trait;

use crate::Result;

/// Whole objects by key (raw webhook bodies, exports). Keys must pass [`valid_key`].
///
/// Every method fails with [`crate::PortError::Transient`] on a backend or I/O hiccup and
/// [`crate::PortError::Permanent`] for an invalid key or a denied request.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores the object durably; overwrites an existing one (versioned in the cloud).
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// The object's bytes, or None when no object has this key.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Keys starting with `prefix`, ascending.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Keys starting with `prefix` with each object's size in bytes, ascending (the storage
    /// census: S3 bills the bytes stored). Current objects only.
    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>>;
    /// Deletes every earlier version of `key`, keeping the current one: after an erasure
    /// rewrote an object, its old content must not survive as a noncurrent version (S3
    /// versioning). Returns how many versions were deleted; stores that keep no history
    /// have nothing to delete.
    async fn erase_history(&self, key: &str) -> Result<u64> {
        let _ = key;
        Ok(0)
    }
}

/// Keys are path-like (`raw/t1/2026/…`); this keeps them safe for every backend.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'=' | b':')
        })
}

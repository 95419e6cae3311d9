//! The blob store port on S3 (the bucket is versioned in the template).

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use tillbridge_ports::blob::{BlobStore, valid_key};
use tillbridge_ports::{PortError, Result};

use crate::error::classify;

/// The blob port on S3 (one bucket; keys as given).
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    /// The bucket `bucket` through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        if !valid_key(key) {
            return Err(PortError::Permanent(format!("invalid blob key {key:?}")));
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| classify("S3 PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let data = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| PortError::Transient(format!("S3 GetObject body: {e}")))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(classify("S3 GetObject", e)),
        }
    }

    async fn erase_history(&self, key: &str) -> Result<u64> {
        if !valid_key(key) {
            return Err(PortError::Permanent(format!("invalid blob key {key:?}")));
        }
        let mut old: Vec<String> = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| classify("S3 ListObjectVersions", e))?;
            old.extend(
                out.versions()
                    .iter()
                    .filter(|v| v.key() == Some(key) && v.is_latest() != Some(true))
                    .filter_map(|v| v.version_id().map(str::to_owned)),
            );
            old.extend(
                out.delete_markers()
                    .iter()
                    .filter(|m| m.key() == Some(key) && m.is_latest() != Some(true))
                    .filter_map(|m| m.version_id().map(str::to_owned)),
            );
            if out.is_truncated() != Some(true) {
                break;
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            version_marker = out.next_version_id_marker().map(str::to_owned);
        }
        for version in &old {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .version_id(version)
                .send()
                .await
                .map_err(|e| classify("S3 DeleteObject (version)", e))?;
        }
        Ok(old.len() as u64)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // The same ListObjectsV2 pages; the sizes are dropped.
        Ok(self
            .list_sized(prefix)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| classify("S3 ListObjectsV2", e))?;
            keys.extend(out.contents().iter().filter_map(|o| {
                o.key().map(|k| {
                    (
                        k.to_owned(),
                        o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    )
                })
            }));
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }
}

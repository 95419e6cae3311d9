//! The pre-migration snapshot (the rollback owns this format).
//!
//! `snapshots/<tenant>/<migration>/catalog.jsonl.gz`: the tenant's live catalog, one canonical
//! item per line (serde's field order, absent fields left out), ordered by id, gzip.
//! `snapshots/<tenant>/<migration>/manifest.json`: counts, the SHA-256 of the uncompressed
//! content, the migration and the time. Written once: a retried snapshot finds the manifest
//! and keeps it (S3 versioning keeps any overwrite recoverable in the cloud).

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tillbridge_domain::{CatalogItem, MigrationId, TenantId, Timestamp};
use tillbridge_ports::{BlobStore, Table};

use super::Migration;
use crate::MigrationError;

/// The snapshot format, as recorded in its manifest.
pub const FORMAT: &str = "tillbridge.snapshot/1 (canonical JSONL, gzip)";

/// A snapshot's manifest (`manifest.json` beside the data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The migration it was taken for.
    pub migration_id: String,
    /// Whose catalog.
    pub tenant_id: TenantId,
    /// When.
    pub taken_at: Timestamp,
    /// Catalog items in it.
    pub items: u64,
    /// SHA-256 (hex) of the uncompressed JSONL.
    pub sha256: String,
    /// Size of the uncompressed JSONL, in bytes.
    pub bytes: u64,
    /// Size of the gzip blob, in bytes.
    pub compressed_bytes: u64,
    /// Blob key of the data (`…/catalog.jsonl.gz`).
    pub key: String,
}

/// Blob keys of a migration's snapshot data and manifest.
pub fn keys(tenant: &TenantId, migration: &MigrationId) -> (String, String) {
    crate::keys::snapshot_blobs(tenant, migration)
}

/// One item as the snapshot writes it.
///
/// # Errors
///
/// [`MigrationError::Permanent`] if the item does not serialize.
pub fn canonical_line(item: &CatalogItem) -> Result<String, MigrationError> {
    serde_json::to_string(item).map_err(|e| MigrationError::Permanent(format!("serialize: {e}")))
}

pub use tillbridge_catalog::for_each_item;

/// Takes the snapshot of the migration's tenant, or returns the one already taken.
///
/// # Errors
///
/// The table or blob store failed; [`MigrationError::Permanent`] for a corrupt stored
/// manifest, or an item that does not serialize or compress.
pub async fn take(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
    at: Timestamp,
) -> Result<Manifest, MigrationError> {
    let (data_key, manifest_key) = keys(&m.tenant_id, &m.id);
    if let Some(bytes) = blobs.get(&manifest_key).await? {
        return serde_json::from_slice(&bytes)
            .map_err(|e| MigrationError::Permanent(format!("snapshot manifest is corrupt: {e}")));
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let mut sha = Sha256::new();
    let (mut items, mut bytes) = (0u64, 0u64);
    for_each_item(table, &m.tenant_id, |item| {
        let mut line = canonical_line(&item)?;
        line.push('\n');
        sha.update(line.as_bytes());
        gz.write_all(line.as_bytes())
            .map_err(|e| MigrationError::Permanent(format!("compress: {e}")))?;
        items += 1;
        bytes += line.len() as u64;
        Ok::<_, MigrationError>(())
    })
    .await?;
    let compressed = gz
        .finish()
        .map_err(|e| MigrationError::Permanent(format!("compress: {e}")))?;
    let manifest = Manifest {
        format: FORMAT.into(),
        migration_id: m.id.to_string(),
        tenant_id: m.tenant_id.clone(),
        taken_at: at,
        items,
        sha256: hex::encode(sha.finalize()),
        bytes,
        compressed_bytes: compressed.len() as u64,
        key: data_key.clone(),
    };
    blobs.put(&data_key, &compressed).await?;
    let body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| MigrationError::Permanent(e.to_string()))?;
    blobs.put(&manifest_key, &body).await?;
    Ok(manifest)
}

/// Reads a snapshot back, checking it against its manifest: (id, canonical line) in id order.
///
/// # Errors
///
/// [`MigrationError::Permanent`] when the data is missing, does not decompress, does not
/// match the manifest's hash, or has a line that is not an item; a failing blob store.
pub async fn read(
    blobs: &dyn BlobStore,
    manifest: &Manifest,
) -> Result<Vec<(String, String)>, MigrationError> {
    let compressed = blobs.get(&manifest.key).await?.ok_or_else(|| {
        MigrationError::Permanent(format!("snapshot {} is missing", manifest.key))
    })?;
    let mut text = String::with_capacity(manifest.bytes as usize);
    GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| MigrationError::Permanent(format!("snapshot is corrupt: {e}")))?;
    if hex::encode(Sha256::digest(text.as_bytes())) != manifest.sha256 {
        return Err(MigrationError::Permanent(
            "snapshot content does not match its manifest hash".into(),
        ));
    }
    let mut out = Vec::with_capacity(manifest.items as usize);
    for line in text.lines() {
        let item: CatalogItem = serde_json::from_str(line)
            .map_err(|e| MigrationError::Permanent(format!("snapshot line is corrupt: {e}")))?;
        out.push((item.external_id, line.to_owned()));
    }
    Ok(out)
}

/// SHA-256 of lines in the snapshot's form (each followed by a newline).
pub fn hash_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut sha = Sha256::new();
    for l in lines {
        sha.update(l.as_bytes());
        sha.update(b"\n");
    }
    hex::encode(sha.finalize())
}

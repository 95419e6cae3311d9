//! The embedded store: the local default runtime's state, in one directory.
//!
//! `state.redb` holds every table partition (redb: ACID, copy-on-write, fsync on commit, so
//! a committed write survives `kill -9`; concurrent writes are group-committed — one
//! transaction and one fsync for all that are queued, each answered after that commit); `blobs/` holds objects as files written by
//! rename; `secrets.json` holds vendor secrets (owner-only). Queues and the bus are the port crate's table-backed ones on top of this table.

#![warn(missing_docs)]

mod blobs;
mod outbox;
mod secrets;
mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use blobs::FsBlobStore;
pub use outbox::OutboxMailer;
pub use secrets::FileSecretStore;
pub use table::EmbeddedTable;
use tillbridge_ports::{Clock, PortError, Result};

/// The opened state directory.
pub struct Embedded {
    /// The state directory itself, as given to [`Embedded::open`].
    pub root: PathBuf,
    /// Every table partition, in `<root>/state.redb`.
    pub table: Arc<EmbeddedTable>,
    /// Blob objects as files under `<root>/blobs/`, one file per key.
    pub blobs: Arc<FsBlobStore>,
    /// Vendor secrets in `<root>/secrets.json` (owner-only).
    pub secrets: Arc<FileSecretStore>,
    /// Notification emails as files in `<root>/outbox/`.
    pub outbox: Arc<OutboxMailer>,
}

impl Embedded {
    /// Opens the state directory `root`, creating it, `state.redb` and `blobs/` when they
    /// do not exist; `clock` decides which table items have expired.
    ///
    /// # Errors
    ///
    /// [`PortError::Permanent`] when the directory cannot be created or `state.redb`
    /// cannot be opened (not a redb file, or locked by another process: one process owns
    /// a state directory at a time); [`PortError::Transient`] for an I/O failure while
    /// preparing the table or the blob folder.
    pub fn open(root: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| {
            PortError::Permanent(format!(
                "cannot create state directory {}: {e}",
                root.display()
            ))
        })?;
        let table = Arc::new(EmbeddedTable::open(&root.join("state.redb"), clock)?);
        let blobs = Arc::new(FsBlobStore::open(&root.join("blobs"))?);
        let secrets = Arc::new(FileSecretStore::open(&root.join("secrets.json"))?);
        let outbox = Arc::new(OutboxMailer::open(&root.join("outbox"))?);
        Ok(Self {
            root: root.to_owned(),
            table,
            blobs,
            secrets,
            outbox,
        })
    }
}

/// Rewrites `<root>/state.redb` so that the space of deleted and replaced items is given
/// back and no longer holds their bytes (redb is copy-on-write: a deleted item's old pages
/// stay in the file until reused). Run after an erasure, with no other process on the state
/// directory. Returns false when there was nothing to compact.
///
/// # Errors
/// [`PortError::Permanent`] when the file cannot be opened (another process holds it) or
/// compacted.
pub fn compact(root: &Path) -> Result<bool> {
    let path = root.join("state.redb");
    let mut db = redb::Database::open(&path)
        .map_err(|e| PortError::Permanent(format!("cannot open {}: {e}", path.display())))?;
    let mut any = false;
    // Each pass moves pages toward the start; repeat until nothing moves.
    while db
        .compact()
        .map_err(|e| PortError::Permanent(format!("cannot compact {}: {e}", path.display())))?
    {
        any = true;
    }
    Ok(any)
}

#[cfg(test)]
mod tests;

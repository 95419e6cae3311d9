//! The embedded store: the local default runtime's state, in one directory.
//!
//! `state.redb` holds every table partition (redb: ACID, copy-on-write, fsync on commit, so
//! a committed write survives `kill -9`); `blobs/` holds objects as files written by
//! rename. Queues and the bus are the port crate's table-backed ones on top of this table.

mod blobs;
mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use blobs::FsBlobStore;
pub use table::EmbeddedTable;
use tillbridge_ports::{Clock, PortError, Result};

/// The opened state directory.
pub struct Embedded {
    pub root: PathBuf,
    pub table: Arc<EmbeddedTable>,
    pub blobs: Arc<FsBlobStore>,
}

impl Embedded {
    pub fn open(root: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| {
            PortError::Permanent(format!(
                "cannot create state directory {}: {e}",
                root.display()
            ))
        })?;
        let table = Arc::new(EmbeddedTable::open(&root.join("state.redb"), clock)?);
        let blobs = Arc::new(FsBlobStore::open(&root.join("blobs"))?);
        Ok(Self {
            root: root.to_owned(),
            table,
            blobs,
        })
    }
}

#[cfg(test)]
mod tests;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tillbridge_ports::blob::{BlobStore, valid_key};
use tillbridge_ports::{PortError, Result};

/// Objects as files under one folder; writes go to a temporary file, are synced, then
/// renamed into place, so a crash leaves either the old object or the new one.
pub struct FsBlobStore {
    root: PathBuf,
}

fn io(e: impl std::fmt::Display) -> PortError {
    PortError::Transient(format!("blob store: {e}"))
}

impl FsBlobStore {
    /// The blob store rooted at the folder `root`, created when missing. Keys map to paths
    /// under it (see [`tillbridge_ports::blob::valid_key`] for the keys accepted).
    ///
    /// # Errors
    ///
    /// [`PortError::Transient`] when the folder cannot be created.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(io)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(PortError::Permanent(format!("invalid blob key {key:?}")));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        fs::create_dir_all(&dir).map_err(io)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::now_v7()));
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)?;
        // Persist the rename itself.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match fs::read(self.path(key)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            for entry in entries {
                let path = entry.map_err(io)?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel
                        .to_string_lossy()
                        .replace(std::path::MAIN_SEPARATOR, "/");
                    if key.starts_with(prefix)
                        && !key.rsplit('/').next().unwrap_or("").starts_with(".tmp-")
                    {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for key in self.list(prefix).await? {
            match fs::metadata(self.path(&key)?) {
                Ok(m) => out.push((key, m.len())),
                // Deleted between the listing and now: not stored.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(out)
    }
}

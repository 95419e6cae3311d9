//! Vendor secrets of the embedded store: `<root>/secrets.json`, readable by its owner only
//! (mode 0600 on Unix), rewritten whole by rename on every change so a crash leaves the old
//! or the new file, never half of one. Secrets never go into `state.redb`, whose items the
//! API can list; the cloud keeps them in Secrets Manager.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tillbridge_domain::{Provider, Secret, TenantId};
use tillbridge_ports::tenants::{ApiCredentials, SecretStore, WebhookSecrets, rotated};
use tillbridge_ports::{PortError, Result};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    /// `<tenant>/<provider>` → webhook secrets.
    #[serde(default)]
    webhook: BTreeMap<String, Stored>,
    /// `<tenant>/<provider>` → API credentials by name.
    #[serde(default)]
    api: BTreeMap<String, BTreeMap<String, String>>,
    /// `<tenant>/<name>` → signing secret of an outbound notification webhook.
    #[serde(default)]
    notify: BTreeMap<String, String>,
}

/// The embedded [`SecretStore`]: one private JSON file beside the table.
pub struct FileSecretStore {
    path: PathBuf,
    file: Mutex<File>,
}

fn key(tenant: &TenantId, provider: Provider) -> String {
    format!("{tenant}/{provider}")
}

fn text(s: &Secret) -> String {
    String::from_utf8_lossy(s.expose()).into_owned()
}

impl FileSecretStore {
    /// Opens (or starts) the secrets file at `path`.
    ///
    /// # Errors
    /// [`PortError::Permanent`] when the file exists but is not a secrets file;
    /// [`PortError::Transient`] when it cannot be read.
    pub fn open(path: &Path) -> Result<Self> {
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                PortError::Permanent(format!("{} is not a secrets file: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => {
                return Err(PortError::Transient(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Sets a tenant's webhook secrets exactly (current and previous), as a tenants file
    /// gives them.
    ///
    /// # Errors
    /// [`PortError::Transient`] when the file cannot be written.
    pub fn set_webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
        secrets: &WebhookSecrets,
    ) -> Result<()> {
        self.change(|f| {
            f.webhook.insert(
                key(tenant, provider),
                Stored {
                    current: text(&secrets.current),
                    previous: secrets.previous.as_ref().map(text),
                },
            );
        })
    }

    fn change(&self, edit: impl FnOnce(&mut File)) -> Result<()> {
        let mut file = self
            .file
            .lock()
            .map_err(|_| PortError::Permanent("secrets file lock poisoned".into()))?;
        edit(&mut file);
        let bytes = serde_json::to_vec_pretty(&*file)
            .map_err(|e| PortError::Permanent(format!("secrets: {e}")))?;
        write_private(&self.path, &bytes)
            .map_err(|e| PortError::Transient(format!("cannot write {}: {e}", self.path.display())))
    }

    fn read<T>(&self, f: impl FnOnce(&File) -> T) -> Result<T> {
        self.file
            .lock()
            .map(|file| f(&file))
            .map_err(|_| PortError::Permanent("secrets file lock poisoned".into()))
    }
}

/// Writes `bytes` to a fresh owner-only file beside `path`, syncs it and renames it over
/// `path`.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[async_trait]
impl SecretStore for FileSecretStore {
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>> {
        self.read(|f| {
            f.webhook
                .get(&key(tenant, provider))
                .map(|s| WebhookSecrets {
                    current: Secret::new(s.current.as_str()),
                    previous: s.previous.as_deref().map(Secret::new),
                })
        })
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        provider: Provider,
        secret: &Secret,
    ) -> Result<()> {
        let old = self.webhook_secrets(tenant, provider).await?;
        self.set_webhook_secrets(tenant, provider, &rotated(old, secret))
    }

    async fn api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<ApiCredentials>> {
        self.read(|f| {
            f.api.get(&key(tenant, provider)).map(|m| {
                ApiCredentials::new(
                    m.iter()
                        .map(|(k, v)| (k.clone(), Secret::new(v.as_str())))
                        .collect(),
                )
            })
        })
    }

    async fn put_api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
        credentials: &ApiCredentials,
    ) -> Result<()> {
        let map = credentials
            .names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), text(credentials.get(&n)?))))
            .collect();
        self.change(|f| {
            f.api.insert(key(tenant, provider), map);
        })
    }

    async fn notification_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>> {
        self.read(|f| {
            f.notify
                .get(&format!("{tenant}/{name}"))
                .map(|s| Secret::new(s.as_str()))
        })
    }

    async fn put_notification_secret(
        &self,
        tenant: &TenantId,
        name: &str,
        secret: &Secret,
    ) -> Result<()> {
        self.change(|f| {
            f.notify.insert(format!("{tenant}/{name}"), text(secret));
        })
    }
}

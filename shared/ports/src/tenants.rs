//! Tenants and their vendor secrets.
//!
//! The ingress sees only [`TenantConfig`] (no secrets); the signature check reads secrets
//! through [`SecretStore`]. Locally both come from a tenants file; in the cloud from the
//! tenants table and Secrets Manager.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tillbridge_domain::Secret;
use tillbridge_domain::secret::DEFAULT_TOLERANCE_SECS;
use tillbridge_domain::{Currency, Provider, TenantId};

use crate::{PortError, Result};

/// Default cap on a webhook body: API Gateway HTTP APIs accept 10 MB; vendors' largest
/// documented payloads (Toast orders) are under 1 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A tenant's non-secret settings for one vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// The URL the vendor subscription was created with (Square signs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Accepted clock difference for signed timestamps (default 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<i64>,
}

/// What the ingress knows about a tenant (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The tenant's currency: vendor amounts without their own currency are in it.
    pub currency: Currency,
    /// The vendors the tenant receives webhooks from; others are refused.
    pub providers: BTreeMap<Provider, ProviderConfig>,
    /// Cap on a webhook body in bytes; None = [`DEFAULT_MAX_BODY_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

impl TenantConfig {
    /// The body cap in bytes, [`DEFAULT_MAX_BODY_BYTES`] unless configured.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES)
    }

    /// Accepted clock difference in seconds for `provider`'s signed timestamps: the
    /// provider's setting, else [`DEFAULT_TOLERANCE_SECS`].
    pub fn tolerance_secs(&self, provider: Provider) -> i64 {
        self.providers
            .get(&provider)
            .and_then(|p| p.tolerance_secs)
            .unwrap_or(DEFAULT_TOLERANCE_SECS)
    }
}

/// The secrets of one tenant and provider; `previous` is accepted during a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// The secret the vendor signs with now.
    pub current: Secret,
    /// The secret before the last rotation, still accepted while deliveries signed with
    /// it may arrive.
    pub previous: Option<Secret>,
}

impl WebhookSecrets {
    /// Current then previous, the order `tillbridge_webhooks::verify` tries them.
    pub fn all(&self) -> Vec<Secret> {
        std::iter::once(self.current.clone())
            .chain(self.previous.clone())
            .collect()
    }
}

/// Looks tenants up (tenants table in the cloud, tenants file locally). Errors are the
/// backend's [`PortError`]s (transient ones retryable).
#[async_trait]
pub trait TenantDirectory: Send + Sync {
    /// The tenant's configuration, or None for an unknown tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantConfig>>;
    /// Every configured tenant, ordered by id.
    async fn tenant_ids(&self) -> Result<Vec<TenantId>>;
}

/// Reads webhook secrets (Secrets Manager in the cloud, the tenants file locally). Errors
/// are the backend's [`PortError`]s (transient ones retryable).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The tenant's secrets for `provider`, or None when none is configured.
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>>;
}

/// The tenants file of `tillbridge serve --tenants` (CLI.md), plus optional extensions:
/// `previous_secret` and `tolerance_secs` per provider, `max_body_bytes` per tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsFile {
    /// One entry per tenant.
    pub tenants: Vec<TenantEntry>,
}

/// One tenant in a [`TenantsFile`]. Unknown fields are rejected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The tenant's currency (ISO 4217 code).
    pub currency: Currency,
    /// Cap on a webhook body in bytes; absent = [`DEFAULT_MAX_BODY_BYTES`].
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Monthly AI budget in USD (exact decimal text).
    #[serde(default)]
    pub monthly_budget_usd: Option<serde_json::Value>,
    /// The vendors the tenant receives webhooks from, by provider name.
    pub providers: BTreeMap<Provider, ProviderEntry>,
}

/// One vendor of a [`TenantEntry`], secret included. Unknown fields are rejected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// The webhook secret exactly as the vendor shows it.
    pub secret: String,
    /// The secret before a rotation, still accepted.
    #[serde(default)]
    pub previous_secret: Option<String>,
    /// The URL the vendor subscription was created with (required for Square, which
    /// signs it).
    #[serde(default)]
    pub notification_url: Option<String>,
    /// Accepted clock difference for signed timestamps, seconds (default 300).
    #[serde(default)]
    pub tolerance_secs: Option<i64>,
}

/// Tenants and secrets held in memory: the in-memory implementation of both ports, and
/// what a tenants file loads into for the embedded runtime.
#[derive(Debug, Default, Clone)]
pub struct StaticDirectory {
    tenants: HashMap<TenantId, TenantConfig>,
    secrets: HashMap<(TenantId, Provider), WebhookSecrets>,
    /// Monthly budgets as given (decimal text), for the runtime to load.
    pub budgets: HashMap<TenantId, String>,
}

impl StaticDirectory {
    /// Loads a tenants file's text.
    ///
    /// # Errors
    ///
    /// [`PortError::Permanent`] when the text is not a valid [`TenantsFile`] (bad JSON, an
    /// unknown field or provider, a bad currency).
    pub fn from_json(text: &str) -> Result<Self> {
        let file: TenantsFile = serde_json::from_str(text)
            .map_err(|e| PortError::Permanent(format!("tenants file: {e}")))?;
        Ok(Self::from_file(file))
    }

    /// The directory of a parsed tenants file: configs, secrets and budgets.
    pub fn from_file(file: TenantsFile) -> Self {
        let mut dir = Self::default();
        for t in file.tenants {
            let providers = t
                .providers
                .iter()
                .map(|(p, e)| {
                    (
                        *p,
                        ProviderConfig {
                            notification_url: e.notification_url.clone(),
                            tolerance_secs: e.tolerance_secs,
                        },
                    )
                })
                .collect();
            if let Some(b) = &t.monthly_budget_usd {
                let text = match b {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                dir.budgets.insert(t.tenant_id.clone(), text);
            }
            for (p, e) in &t.providers {
                dir.secrets.insert(
                    (t.tenant_id.clone(), *p),
                    WebhookSecrets {
                        current: Secret::new(e.secret.as_str()),
                        previous: e.previous_secret.as_deref().map(Secret::new),
                    },
                );
            }
            dir.tenants.insert(
                t.tenant_id.clone(),
                TenantConfig {
                    tenant_id: t.tenant_id,
                    currency: t.currency,
                    providers,
                    max_body_bytes: t.max_body_bytes,
                },
            );
        }
        dir
    }

    /// Adds or replaces a tenant and its secrets per provider.
    pub fn insert(&mut self, config: TenantConfig, secrets: Vec<(Provider, WebhookSecrets)>) {
        for (p, s) in secrets {
            self.secrets.insert((config.tenant_id.clone(), p), s);
        }
        self.tenants.insert(config.tenant_id.clone(), config);
    }

    /// Every tenant's id, sorted.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        let mut ids: Vec<_> = self.tenants.keys().cloned().collect();
        ids.sort();
        ids
    }
}

#[async_trait]
impl TenantDirectory for StaticDirectory {
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantConfig>> {
        Ok(self.tenants.get(id).cloned())
    }

    async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        Ok(StaticDirectory::tenant_ids(self))
    }
}

#[async_trait]
impl SecretStore for StaticDirectory {
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>> {
        Ok(self.secrets.get(&(tenant.clone(), provider)).cloned())
    }
}

/// Tenant configurations stored in the table (`tenant#<id>` / `config`), cached per
/// container: the cloud's tenant directory (the ingress reads it on every request).
pub struct TableDirectory {
    table: std::sync::Arc<dyn crate::Table>,
    ttl: std::time::Duration,
    cache: std::sync::Mutex<HashMap<TenantId, (std::time::Instant, Option<TenantConfig>)>>,
}

impl TableDirectory {
    /// The directory over `table`; a looked-up config (or its absence) is cached for `ttl`.
    pub fn new(table: std::sync::Arc<dyn crate::Table>, ttl: std::time::Duration) -> Self {
        Self {
            table,
            ttl,
            cache: std::sync::Mutex::default(),
        }
    }

    /// Stores `config` and adds the tenant to the tenant list, in one transaction, and
    /// drops it from this container's cache.
    ///
    /// # Errors
    ///
    /// The table's [`PortError`]s: [`PortError::Transient`] is worth retrying.
    pub async fn put(&self, config: &TenantConfig) -> Result<()> {
        let item =
            crate::table::Item::with_doc(format!("tenant#{}", config.tenant_id), "config", config)?;
        // The tenant list (`tenants` / `<id>`) is written with the config, atomically.
        let index =
            crate::table::Item::with_doc("tenants", config.tenant_id.as_str(), &config.tenant_id)?;
        self.table
            .transact(vec![
                crate::table::TxWrite::Put {
                    item,
                    condition: crate::table::Condition::Always,
                },
                crate::table::TxWrite::Put {
                    item: index,
                    condition: crate::table::Condition::Always,
                },
            ])
            .await?;
        if let Ok(mut c) = self.cache.lock() {
            c.remove(&config.tenant_id);
        }
        Ok(())
    }
}

impl TableDirectory {
    /// Every registered tenant, ordered by id.
    pub async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        crate::table::query_all(self.table.as_ref(), "tenants", "")
            .await?
            .iter()
            .map(|i| i.doc())
            .collect()
    }
}

#[async_trait]
impl TenantDirectory for TableDirectory {
    async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        TableDirectory::tenant_ids(self).await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantConfig>> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, v)) = c.get(id)
            && at.elapsed() < self.ttl
        {
            return Ok(v.clone());
        }
        let value = match self.table.get(&format!("tenant#{id}"), "config").await? {
            Some(item) => Some(item.doc::<TenantConfig>()?),
            None => None,
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(id.clone(), (std::time::Instant::now(), value.clone()));
        }
        Ok(value)
    }
}

//! Tenants and their vendor secrets.
//!
//! The ingress sees only [`TenantConfig`] (no secrets); the signature check reads secrets
//! through [`SecretStore`]. Locally both come from a tenants file; in the cloud from the
//! tenants table and Secrets Manager.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tillbridge_domain::Secret;
use tillbridge_domain::secret::DEFAULT_TOLERANCE_SECS;
use tillbridge_domain::{Country, Currency, Provider, TenantId, TimeZone};

use crate::{PortError, Result};

/// Default cap on a webhook body: API Gateway HTTP APIs accept 10 MB; vendors' largest
/// documented payloads (Toast orders) are under 1 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A tenant's non-secret settings for one vendor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// The URL the vendor subscription was created with (Square signs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Accepted clock difference for signed timestamps (default 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<i64>,
    /// The vendor API's base URL when it is not the vendor's production URL (a sandbox, a
    /// local fake). The credentials are secrets: [`SecretStore::api_credentials`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
}

/// What the ingress knows about a tenant (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The tenant's currency: vendor amounts without their own currency are in it.
    pub currency: Currency,
    /// Where the tenant trades (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    /// The tenant's time zone (IANA), for business hours and local days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZone>,
    /// The vendors the tenant receives webhooks from; others are refused.
    pub providers: BTreeMap<Provider, ProviderConfig>,
    /// Cap on a webhook body in bytes; None = [`DEFAULT_MAX_BODY_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
}

impl TenantConfig {
    /// A tenant trading in `currency` with no providers yet.
    pub fn new(tenant_id: TenantId, currency: Currency) -> Self {
        Self {
            tenant_id,
            currency,
            country: None,
            time_zone: None,
            providers: BTreeMap::new(),
            max_body_bytes: None,
        }
    }

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

/// A tenant's credentials for a vendor's API, by the vendor's own names (`access_token` for
/// Square and Shopify, `consumer_key` + `consumer_secret` for WooCommerce, …). Every value
/// is a [`Secret`]: never printed, never stored in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiCredentials(BTreeMap<String, Secret>);

impl ApiCredentials {
    /// Credentials from name → value.
    pub fn new(fields: BTreeMap<String, Secret>) -> Self {
        Self(fields)
    }

    /// One credential's value.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name)
    }

    /// The credential names (never the values), sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// Whether no credential is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The credentials as a JSON object of strings (for the secret store's payload only).
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&str, String> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.expose()).into_owned()))
            .collect();
        serde_json::to_string(&map).unwrap_or_default()
    }

    /// Parses [`ApiCredentials::to_json`]'s form.
    ///
    /// # Errors
    /// [`PortError::Permanent`] when the text is not a JSON object of strings.
    pub fn from_json(text: &str) -> Result<Self> {
        let map: BTreeMap<String, String> = serde_json::from_str(text)
            .map_err(|e| PortError::Permanent(format!("API credentials: {e}")))?;
        Ok(Self(
            map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect(),
        ))
    }
}

/// Looks tenants up and registers them (tenants table in the cloud and in the embedded
/// store; a map in memory). Errors are the backend's [`PortError`]s (transient ones
/// retryable).
#[async_trait]
pub trait TenantDirectory: Send + Sync {
    /// The tenant's configuration, or None for an unknown tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantConfig>>;
    /// Every configured tenant, ordered by id.
    async fn tenant_ids(&self) -> Result<Vec<TenantId>>;
    /// Creates or replaces a tenant's configuration; visible to the next lookup.
    async fn put_tenant(&self, config: &TenantConfig) -> Result<()>;
}

/// Vendor secrets: webhook signing secrets and API credentials (Secrets Manager in the cloud,
/// a private file in the embedded store's directory locally, a map in memory). Errors are
/// the backend's [`PortError`]s (transient ones retryable).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The tenant's secrets for `provider`, or None when none is configured.
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>>;

    /// Makes `secret` the current webhook secret; the one it replaces stays accepted as
    /// `previous` (a rotation). Storing the current secret again changes nothing.
    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        provider: Provider,
        secret: &Secret,
    ) -> Result<()>;

    /// The tenant's credentials for `provider`'s API, or None.
    async fn api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<ApiCredentials>>;

    /// Replaces the tenant's credentials for `provider`'s API.
    async fn put_api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
        credentials: &ApiCredentials,
    ) -> Result<()>;

    /// The signing secret of one of the tenant's outbound notification webhooks (`name`
    /// is scoped to the tenant), or None.
    async fn notification_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>>;

    /// Stores the signing secret of an outbound notification webhook.
    async fn put_notification_secret(
        &self,
        tenant: &TenantId,
        name: &str,
        secret: &Secret,
    ) -> Result<()>;
}

/// The next webhook secrets when `secret` is stored over `old`: unchanged when it is already
/// current, else the old current becomes previous.
pub fn rotated(old: Option<WebhookSecrets>, secret: &Secret) -> WebhookSecrets {
    match old {
        Some(old) if &old.current == secret => old,
        Some(old) => WebhookSecrets {
            current: secret.clone(),
            previous: Some(old.current),
        },
        None => WebhookSecrets {
            current: secret.clone(),
            previous: None,
        },
    }
}

/// The tenants file of `tillbridge serve --tenants` (CLI.md), plus optional extensions:
/// `previous_secret` and `tolerance_secs` per provider, `max_body_bytes`, `country` and
/// `time_zone` per tenant.
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
    /// Where the tenant trades (ISO 3166-1 alpha-2).
    #[serde(default)]
    pub country: Option<Country>,
    /// The tenant's time zone (IANA name).
    #[serde(default)]
    pub time_zone: Option<TimeZone>,
    /// Cap on a webhook body in bytes; absent = [`DEFAULT_MAX_BODY_BYTES`].
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Monthly AI budget in USD (exact decimal text).
    #[serde(default)]
    pub monthly_budget_usd: Option<serde_json::Value>,
    /// The vendors the tenant receives webhooks from, by provider name.
    pub providers: BTreeMap<Provider, ProviderEntry>,
}

/// One vendor of a [`TenantEntry`], secrets included. Unknown fields are rejected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// The webhook secret exactly as the vendor shows it.
    #[serde(default)]
    pub secret: Option<String>,
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
    /// The merchant's account at the vendor's API (CLI.md "Vendor APIs").
    #[serde(default)]
    pub api: Option<ApiEntry>,
}

/// `api` of a [`ProviderEntry`]: `base_url` (default: the vendor's production URL) and the
/// credentials by the vendor's names (`access_token`, `consumer_key`, …).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiEntry {
    /// The API's base URL; None = the vendor's production URL.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Every other field: a credential, name → value (text or a number; other values, which
    /// no vendor's credentials are, are ignored).
    #[serde(flatten)]
    pub credentials: BTreeMap<String, serde_json::Value>,
}

impl ProviderEntry {
    /// The non-secret part.
    pub fn config(&self) -> ProviderConfig {
        ProviderConfig {
            notification_url: self.notification_url.clone(),
            tolerance_secs: self.tolerance_secs,
            api_base_url: self.api.as_ref().and_then(|a| a.base_url.clone()),
        }
    }

    /// The webhook secrets given, if any.
    pub fn webhook_secrets(&self) -> Option<WebhookSecrets> {
        self.secret.as_deref().map(|s| WebhookSecrets {
            current: Secret::new(s),
            previous: self.previous_secret.as_deref().map(Secret::new),
        })
    }

    /// The API credentials given, if any.
    pub fn api_credentials(&self) -> Option<ApiCredentials> {
        let fields: BTreeMap<String, Secret> = self
            .api
            .as_ref()?
            .credentials
            .iter()
            .filter_map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((k.clone(), Secret::new(text)))
            })
            .collect();
        (!fields.is_empty()).then(|| ApiCredentials::new(fields))
    }
}

impl TenantEntry {
    /// The non-secret configuration.
    pub fn config(&self) -> TenantConfig {
        TenantConfig {
            tenant_id: self.tenant_id.clone(),
            currency: self.currency,
            country: self.country,
            time_zone: self.time_zone.clone(),
            providers: self
                .providers
                .iter()
                .map(|(p, e)| (*p, e.config()))
                .collect(),
            max_body_bytes: self.max_body_bytes,
        }
    }

    /// The monthly budget as decimal text, if given.
    pub fn budget_text(&self) -> Option<String> {
        self.monthly_budget_usd.as_ref().map(|b| match b {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// A runtime's tenant directory and secret store, as one value to hand around.
#[derive(Clone)]
pub struct Tenants {
    /// Tenant settings.
    pub directory: std::sync::Arc<dyn TenantDirectory>,
    /// Their vendor secrets.
    pub secrets: std::sync::Arc<dyn SecretStore>,
}

impl From<std::sync::Arc<StaticDirectory>> for Tenants {
    fn from(d: std::sync::Arc<StaticDirectory>) -> Self {
        Self {
            directory: d.clone(),
            secrets: d,
        }
    }
}

#[derive(Debug, Default)]
struct Directory {
    tenants: HashMap<TenantId, TenantConfig>,
    secrets: HashMap<(TenantId, Provider), WebhookSecrets>,
    api: HashMap<(TenantId, Provider), ApiCredentials>,
    notify: HashMap<(TenantId, String), Secret>,
}

/// Tenants and secrets held in memory: the in-memory implementation of both ports, and
/// what a tenants file is parsed into before it seeds a store.
#[derive(Debug, Default)]
pub struct StaticDirectory {
    inner: RwLock<Directory>,
    /// Monthly budgets as given (decimal text), for the runtime to load.
    pub budgets: HashMap<TenantId, String>,
    /// The file's entries as given, secrets included (to seed a persistent store).
    pub entries: Vec<TenantEntry>,
}

impl StaticDirectory {
    /// Loads a tenants file's text.
    ///
    /// # Errors
    ///
    /// [`PortError::Permanent`] when the text is not a valid [`TenantsFile`] (bad JSON, an
    /// unknown field or provider, a bad currency, country or time zone).
    pub fn from_json(text: &str) -> Result<Self> {
        let file: TenantsFile = serde_json::from_str(text)
            .map_err(|e| PortError::Permanent(format!("tenants file: {e}")))?;
        Ok(Self::from_file(file))
    }

    /// The directory of a parsed tenants file: configs, secrets and budgets.
    pub fn from_file(file: TenantsFile) -> Self {
        let mut dir = Self::default();
        for t in &file.tenants {
            if let Some(text) = t.budget_text() {
                dir.budgets.insert(t.tenant_id.clone(), text);
            }
            let secrets = t
                .providers
                .iter()
                .filter_map(|(p, e)| Some((*p, e.webhook_secrets()?)))
                .collect();
            dir.insert(t.config(), secrets);
            if let Ok(mut d) = dir.inner.write() {
                for (p, e) in &t.providers {
                    if let Some(c) = e.api_credentials() {
                        d.api.insert((t.tenant_id.clone(), *p), c);
                    }
                }
            }
        }
        dir.entries = file.tenants;
        dir
    }

    /// Adds or replaces a tenant and its secrets per provider.
    pub fn insert(&self, config: TenantConfig, secrets: Vec<(Provider, WebhookSecrets)>) {
        if let Ok(mut d) = self.inner.write() {
            for (p, s) in secrets {
                d.secrets.insert((config.tenant_id.clone(), p), s);
            }
            d.tenants.insert(config.tenant_id.clone(), config);
        }
    }

    /// Every tenant's id, sorted.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        let mut ids: Vec<_> = self
            .inner
            .read()
            .map(|d| d.tenants.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn read<T>(&self, f: impl FnOnce(&Directory) -> T) -> Result<T> {
        self.inner
            .read()
            .map(|d| f(&d))
            .map_err(|_| PortError::Permanent("tenant directory lock poisoned".into()))
    }

    fn write<T>(&self, f: impl FnOnce(&mut Directory) -> T) -> Result<T> {
        self.inner
            .write()
            .map(|mut d| f(&mut d))
            .map_err(|_| PortError::Permanent("tenant directory lock poisoned".into()))
    }
}

#[async_trait]
impl TenantDirectory for StaticDirectory {
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantConfig>> {
        self.read(|d| d.tenants.get(id).cloned())
    }

    async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        Ok(StaticDirectory::tenant_ids(self))
    }

    async fn put_tenant(&self, config: &TenantConfig) -> Result<()> {
        self.write(|d| {
            d.tenants.insert(config.tenant_id.clone(), config.clone());
        })
    }
}

#[async_trait]
impl SecretStore for StaticDirectory {
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>> {
        self.read(|d| d.secrets.get(&(tenant.clone(), provider)).cloned())
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        provider: Provider,
        secret: &Secret,
    ) -> Result<()> {
        self.write(|d| {
            let key = (tenant.clone(), provider);
            let next = rotated(d.secrets.remove(&key), secret);
            d.secrets.insert(key, next);
        })
    }

    async fn api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<ApiCredentials>> {
        self.read(|d| d.api.get(&(tenant.clone(), provider)).cloned())
    }

    async fn put_api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
        credentials: &ApiCredentials,
    ) -> Result<()> {
        self.write(|d| {
            d.api
                .insert((tenant.clone(), provider), credentials.clone());
        })
    }

    async fn notification_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>> {
        self.read(|d| d.notify.get(&(tenant.clone(), name.to_owned())).cloned())
    }

    async fn put_notification_secret(
        &self,
        tenant: &TenantId,
        name: &str,
        secret: &Secret,
    ) -> Result<()> {
        self.write(|d| {
            d.notify
                .insert((tenant.clone(), name.to_owned()), secret.clone());
        })
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

    async fn put_tenant(&self, config: &TenantConfig) -> Result<()> {
        self.put(config).await
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

//! Webhook secrets from Secrets Manager: one secret per tenant and provider, named
//! `<prefix><tenant>/<provider>`; AWSCURRENT and, during a rotation, AWSPREVIOUS are both
//! accepted. Cached per container for a few minutes (a rotation keeps the previous one valid).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use tillbridge_domain::{Provider, TenantId};
use tillbridge_ports::Result;
use tillbridge_ports::tenants::{ApiCredentials, SecretStore, WebhookSecrets};
use tillbridge_webhooks::Secret;

use crate::error::classify;

pub const CACHE_TTL: Duration = Duration::from_secs(300);

type Cached = (Instant, Option<WebhookSecrets>);

/// Webhook secrets from Secrets Manager: AWSCURRENT and AWSPREVIOUS (rotation), cached.
pub struct SecretsManagerStore {
    client: Client,
    prefix: String,
    cache: Mutex<HashMap<(TenantId, Provider), Cached>>,
}

impl SecretsManagerStore {
    /// Secrets named `<prefix><tenant>/<provider>` through `client`.
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
            cache: Mutex::default(),
        }
    }

    /// The name of the secret holding a tenant's API credentials for `provider` (a JSON
    /// object of credential name → value).
    pub fn api_secret_name(&self, tenant: &TenantId, provider: Provider) -> String {
        format!("{}{tenant}/{provider}/api", self.prefix)
    }

    /// The name of the signing secret of one of a tenant's outbound notification webhooks.
    pub fn notification_secret_name(&self, tenant: &TenantId, name: &str) -> String {
        format!("{}{tenant}/notify/{name}", self.prefix)
    }

    /// Stores `value` as the secret's new AWSCURRENT (Secrets Manager moves the old one to
    /// AWSPREVIOUS), creating the secret on first use.
    async fn put_value(&self, name: &str, value: &str) -> Result<()> {
        match self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("Secrets Manager CreateSecret", e))
            }
            Err(e) => Err(classify("Secrets Manager PutSecretValue", e)),
        }
    }

    fn forget(&self, tenant: &TenantId, provider: Provider) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&(tenant.clone(), provider));
        }
    }

    /// The secret's name for a tenant's provider.
    pub fn secret_name(&self, tenant: &TenantId, provider: Provider) -> String {
        format!("{}{tenant}/{provider}", self.prefix)
    }

    async fn stage(&self, name: &str, stage: &str) -> Result<Option<Secret>> {
        match self
            .client
            .get_secret_value()
            .secret_id(name)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .secret_string()
                .map(|s| Secret::new(s.as_bytes().to_vec()))
                .or_else(|| {
                    out.secret_binary()
                        .map(|b| Secret::new(b.as_ref().to_vec()))
                })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("Secrets Manager GetSecretValue", e)),
        }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>> {
        let key = (tenant.clone(), provider);
        if let Ok(cache) = self.cache.lock()
            && let Some((at, value)) = cache.get(&key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(value.clone());
        }
        let name = self.secret_name(tenant, provider);
        let value = match self.stage(&name, "AWSCURRENT").await? {
            Some(current) => Some(WebhookSecrets {
                current,
                previous: self.stage(&name, "AWSPREVIOUS").await?,
            }),
            None => None,
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (Instant::now(), value.clone()));
        }
        Ok(value)
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        provider: Provider,
        secret: &Secret,
    ) -> Result<()> {
        let name = self.secret_name(tenant, provider);
        if self.stage(&name, "AWSCURRENT").await?.as_ref() == Some(secret) {
            return Ok(());
        }
        let value = String::from_utf8_lossy(secret.expose()).into_owned();
        self.put_value(&name, &value).await?;
        self.forget(tenant, provider);
        Ok(())
    }

    async fn api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<ApiCredentials>> {
        let name = self.api_secret_name(tenant, provider);
        match self.stage(&name, "AWSCURRENT").await? {
            Some(s) => ApiCredentials::from_json(&String::from_utf8_lossy(s.expose())).map(Some),
            None => Ok(None),
        }
    }

    async fn put_api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
        credentials: &ApiCredentials,
    ) -> Result<()> {
        self.put_value(
            &self.api_secret_name(tenant, provider),
            &credentials.to_json(),
        )
        .await
    }

    async fn notification_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>> {
        self.stage(&self.notification_secret_name(tenant, name), "AWSCURRENT")
            .await
    }

    async fn put_notification_secret(
        &self,
        tenant: &TenantId,
        name: &str,
        secret: &Secret,
    ) -> Result<()> {
        let value = String::from_utf8_lossy(secret.expose()).into_owned();
        self.put_value(&self.notification_secret_name(tenant, name), &value)
            .await
    }
}

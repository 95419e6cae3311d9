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
use tillbridge_ports::tenants::{SecretStore, WebhookSecrets};
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
}

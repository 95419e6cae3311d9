//! Metering decorators: count what each port call will be billed for, so a function can
//! attribute its AWS usage to the tenant of each record it handles.
//!
//! Units follow AWS billing: DynamoDB on-demand read/write request units (strongly
//! consistent read = 1 RRU per 4 KB, write = 1 WRU per 1 KB, transactional ×2), SQS and
//! EventBridge requests per 64 KB chunk, S3 requests, Secrets Manager API calls and the KMS
//! requests they cause; log bytes per tenant ([`add_log_bytes`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tillbridge_domain::Secret;
use tillbridge_domain::{Envelope, Provider, TenantId};

use crate::bus::EventBus;
use crate::queue::{Message, Queue};
use crate::table::{Condition, Item, Page, Table, TxWrite};
use crate::tenants::{ApiCredentials, SecretStore, WebhookSecrets};
use crate::{BlobStore, Result};

/// Billable units of AWS services, as counted by the decorators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfraUnits {
    /// DynamoDB read request units (1 per 4 KB read, rounded up).
    pub dynamodb_rru: u64,
    /// DynamoDB write request units (1 per 1 KB written, rounded up; ×2 in transactions).
    pub dynamodb_wru: u64,
    /// SQS requests in 64 KB chunks (a send counts its receive and delete too).
    pub sqs_requests: u64,
    /// EventBridge events put, in 64 KB chunks.
    pub eventbridge_events: u64,
    /// S3 PUT-priced requests (PUT and LIST).
    pub s3_put: u64,
    /// S3 GET requests.
    pub s3_get: u64,
    /// Secrets Manager API calls.
    #[serde(default)]
    pub secrets_api_calls: u64,
    /// KMS requests the secret calls caused (customer-managed key only).
    #[serde(default)]
    pub kms_requests: u64,
}

impl InfraUnits {
    /// The counters as (attribute name, value) pairs for [`Table::add`], saturating at
    /// `i64::MAX`.
    pub fn deltas(&self) -> Vec<(&'static str, i64)> {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        vec![
            ("dynamodb_rru", i(self.dynamodb_rru)),
            ("dynamodb_wru", i(self.dynamodb_wru)),
            ("sqs_requests", i(self.sqs_requests)),
            ("eventbridge_events", i(self.eventbridge_events)),
            ("s3_put", i(self.s3_put)),
            ("s3_get", i(self.s3_get)),
            ("secrets_api_calls", i(self.secrets_api_calls)),
            ("kms_requests", i(self.kms_requests)),
        ]
    }
}

/// Shared counters the metered decorators add to; read and reset with [`Meter::take`].
#[derive(Debug, Default)]
pub struct Meter {
    rru: AtomicU64,
    wru: AtomicU64,
    sqs: AtomicU64,
    events: AtomicU64,
    put: AtomicU64,
    get: AtomicU64,
    secrets: AtomicU64,
    kms: AtomicU64,
}

fn units(bytes: usize, unit: usize) -> u64 {
    (bytes.max(1)).div_ceil(unit) as u64
}

impl Meter {
    /// Everything counted since the last call, resetting the counters.
    pub fn take(&self) -> InfraUnits {
        InfraUnits {
            dynamodb_rru: self.rru.swap(0, Ordering::Relaxed),
            dynamodb_wru: self.wru.swap(0, Ordering::Relaxed),
            sqs_requests: self.sqs.swap(0, Ordering::Relaxed),
            eventbridge_events: self.events.swap(0, Ordering::Relaxed),
            s3_put: self.put.swap(0, Ordering::Relaxed),
            s3_get: self.get.swap(0, Ordering::Relaxed),
            secrets_api_calls: self.secrets.swap(0, Ordering::Relaxed),
            kms_requests: self.kms.swap(0, Ordering::Relaxed),
        }
    }

    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// The size DynamoDB bills an item by, as the meter estimates it: key, sort key, the
/// attributes as JSON, and 24 bytes of overhead. The storage census uses the same rule.
pub fn item_bytes(i: &Item) -> usize {
    i.pk.len() + i.sk.len() + serde_json::to_vec(&i.attrs).map_or(0, |v| v.len()) + 24
}

/// A [`Table`] that counts read and write request units of each call into `meter`.
pub struct MeteredTable {
    /// The table the calls go to.
    pub inner: Arc<dyn Table>,
    /// Where the units are counted.
    pub meter: Arc<Meter>,
}

#[async_trait]
impl Table for MeteredTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        let r = self.inner.get(pk, sk).await?;
        Meter::add(
            &self.meter.rru,
            r.as_ref().map_or(1, |i| units(item_bytes(i), 4096)),
        );
        Ok(r)
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64> {
        Meter::add(&self.meter.wru, units(item_bytes(&item), 1024));
        self.inner.put(item, condition).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        Meter::add(&self.meter.wru, 1);
        self.inner.delete(pk, sk, condition).await
    }

    async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<Vec<i64>> {
        Meter::add(&self.meter.wru, 1);
        self.inner.add(pk, sk, deltas).await
    }

    async fn add_expiring(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: i64,
    ) -> Result<Vec<i64>> {
        Meter::add(&self.meter.wru, 1);
        self.inner.add_expiring(pk, sk, deltas, expires_at).await
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let page = self.inner.query(pk, prefix, start_after, limit).await?;
        let bytes: usize = page.items.iter().map(item_bytes).sum();
        Meter::add(&self.meter.rru, units(bytes, 4096));
        Ok(page)
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<()> {
        let wru: u64 = writes
            .iter()
            .map(|w| match w {
                TxWrite::Put { item, .. } => 2 * units(item_bytes(item), 1024),
                _ => 2,
            })
            .sum();
        Meter::add(&self.meter.wru, wru);
        self.inner.transact(writes).await
    }

    fn max_transaction_writes(&self) -> usize {
        self.inner.max_transaction_writes()
    }

    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>> {
        let found = self.inner.get_many(keys).await?;
        for r in &found {
            Meter::add(
                &self.meter.rru,
                r.as_ref().map_or(1, |i| units(item_bytes(i), 4096)),
            );
        }
        Ok(found)
    }
}

/// A [`BlobStore`] that counts S3 requests into `meter`.
pub struct MeteredBlobs {
    /// The store the calls go to.
    pub inner: Arc<dyn BlobStore>,
    /// Where the requests are counted.
    pub meter: Arc<Meter>,
}

#[async_trait]
impl BlobStore for MeteredBlobs {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        Meter::add(&self.meter.put, 1);
        self.inner.put(key, bytes).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Meter::add(&self.meter.get, 1);
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Meter::add(&self.meter.put, 1);
        self.inner.list(prefix).await
    }

    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        Meter::add(&self.meter.put, 1);
        self.inner.list_sized(prefix).await
    }
}

/// A [`SecretStore`] that counts Secrets Manager API calls, and the KMS requests they cause,
/// into `meter`.
///
/// Calls per port method (what [`SecretStore`]'s Secrets Manager adapter sends):
/// `webhook_secrets` 2 GetSecretValue (AWSCURRENT and AWSPREVIOUS), `rotate_webhook_secret`
/// 2 (GetSecretValue, PutSecretValue), `api_credentials` 1, `put_api_credentials` 1. The
/// adapter caches webhook secrets for five minutes, so reads are an upper bound.
///
/// KMS: Secrets Manager decrypts a secret's data key with one KMS Decrypt per
/// GetSecretValue and generates one with GenerateDataKey per PutSecretValue. Those requests
/// are billed to the account only for a customer-managed key; with the AWS-managed
/// `aws/secretsmanager` key (the template's secrets: no `KmsKeyId`) they are not counted.
/// `customer_managed_key` says which applies (`TILLBRIDGE_SECRETS_KMS_KEY` set).
pub struct MeteredSecrets {
    /// The store the calls go to.
    pub inner: Arc<dyn SecretStore>,
    /// Where the calls are counted.
    pub meter: Arc<Meter>,
    /// The secrets are encrypted with a customer-managed KMS key.
    pub customer_managed_key: bool,
}

impl MeteredSecrets {
    fn count(&self, calls: u64) {
        Meter::add(&self.meter.secrets, calls);
        if self.customer_managed_key {
            Meter::add(&self.meter.kms, calls);
        }
    }
}

#[async_trait]
impl SecretStore for MeteredSecrets {
    async fn webhook_secrets(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<WebhookSecrets>> {
        self.count(2);
        self.inner.webhook_secrets(tenant, provider).await
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        provider: Provider,
        secret: &Secret,
    ) -> Result<()> {
        self.count(2);
        self.inner
            .rotate_webhook_secret(tenant, provider, secret)
            .await
    }

    async fn api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<ApiCredentials>> {
        self.count(1);
        self.inner.api_credentials(tenant, provider).await
    }

    async fn put_api_credentials(
        &self,
        tenant: &TenantId,
        provider: Provider,
        credentials: &ApiCredentials,
    ) -> Result<()> {
        self.count(1);
        self.inner
            .put_api_credentials(tenant, provider, credentials)
            .await
    }

    async fn notification_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>> {
        self.count(1);
        self.inner.notification_secret(tenant, name).await
    }

    async fn put_notification_secret(
        &self,
        tenant: &TenantId,
        name: &str,
        secret: &Secret,
    ) -> Result<()> {
        self.count(1);
        self.inner
            .put_notification_secret(tenant, name, secret)
            .await
    }
}

/// Bytes of log lines per tenant, counted by the log setup's tenant layer and taken by
/// whoever files infrastructure usage ([`take_log_bytes`]). Process-wide: log lines are.
static LOG_BYTES: std::sync::Mutex<std::collections::BTreeMap<String, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Adds `bytes` of formatted log output to `tenant`.
pub fn add_log_bytes(tenant: &str, bytes: u64) {
    if let Ok(mut m) = LOG_BYTES.lock() {
        let v = m.entry(tenant.to_owned()).or_default();
        *v = v.saturating_add(bytes);
    }
}

/// Every tenant's log bytes since the last call, resetting them.
pub fn take_log_bytes() -> Vec<(String, u64)> {
    LOG_BYTES
        .lock()
        .map(|mut m| std::mem::take(&mut *m).into_iter().collect())
        .unwrap_or_default()
}

/// A [`Queue`] that counts SQS requests into `meter`.
pub struct MeteredQueue {
    /// The queue the calls go to.
    pub inner: Arc<dyn Queue>,
    /// Where the requests are counted.
    pub meter: Arc<Meter>,
}

#[async_trait]
impl Queue for MeteredQueue {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn send(&self, body: &str) -> Result<String> {
        // The send, and the receive and delete of the consumer, each billed per 64 KB.
        Meter::add(&self.meter.sqs, 3 * units(body.len(), 64 * 1024));
        self.inner.send(body).await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Message>> {
        self.inner.receive(max, visibility).await
    }

    async fn delete(&self, receipt: &str) -> Result<()> {
        self.inner.delete(receipt).await
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<()> {
        Meter::add(&self.meter.sqs, 1);
        self.inner.release(receipt, delay).await
    }

    async fn depth(&self) -> Result<usize> {
        self.inner.depth().await
    }
}

/// An [`EventBus`] that counts EventBridge events into `meter`.
pub struct MeteredBus {
    /// The bus the calls go to.
    pub inner: Arc<dyn EventBus>,
    /// Where the events are counted.
    pub meter: Arc<Meter>,
}

#[async_trait]
impl EventBus for MeteredBus {
    async fn put_events(&self, events: &[Envelope]) -> Result<Vec<Result<()>>> {
        let chunks: u64 = events
            .iter()
            .map(|e| units(serde_json::to_vec(e).map_or(0, |v| v.len()), 64 * 1024))
            .sum();
        Meter::add(&self.meter.events, chunks);
        self.inner.put_events(events).await
    }
}

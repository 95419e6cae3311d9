//! Signature check: verify, drop duplicates, normalize, publish; quarantine what is forged
//! or malformed. Runs on each inbound queue message.

use std::sync::Arc;

use serde_json::{Value, json};
use tillbridge_domain::Envelope;
use tillbridge_domain::event::{EventData, SCHEMA_VERSION, WebhookQuarantined, derive_event_id};
use tillbridge_ports::table::{Condition, Item, Table};
use tillbridge_ports::{
    BlobStore, Clock, EventBus, PortError, SecretStore, TenantDirectory, publish,
};
use tillbridge_webhooks::signature::VerifyOptions;
use tillbridge_webhooks::{NormalizeContext, identity, normalize, verify};
use tracing::{info, warn};

use crate::inbound::InboundDelivery;
use crate::quarantine::{self, QuarantineRecord};
use crate::{SyncError, keys};

/// Idempotency records outlive every vendor's retry window (Square 72 h, Zettle ~73 h).
pub const IDEMPOTENCY_TTL_SECS: i64 = 7 * 24 * 3600;
/// How long one worker may hold a delivery before another may take it over.
pub const IN_PROGRESS_LOCK_SECS: i64 = 60;

/// What the signature check did with one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Verified and normalized; `events` canonical events published.
    Published {
        /// How many.
        events: usize,
    },
    /// The vendor's delivery was handled before (idempotency record): nothing done.
    Duplicate,
    /// Forged, malformed or for an unknown tenant: kept with the reason, never retried.
    Quarantined {
        /// Why, for the operator.
        reason: String,
    },
    /// Verified, but an event type we do not handle: counted and acknowledged.
    Unhandled {
        /// The vendor's event name.
        vendor_event: String,
    },
}

/// An idempotency record's state (stored as `in_progress` / `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// A worker holds the delivery until `locked_until`; after that another may take over.
    InProgress,
    /// Handled; redeliveries are duplicates.
    Done,
}

/// The signature-check stage: verify with the tenant's current or previous secret, drop
/// duplicates by the vendor's delivery id, normalize, publish; quarantine what fails.
pub struct SignatureCheck {
    /// Which tenants exist.
    pub directory: Arc<dyn TenantDirectory>,
    /// The tenants' webhook secrets (current and previous).
    pub secrets: Arc<dyn SecretStore>,
    /// Claim-check bodies and quarantined bodies.
    pub blobs: Arc<dyn BlobStore>,
    /// Idempotency records, quarantine records, counters.
    pub table: Arc<dyn Table>,
    /// Where canonical events go.
    pub bus: Arc<dyn EventBus>,
    /// Now (signature time windows, lock expiry).
    pub clock: Arc<dyn Clock>,
}

impl SignatureCheck {
    /// Handles one inbound queue message.
    ///
    /// # Errors
    /// A message that is not a delivery (permanent), a claim-check body not visible yet, a lock held
    /// by another worker or a failing store or bus (retryable): the queue retries, then dead-letters.
    pub async fn handle(&self, message: &str) -> Result<CheckOutcome, SyncError> {
        let d: InboundDelivery = serde_json::from_str(message)
            .map_err(|e| SyncError::Permanent(format!("inbound message is not a delivery: {e}")))?;
        let body = d.body.load(self.blobs.as_ref()).await?;
        let outcome = self.check(&d, &body).await?;
        let counter = match &outcome {
            CheckOutcome::Published { .. } => "published",
            CheckOutcome::Duplicate => "duplicates",
            CheckOutcome::Quarantined { .. } => "quarantined",
            CheckOutcome::Unhandled { .. } => "unhandled",
        };
        tillbridge_ports::metrics::count(
            "Deliveries",
            &[
                ("provider", d.provider.as_str()),
                ("outcome", counter.trim_end_matches('s')),
            ],
            Some(d.tenant_id.as_str()),
            1,
        );
        if counter == "quarantined" {
            tillbridge_ports::metrics::count(
                "Quarantined",
                &[("provider", d.provider.as_str())],
                Some(d.tenant_id.as_str()),
                1,
            );
        }
        let (pk, sk) = keys::stats(&d.tenant_id);
        let per_provider = format!("{}.{counter}", d.provider);
        let deltas = [(counter, 1), (per_provider.as_str(), 1)];
        // Sharded by the delivery: a busy tenant's counters spread over several partitions.
        let shard_key = d.delivery_id.as_str();
        tillbridge_ports::table::add_sharded(self.table.as_ref(), &pk, sk, shard_key, &deltas)
            .await?;
        tillbridge_ports::table::add_hourly(
            self.table.as_ref(),
            &keys::stats_hourly_pk(&d.tenant_id),
            "webhooks",
            self.clock.now(),
            shard_key,
            &deltas,
        )
        .await?;
        info!(
            tenant = %d.tenant_id, provider = %d.provider, delivery_id = %d.delivery_id,
            correlation_id = %d.correlation_id, outcome = counter, "signature check done"
        );
        Ok(outcome)
    }

    async fn check(&self, d: &InboundDelivery, body: &[u8]) -> Result<CheckOutcome, SyncError> {
        let Some(tenant) = self.directory.tenant(&d.tenant_id).await? else {
            return self
                .quarantine(d, body, "tenant is no longer configured".into())
                .await;
        };
        let Some(secrets) = self
            .secrets
            .webhook_secrets(&d.tenant_id, d.provider)
            .await?
        else {
            return self
                .quarantine(
                    d,
                    body,
                    format!("no {} secret is configured for this tenant", d.provider),
                )
                .await;
        };
        // A profile vendor: its profile holds the scheme, the event meanings and the mapping.
        let profile = match d.provider.profile() {
            None => None,
            Some(name) => {
                match tillbridge_profiles::store::resolve(self.table.as_ref(), name).await {
                    Ok(Some(p)) => Some(p),
                    Ok(None) => {
                        return self
                            .quarantine(d, body, format!("no vendor profile named {name}"))
                            .await;
                    }
                    Err(tillbridge_profiles::store::StoreError::Port(e)) => return Err(e.into()),
                    Err(e) => {
                        return self
                            .quarantine(d, body, format!("vendor profile unusable: {e}"))
                            .await;
                    }
                }
            }
        };
        let url = tenant
            .providers
            .get(&d.provider)
            .and_then(|p| p.notification_url.clone());
        let opts = VerifyOptions {
            url: url.as_deref(),
            // Judge the timestamp as of receipt: a queue backlog must not expire valid requests.
            now_unix: d.received_at.unix_seconds(),
            tolerance_secs: tenant.tolerance_secs(d.provider),
        };
        let verified = match &profile {
            Some(p) => tillbridge_profiles::verify(
                p,
                &d.headers,
                body,
                &secrets.all(),
                opts.url,
                opts.now_unix,
                crate::profile_tolerance(&tenant, d.provider, p),
            )
            .map(|_| ())
            .map_err(|e| e.to_string()),
            None => verify(d.provider, &d.headers, body, &secrets.all(), &opts)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = verified {
            return self
                .quarantine(d, body, format!("signature rejected: {e}"))
                .await;
        }

        let key = match &profile {
            Some(p) => tillbridge_profiles::delivery_key(p, &d.headers, body),
            None => identity::delivery_key(d.provider, &d.headers, body),
        };
        let Some(claim) = self.claim(d, &key).await? else {
            self.step(d, "duplicate", json!({ "vendor_delivery_key": key }))
                .await;
            return Ok(CheckOutcome::Duplicate);
        };

        let ctx = NormalizeContext {
            currency: tenant.currency,
            headers: &d.headers,
            received_at: d.received_at,
        };
        let normalized = match &profile {
            Some(p) => tillbridge_profiles::normalize(p, &ctx, body),
            None => normalize(d.provider, &ctx, body),
        };
        let normalized = match normalized {
            Ok(n) => n,
            Err(e) => {
                let outcome = self
                    .quarantine(d, body, format!("payload rejected: {e}"))
                    .await;
                self.finish(&claim, "quarantined").await?;
                return outcome;
            }
        };
        if normalized.unhandled {
            // Recorded (counter + log) and acknowledged: vendors add event types all the time.
            let (pk, _) = keys::stats(&d.tenant_id);
            let sk = keys::unhandled_sk(d.provider, &safe(&normalized.vendor_event));
            self.table.add(&pk, &sk, &[("count", 1)]).await?;
            self.step(
                d,
                "unhandled",
                json!({ "vendor_delivery_key": key, "vendor_event": normalized.vendor_event }),
            )
            .await;
            self.finish(&claim, "unhandled").await?;
            return Ok(CheckOutcome::Unhandled {
                vendor_event: normalized.vendor_event,
            });
        }
        let events = normalized.into_envelopes(
            &d.tenant_id,
            d.provider,
            &key,
            d.received_at,
            &d.correlation_id,
        );
        if let Err(e) = publish(self.bus.as_ref(), &events).await {
            // Let a retry of this message start over right away.
            let _ = self
                .table
                .delete(&claim.pk, &claim.sk, Condition::IfVersion(claim.version))
                .await;
            return Err(e.into());
        }
        let published: Vec<Value> = events
            .iter()
            .map(|e| json!({ "event_id": e.event_id, "type": e.event_type().as_str(), "entity": e.entity_id }))
            .collect();
        self.step(
            d,
            "published",
            json!({ "vendor_delivery_key": key, "events": published }),
        )
        .await;
        self.finish(&claim, "published").await?;
        Ok(CheckOutcome::Published {
            events: events.len(),
        })
    }

    /// Takes the idempotency record of this vendor delivery; None when it is already done.
    async fn claim(&self, d: &InboundDelivery, key: &str) -> Result<Option<Claim>, SyncError> {
        let now = self.clock.now();
        let pk = keys::idempotency_pk(&d.tenant_id);
        let sk = keys::idempotency_sk(d.provider, key);
        let item = |state: ClaimState| {
            let mut attrs = serde_json::Map::new();
            attrs.insert("state".into(), json!(state));
            attrs.insert(
                "locked_until".into(),
                json!(now.unix_seconds() + IN_PROGRESS_LOCK_SECS),
            );
            attrs.insert("delivery_id".into(), json!(d.delivery_id));
            Item::new(pk.clone(), sk.clone(), attrs)
                .expiring_at(now.unix_seconds() + IDEMPOTENCY_TTL_SECS)
        };
        match self
            .table
            .put(item(ClaimState::InProgress), Condition::IfAbsent)
            .await
        {
            Ok(version) => return Ok(Some(Claim { pk, sk, version })),
            Err(PortError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(existing) = self.table.get(&pk, &sk).await? else {
            return Err(SyncError::Retryable(
                "idempotency record vanished; retry".into(),
            ));
        };
        let state = existing
            .attrs
            .get("state")
            .and_then(|s| serde_json::from_value::<ClaimState>(s.clone()).ok());
        if state != Some(ClaimState::InProgress) {
            return Ok(None);
        }
        let locked_until = existing
            .attrs
            .get("locked_until")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        // The claim names the request that took it. The queue handing the same request out
        // again means its earlier attempt died or lost its lease (a crash between the claim and
        // the publish): take over at once instead of waiting out the lock until the message
        // runs out of receives. A different request (a vendor retry) waits for the lock.
        let same_request = existing.attrs.get("delivery_id") == Some(&json!(d.delivery_id));
        if locked_until > now.unix_seconds() && !same_request {
            return Err(SyncError::Retryable(
                "the same delivery is being processed by another worker".into(),
            ));
        }
        // The other worker died, or this is our own redelivered message: take over.
        match self
            .table
            .put(
                item(ClaimState::InProgress),
                Condition::IfVersion(existing.version),
            )
            .await
        {
            Ok(version) => Ok(Some(Claim { pk, sk, version })),
            Err(PortError::ConditionFailed) => Err(SyncError::Retryable(
                "lost the race for a stale delivery lock".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn finish(&self, claim: &Claim, outcome: &str) -> Result<(), SyncError> {
        let Some(mut item) = self.table.get(&claim.pk, &claim.sk).await? else {
            return Ok(());
        };
        if item.version != claim.version {
            return Ok(());
        }
        item.attrs.insert("state".into(), json!(ClaimState::Done));
        item.attrs.insert("outcome".into(), json!(outcome));
        item.attrs.remove("locked_until");
        match self
            .table
            .put(item, Condition::IfVersion(claim.version))
            .await
        {
            Ok(_) | Err(PortError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn quarantine(
        &self,
        d: &InboundDelivery,
        body: &[u8],
        reason: String,
    ) -> Result<CheckOutcome, SyncError> {
        let record = QuarantineRecord {
            delivery_id: d.delivery_id.clone(),
            provider: d.provider,
            reason: reason.clone(),
            received_at: d.received_at,
            blob_key: quarantine::blob_key(&d.tenant_id, &d.delivery_id),
            headers: Some(d.headers.clone()),
        };
        quarantine::put(
            self.table.as_ref(),
            self.blobs.as_ref(),
            &d.tenant_id,
            &record,
            body,
        )
        .await?;
        let event = Envelope {
            event_id: derive_event_id(&format!("quarantine/{}", d.delivery_id), 0),
            body: EventData::WebhookQuarantined(WebhookQuarantined {
                delivery_id: d.delivery_id.clone(),
                reason: reason.clone(),
                blob_key: record.blob_key.clone(),
            }),
            schema_version: SCHEMA_VERSION,
            tenant_id: d.tenant_id.clone(),
            provider: Some(d.provider),
            entity_id: d.delivery_id.to_string(),
            occurred_at: d.received_at,
            received_at: d.received_at,
            correlation_id: d.correlation_id.clone(),
            delivery_key: None,
        };
        publish(self.bus.as_ref(), std::slice::from_ref(&event)).await?;
        self.step(d, "quarantined", json!({ "reason": reason }))
            .await;
        warn!(tenant = %d.tenant_id, provider = %d.provider, delivery_id = %d.delivery_id, correlation_id = %d.correlation_id, reason = %reason, "quarantined");
        Ok(CheckOutcome::Quarantined { reason })
    }
}

impl SignatureCheck {
    /// Records a step of the delivery's story; best effort (the outcome itself is stored).
    async fn step(&self, d: &InboundDelivery, step: &str, detail: Value) {
        let at = self.clock.now();
        if let Err(e) = crate::trail::record(
            self.table.as_ref(),
            &d.tenant_id,
            &d.delivery_id,
            at,
            step,
            detail,
        )
        .await
        {
            warn!(tenant = %d.tenant_id, delivery_id = %d.delivery_id, error = %e, step, "could not record the delivery's step");
        }
    }
}

struct Claim {
    pk: String,
    sk: String,
    version: u64,
}

/// Keeps vendor event names usable as a key part.
fn safe(name: &str) -> String {
    name.chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

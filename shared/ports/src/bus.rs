//! The event bus port (EventBridge semantics) and a local bus that routes by detail-type
//! to queues, delivering the same message shape an EventBridge → SQS target delivers.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use tillbridge_domain::Envelope;
use tillbridge_domain::event::EVENT_SOURCE;

use crate::{BlobStore, Clock, PortError, Queue, Result};

/// Events whose serialized detail is larger than this travel by claim check: the event in the
/// blob store, a pointer on the bus. EventBridge entries and SQS messages stop at 256 KiB; the
/// margin leaves room for EventBridge's own fields around the detail.
pub const MAX_INLINE_DETAIL: usize = 200 * 1024;

/// Blob-key prefix of claim-checked events (`events/<tenant>/<event id>`).
pub const CLAIM_CHECK_PREFIX: &str = "events/";

/// The pointer a claim-checked event travels as: `{"claim_check": {...}, "event_id",
/// "tenant_id", "type"}` in place of the event (the type keeps routing by detail-type working).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// The blob holding the event's JSON.
    pub blob: String,
    /// Its length in bytes.
    pub bytes: usize,
    /// Its SHA-256, hex: a consumer refuses a blob that does not match.
    pub sha256: String,
}

/// The detail to send for `event`: its JSON, or — when larger than [`MAX_INLINE_DETAIL`] and a
/// blob store is given — a [`ClaimCheck`] pointer after the JSON is stored.
///
/// # Errors
/// The blob store's errors; [`PortError::TooLarge`] when the event is too large and no blob
/// store is given.
pub async fn outgoing_detail(event: &Envelope, blobs: Option<&dyn BlobStore>) -> Result<String> {
    let detail =
        serde_json::to_string(event).map_err(|err| PortError::Permanent(err.to_string()))?;
    if detail.len() <= MAX_INLINE_DETAIL {
        return Ok(detail);
    }
    let Some(blobs) = blobs else {
        return Err(PortError::TooLarge {
            what: "event",
            limit: MAX_INLINE_DETAIL,
        });
    };
    let key = format!("{CLAIM_CHECK_PREFIX}{}/{}", event.tenant_id, event.event_id);
    blobs.put(&key, detail.as_bytes()).await?;
    let check = ClaimCheck {
        blob: key,
        bytes: detail.len(),
        sha256: sha256_hex(detail.as_bytes()),
    };
    Ok(serde_json::json!({
        "claim_check": check,
        "event_id": event.event_id,
        "tenant_id": event.tenant_id,
        "type": event.event_type().as_str(),
    })
    .to_string())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Reads a bus-fed queue message like [`parse_bus_message`], loading a claim-checked event
/// from `blobs`.
///
/// # Errors
/// [`PortError::Permanent`] for a poison message (not JSON, not an event, a claim check whose
/// blob is gone or does not match); the blob store's transient errors (retry).
pub async fn read_bus_message(body: &str, blobs: &dyn BlobStore) -> Result<Envelope> {
    let mut value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| PortError::Permanent(format!("not JSON: {e}")))?;
    let detail = match value.get_mut("detail") {
        Some(detail) => detail.take(),
        None => value,
    };
    let Some(check) = detail.get("claim_check") else {
        return serde_json::from_value(detail)
            .map_err(|e| PortError::Permanent(format!("not a canonical event: {e}")));
    };
    let check: ClaimCheck = serde_json::from_value(check.clone())
        .map_err(|e| PortError::Permanent(format!("bad claim check: {e}")))?;
    if !check.blob.starts_with(CLAIM_CHECK_PREFIX) {
        return Err(PortError::Permanent(format!(
            "claim check outside {CLAIM_CHECK_PREFIX}: {}",
            check.blob
        )));
    }
    let Some(bytes) = blobs.get(&check.blob).await? else {
        return Err(PortError::Permanent(format!(
            "claim-checked event {} is gone",
            check.blob
        )));
    };
    if bytes.len() != check.bytes || sha256_hex(&bytes) != check.sha256 {
        return Err(PortError::Permanent(format!(
            "claim-checked event {} does not match its checksum",
            check.blob
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| PortError::Permanent(format!("claim-checked event is not an event: {e}")))
}

/// Publishes canonical events (EventBridge in the cloud, [`LocalBus`] locally). The whole
/// call fails only when nothing could be attempted; per-event failures are in the result.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes events; the result has one entry per event (EventBridge reports failures
    /// per entry, and callers must resend only those).
    async fn put_events(&self, events: &[Envelope]) -> Result<Vec<Result<()>>>;
}

/// An EventBridge event as delivered to an SQS target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BusMessage {
    /// EventBridge's envelope version, always `"0"`.
    pub version: String,
    /// The bus's id of this delivery (a UUID; not the canonical event id).
    pub id: String,
    /// The canonical event type (`item.upserted`, …), what rules match on.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The event source, tillbridge's `EVENT_SOURCE`.
    pub source: String,
    /// The AWS account id (`"local"` on the local bus).
    pub account: String,
    /// When the bus accepted the event, RFC 3339 UTC.
    pub time: String,
    /// The AWS region (`"local"` on the local bus).
    pub region: String,
    /// ARNs the event is about; tillbridge sends none.
    pub resources: Vec<String>,
    /// The canonical event itself, or a [`ClaimCheck`] pointer to it.
    pub detail: serde_json::Value,
}

/// Reads a bus-fed queue message: the EventBridge shape (only `detail` is needed), or a
/// bare envelope.
///
/// # Errors
///
/// A message text when the body is not JSON or its `detail` is not a canonical
/// [`Envelope`] (a poison message: it will not parse on a retry either).
pub fn parse_bus_message(body: &str) -> std::result::Result<Envelope, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let envelope = match value.get_mut("detail") {
        Some(detail) => detail.take(),
        None => value,
    };
    serde_json::from_value(envelope).map_err(|e| format!("not a canonical event: {e}"))
}

/// A routing rule: events whose detail-type matches go to `target`.
pub struct Rule {
    /// The rule's name, for logs.
    pub name: String,
    /// Exact detail-types, or prefixes ending in `*`. Empty matches nothing.
    pub detail_types: Vec<String>,
    /// The queue matching events are sent to.
    pub target: Arc<dyn Queue>,
}

impl Rule {
    /// True when `detail_type` equals one of [`Rule::detail_types`] or starts with one of
    /// its `*` prefixes.
    pub fn matches(&self, detail_type: &str) -> bool {
        self.detail_types.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => detail_type.starts_with(prefix),
            None => p == detail_type,
        })
    }
}

/// The bus of the local runtime: rules fan events out to queues.
pub struct LocalBus {
    rules: Vec<Rule>,
    clock: Arc<dyn Clock>,
    blobs: Option<Arc<dyn BlobStore>>,
}

impl LocalBus {
    /// A bus routing by `rules` (an event goes to every matching rule's queue); `clock`
    /// stamps [`BusMessage::time`].
    pub fn new(rules: Vec<Rule>, clock: Arc<dyn Clock>) -> Self {
        Self {
            rules,
            clock,
            blobs: None,
        }
    }

    /// Sends events larger than [`MAX_INLINE_DETAIL`] by claim check through `blobs`.
    pub fn with_claim_check(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn put_events(&self, events: &[Envelope]) -> Result<Vec<Result<()>>> {
        let mut results = Vec::with_capacity(events.len());
        for e in events {
            let detail = match outgoing_detail(e, self.blobs.as_deref()).await {
                Ok(d) => d,
                Err(err) => {
                    results.push(Err(err));
                    continue;
                }
            };
            let detail: serde_json::Value = serde_json::from_str(&detail)
                .map_err(|err| PortError::Permanent(err.to_string()))?;
            let message = BusMessage {
                version: "0".into(),
                id: uuid::Uuid::now_v7().to_string(),
                detail_type: e.event_type().as_str().to_owned(),
                source: EVENT_SOURCE.into(),
                account: "local".into(),
                time: self.clock.now().to_string(),
                region: "local".into(),
                resources: Vec::new(),
                detail,
            };
            let body = serde_json::to_string(&message)
                .map_err(|err| PortError::Permanent(err.to_string()))?;
            let mut outcome = Ok(());
            for rule in self
                .rules
                .iter()
                .filter(|r| r.matches(&message.detail_type))
            {
                if let Err(err) = rule.target.send(&body).await {
                    outcome = Err(err);
                }
            }
            results.push(outcome);
        }
        Ok(results)
    }
}

/// Publishes `events`, resending only the entries the bus reported as failed (EventBridge
/// answers per entry) up to three times with a short backoff (20, 40 ms).
///
/// # Errors
/// [`PortError::Permanent`] when the bus rejects an entry for good (too large, malformed);
/// [`PortError::Transient`] when entries are still unaccepted after the last attempt, or the
/// call itself failed transiently.
pub async fn publish(bus: &dyn EventBus, events: &[Envelope]) -> Result<()> {
    let mut pending: Vec<Envelope> = events.to_vec();
    for attempt in 0..3u32 {
        if pending.is_empty() {
            return Ok(());
        }
        let results = bus.put_events(&pending).await?;
        let failed: Vec<(Envelope, PortError)> = pending
            .into_iter()
            .zip(results)
            .filter_map(|(e, r)| r.err().map(|err| (e, err)))
            .collect();
        if let Some((_, err)) = failed.iter().find(|(_, err)| !err.is_retryable()) {
            return Err(PortError::Permanent(format!(
                "event rejected by the bus: {err}"
            )));
        }
        pending = failed.into_iter().map(|(e, _)| e).collect();
        if !pending.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20 * 2_u64.pow(attempt))).await;
        }
    }
    if pending.is_empty() {
        Ok(())
    } else {
        Err(PortError::Transient(format!(
            "{} events not accepted by the bus",
            pending.len()
        )))
    }
}

#[cfg(test)]
mod claim_check_tests {
    use std::sync::Arc;

    use tillbridge_domain::event::{EventData, ItemUpserted, SCHEMA_VERSION, derive_event_id};
    use tillbridge_domain::{CatalogItem, CorrelationId, Provider, TenantId, Timestamp};

    use super::*;
    use crate::memory::{MemoryBlobStore, MemoryTable};
    use crate::{ManualClock, TableQueue};

    fn event(description_bytes: usize) -> Envelope {
        let mut item = CatalogItem::new("v1");
        item.description = Some("x".repeat(description_bytes));
        Envelope {
            event_id: derive_event_id("v1", description_bytes),
            body: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: None,
                product_variants: None,
            })),
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
            provider: Some(Provider::Shopify),
            entity_id: "v1".into(),
            occurred_at: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            correlation_id: CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            delivery_key: None,
        }
    }

    /// An event too large for a bus entry arrives whole through a claim check; a small one
    /// travels inline; without a blob store the large one is refused, never truncated; a
    /// tampered blob is a poison message.
    #[tokio::test]
    async fn large_events_travel_by_claim_check_and_arrive_whole() {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let table = Arc::new(MemoryTable::new(clock.clone()));
        let queue: Arc<dyn Queue> = Arc::new(TableQueue::new("q", table, clock.clone()));
        let blobs = Arc::new(MemoryBlobStore::default());
        let rule = |target: Arc<dyn Queue>| Rule {
            name: "all".into(),
            detail_types: vec!["pos.*".into()],
            target,
        };
        let bus =
            LocalBus::new(vec![rule(queue.clone())], clock.clone()).with_claim_check(blobs.clone());
        let (small, large) = (event(1_000), event(300 * 1024));
        publish(&bus, &[small.clone(), large.clone()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = queue
            .receive(10, std::time::Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|m| m.body.len() < MAX_INLINE_DETAIL + 4096));
        let mut read = Vec::new();
        for m in &got {
            read.push(
                read_bus_message(&m.body, blobs.as_ref())
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        assert_eq!(read, vec![small, large.clone()]);
        assert!(
            parse_bus_message(&got[1].body).is_err(),
            "a pointer is not the event"
        );

        // Tampered: the checksum no longer matches.
        let key = format!("events/t1/{}", large.event_id);
        blobs
            .put(&key, b"{}")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_bus_message(&got[1].body, blobs.as_ref()).await,
            Err(PortError::Permanent(_))
        ));

        let plain = LocalBus::new(vec![rule(queue)], clock);
        let results = plain
            .put_events(std::slice::from_ref(&large))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(results[0], Err(PortError::TooLarge { .. })));
    }
}

//! The event bus port (EventBridge semantics) and a local bus that routes by detail-type
//! to queues, delivering the same message shape an EventBridge → SQS target delivers.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use tillbridge_domain::Envelope;
use tillbridge_domain::event::EVENT_SOURCE;

use crate::{Clock, PortError, Queue, Result};

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
    /// The canonical event itself.
    pub detail: Envelope,
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
}

impl LocalBus {
    /// A bus routing by `rules` (an event goes to every matching rule's queue); `clock`
    /// stamps [`BusMessage::time`].
    pub fn new(rules: Vec<Rule>, clock: Arc<dyn Clock>) -> Self {
        Self { rules, clock }
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn put_events(&self, events: &[Envelope]) -> Result<Vec<Result<()>>> {
        let mut results = Vec::with_capacity(events.len());
        for e in events {
            let message = BusMessage {
                version: "0".into(),
                id: uuid::Uuid::now_v7().to_string(),
                detail_type: e.event_type().as_str().to_owned(),
                source: EVENT_SOURCE.into(),
                account: "local".into(),
                time: self.clock.now().to_string(),
                region: "local".into(),
                resources: Vec::new(),
                detail: e.clone(),
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

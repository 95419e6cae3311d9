//! The event bus port (EventBridge semantics) and a local bus that routes by detail-type
//! to queues, delivering the same message shape an EventBridge → SQS target delivers.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use tillbridge_domain::Envelope;
use tillbridge_domain::event::EVENT_SOURCE;

use crate::{Clock, PortError, Queue, Result};

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes events; the result has one entry per event (EventBridge reports failures
    /// per entry, and callers must resend only those).
    async fn put_events(&self, events: &[Envelope]) -> Result<Vec<Result<()>>>;
}

/// An EventBridge event as delivered to an SQS target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BusMessage {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub time: String,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Envelope,
}

/// Reads a bus-fed queue message: the EventBridge shape (only `detail` is needed), or a
/// bare envelope.
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
    pub name: String,
    /// Exact detail-types, or prefixes ending in `*`. Empty matches nothing.
    pub detail_types: Vec<String>,
    pub target: Arc<dyn Queue>,
}

impl Rule {
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

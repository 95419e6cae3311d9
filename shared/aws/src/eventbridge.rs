//! The event bus port on EventBridge: PutEvents in batches of at most 10 entries and
//! 256 KB, with a result per entry so callers resend only what failed.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use tillbridge_domain::Envelope;
use tillbridge_domain::event::EVENT_SOURCE;
use tillbridge_ports::bus::{EventBus, outgoing_detail};
use tillbridge_ports::{BlobStore, PortError, Result};

use crate::error::classify;

const MAX_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Entry error codes worth retrying.
const RETRYABLE: [&str; 3] = [
    "InternalFailure",
    "ThrottlingException",
    "InternalException",
];

/// The bus port on EventBridge: entries of at most 256 KB in batches of at most 10, with
/// per-entry results.
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
    blobs: Option<std::sync::Arc<dyn BlobStore>>,
}

impl EventBridgeBus {
    /// The bus `bus_name` through `client`.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
            blobs: None,
        }
    }

    /// Sends events larger than [`tillbridge_ports::bus::MAX_INLINE_DETAIL`] by claim check: the event stored in
    /// `blobs` (S3), a pointer on the bus.
    pub fn with_claim_check(mut self, blobs: std::sync::Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }
}

/// EventBridge's size of an entry: detail-type, detail, source, resources, time.
fn entry_size(detail_type: &str, detail: &str) -> usize {
    detail_type.len() + detail.len() + EVENT_SOURCE.len() + 14
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn put_events(&self, events: &[Envelope]) -> Result<Vec<Result<()>>> {
        let mut results: Vec<Result<()>> = Vec::with_capacity(events.len());
        let mut batch: Vec<PutEventsRequestEntry> = Vec::new();
        let mut batch_bytes = 0;
        for (i, e) in events.iter().enumerate() {
            let detail_type = e.event_type().as_str();
            let detail = match outgoing_detail(e, self.blobs.as_deref()).await {
                Ok(d) => d,
                Err(err) => {
                    // Never sendable inline, or the claim check failed: this entry only.
                    self.flush(&mut batch, &mut results).await?;
                    batch_bytes = 0;
                    results.push(Err(err));
                    continue;
                }
            };
            let size = entry_size(detail_type, &detail);
            if batch.len() == MAX_ENTRIES || batch_bytes + size > MAX_BATCH_BYTES {
                self.flush(&mut batch, &mut results).await?;
                batch_bytes = 0;
            }
            batch.push(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(EVENT_SOURCE)
                    .detail_type(detail_type)
                    .detail(detail)
                    .resources(format!("tillbridge:tenant/{}", e.tenant_id))
                    .build(),
            );
            batch_bytes += size;
            debug_assert_eq!(results.len() + batch.len(), i + 1);
        }
        self.flush(&mut batch, &mut results).await?;
        Ok(results)
    }
}

impl EventBridgeBus {
    async fn flush(
        &self,
        batch: &mut Vec<PutEventsRequestEntry>,
        results: &mut Vec<Result<()>>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(batch);
        let n = entries.len();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("EventBridge PutEvents", e))?;
        let reported = out.entries();
        for i in 0..n {
            // Every entry gets a result; a missing one is treated as a retryable failure.
            let r = match reported.get(i) {
                Some(entry) => match entry.error_code() {
                    None => Ok(()),
                    Some(code) if RETRYABLE.contains(&code) => {
                        Err(PortError::Transient(format!("EventBridge entry: {code}")))
                    }
                    Some(code) => Err(PortError::Permanent(format!(
                        "EventBridge entry: {code}: {}",
                        entry.error_message().unwrap_or("")
                    ))),
                },
                None => Err(PortError::Transient(
                    "EventBridge returned fewer entries than sent".into(),
                )),
            };
            results.push(r);
        }
        Ok(())
    }
}

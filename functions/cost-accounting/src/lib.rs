//! cost-accounting: `ai.usage.recorded` events (EventBridge → SQS) priced exactly into the
//! tenant's ledger and aggregates, once per request id; budget thresholds announced once.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tillbridge_accounting as accounting;
use tillbridge_accounting::metering::Metering;
use tillbridge_accounting::prices::Prices;
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_ports::bus::read_bus_message;
use tillbridge_ports::{BlobStore, EventBus, Table};
use tracing::info;

/// What invoked the function: an SQS batch of usage events, or the daily schedule.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    /// `{"action": "storage-census"}` from EventBridge Scheduler (first: an SQS event's
    /// fields all have defaults, so it would match any object).
    Schedule {
        /// Always `storage-census`.
        action: String,
    },
    /// Usage events.
    Queue(SqsEvent),
}

/// The storage census of every tenant (items, blobs, secrets → byte-hours since the last
/// census, filed as infrastructure usage). A tenant whose census fails is logged and the
/// others go on; the count of tenants done is returned.
pub async fn storage_census(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    secrets: &dyn tillbridge_ports::SecretStore,
    directory: &dyn tillbridge_ports::TenantDirectory,
    at: tillbridge_domain::Timestamp,
) -> Result<usize, accounting::AccountingError> {
    let tenants = directory.tenant_ids().await?;
    let mut done = 0;
    for r in accounting::census::census_all(table, blobs, secrets, &tenants, at).await {
        match r {
            Ok(line) => {
                done += 1;
                info!(tenant = %line.tenant_id, table_bytes = line.stored.table_bytes, blob_bytes = line.stored.blob_bytes, secrets = line.stored.secrets, interval_secs = line.interval_secs, "storage census");
            }
            Err((tenant, e)) => {
                tracing::warn!(tenant = %tenant, error = %e, "storage census failed");
            }
        }
    }
    Ok(done)
}

pub async fn handle(
    table: &dyn Table,
    bus: &dyn EventBus,
    blobs: &dyn BlobStore,
    prices: &Prices,
    metering: Option<&Metering>,
    event: SqsEvent,
) -> SqsBatchResponse {
    for_each_record(event, metering, |body| async move {
        match read_bus_message(&body, blobs).await {
            Ok(envelope) => {
                let result = match prices.book().await {
                    Ok(book) => accounting::record_usage(table, bus, &book, &envelope).await.map(|outcome| {
                        info!(tenant = %envelope.tenant_id, event_id = %envelope.event_id, correlation_id = %envelope.correlation_id, outcome = ?outcome, "usage recorded");
                    }),
                    Err(e) => Err(e),
                };
                Handled { tenant: Some(envelope.tenant_id), result }
            }
            Err(e) => Handled { tenant: None, result: Err(e.into()) },
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lambda_events::sqs::SqsMessage;
    use tillbridge_costs::PriceBook;
    use tillbridge_domain::event::UsageRecorded;
    use tillbridge_domain::{CorrelationId, TenantId, Timestamp};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::bus::{LocalBus, parse_bus_message};
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    #[tokio::test]
    async fn the_schedule_runs_the_storage_census_of_every_tenant() {
        use tillbridge_ports::BlobStore;
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let table = Arc::new(MemoryTable::new(clock));
        let blobs = tillbridge_ports::memory::MemoryBlobStore::default();
        blobs
            .put("exports/t1/a.csv", &[0u8; 2048])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tillbridge_ports::tenants::StaticDirectory::from_json(
            r#"{"tenants": [{"tenant_id": "t1", "currency": "USD", "providers": {}}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let at = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
        let done = storage_census(table.as_ref(), &blobs, &dir, &dir, at)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done, 1);
        let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let usage = accounting::infra_usage(table.as_ref(), &tenant, "2026-03")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(usage.s3_byte_hours, 2048 * 24);
        let schedule: Invocation = serde_json::from_str(r#"{"action": "storage-census"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(schedule, Invocation::Schedule { action } if action == "storage-census"));
        let queue: Invocation =
            serde_json::from_str(r#"{"Records": []}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(queue, Invocation::Queue(_)));
    }

    #[tokio::test]
    async fn usage_events_are_priced_once_and_garbage_fails() {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let table = Arc::new(MemoryTable::new(clock.clone()));
        let bus = LocalBus::new(Vec::new(), clock);
        let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let at = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
        let usage = UsageRecorded {
            request_id: "r1".into(),
            migration_id: None,
            operation: "mapping.suggest".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input_tokens: 1_000_000,
            output_tokens: 0,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
        };
        let envelope = accounting::usage_event(
            &tenant,
            usage,
            at,
            &CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
        );
        let body = serde_json::json!({ "version": "0", "detail-type": "ai.usage.recorded", "source": "tillbridge", "detail": envelope }).to_string();
        assert!(parse_bus_message(&body).is_ok());
        let record = |id: &str, body: &str| {
            let mut m = SqsMessage::default();
            m.message_id = Some(id.into());
            m.body = Some(body.into());
            m
        };
        let mut event = SqsEvent::default();
        event.records = vec![record("a", &body), record("b", &body), record("c", "nope")];
        let prices = Prices::new(Arc::new(PriceBook::bundled()), table.clone());
        let blobs = tillbridge_ports::memory::MemoryBlobStore::default();
        let r = handle(table.as_ref(), &bus, &blobs, &prices, None, event).await;
        assert_eq!(
            r.batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect::<Vec<_>>(),
            ["c"]
        );
        // 1 M input tokens of gpt-4o at $2.50/MTok, counted once.
        let spent = accounting::spent(table.as_ref(), &PriceBook::bundled(), &tenant, "2026-03")
            .await
            .unwrap_or_default();
        assert_eq!(tillbridge_costs::format_fixed(spent, 6), "2.500000");
    }
}

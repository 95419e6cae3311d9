//! validate: canonical catalog events from the bus (via SQS) applied to the tenant's catalog
//! with version checks — the newest vendor version wins, duplicates and stale updates are
//! no-ops. The validation rules gate (pricing, duplicates, modifiers) sits in front of the
//! apply step once the validation crate lands; until then every well-formed event applies.

use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tillbridge_pipeline::metering::Metering;
use tillbridge_pipeline::{PipelineError, catalog};
use tillbridge_ports::Table;
use tillbridge_ports::bus::parse_bus_message;
use tracing::{info, warn};

pub async fn handle(
    table: &dyn Table,
    metering: Option<&Metering>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let started = Instant::now();
        if let Some(m) = metering {
            m.meter.take();
        }
        let id = record.message_id.clone().unwrap_or_default();
        let parsed = record.body.as_deref().map(parse_bus_message);
        let tenant = parsed
            .as_ref()
            .and_then(|p| p.as_ref().ok())
            .map(|e| e.tenant_id.clone());
        let result = match parsed {
            Some(Ok(envelope)) => catalog::apply_and_count(table, &envelope).await.map(|outcome| {
                info!(
                    tenant = %envelope.tenant_id, event_id = %envelope.event_id, correlation_id = %envelope.correlation_id,
                    event_type = envelope.event_type().as_str(), outcome = outcome.as_str(), "applied"
                );
            }),
            Some(Err(e)) => Err(PipelineError::Permanent(e)),
            None => Err(PipelineError::Permanent("record without a body".into())),
        };
        if let Err(e) = result {
            warn!(message_id = %id, error = %e, "event failed; SQS will retry it");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
        if let Some(m) = metering {
            m.record(tenant.as_ref(), started, false).await;
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_domain::{TenantId, Timestamp};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    fn event() -> SqsEvent {
        let path = format!(
            "{}/../../events/lambda/sqs-catalog.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn an_eventbridge_event_from_sqs_lands_in_the_catalog_once() {
        let table = MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
        let r = handle(&table, None, event()).await;
        assert!(r.batch_item_failures.is_empty());
        let tenant = TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}"));
        let item = catalog::get_item(&table, &tenant, "123456789")
            .await
            .ok()
            .flatten();
        assert_eq!(item.and_then(|i| i.price_minor), Some(2999));
        let again = handle(&table, None, event()).await;
        assert!(again.batch_item_failures.is_empty());
        let stats = table
            .get("stats#demo-cafe", "catalog")
            .await
            .ok()
            .flatten()
            .map(|i| i.attrs)
            .unwrap_or_default();
        assert_eq!(
            (
                stats.get("applied").and_then(|v| v.as_i64()),
                stats.get("duplicate").and_then(|v| v.as_i64())
            ),
            (Some(1), Some(1))
        );
    }

    #[tokio::test]
    async fn garbage_records_are_reported_as_failures() {
        let table = MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
        let mut e = event();
        e.records[0].body = Some("{\"detail\": {\"type\": \"pos.catalog.item.upserted\"}}".into());
        let r = handle(&table, None, e).await;
        assert_eq!(r.batch_item_failures.len(), 1);
    }
}

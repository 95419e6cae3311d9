//! mapping-suggest: `migration.requested` (EventBridge → SQS) → suggestions for the export,
//! stored for review with their audit entry → `migration.mapping.suggested`.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tillbridge_accounting::metering::Metering;
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_migration as migration;
use tillbridge_migration::suggest::Refine;
use tillbridge_ports::bus::read_bus_message;
use tillbridge_ports::{BlobStore, EventBus, Table};
use tracing::info;

pub struct Deps {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    pub bus: Arc<dyn EventBus>,
    /// The LLM tier, when configured.
    pub refiner: Option<Arc<dyn Refine>>,
}

pub async fn handle(deps: &Deps, metering: Option<&Metering>, event: SqsEvent) -> SqsBatchResponse {
    for_each_record(event, metering, |body| async move {
        match read_bus_message(&body, deps.blobs.as_ref()).await {
            Ok(envelope) => {
                let result = migration::suggest(deps.table.as_ref(), deps.blobs.as_ref(), deps.bus.as_ref(), deps.refiner.as_deref(), &envelope).await.map(|s| {
                    if let Some(s) = s {
                        info!(tenant = %envelope.tenant_id, correlation_id = %envelope.correlation_id, migration = %s.migration_id, fields = s.fields, mapped = s.mapped, "mapping suggested");
                    }
                });
                Handled { tenant: Some(envelope.tenant_id), result }
            }
            Err(e) => Handled { tenant: None, result: Err(e.into()) },
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sqs::SqsMessage;
    use tillbridge_domain::event::{
        EventData, MigrationRequested, SCHEMA_VERSION, derive_event_id,
    };
    use tillbridge_domain::{CorrelationId, Envelope, TenantId, Timestamp};
    use tillbridge_migration::review as mapping_review;
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable, RecordingBus};

    use super::*;

    #[tokio::test]
    async fn a_requested_migration_gets_suggestions_for_review() {
        let bus = Arc::new(RecordingBus::default());
        let deps = Deps {
            table: Arc::new(MemoryTable::new(Arc::new(ManualClock::new(
                Timestamp::UNIX_EPOCH,
            )))),
            blobs: Arc::new(MemoryBlobStore::default()),
            bus: bus.clone(),
            refiner: None,
        };
        deps.blobs
            .put(
                "exports/t1/m1/items.csv",
                b"Item Name,Retail Price,UPC,Notes\nLatte,4.50,036000291452,hot\n",
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let request = Envelope {
            event_id: derive_event_id("m1", 0),
            body: EventData::MigrationRequested(MigrationRequested {
                migration_id: "m1".into(),
                source_name: "lightspeed".into(),
                export_key: "exports/t1/m1/items.csv".into(),
            }),
            schema_version: SCHEMA_VERSION,
            tenant_id: tenant.clone(),
            provider: None,
            entity_id: "m1".into(),
            occurred_at: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            correlation_id: CorrelationId::parse("m1").unwrap_or_else(|e| panic!("{e}")),
            delivery_key: None,
        };
        let mut ok = SqsMessage::default();
        ok.message_id = Some("a".into());
        ok.body = Some(
            serde_json::json!({ "detail-type": "migration.requested", "detail": request })
                .to_string(),
        );
        let mut bad = SqsMessage::default();
        bad.message_id = Some("b".into());
        bad.body = Some("{}".into());
        let mut event = SqsEvent::default();
        event.records = vec![ok, bad];
        let r = handle(&deps, None, event).await;
        assert_eq!(
            r.batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
        let decisions = mapping_review::decisions(deps.table.as_ref(), &tenant, "m1")
            .await
            .unwrap_or_default();
        assert_eq!(decisions.len(), 4);
        assert!(
            decisions
                .iter()
                .any(|d| d.source == "Retail Price" && d.target.as_deref() == Some("price_minor"))
        );
        let published = bus.published();
        assert!(
            matches!(&published[0].body, EventData::MigrationMappingSuggested(s) if s.fields == 4 && s.mapped == 3)
        );
    }
}

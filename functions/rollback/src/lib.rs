//! rollback: `migration.rollback.requested` (EventBridge → SQS) → the migration's journal
//! undone in checkpointed batches (created items removed, changed items restored, records
//! changed since by someone else kept and listed), verified against the pre-migration
//! snapshot → rollback report in S3 → `migration.rolled_back`. Hands over to a fresh
//! invocation before the deadline; a redelivery resumes from the cursor.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tillbridge_accounting::metering::Metering;
use tillbridge_domain::event::EventData;
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_migration::{self as migration, MigrationError};
use tillbridge_ports::bus::read_bus_message;
use tillbridge_ports::{BlobStore, EventBus, Table};

pub struct Deps {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    pub bus: Arc<dyn EventBus>,
    /// Writers of migrations' destinations (None: such a migration fails with a reason).
    pub destinations: Option<Arc<dyn migration::destination::Destinations>>,
}

pub async fn handle(
    deps: &Deps,
    metering: Option<&Metering>,
    event: SqsEvent,
    stop: &(dyn Fn() -> bool + Sync),
) -> SqsBatchResponse {
    for_each_record(event, metering, |body| async move {
        match read_bus_message(&body, deps.blobs.as_ref()).await {
            Ok(envelope) if matches!(envelope.body, EventData::MigrationRollbackRequested(_)) => {
                Handled {
                    tenant: Some(envelope.tenant_id.clone()),
                    result: migration::handle_with(
                        deps.table.as_ref(),
                        deps.blobs.as_ref(),
                        deps.bus.as_ref(),
                        deps.destinations.as_deref(),
                        &envelope,
                        stop,
                    )
                    .await,
                }
            }
            Ok(other) => Handled {
                tenant: Some(other.tenant_id.clone()),
                result: Err(MigrationError::Permanent(format!(
                    "{} is not a rollback request",
                    other.event_type().as_str()
                ))),
            },
            Err(e) => Handled {
                tenant: None,
                result: Err(e.into()),
            },
        }
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_lambda_events::sqs::SqsMessage;
    use tillbridge_domain::event::EventType;
    use tillbridge_domain::{CorrelationId, Currency, TenantId, Timestamp};
    use tillbridge_local::LocalRuntime;
    use tillbridge_migration::{ExportSource, StartRequest, Status};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable, RecordingBus};
    use tillbridge_ports::tenants::StaticDirectory;

    use super::*;

    fn sqs(bodies: &[String]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for (i, b) in bodies.iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(b.clone());
            event.records.push(m);
        }
        event
    }

    #[tokio::test]
    async fn a_rollback_request_from_sqs_undoes_the_migration_once() {
        let at = Timestamp::parse_rfc3339("2026-05-01T00:00:00Z").unwrap();
        let clock = Arc::new(ManualClock::new(at));
        let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
        let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobStore::default());
        let rt = LocalRuntime::new(
            table.clone(),
            blobs.clone(),
            Arc::new(StaticDirectory::from_json(r#"{"tenants":[]}"#).unwrap()),
            clock,
        );
        let tenant = TenantId::parse("t1").unwrap();
        let export = br#"[{"id":"a1","name":"Latte","price":"4.50"},{"id":"a2","name":"Mocha","price":"5.00"}]"#;
        let m = migration::start(
            table.as_ref(),
            blobs.as_ref(),
            rt.bus.as_ref(),
            StartRequest {
                tenant: &tenant,
                currency: Currency::USD,
                country: None,
                source_name: "square",
                export: ExportSource::Upload {
                    bytes: export,
                    csv: false,
                },
                requested_by: "ops",
                idempotency_key: Some("k1"),
                correlation_id: CorrelationId::parse("c1").unwrap(),
                at,
                destination: None,
                retry_of: None,
            },
        )
        .await
        .unwrap();
        rt.drain().await.unwrap();
        migration::approve(table.as_ref(), rt.bus.as_ref(), &m.id, "ops", at)
            .await
            .unwrap();
        rt.drain().await.unwrap();
        assert_eq!(
            migration::load(table.as_ref(), &m.id)
                .await
                .unwrap()
                .unwrap()
                .0
                .status,
            Status::Completed
        );
        assert!(
            tillbridge_catalog::get_item(table.as_ref(), &tenant, "a1")
                .await
                .unwrap()
                .is_some()
        );

        // The request goes to a recording bus: this test delivers it as SQS would.
        let requests = RecordingBus::default();
        migration::request_rollback(table.as_ref(), &requests, &m.id, "ops", at)
            .await
            .unwrap();
        let published = requests.published();
        assert_eq!(
            published[0].event_type(),
            EventType::MigrationRollbackRequested
        );
        let body = serde_json::json!({
            "detail-type": "migration.rollback.requested",
            "source": "tillbridge",
            "detail": published[0],
        })
        .to_string();
        let done = RecordingBus::default();
        let deps = Deps {
            table: table.clone(),
            blobs,
            bus: Arc::new(done),
            destinations: None,
        };
        let r = handle(
            &deps,
            None,
            sqs(&[body.clone(), "not json".into()]),
            &|| false,
        )
        .await;
        assert_eq!(r.batch_item_failures.len(), 1, "only the garbage fails");
        assert_eq!(r.batch_item_failures[0].item_identifier, "m1");
        let state = migration::load(table.as_ref(), &m.id)
            .await
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(state.status, Status::RolledBack);
        assert_eq!(state.progress.removed, 2);
        assert!(
            tillbridge_catalog::get_item(table.as_ref(), &tenant, "a1")
                .await
                .unwrap()
                .is_none()
        );
        // Redelivered: nothing to do, no failure.
        let again = handle(&deps, None, sqs(&[body]), &|| false).await;
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(
            migration::load(table.as_ref(), &m.id)
                .await
                .unwrap()
                .unwrap()
                .0
                .progress
                .removed,
            2
        );
    }
}

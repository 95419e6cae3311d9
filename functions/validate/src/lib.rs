//! validate: events from the bus (via SQS).
//! - catalog events from webhooks pass the validation gate and are applied with version
//!   checks (newest vendor version wins; failing updates are kept with their findings);
//! - `migration.validation.requested` validates a migration batch: report to the blob
//!   store, summary in the table, `migration.validated` on the bus;
//! - `migration.mapping.approved` validates a migration's export through its approved
//!   mapping, and `migration.apply.requested` snapshots the catalog and applies it in
//!   checkpointed batches, handing over to a fresh invocation before the deadline.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tillbridge_accounting::metering::Metering;
use tillbridge_catalog as catalog;
use tillbridge_domain::Envelope;
use tillbridge_domain::event::EventData;
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_migration::{self as migration, MigrationError, validation as batch_validation};
use tillbridge_ports::bus::read_bus_message;
use tillbridge_ports::{BlobStore, EventBus, Table};
use tracing::info;

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
            Ok(envelope) => Handled {
                tenant: Some(envelope.tenant_id.clone()),
                result: process(deps, &envelope, stop).await,
            },
            Err(e) => Handled {
                tenant: None,
                result: Err(e.into()),
            },
        }
    })
    .await
}

async fn process(
    deps: &Deps,
    envelope: &Envelope,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    if matches!(
        envelope.body,
        EventData::MigrationMappingApproved(_) | EventData::MigrationApplyRequested(_)
    ) {
        migration::handle_with(
            deps.table.as_ref(),
            deps.blobs.as_ref(),
            deps.bus.as_ref(),
            deps.destinations.as_deref(),
            envelope,
            stop,
        )
        .await?;
        // A migration that completed lets the changes that waited for it flow.
        flow_cutover(deps, envelope).await;
        return Ok(());
    }
    if matches!(envelope.body, EventData::MigrationCutoverRequested(_)) {
        // A vendor pull changed a catalog in cutover: failures stay marked, so retry the event.
        return migration::destination::flow(
            deps.table.as_ref(),
            deps.destinations.as_deref(),
            &envelope.tenant_id,
            envelope.received_at,
        )
        .await
        .map(|_| ());
    }
    if matches!(envelope.body, EventData::MigrationValidationRequested(_)) {
        let report = batch_validation::validate_batch(
            deps.table.as_ref(),
            deps.blobs.as_ref(),
            deps.bus.as_ref(),
            envelope,
        )
        .await?;
        info!(tenant = %envelope.tenant_id, correlation_id = %envelope.correlation_id, items = report.summary.items, errors = report.summary.errors, "migration batch validated");
    } else if matches!(envelope.body, EventData::PrivacyRequested(_)) {
        // A vendor's compliance webhook: erase, or export for the merchant.
        tillbridge_migration::privacy::handle(deps.table.as_ref(), deps.blobs.as_ref(), envelope)
            .await?;
    } else {
        // The catalog logs and counts each outcome. A change marked for a migration's
        // cutover flows to its destination on the migration queue, not in this batch: a slow
        // vendor must not hold up the catalog.
        let (_, marked) = catalog::apply_and_mark(deps.table.as_ref(), envelope).await?;
        if marked {
            let request = catalog::watch::cutover_request(
                envelope,
                catalog::namespace(envelope),
                envelope.received_at,
            );
            if let Err(e) = tillbridge_ports::publish(deps.bus.as_ref(), &[request]).await {
                // The mark stays; flow it here rather than leave it to the next change.
                tracing::warn!(tenant = %envelope.tenant_id, correlation_id = %envelope.correlation_id, error = %e, "cannot ask for the cutover flow; flowing now");
                flow_cutover(deps, envelope).await;
            }
        }
    }
    Ok(())
}

/// Flows a tenant's cutover (source changes on to a migration's destination) after a change;
/// a failure is logged and leaves the changes marked for the next flow (the catalog event
/// itself is applied and acknowledged).
async fn flow_cutover(deps: &Deps, envelope: &Envelope) {
    if let Err(e) = migration::destination::flow(
        deps.table.as_ref(),
        deps.destinations.as_deref(),
        &envelope.tenant_id,
        envelope.received_at,
    )
    .await
    {
        tracing::warn!(tenant = %envelope.tenant_id, correlation_id = %envelope.correlation_id, error = %e, "cutover flow failed; the changes stay marked");
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sqs::SqsMessage;
    use tillbridge_domain::event::{SCHEMA_VERSION, ValidationRequested, derive_event_id};
    use tillbridge_domain::{CorrelationId, Envelope, TenantId, Timestamp};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable, RecordingBus};

    use super::*;

    fn deps() -> (Deps, Arc<RecordingBus>) {
        let bus = Arc::new(RecordingBus::default());
        let table = Arc::new(MemoryTable::new(Arc::new(ManualClock::new(
            Timestamp::UNIX_EPOCH,
        ))));
        (
            Deps {
                table,
                blobs: Arc::new(MemoryBlobStore::default()),
                bus: bus.clone(),
                destinations: None,
            },
            bus,
        )
    }

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
        let (d, _) = deps();
        let r = handle(&d, None, event(), &|| false).await;
        assert!(r.batch_item_failures.is_empty());
        let tenant = TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}"));
        let item = catalog::get_item(d.table.as_ref(), &tenant, "123456789")
            .await
            .ok()
            .flatten();
        assert_eq!(item.and_then(|i| i.price_minor), Some(2999));
        let again = handle(&d, None, event(), &|| false).await;
        assert!(again.batch_item_failures.is_empty());
        let stats =
            tillbridge_ports::table::sum_sharded(d.table.as_ref(), "stats#demo-cafe", "catalog")
                .await
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
        let (d, _) = deps();
        let mut e = event();
        e.records[0].body = Some("{\"detail\": {\"type\": \"pos.catalog.item.upserted\"}}".into());
        let r = handle(&d, None, e, &|| false).await;
        assert_eq!(r.batch_item_failures.len(), 1);
    }

    #[tokio::test]
    async fn a_migration_batch_gets_a_report_a_summary_and_an_event() {
        let (d, bus) = deps();
        let items = std::fs::read(format!(
            "{}/../../samples/catalog/cafe.jsonl",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap_or_default();
        let mut bad = items.clone();
        bad.extend_from_slice(b"{\"external_id\":\"x\",\"name\":\"Latte\",\"category\":\"Coffee\",\"price_minor\":50000,\"currency\":\"USD\",\"sku\":\"PDX-001\"}\n");
        d.blobs
            .put("migrations/demo-cafe/m1/items.jsonl", &bad)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let tenant = TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}"));
        let request = Envelope {
            event_id: derive_event_id("m1-validate", 0),
            body: EventData::MigrationValidationRequested(ValidationRequested {
                migration_id: "m1".into(),
                items_key: "migrations/demo-cafe/m1/items.jsonl".into(),
                country: Some("US".into()),
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
        let mut message = SqsMessage::default();
        message.message_id = Some("m".into());
        message.body = Some(serde_json::json!({ "detail-type": "migration.validation.requested", "detail": request }).to_string());
        let mut e = SqsEvent::default();
        e.records = vec![message];
        let r = handle(&d, None, e, &|| false).await;
        assert!(
            r.batch_item_failures.is_empty(),
            "{:?}",
            r.batch_item_failures
        );
        let published = bus.published();
        let EventData::MigrationValidated(v) = &published[0].body else {
            panic!("{published:?}")
        };
        assert!(!v.passed);
        assert_eq!(
            (v.items, v.errors),
            (44, 2),
            "the added line repeats a SKU and is priced 100× a latte"
        );
        let report = d
            .blobs
            .get(&v.report_key)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        assert!(String::from_utf8_lossy(&report).contains("price.unit_error"));
        assert!(
            d.table
                .get("migration#demo-cafe", "m1#validation")
                .await
                .ok()
                .flatten()
                .is_some()
        );
    }
}

use std::sync::Arc;

use tillbridge_accounting::infra_usage;
use tillbridge_domain::{TenantId, Timestamp};
use tillbridge_ports::bus::{LocalBus, Rule};
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable};
use tillbridge_ports::meter::{Meter, MeteredTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{ManualClock, Queue, TableQueue};

use super::*;

fn event(name: &str) -> SqsEvent {
    let path = format!("{}/../../events/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn a_batch_reports_only_the_failed_record_and_meters_the_tenant() {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2025-04-22T19:30:00Z").unwrap_or(Timestamp::UNIX_EPOCH),
    ));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let tenants = std::fs::read_to_string(format!(
        "{}/../../samples/tenants.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default();
    let dir = Arc::new(StaticDirectory::from_json(&tenants).unwrap_or_else(|e| panic!("{e}")));
    let catalog: Arc<dyn Queue> =
        Arc::new(TableQueue::new("catalog", table.clone(), clock.clone()));
    let bus = Arc::new(LocalBus::new(
        vec![Rule {
            name: "r".into(),
            detail_types: vec!["pos.*".into()],
            target: catalog.clone(),
        }],
        clock.clone(),
    ));
    let meter = Arc::new(Meter::default());
    let metered = Arc::new(MeteredTable {
        inner: table.clone(),
        meter: meter.clone(),
    });
    let check = SignatureCheck {
        directory: dir.clone(),
        secrets: dir,
        blobs: Arc::new(MemoryBlobStore::default()),
        table: metered,
        bus,
        clock: clock.clone(),
    };
    let metering = Metering {
        meter,
        table: table.clone(),
        clock,
        function: "signature-check",
        memory_mb: 256,
    };

    let response = handle(&check, Some(&metering), event("sqs-inbound.json")).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["2e1424d4-f796-459a-8184-9c92662be6da"],
        "only the malformed record fails"
    );
    assert_eq!(
        catalog.depth().await.ok(),
        Some(1),
        "the valid delivery published its event"
    );
    // Redelivery of the same batch: the good record is a duplicate now, still not a failure.
    let again = handle(&check, Some(&metering), event("sqs-inbound.json")).await;
    assert_eq!(again.batch_item_failures.len(), 1);
    assert_eq!(catalog.depth().await.ok(), Some(1));
    // Both handlings of demo-cafe's delivery were metered; the garbage record has no tenant.
    let tenant = TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}"));
    let infra = infra_usage(table.as_ref(), &tenant, "2025-04")
        .await
        .unwrap_or_default();
    assert_eq!(infra.lambda_requests, 2);
    assert!(infra.lambda_mb_ms >= 2 * 256);
    assert!(
        infra.dynamodb_wru > 0 && infra.dynamodb_rru > 0,
        "{infra:?}"
    );
}

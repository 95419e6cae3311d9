#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use aws_lambda_events::sqs::SqsMessage;
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_domain::Timestamp;
use tillbridge_ports::memory::MemoryBlobStore;
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{Clock, ManualClock};

use super::*;

fn at(day: u32) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2026-03-{day:02}T10:00:00Z")).unwrap()
}

fn fetcher(base_url: &str, clock: Arc<ManualClock>) -> Fetcher {
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"square":{{"secret":"s","notification_url":"https://x/sq","api":{{"base_url":"{base_url}","access_token":"tok"}}}},"shopify":{{"secret":"x"}}}}}},{{"tenant_id":"t2","currency":"USD","providers":{{}}}}]}}"#
    );
    Fetcher::in_memory(
        Arc::new(StaticDirectory::from_json(&tenants).unwrap()),
        clock,
    )
}

fn notification(n: usize, at: Timestamp) -> String {
    let e = Envelope {
        event_id: derive_event_id("thin", n),
        entity_id: "catalog".into(),
        body: EventData::FetchRequested(FetchRequested {
            object_type: "catalog".into(),
            object_id: None,
            change: Change::Updated,
            vendor_event: "catalog.version.updated".into(),
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: TenantId::parse("t1").unwrap(),
        provider: Some(Provider::Square),
        occurred_at: at,
        received_at: at,
        correlation_id: CorrelationId::parse("c").unwrap(),
        delivery_key: None,
    };
    serde_json::json!({ "version": "0", "detail-type": "pos.fetch.requested", "source": "tillbridge", "detail": e }).to_string()
}

/// A batch of notifications from SQS pulls once and applies; a poison record alone fails;
/// the schedule syncs every tenant's vendor that has API credentials.
#[tokio::test]
async fn notifications_from_sqs_and_the_schedule_pull_and_apply() {
    let fake = FakeSquare::start("tok", Catalog::generated(4, 1, at(1)))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(at(2)));
    let f = fetcher(&fake.server.base_url, clock.clone());
    clock.advance_secs(1);
    let record = |id: &str, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body);
        m
    };
    let mut event = SqsEvent::default();
    event.records = vec![
        record("a", notification(1, at(2))),
        record("b", notification(2, at(2))),
        record("c", "not json".into()),
    ];
    let blobs = MemoryBlobStore::default();
    let bus = tillbridge_ports::memory::RecordingBus::default();
    let r = handle(&f, &blobs, &bus, None, event).await;
    let failed: Vec<&str> = r
        .batch_item_failures
        .iter()
        .map(|x| x.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["c"]);
    let live = tillbridge_catalog::live_items_in(
        f.table.as_ref(),
        &TenantId::parse("t1").unwrap(),
        "square",
    )
    .await
    .unwrap();
    // Four variations and their four products (created as migrate creates parents).
    assert_eq!(live.len(), 8);
    assert_eq!(
        live.iter().filter(|(_, i)| i.parent_id.is_some()).count(),
        4
    );
    let calls = fake.server.control.requests();

    // The schedule queues one sync per tenant and vendor with API credentials; each then
    // runs like a notification received after the last sync.
    clock.advance_secs(900);
    let bus = tillbridge_ports::memory::RecordingBus::default();
    assert_eq!(scheduled(&f, &bus).await.unwrap(), 1);
    let queued = bus.published();
    assert_eq!(queued[0].provider, Some(Provider::Square));
    assert!(f.on_notify(&queued[0]).await.unwrap().is_some());
    assert!(
        fake.server.control.requests() > calls,
        "the schedule pulled again"
    );
    let state = f
        .state(&TenantId::parse("t1").unwrap(), Provider::Square)
        .await
        .unwrap();
    assert!(
        state
            .finished_at
            .is_some_and(|t| t >= clock.now().plus_seconds(-1))
    );
}

#[test]
fn schedule_and_queue_invocations_are_told_apart() {
    let schedule: Invocation = serde_json::from_str(r#"{"action": "scheduled-sync"}"#).unwrap();
    assert!(matches!(schedule, Invocation::Schedule { action } if action == "scheduled-sync"));
    let sqs: Invocation = serde_json::from_str(
        r#"{"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}]}"#,
    )
    .unwrap();
    assert!(matches!(sqs, Invocation::Queue(e) if e.records.len() == 1));
}

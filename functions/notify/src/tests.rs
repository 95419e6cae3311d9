use std::sync::Arc;

use serde_json::json;
use tillbridge_domain::event::{MappingSuggested, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{CorrelationId, Envelope, EventData, Secret, TenantId, Timestamp};
use tillbridge_notifications::tillbridge_notify::TenantSettings;
use tillbridge_ports::memory::{MemoryBlobStore, MemoryMailer, MemoryPoster, MemoryTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{ManualClock, SecretStore};

use super::*;

const SETTINGS: &str = r#"{
    "tenant_name": "Kaffebaren AB",
    "channels": [
        {"channel": {"kind": "webhook", "url": "https://hooks.example.com/tb",
                     "secret_name": "ops"}, "events": ["migration.*"]},
        {"channel": {"kind": "email", "to": ["ops@kaffebaren.example"]},
         "events": ["migration.*"], "min_level": "warning"}
    ]
}"#;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

async fn notifier(
    now: &str,
) -> (
    Notifier,
    Arc<ManualClock>,
    Arc<MemoryPoster>,
    Arc<MemoryMailer>,
) {
    let clock = Arc::new(ManualClock::new(ts(now)));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let secrets = Arc::new(StaticDirectory::default());
    let tenant = TenantId::parse("kaffebaren").unwrap_or_else(|e| panic!("{e}"));
    let put = secrets
        .put_notification_secret(
            &tenant,
            "ops",
            &Secret::new("whsec_c2VjcmV0LWtleS0zMi1ieXRlcy1sb25nLWVub3VnaCE="),
        )
        .await;
    assert!(put.is_ok());
    let settings = TenantSettings::from_json(SETTINGS).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tillbridge_notifications::save_settings(table.as_ref(), &tenant, &settings)
            .await
            .is_ok()
    );
    let poster = Arc::new(MemoryPoster::default());
    let mailer = Arc::new(MemoryMailer::default());
    (
        Notifier {
            table,
            blobs: Arc::new(MemoryBlobStore::default()),
            secrets,
            poster: poster.clone(),
            mailer: mailer.clone(),
            clock: clock.clone(),
        },
        clock,
        poster,
        mailer,
    )
}

/// An SQS record as the EventBridge rule delivers it.
fn record(id: &str, body: String) -> serde_json::Value {
    json!({"messageId": id, "receiptHandle": "r", "body": body, "attributes": {},
           "messageAttributes": {}, "eventSource": "aws:sqs"})
}

fn bus_message(key: &str) -> String {
    let envelope = Envelope {
        event_id: derive_event_id(key, 0),
        body: EventData::MigrationMappingSuggested(MappingSuggested {
            migration_id: "mig_1".into(),
            fields: 12,
            mapped: 10,
            high: 8,
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: TenantId::parse("kaffebaren").unwrap_or_else(|e| panic!("{e}")),
        provider: None,
        entity_id: "mig_1".into(),
        occurred_at: Timestamp::UNIX_EPOCH,
        received_at: Timestamp::UNIX_EPOCH,
        correlation_id: CorrelationId::parse("c1").unwrap_or_else(|e| panic!("{e}")),
        delivery_key: None,
    };
    json!({"version": "0", "id": "x", "detail-type": "migration.mapping.suggested",
           "source": "tillbridge", "detail": envelope})
    .to_string()
}

#[tokio::test]
async fn a_batch_sends_now_and_reports_only_the_bad_record() {
    let (n, _, poster, mailer) = notifier("2026-06-18T10:00:00Z").await;
    let payload = json!({"Records": [
        record("good", bus_message("m1")),
        record("bad", "{\"detail\": 1}".into()),
    ]});
    let out = handle(&n, None, None, payload)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["batchItemFailures"], json!([{"itemIdentifier": "bad"}]));
    assert_eq!(poster.posts().len(), 1);
    assert_eq!(mailer.sent().len(), 1);
    assert!(mailer.sent()[0].subject.contains("approve the mapping"));
}

#[tokio::test]
async fn the_schedule_flushes_what_was_held() {
    // Saturday 13 June 2026, 05:00 in Stockholm: held for the 10:00 opening.
    let (n, clock, poster, mailer) = notifier("2026-06-13T03:00:00Z").await;
    let payload =
        json!({"Records": [record("a", bus_message("m1")), record("b", bus_message("m2"))]});
    let out = handle(&n, None, None, payload)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["batchItemFailures"], json!([]));
    assert!(poster.posts().is_empty() && mailer.sent().is_empty());
    let schedule = json!({"action": "flush-notifications"});
    let early = handle(&n, None, None, schedule.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(early["sent"], 0);
    clock.advance_secs(5 * 3600);
    let flushed = handle(&n, None, None, schedule)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(flushed["sent"], 2, "{flushed}");
    assert_eq!(poster.posts().len(), 1);
    let mails = mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "Kaffebaren AB: 2 notifications");
    assert!(handle(&n, None, None, json!({"what": 1})).await.is_err());
}

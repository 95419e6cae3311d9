//! The notify handler on the real AWS SDK against moto: settings and held batches in
//! DynamoDB, the webhook secret in Secrets Manager, email through SES v2 SendEmail from a
//! verified identity (moto keeps what it "sent": GET /moto-api/data.json).

use std::sync::Arc;

use serde_json::{Value, json};
use tillbridge_aws::moto::{Moto, provision};
use tillbridge_aws::{
    DynamoTable, SecretsManagerStore, SesMailer, aws_sdk_sesv2, dynamodb_client, emulator_config,
};
use tillbridge_domain::event::{MappingSuggested, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{
    CorrelationId, Envelope, EventData, Provider, Secret, TenantId, Timestamp,
};
use tillbridge_notifications::Notifier;
use tillbridge_notify::TenantSettings;
use tillbridge_ports::memory::{MemoryBlobStore, MemoryPoster};
use tillbridge_ports::{Email, Mailer, ManualClock, PortError, SecretStore};
use tillbridge_webhooks::{Headers, Secret as VerifySecret, VerifyOptions, verify};

const SECRET: &str = "whsec_c2VjcmV0LWtleS0zMi1ieXRlcy1sb25nLWVub3VnaCE=";

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

fn record(id: &str, key: &str) -> Value {
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
    let body = json!({"version": "0", "id": id, "detail-type": "migration.mapping.suggested",
                      "source": "tillbridge", "detail": envelope});
    json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(),
           "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"})
}

/// The emails moto's SES accepted, as (subject, body, to addresses).
async fn sent_by_moto(endpoint: &str) -> Vec<(String, String, Vec<String>)> {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let to = m["destinations"]["ToAddresses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            (
                m["subject"].as_str().unwrap_or("").to_owned(),
                m["body"].as_str().unwrap_or("").to_owned(),
                to,
            )
        })
        .collect()
}

#[tokio::test]
async fn held_notifications_flush_as_ses_email_and_a_signed_webhook() {
    let moto = Moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let cfg = emulator_config(&moto.endpoint).await;
    let table_name = unique("notify");
    provision::table(&dynamodb_client(&cfg), &table_name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Saturday 13 June 2026, 05:00 in Stockholm: warnings wait for the 10:00 opening.
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-06-13T03:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH),
    ));
    let table = Arc::new(DynamoTable::new(
        dynamodb_client(&cfg),
        table_name,
        clock.clone(),
    ));
    let ses = aws_sdk_sesv2::Client::new(&cfg);
    let sender_domain = format!("{}.example", unique("tillbridge"));
    ses.create_email_identity()
        .email_identity(&sender_domain)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let secrets = Arc::new(SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::new(&cfg),
        format!("{}/", unique("tb")),
    ));
    let tenant = TenantId::parse("kaffebaren").unwrap_or_else(|e| panic!("{e}"));
    secrets
        .put_notification_secret(&tenant, "ops", &Secret::new(SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ops = format!("ops@{}.example", unique("kaffebaren"));
    let settings = TenantSettings::from_json(
        &json!({
            "tenant_name": "Kaffebaren AB",
            "channels": [
                {"channel": {"kind": "webhook", "url": "https://hooks.example.com/tb",
                             "secret_name": "ops"}, "events": ["migration.*"]},
                {"channel": {"kind": "email", "to": [ops]},
                 "events": ["migration.*"], "min_level": "warning"}
            ]
        })
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    tillbridge_notifications::save_settings(table.as_ref(), &tenant, &settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let poster = Arc::new(MemoryPoster::default());
    let notifier = Notifier {
        table,
        blobs: Arc::new(MemoryBlobStore::default()),
        secrets,
        poster: poster.clone(),
        mailer: Arc::new(SesMailer::new(
            ses.clone(),
            format!("notifications@{sender_domain}"),
        )),
        clock: clock.clone(),
    };

    let batch = json!({"Records": [record("a", "m1"), record("b", "m2")]});
    let out = notify::handle(&notifier, None, batch)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["batchItemFailures"], json!([]));
    let schedule = json!({"action": notify::FLUSH_ACTION});
    let early = notify::handle(&notifier, None, schedule.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(early["sent"], 0);
    assert!(poster.posts().is_empty());
    assert!(
        !sent_by_moto(&moto.endpoint)
            .await
            .iter()
            .any(|(_, _, to)| to.contains(&ops))
    );

    clock.advance_secs(5 * 3600);
    let flushed = notify::handle(&notifier, None, schedule.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(flushed["sent"], 2, "{flushed}");
    let mails: Vec<_> = sent_by_moto(&moto.endpoint)
        .await
        .into_iter()
        .filter(|(_, _, to)| to.contains(&ops))
        .collect();
    assert_eq!(mails.len(), 1, "one digest: {mails:?}");
    assert_eq!(mails[0].0, "Kaffebaren AB: 2 notifications");
    assert!(mails[0].1.contains("approve the mapping"), "{}", mails[0].1);
    // The webhook digest, signed with the secret from Secrets Manager.
    let posts = poster.posts();
    assert_eq!(posts.len(), 1);
    let headers = posts[0]
        .headers
        .iter()
        .fold(Headers::new(), |h, (k, v)| h.with(k, v.as_str()));
    assert!(
        verify(
            Provider::StandardWebhooks,
            &headers,
            &posts[0].body,
            &[VerifySecret::new(SECRET)],
            &VerifyOptions {
                url: None,
                now_unix: clock.now_secs(),
                tolerance_secs: 300,
            },
        )
        .is_ok()
    );
    // Flushed once: the held items are gone from DynamoDB.
    let again = notify::handle(&notifier, None, schedule)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again["sent"], 0);

    // An unverified sender is refused by SES: permanent (a dead letter, no retry).
    let unverified = SesMailer::new(ses, "someone@unverified.example");
    let refused = unverified
        .send(&Email {
            to: vec![ops.clone()],
            subject: "s".into(),
            body: "b".into(),
        })
        .await;
    match refused {
        Err(PortError::Permanent(m)) => {
            assert!(m.contains("MessageRejected"), "{m}");
            assert!(!m.contains(&ops), "no address in the error: {m}");
        }
        other => panic!("expected a permanent rejection, got {other:?}"),
    }
}

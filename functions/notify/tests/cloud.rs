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

/// A notifier on moto: the table in DynamoDB (clock at `now`), email through SES v2 from a
/// freshly verified domain, the tenant's webhook secret `secret_name` in Secrets Manager and
/// its `settings` saved; posts are kept in memory.
struct Setup {
    notifier: Notifier,
    clock: Arc<ManualClock>,
    poster: Arc<MemoryPoster>,
    ses: aws_sdk_sesv2::Client,
}

async fn setup(
    cfg: &tillbridge_aws::SdkConfig,
    now: &str,
    tenant: &str,
    secret_name: &str,
    settings: Value,
) -> Setup {
    let table_name = unique("notify");
    provision::table(&dynamodb_client(cfg), &table_name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339(now).unwrap_or(Timestamp::UNIX_EPOCH),
    ));
    let table = Arc::new(DynamoTable::new(
        dynamodb_client(cfg),
        table_name,
        clock.clone(),
    ));
    let ses = aws_sdk_sesv2::Client::new(cfg);
    let sender_domain = format!("{}.example", unique("tillbridge"));
    ses.create_email_identity()
        .email_identity(&sender_domain)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let secrets = Arc::new(SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::new(cfg),
        format!("{}/", unique("tb")),
    ));
    let tenant = TenantId::parse(tenant).unwrap_or_else(|e| panic!("{e}"));
    secrets
        .put_notification_secret(&tenant, secret_name, &Secret::new(SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let settings =
        TenantSettings::from_json(&settings.to_string()).unwrap_or_else(|e| panic!("{e}"));
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
    Setup {
        notifier,
        clock,
        poster,
        ses,
    }
}

#[tokio::test]
async fn held_notifications_flush_as_ses_email_and_a_signed_webhook() {
    let moto = Moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let cfg = emulator_config(&moto.endpoint).await;
    let ops = format!("ops@{}.example", unique("kaffebaren"));
    let settings = json!({
        "tenant_name": "Kaffebaren AB",
        "channels": [
            {"channel": {"kind": "webhook", "url": "https://hooks.example.com/tb",
                         "secret_name": "ops"}, "events": ["migration.*"]},
            {"channel": {"kind": "email", "to": [ops]},
             "events": ["migration.*"], "min_level": "warning"}
        ]
    });
    // Saturday 13 June 2026, 05:00 in Stockholm: warnings wait for the 10:00 opening.
    let Setup {
        notifier,
        clock,
        poster,
        ses,
    } = setup(&cfg, "2026-06-13T03:00:00Z", "kaffebaren", "ops", settings).await;

    let batch = json!({"Records": [record("a", "m1"), record("b", "m2")]});
    let out = notify::handle(&notifier, None, None, batch)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["batchItemFailures"], json!([]));
    let schedule = json!({"action": notify::FLUSH_ACTION});
    let early = notify::handle(&notifier, None, None, schedule.clone())
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
    let flushed = notify::handle(&notifier, None, None, schedule.clone())
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
    let again = notify::handle(&notifier, None, None, schedule)
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

/// CloudWatch's notification of an alarm's state change (the JSON CloudWatch publishes to
/// an alarm action's SNS topic; see the SNS example in CloudWatch's user guide).
fn alarm_message(name: &str, description: &str, state: &str, old: &str, at: &str) -> String {
    json!({
        "AlarmName": name,
        "AlarmDescription": description,
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [97.2] was less than the threshold (98.5).",
        "StateChangeTime": at,
        "Region": "EU (Stockholm)",
        "AlarmArn": format!("arn:aws:cloudwatch:eu-north-1:123456789012:alarm:{name}"),
        "OldStateValue": old,
        "Trigger": {"Period": 3600, "EvaluationPeriods": 1, "Threshold": 98.5,
                    "ComparisonOperator": "LessThanThreshold",
                    "Metrics": [{"Id": "sla", "Expression": "100 * processed / received",
                                 "ReturnData": true}]}
    })
    .to_string()
}

/// Every message on the queue now, as the SQS records Lambda would get.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str, want: usize) -> Vec<Value> {
    let mut records = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for m in out.messages() {
            records.push(json!({"messageId": m.message_id(), "receiptHandle": "r",
                                "body": m.body(), "attributes": {}, "messageAttributes": {},
                                "eventSource": "aws:sqs"}));
        }
        if records.len() >= want {
            break;
        }
    }
    records
}

#[tokio::test]
async fn alarms_on_the_sns_topic_page_or_wait_per_the_operators_calendar() {
    let moto = Moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let cfg = emulator_config(&moto.endpoint).await;
    // The alarm topic, and the notify queue subscribed to it as the template does (raw
    // message delivery off: each SQS body is SNS's notification envelope).
    let sns = aws_sdk_sns::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let topic = sns
        .create_topic()
        .name(unique("AlarmTopic"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    let queue = provision::queue(&sqs, &unique("NotifyQueue"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let queue_arn = provision::queue_arn(&sqs, &queue)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let oncall = format!("oncall@{}.example", unique("ops"));
    let settings = json!({
        "tenant_name": "tillbridge operations",
        "language": "sv",
        "channels": [
            {"channel": {"kind": "webhook", "url": "https://pager.example.com/hook",
                         "secret_name": "pager"}, "events": ["operations.*"],
             "min_level": "critical"},
            {"channel": {"kind": "email", "to": [oncall]}, "events": ["operations.*"]}
        ]
    });
    // Midsommardagen 2026 (Saturday 20 June), 03:00 in Stockholm.
    let Setup {
        notifier,
        clock,
        poster,
        ..
    } = setup(
        &cfg,
        "2026-06-20T01:00:00Z",
        "operations",
        "pager",
        settings,
    )
    .await;
    let operators = TenantId::parse("operations").unwrap_or_else(|e| panic!("{e}"));

    // CloudWatch publishes: an SLA breach (critical), the same notification again, and a
    // queue growing old (a warning).
    let sla = alarm_message(
        "tb-ShopifyDeliverySla",
        "[critical] Shopify deliveries processed below 98.5 % of those received.",
        "ALARM",
        "OK",
        "2026-06-20T00:59:30.120+0000",
    );
    let age = alarm_message(
        "tb-FetchQueueAgeAlarm-1X2Y3Z",
        "The fetch queue's oldest message is older than QueueAgeSeconds.",
        "ALARM",
        "OK",
        "2026-06-20T00:58:00.000+0000",
    );
    for message in [&sla, &sla, &age] {
        sns.publish()
            .topic_arn(&topic)
            .subject("ALARM")
            .message(message)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    let records = drain(&sqs, &queue, 3).await;
    assert_eq!(records.len(), 3, "SNS delivered each publish to the queue");
    let tenant = Some(&operators);
    let out = notify::handle(&notifier, None, tenant, json!({ "Records": records }))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");

    // The critical breach paged now, once, on both channels, in Swedish.
    let posts = poster.posts();
    assert_eq!(posts.len(), 1, "one page for two identical notifications");
    let page: Value = serde_json::from_slice(&posts[0].body).unwrap_or_default();
    assert_eq!(page["type"], "operations.alarm.changed");
    assert_eq!(page["data"]["level"], "critical");
    assert!(
        page["data"]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("tb-ShopifyDeliverySla larmar")),
        "{page}"
    );
    let mails: Vec<_> = sent_by_moto(&moto.endpoint)
        .await
        .into_iter()
        .filter(|(_, _, to)| to.contains(&oncall))
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("98.5"), "{}", mails[0].1);

    // The warning waits for the next opening: Sunday 21 June 10:00 in Stockholm.
    let schedule = json!({"action": notify::FLUSH_ACTION});
    let early = notify::handle(&notifier, None, tenant, schedule.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(early["sent"], 0);
    clock.advance_secs(31 * 3600);
    let flushed = notify::handle(&notifier, None, tenant, schedule)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(flushed["sent"], 1, "{flushed}");
    let mails: Vec<_> = sent_by_moto(&moto.endpoint)
        .await
        .into_iter()
        .filter(|(_, _, to)| to.contains(&oncall))
        .collect();
    assert_eq!(mails.len(), 2);
    assert!(
        mails
            .iter()
            .any(|(_, body, _)| body.contains("tb-FetchQueueAgeAlarm-1X2Y3Z")),
        "{mails:?}"
    );
    assert_eq!(poster.posts().len(), 1, "a warning does not page");

    // Without an operators' tenant an alarm is refused (to the DLQ), not dropped silently.
    sns.publish()
        .topic_arn(&topic)
        .message(&sla)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let records = drain(&sqs, &queue, 1).await;
    let out = notify::handle(&notifier, None, None, json!({ "Records": records }))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out["batchItemFailures"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
}

//! Each AWS adapter with the real AWS SDK against moto server (started on 127.0.0.1).

use std::sync::Arc;
use std::time::Duration;

use tillbridge_aws::moto::{Moto, provision};
use tillbridge_aws::{
    DynamoTable, EventBridgeBus, S3Blobs, SecretsManagerStore, SqsQueue, emulator_config, s3_client,
};
use tillbridge_domain::event::{
    EventData, ItemDeleted, ItemUpserted, SCHEMA_VERSION, derive_event_id,
};
use tillbridge_domain::{CorrelationId, Envelope, Provider, TenantId, Timestamp};
use tillbridge_ports::bus::{EventBus, read_bus_message};
use tillbridge_ports::table::{Condition, Item, Table};
use tillbridge_ports::{
    BlobStore, ManualClock, PortError, Queue, SecretStore, TableQueue, conformance,
};

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

async fn config() -> aws_config::SdkConfig {
    let moto = Moto::shared().unwrap_or_else(|e| panic!("{e}"));
    emulator_config(&moto.endpoint).await
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
    ))
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    provision::table(client, name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn dynamodb_table_meets_the_table_contract() {
    let cfg = config().await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let name = unique("table");
    create_table(&client, &name).await;
    let c = clock();
    conformance::table_contract(Arc::new(DynamoTable::new(client, name, c.clone())), c).await;
}

#[tokio::test]
async fn table_queue_on_dynamodb_meets_the_queue_contract() {
    let cfg = config().await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let name = unique("queue-table");
    create_table(&client, &name).await;
    let c = clock();
    conformance::queue_contract(Arc::new(DynamoTable::new(client, name, c.clone())), c).await;
}

#[tokio::test]
async fn dynamodb_table_meets_the_transaction_contract() {
    let cfg = config().await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let name = unique("tx");
    create_table(&client, &name).await;
    conformance::transaction_contract(Arc::new(DynamoTable::new(client, name, clock()))).await;
}

#[tokio::test]
async fn dynamodb_errors_keep_their_kind() {
    let cfg = config().await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let missing = DynamoTable::new(client.clone(), "no-such-table", clock());
    let err = missing.get("p", "s").await.err();
    assert!(
        matches!(err, Some(PortError::Permanent(ref m)) if m.contains("ResourceNotFound")),
        "{err:?}"
    );
    let name = unique("errors");
    create_table(&client, &name).await;
    let t = DynamoTable::new(client, name, clock());
    t.put(
        Item::new("p", "s", serde_json::Map::new()),
        Condition::IfAbsent,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.put(
            Item::new("p", "s", serde_json::Map::new()),
            Condition::IfAbsent
        )
        .await,
        Err(PortError::ConditionFailed)
    );
    // Reserved attribute names are refused before any call.
    let mut attrs = serde_json::Map::new();
    attrs.insert("version".into(), serde_json::json!(9));
    assert!(matches!(
        t.put(Item::new("p", "x", attrs), Condition::Always).await,
        Err(PortError::Permanent(_))
    ));
}

#[tokio::test]
async fn sqs_queue_delivers_at_least_once_and_redrives_to_the_dlq() {
    let cfg = config().await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let dlq_url = provision::queue(&sqs, &unique("dlq"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dlq_arn = provision::queue_arn(&sqs, &dlq_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = sqs
        .create_queue()
        .queue_name(unique("inbound"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let q = SqsQueue::new(sqs.clone(), url);
    let dlq = SqsQueue::new(sqs, dlq_url);
    q.send("hello").await.unwrap_or_else(|e| panic!("{e}"));
    let first = q
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].body.as_str(), first[0].receive_count),
        ("hello", 1)
    );
    assert!(
        q.receive(10, Duration::from_secs(30))
            .await
            .unwrap_or_default()
            .is_empty(),
        "invisible while in flight"
    );
    q.release(&first[0].receipt, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = q
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap_or_default();
    assert_eq!(second.first().map(|m| m.receive_count), Some(2));
    q.release(&second[0].receipt, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A third receive exceeds maxReceiveCount: SQS moves it to the DLQ.
    assert!(
        q.receive(10, Duration::from_secs(30))
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let dead = dlq
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap_or_default();
    assert_eq!(dead.first().map(|m| m.body.as_str()), Some("hello"));
    dlq.delete(&dead[0].receipt)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dlq.depth().await.ok(), Some(0));
    assert!(matches!(
        q.send(&"x".repeat(300 * 1024)).await,
        Err(PortError::TooLarge { .. })
    ));
}

/// After an erasure rewrites an object in the versioned bucket, no older version is left.
#[tokio::test]
async fn s3_erase_history_leaves_only_the_current_version() {
    let cfg = config().await;
    let client = s3_client(&cfg);
    let bucket = unique("versions");
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let b = S3Blobs::new(client.clone(), bucket.clone());
    conformance::blob_sizes_contract(&b).await;
    for body in [&b"ana@example.com"[..], b"v2 ana@example.com", b"[erased]"] {
        b.put("exports/t1/x.json", body)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    b.put("exports/t1/x.json.other", b"keep")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.erase_history("exports/t1/x.json").await.ok(), Some(2));
    let versions = client
        .list_object_versions()
        .bucket(&bucket)
        .prefix("exports/t1/x.json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let keys: Vec<(&str, Option<bool>)> = versions
        .versions()
        .iter()
        .map(|v| (v.key().unwrap_or(""), v.is_latest()))
        .collect();
    assert_eq!(
        keys,
        [
            ("exports/t1/x.json", Some(true)),
            ("exports/t1/x.json.other", Some(true))
        ]
    );
    assert_eq!(
        b.get("exports/t1/x.json").await.ok().flatten().as_deref(),
        Some(&b"[erased]"[..])
    );
    assert_eq!(b.erase_history("exports/t1/x.json").await.ok(), Some(0));
}

#[tokio::test]
async fn s3_blobs_put_get_list() {
    let cfg = config().await;
    let client = s3_client(&cfg);
    let bucket = unique("blobs");
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let b = S3Blobs::new(client, bucket);
    b.put("raw/t1/2026-01-01/a", b"{\"a\":1}")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.put("raw/t1/2026-01-01/b", &vec![7u8; 300 * 1024])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.put("quarantine/t1/c", b"x")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.get("raw/t1/2026-01-01/a").await.ok().flatten().as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
    assert_eq!(
        b.get("raw/t1/2026-01-01/b")
            .await
            .ok()
            .flatten()
            .map(|v| v.len()),
        Some(300 * 1024)
    );
    assert_eq!(b.get("raw/t1/missing").await.ok(), Some(None));
    assert_eq!(
        b.list("raw/").await.ok(),
        Some(vec![
            "raw/t1/2026-01-01/a".to_owned(),
            "raw/t1/2026-01-01/b".to_owned()
        ])
    );
    assert!(b.put("../x", b"").await.is_err());
}

fn event(i: usize) -> Envelope {
    Envelope {
        event_id: derive_event_id("eb-test", i),
        body: EventData::CatalogItemDeleted(ItemDeleted {
            external_id: format!("item-{i}"),
            deleted_at: Timestamp::UNIX_EPOCH,
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
        provider: Some(Provider::Shopify),
        entity_id: format!("item-{i}"),
        occurred_at: Timestamp::UNIX_EPOCH,
        received_at: Timestamp::UNIX_EPOCH,
        correlation_id: CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
        delivery_key: None,
    }
}

#[tokio::test]
async fn eventbridge_rules_route_batched_events_to_sqs_in_the_shape_consumers_parse() {
    let cfg = config().await;
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let bus = unique("bus");
    eb.create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let url = provision::queue(&sqs, &unique("catalog"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let arn = provision::queue_arn(&sqs, &url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rule = unique("catalog-apply");
    eb.put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["tillbridge"],"detail-type":[{"prefix":"pos."}]}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    eb.put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(arn)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Events over an entry's limit travel by claim check through S3.
    let s3 = s3_client(&cfg);
    let bucket = unique("claims");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let blobs = Arc::new(S3Blobs::new(s3, bucket));
    let publisher = EventBridgeBus::new(eb, bus).with_claim_check(blobs.clone());
    let mut events: Vec<Envelope> = (0..11).map(event).collect();
    let mut large = event(11);
    large.body = EventData::CatalogItemUpserted(Box::new(ItemUpserted {
        item: {
            let mut item = tillbridge_domain::CatalogItem::new("item-11");
            item.description = Some("d".repeat(300 * 1024));
            item
        },
        inventory_item_id: None,
        parent_variants: None,
        product_variants: None,
    }));
    large.entity_id = "item-11".into();
    events.push(large);
    let results = publisher
        .put_events(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.len(), 12);
    assert!(results.iter().all(Result::is_ok));
    let q = SqsQueue::new(sqs, url);
    let mut got = Vec::new();
    for _ in 0..10 {
        for m in q
            .receive(10, Duration::from_secs(30))
            .await
            .unwrap_or_default()
        {
            got.push(
                read_bus_message(&m.body, blobs.as_ref())
                    .await
                    .unwrap_or_else(|e| panic!("{e}: {}", m.body)),
            );
        }
        if got.len() == 12 {
            break;
        }
    }
    got.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
    let mut expected = events.clone();
    expected.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn secrets_manager_returns_current_and_previous_during_rotation() {
    let cfg = config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let prefix = format!("{}/", unique("tillbridge"));
    let store = SecretsManagerStore::new(sm.clone(), prefix.clone());
    let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
    let name = store.secret_name(&tenant, Provider::Shopify);
    assert_eq!(
        store.webhook_secrets(&tenant, Provider::Square).await.ok(),
        Some(None)
    );
    sm.create_secret()
        .name(&name)
        .secret_string("old-secret")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string("new-secret")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let fresh = SecretsManagerStore::new(sm, prefix);
    let s = fresh
        .webhook_secrets(&tenant, Provider::Shopify)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("secret"));
    assert_eq!(s.current.expose(), b"new-secret");
    assert_eq!(
        s.previous.as_ref().map(|p| p.expose()),
        Some(&b"old-secret"[..])
    );
}

#[tokio::test]
async fn table_queue_on_dynamodb_respects_ttl_across_the_wire() {
    // A small extra check that the TTL filter and conditions agree on DynamoDB.
    let cfg = config().await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let name = unique("ttl");
    create_table(&client, &name).await;
    let c = clock();
    let t: Arc<dyn Table> = Arc::new(DynamoTable::new(client, name, c.clone()));
    let q = TableQueue::new("q", t.clone(), c.clone());
    q.send("m").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(q.depth().await.ok(), Some(1));
}

#[tokio::test]
async fn secrets_manager_meets_the_secret_store_contract() {
    let cfg = config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let store = SecretsManagerStore::new(sm, format!("{}/", unique("tillbridge")));
    conformance::secret_store_contract(&store).await;
}

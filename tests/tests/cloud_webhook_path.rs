//! The webhook path in the cloud shape: the real function handlers (webhook-ingress,
//! signature-check, validate) invoked with real Lambda event shapes, wired to DynamoDB, SQS,
//! S3, EventBridge and Secrets Manager on moto server.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use tillbridge_aws::moto::{Moto, provision};
use tillbridge_aws::{
    DynamoTable, EventBridgeBus, S3Blobs, SecretsManagerStore, SqsQueue, emulator_config, s3_client,
};
use tillbridge_catalog as catalog;
use tillbridge_domain::{Currency, Provider, TenantId};
use tillbridge_ports::tenants::{ProviderConfig, TableDirectory, TenantConfig};
use tillbridge_ports::{Queue, SystemClock};
use tillbridge_sync::ingress::Ingress;
use tillbridge_sync::quarantine;
use tillbridge_sync::signature_check::SignatureCheck;

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

struct Cloud {
    ingress: Ingress,
    check: SignatureCheck,
    table: Arc<DynamoTable>,
    inbound: SqsQueue,
    catalog_queue: SqsQueue,
}

async fn provision() -> Cloud {
    let moto = Moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let cfg = emulator_config(&moto.endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let s3 = s3_client(&cfg);

    let table_name = unique("tillbridge");
    provision::table(&ddb, &table_name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bucket = unique("tillbridge");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let inbound_url = provision::queue(&sqs, &unique("inbound"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let catalog_url = provision::queue(&sqs, &unique("catalog"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bus = unique("bus");
    eb.create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let rule = unique("validate");
    eb.put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["tillbridge"],"detail-type":[{"prefix":"pos."}]}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("catalog")
        .arn(
            provision::queue_arn(&sqs, &catalog_url)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    eb.put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    // The tenant, as an operator registers it: config in the table, secret in Secrets Manager.
    let clock = Arc::new(SystemClock);
    let table = Arc::new(DynamoTable::new(ddb, table_name, clock.clone()));
    let directory = Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(60)));
    directory
        .put(&TenantConfig {
            tenant_id: TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}")),
            currency: Currency::USD,
            providers: [(Provider::Shopify, ProviderConfig::default())]
                .into_iter()
                .collect(),
            ..TenantConfig::new(
                TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}")),
                Currency::USD,
            )
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let prefix = format!("{}/", unique("tillbridge"));
    sm.create_secret()
        .name(format!("{prefix}demo-cafe/shopify"))
        .secret_string("demo-shopify-client-secret")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let blobs = Arc::new(S3Blobs::new(s3, bucket));
    Cloud {
        ingress: Ingress {
            directory: directory.clone(),
            queue: Arc::new(SqsQueue::new(sqs.clone(), inbound_url.clone())),
            blobs: blobs.clone(),
            table: table.clone(),
            clock: clock.clone(),
        },
        check: SignatureCheck {
            directory,
            secrets: Arc::new(SecretsManagerStore::new(sm, prefix)),
            blobs,
            table: table.clone(),
            bus: Arc::new(EventBridgeBus::new(eb, bus)),
            clock,
        },
        table,
        inbound: SqsQueue::new(sqs.clone(), inbound_url),
        catalog_queue: SqsQueue::new(sqs, catalog_url),
    }
}

fn apigw_event(name: &str) -> lambda_http::Request {
    let text = std::fs::read_to_string(format!(
        "{}/../events/lambda/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default();
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// Drains a queue into the SQS event Lambda would be invoked with.
async fn as_sqs_event(q: &SqsQueue, expected: usize) -> (SqsEvent, Vec<String>) {
    let mut records = Vec::new();
    let mut receipts = Vec::new();
    for _ in 0..20 {
        for m in q
            .receive(10, Duration::from_secs(30))
            .await
            .unwrap_or_default()
        {
            let mut r = SqsMessage::default();
            r.message_id = Some(m.id.clone());
            r.receipt_handle = Some(m.receipt.clone());
            r.body = Some(m.body.clone());
            receipts.push(m.receipt);
            records.push(r);
        }
        if records.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut e = SqsEvent::default();
    e.records = records;
    (e, receipts)
}

#[tokio::test]
async fn a_signed_webhook_lands_in_the_catalog_and_a_forged_one_in_quarantine() {
    let cloud = provision().await;
    // 1. API Gateway → webhook-ingress
    let ok = webhook_ingress::handle(
        &cloud.ingress,
        None,
        apigw_event("apigw-webhook-shopify.json"),
    )
    .await;
    assert_eq!(ok.status(), 202);
    let mut forged = apigw_event("apigw-webhook-shopify.json");
    forged.headers_mut().insert(
        "x-shopify-hmac-sha256",
        lambda_http::http::HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    );
    forged.headers_mut().insert(
        "x-shopify-webhook-id",
        lambda_http::http::HeaderValue::from_static("forged-1"),
    );
    assert_eq!(
        webhook_ingress::handle(&cloud.ingress, None, forged)
            .await
            .status(),
        202
    );
    assert_eq!(
        webhook_ingress::handle(
            &cloud.ingress,
            None,
            apigw_event("apigw-webhook-unknown-tenant.json")
        )
        .await
        .status(),
        404
    );

    // 2. SQS inbound → signature-check (Secrets Manager, EventBridge)
    let (event, receipts) = as_sqs_event(&cloud.inbound, 2).await;
    assert_eq!(event.records.len(), 2);
    let response = signature_check::handle(&cloud.check, None, event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    for r in receipts {
        cloud
            .inbound
            .delete(&r)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    // 3. EventBridge rule → SQS catalog → validate
    let (event, _) = as_sqs_event(&cloud.catalog_queue, 1).await;
    assert_eq!(
        event.records.len(),
        1,
        "one canonical event routed by the rule"
    );
    let response = validate::handle(
        &validate::Deps {
            table: cloud.table.clone(),
            blobs: cloud.check.blobs.clone(),
            bus: cloud.check.bus.clone(),
            destinations: None,
        },
        None,
        event,
        &|| false,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());

    let tenant = TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}"));
    let item = catalog::get_item(cloud.table.as_ref(), &tenant, "123456789")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("item in DynamoDB"));
    assert_eq!(
        (item.price_minor, item.parent_id.as_deref()),
        (Some(2999), Some("9554194432293"))
    );
    let q = quarantine::list(cloud.table.as_ref(), &tenant)
        .await
        .unwrap_or_default();
    assert_eq!(q.len(), 1);
    assert!(q[0].reason.contains("signature"));
    assert!(
        cloud
            .check
            .blobs
            .get(&q[0].blob_key)
            .await
            .ok()
            .flatten()
            .is_some(),
        "raw body kept in S3"
    );
}

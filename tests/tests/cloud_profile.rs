//! A vendor tillbridge has no code for, in the cloud shape (issue 16): a made-up vendor's
//! profile stored in DynamoDB through the profile store (effective without a deploy), a
//! tenant whose provider is that vendor, and
//! 1. a signed webhook of the vendor through the real handlers — webhook-ingress →
//!    signature-check (Secrets Manager, EventBridge) → validate — landing as a catalog item
//!    in DynamoDB, while a forged one is quarantined;
//! 2. a pull of the vendor's API (the fake profile vendor) through the real fetch handler,
//!    credentials in Secrets Manager, landing in DynamoDB; then a delta from the watermark
//!    the sync state keeps in DynamoDB.
//!
//! All on moto server (`tillbridge_aws::moto::Moto::shared()`).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::cloud::as_sqs_event;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tillbridge_aws::moto::{Moto, provision};
use tillbridge_aws::{
    DynamoTable, EventBridgeBus, S3Blobs, SecretsManagerStore, SqsQueue, emulator_config, s3_client,
};
use tillbridge_catalog as catalog;
use tillbridge_connectors::fake::profile::{Access, FakeProfileVendor, FakeRecord, Paging};
use tillbridge_domain::{Currency, ProfileName, Provider, Secret, TenantId, Timestamp};
use tillbridge_ports::tenants::{ApiCredentials, ProviderConfig, TableDirectory, TenantConfig};
use tillbridge_ports::{Clock, Queue, SystemClock};
use tillbridge_profiles::Profile;
use tillbridge_sync::ingress::Ingress;
use tillbridge_sync::quarantine;
use tillbridge_sync::signature_check::SignatureCheck;

const TENANT: &str = "tea-house";
const VENDOR: &str = "kettle-pos";
const SECRET: &str = "kettle-signing-secret-9f2c";

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

fn must<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e:?}"))
}

/// The made-up vendor: HMAC-SHA256 (hex) of the body in `X-Kettle-Signature`, products in
/// `/product`; a REST list of `/products` paged by cursor, bearer auth, deltas by
/// `updated_since` with `deleted_at` marking deletions.
fn kettle_profile() -> Profile {
    let doc = serde_json::json!({
        "name": VENDOR, "version": 1, "title": "Kettle POS (made up)",
        "sources": ["https://example.com/kettle-pos/docs (made up for the test)"],
        "webhooks": {
            "signature": {"scheme": "hmac", "algorithm": "sha256",
                          "signature": {"header": "x-kettle-signature"}, "encoding": "hex"},
            "delivery_id": {"header": "x-kettle-delivery"},
            "event_type": {"pointer": "/type"},
            "events": [{"types": ["product.updated"], "meaning": "upsert", "records": "/product"}]
        },
        "api": {
            "base_url": "https://api.kettle-pos.example/v2",
            "auth": {"type": "bearer"},
            "list": {"path": "/products", "records": "/products"},
            "pagination": {"type": "cursor", "param": "cursor", "next": "/next_cursor",
                           "size_param": "limit", "size": 2},
            "changes": {"param": "updated_since",
                        "deleted": {"pointer": "/deleted_at", "id": "/id"}}
        },
        "mapping": {"fields": [
            {"source": "id", "target": "external_id"},
            {"source": "name", "target": "name"},
            {"source": "price", "target": "price_minor", "conversion": "major_to_minor"},
            {"source": "updated_at", "target": "updated_at", "conversion": "date_time"}
        ]}
    });
    must(Profile::parse(&doc.to_string()))
}

struct Cloud {
    ingress: Ingress,
    check: SignatureCheck,
    table: Arc<DynamoTable>,
    directory: Arc<TableDirectory>,
    secrets: Arc<SecretsManagerStore>,
    sm: aws_sdk_secretsmanager::Client,
    prefix: String,
    inbound: SqsQueue,
    catalog_queue: SqsQueue,
}

async fn provision() -> Cloud {
    let moto = must(Moto::shared());
    let cfg = emulator_config(&moto.endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let s3 = s3_client(&cfg);

    let table_name = unique("tillbridge");
    must(provision::table(&ddb, &table_name).await);
    let bucket = unique("tillbridge");
    must(s3.create_bucket().bucket(&bucket).send().await);
    let inbound_url = must(provision::queue(&sqs, &unique("inbound")).await);
    let catalog_url = must(provision::queue(&sqs, &unique("catalog")).await);
    let bus = unique("bus");
    must(eb.create_event_bus().name(&bus).send().await);
    let rule = unique("validate");
    must(
        eb.put_rule()
            .name(&rule)
            .event_bus_name(&bus)
            .event_pattern(r#"{"source":["tillbridge"],"detail-type":[{"prefix":"pos."}]}"#)
            .send()
            .await,
    );
    let target = must(
        aws_sdk_eventbridge::types::Target::builder()
            .id("catalog")
            .arn(must(provision::queue_arn(&sqs, &catalog_url).await))
            .build(),
    );
    must(
        eb.put_targets()
            .rule(&rule)
            .event_bus_name(&bus)
            .targets(target)
            .send()
            .await,
    );

    let clock = Arc::new(SystemClock);
    let table = Arc::new(DynamoTable::new(ddb, table_name, clock.clone()));
    let directory = Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(60)));
    let prefix = format!("{}/", unique("tillbridge"));
    let secrets = Arc::new(SecretsManagerStore::new(sm.clone(), prefix.clone()));
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
            directory: directory.clone(),
            secrets: Arc::new(SecretsManagerStore::new(sm.clone(), prefix.clone())),
            blobs,
            table: table.clone(),
            bus: Arc::new(EventBridgeBus::new(eb, bus)),
            clock,
        },
        table,
        directory,
        secrets,
        sm,
        prefix,
        inbound: SqsQueue::new(sqs.clone(), inbound_url),
        catalog_queue: SqsQueue::new(sqs, catalog_url),
    }
}

/// Registers the tenant with the profile vendor as its provider (the API pointed at
/// `api_base_url`), its webhook secret and, when given, API credentials.
async fn register(cloud: &Cloud, provider: Provider, api_base_url: Option<String>) {
    let tenant = must(TenantId::parse(TENANT));
    must(
        cloud
            .directory
            .put(&TenantConfig {
                providers: [(
                    provider,
                    ProviderConfig {
                        api_base_url,
                        ..ProviderConfig::default()
                    },
                )]
                .into_iter()
                .collect(),
                ..TenantConfig::new(tenant.clone(), Currency::USD)
            })
            .await,
    );
    must(
        cloud
            .check
            .secrets
            .put_api_credentials(
                &tenant,
                provider,
                &ApiCredentials::new(BTreeMap::from([(
                    "access_token".to_owned(),
                    Secret::new("kettle-api-token"),
                )])),
            )
            .await,
    );
}

/// The API Gateway (HTTP API, payload 2.0) event of a vendor's webhook.
fn webhook_event(body: &str, signature: &str, delivery: &str) -> lambda_http::Request {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /v1/webhooks/{provider}/{tenant}",
        "rawPath": format!("/v1/webhooks/{VENDOR}/{TENANT}"),
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-kettle-signature": signature,
            "x-kettle-delivery": delivery,
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": "POST", "path": format!("/v1/webhooks/{VENDOR}/{TENANT}"),
                     "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": "kettle"},
            "requestId": delivery, "routeKey": "POST /v1/webhooks/{provider}/{tenant}",
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1_767_225_600_000_i64
        },
        "pathParameters": {"provider": VENDOR, "tenant": TENANT},
        "body": body,
        "isBase64Encoded": false
    });
    must(lambda_http::request::from_str(&event.to_string()))
}

fn hmac_hex(body: &str) -> String {
    let mut mac = must(Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()));
    mac.update(body.as_bytes());
    hex_lower(&mac.finalize().into_bytes())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_profile_vendors_signed_webhook_lands_in_dynamodb_and_a_forged_one_in_quarantine() {
    let cloud = provision().await;
    let name = must(ProfileName::parse(VENDOR));
    let provider = Provider::Profile(name);
    // The operator stores the profile (PUT /v1/profiles/kettle-pos does this): no deploy.
    must(
        tillbridge_profiles::store::put(
            cloud.table.as_ref(),
            name,
            &kettle_profile(),
            SystemClock.now(),
        )
        .await,
    );
    register(&cloud, provider, None).await;
    let tenant = must(TenantId::parse(TENANT));
    // The webhook secret, as for any provider: `<prefix><tenant>/<provider>`.
    must(
        cloud
            .sm
            .create_secret()
            .name(format!("{}{TENANT}/{VENDOR}", cloud.prefix))
            .secret_string(SECRET)
            .send()
            .await,
    );

    let body = r#"{"type":"product.updated","product":{"id":"kt-1","name":"Sencha","price":"6.40","updated_at":"2026-01-02T09:00:00Z"}}"#;
    let ok = webhook_ingress::handle(
        &cloud.ingress,
        None,
        webhook_event(body, &hmac_hex(body), "dlv-1"),
    )
    .await;
    assert_eq!(ok.status(), 202);
    let forged_body = r#"{"type":"product.updated","product":{"id":"kt-1","name":"Sencha","price":"0.01","updated_at":"2026-01-02T10:00:00Z"}}"#;
    let forged = webhook_ingress::handle(
        &cloud.ingress,
        None,
        webhook_event(forged_body, &hmac_hex(body), "dlv-2"),
    )
    .await;
    assert_eq!(forged.status(), 202, "the ingress only queues");

    let (event, receipts) = as_sqs_event(&cloud.inbound, 2).await;
    assert_eq!(event.records.len(), 2);
    let response = signature_check::handle(&cloud.check, None, event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    for r in receipts {
        must(cloud.inbound.delete(&r).await);
    }

    let (event, _) = as_sqs_event(&cloud.catalog_queue, 1).await;
    assert_eq!(event.records.len(), 1, "only the signed delivery");
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

    let item = must(catalog::get_item_in(cloud.table.as_ref(), &tenant, VENDOR, "kt-1").await)
        .unwrap_or_else(|| panic!("item in DynamoDB"));
    assert_eq!(item.name.as_deref(), Some("Sencha"));
    assert_eq!(
        (item.price_minor, item.currency),
        (Some(640), Some(Currency::USD))
    );
    let q = quarantine::list(cloud.table.as_ref(), &tenant)
        .await
        .unwrap_or_default();
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(q[0].reason.contains("signature"), "{}", q[0].reason);
}

#[tokio::test]
async fn a_profile_vendor_is_pulled_by_the_fetch_function_into_dynamodb_then_by_delta() {
    let cloud = provision().await;
    let name = must(ProfileName::parse(VENDOR));
    let provider = Provider::Profile(name);
    must(
        tillbridge_profiles::store::put(
            cloud.table.as_ref(),
            name,
            &kettle_profile(),
            SystemClock.now(),
        )
        .await,
    );
    let at = |s: i64| must(Timestamp::from_unix_seconds(1_767_225_600 + s).ok_or("range"));
    let fake = must(
        FakeProfileVendor::start(
            Access::Bearer("kettle-api-token".into()),
            Paging::Cursor,
            2,
            (1..=3)
                .map(|i| FakeRecord::new(&format!("kt-{i}"), &format!("Tea {i}"), "4.10", at(i)))
                .collect(),
        )
        .await,
    );
    register(&cloud, provider, Some(fake.server.base_url.clone())).await;
    let tenant = must(TenantId::parse(TENANT));
    let fetcher = tillbridge_fetch::Fetcher {
        table: cloud.table.clone(),
        directory: cloud.directory.clone(),
        secrets: cloud.secrets.clone(),
        clock: Arc::new(SystemClock),
        interactive: true,
    };

    // The schedule's message for the tenant's vendor (it has API credentials), as SQS
    // delivers it to the fetch function. (This test's one rule sends every pos.* event to one
    // queue; the template routes pos.fetch.requested to the fetch function's own queue.)
    let queued = must(fetch::scheduled(&fetcher, cloud.check.bus.as_ref()).await);
    assert_eq!(queued, 1);
    let (event, receipts) = as_sqs_event(&cloud.catalog_queue, 1).await;
    assert_eq!(event.records.len(), 1);
    let response = fetch::handle(
        &fetcher,
        cloud.check.blobs.as_ref(),
        cloud.check.bus.as_ref(),
        None,
        event,
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    for r in receipts {
        must(cloud.catalog_queue.delete(&r).await);
    }
    for i in 1..=3 {
        let item = must(
            catalog::get_item_in(cloud.table.as_ref(), &tenant, VENDOR, &format!("kt-{i}")).await,
        )
        .unwrap_or_else(|| panic!("kt-{i} in DynamoDB"));
        assert_eq!(item.price_minor, Some(410));
    }
    let state = must(fetcher.state(&tenant, provider).await);
    assert_eq!(state.watermark, Some(at(3)), "kept in DynamoDB");
    assert!(
        fake.list_queries()
            .iter()
            .all(|q| !q.contains("updated_since")),
        "the first pull is full"
    );

    // At the vendor: a price change and a deletion; the next sync is a delta.
    {
        let mut r = fake.records();
        r[1].price = "4.60".into();
        r[1].updated_at = at(100);
        r[2].deleted_at = Some(at(110));
    }
    let asked = fake.list_queries().len();
    let report = must(fetcher.sync(&tenant, provider, state.watermark).await);
    assert_eq!((report.changed, report.deleted), (1, 1), "{report:?}");
    let queries = &fake.list_queries()[asked..];
    assert_eq!(
        queries,
        [format!(
            "updated_since={}&limit=2",
            at(3).to_rfc3339().replace(':', "%3A")
        )]
    );
    let changed = must(catalog::get_item_in(cloud.table.as_ref(), &tenant, VENDOR, "kt-2").await)
        .unwrap_or_else(|| panic!("kt-2"));
    assert_eq!(changed.price_minor, Some(460));
    assert!(
        must(catalog::get_item_in(cloud.table.as_ref(), &tenant, VENDOR, "kt-3").await).is_none()
    );
    assert_eq!(
        must(fetcher.state(&tenant, provider).await).watermark,
        Some(at(110))
    );
}

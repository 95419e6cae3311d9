//! The webhook path in the cloud shape: the real function handlers (webhook-ingress,
//! signature-check, validate) invoked with real Lambda event shapes, wired to DynamoDB, SQS,
//! S3, EventBridge and Secrets Manager on moto server.

mod support;

use std::sync::Arc;
use std::time::Duration;
use support::cloud::as_sqs_event;

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

    // The delivery log on DynamoDB: both deliveries by time (pages of one item per shard, so
    // the shards are merged across pages), and the forged one's story starts at its receipt.
    let now = tillbridge_ports::Clock::now(&SystemClock);
    let mut pos = Some(tillbridge_sync::deliveries::Position::from(
        now.plus_seconds(-3600),
    ));
    let mut listed = Vec::new();
    while let Some(p) = pos {
        let (rows, next) =
            tillbridge_sync::deliveries::scan(cloud.table.as_ref(), &tenant, &p, now, 1)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        listed.extend(rows);
        pos = next;
    }
    let ids: Vec<&str> = listed
        .iter()
        .map(|r| r["delivery_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), 2, "{listed:?}");
    assert!(ids[0] < ids[1], "oldest first");
    assert!(ids.contains(&q[0].delivery_id.as_str()));
    let story = tillbridge_sync::trail::history(cloud.table.as_ref(), &tenant, &q[0].delivery_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<&str> = story
        .iter()
        .map(|s| s["step"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(steps, ["received", "quarantined"]);
}

/// A signed Shopify `products/update` of product `n` as API Gateway hands it to
/// webhook-ingress (the sample event with its body, signature and webhook id replaced).
fn shopify_webhook(n: u64) -> lambda_http::Request {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let body = format!(
        r#"{{"id":{n},"title":"Tea {n}","status":"active","updated_at":"2026-03-01T10:00:00Z","variants":[{{"id":{},"title":"Default Title","price":"4.50","sku":"TEA-{n}","updated_at":"2026-03-01T10:00:00Z"}}]}}"#,
        n * 10 + 1
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"demo-shopify-client-secret")
        .unwrap_or_else(|e| panic!("{e}"));
    mac.update(body.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../events/lambda/apigw-webhook-shopify.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    event["body"] = serde_json::json!(b64.encode(&body));
    event["headers"]["x-shopify-hmac-sha256"] =
        serde_json::json!(b64.encode(mac.finalize().into_bytes()));
    event["headers"]["x-shopify-webhook-id"] = serde_json::json!(format!("cost-{n}"));
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// AWS requests and dollars per million webhooks (issue 17, README "Load model"): signed
/// webhooks through the three functions of the webhook path with every adapter wrapped in the
/// metering decorators the functions run with; the per-tenant infrastructure usage they file
/// (DynamoDB, SQS, EventBridge, S3, Lambda and HTTP API requests) priced at the bundled
/// us-east-1 list prices, against the floor any design pays (one HTTP API request, one Lambda
/// invocation, one DynamoDB write). Lambda duration is left out: on the emulator it measures
/// moto, not the function. Prints the table; run with `--nocapture` to read it.
#[tokio::test]
async fn what_a_million_webhooks_cost_at_list_prices() {
    use tillbridge_accounting::metering::Metering;
    use tillbridge_ports::meter::{Meter, MeteredBlobs, MeteredBus, MeteredQueue, MeteredTable};
    const N: u64 = 40;
    let cloud = provision().await;
    let raw: Arc<dyn tillbridge_ports::Table> = cloud.table.clone();
    let metering = |function: &'static str, meter: &Arc<Meter>| Metering {
        meter: meter.clone(),
        table: raw.clone(),
        clock: Arc::new(SystemClock),
        function,
        memory_mb: 128,
    };
    let table = |meter: &Arc<Meter>| -> Arc<dyn tillbridge_ports::Table> {
        Arc::new(MeteredTable {
            inner: raw.clone(),
            meter: meter.clone(),
        })
    };
    let blobs = |meter: &Arc<Meter>| -> Arc<dyn tillbridge_ports::BlobStore> {
        Arc::new(MeteredBlobs {
            inner: cloud.check.blobs.clone(),
            meter: meter.clone(),
        })
    };
    let (m_in, m_check, m_validate) = (
        Arc::new(Meter::default()),
        Arc::new(Meter::default()),
        Arc::new(Meter::default()),
    );
    let ingress = Ingress {
        directory: cloud.ingress.directory.clone(),
        queue: Arc::new(MeteredQueue {
            inner: cloud.ingress.queue.clone(),
            meter: m_in.clone(),
        }),
        blobs: blobs(&m_in),
        table: table(&m_in),
        clock: cloud.ingress.clock.clone(),
    };
    let check = SignatureCheck {
        directory: cloud.check.directory.clone(),
        secrets: cloud.check.secrets.clone(),
        blobs: blobs(&m_check),
        table: table(&m_check),
        bus: Arc::new(MeteredBus {
            inner: cloud.check.bus.clone(),
            meter: m_check.clone(),
        }),
        clock: cloud.check.clock.clone(),
    };
    let validate = validate::Deps {
        table: table(&m_validate),
        blobs: blobs(&m_validate),
        bus: cloud.check.bus.clone(),
        destinations: None,
    };
    let (in_metering, check_metering, validate_metering) = (
        metering("webhook-ingress", &m_in),
        metering("signature-check", &m_check),
        metering("validate", &m_validate),
    );

    for n in 1..=N {
        let r = webhook_ingress::handle(&ingress, Some(&in_metering), shopify_webhook(n)).await;
        assert_eq!(r.status(), 202);
    }
    let mut checked = 0;
    while checked < N as usize {
        let (event, receipts) = as_sqs_event(&cloud.inbound, 10).await;
        assert!(!event.records.is_empty(), "inbound drained early");
        checked += event.records.len();
        let r = signature_check::handle(&check, Some(&check_metering), event).await;
        assert!(r.batch_item_failures.is_empty());
        for rc in receipts {
            cloud
                .inbound
                .delete(&rc)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let mut applied = 0;
    while applied < N as usize {
        let (event, receipts) = as_sqs_event(&cloud.catalog_queue, 10).await;
        assert!(!event.records.is_empty(), "catalog queue drained early");
        applied += event.records.len();
        let r = validate::handle(&validate, Some(&validate_metering), event, &|| false).await;
        assert!(r.batch_item_failures.is_empty());
        for rc in receipts {
            cloud
                .catalog_queue
                .delete(&rc)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let tenant = TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}"));
    let live = catalog::list_items(raw.as_ref(), &tenant)
        .await
        .unwrap_or_default();
    assert_eq!(live.len() as u64, N, "every webhook's item in DynamoDB");

    let period = tillbridge_accounting::period_of(tillbridge_ports::Clock::now(&SystemClock));
    let mut usage = tillbridge_accounting::infra_usage(raw.as_ref(), &tenant, &period)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    usage.lambda_mb_ms = 0;
    // Every webhook was metered: one HTTP API request and one record in each function.
    assert_eq!(usage.http_api_requests, N);
    assert_eq!(usage.lambda_requests, 3 * N);
    assert!(usage.dynamodb_wru >= N, "{usage:?}");
    let prices = tillbridge_costs::infra::AwsPrices::us_east_1();
    let per_million = |u: &tillbridge_costs::infra::InfraUsage| {
        u.cost(&prices) * rust_decimal::Decimal::from(1_000_000) / rust_decimal::Decimal::from(N)
    };
    let floor = tillbridge_costs::infra::InfraUsage {
        http_api_requests: N,
        lambda_requests: N,
        dynamodb_wru: N,
        ..Default::default()
    };
    let (measured, least) = (per_million(&usage), per_million(&floor));
    println!(
        "per webhook: {:.1} DynamoDB WRU, {:.1} RRU, {:.1} SQS requests, {:.1} EventBridge events, \
         {:.1} S3 PUT, {:.1} S3 GET, {} Lambda records, 1 HTTP API request",
        usage.dynamodb_wru as f64 / N as f64,
        usage.dynamodb_rru as f64 / N as f64,
        usage.sqs_requests as f64 / N as f64,
        usage.eventbridge_events as f64 / N as f64,
        usage.s3_put as f64 / N as f64,
        usage.s3_get as f64 / N as f64,
        usage.lambda_requests / N,
    );
    println!(
        "per million webhooks at us-east-1 list prices (requests, no Lambda duration): \
         ${} measured vs ${} floor ({:.1}x)",
        measured.round_dp(2),
        least.round_dp(2),
        (measured / least).round_dp(1)
    );
    assert!(measured > least);
}

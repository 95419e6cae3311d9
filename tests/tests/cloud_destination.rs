//! A migration into the merchant's new system through the deployed functions' handlers on
//! the AWS emulator (issue 15): the api function starts it (`destination: square`),
//! mapping-suggest suggests, the api approves, validate validates, applies and writes to the
//! fake Square (credentials in Secrets Manager), a Shopify change arriving during the cutover
//! flows there, the api switches, and the rollback function undoes it at Square and verifies
//! by reading back. Events travel EventBridge → SQS as the template routes them; DynamoDB, S3,
//! SQS, EventBridge and Secrets Manager are moto's. The fake Square (shared/connectors' fake)
//! stands in for Square's API.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::cloud::run_batch;

use lambda_http::{Body, Request, RequestExt, http};
use tillbridge_aws::moto::{Moto, provision};
use tillbridge_aws::{
    DynamoTable, EventBridgeBus, S3Blobs, SecretsManagerStore, SqsQueue, emulator_config, s3_client,
};
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_domain::event::{EventData, ItemUpserted, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{
    CatalogItem, CorrelationId, Currency, Envelope, Provider, Secret, TenantId,
};
use tillbridge_migration::destination::TenantDestinations;
use tillbridge_ports::tenants::{ApiCredentials, ProviderConfig, TableDirectory, TenantConfig};
use tillbridge_ports::{BlobStore, EventBus, SecretStore, SystemClock, Table};

const OPERATOR: &str = "arn:aws:iam::123456789012:user/ana";

fn unique(name: &str) -> String {
    format!(
        "{name}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

struct Cloud {
    api: api::Api,
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    bus: Arc<dyn EventBus>,
    dests: Arc<TenantDestinations>,
    mapping: SqsQueue,
    migration: SqsQueue,
    rollback: SqsQueue,
    catalog: SqsQueue,
}

/// The queues and rules of the template's migration path (MappingRule, MigrationRule,
/// RollbackRule, ValidateRule), the tenant with `dest`'s API pointed at the fake at `url`
/// with `credentials` in Secrets Manager (and a Shopify webhook source).
async fn provision(dest: Provider, url: &str, credentials: &[(&str, &str)]) -> Cloud {
    let moto = Moto::shared().unwrap();
    let cfg = emulator_config(&moto.endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let s3 = s3_client(&cfg);
    let table_name = unique("tillbridge");
    provision::table(&ddb, &table_name).await.unwrap();
    let bucket = unique("tillbridge");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let bus_name = unique("bus");
    eb.create_event_bus().name(&bus_name).send().await.unwrap();
    let mut queues = BTreeMap::new();
    for (name, pattern) in [
        ("mapping", r#"["migration.requested"]"#),
        (
            "migration",
            r#"["migration.mapping.approved","migration.apply.requested","migration.cutover.requested"]"#,
        ),
        ("rollback", r#"["migration.rollback.requested"]"#),
        ("catalog", r#"[{"prefix":"pos."}]"#),
    ] {
        let url = provision::queue(&sqs, &unique(name)).await.unwrap();
        let rule = unique(name);
        eb.put_rule()
            .name(&rule)
            .event_bus_name(&bus_name)
            .event_pattern(format!(
                r#"{{"source":["tillbridge"],"detail-type":{pattern}}}"#
            ))
            .send()
            .await
            .unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id(name)
            .arn(provision::queue_arn(&sqs, &url).await.unwrap())
            .build()
            .unwrap();
        eb.put_targets()
            .rule(&rule)
            .event_bus_name(&bus_name)
            .targets(target)
            .send()
            .await
            .unwrap();
        queues.insert(name, SqsQueue::new(sqs.clone(), url));
    }
    let clock = Arc::new(SystemClock);
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(ddb, table_name, clock.clone()));
    let directory = Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(0)));
    let secrets = Arc::new(SecretsManagerStore::new(sm, format!("{}/", unique("tb"))));
    let blobs: Arc<dyn BlobStore> = Arc::new(S3Blobs::new(s3, bucket));
    let bus: Arc<dyn EventBus> = Arc::new(EventBridgeBus::new(eb, bus_name));

    let tenant = TenantId::parse("t1").unwrap();
    let target = ProviderConfig {
        api_base_url: Some(url.to_owned()),
        ..ProviderConfig::default()
    };
    let mut providers: BTreeMap<Provider, ProviderConfig> =
        [(Provider::Shopify, ProviderConfig::default())].into();
    providers.insert(dest, target);
    directory
        .put(&TenantConfig {
            providers: providers.into_iter().collect(),
            ..TenantConfig::new(tenant.clone(), Currency::USD)
        })
        .await
        .unwrap();
    secrets
        .put_api_credentials(
            &tenant,
            dest,
            &ApiCredentials::new(
                credentials
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                    .collect(),
            ),
        )
        .await
        .unwrap();
    let dests = Arc::new(TenantDestinations {
        table: table.clone(),
        clock: clock.clone(),
        directory: directory.clone(),
        secrets: secrets.clone(),
        http: Some(tillbridge_migration::destination::bounded_http),
    });
    let mut take = |n: &str| queues.remove(n).unwrap();
    let (mapping, migration, rollback, catalog) = (
        take("mapping"),
        take("migration"),
        take("rollback"),
        take("catalog"),
    );
    let api = api::Api {
        directory,
        secrets,
        table: table.clone(),
        prices: std::sync::LazyLock::new(Box::new(|| {
            Arc::new(tillbridge_costs::PriceBook::bundled())
        })),
        blobs: blobs.clone(),
        bus: bus.clone(),
        inbound: Arc::new(tillbridge_ports::TableQueue::new(
            "inbound",
            table.clone(),
            clock.clone(),
        )),
        clock,
        syncs: None,
        dead_letters: Vec::new(),
        admins: vec![OPERATOR.to_owned()],
    };
    Cloud {
        api,
        table,
        blobs,
        bus,
        dests,
        mapping,
        migration,
        rollback,
        catalog,
    }
}

/// A request as API Gateway passes it on after IAM authorization of the operator.
fn request(method: &str, uri: &str, body: Vec<u8>) -> Request {
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
        ApiGatewayV2httpRequestContext,
    };
    let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
    iam.user_arn = Some(OPERATOR.to_owned());
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.iam = Some(iam);
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.authorizer = Some(authorizer);
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::Binary(body))
        .unwrap()
        .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(ctx))
}

async fn call(cloud: &Cloud, method: &str, uri: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let r = api::handle(&cloud.api, request(method, uri, body)).await;
    let status = r.status().as_u16();
    let v = serde_json::from_slice(r.body().as_ref()).unwrap_or_default();
    (status, v)
}

/// Runs the functions' handlers on their queues until `done` or 60 s.
async fn pump(cloud: &Cloud, what: &str, done: impl Fn(&serde_json::Value) -> bool, id: &str) {
    let mapping = mapping_suggest::Deps {
        table: cloud.table.clone(),
        blobs: cloud.blobs.clone(),
        bus: cloud.bus.clone(),
        refiner: None,
    };
    let validate = validate::Deps {
        table: cloud.table.clone(),
        blobs: cloud.blobs.clone(),
        bus: cloud.bus.clone(),
        destinations: Some(cloud.dests.clone()),
    };
    let rollback = rollback::Deps {
        table: cloud.table.clone(),
        blobs: cloud.blobs.clone(),
        bus: cloud.bus.clone(),
        destinations: Some(cloud.dests.clone()),
    };
    for _ in 0..300 {
        let (status, m) = call(cloud, "GET", &format!("/v1/migrations/{id}"), Vec::new()).await;
        assert_eq!(status, 200, "{m}");
        if done(&m) {
            return;
        }
        run_batch(&cloud.mapping, |e| {
            mapping_suggest::handle(&mapping, None, e)
        })
        .await;
        for q in [&cloud.migration, &cloud.catalog] {
            run_batch(q, |e| validate::handle(&validate, None, e, &|| false)).await;
        }
        run_batch(&cloud.rollback, |e| {
            rollback::handle(&rollback, None, e, &|| false)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

fn live_at_square(fake: &FakeSquare) -> Vec<String> {
    let mut names: Vec<String> = fake
        .catalog()
        .items
        .iter()
        .filter(|i| !i.deleted)
        .map(|i| i.name.clone())
        .collect();
    names.sort();
    names
}

/// A Shopify product update as the signature-check stage publishes it (normalized).
fn shopify_update(product: &str, variant: &str, name: &str, price: i64) -> Envelope {
    let mut item = CatalogItem::new(variant);
    item.parent_id = Some(product.into());
    item.name = Some(name.into());
    item.sku = Some(format!("SH-{variant}"));
    item.price_minor = Some(price);
    item.currency = Some(Currency::USD);
    let now = tillbridge_ports::Clock::now(&SystemClock);
    Envelope {
        event_id: derive_event_id(&format!("shopify/{variant}/{price}"), 0),
        body: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
            item,
            inventory_item_id: None,
            parent_variants: None,
            product_variants: None,
        })),
        schema_version: SCHEMA_VERSION,
        tenant_id: TenantId::parse("t1").unwrap(),
        provider: Some(Provider::Shopify),
        entity_id: variant.into(),
        occurred_at: now,
        received_at: now,
        correlation_id: CorrelationId::parse("cutover-test").unwrap(),
        delivery_key: None,
    }
}

/// Starts a migration of three teas from `source` into `dest` through the api function,
/// approves it after mapping-suggest and runs it to completion; returns its id.
async fn migrate(cloud: &Cloud, source: &str, dest: &str) -> String {
    let records: Vec<serde_json::Value> = (1..=3)
        .map(|i| serde_json::json!({"id": format!("m{i}"), "name": format!("Tea {i}"), "sku": format!("TEA-{i}"), "category": "Tea", "price": format!("3.{i:02}")}))
        .collect();
    let body = serde_json::json!({"tenant_id": "t1", "source_name": source, "export": records, "destination": dest});
    let (status, m) = call(
        cloud,
        "POST",
        "/v1/migrations",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    let id = m["id"].as_str().unwrap().to_owned();
    pump(
        cloud,
        "suggestions",
        |m| m["status"] == "mapping_review",
        &id,
    )
    .await;
    let (status, m) = call(
        cloud,
        "POST",
        &format!("/v1/migrations/{id}/approve"),
        Vec::new(),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    pump(
        cloud,
        "the apply and the write",
        |m| m["status"] == "completed",
        &id,
    )
    .await;
    id
}

/// Rolls `id` back through the api and rollback functions; returns the rollback report.
async fn roll_back(cloud: &Cloud, id: &str) -> serde_json::Value {
    let (status, m) = call(
        cloud,
        "POST",
        &format!("/v1/migrations/{id}/rollback"),
        Vec::new(),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    pump(cloud, "the rollback", |m| m["status"] == "rolled_back", id).await;
    let (status, report) = call(
        cloud,
        "GET",
        &format!("/v1/migrations/{id}/rollback-report"),
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_lands_at_square_through_the_functions_and_rolls_back_there() {
    let fake = FakeSquare::start(
        "tok",
        Catalog {
            locations: vec![("L1".into(), "Main".into())],
            list_page: 100,
            ..Catalog::default()
        },
    )
    .await
    .unwrap();
    let cloud = provision(
        Provider::Square,
        &fake.server.base_url,
        &[("access_token", "tok")],
    )
    .await;

    let id = migrate(&cloud, "shopify", "square").await;
    assert_eq!(live_at_square(&fake), ["Tea 1", "Tea 2", "Tea 3"]);
    let (_, m) = call(&cloud, "GET", &format!("/v1/migrations/{id}"), Vec::new()).await;
    assert_eq!(m["progress"]["destination"]["written"], 3, "{m}");

    // The cutover: a Shopify change on the bus reaches Square through validate.
    tillbridge_ports::publish(
        cloud.bus.as_ref(),
        &[shopify_update("7", "71", "Chai", 450)],
    )
    .await
    .unwrap();
    pump(
        &cloud,
        "the change flowed",
        |m| m["cutover"]["flowed"]["created"] == 1,
        &id,
    )
    .await;
    assert_eq!(live_at_square(&fake), ["Chai", "Tea 1", "Tea 2", "Tea 3"]);

    let (status, m) = call(
        &cloud,
        "POST",
        &format!("/v1/migrations/{id}/switch"),
        Vec::new(),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    assert_eq!(m["cutover"]["ended_by"], "switched", "{m}");

    let report = roll_back(&cloud, &id).await;
    assert_eq!(live_at_square(&fake), Vec::<String>::new());
    assert_eq!(report["verified"], true, "{report}");
    // Four products and the "Tea" category the migration made.
    assert_eq!(report["destination"]["deleted"], 5, "{report}");
    assert!(fake.catalog().categories.is_empty(), "{report}");
    assert_eq!(report["destination"]["verified"], true, "{report}");
}

/// The other writers the same way through the functions: WooCommerce, Shopify, BigCommerce and Zettle
/// (each fake speaking its vendor's wire format, holding one product of the merchant's own);
/// after the rollback each is exactly as before, verified by reading back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_shopify_bigcommerce_and_zettle_round_trip_through_the_functions() {
    use tillbridge_connectors::fake::{bigcommerce, shopify, woocommerce, zettle};
    let at = tillbridge_domain::Timestamp::from_unix_seconds(1_735_689_600).unwrap();
    let woo = woocommerce::FakeWooCommerce::start(
        "ck_e2e",
        "cs_e2e",
        woocommerce::Store {
            products: vec![woocommerce::simple(
                7,
                "Merchant's own mug",
                "3.00",
                Some(4),
                at,
            )],
            variations: Vec::new(),
        },
    )
    .await
    .unwrap();
    let shop = shopify::FakeShopify::start(
        "shpat_e2e",
        shopify::Shop {
            products: vec![shopify::product(
                1,
                "Merchant's own mug",
                &[(11, "Default Title", "3.00", 4, 0)],
                at,
            )],
            maximum_available: 1_000_000.0,
            restore_rate: 1_000_000.0,
            ..shopify::Shop::default()
        },
    )
    .await
    .unwrap();
    let big = bigcommerce::FakeBigCommerce::start(
        "bc_e2e",
        bigcommerce::Store {
            products: vec![bigcommerce::product(
                5,
                "Merchant's own mug",
                "3.00",
                &[],
                at,
            )],
        },
    )
    .await
    .unwrap();
    let zet = zettle::FakeZettle::start(
        "zt_e2e",
        zettle::Organization {
            products: Vec::new(),
            currency: "USD".into(),
            page: 100,
        },
    )
    .await
    .unwrap();
    zet.put_product(
        serde_json::json!({"uuid": "0a0a0a0a-0000-1000-8000-00000000a001", "name": "Merchant's own mug",
            "variants": [{"uuid": "0a0a0a0a-0000-1000-8000-00000000b001", "name": "", "sku": "MUG-1",
                          "price": {"amount": 300, "currencyId": "USD"}}]}),
        &[("0a0a0a0a-0000-1000-8000-00000000b001", 4)],
    );
    type Products<'a> = Box<dyn Fn() -> Vec<serde_json::Value> + 'a>;
    type Target<'a> = (Provider, &'a str, Vec<(&'a str, &'a str)>, Products<'a>);
    let targets: [Target; 4] = [
        (
            Provider::WooCommerce,
            woo.server.base_url.as_str(),
            vec![("consumer_key", "ck_e2e"), ("consumer_secret", "cs_e2e")],
            Box::new(|| woo.store().products.clone()),
        ),
        (
            Provider::Shopify,
            shop.server.base_url.as_str(),
            vec![("access_token", "shpat_e2e")],
            Box::new(|| shop.shop().products.clone()),
        ),
        (
            Provider::BigCommerce,
            big.server.base_url.as_str(),
            vec![("access_token", "bc_e2e")],
            Box::new(|| big.store().products.clone()),
        ),
        (
            Provider::Zettle,
            zet.server.base_url.as_str(),
            vec![("access_token", "zt_e2e")],
            // The library and every variant's balance.
            Box::new(|| {
                let w = zet.writes();
                let mut out: Vec<serde_json::Value> = w.products.values().cloned().collect();
                out.push(serde_json::to_value(&w.balances).unwrap_or_default());
                out
            }),
        ),
    ];
    for (provider, url, credentials, products) in targets {
        let before = products();
        let cloud = provision(provider, url, &credentials).await;
        let id = migrate(&cloud, "legacy", provider.as_str()).await;
        assert_eq!(
            products().len(),
            before.len() + 3,
            "{provider}: {:?}",
            products()
        );
        let report = roll_back(&cloud, &id).await;
        // Three products, and the "Tea" category the migration made (Shopify has no
        // category objects: the product type).
        let made = usize::from(provider != Provider::Shopify);
        assert_eq!(
            report["destination"]["deleted"],
            3 + made,
            "{provider}: {report}"
        );
        assert_eq!(
            report["destination"]["verified"], true,
            "{provider}: {report}"
        );
        assert_eq!(products(), before, "{provider}: as it was");
    }
}

//! The Zettle client against the fake Zettle: library pages by `Link`, variants, open prices,
//! stock per inventory, deltas by event log with deleted products, fetch by UUID, refusals
//! and rate limiting.

mod common;

use std::time::Duration;

use common::{after_throttle, at, env, fast, malformed_path, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::zettle::{
    FakeProduct, FakeVariant, FakeZettle, Organization, rate_limited, uuid_v1,
};
use tillbridge_connectors::zettle::uuid_v1_time;
use tillbridge_connectors::{ConnectorError, ObjectKind, VendorApi, ZettleClient, pull};
use tillbridge_domain::{Currency, Secret};

const STORE: &str = "6e5e8d52-5ce0-11ec-bf63-0242ac130002";
const STORE2: &str = "8c92da3c-2de9-11ed-ba03-2f8a52174076";

fn product(i: usize, secs: i64) -> FakeProduct {
    FakeProduct {
        uuid: format!("00000000-0000-1000-8000-{i:012}"),
        name: format!("Product {i}"),
        updated: at(secs),
        deleted_at: None,
        variants: (0..2)
            .map(|v| FakeVariant {
                uuid: format!("00000000-0000-1000-9{v:03}-{i:012}"),
                name: format!("Size {v}"),
                price: Some(1000 + v as i64),
                stock: vec![(STORE.into(), "3".into()), (STORE2.into(), "1.5".into())],
            })
            .collect(),
    }
}

fn org(n: usize, page: usize) -> Organization {
    Organization {
        products: (0..n).map(|i| product(i, 0)).collect(),
        currency: "SEK".into(),
        page,
    }
}

async fn start(token: &str, o: Organization) -> (FakeZettle, ZettleClient) {
    start_as(token, token, o).await
}

/// A fake accepting `token` and a client presenting `presented`.
async fn start_as(token: &str, presented: &str, o: Organization) -> (FakeZettle, ZettleClient) {
    let fake = FakeZettle::start(token, o).await.expect("fake");
    let (env, _) = env();
    let client = ZettleClient::new(
        Some(&fake.server.base_url),
        &Secret::new(presented),
        fast(3),
        &env,
    )
    .expect("client");
    (fake, client)
}

#[test]
fn event_log_uuids_carry_their_time() {
    assert_eq!(uuid_v1_time(&uuid_v1(at(42))), Some(at(42)));
    assert_eq!(
        uuid_v1_time("89f9d200-fb8a-11ea-adc1-0242ac120002")
            .map(|t| t.to_rfc3339()[..10].to_owned()),
        Some("2020-09-20".to_owned())
    );
    assert_eq!(uuid_v1_time("not-a-uuid"), None);
}

#[tokio::test]
async fn full_pull_follows_link_pages_and_maps_variants_with_stock() {
    let (fake, client) = start("zt-full", org(25, 10)).await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 50, "two variants each");
    assert_eq!(pulled.fetched, 75);
    assert_eq!(pulled.watermark, Some(at(0)));
    let first = &pulled.items[0];
    assert_eq!(
        first.item.parent_id.as_deref(),
        Some("00000000-0000-1000-8000-000000000000")
    );
    assert_eq!(first.item.name.as_deref(), Some("Product 0"));
    assert_eq!(first.item.variant_name.as_deref(), Some("Size 0"));
    assert_eq!(
        (first.item.price_minor, first.item.currency),
        (Some(1000), Some(Currency::parse("SEK").expect("SEK")))
    );
    assert_eq!(first.item.category.as_deref(), Some("Coffee"));
    assert_eq!(first.item.tax_rate_percent, Some(Decimal::new(125, 1)));
    assert_eq!(first.item.quantity_on_hand, Some(Decimal::new(45, 1)));
    assert_eq!(first.stock_by_location[STORE], Decimal::from(3));
    assert_eq!(first.stock_by_location[STORE2], Decimal::new(15, 1));
    let log = fake.server.control.log();
    let library = log
        .iter()
        .filter(|l| l.line == "GET /organizations/self/library")
        .count();
    let stock = log.iter().filter(|l| l.line == "GET /v3/stock").count();
    assert_eq!(
        (library, stock),
        (3, 10),
        "10 products a page; 100 stock records, 10 a page"
    );
}

#[tokio::test]
async fn delta_by_event_log_brings_changes_and_deleted_products() {
    let (fake, client) = start("zt-delta", org(3, 10)).await;
    let full = pull(&client, None).await.expect("full");
    {
        let mut o = fake.org();
        o.products[0].variants[0].price = None;
        o.products[0].updated = at(10);
        o.products[1].deleted_at = Some(at(20));
    }
    let delta = pull(&client, full.watermark).await.expect("delta");
    assert_eq!(delta.items.len(), 2, "product 0's two variants");
    assert_eq!(
        delta.items[0].item.price_minor, None,
        "no price: priced at the till"
    );
    assert_eq!(delta.tombstones.len(), 1);
    let t = &delta.tombstones[0];
    assert_eq!(
        (t.external_id.as_str(), t.kind, t.deleted_at),
        (
            "00000000-0000-1000-8000-000000000001",
            ObjectKind::Product,
            at(20)
        )
    );
    assert_eq!(delta.watermark, Some(at(20)));
    let again = pull(&client, delta.watermark).await.expect("empty");
    assert!(again.items.is_empty() && again.tombstones.is_empty());
    let asked = fake
        .server
        .control
        .log()
        .iter()
        .filter(|l| l.line == "GET /organizations/self/library")
        .count();
    assert_eq!(asked, 3);
}

#[tokio::test]
async fn delta_from_an_unknown_watermark_filters_by_update_time() {
    let mut o = org(3, 10);
    o.products[2].updated = at(50);
    let (_fake, client) = start("zt-cold", o).await;
    let delta = pull(&client, Some(at(5))).await.expect("delta");
    assert_eq!(delta.items.len(), 2);
    assert_eq!(
        delta.items[0].item.parent_id.as_deref(),
        Some("00000000-0000-1000-8000-000000000002")
    );
    assert_eq!(delta.watermark, Some(at(50)));
}

#[tokio::test]
async fn fetch_by_product_uuid_reports_missing_ones() {
    let (_fake, client) = start("zt-fetch", org(2, 10)).await;
    let page = client
        .fetch(&[
            "00000000-0000-1000-8000-000000000001".into(),
            "00000000-0000-1000-8000-000000000099".into(),
        ])
        .await
        .expect("fetch");
    assert_eq!(page.items.len(), 2);
    assert_eq!(
        page.missing,
        vec!["00000000-0000-1000-8000-000000000099".to_owned()]
    );
    let locations = client.locations().await.expect("locations");
    assert_eq!(locations.len(), 2);
}

#[tokio::test]
async fn a_bad_token_is_refused_with_zettles_reason() {
    let (_fake, client) = start_as("right", "wrong", org(1, 10)).await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert_eq!(reason, "The access token is invalid or has expired");
    assert_eq!(client.stats().api_calls, 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for() {
    let (fake, client) = start("zt-429", org(1, 10)).await;
    let throttle = rate_limited().header("Retry-After", "1");
    let wait = Duration::from_secs(1);
    after_throttle(&fake.server.control, throttle, wait, pull(&client, None))
        .await
        .expect("after the wait");
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn malformed_answers_and_foreign_links_are_refused() {
    let (fake, client) = start("zt-bad", org(1, 10)).await;
    fake.server.control.push(Canned::json(200, "[]"), 1);
    fake.server.control.push(
        Canned::json(200, r#"{"products":[{"uuid":"p","updated":"2025-01-01T00:00:00Z","variants":[{"uuid":"v","price":{"amount":1.5,"currencyId":"SEK"}}]}]}"#),
        1,
    );
    let path = malformed_path(client.catalog_page(None).await);
    assert_eq!(path, "products[0].variants[0].price.amount");
    let err = client
        .catalog_page(Some(
            "https://elsewhere.example/organizations/self/library?offset=1",
        ))
        .await
        .expect_err("foreign host");
    assert!(
        matches!(err, ConnectorError::Malformed { ref path, .. } if path == "Link"),
        "{err:?}"
    );
}

/// A new client (another process) handed the position a pull returned resumes the event log
/// from it and sees deletions; without it, a delta walks the library and cannot.
#[tokio::test]
async fn a_new_client_resumes_from_a_handed_back_position_and_sees_deletions() {
    let (fake, client) = start("zt-resume", org(3, 10)).await;
    let full = pull(&client, None).await.expect("full");
    let position = full
        .position
        .clone()
        .expect("the library's untilEventLogUuid");
    let watermark = full.watermark.expect("watermark");
    assert_eq!(uuid_v1_time(&position), Some(watermark));
    fake.org().products[2].deleted_at = Some(at(30));
    let (env, _) = env();
    let fresh = ZettleClient::new(
        Some(&fake.server.base_url),
        &Secret::new("zt-resume"),
        fast(3),
        &env,
    )
    .expect("client");
    let cold = pull(&fresh, Some(watermark)).await.expect("cold delta");
    assert!(cold.tombstones.is_empty(), "no position: deletions unseen");
    fresh.resume(watermark, "not-a-uuid; ignored");
    fresh.resume(watermark, &position);
    let warm = pull(&fresh, Some(watermark)).await.expect("resumed delta");
    assert_eq!(
        external_ids_of(&warm.tombstones),
        vec!["00000000-0000-1000-8000-000000000002"]
    );
}

fn external_ids_of(tombstones: &[tillbridge_connectors::Tombstone]) -> Vec<&str> {
    tombstones.iter().map(|t| t.external_id.as_str()).collect()
}

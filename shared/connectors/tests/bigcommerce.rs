//! The BigCommerce client against the fake store: meta.pagination, variants with inherited
//! prices, delta by date_modified:min, fetch by product or variant id, X-Auth-Token refusals,
//! 429 waited out by X-Rate-Limit-Time-Reset-Ms, malformed prices.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{after_throttle, at, env, external_ids, fast, malformed_path, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::bigcommerce::{FakeBigCommerce, Store, product, rate_limited};
use tillbridge_connectors::{BigCommerceClient, VendorApi, pull};
use tillbridge_domain::{Currency, Secret};

fn store() -> Store {
    let mut s = Store::default();
    for id in 1..=300 {
        s.products.push(product(
            id,
            &format!("Mug {id}"),
            "9.99",
            &[(10_000 + id, "", None, 2)],
            at(0),
        ));
    }
    s.products.push(product(
        900,
        "Tee",
        "20",
        &[(901, "S", None, 1), (902, "XL", Some("22.5"), 0)],
        at(0),
    ));
    s
}

async fn start(token: &str) -> (FakeBigCommerce, BigCommerceClient) {
    start_as(token, token).await
}

/// A fake accepting `token` and a client presenting `presented`.
async fn start_as(token: &str, presented: &str) -> (FakeBigCommerce, BigCommerceClient) {
    let fake = FakeBigCommerce::start(token, store()).await.expect("fake");
    let (env, _) = env();
    let client = BigCommerceClient::new(
        &fake.server.base_url,
        &Secret::new(presented),
        Currency::USD,
        fast(3),
        &env,
    )
    .expect("client");
    (fake, client)
}

#[tokio::test]
async fn full_pull_walks_meta_pagination_one_item_per_variant() {
    let (fake, client) = start("bc-full").await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 302);
    assert_eq!(pulled.fetched, 301 + 302);
    assert_eq!(fake.server.control.requests(), 2, "250 per page");
    let by_id: BTreeMap<&str, _> = pulled
        .items
        .iter()
        .map(|i| (i.item.external_id.as_str(), i))
        .collect();
    let small = &by_id["901"].item;
    assert_eq!(
        (small.name.as_deref(), small.variant_name.as_deref()),
        (Some("Tee"), Some("S"))
    );
    assert_eq!(
        small.price_minor,
        Some(2000),
        "a null variant price inherits the product's"
    );
    assert_eq!(small.parent_id.as_deref(), Some("900"));
    assert_eq!(by_id["902"].item.price_minor, Some(2250));
    assert_eq!(by_id["10001"].item.price_minor, Some(999));
    assert_eq!(by_id["10001"].item.variant_name, None);
    assert_eq!(
        by_id["10001"].stock_by_location,
        BTreeMap::from([("default".to_owned(), Decimal::from(2))])
    );
}

#[tokio::test]
async fn delta_returns_products_modified_since_the_watermark() {
    let (fake, client) = start("bc-delta").await;
    fake.store().products[4] = product(5, "Mug 5 v2", "10.49", &[(10_005, "", None, 2)], at(90));
    let delta = pull(&client, Some(at(1))).await.expect("delta");
    assert_eq!(delta.items.len(), 1);
    assert_eq!(delta.items[0].item.name.as_deref(), Some("Mug 5 v2"));
    assert_eq!(delta.items[0].item.price_minor, Some(1049));
    assert_eq!(delta.watermark, Some(at(90)));
}

#[tokio::test]
async fn fetch_by_variant_id_returns_only_that_variant_and_reports_missing() {
    let (_fake, client) = start("bc-fetch").await;
    let page = client
        .fetch(&["902".into(), "7".into(), "424242".into()])
        .await
        .expect("fetch");
    let ids = external_ids(&page.items);
    assert_eq!(ids, vec!["10007", "902"]);
    assert_eq!(page.missing, vec!["424242".to_owned()]);
    let locations = client.locations().await.expect("locations");
    assert_eq!(locations[0].id, "1");
}

#[tokio::test]
async fn a_bad_token_is_refused_with_bigcommerces_title() {
    let (_fake, client) = start_as("right", "wrong").await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert!(reason.starts_with("Invalid credentials"), "{reason}");
}

#[tokio::test]
async fn a_429_waits_for_the_rate_limit_window_reset() {
    let (fake, client) = start("bc-429").await;
    let wait = Duration::from_millis(1200);
    let page = client.catalog_page(None);
    after_throttle(&fake.server.control, rate_limited(1200), wait, page)
        .await
        .expect("after the reset");
}

#[tokio::test]
async fn a_price_that_is_not_a_number_is_malformed_at_its_path() {
    let (fake, client) = start("bc-bad").await;
    let body = r#"{"data":[{"id":1,"name":"A","price":"cheap","variants":[]}],"meta":{}}"#;
    fake.server.control.push(Canned::json(200, body), 1);
    let path = malformed_path(client.catalog_page(None).await);
    assert_eq!(path, "data[0].price");
}

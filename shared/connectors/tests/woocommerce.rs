//! The WooCommerce client against the fake store: pages by X-WP-TotalPages, variations,
//! delta by modified_after, trash as tombstones, Basic auth refusals, 429 with Retry-After.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{after_throttle, at, env, fast, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::woocommerce::{
    FakeWooCommerce, Store, simple, variable, variation,
};
use tillbridge_connectors::{ObjectKind, VendorApi, WooCommerceClient, pull};
use tillbridge_domain::{Currency, Secret};

fn store() -> Store {
    let mut s = Store::default();
    for id in 1..=150 {
        s.products
            .push(simple(id, &format!("Bean {id}"), "12.50", Some(4), at(0)));
    }
    s.products.push(variable(500, "Latte", &[501, 502], at(0)));
    s.variations
        .push(variation(501, 500, "S", "3.10", 7, at(0)));
    s.variations
        .push(variation(502, 500, "L", "4.20", 0, at(0)));
    s
}

async fn start(key: &str) -> (FakeWooCommerce, WooCommerceClient) {
    start_as(key, key).await
}

/// A fake accepting `key` and a client presenting `presented`.
async fn start_as(key: &str, presented: &str) -> (FakeWooCommerce, WooCommerceClient) {
    let fake = FakeWooCommerce::start(key, "cs_secret", store())
        .await
        .expect("fake");
    let (env, _) = env();
    let client = WooCommerceClient::new(
        &fake.server.base_url,
        presented,
        &Secret::new("cs_secret"),
        Currency::USD,
        fast(3),
        &env,
    )
    .expect("client");
    (fake, client)
}

#[tokio::test]
async fn full_pull_pages_products_and_expands_variations() {
    let (fake, client) = start("ck_full").await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(
        pulled.items.len(),
        152,
        "150 simple products + 2 variations"
    );
    assert_eq!(pulled.fetched, 153);
    let by_id: BTreeMap<&str, _> = pulled
        .items
        .iter()
        .map(|i| (i.item.external_id.as_str(), i))
        .collect();
    let bean = &by_id["7"].item;
    assert_eq!(bean.name.as_deref(), Some("Bean 7"));
    assert_eq!(bean.price_minor, Some(1250));
    assert_eq!(bean.category.as_deref(), Some("Coffee"));
    assert_eq!(bean.quantity_on_hand, Some(Decimal::from(4)));
    let large = by_id["502"];
    assert_eq!(large.item.name.as_deref(), Some("Latte"));
    assert_eq!(large.item.variant_name.as_deref(), Some("L"));
    assert_eq!(large.item.parent_id.as_deref(), Some("500"));
    assert_eq!(large.item.price_minor, Some(420));
    assert_eq!(
        large.stock_by_location,
        BTreeMap::from([("default".to_owned(), Decimal::ZERO)])
    );
    let lines: Vec<String> = fake
        .server
        .control
        .log()
        .into_iter()
        .map(|l| l.line)
        .collect();
    let listings = lines
        .iter()
        .filter(|l| l.as_str() == "GET /wp-json/wc/v3/products")
        .count();
    assert_eq!(
        listings, 3,
        "2 pages of live products + 1 of trash: {lines:?}"
    );
    assert_eq!(pulled.watermark, Some(at(0)));
}

#[tokio::test]
async fn delta_since_a_watermark_returns_changes_and_trash_as_tombstones() {
    let (fake, client) = start("ck_delta").await;
    {
        let mut s = fake.store();
        s.products[3] = simple(4, "Bean 4 (new)", "13.00", Some(4), at(30));
        s.products[9]["status"] = "trash".into();
        s.products[9]["date_modified_gmt"] = "2025-01-01T00:01:00".into();
    }
    let delta = pull(&client, Some(at(0))).await.expect("delta");
    assert_eq!(delta.items.len(), 1);
    assert_eq!(delta.items[0].item.name.as_deref(), Some("Bean 4 (new)"));
    assert_eq!(delta.items[0].item.price_minor, Some(1300));
    assert_eq!(delta.tombstones.len(), 1);
    assert_eq!(delta.tombstones[0].external_id, "10");
    assert_eq!(delta.tombstones[0].kind, ObjectKind::Product);
    assert_eq!(delta.tombstones[0].deleted_at, at(60));
    assert_eq!(delta.watermark, Some(at(60)));
}

#[tokio::test]
async fn fetch_by_id_reads_a_variation_with_its_parent_and_reports_missing() {
    let (_fake, client) = start("ck_fetch").await;
    let page = client
        .fetch(&["501".into(), "9999".into()])
        .await
        .expect("fetch");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].item.name.as_deref(), Some("Latte"));
    assert_eq!(page.items[0].item.variant_name.as_deref(), Some("S"));
    assert_eq!(page.missing, vec!["9999".to_owned()]);
    let stock = client.stock(&["501".into()]).await.expect("stock");
    assert_eq!(stock[0].quantity, Decimal::from(7));
}

#[tokio::test]
async fn a_bad_key_is_refused_with_woocommerces_reason() {
    let (_fake, client) = start_as("ck_right", "ck_wrong").await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert_eq!(
        reason,
        "woocommerce_rest_authentication_error: Consumer key is invalid."
    );
}

#[tokio::test]
async fn a_host_429_with_retry_after_is_waited_out() {
    let (fake, client) = start("ck_429").await;
    let throttle = Canned::json(
        429,
        r#"{"code":"rate_limited","message":"Too many requests","data":{"status":429}}"#,
    )
    .header("Retry-After", "1");
    let wait = Duration::from_secs(1);
    after_throttle(
        &fake.server.control,
        throttle,
        wait,
        client.catalog_page(None),
    )
    .await
    .expect("after the wait");
    assert_eq!(client.stats().retries, 1);
}

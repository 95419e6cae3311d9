//! The Shopify client against the fake Admin GraphQL endpoint: cursor pages, delta by
//! updated_at, nodes by id, stock per location, 401 reason, THROTTLED retried after the
//! bucket's computed wait, and pacing by query cost that never gets throttled.

mod common;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::{at, env, external_ids, fast, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::shopify::{FakeShopify, Shop, product};
use tillbridge_connectors::http::RateLimit;
use tillbridge_connectors::{HttpConfig, ShopifyClient, VendorApi, pull};
use tillbridge_domain::{Currency, Secret};

fn shop(products: u64) -> Shop {
    let mut s = Shop {
        maximum_available: 1_000_000.0,
        ..Shop::default()
    };
    for id in 1..=products {
        s.products.push(product(
            id,
            &format!("Tee {id}"),
            &[
                (id * 10, "S", "19.99", 3, 1),
                (id * 10 + 1, "L", "21.00", 0, 2),
            ],
            at(0),
        ));
    }
    s
}

async fn start(token: &str, shop: Shop, config: HttpConfig) -> (FakeShopify, ShopifyClient) {
    start_as(token, token, shop, config).await
}

/// A fake accepting `token` and a client presenting `presented`.
async fn start_as(
    token: &str,
    presented: &str,
    shop: Shop,
    config: HttpConfig,
) -> (FakeShopify, ShopifyClient) {
    let fake = FakeShopify::start(token, shop).await.expect("fake");
    let (env, _) = env();
    let client = ShopifyClient::new(
        &fake.server.base_url,
        &Secret::new(presented),
        Currency::USD,
        config,
        &env,
    )
    .expect("client");
    (fake, client)
}

#[tokio::test]
async fn full_pull_follows_end_cursors_with_stock_per_location() {
    let (fake, client) = start("shp-full", shop(12), fast(3)).await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 24);
    assert_eq!(fake.server.control.requests(), 3, "5 products per page");
    let small = &pulled.items[0];
    assert_eq!(small.item.external_id, "10");
    assert_eq!(small.item.parent_id.as_deref(), Some("1"));
    assert_eq!(
        (
            small.item.name.as_deref(),
            small.item.variant_name.as_deref()
        ),
        (Some("Tee 1"), Some("S"))
    );
    assert_eq!(small.item.price_minor, Some(1999));
    assert_eq!(small.item.quantity_on_hand, Some(Decimal::from(4)));
    assert_eq!(
        small.stock_by_location,
        BTreeMap::from([
            ("1".to_owned(), Decimal::from(3)),
            ("2".to_owned(), Decimal::from(1))
        ])
    );
    assert_eq!(small.inventory_item_id.as_deref(), Some("1000010"));
}

#[tokio::test]
async fn delta_and_fetch_by_id() {
    let (fake, client) = start("shp-delta", shop(6), fast(3)).await;
    fake.shop().products[2] = product(3, "Tee 3 v2", &[(30, "S", "18.00", 1, 1)], at(50));
    let delta = pull(&client, Some(at(0))).await.expect("delta");
    assert_eq!(delta.items.len(), 1);
    assert_eq!(delta.items[0].item.name.as_deref(), Some("Tee 3 v2"));
    assert_eq!(delta.watermark, Some(at(50)));
    let page = client
        .fetch(&["41".into(), "gid://shopify/Product/5".into(), "999".into()])
        .await
        .expect("fetch");
    let ids = external_ids(&page.items);
    assert_eq!(ids, vec!["41", "50", "51"]);
    assert_eq!(page.items[0].item.name.as_deref(), Some("Tee 4"));
    assert_eq!(page.missing, vec!["999".to_owned()]);
    assert_eq!(client.locations().await.expect("locations").len(), 2);
}

#[tokio::test]
async fn a_bad_token_is_refused_with_shopifys_reason() {
    let (_fake, client) = start_as("right", "wrong", shop(1), fast(3)).await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert!(reason.starts_with("[API] Invalid API key"), "{reason}");
}

#[tokio::test]
async fn throttled_queries_wait_for_the_bucket_to_refill() {
    let mut s = shop(10);
    s.maximum_available = 1000.0;
    s.restore_rate = 500.0;
    let (_fake, client) = start("shp-throttle", s, fast(5)).await;
    let started = Instant::now();
    let pulled = pull(&client, None).await.expect("pull through throttling");
    assert_eq!(pulled.items.len(), 20);
    assert!(client.stats().retries >= 1, "the second query is throttled");
    // (812 − 188) / 500 s ≈ 1.25 s before the second page.
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn pacing_by_query_cost_is_never_throttled() {
    let mut s = shop(15);
    s.maximum_available = 1000.0;
    s.restore_rate = 1000.0;
    let config = HttpConfig {
        rate: RateLimit {
            per_second: NonZeroU32::new(1000).expect("nonzero"),
            burst: NonZeroU32::new(1000).expect("nonzero"),
        },
        ..fast(5)
    };
    let (fake, client) = start("shp-paced", s, config).await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 30);
    assert_eq!(
        client.stats().retries,
        0,
        "the limiter reserved each query's cost"
    );
    assert_eq!(fake.server.control.requests(), 3);
}

/// A product with 120 variants: 20 come with the product, the other 100 in two pages of
/// `product(id:) { variants(first: 50, after:) }`; all arrive, in order, with stock, from the
/// listing and from fetch by id alike.
#[tokio::test]
async fn a_product_with_120_variants_arrives_whole() {
    let mut s = shop(2);
    let variants: Vec<(u64, String)> = (0..120).map(|v| (9000 + v, format!("V{v}"))).collect();
    let rows: Vec<(u64, &str, &str, i64, i64)> = variants
        .iter()
        .map(|(id, title)| (*id, title.as_str(), "5.00", 1, 2))
        .collect();
    s.products.insert(1, product(77, "Many", &rows, at(0)));
    let (fake, client) = start("shp-many", s, fast(3)).await;
    let pulled = pull(&client, None).await.expect("pull");
    let many: Vec<&str> = external_ids(&pulled.items)
        .into_iter()
        .filter(|id| id.starts_with('9'))
        .collect();
    let expected: Vec<String> = (9000..9120).map(|v| v.to_string()).collect();
    assert_eq!(many, expected);
    assert_eq!(
        pulled.items.len(),
        124,
        "two small products of two variants each"
    );
    assert!(
        pulled
            .items
            .iter()
            .filter(|i| i.item.parent_id.as_deref() == Some("77"))
            .all(|i| i.item.quantity_on_hand == Some(Decimal::from(3))),
        "stock comes with every variant page"
    );
    let lines: Vec<String> = fake
        .server
        .control
        .log()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "one products page and two variant pages: {lines:?}"
    );
    let fetched = client
        .fetch(&["gid://shopify/Product/77".into()])
        .await
        .expect("fetch");
    assert_eq!(fetched.items.len(), 120);
    assert_eq!(fetched.fetched, 121);
}

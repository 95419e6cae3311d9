//! The Clover client against the fake Clover: pages, delta, deletions, open price, stock,
//! fetch by id, refusals and rate limiting.

mod common;

use std::time::Duration;

use common::{after_throttle, at, env, fast, malformed_path, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::clover::{FakeClover, FakeItem, Merchant, rate_limited};
use tillbridge_connectors::{CloverClient, ObjectKind, VendorApi, pull};
use tillbridge_domain::{Currency, Secret};

const MID: &str = "MERCHANT1";

fn merchant(items: Vec<FakeItem>) -> Merchant {
    Merchant {
        id: MID.into(),
        items,
    }
}

async fn start(token: &str, m: Merchant, page: usize) -> (FakeClover, CloverClient) {
    start_as(token, token, m, page).await
}

/// A fake accepting `token` and a client presenting `presented`.
async fn start_as(
    token: &str,
    presented: &str,
    m: Merchant,
    page: usize,
) -> (FakeClover, CloverClient) {
    let fake = FakeClover::start(token, m).await.expect("fake starts");
    let (env, _) = env();
    let client = CloverClient::new(
        Some(&fake.server.base_url),
        MID,
        &Secret::new(presented),
        Currency::USD,
        fast(3),
        &env,
    )
    .expect("client")
    .with_page_limit(page);
    (fake, client)
}

fn generated(n: usize) -> Vec<FakeItem> {
    (0..n)
        .map(|i| {
            FakeItem::fixed(
                &format!("ITEM{i:05}"),
                &format!("Item {i}"),
                100 + i as i64,
                "2",
                at(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn full_pull_walks_every_page_with_limit_and_offset() {
    let (fake, client) = start("tok-full", merchant(generated(250)), 100).await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 250);
    assert_eq!(pulled.fetched, 250);
    assert_eq!(pulled.watermark, Some(at(0)));
    let first = &pulled.items[0].item;
    assert_eq!(first.external_id, "ITEM00000");
    assert_eq!(first.name.as_deref(), Some("Item 0"));
    assert_eq!(first.price_minor, Some(100));
    assert_eq!(first.currency, Some(Currency::USD));
    assert_eq!(first.category.as_deref(), Some("Drinks"));
    assert_eq!(first.quantity_on_hand, Some(Decimal::from(2)));
    assert_eq!(pulled.items[0].stock_by_location[MID], Decimal::from(2));
    let lists = fake
        .server
        .control
        .log()
        .iter()
        .filter(|l| l.line == format!("GET /v3/merchants/{MID}/items"))
        .count();
    assert_eq!(lists, 3, "100 + 100 + 50");
}

#[tokio::test]
async fn item_groups_are_variants_and_variable_prices_are_open() {
    let mut small = FakeItem::fixed("V1", "Tee Small", 1500, "3.5", at(0));
    small.group = Some(("G1".into(), "Tee".into()));
    small.options = vec!["Small".into()];
    let mut tip = FakeItem::fixed("T1", "Tip", 0, "0", at(0));
    tip.price_type = "VARIABLE".into();
    tip.stock = None;
    let mut cheese = FakeItem::fixed("C1", "Cheese", 1299, "1.25", at(0));
    cheese.price_type = "PER_UNIT".into();
    cheese.unit_name = Some("lb".into());
    cheese.hidden = true;
    let (_fake, client) = start("tok-var", merchant(vec![small, tip, cheese]), 100).await;
    let pulled = pull(&client, None).await.expect("pull");
    let v1 = &pulled.items[0].item;
    assert_eq!(v1.name.as_deref(), Some("Tee"));
    assert_eq!(v1.variant_name.as_deref(), Some("Small"));
    assert_eq!(v1.parent_id.as_deref(), Some("G1"));
    assert_eq!(v1.quantity_on_hand, Some(Decimal::new(35, 1)));
    assert_eq!(v1.stock_by_location[MID], Decimal::new(35, 1));
    let tip = &pulled.items[1].item;
    assert_eq!(tip.price_minor, None, "VARIABLE is an open price");
    assert_eq!(
        tip.open_price,
        Some(true),
        "present, priced at the register"
    );
    assert_eq!(tip.quantity_on_hand, None, "stock not tracked");
    let cheese = &pulled.items[2].item;
    assert_eq!(cheese.price_minor, Some(1299));
    assert_eq!(cheese.unit_of_measure.as_deref(), Some("lb"));
    assert_eq!(cheese.is_active, Some(false), "hidden");
}

#[tokio::test]
async fn delta_returns_changes_since_the_watermark_and_deletions_as_tombstones() {
    let (fake, client) = start("tok-delta", merchant(generated(3)), 100).await;
    let full = pull(&client, None).await.expect("full");
    let watermark = full.watermark.expect("watermark");
    {
        let mut m = fake.merchant();
        m.items[0].price = 999;
        m.items[0].modified = at(10);
        m.items[1].deleted = true;
        m.items[1].modified = at(20);
    }
    let delta = pull(&client, Some(at(1))).await.expect("delta");
    assert!(watermark < at(1));
    assert_eq!(delta.items.len(), 1);
    assert_eq!(delta.items[0].item.external_id, "ITEM00000");
    assert_eq!(delta.items[0].item.price_minor, Some(999));
    assert_eq!(delta.items[0].item.updated_at, Some(at(10)));
    assert_eq!(delta.tombstones.len(), 1);
    let t = &delta.tombstones[0];
    assert_eq!(
        (t.external_id.as_str(), t.kind, t.deleted_at),
        ("ITEM00001", ObjectKind::Variation, at(20))
    );
    assert_eq!(delta.watermark, Some(at(20)));
    let again = pull(&client, Some(at(21))).await.expect("empty delta");
    assert!(again.items.is_empty() && again.tombstones.is_empty());
}

#[tokio::test]
async fn fetch_by_id_reports_missing_ids_and_stock_reads_item_stocks() {
    let (_fake, client) = start("tok-fetch", merchant(generated(2)), 100).await;
    let page = client
        .fetch(&["ITEM00001".into(), "NOPE".into()])
        .await
        .expect("fetch");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].item.name.as_deref(), Some("Item 1"));
    assert_eq!(page.missing, vec!["NOPE".to_owned()]);
    let levels = client
        .stock(&["ITEM00000".into(), "NOPE".into()])
        .await
        .expect("stock");
    assert_eq!(levels.len(), 1);
    assert_eq!(
        (levels[0].location_id.as_str(), levels[0].quantity),
        (MID, Decimal::from(2))
    );
}

#[tokio::test]
async fn a_bad_token_is_refused_with_clovers_message() {
    // Clover's default page limit, as a client without `with_page_limit`.
    let (_fake, client) = start_as("right", "wrong", merchant(generated(1)), 1000).await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert_eq!(reason, "401 Unauthorized");
    assert_eq!(client.stats().api_calls, 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for() {
    let (fake, client) = start("tok-429", merchant(generated(1)), 100).await;
    let throttle = rate_limited().header("Retry-After", "1");
    let wait = Duration::from_secs(1);
    let pulled = after_throttle(&fake.server.control, throttle, wait, pull(&client, None))
        .await
        .expect("after the wait");
    assert_eq!(pulled.items.len(), 1);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn malformed_answers_name_the_json_path() {
    let (fake, client) = start("tok-bad", merchant(generated(1)), 100).await;
    fake.server.control.push(
        Canned::json(200, r#"{"elements":[{"id":"A","price":"12.50"}]}"#),
        1,
    );
    let path = malformed_path(client.catalog_page(None).await);
    assert_eq!(path, "elements[0].price");
}

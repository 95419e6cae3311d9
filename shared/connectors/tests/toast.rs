//! The Toast client against the fake Toast: the published menu, delta by publication date,
//! open prices, stock at the restaurant, fetch by GUID, refusals and rate limiting.

mod common;

use std::time::Duration;

use common::{after_throttle, at, env, fast, malformed_path, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::toast::{FakeMenuItem, FakeToast, Restaurant, rate_limited};
use tillbridge_connectors::{ToastClient, VendorApi, pull};
use tillbridge_domain::{Currency, Secret};

const GUID: &str = "5f1c9b54-0000-4000-8000-000000000001";

fn restaurant() -> Restaurant {
    let mut open = FakeMenuItem::priced("item-3", "Market fish", "0", "Mains");
    open.pricing_strategy = "OPEN_PRICE".into();
    open.price = None;
    Restaurant {
        guid: GUID.into(),
        last_updated: at(0),
        items: vec![
            FakeMenuItem::priced("item-1", "Latte", "4.5", "Drinks"),
            FakeMenuItem::priced("item-2", "Mocha", "5.25", "Drinks"),
            open,
        ],
        stock: vec![
            ("item-1".into(), "QUANTITY".into(), Some("7".into())),
            ("item-2".into(), "OUT_OF_STOCK".into(), None),
            ("item-3".into(), "IN_STOCK".into(), None),
        ],
    }
}

async fn start(token: &str) -> (FakeToast, ToastClient) {
    start_as(token, token).await
}

/// A fake accepting `token` and a client presenting `presented`.
async fn start_as(token: &str, presented: &str) -> (FakeToast, ToastClient) {
    let fake = FakeToast::start(token, restaurant()).await.expect("fake");
    let (env, _) = env();
    let client = ToastClient::new(
        Some(&fake.server.base_url),
        GUID,
        &Secret::new(presented),
        Currency::USD,
        fast(3),
        &env,
    )
    .expect("client");
    (fake, client)
}

#[tokio::test]
async fn full_pull_reads_the_menu_with_exact_prices_open_prices_and_stock() {
    let (fake, client) = start("tok-full").await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 3);
    assert_eq!(pulled.fetched, 3);
    assert_eq!(pulled.watermark, Some(at(0)));
    let latte = &pulled.items[0].item;
    assert_eq!(latte.name.as_deref(), Some("Latte"));
    assert_eq!(latte.category.as_deref(), Some("Drinks"));
    assert_eq!(
        (latte.price_minor, latte.currency),
        (Some(450), Some(Currency::USD))
    );
    assert_eq!(latte.quantity_on_hand, Some(Decimal::from(7)));
    assert_eq!(pulled.items[0].stock_by_location[GUID], Decimal::from(7));
    assert_eq!(pulled.items[1].item.price_minor, Some(525));
    assert_eq!(pulled.items[1].item.quantity_on_hand, Some(Decimal::ZERO));
    let fish = &pulled.items[2].item;
    assert_eq!(fish.price_minor, None, "open price");
    assert_eq!(fish.open_price, Some(true));
    assert_eq!(fish.quantity_on_hand, None, "IN_STOCK is untracked");
    let lines: Vec<String> = fake
        .server
        .control
        .log()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(
        lines,
        vec!["GET /menus/v2/menus", "GET /stock/v1/inventory"]
    );
}

#[tokio::test]
async fn delta_pulls_only_when_the_menu_was_published_after_the_watermark() {
    let (fake, client) = start("tok-delta").await;
    let same = pull(&client, Some(at(0))).await.expect("unchanged");
    assert!(same.items.is_empty());
    assert_eq!(same.watermark, Some(at(0)));
    {
        let mut r = fake.restaurant();
        r.items[0].price = Some("4.75".into());
        r.last_updated = at(30);
    }
    let delta = pull(&client, Some(at(0))).await.expect("changed");
    assert_eq!(delta.items.len(), 3);
    assert_eq!(delta.items[0].item.price_minor, Some(475));
    assert_eq!(delta.watermark, Some(at(30)));
    assert!(
        delta.tombstones.is_empty(),
        "the menus API lists no deletions"
    );
}

#[tokio::test]
async fn fetch_by_guid_reports_missing_guids() {
    let (_fake, client) = start("tok-fetch").await;
    let page = client
        .fetch(&["item-2".into(), "gone".into()])
        .await
        .expect("fetch");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].item.name.as_deref(), Some("Mocha"));
    assert_eq!(page.missing, vec!["gone".to_owned()]);
}

#[tokio::test]
async fn a_bad_token_is_refused_with_toasts_message() {
    let (_fake, client) = start_as("right", "wrong").await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert_eq!(reason, "Access token is invalid or expired");
    assert_eq!(client.stats().api_calls, 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_for() {
    let (fake, client) = start("tok-429").await;
    let throttle = rate_limited().header("Retry-After", "1");
    let wait = Duration::from_secs(1);
    after_throttle(&fake.server.control, throttle, wait, pull(&client, None))
        .await
        .expect("after the wait");
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn inexact_prices_are_malformed_at_their_path() {
    let (fake, client) = start("tok-bad").await;
    let body = r#"{"lastUpdated":"2025-01-01T00:00:00.000+0000","menus":[{"menuGroups":[{"name":"A","menuItems":[{"guid":"x","price":4.555,"pricingStrategy":"BASE_PRICE"}]}]}]}"#;
    fake.server.control.push(Canned::json(200, body), 1);
    let path = malformed_path(client.catalog_page(None).await);
    assert_eq!(path, "menus[0].menuGroups[0].menuItems[0].price");
}

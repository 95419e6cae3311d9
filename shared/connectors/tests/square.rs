//! The Square client against the fake Square: pagination, delta, tombstones, stock, fetch.

mod common;

use std::collections::BTreeMap;

use common::{at, env, fast, malformed_path, refused};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::square::{
    Catalog, FakeCount, FakeItem, FakeSquare, FakeVariation,
};
use tillbridge_connectors::{ConnectorError, ObjectKind, SquareClient, VendorApi, pull};
use tillbridge_domain::{Currency, Secret};

async fn start(token: &str, catalog: Catalog) -> (FakeSquare, SquareClient) {
    start_as(token, token, catalog).await
}

/// A fake accepting `token` and a client presenting `presented`.
async fn start_as(token: &str, presented: &str, catalog: Catalog) -> (FakeSquare, SquareClient) {
    let fake = FakeSquare::start(token, catalog)
        .await
        .expect("fake starts");
    let (env, _) = env();
    let client = SquareClient::new(
        Some(&fake.server.base_url),
        &Secret::new(presented),
        fast(3),
        &env,
    )
    .expect("client");
    (fake, client)
}

fn variation(id: &str, name: &str, price: Option<i64>, secs: i64) -> FakeVariation {
    FakeVariation {
        id: id.into(),
        name: name.into(),
        sku: Some(format!("SKU-{id}")),
        price,
        upc: None,
        updated_at: at(secs),
        deleted: false,
    }
}

/// A catalog of `items`, listed 100 a page.
fn paged_by_100(items: Vec<FakeItem>) -> Catalog {
    Catalog {
        list_page: 100,
        items,
        ..Catalog::default()
    }
}

fn item(id: &str, name: &str, secs: i64, variations: Vec<FakeVariation>) -> FakeItem {
    FakeItem {
        id: id.into(),
        name: name.into(),
        category_id: Some("CAT1".into()),
        description: None,
        archived: false,
        updated_at: at(secs),
        deleted: false,
        variations,
    }
}

#[tokio::test]
async fn full_pull_walks_every_page_and_names_items_per_variation() {
    let (fake, client) = start("tok-full", Catalog::generated(250, 2, at(0))).await;
    let pulled = pull(&client, None).await.expect("pull");
    assert_eq!(pulled.items.len(), 500);
    assert_eq!(pulled.fetched, 750, "250 items + 500 variations");
    assert!(pulled.tombstones.is_empty());
    assert_eq!(pulled.watermark, Some(at(0)));
    let first = &pulled.items[0];
    assert_eq!(first.item.external_id, "VAR000000-0");
    assert_eq!(first.item.parent_id.as_deref(), Some("ITEM000000"));
    assert_eq!(first.item.name.as_deref(), Some("Item 0"));
    assert_eq!(first.item.variant_name.as_deref(), Some("Size 0"));
    assert_eq!(first.item.price_minor, Some(100));
    assert_eq!(first.item.currency, Some(Currency::USD));
    assert_eq!(first.item.category.as_deref(), Some("Category 0"));
    assert_eq!(first.item.quantity_on_hand, Some(Decimal::from(5)));
    let lines = fake.server.control.log();
    let lists = lines
        .iter()
        .filter(|l| l.line == "GET /v2/catalog/list")
        .count();
    assert_eq!(lists, 3, "100 items per page");
    assert_eq!(client.stats().api_calls as usize, lines.len());
}

#[tokio::test]
async fn stock_sums_in_stock_over_two_locations_and_ignores_other_states() {
    let mut catalog = Catalog {
        list_page: 100,
        categories: vec![("CAT1".into(), "Drinks".into())],
        ..Catalog::default()
    };
    catalog.items.push(item(
        "I1",
        "Latte",
        0,
        vec![variation("V1", "Large", Some(450), 0)],
    ));
    for (loc, state, qty) in [
        ("L1", "IN_STOCK", "3.5"),
        ("L2", "IN_STOCK", "2"),
        ("L1", "SOLD", "7"),
        ("L2", "WASTE", "1"),
    ] {
        catalog.counts.push(FakeCount {
            variation_id: "V1".into(),
            location_id: loc.into(),
            state: state.into(),
            quantity: qty.into(),
        });
    }
    let (_fake, client) = start("tok-stock", catalog).await;
    let pulled = pull(&client, None).await.expect("pull");
    let v1 = &pulled.items[0];
    assert_eq!(v1.item.quantity_on_hand, Some(Decimal::new(55, 1)));
    let expected: BTreeMap<String, Decimal> = [
        ("L1".to_owned(), Decimal::new(35, 1)),
        ("L2".to_owned(), Decimal::from(2)),
    ]
    .into();
    assert_eq!(v1.stock_by_location, expected);
}

#[tokio::test]
async fn delta_returns_changes_after_the_watermark_with_deletions_as_tombstones() {
    let catalog = paged_by_100(vec![
        item(
            "I1",
            "Latte",
            0,
            vec![variation("V1", "Large", Some(450), 0)],
        ),
        item(
            "I2",
            "Mocha",
            0,
            vec![
                variation("V2", "Small", Some(300), 0),
                variation("V3", "Big", Some(500), 0),
            ],
        ),
    ]);
    let (fake, client) = start("tok-delta", catalog).await;
    let full = pull(&client, None).await.expect("full");
    let watermark = full.watermark.expect("watermark");
    {
        let mut c = fake.catalog();
        c.items[0].variations[0].price = Some(475);
        c.items[0].variations[0].updated_at = at(10);
        c.items[1].deleted = true;
        c.items[1].updated_at = at(20);
        c.items.push(item(
            "I3",
            "Tip jar",
            15,
            vec![variation("V4", "Any", None, 15)],
        ));
    }
    let delta = pull(&client, Some(watermark)).await.expect("delta");
    let by_id: BTreeMap<&str, _> = delta
        .items
        .iter()
        .map(|i| (i.item.external_id.as_str(), i))
        .collect();
    assert_eq!(by_id.keys().copied().collect::<Vec<_>>(), vec!["V1", "V4"]);
    assert_eq!(by_id["V1"].item.price_minor, Some(475));
    assert_eq!(
        by_id["V1"].item.name.as_deref(),
        Some("Latte"),
        "the parent comes as a related object"
    );
    assert_eq!(by_id["V1"].item.updated_at, Some(at(10)));
    assert_eq!(
        by_id["V4"].item.price_minor, None,
        "open price has no price"
    );
    assert_eq!(by_id["V4"].item.variant_name.as_deref(), Some("Any"));
    let mut tombs: Vec<(&str, ObjectKind)> = delta
        .tombstones
        .iter()
        .map(|t| (t.external_id.as_str(), t.kind))
        .collect();
    tombs.sort_by_key(|t| t.0);
    assert_eq!(
        tombs,
        vec![
            ("I2", ObjectKind::Product),
            ("V2", ObjectKind::Variation),
            ("V3", ObjectKind::Variation)
        ]
    );
    assert!(delta.tombstones.iter().all(|t| t.deleted_at == at(20)));
    assert_eq!(delta.watermark, Some(at(20)));
    let again = pull(&client, delta.watermark).await.expect("empty delta");
    assert!(again.items.is_empty() && again.tombstones.is_empty());
}

#[tokio::test]
async fn fetch_by_id_resolves_the_parent_and_reports_missing_ids() {
    let catalog = paged_by_100(vec![item(
        "I1",
        "Latte",
        0,
        vec![variation("V1", "Large", Some(450), 3)],
    )]);
    let (_fake, client) = start("tok-fetch", catalog).await;
    let page = client
        .fetch(&["V1".into(), "NOPE".into()])
        .await
        .expect("fetch");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].item.name.as_deref(), Some("Latte"));
    assert_eq!(page.items[0].item.variant_name.as_deref(), Some("Large"));
    assert_eq!(page.missing, vec!["NOPE".to_owned()]);
    let locations = client.locations().await.expect("locations");
    assert!(locations.is_empty());
}

#[tokio::test]
async fn a_bad_token_is_refused_with_squares_reason() {
    let (_fake, client) = start_as("right", "wrong", Catalog::generated(1, 1, at(0))).await;
    let reason = refused(client.catalog_page(None).await, 401);
    assert_eq!(
        reason,
        "UNAUTHORIZED: This request could not be authorized."
    );
    assert_eq!(client.stats().api_calls, 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_missing_scope_is_refused_with_squares_reason() {
    let (fake, client) = start("tok-scope", Catalog::generated(1, 1, at(0))).await;
    fake.server.control.push(
        tillbridge_connectors::fake::square::insufficient_scopes(),
        1,
    );
    let err = client.stock(&["V".into()]).await.expect_err("refused");
    assert!(
        matches!(&err, ConnectorError::Refused { status: 403, vendor_reason, .. } if vendor_reason.starts_with("INSUFFICIENT_SCOPES")),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_answers_name_the_json_path() {
    let (fake, client) = start("tok-bad", Catalog::generated(1, 1, at(0))).await;
    let body = r#"{"objects":[{"type":"ITEM","id":"I1","item_data":{"name":"A","variations":[{"type":"ITEM_VARIATION","id":"V1","item_variation_data":{"price_money":{"amount":"12.5","currency":"USD"}}}]}}]}"#;
    fake.server.control.push(Canned::json(200, body), 1);
    let path = malformed_path(client.fetch(&["I1".into()]).await);
    assert_eq!(
        path,
        "objects[0].item_data.variations[0].item_variation_data.price_money.amount"
    );
    fake.server.control.push(
        Canned::json(
            200,
            r#"{"objects":[{"type":"ITEM","id":"I1","updated_at":"yesterday","is_deleted":true}]}"#,
        ),
        1,
    );
    let err = client.fetch(&["I1".into()]).await.expect_err("bad time");
    assert!(
        matches!(&err, ConnectorError::Malformed { path, .. } if path == "objects[0].updated_at"),
        "{err:?}"
    );
}

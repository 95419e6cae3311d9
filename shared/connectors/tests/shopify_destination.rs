//! Shopify as a destination against the fake Shopify: create, re-run, a lost create answer,
//! resume after an interrupted run, prior states, rollback with read-back, conflicts,
//! redirects, userErrors, THROTTLED and 401.

mod common;

use std::collections::BTreeMap;

use common::{env, fast, record_all, refused, sized_product};
use rust_decimal::Decimal;
use serde_json::json;
use tillbridge_connectors::fake::shopify::{FakeShopify, Shop};
use tillbridge_connectors::{
    Action, ConnectorError, Destination, Journal, Parent, PriorState, ShopifyClient, UndoResult,
    prior_states, rollback,
};
use tillbridge_domain::{CatalogItem, Currency, Secret};

const TOKEN: &str = "shp-dest-token";

fn roomy() -> Shop {
    Shop {
        maximum_available: 1_000_000.0,
        restore_rate: 1_000_000.0,
        ..Shop::default()
    }
}

async fn start(shop: Shop, attempts: u32) -> (FakeShopify, ShopifyClient) {
    let fake = FakeShopify::start(TOKEN, shop).await.expect("fake starts");
    let client = client(&fake, TOKEN, attempts);
    (fake, client)
}

fn client(fake: &FakeShopify, token: &str, attempts: u32) -> ShopifyClient {
    let (env, _) = env();
    ShopifyClient::new(
        &fake.server.base_url,
        &Secret::new(token),
        Currency::USD,
        fast(attempts),
        &env,
    )
    .expect("client")
}

/// Product `P{i}` with two sizes, a mug with an HTML description, stocked at two locations.
fn parent(i: usize) -> Parent {
    let mut p = sized_product(i, 2);
    for v in &mut p.variations {
        v.category = Some("Mugs".into());
        v.description = Some("<p>Imported</p>".into());
    }
    p
}

fn parents(n: usize) -> Vec<Parent> {
    (0..n).map(parent).collect()
}

fn titles(fake: &FakeShopify) -> Vec<String> {
    fake.shop()
        .products
        .iter()
        .filter_map(|p| p["title"].as_str().map(str::to_owned))
        .collect()
}

/// The merchant's own mug: product 1, default variant 11 (SKU `MUG`, 3.00, 4 at location 1).
fn shop_with_mug() -> Shop {
    let mut shop = roomy();
    shop.products.push(json!({
        "id": "gid://shopify/Product/1", "title": "Merchant mug", "handle": "merchant-mug",
        "descriptionHtml": "", "productType": "Mugs", "vendor": "Acme", "status": "ACTIVE",
        "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z",
        "variants": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": [{
            "id": "gid://shopify/ProductVariant/11", "title": "Default Title", "sku": "MUG",
            "barcode": null, "price": "3.00", "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
            "selectedOptions": [{"name": "Title", "value": "Default Title"}],
            "inventoryItem": {"id": "gid://shopify/InventoryItem/111", "inventoryLevels": {"nodes": [
                {"location": {"id": "gid://shopify/Location/1"}, "quantities": [{"name": "available", "quantity": 4}]}]}},
        }]},
    }));
    shop
}

fn plain(source: &str, name: &str, sku: &str, price: i64, stock: i64) -> Parent {
    Parent {
        source_id: source.into(),
        variations: vec![CatalogItem {
            external_id: format!("{source}-v"),
            name: Some(name.into()),
            sku: Some(sku.into()),
            price_minor: Some(price),
            currency: Some(Currency::USD),
            stock_by_location: BTreeMap::from([("1".to_owned(), Decimal::from(stock))]),
            ..CatalogItem::default()
        }],
        existing_id: None,
        redirect_from: Vec::new(),
    }
}

#[tokio::test]
async fn creates_every_product_then_a_rerun_writes_nothing() {
    let (fake, client) = start(roomy(), 3).await;
    let mut input = parents(12);
    input.push(plain("T1", "Tea", "TEA-1", 450, 7));
    let report = client
        .upsert("m1", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.outcomes.len(), 13);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert_eq!(o.prior, Some(PriorState::Absent));
    }
    assert_eq!(report.outcomes[0].variation_ids.len(), 2);
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let id = journal.object_id("P1").expect("mapped").to_owned();
    let back = client
        .read_back(std::slice::from_ref(&id))
        .await
        .expect("read");
    let p = &back[&id];
    assert_eq!(p.body["title"], "Product 1");
    assert_eq!(p.body["productType"], "Mugs");
    let v0 = &p.body["variants"]["nodes"][0];
    assert_eq!(v0["price"], "10.01", "exact decimal text");
    assert_eq!(v0["sku"], "SKU-1-0");
    assert_eq!(v0["selectedOptions"][0]["value"], "Size 0");
    let vid = journal.entries["P1"].variation_ids["S1-0"].clone();
    assert_eq!(
        p.stock[&vid]["1"],
        Decimal::from(5),
        "L1 + L2 at the first location"
    );
    let tea = journal.object_id("T1").expect("tea").to_owned();
    let tea = &client
        .read_back(std::slice::from_ref(&tea))
        .await
        .expect("tea")[&tea];
    assert_eq!(tea.body["variants"]["nodes"][0]["price"], "4.50");
    assert_eq!(
        tea.body["variants"]["nodes"][0]["selectedOptions"][0]["value"],
        "Default Title"
    );

    let writes = fake.writes_applied();
    let again = client.upsert("m1", &input, &journal).await.expect("re-run");
    assert!(
        again.outcomes.iter().all(|o| o.action == Action::Created),
        "created by this migration, unchanged since: {:?}",
        again.outcomes
    );
    assert_eq!(fake.writes_applied(), writes, "a re-run writes nothing");
    assert_eq!(fake.shop().products.len(), 13);
    // A fresh journal (another migration) finds them by SKU and leaves them unchanged.
    let other = client
        .upsert("m9", &input, &Journal::default())
        .await
        .expect("m9");
    assert!(
        other.outcomes.iter().all(|o| o.action == Action::Unchanged),
        "{:?}",
        other.outcomes
    );
    assert_eq!(fake.writes_applied(), writes);
}

#[tokio::test]
async fn a_lost_create_answer_is_found_by_sku_without_a_duplicate() {
    let (fake, client) = start(roomy(), 3).await;
    fake.lose_responses(1);
    let report = client
        .upsert("m1", &parents(3), &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert!(o.object_id.is_some());
        assert_eq!(o.variation_ids.len(), 2);
    }
    assert_eq!(
        titles(&fake),
        ["Product 0", "Product 1", "Product 2"],
        "no duplicate"
    );
}

#[tokio::test]
async fn an_interrupted_run_resumes_without_duplicates_and_rollback_deletes_all() {
    // No retries: the first create lands, its answer and the lookup's are lost: the run stops.
    let (fake, client) = start(roomy(), 1).await;
    let input = parents(8);
    let mut journal = Journal::default();
    for (source, prior) in prior_states(&client, &input, &journal)
        .await
        .expect("priors")
    {
        journal.record_prior(&source, prior);
    }
    // The first create's answer is lost and so is the lookup after it.
    fake.lose_responses(1);
    fake.down_after_loss(1);
    let first = client.upsert("m2", &input, &journal).await.expect("upsert");
    assert!(
        matches!(first.stopped, Some(ConnectorError::Exhausted { .. })),
        "{:?}",
        first.stopped
    );
    assert!(first.outcomes.iter().any(|o| o.sent));
    assert!(
        fake.shop().products.len() <= 1,
        "at most the first create landed"
    );
    record_all(&mut journal, first.outcomes);

    let resumed = client.upsert("m2", &input, &journal).await.expect("resume");
    assert!(resumed.stopped.is_none(), "{:?}", resumed.stopped);
    record_all(&mut journal, resumed.outcomes);
    for o in journal.entries.values() {
        assert_eq!(o.action, Action::Created, "{o:?}");
    }
    assert_eq!(fake.shop().products.len(), 8, "no duplicates");

    let undone = rollback(&client, "m2", &journal).await.expect("rollback");
    assert!(
        undone
            .iter()
            .all(|u| u.result == UndoResult::Deleted && u.verified),
        "{undone:?}"
    );
    assert!(fake.shop().products.is_empty());
}

#[tokio::test]
async fn the_merchants_product_found_by_sku_is_updated_then_restored_with_its_stock() {
    let (fake, client) = start(shop_with_mug(), 3).await;
    let mut mug = plain("M", "Imported mug", "MUG", 550, 9);
    mug.redirect_from = vec!["/old-shop/mug.html".into()];
    let input = vec![mug, parent(1)];
    let mut journal = Journal::default();
    for (source, prior) in prior_states(&client, &input, &journal)
        .await
        .expect("priors")
    {
        journal.record_prior(&source, prior);
    }
    let report = client.upsert("m3", &input, &journal).await.expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    record_all(&mut journal, report.outcomes);
    let m = &journal.entries["M"];
    assert_eq!(m.action, Action::Updated, "{m:?}");
    assert_eq!(m.object_id.as_deref(), Some("1"));
    assert_eq!(m.variation_ids["M-v"], "11");
    assert_eq!(m.redirects.len(), 1);
    {
        let s = fake.shop();
        let p = &s.products[0];
        assert_eq!(p["title"], "Imported mug");
        assert_eq!(p["variants"]["nodes"][0]["price"], "5.50");
        assert_eq!(
            p["variants"]["nodes"][0]["inventoryItem"]["inventoryLevels"]["nodes"][0]["quantities"]
                [0]["quantity"],
            9
        );
    }
    assert_eq!(fake.redirects()[0]["target"], "/products/merchant-mug");

    let undone = rollback(&client, "m3", &journal).await.expect("rollback");
    assert_eq!(undone.len(), 2);
    for u in &undone {
        assert!(u.verified, "{u:?}");
        let want = if u.source_id == "M" {
            UndoResult::Restored
        } else {
            UndoResult::Deleted
        };
        assert_eq!(u.result, want, "{u:?}");
    }
    let s = fake.shop();
    assert_eq!(s.products.len(), 1);
    let p = &s.products[0];
    assert_eq!(p["title"], "Merchant mug");
    assert_eq!(p["variants"]["nodes"][0]["price"], "3.00");
    assert_eq!(
        p["variants"]["nodes"][0]["inventoryItem"]["inventoryLevels"]["nodes"][0]["quantities"][0]
            ["quantity"],
        4
    );
    drop(s);
    assert!(fake.redirects().is_empty(), "the redirect is gone");
}

#[tokio::test]
async fn redirects_point_old_paths_at_the_new_products_and_rollback_removes_them() {
    let (fake, client) = start(roomy(), 3).await;
    let mut input = parents(2);
    input[0].redirect_from = vec!["/products/p0".into(), "/p0.html".into()];
    input[1].redirect_from = vec!["/products/p1".into()];
    let report = client
        .upsert("m4", &input, &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let redirects = fake.redirects();
    assert_eq!(redirects.len(), 3);
    let r = redirects
        .iter()
        .find(|r| r["path"] == "/p0.html")
        .expect("made");
    assert_eq!(r["target"], "/products/product-0");
    assert_eq!(journal.entries["P0"].redirects.len(), 2);

    let writes = fake.writes_applied();
    let again = client.upsert("m4", &input, &journal).await.expect("re-run");
    assert!(again.outcomes.iter().all(|o| o.action == Action::Created));
    assert_eq!(
        fake.writes_applied(),
        writes,
        "redirects are not made twice"
    );
    record_all(&mut journal, again.outcomes);
    assert_eq!(journal.entries["P0"].redirects.len(), 2, "kept across runs");

    // A redirect made by a create whose answer was lost is adopted, not duplicated.
    let mut lost = journal.clone();
    if let Some(e) = lost.entries.get_mut("P1") {
        e.redirects.clear();
    }
    let adopted = client.upsert("m4", &input, &lost).await.expect("adopt");
    assert!(
        adopted
            .outcomes
            .iter()
            .all(|o| !matches!(o.action, Action::Failed { .. })),
        "{:?}",
        adopted.outcomes
    );
    assert_eq!(adopted.outcomes[1].redirects.len(), 1);
    assert_eq!(fake.redirects().len(), 3);

    let undone = rollback(&client, "m4", &journal).await.expect("rollback");
    assert!(
        undone
            .iter()
            .all(|u| u.result == UndoResult::Deleted && u.verified),
        "{undone:?}"
    );
    assert!(fake.redirects().is_empty());
    assert!(fake.shop().products.is_empty());
}

#[tokio::test]
async fn a_product_edited_at_shopify_after_our_write_is_a_conflict_left_alone() {
    let (fake, client) = start(roomy(), 3).await;
    let report = client
        .upsert("m5", &parents(2), &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let edited = format!(
        "gid://shopify/Product/{}",
        journal.object_id("P1").expect("P1")
    );
    fake.edit_product(&edited, |p| p["title"] = json!("Renamed by the merchant"));
    // A re-run does not overwrite the merchant's edit.
    let writes = fake.writes_applied();
    let again = client
        .upsert("m5", &parents(2), &journal)
        .await
        .expect("re-run");
    let p1 = again
        .outcomes
        .iter()
        .find(|o| o.source_id == "P1")
        .expect("P1");
    assert!(
        matches!(&p1.action, Action::Failed { reason } if reason.starts_with("conflict:")),
        "{p1:?}"
    );
    assert_eq!(fake.writes_applied(), writes);
    let undone = rollback(&client, "m5", &journal).await.expect("rollback");
    let u1 = undone.iter().find(|u| u.source_id == "P1").expect("P1");
    assert!(matches!(u1.result, UndoResult::Conflict { .. }), "{u1:?}");
    let u0 = undone.iter().find(|u| u.source_id == "P0").expect("P0");
    assert_eq!(u0.result, UndoResult::Deleted);
    assert!(u0.verified);
    assert_eq!(titles(&fake), ["Renamed by the merchant"]);
}

#[tokio::test]
async fn user_errors_fail_only_their_product_and_dry_run_writes_nothing() {
    let (fake, client) = start(roomy(), 3).await;
    let mut nameless = parent(5);
    for v in &mut nameless.variations {
        v.name = None;
    }
    let input = vec![parent(1), nameless, parent(2)];
    let dry = client
        .dry_run("m6", &input, &Journal::default())
        .await
        .expect("dry");
    assert!(dry.iter().all(|o| o.action == Action::Created), "{dry:?}");
    assert_eq!(fake.writes_applied(), 0, "a dry run writes nothing");
    let report = client
        .upsert("m6", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    let actions: Vec<&Action> = report.outcomes.iter().map(|o| &o.action).collect();
    assert_eq!(actions[0], &Action::Created);
    assert!(
        matches!(actions[1], Action::Failed { reason } if reason.contains("Title can't be blank")),
        "{actions:?}"
    );
    assert_eq!(actions[2], &Action::Created);
    assert_eq!(titles(&fake), ["Product 1", "Product 2"]);
}

#[tokio::test]
async fn throttled_mutations_wait_for_the_bucket_and_a_bad_token_is_refused() {
    let shop = Shop {
        maximum_available: 1000.0,
        restore_rate: 2000.0,
        query_cost: 900.0,
        ..Shop::default()
    };
    let (fake, client) = start(shop, 6).await;
    let report = client
        .upsert("m7", &parents(3), &Journal::default())
        .await
        .expect("upsert through throttling");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert!(report.outcomes.iter().all(|o| o.action == Action::Created));
    assert!(
        client.stats().retries >= 1,
        "a query was throttled: {:?}",
        client.stats()
    );
    assert_eq!(fake.shop().products.len(), 3);

    let bad = client_with(&fake, "wrong");
    let reason = refused(
        bad.upsert("m7", &parents(1), &Journal::default()).await,
        401,
    );
    assert!(reason.contains("Invalid API key"), "{reason}");
}

fn client_with(fake: &FakeShopify, token: &str) -> ShopifyClient {
    client(fake, token, 2)
}

/// Measurement (run with `--ignored --nocapture`): 1,000 two-variant products into the fake
/// Shopify, a re-run, and the rollback: wall time and API calls.
#[tokio::test]
#[ignore = "measurement"]
async fn measure_a_thousand_products_and_their_rollback() {
    let (fake, client) = start(roomy(), 3).await;
    let input = parents(1000);
    let t = std::time::Instant::now();
    let report = client
        .upsert("m-measure", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    let write = (t.elapsed(), client.stats());
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let t = std::time::Instant::now();
    let again = client
        .upsert("m-measure", &input, &journal)
        .await
        .expect("re-run");
    assert!(again.outcomes.iter().all(|o| o.action == Action::Created));
    let rerun = t.elapsed();
    let t = std::time::Instant::now();
    let undone = rollback(&client, "m-measure", &journal)
        .await
        .expect("rollback");
    assert!(undone.iter().all(|u| u.verified));
    assert!(fake.shop().products.is_empty());
    println!(
        "write: {:?} ({} calls, {} retries); re-run: {:?}; rollback: {:?}; total calls {}",
        write.0,
        write.1.api_calls,
        write.1.retries,
        rerun,
        t.elapsed(),
        client.stats().api_calls
    );
}

#[tokio::test]
async fn a_product_with_more_variants_than_read_is_not_updated() {
    use tillbridge_connectors::fake::shopify::product;
    let mut shop = roomy();
    let variants: Vec<(u64, String)> = (1..=101).map(|v| (v, format!("V{v}"))).collect();
    let rows: Vec<(u64, &str, &str, i64, i64)> = variants
        .iter()
        .map(|(v, t)| (*v, t.as_str(), "1.00", 1, 0))
        .collect();
    let at = tillbridge_domain::Timestamp::from_unix_seconds(1_735_689_600).expect("time");
    shop.products.push(product(1, "Big", &rows, at));
    let (fake, client) = start(shop, 3).await;
    let report = client
        .upsert(
            "m8",
            &[plain("B", "Big renamed", "SKU-1", 200, 1)],
            &Journal::default(),
        )
        .await
        .expect("upsert");
    assert!(
        matches!(&report.outcomes[0].action, Action::Failed { reason } if reason.contains("more than 100 variants")),
        "{:?}",
        report.outcomes
    );
    assert_eq!(fake.writes_applied(), 0);
    assert_eq!(
        fake.shop().products[0]["variants"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(101)
    );
}

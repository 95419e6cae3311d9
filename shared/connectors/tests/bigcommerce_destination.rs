//! BigCommerce as a destination against the fake BigCommerce: create, re-run, a lost create
//! answer, resume after an interrupted run, prior states, rollback with read-back, conflicts,
//! redirects, partial batch failures, 429 and 401.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{after_throttle, at, env, fast, record_all, refused, sized_product};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tillbridge_connectors::fake::bigcommerce::{FakeBigCommerce, Store, product, rate_limited};
use tillbridge_connectors::{
    Action, BigCommerceClient, ConnectorError, Destination, Journal, Parent, PriorState,
    UndoResult, prior_states, rollback,
};
use tillbridge_domain::{CatalogItem, Currency, Secret};

const TOKEN: &str = "bc-dest-token";

async fn start(store: Store, attempts: u32) -> (FakeBigCommerce, BigCommerceClient) {
    let fake = FakeBigCommerce::start(TOKEN, store)
        .await
        .expect("fake starts");
    let client = client(&fake, TOKEN, attempts);
    (fake, client)
}

fn client(fake: &FakeBigCommerce, token: &str, attempts: u32) -> BigCommerceClient {
    let (env, _) = env();
    BigCommerceClient::new(
        &fake.server.base_url,
        &Secret::new(token),
        Currency::USD,
        fast(attempts),
        &env,
    )
    .expect("client")
}

/// Product `P{i}` with two sizes, priced, in a category, stocked at two locations.
fn parent(i: usize) -> Parent {
    sized_product(i, 2)
}

/// A plain product (one variation, no variant name) with SKU `sku`.
fn plain(source: &str, name: &str, sku: &str, price: i64, stock: i64) -> Parent {
    Parent {
        source_id: source.into(),
        variations: vec![CatalogItem {
            external_id: format!("{source}-v"),
            name: Some(name.into()),
            sku: Some(sku.into()),
            price_minor: Some(price),
            currency: Some(Currency::USD),
            stock_by_location: BTreeMap::from([("default".to_owned(), Decimal::from(stock))]),
            ..CatalogItem::default()
        }],
        existing_id: None,
        redirect_from: Vec::new(),
    }
}

fn parents(n: usize) -> Vec<Parent> {
    (0..n).map(parent).collect()
}

/// A store holding the merchant's own mug (product 1, base variant 11, SKU `MUG`, $3.00,
/// 4 in stock).
fn store_with_mug() -> Store {
    let mut mug = product(1, "Merchant mug", "3.00", &[(11, "", None, 4)], at(0));
    mug["sku"] = json!("MUG");
    mug["variants"][0]["sku"] = json!("MUG");
    mug["inventory_tracking"] = json!("product");
    mug["inventory_level"] = json!(4);
    Store {
        products: vec![mug],
    }
}

fn names(fake: &FakeBigCommerce) -> Vec<String> {
    fake.store()
        .products
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn creates_every_product_then_a_rerun_writes_nothing() {
    let (fake, client) = start(Store::default(), 3).await;
    let mut input = parents(25);
    input.push(plain("T1", "Tea", "TEA-1", 450, 7));
    let report = client
        .upsert("m1", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.outcomes.len(), 26);
    let mut journal = Journal::default();
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert_eq!(o.prior, Some(PriorState::Absent));
        assert!(o.sent);
    }
    assert_eq!(report.outcomes[0].variation_ids.len(), 2);
    assert_eq!(report.outcomes[25].variation_ids.len(), 1);
    record_all(&mut journal, report.outcomes);
    assert_eq!(fake.store().products.len(), 26);
    assert_eq!(fake.writes().categories.len(), 3);

    let id = journal.object_id("P1").expect("mapped").to_owned();
    let back = client
        .read_back(std::slice::from_ref(&id))
        .await
        .expect("read back");
    let p = &back[&id].body;
    assert_eq!(p["name"], "Product 1");
    assert_eq!(
        p["variants"][0]["price"].to_string(),
        "10.01",
        "exact price"
    );
    assert_eq!(p["variants"][1]["option_values"][0]["label"], "Size 1");
    assert_eq!(p["variants"][0]["inventory_level"], 5, "L1 + L2");
    let tea = journal.object_id("T1").expect("mapped").to_owned();
    let tea = &client
        .read_back(std::slice::from_ref(&tea))
        .await
        .expect("tea")[&tea];
    assert_eq!(tea.body["price"].to_string(), "4.5");
    assert_eq!(tea.body["sku"], "TEA-1");
    assert_eq!(
        tea.stock.values().next().and_then(|s| s.get("default")),
        Some(&Decimal::from(7))
    );

    let writes = fake.writes_applied();
    let again = client.upsert("m1", &input, &journal).await.expect("re-run");
    assert!(
        again.outcomes.iter().all(|o| o.action == Action::Unchanged),
        "{:?}",
        again
            .outcomes
            .iter()
            .find(|o| o.action != Action::Unchanged)
    );
    assert_eq!(fake.writes_applied(), writes, "a re-run writes nothing");
    assert_eq!(fake.store().products.len(), 26);
}

#[tokio::test]
async fn a_lost_create_answer_is_retried_without_a_duplicate() {
    let (fake, client) = start(Store::default(), 3).await;
    fake.writes().categories = (0..3)
        .map(|i| json!({"id": 90 + i, "parent_id": 0, "name": format!("Cat {i}")}))
        .collect();
    fake.lose_responses(1);
    let report = client
        .upsert("m1", &parents(3), &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert!(o.object_id.is_some());
    }
    assert_eq!(
        names(&fake),
        ["Product 0", "Product 1", "Product 2"],
        "no duplicate"
    );
    assert!(client.stats().retries >= 1);
}

#[tokio::test]
async fn an_interrupted_run_resumes_without_duplicates_and_rollback_deletes_all() {
    // No retries: the first create lands, its answer is lost and the run stops.
    let (fake, client) = start(Store::default(), 1).await;
    let input = parents(25);
    let mut journal = Journal::default();
    for (source, prior) in prior_states(&client, &input, &journal)
        .await
        .expect("priors")
    {
        journal.record_prior(&source, prior);
    }
    let before = fake.writes_applied();
    fake.lose_responses(1);
    // Categories are written first; lose the first product's answer, not theirs.
    fake.writes().categories = (0..3)
        .map(|i| json!({"id": 90 + i, "parent_id": 0, "name": format!("Cat {i}")}))
        .collect();
    let first = client.upsert("m2", &input, &journal).await.expect("upsert");
    assert!(
        matches!(first.stopped, Some(ConnectorError::Exhausted { .. })),
        "{:?}",
        first.stopped
    );
    assert_eq!(first.outcomes.len(), 10, "only the first chunk was tried");
    assert!(first.outcomes[0].sent);
    assert_eq!(fake.writes_applied(), before + 1);
    assert_eq!(fake.store().products.len(), 1, "the first create landed");
    record_all(&mut journal, first.outcomes);

    let resumed = client.upsert("m2", &input, &journal).await.expect("resume");
    assert!(resumed.stopped.is_none(), "{:?}", resumed.stopped);
    for o in &resumed.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
    }
    record_all(&mut journal, resumed.outcomes);
    assert_eq!(fake.store().products.len(), 25, "no duplicates");

    let undone = rollback(&client, "m2", &journal).await.expect("rollback");
    assert!(
        undone
            .iter()
            .all(|u| u.result == UndoResult::Deleted && u.verified),
        "{undone:?}"
    );
    assert!(fake.store().products.is_empty());
}

#[tokio::test]
async fn the_merchants_product_found_by_sku_is_updated_then_restored_by_rollback() {
    let (fake, client) = start(store_with_mug(), 3).await;
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
        let s = fake.store();
        assert_eq!(s.products[0]["name"], "Imported mug");
        assert_eq!(s.products[0]["price"].to_string(), "5.5");
        assert_eq!(s.products[0]["inventory_level"], 9);
    }
    // The prior state is the merchant's mug as it was (prior_states knew no target; the
    // outcome's snapshot, read before the write, is what counts).
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
    let s = fake.store();
    assert_eq!(s.products.len(), 1);
    let p = &s.products[0];
    assert_eq!(p["name"], "Merchant mug");
    assert_eq!(p["price"].to_string(), "3.0");
    assert_eq!(p["variants"][0]["inventory_level"], 4);
    assert!(fake.writes().redirects.is_empty(), "the redirect is gone");
}

#[tokio::test]
async fn redirects_point_old_paths_at_the_new_products_and_rollback_removes_them() {
    let (fake, client) = start(Store::default(), 3).await;
    let mut input = parents(2);
    input[0].redirect_from = vec!["/products/p0".into(), "/p0.html".into()];
    input[1].redirect_from = vec!["/products/p1".into()];
    let report = client
        .upsert("m4", &input, &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let p0 = journal
        .object_id("P0")
        .expect("P0")
        .parse::<u64>()
        .expect("numeric");
    {
        let w = fake.writes();
        assert_eq!(w.redirects.len(), 3);
        let r = w
            .redirects
            .iter()
            .find(|r| r["from_path"] == "/p0.html")
            .expect("made");
        assert_eq!(r["to"], json!({"type": "product", "entity_id": p0}));
        assert_eq!(r["site_id"], 1000);
    }
    assert_eq!(journal.entries["P0"].redirects.len(), 2);
    let writes = fake.writes_applied();
    let again = client.upsert("m4", &input, &journal).await.expect("re-run");
    assert!(again.outcomes.iter().all(|o| o.action == Action::Unchanged));
    assert_eq!(
        fake.writes_applied(),
        writes,
        "redirects are not made twice"
    );
    record_all(&mut journal, again.outcomes);
    assert_eq!(journal.entries["P0"].redirects.len(), 2, "kept across runs");

    let undone = rollback(&client, "m4", &journal).await.expect("rollback");
    assert!(
        undone
            .iter()
            .all(|u| u.result == UndoResult::Deleted && u.verified),
        "{undone:?}"
    );
    assert!(fake.writes().redirects.is_empty());
    assert!(fake.store().products.is_empty());
}

#[tokio::test]
async fn a_product_changed_at_bigcommerce_after_our_write_is_a_conflict_left_alone() {
    let (fake, client) = start(Store::default(), 3).await;
    let report = client
        .upsert("m5", &parents(2), &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let edited: u64 = journal
        .object_id("P1")
        .expect("P1")
        .parse()
        .expect("numeric");
    fake.edit_product(edited, |p| p["name"] = json!("Renamed by the merchant"));
    let undone = rollback(&client, "m5", &journal).await.expect("rollback");
    let p1 = undone.iter().find(|u| u.source_id == "P1").expect("P1");
    assert!(matches!(p1.result, UndoResult::Conflict { .. }), "{p1:?}");
    let p0 = undone.iter().find(|u| u.source_id == "P0").expect("P0");
    assert_eq!(p0.result, UndoResult::Deleted);
    assert!(p0.verified);
    assert_eq!(names(&fake), ["Renamed by the merchant"]);
}

#[tokio::test]
async fn a_rejected_batch_update_is_sent_one_by_one_and_fails_only_the_bad_product() {
    let mut store = store_with_mug();
    store.products.push(product(
        2,
        "Merchant cup",
        "2.00",
        &[(21, "", None, 1)],
        at(0),
    ));
    store.products[1]["sku"] = json!("CUP");
    store.products[1]["variants"][0]["sku"] = json!("CUP");
    let (fake, client) = start(store, 3).await;
    let mut mug = plain("M", "Imported mug", "MUG", 550, 9);
    mug.existing_id = Some("1".into());
    // The cup would take the mug's name: BigCommerce refuses a duplicate name (409).
    let mut cup = plain("C", "Imported mug", "CUP", 250, 1);
    cup.existing_id = Some("2".into());
    let report = client
        .upsert("m6", &[mug, cup], &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.outcomes[0].action, Action::Updated);
    match &report.outcomes[1].action {
        Action::Failed { reason } => assert!(reason.contains("duplicate"), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(
        report.outcomes[1].prior,
        Some(PriorState::Existed { .. })
    ));
    assert_eq!(names(&fake), ["Imported mug", "Merchant cup"]);
}

#[tokio::test]
async fn a_429_is_waited_out_as_x_rate_limit_time_reset_ms_asks() {
    let (fake, client) = start(Store::default(), 3).await;
    let (input, journal) = (parents(1), Journal::default());
    let upsert = client.upsert("m7", &input, &journal);
    let wait = Duration::from_millis(1000);
    let report = after_throttle(&fake.server.control, rate_limited(1000), wait, upsert)
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    assert_eq!(report.outcomes[0].action, Action::Created);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_bad_token_is_refused_with_bigcommerces_reason() {
    let (fake, _) = start(Store::default(), 3).await;
    let wrong = client(&fake, "not-the-token", 3);
    let answer = wrong.upsert("m8", &parents(1), &Journal::default()).await;
    let reason = refused(answer, 401);
    assert!(reason.contains("X-Auth-Token"), "{reason}");
    assert_eq!(fake.writes_applied(), 0);
}

#[tokio::test]
async fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let (fake, client) = start(store_with_mug(), 3).await;
    let mut input = vec![plain("M", "Imported mug", "MUG", 550, 9), parent(1)];
    input[1].redirect_from = vec!["/p1".into()];
    let planned = client
        .dry_run("m9", &input, &Journal::default())
        .await
        .expect("dry run");
    let actions: Vec<&Action> = planned.iter().map(|o| &o.action).collect();
    assert_eq!(actions, [&Action::Updated, &Action::Created]);
    assert!(planned.iter().all(|o| !o.sent));
    assert_eq!(fake.writes_applied(), 0);
    assert!(fake.writes().categories.is_empty());
    assert_eq!(names(&fake), ["Merchant mug"]);
}

#[tokio::test]
async fn a_price_in_another_currency_fails_that_product_only() {
    let (fake, client) = start(Store::default(), 3).await;
    let mut input = parents(2);
    for v in &mut input[0].variations {
        v.currency = Some(Currency::parse("EUR").expect("EUR"));
    }
    let report = client
        .upsert("m10", &input, &Journal::default())
        .await
        .expect("upsert");
    match &report.outcomes[0].action {
        Action::Failed { reason } => assert!(reason.contains("EUR"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!report.outcomes[0].sent);
    assert_eq!(report.outcomes[1].action, Action::Created);
    assert_eq!(names(&fake), ["Product 1"]);
    let _: Value = json!(null);
}

#[tokio::test]
async fn a_thousand_products_take_a_lookup_and_a_create_each() {
    let (fake, client) = start(Store::default(), 3).await;
    let input = parents(1000);
    let started = std::time::Instant::now();
    let report = client
        .upsert("m11", &input, &Journal::default())
        .await
        .expect("upsert");
    let took = started.elapsed();
    assert!(report.stopped.is_none());
    assert_eq!(fake.store().products.len(), 1000);
    // 1 category listing + 3 category creates, then per product a SKU lookup and a create.
    assert_eq!(client.stats().api_calls, 4 + 2 * 1000);
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let started = std::time::Instant::now();
    let undone = rollback(&client, "m11", &journal).await.expect("rollback");
    assert!(undone.iter().all(|u| u.verified));
    eprintln!(
        "bigcommerce: 1000 products in {took:?}, rollback in {:?}, {} calls in all",
        started.elapsed(),
        client.stats().api_calls
    );
    assert!(fake.store().products.is_empty());
}

#[tokio::test]
async fn rollback_deletes_the_categories_the_migration_created_and_only_those() {
    let (fake, client) = start(Store::default(), 3).await;
    fake.writes().categories = vec![json!({"id": 90, "parent_id": 0, "name": "Cat 0"})];
    let input = parents(3);
    let report = client
        .upsert("m12", &input, &Journal::default())
        .await
        .expect("upsert");
    let mut created: Vec<&str> = report
        .categories
        .iter()
        .map(|c| c.source_id.as_str())
        .collect();
    created.sort_unstable();
    assert_eq!(created, ["Cat 1", "Cat 2"], "Cat 0 existed before");
    let mut journal = Journal::default();
    for c in report.categories {
        journal.record_category(c);
    }
    record_all(&mut journal, report.outcomes);
    assert_eq!(fake.writes().categories.len(), 3);

    // The merchant renames one of ours in the control panel: it is theirs now.
    let renamed: u64 = journal.categories["Cat 2"]
        .object_id
        .as_deref()
        .and_then(|id| id.parse().ok())
        .expect("id");
    for c in &mut fake.writes().categories {
        if c["id"] == renamed {
            c["name"] = json!("Seasonal");
        }
    }
    let undone = rollback(&client, "m12", &journal).await.expect("rollback");
    let cat = |name: &str| {
        undone
            .iter()
            .find(|u| u.source_id == format!("category:{name}"))
            .unwrap_or_else(|| panic!("{name} undone: {undone:?}"))
    };
    assert_eq!(cat("Cat 1").result, UndoResult::Deleted);
    assert!(cat("Cat 1").verified);
    assert!(matches!(cat("Cat 2").result, UndoResult::Conflict { .. }));
    assert!(names(&fake).is_empty());
    let mut left: Vec<String> = fake
        .writes()
        .categories
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    left.sort_unstable();
    assert_eq!(left, ["Cat 0", "Seasonal"]);
}

//! WooCommerce as a destination against the fake WooCommerce: create, re-run, a lost batch
//! answer, resume after an interrupted run, prior states, rollback with read-back,
//! conflicts, partial batch failures, 429 and 401.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{after_throttle, at, env, fast, record_all, refused, sized_product};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::woocommerce::{FakeWooCommerce, Store, simple};
use tillbridge_connectors::{
    Action, ConnectorError, Destination, Journal, Parent, PriorState, UndoResult,
    WooCommerceClient, prior_states, rollback,
};
use tillbridge_domain::{CatalogItem, Currency, Secret};

const KEY: &str = "ck_dest";
const SECRET: &str = "cs_dest";

async fn start(store: Store, attempts: u32) -> (FakeWooCommerce, WooCommerceClient) {
    let fake = FakeWooCommerce::start(KEY, SECRET, store)
        .await
        .expect("fake starts");
    let client = client(&fake, SECRET, attempts);
    (fake, client)
}

fn client(fake: &FakeWooCommerce, secret: &str, attempts: u32) -> WooCommerceClient {
    let (env, _) = env();
    WooCommerceClient::new(
        &fake.server.base_url,
        KEY,
        &Secret::new(secret),
        Currency::USD,
        fast(attempts),
        &env,
    )
    .expect("client")
}

/// Product `P{i}`: two sizes (a variable product), except every fourth, a simple one; no
/// barcodes.
fn parent(i: usize) -> Parent {
    let mut p = sized_product(i, if i % 4 == 3 { 1 } else { 2 });
    for v in &mut p.variations {
        v.barcode = None;
    }
    p
}

fn parents(n: usize) -> Vec<Parent> {
    (0..n).map(parent).collect()
}

fn with_categories(fake: &FakeWooCommerce) {
    fake.writes().categories = (0..3)
        .map(|i| json!({"id": 90 + i, "name": format!("Cat {i}"), "slug": format!("cat-{i}"), "parent": 0}))
        .collect();
}

/// A store with the merchant's own mug (simple product 7, SKU `SKU7`, $3.00, 4 in stock).
fn store_with_mug() -> Store {
    Store {
        products: vec![simple(7, "Merchant mug", "3.00", Some(4), at(0))],
        variations: Vec::new(),
    }
}

fn mug(existing: Option<&str>) -> Parent {
    Parent {
        source_id: "M".into(),
        variations: vec![CatalogItem {
            external_id: "M-v".into(),
            name: Some("Imported mug".into()),
            sku: Some("SKU7".into()),
            price_minor: Some(550),
            currency: Some(Currency::USD),
            stock_by_location: BTreeMap::from([("default".to_owned(), Decimal::from(9))]),
            ..CatalogItem::default()
        }],
        existing_id: existing.map(str::to_owned),
        redirect_from: Vec::new(),
    }
}

fn counts(fake: &FakeWooCommerce) -> (usize, usize) {
    let s = fake.store();
    (s.products.len(), s.variations.len())
}

#[tokio::test]
async fn creates_every_product_then_a_rerun_writes_nothing() {
    let (fake, client) = start(Store::default(), 3).await;
    let input = parents(120);
    let report = client
        .upsert("m1", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.outcomes.len(), 120);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert_eq!(o.prior, Some(PriorState::Absent));
    }
    assert_eq!(report.outcomes[0].variation_ids.len(), 2);
    assert_eq!(report.outcomes[3].variation_ids.len(), 1);
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    assert_eq!(
        counts(&fake),
        (120, 180),
        "90 variable products with 2, 30 simple"
    );
    assert_eq!(fake.writes().categories.len(), 3);

    let id = journal.object_id("P1").expect("mapped").to_owned();
    let back = client
        .read_back(std::slice::from_ref(&id))
        .await
        .expect("read back");
    let s = &back[&id];
    assert_eq!(s.body["product"]["type"], "variable");
    assert_eq!(
        s.body["variations"][0]["regular_price"], "10.01",
        "exact price"
    );
    assert_eq!(s.body["variations"][1]["attributes"][0]["option"], "Size 1");
    assert_eq!(s.stock.len(), 2);
    assert!(
        s.stock
            .values()
            .all(|l| l.get("default") == Some(&Decimal::from(5)))
    );
    let simple_id = journal.object_id("P3").expect("mapped").to_owned();
    let back = client
        .read_back(std::slice::from_ref(&simple_id))
        .await
        .expect("read");
    let p = &back[&simple_id].body["product"];
    assert_eq!(
        (p["type"].as_str(), p["regular_price"].as_str()),
        (Some("simple"), Some("10.03"))
    );
    assert_eq!(p["categories"][0]["name"], "Cat 0");

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
}

#[tokio::test]
async fn a_lost_batch_answer_is_retried_without_duplicates() {
    let (fake, client) = start(Store::default(), 3).await;
    with_categories(&fake);
    fake.lose_responses(1);
    let report = client
        .upsert("m2", &parents(4), &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
    }
    assert_eq!(counts(&fake), (4, 6), "no duplicates");
    assert!(client.stats().retries >= 1);
    // A lost variations answer (after the products batch's): the retry finds the variations
    // by SKU.
    fake.lose_responses_after(1, 1);
    let more: Vec<Parent> = (10..12).map(parent).collect();
    let report = client
        .upsert("m2", &more, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(
        report.outcomes[0].variation_ids.len(),
        2,
        "{:?}",
        report.outcomes[0]
    );
    assert_eq!(counts(&fake), (6, 8), "P10 has two sizes, P11 is simple");
}

#[tokio::test]
async fn an_interrupted_run_resumes_without_duplicates_and_rollback_deletes_all() {
    let (fake, client) = start(Store::default(), 1).await;
    with_categories(&fake);
    let input = parents(120);
    let mut journal = Journal::default();
    for (source, prior) in prior_states(&client, &input, &journal)
        .await
        .expect("priors")
    {
        journal.record_prior(&source, prior);
    }
    fake.lose_responses(1);
    let first = client.upsert("m3", &input, &journal).await.expect("upsert");
    assert!(
        matches!(first.stopped, Some(ConnectorError::Exhausted { .. })),
        "{:?}",
        first.stopped
    );
    assert_eq!(first.outcomes.len(), 100, "only the first batch was tried");
    assert_eq!(
        counts(&fake),
        (100, 0),
        "the products landed, no variations yet"
    );
    record_all(&mut journal, first.outcomes);

    let resumed = client.upsert("m3", &input, &journal).await.expect("resume");
    assert!(resumed.stopped.is_none(), "{:?}", resumed.stopped);
    for o in &resumed.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
    }
    record_all(&mut journal, resumed.outcomes);
    assert_eq!(counts(&fake), (120, 180), "no duplicates");

    let undone = rollback(&client, "m3", &journal).await.expect("rollback");
    assert_eq!(undone.len(), 120);
    assert!(
        undone
            .iter()
            .all(|u| u.result == UndoResult::Deleted && u.verified),
        "{:?}",
        undone
            .iter()
            .find(|u| u.result != UndoResult::Deleted || !u.verified)
    );
    assert_eq!(counts(&fake), (0, 0));
}

#[tokio::test]
async fn the_merchants_product_found_by_sku_is_updated_then_restored_by_rollback() {
    let (fake, client) = start(store_with_mug(), 3).await;
    let input = vec![mug(None), parent(1)];
    let mut journal = Journal::default();
    for (source, prior) in prior_states(&client, &input, &journal)
        .await
        .expect("priors")
    {
        journal.record_prior(&source, prior);
    }
    let report = client.upsert("m4", &input, &journal).await.expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    record_all(&mut journal, report.outcomes);
    let m = &journal.entries["M"];
    assert_eq!(m.action, Action::Updated, "{m:?}");
    assert_eq!(m.object_id.as_deref(), Some("7"));
    let Some(PriorState::Existed { snapshot }) = &m.prior else {
        panic!("prior state: {:?}", m.prior);
    };
    assert_eq!(snapshot.body["product"]["name"], "Merchant mug");
    {
        let s = fake.store();
        assert_eq!(s.products[0]["name"], "Imported mug");
        assert_eq!(s.products[0]["regular_price"], "5.50");
        assert_eq!(s.products[0]["stock_quantity"], 9);
    }
    let undone = rollback(&client, "m4", &journal).await.expect("rollback");
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
    assert_eq!(s.products[0]["name"], "Merchant mug");
    assert_eq!(s.products[0]["regular_price"], "3.00");
    assert_eq!(s.products[0]["stock_quantity"], 4);
    assert!(s.variations.is_empty());
}

#[tokio::test]
async fn a_product_changed_in_wp_admin_after_our_write_is_a_conflict_left_alone() {
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
    let variation: u64 = journal.entries["P1"].variation_ids["S1-0"]
        .parse()
        .expect("numeric");
    fake.edit(variation, |v| v["regular_price"] = json!("99.00"));
    let undone = rollback(&client, "m5", &journal).await.expect("rollback");
    let p1 = undone.iter().find(|u| u.source_id == "P1").expect("P1");
    assert!(matches!(p1.result, UndoResult::Conflict { .. }), "{p1:?}");
    let p0 = undone.iter().find(|u| u.source_id == "P0").expect("P0");
    assert_eq!(p0.result, UndoResult::Deleted);
    assert!(p0.verified);
    let s = fake.store();
    assert_eq!(s.products.len(), 1);
    assert_eq!(s.products[0]["id"], edited);
}

#[tokio::test]
async fn a_partial_batch_failure_fails_only_that_product() {
    let mut store = store_with_mug();
    store
        .products
        .push(simple(8, "Merchant cup", "2.00", Some(1), at(0)));
    let (fake, client) = start(store, 3).await;
    // The cup would take the mug's SKU: WooCommerce refuses that object of the batch.
    let mut cup = mug(Some("8"));
    cup.source_id = "C".into();
    cup.variations[0].name = Some("Imported cup".into());
    let input = vec![cup, parent(3)];
    let report = client
        .upsert("m6", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    match &report.outcomes[0].action {
        Action::Failed { reason } => assert!(reason.contains("product_invalid_sku"), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(
        report.outcomes[0].prior,
        Some(PriorState::Existed { .. })
    ));
    assert_eq!(report.outcomes[1].action, Action::Created);
    let s = fake.store();
    assert_eq!(s.products[1]["name"], "Merchant cup", "not written");
    assert_eq!(s.products.len(), 3);
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_asks() {
    let (fake, client) = start(Store::default(), 3).await;
    let throttle = Canned::json(429, r#"{"code":"woocommerce_rest_too_many_requests","message":"Too many requests.","data":{"status":429}}"#)
        .header("retry-after", "1");
    let (input, journal) = (parents(1), Journal::default());
    let upsert = client.upsert("m7", &input, &journal);
    let report = after_throttle(
        &fake.server.control,
        throttle,
        Duration::from_secs(1),
        upsert,
    )
    .await
    .expect("upsert");
    assert!(report.stopped.is_none());
    assert_eq!(report.outcomes[0].action, Action::Created);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_bad_key_is_refused_with_woocommerces_reason() {
    let (fake, _) = start(Store::default(), 3).await;
    let wrong = client(&fake, "cs_wrong", 3);
    let answer = wrong.upsert("m8", &parents(1), &Journal::default()).await;
    let reason = refused(answer, 401);
    assert!(
        reason.contains("woocommerce_rest_authentication_error"),
        "{reason}"
    );
    assert_eq!(fake.writes_applied(), 0);
}

#[tokio::test]
async fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let (fake, client) = start(store_with_mug(), 3).await;
    let input = vec![mug(None), parent(1)];
    let planned = client
        .dry_run("m9", &input, &Journal::default())
        .await
        .expect("dry run");
    let actions: Vec<&Action> = planned.iter().map(|o| &o.action).collect();
    assert_eq!(actions, [&Action::Updated, &Action::Created]);
    assert!(planned.iter().all(|o| !o.sent));
    assert_eq!(fake.writes_applied(), 0);
    assert_eq!(counts(&fake), (1, 0));
    let _: Value = json!(null);
}

#[tokio::test]
async fn a_thousand_products_take_one_batch_per_hundred_plus_lookups_and_variation_batches() {
    let (fake, client) = start(Store::default(), 3).await;
    let input = parents(1000);
    let started = std::time::Instant::now();
    let report = client
        .upsert("m10", &input, &Journal::default())
        .await
        .expect("upsert");
    let took = started.elapsed();
    assert!(report.stopped.is_none());
    assert_eq!(counts(&fake), (1000, 1500));
    // 1 category listing + 1 category batch, 1000 SKU lookups, 10 product batches,
    // 750 variation batches (one per variable product), 10 version read-backs.
    assert_eq!(client.stats().api_calls, 2 + 1000 + 10 + 750 + 10);
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let started = std::time::Instant::now();
    let undone = rollback(&client, "m10", &journal).await.expect("rollback");
    assert!(undone.iter().all(|u| u.verified));
    eprintln!(
        "woocommerce: 1000 products in {took:?}, rollback in {:?}, {} calls in all",
        started.elapsed(),
        client.stats().api_calls
    );
    assert_eq!(counts(&fake), (0, 0));
}

#[tokio::test]
async fn rollback_deletes_the_categories_the_migration_created_and_only_those() {
    let (fake, client) = start(Store::default(), 3).await;
    fake.writes().categories =
        vec![json!({"id": 90, "name": "Cat 0", "slug": "cat-0", "parent": 0})];
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

    // The merchant renames one of ours in wp-admin: it is theirs now.
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
    assert_eq!(counts(&fake), (0, 0));
    let mut left: Vec<String> = fake
        .writes()
        .categories
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    left.sort_unstable();
    assert_eq!(left, ["Cat 0", "Seasonal"]);
}

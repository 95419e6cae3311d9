//! Square as a destination against the fake Square: create, re-run, resume after lost
//! answers, prior states, rollback with read-back, conflicts, 429 and 401.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{after_throttle, at, env, fast, malformed_path, refused, sized_product};
use rust_decimal::Decimal;
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::square::{Catalog, FakeItem, FakeSquare, FakeVariation};
use tillbridge_connectors::{
    Action, ConnectorError, Destination, Journal, Parent, PriorState, SquareClient, UndoResult,
    prior_states, rollback,
};
use tillbridge_domain::Secret;

const TOKEN: &str = "tok-dest";

async fn start(catalog: Catalog, attempts: u32) -> (FakeSquare, SquareClient) {
    let fake = FakeSquare::start(TOKEN, catalog)
        .await
        .expect("fake starts");
    let client = client(&fake, TOKEN, attempts);
    (fake, client)
}

fn client(fake: &FakeSquare, token: &str, attempts: u32) -> SquareClient {
    let (env, _) = env();
    SquareClient::new(
        Some(&fake.server.base_url),
        &Secret::new(token),
        fast(attempts),
        &env,
    )
    .expect("client")
}

/// Product `P{i}` with two sizes, 2.5 in stock at L1.
fn parent(i: usize) -> Parent {
    let mut p = sized_product(i, 2);
    for v in &mut p.variations {
        v.stock_by_location = BTreeMap::from([("L1".to_owned(), Decimal::new(25, 1))]);
    }
    p
}

fn parents(n: usize) -> Vec<Parent> {
    (0..n).map(parent).collect()
}

fn live_items(fake: &FakeSquare) -> usize {
    fake.catalog().items.iter().filter(|i| !i.deleted).count()
}

/// A catalog holding the merchant's own item `OWN` (variation `OWNV`, SKU `SKU-OWN`).
fn catalog_with_own_item() -> Catalog {
    let mut c = Catalog {
        list_page: 100,
        ..Catalog::default()
    };
    c.items.push(FakeItem {
        id: "OWN".into(),
        name: "Merchant's latte".into(),
        category_id: None,
        description: Some("theirs".into()),
        archived: false,
        updated_at: at(0),
        deleted: false,
        variations: vec![FakeVariation {
            id: "OWNV".into(),
            name: "Regular".into(),
            sku: Some("SKU-OWN".into()),
            price: Some(300),
            upc: None,
            updated_at: at(0),
            deleted: false,
        }],
    });
    c
}

#[tokio::test]
async fn creates_every_product_then_a_rerun_writes_nothing() {
    let (fake, client) = start(Catalog::default(), 3).await;
    let input = parents(120);
    let report = client
        .upsert("m1", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    assert_eq!(report.outcomes.len(), 120);
    let mut journal = Journal::default();
    for o in report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert_eq!(o.prior, Some(PriorState::Absent));
        assert_eq!(o.variation_ids.len(), 2);
        assert!(
            o.object_id
                .as_deref()
                .is_some_and(|id| !id.starts_with('#'))
        );
        journal.record(o);
    }
    assert_eq!(live_items(&fake), 120);
    assert_eq!(fake.catalog().categories.len(), 3);
    let first = journal.object_id("P0").expect("mapped").to_owned();
    let back = client
        .read_back(std::slice::from_ref(&first))
        .await
        .expect("read back");
    let snap = &back[&first];
    assert_eq!(snap.body["item_data"]["name"], "Product 0");
    assert_eq!(
        snap.body["item_data"]["variations"][0]["item_variation_data"]["price_money"]["amount"],
        1000
    );
    assert_eq!(
        snap.stock.values().next().and_then(|s| s.get("L1")),
        Some(&Decimal::new(25, 1))
    );

    let writes = fake.writes_applied();
    let again = client.upsert("m1", &input, &journal).await.expect("re-run");
    assert!(
        again.outcomes.iter().all(|o| o.action == Action::Unchanged),
        "{:?}",
        again.outcomes[0]
    );
    assert_eq!(fake.writes_applied(), writes, "a re-run writes nothing");
    assert_eq!(live_items(&fake), 120);
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_and_written_once() {
    let (fake, client) = start(Catalog::default(), 3).await;
    fake.lose_responses(1);
    let report = client
        .upsert("m1", &parents(3), &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    assert!(report.outcomes.iter().all(|o| o.action == Action::Created));
    assert_eq!(live_items(&fake), 3);
    assert!(client.stats().retries >= 1);
}

#[tokio::test]
async fn interrupted_after_a_written_chunk_resumes_without_duplicates() {
    // Categories exist already, so the first write is the first chunk of 50 products: it
    // lands at Square but both attempts' answers are lost, and the run stops.
    let catalog = Catalog {
        categories: (0..3)
            .map(|i| (format!("C{i}"), format!("Cat {i}")))
            .collect(),
        ..Catalog::default()
    };
    let (fake, client) = start(catalog, 2).await;
    let input = parents(120);
    let mut journal = Journal::default();
    fake.lose_responses(2);
    let first = client.upsert("m1", &input, &journal).await.expect("upsert");
    assert!(
        matches!(first.stopped, Some(ConnectorError::Exhausted { .. })),
        "{:?}",
        first.stopped
    );
    assert_eq!(first.outcomes.len(), 50, "only the first chunk was tried");
    assert!(
        first
            .outcomes
            .iter()
            .all(|o| matches!(o.action, Action::Failed { .. }))
    );
    assert_eq!(live_items(&fake), 50, "the chunk landed at Square");
    for o in first.outcomes {
        journal.record(o);
    }
    fake.lose_responses(0);
    let resumed = client.upsert("m1", &input, &journal).await.expect("resume");
    assert!(resumed.stopped.is_none(), "{:?}", resumed.stopped);
    assert_eq!(resumed.outcomes.len(), 120);
    for o in resumed.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        journal.record(o);
    }
    assert_eq!(live_items(&fake), 120, "no duplicates");
    assert_eq!(journal.entries.len(), 120);
}

#[tokio::test]
async fn updating_the_merchants_item_records_its_prior_state_and_rollback_restores_it() {
    let (fake, client) = start(catalog_with_own_item(), 3).await;
    let mut update = parent(7);
    update.existing_id = Some("OWN".into());
    update.variations[0].sku = Some("SKU-OWN".into());
    let input = vec![update, parent(1), parent(2)];
    let report = client
        .upsert("m2", &input, &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    for o in report.outcomes {
        journal.record(o);
    }
    let own = &journal.entries["P7"];
    assert_eq!(own.action, Action::Updated);
    assert_eq!(own.object_id.as_deref(), Some("OWN"));
    assert_eq!(own.variation_ids["S7-0"], "OWNV", "matched by SKU");
    let Some(PriorState::Existed { snapshot }) = &own.prior else {
        panic!("prior state recorded: {:?}", own.prior);
    };
    assert_eq!(snapshot.body["item_data"]["name"], "Merchant's latte");
    assert_eq!(
        snapshot.body["item_data"]["variations"][0]["item_variation_data"]["price_money"]["amount"],
        300
    );
    assert_eq!(live_items(&fake), 3);

    let undone = rollback(&client, "m2", &journal).await.expect("rollback");
    assert_eq!(undone.len(), 3);
    for u in &undone {
        assert!(u.verified, "{u:?}");
        let expected = if u.source_id == "P7" {
            UndoResult::Restored
        } else {
            UndoResult::Deleted
        };
        assert_eq!(u.result, expected, "{u:?}");
    }
    let c = fake.catalog();
    let live: Vec<&FakeItem> = c.items.iter().filter(|i| !i.deleted).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].name, "Merchant's latte");
    let vars: Vec<_> = live[0].variations.iter().filter(|v| !v.deleted).collect();
    assert_eq!(vars.len(), 1, "the added variation is gone");
    assert_eq!(vars[0].price, Some(300));
}

#[tokio::test]
async fn an_object_changed_at_square_after_our_write_is_a_conflict_left_alone() {
    let (fake, client) = start(Catalog::default(), 3).await;
    let report = client
        .upsert("m3", &parents(2), &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    for o in report.outcomes {
        journal.record(o);
    }
    let edited = journal.object_id("P1").expect("mapped").to_owned();
    fake.edit_item(&edited, |i| i.name = "Renamed by the merchant".into());
    let undone = rollback(&client, "m3", &journal).await.expect("rollback");
    let p1 = undone.iter().find(|u| u.source_id == "P1").expect("P1");
    assert!(matches!(p1.result, UndoResult::Conflict { .. }), "{p1:?}");
    let p0 = undone.iter().find(|u| u.source_id == "P0").expect("P0");
    assert_eq!(p0.result, UndoResult::Deleted);
    assert!(p0.verified);
    let c = fake.catalog();
    let left = c.items.iter().find(|i| i.id == edited).expect("kept");
    assert!(!left.deleted);
    assert_eq!(left.name, "Renamed by the merchant");
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_asks() {
    let (fake, client) = start(Catalog::default(), 3).await;
    let throttle = Canned::json(429, r#"{"errors":[{"category":"RATE_LIMIT_ERROR","code":"RATE_LIMITED","detail":"Rate limited"}]}"#)
        .header("retry-after", "1");
    let wait = Duration::from_secs(1);
    let (input, journal) = (parents(1), Journal::default());
    let upsert = client.upsert("m4", &input, &journal);
    let report = after_throttle(&fake.server.control, throttle, wait, upsert)
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    assert_eq!(report.outcomes[0].action, Action::Created);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_bad_token_is_refused_with_squares_reason() {
    let (fake, _) = start(Catalog::default(), 3).await;
    let wrong = client(&fake, "not-the-token", 3);
    let answer = wrong.upsert("m5", &parents(1), &Journal::default()).await;
    let reason = refused(answer, 401);
    assert!(reason.contains("UNAUTHORIZED"), "{reason}");
    assert_eq!(fake.writes_applied(), 0);
}

#[tokio::test]
async fn a_version_mismatch_fails_only_that_product_as_a_conflict() {
    let (fake, client) = start(catalog_with_own_item(), 3).await;
    let mut update = parent(7);
    update.existing_id = Some("OWN".into());
    let input = vec![update, parent(1)];
    fake.rename_before_next_upsert("OWN", "Renamed meanwhile");
    let report = client
        .upsert("m6", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    let own = &report.outcomes[0];
    match &own.action {
        Action::Failed { reason } => assert!(reason.starts_with("conflict:"), "{reason}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(own.prior, Some(PriorState::Existed { .. })));
    assert_eq!(
        report.outcomes[1].action,
        Action::Created,
        "the other product is written"
    );
    let c = fake.catalog();
    let kept = c.items.iter().find(|i| i.id == "OWN").expect("own item");
    assert_eq!(
        kept.name, "Renamed meanwhile",
        "the merchant's edit is not overwritten"
    );
}

#[tokio::test]
async fn a_malformed_answer_names_the_json_path() {
    let (fake, client) = start(Catalog::default(), 3).await;
    fake.server.control.push(
        Canned::json(
            200,
            r#"{"objects":[{"type":"ITEM","id":"X","version":"seven"}]}"#,
        ),
        1,
    );
    let path = malformed_path(client.read_back(&["X".to_owned()]).await);
    assert_eq!(path, "objects[0].version");
}

#[tokio::test]
async fn a_crash_after_an_update_whose_answer_was_lost_still_rolls_back_to_the_prior_state() {
    let mut catalog = catalog_with_own_item();
    catalog.categories.push(("C1".into(), "Cat 1".into()));
    let (fake, client) = start(catalog, 2).await;
    let mut update = parent(7);
    update.existing_id = Some("OWN".into());
    let input = vec![update];
    let mut journal = Journal::default();
    for (source, prior) in prior_states(&client, &input, &journal)
        .await
        .expect("priors")
    {
        journal.record_prior(&source, prior);
    }
    fake.lose_responses(2);
    let lost = client.upsert("m7", &input, &journal).await.expect("upsert");
    assert!(lost.stopped.is_some());
    // The process dies here: the outcomes are never recorded. The update landed.
    assert_eq!(fake.catalog().items[0].name, "Product 7");
    let resumed = client.upsert("m7", &input, &journal).await.expect("resume");
    for o in resumed.outcomes {
        journal.record(o);
    }
    let undone = rollback(&client, "m7", &journal).await.expect("rollback");
    assert_eq!(undone.len(), 1);
    assert_eq!(undone[0].result, UndoResult::Restored, "{:?}", undone[0]);
    assert!(undone[0].verified);
    assert_eq!(fake.catalog().items[0].name, "Merchant's latte");
}

#[tokio::test]
async fn two_thousand_products_take_one_request_per_fifty_plus_stock_batches() {
    let (fake, client) = start(Catalog::default(), 3).await;
    let input = parents(2000);
    let report = client
        .upsert("m8", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    assert_eq!(live_items(&fake), 2000);
    // 1 category listing + 1 category upsert + 40 product chunks + 40 stock batches.
    assert_eq!(client.stats().api_calls, 82);
}

#[tokio::test]
async fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let (fake, client) = start(Catalog::default(), 3).await;
    let mut input = parents(3);
    let planned = client
        .dry_run("m9", &input, &Journal::default())
        .await
        .expect("dry run");
    assert!(
        planned
            .iter()
            .all(|o| o.action == Action::Created && !o.sent)
    );
    assert_eq!(fake.writes_applied(), 0);
    assert!(
        fake.catalog().categories.is_empty(),
        "no category was created"
    );
    let mut journal = Journal::default();
    for o in client
        .upsert("m9", &input, &journal)
        .await
        .expect("upsert")
        .outcomes
    {
        journal.record(o);
    }
    let writes = fake.writes_applied();
    input[1].variations[0].price_minor = Some(4200);
    input[2].variations[1]
        .stock_by_location
        .insert("L1".into(), Decimal::from(9));
    let planned = client
        .dry_run("m9", &input, &journal)
        .await
        .expect("dry run");
    let actions: Vec<&Action> = planned.iter().map(|o| &o.action).collect();
    assert_eq!(
        actions,
        [&Action::Unchanged, &Action::Updated, &Action::Updated]
    );
    assert_eq!(fake.writes_applied(), writes);
}

/// The IN_STOCK count of `variation` at `location` in the fake, as text.
fn in_stock(fake: &FakeSquare, variation: &str, location: &str) -> Option<String> {
    fake.catalog()
        .counts
        .iter()
        .find(|n| n.variation_id == variation && n.location_id == location && n.state == "IN_STOCK")
        .map(|n| n.quantity.clone())
}

#[tokio::test]
async fn a_quantity_without_a_location_is_counted_at_the_main_location_and_rolled_back() {
    let mut catalog = catalog_with_own_item();
    catalog.locations = vec![
        ("LMAIN".into(), "Main".into()),
        ("L2".into(), "Annex".into()),
    ];
    catalog
        .counts
        .push(tillbridge_connectors::fake::square::FakeCount {
            variation_id: "OWNV".into(),
            location_id: "LMAIN".into(),
            state: "IN_STOCK".into(),
            quantity: "2".into(),
        });
    let (fake, client) = start(catalog, 3).await;
    // As a CSV export gives it: a Quantity column, no location.
    let unlocated = |mut p: Parent, qty: i64| {
        for v in &mut p.variations {
            v.stock_by_location.clear();
            v.quantity_on_hand = Some(Decimal::from(qty));
        }
        p
    };
    let mut update = unlocated(parent(7), 9);
    update.existing_id = Some("OWN".into());
    update.variations[0].sku = Some("SKU-OWN".into());
    let input = vec![update, unlocated(parent(1), 5)];
    let report = client
        .upsert("m10", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    let mut journal = Journal::default();
    for o in report.outcomes {
        journal.record(o);
    }
    assert_eq!(journal.entries["P7"].action, Action::Updated);
    assert_eq!(journal.entries["P1"].action, Action::Created);
    assert_eq!(in_stock(&fake, "OWNV", "LMAIN").as_deref(), Some("9"));
    for vid in journal.entries["P1"].variation_ids.values() {
        assert_eq!(in_stock(&fake, vid, "LMAIN").as_deref(), Some("5"), "{vid}");
        assert_eq!(in_stock(&fake, vid, "L2"), None, "only the main location");
    }
    let again = client
        .upsert("m10", &input, &journal)
        .await
        .expect("re-run");
    assert!(
        again.outcomes.iter().all(|o| o.action == Action::Unchanged),
        "{:?}",
        again.outcomes
    );

    let undone = rollback(&client, "m10", &journal).await.expect("rollback");
    for u in &undone {
        assert!(u.verified, "{u:?}");
    }
    assert_eq!(
        in_stock(&fake, "OWNV", "LMAIN").as_deref(),
        Some("2"),
        "the merchant's count is back"
    );
    assert_eq!(live_items(&fake), 1);
}

#[tokio::test]
async fn stock_without_a_location_at_an_account_without_locations_fails_with_the_reason() {
    let (_fake, client) = start(Catalog::default(), 3).await;
    let mut p = parent(1);
    for v in &mut p.variations {
        v.stock_by_location.clear();
        v.quantity_on_hand = Some(Decimal::from(4));
    }
    let report = client
        .upsert("m11", &[p], &Journal::default())
        .await
        .expect("upsert");
    match &report.outcomes[0].action {
        Action::Failed { reason } => assert!(reason.contains("no active location"), "{reason}"),
        other => panic!("the dropped stock must be reported, got {other:?}"),
    }
}

#[tokio::test]
async fn rollback_deletes_the_categories_the_migration_created_and_only_those() {
    let mut catalog = Catalog {
        list_page: 100,
        ..Catalog::default()
    };
    catalog.categories.push(("OLD0".into(), "Cat 0".into()));
    let (fake, client) = start(catalog, 3).await;
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
    for o in report.outcomes {
        journal.record(o);
    }
    assert_eq!(fake.catalog().categories.len(), 3);
    let again = client
        .upsert("m12", &input, &journal)
        .await
        .expect("re-run");
    assert!(again.categories.is_empty(), "nothing new on a re-run");

    // The merchant renames one of ours meanwhile: it is theirs now.
    let renamed = journal.categories["Cat 2"].object_id.clone().expect("id");
    if let Some(c) = fake
        .catalog()
        .categories
        .iter_mut()
        .find(|(id, _)| *id == renamed)
    {
        c.1 = "Seasonal".into();
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
    assert_eq!(live_items(&fake), 0);
    let mut left: Vec<String> = fake
        .catalog()
        .categories
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    left.sort_unstable();
    assert_eq!(left, ["Cat 0", "Seasonal"]);
}

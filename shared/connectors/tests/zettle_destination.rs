//! Zettle as a destination against the fake Zettle: create with derived UUIDs, re-run,
//! lost answers, resume after an interrupted run, the merchant's product updated and
//! restored, conflicts (back-office edits, 412), validation errors, 429.

mod common;

use std::time::Duration;

use common::{after_throttle, env, fast, record_all, sized_product};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tillbridge_connectors::fake::Canned;
use tillbridge_connectors::fake::zettle::{FakeZettle, Organization};
use tillbridge_connectors::fake::zettle_write::STORE;
use tillbridge_connectors::{
    Action, ConnectorError, Destination, Journal, Parent, PriorState, UndoResult, ZettleClient,
    prior_states, rollback,
};
use tillbridge_domain::{Currency, Secret};

const TOKEN: &str = "zettle-dest";
const MUG: &str = "0a0a0a0a-0000-1000-8000-00000000a001";
const MUG_VARIANT: &str = "0a0a0a0a-0000-1000-8000-00000000b001";

async fn start(attempts: u32) -> (FakeZettle, ZettleClient) {
    let org = Organization {
        products: Vec::new(),
        currency: "USD".into(),
        page: 100,
    };
    let fake = FakeZettle::start(TOKEN, org).await.expect("fake");
    let (env, _) = env();
    let client = ZettleClient::new(
        Some(&fake.server.base_url),
        &Secret::new(TOKEN),
        fast(attempts),
        &env,
    )
    .expect("client");
    (fake, client)
}

/// Product `P{i}`: three sizes, except every third product, a single variant.
fn parent(i: usize) -> Parent {
    sized_product(i, if i % 3 == 2 { 1 } else { 3 })
}

fn parents(n: usize) -> Vec<Parent> {
    (0..n).map(parent).collect()
}

fn variants(fake: &FakeZettle) -> usize {
    fake.writes()
        .products
        .values()
        .map(|p| p["variants"].as_array().map_or(0, Vec::len))
        .sum()
}

/// The STORE balance of `variant`.
fn balance(fake: &FakeZettle, variant: &str) -> Option<Decimal> {
    fake.writes()
        .balances
        .get(variant)
        .and_then(|(_, by)| by.get(STORE).copied())
}

/// Products by UUID (without their ETag and change stamps) and balances by variant.
type State = (Vec<(String, Value)>, Vec<(String, Vec<(String, Decimal)>)>);

/// The fake's library and balances, to compare before and after.
fn state(fake: &FakeZettle) -> State {
    let w = fake.writes();
    let mut products: Vec<(String, Value)> = w
        .products
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            for f in ["etag", "updated", "updatedBy"] {
                if let Some(m) = v.as_object_mut() {
                    m.remove(f);
                }
            }
            (k.clone(), v)
        })
        .collect();
    products.sort_by(|a, b| a.0.cmp(&b.0));
    let balances = w
        .balances
        .iter()
        .map(|(k, (_, by))| (k.clone(), by.iter().map(|(i, q)| (i.clone(), *q)).collect()))
        .collect();
    (products, balances)
}

/// The merchant's own mug: one variant, SKU `MUG-1`, $3.00, 4 in stock.
fn with_mug(fake: &FakeZettle) {
    fake.put_product(
        json!({"uuid": MUG, "name": "Merchant mug", "description": "Stoneware",
               "variants": [{"uuid": MUG_VARIANT, "name": "", "sku": "MUG-1",
                             "price": {"amount": 300, "currencyId": "USD"}}]}),
        &[(MUG_VARIANT, 4)],
    );
}

fn mug_import() -> Parent {
    let mut p = sized_product(50, 1);
    p.source_id = "M".into();
    p.existing_id = Some(MUG.into());
    let v = &mut p.variations[0];
    v.name = Some("Imported mug".into());
    v.sku = Some("MUG-1".into());
    v.price_minor = Some(550);
    v.stock_by_location.clear();
    v.stock_by_location.insert(STORE.into(), Decimal::from(9));
    p
}

async fn with_priors(client: &ZettleClient, input: &[Parent]) -> Journal {
    let mut journal = Journal::default();
    for (source, prior) in prior_states(client, input, &journal).await.expect("priors") {
        journal.record_prior(&source, prior);
    }
    journal
}

#[tokio::test]
async fn creates_every_product_with_stock_then_a_rerun_writes_nothing() {
    let (fake, client) = start(3).await;
    let input = parents(30);
    let report = client
        .upsert("m1", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
        assert_eq!(o.prior, Some(PriorState::Absent));
        assert!(o.sent);
        assert_eq!(o.versions.len(), 1);
    }
    assert_eq!(fake.product_count(), 30);
    assert_eq!(variants(&fake), 20 * 3 + 10);
    assert_eq!(fake.writes().categories.len(), 3);
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);

    let id = journal.object_id("P1").expect("mapped").to_owned();
    let back = client
        .read_back(std::slice::from_ref(&id))
        .await
        .expect("read back");
    let s = &back[&id];
    assert_eq!(s.body["name"], "Product 1");
    assert_eq!(
        s.body["variants"][0]["price"],
        json!({"amount": 1001, "currencyId": "USD"})
    );
    assert_eq!(s.body["variants"][2]["options"][0]["value"], "Size 2");
    assert_eq!(s.body["category"]["name"], "Cat 1");
    // L1 2 + L2 3 counted into the organization's one STORE inventory.
    let v = &journal.entries["P1"].variation_ids["S1-0"];
    assert_eq!(balance(&fake, v), Some(Decimal::from(5)));
    assert_eq!(s.stock[v][STORE], Decimal::from(5));

    let writes = fake.writes_applied();
    let again = client.upsert("m1", &input, &journal).await.expect("re-run");
    assert!(
        again
            .outcomes
            .iter()
            .all(|o| o.action == Action::Unchanged && !o.sent),
        "a re-run finds every product as it would write it: {:?}",
        again.outcomes.iter().find(|o| o.sent)
    );
    assert_eq!(fake.writes_applied(), writes, "a re-run writes nothing");
    // A new migration with another id would make other products: the UUIDs are derived.
    assert_ne!(
        client
            .dry_run("m2", &input[..1], &Journal::default())
            .await
            .expect("dry run")[0]
            .object_id,
        journal.entries["P0"].object_id
    );
}

#[tokio::test]
async fn a_lost_answer_is_retried_without_duplicates_or_double_stock() {
    let (fake, client) = start(3).await;
    fake.lose_responses(2);
    let input = parents(3);
    let report = client
        .upsert("m3", &input, &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    for o in &report.outcomes {
        assert_eq!(o.action, Action::Created, "{o:?}");
    }
    assert_eq!(fake.product_count(), 3, "no duplicates");
    let v = &report.outcomes[0].variation_ids["S0-1"];
    assert_eq!(balance(&fake, v), Some(Decimal::from(5)), "moved once");
    assert!(client.stats().retries >= 2);

    // A lost update answer: the retry gets 412 (the ETag moved with our own write) and the
    // product read back holds what we wrote.
    with_mug(&fake);
    fake.lose_responses(1);
    let report = client
        .upsert("m3", &[mug_import()], &Journal::default())
        .await
        .expect("upsert");
    assert_eq!(
        report.outcomes[0].action,
        Action::Updated,
        "{:?}",
        report.outcomes[0]
    );
    assert_eq!(fake.writes().products[MUG]["name"], "Imported mug");
}

#[tokio::test]
async fn an_interrupted_run_resumes_without_duplicates_and_rollback_leaves_zettle_as_before() {
    let (fake, client) = start(1).await;
    with_mug(&fake);
    let before = state(&fake);
    let mut input = parents(10);
    input.push(mug_import());
    let mut journal = with_priors(&client, &input).await;
    // Eight writes land (categories, then product + movements each), then Zettle is down:
    // P3 is created, its stock movement is not.
    fake.writes_fail_after(8);
    let first = client.upsert("m4", &input, &journal).await.expect("upsert");
    assert!(
        matches!(first.stopped, Some(ConnectorError::Exhausted { .. })),
        "{:?}",
        first.stopped
    );
    assert_eq!(first.outcomes.len(), 4, "three written, the fourth stopped");
    assert_eq!(fake.product_count(), 1 + 4);
    record_all(&mut journal, first.outcomes);
    fake.writes_resume();

    let resumed = client.upsert("m4", &input, &journal).await.expect("resume");
    assert!(resumed.stopped.is_none(), "{:?}", resumed.stopped);
    record_all(&mut journal, resumed.outcomes);
    assert_eq!(fake.product_count(), 11, "no duplicates");
    for (source, e) in &journal.entries {
        let want = if source == "M" {
            Action::Updated
        } else {
            Action::Created
        };
        assert_eq!(e.action, want, "{e:?}");
        for v in e.variation_ids.values() {
            let want = if source == "M" { 9 } else { 5 };
            assert_eq!(balance(&fake, v), Some(Decimal::from(want)), "{source} {v}");
        }
    }

    let undone = rollback(&client, "m4", &journal).await.expect("rollback");
    assert_eq!(undone.len(), 11);
    for u in &undone {
        let want = if u.source_id == "M" {
            UndoResult::Restored
        } else {
            UndoResult::Deleted
        };
        assert_eq!((&u.result, u.verified), (&want, true), "{u:?}");
    }
    let after = state(&fake);
    assert_eq!(after.0.len(), 1);
    assert_eq!(after.0[0].1["name"], "Merchant mug");
    assert_eq!(after.0[0].1["variants"], before.0[0].1["variants"]);
    assert_eq!(
        after.1, before.1,
        "the mug's 4 in stock are back, nothing else"
    );
}

#[tokio::test]
async fn a_product_changed_in_the_back_office_is_a_conflict_left_alone() {
    let (fake, client) = start(3).await;
    let report = client
        .upsert("m5", &parents(2), &Journal::default())
        .await
        .expect("upsert");
    let mut journal = Journal::default();
    record_all(&mut journal, report.outcomes);
    let edited = journal.object_id("P1").expect("P1").to_owned();
    fake.edit(&edited, |p| p["name"] = json!("Renamed at the till"));
    let undone = rollback(&client, "m5", &journal).await.expect("rollback");
    let p1 = undone.iter().find(|u| u.source_id == "P1").expect("P1");
    assert!(matches!(p1.result, UndoResult::Conflict { .. }), "{p1:?}");
    let p0 = undone.iter().find(|u| u.source_id == "P0").expect("P0");
    assert_eq!((&p0.result, p0.verified), (&UndoResult::Deleted, true));
    assert_eq!(fake.product_count(), 1);
    assert!(fake.writes().products.contains_key(&edited));
}

#[tokio::test]
async fn an_edit_between_our_read_and_our_update_is_a_412_conflict() {
    let (fake, client) = start(3).await;
    with_mug(&fake);
    fake.rename_before_next_update(MUG, "Renamed meanwhile");
    let report = client
        .upsert("m6", &[mug_import()], &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none());
    match &report.outcomes[0].action {
        Action::Failed { reason } => assert!(reason.starts_with("conflict:"), "{reason}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        fake.writes().products[MUG]["name"],
        "Renamed meanwhile",
        "not overwritten"
    );
}

#[tokio::test]
async fn a_validation_error_fails_only_that_product_with_zettles_violations() {
    let (fake, client) = start(3).await;
    let mut euro = parent(1);
    for v in &mut euro.variations {
        v.currency = Some(Currency::parse("EUR").expect("EUR"));
    }
    let report = client
        .upsert("m7", &[euro, parent(2)], &Journal::default())
        .await
        .expect("upsert");
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    match &report.outcomes[0].action {
        Action::Failed { reason } => {
            assert!(reason.contains("variants[0].price.currencyId"), "{reason}");
            assert!(reason.contains("CONSTRAINT_VIOLATION"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(report.outcomes[1].action, Action::Created);
    assert_eq!(fake.product_count(), 1);
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_asks() {
    let (fake, client) = start(3).await;
    let throttle = Canned::json(
        429,
        r#"{"developerMessage":"Too many requests","errorType":"TOO_MANY_REQUESTS","violations":[]}"#,
    )
    .header("retry-after", "1");
    let (input, journal) = (parents(1), Journal::default());
    let upsert = client.upsert("m8", &input, &journal);
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
async fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let (fake, client) = start(3).await;
    with_mug(&fake);
    let planned = client
        .dry_run("m9", &[mug_import(), parent(1)], &Journal::default())
        .await
        .expect("dry run");
    let actions: Vec<&Action> = planned.iter().map(|o| &o.action).collect();
    assert_eq!(actions, [&Action::Updated, &Action::Created]);
    assert_eq!(fake.writes_applied(), 0);
    assert_eq!(fake.product_count(), 1);
}

#[tokio::test]
async fn rollback_deletes_the_categories_the_migration_created_and_only_those() {
    let (fake, client) = start(3).await;
    fake.writes().categories = vec![(
        "0c0c0c0c-0000-1000-8000-000000000c00".into(),
        "Cat 0".into(),
    )];
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

    // The merchant renames one of ours in the back office: it is theirs now.
    let renamed = journal.categories["Cat 2"].object_id.clone().expect("uuid");
    for c in &mut fake.writes().categories {
        if c.0 == renamed {
            c.1 = "Seasonal".into();
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
    assert!(fake.writes().products.is_empty());
    let mut left: Vec<String> = fake
        .writes()
        .categories
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    left.sort_unstable();
    assert_eq!(left, ["Cat 0", "Seasonal"]);
}

//! Migrations with a destination (shared/design/CLI.md "Destination") against the fake Square
//! served in this process: the items land at the fake, a re-run writes nothing new, the
//! report shows what happened per item, a preview writes nothing, and a rollback deletes them
//! there, verified — except objects edited at the fake since, which are conflicts left alone.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{Value, json};
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_domain::{CorrelationId, Currency, MigrationId, Provider, TenantId, Timestamp};
use tillbridge_local::LocalRuntime;
use tillbridge_migration::{self as migration, Status, rollback};
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{Clock, ManualClock, Table};

fn t1() -> TenantId {
    TenantId::parse("t1").unwrap()
}

fn at() -> Timestamp {
    Timestamp::parse_rfc3339("2026-05-01T10:00:00Z").unwrap()
}

struct Harness {
    rt: LocalRuntime,
    table: Arc<dyn Table>,
    clock: Arc<ManualClock>,
    fake: FakeSquare,
}

async fn harness() -> Harness {
    let fake = FakeSquare::start(
        "tok",
        Catalog {
            locations: vec![("L1".into(), "Main".into())],
            list_page: 100,
            ..Catalog::default()
        },
    )
    .await
    .unwrap();
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"square":{{"secret":"sq-secret","notification_url":"https://hooks.example/sq","api":{{"base_url":"{}","access_token":"tok"}}}}}}}}]}}"#,
        fake.server.base_url
    );
    let clock = Arc::new(ManualClock::new(at()));
    let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
    let rt = LocalRuntime::new(
        table.clone(),
        Arc::new(MemoryBlobStore::default()),
        Arc::new(StaticDirectory::from_json(&tenants).unwrap()),
        clock.clone(),
    );
    Harness {
        rt,
        table,
        clock,
        fake,
    }
}

/// Six products, one customer (never written to the destination).
fn export() -> Value {
    let items: Vec<Value> = (1..=6)
        .map(|i| json!({"id": format!("p{i}"), "name": format!("Item {i}"), "sku": format!("SKU-p{i}"), "category": "Coffee", "price": format!("3.{i:02}")}))
        .collect();
    json!({
        "items": items,
        "customers": [{"id": "c1", "name": "Ana Lind", "email": "ana@example.com", "marketing_consent": true}]
    })
}

async fn start(h: &Harness, preview: bool) -> MigrationId {
    let bytes = serde_json::to_vec(&export()).unwrap();
    let m = migration::start(
        h.table.as_ref(),
        h.rt.blobs.as_ref(),
        h.rt.bus.as_ref(),
        migration::StartRequest {
            tenant: &t1(),
            currency: Currency::USD,
            country: None,
            source_name: "legacy",
            export: migration::ExportSource::Upload {
                bytes: &bytes,
                csv: false,
            },
            requested_by: "ops",
            idempotency_key: None,
            correlation_id: CorrelationId::parse("c").unwrap(),
            at: h.clock.now(),
            destination: Some(Provider::Square),
            retry_of: None,
        },
    )
    .await
    .unwrap();
    h.rt.drain().await.unwrap();
    migration::approve_with(
        h.table.as_ref(),
        h.rt.bus.as_ref(),
        &m.id,
        "ops",
        at(),
        preview,
    )
    .await
    .unwrap();
    h.rt.drain().await.unwrap();
    m.id
}

async fn state(h: &Harness, id: &MigrationId) -> migration::Migration {
    migration::load(h.table.as_ref(), id)
        .await
        .unwrap()
        .unwrap()
        .0
}

async fn report(h: &Harness, id: &MigrationId) -> Value {
    let m = state(h, id).await;
    migration::destination::report_json(h.table.as_ref(), h.rt.blobs.as_ref(), &m)
        .await
        .unwrap()
        .unwrap()
}

/// `external_id` → its destination view, for the items of the report.
fn destinations(report: &Value) -> Vec<(String, Value)> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["destination"].is_object())
        .map(|e| {
            (
                e["external_id"].as_str().unwrap().to_owned(),
                e["destination"].clone(),
            )
        })
        .collect()
}

fn live(fake: &FakeSquare) -> Vec<(String, String)> {
    fake.catalog()
        .items
        .iter()
        .filter(|i| !i.deleted)
        .map(|i| (i.id.clone(), i.name.clone()))
        .collect()
}

async fn undo(h: &Harness, id: &MigrationId) -> rollback::Report {
    migration::request_rollback(h.table.as_ref(), h.rt.bus.as_ref(), id, "ops", at())
        .await
        .unwrap();
    h.rt.drain().await.unwrap();
    let m = state(h, id).await;
    assert_eq!(m.status, Status::RolledBack, "{:?}", m.error);
    serde_json::from_slice(
        &h.rt
            .blobs
            .get(m.rollback_report_key.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_to_square_rerun_writes_nothing_report_and_rollback_verified() {
    let h = harness().await;
    let id = start(&h, false).await;
    let m = state(&h, &id).await;
    assert_eq!(m.status, Status::Completed, "{:?}", m.error);
    assert_eq!(m.destination, Some(Provider::Square));
    let at_fake = live(&h.fake);
    assert_eq!(at_fake.len(), 6, "{at_fake:?}");
    assert!(at_fake.iter().any(|(_, n)| n == "Item 3"));
    let r = report(&h, &id).await;
    let d = destinations(&r);
    assert_eq!(d.len(), 6, "{r}");
    for (item, v) in &d {
        assert_eq!(v["provider"], "square", "{item}: {v}");
        assert_eq!(v["action"], "created", "{item}: {v}");
        assert!(v["object_id"].is_string(), "{item}: {v}");
    }
    assert_eq!(r["destination"]["created"], 6, "{r}");

    // A re-run (a second migration of the same export): the objects are found as they
    // would be written; nothing is sent.
    let writes = h.fake.writes_applied();
    let again = start(&h, false).await;
    assert_eq!(state(&h, &again).await.status, Status::Completed);
    assert_eq!(h.fake.writes_applied(), writes, "a re-run wrote something");
    assert_eq!(live(&h.fake).len(), 6);
    let r2 = report(&h, &again).await;
    for (item, v) in destinations(&r2) {
        assert_eq!(v["action"], "unchanged", "{item}: {v}");
    }

    // Newest first: the re-run changed nothing there, the first migration created it all.
    let undone = undo(&h, &again).await;
    assert_eq!(undone.destination.as_ref().unwrap().deleted, 0);
    assert_eq!(live(&h.fake).len(), 6);
    let undone = undo(&h, &id).await;
    assert!(undone.verified, "{undone:?}");
    let dest = undone.destination.unwrap();
    // Six products and the category the migration made for them.
    assert_eq!(dest.deleted, 7, "{dest:?}");
    assert!(dest.verified && dest.conflicts.is_empty(), "{dest:?}");
    assert!(live(&h.fake).is_empty(), "{:?}", live(&h.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_edited_at_square_since_is_a_conflict_left_alone() {
    let h = harness().await;
    let id = start(&h, false).await;
    assert_eq!(state(&h, &id).await.status, Status::Completed);
    let (edited, _) = live(&h.fake)
        .into_iter()
        .find(|(_, n)| n == "Item 2")
        .unwrap();
    h.fake
        .edit_item(&edited, |i| i.name = "Item 2 (merchant's)".into());
    let undone = undo(&h, &id).await;
    let dest = undone.destination.clone().unwrap();
    assert_eq!(dest.conflicts, vec![edited.clone()], "{dest:?}");
    // Five products and the category.
    assert_eq!(dest.deleted, 6, "{dest:?}");
    assert!(
        undone.conflicts.contains(&format!("square:{edited}")),
        "{undone:?}"
    );
    assert!(undone.verified, "{undone:?}");
    assert_eq!(
        live(&h.fake),
        vec![(edited, "Item 2 (merchant's)".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_shows_what_the_destination_would_do_without_writing() {
    let h = harness().await;
    let id = start(&h, true).await;
    assert_eq!(state(&h, &id).await.status, Status::Previewed);
    assert_eq!(h.fake.writes_applied(), 0);
    assert!(live(&h.fake).is_empty());
    let r = report(&h, &id).await;
    let p = &r["destination_preview"];
    assert_eq!(p["provider"], "square", "{r}");
    assert_eq!(p["created"], 6, "{p}");
    assert_eq!(p["items"].as_array().unwrap().len(), 6);
    // Approving the preview applies it, there too.
    migration::approve(h.table.as_ref(), h.rt.bus.as_ref(), &id, "ops", at())
        .await
        .unwrap();
    h.rt.drain().await.unwrap();
    assert_eq!(state(&h, &id).await.status, Status::Completed);
    assert_eq!(live(&h.fake).len(), 6);
}

//! Migrations end to end on in-memory ports, through the management API's routes:
//! start → suggestions → review → approve → validate → snapshot → apply → rollback.
//! Round trips must restore the catalog exactly (canonical JSON), also when the apply or the
//! rollback is interrupted and resumed, and when webhooks change untouched items meanwhile.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};
use tillbridge_api as http;
use tillbridge_catalog as catalog;
use tillbridge_domain::event::derive_event_id;
use tillbridge_domain::event::{ApplyRequested, EventData, ItemUpserted, SCHEMA_VERSION};
use tillbridge_domain::{
    CatalogItem, CorrelationId, Currency, Envelope, MigrationId, TenantId, Timestamp,
};
use tillbridge_local::LocalRuntime;
use tillbridge_migration::MigrationError;
use tillbridge_migration::{self as migration, Status, rollback, snapshot};
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable};
use tillbridge_ports::table::{Condition, Item, Page, TxWrite};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{Clock, ManualClock, PortError, Table};

const TENANTS: &str = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{}}]}"#;

fn t1() -> TenantId {
    TenantId::parse("t1").unwrap()
}

fn at() -> Timestamp {
    Timestamp::parse_rfc3339("2026-05-01T10:00:00Z").unwrap()
}

/// A table whose writes start failing after a budget of transactions: a crash mid-run.
struct Crashing {
    inner: Arc<dyn Table>,
    budget: AtomicUsize,
}

impl Crashing {
    fn new(inner: Arc<dyn Table>, transactions: usize) -> Self {
        Self {
            inner,
            budget: AtomicUsize::new(transactions),
        }
    }
}

#[async_trait]
impl Table for Crashing {
    async fn get(&self, pk: &str, sk: &str) -> tillbridge_ports::Result<Option<Item>> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, condition: Condition) -> tillbridge_ports::Result<u64> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, pk: &str, sk: &str, c: Condition) -> tillbridge_ports::Result<()> {
        self.inner.delete(pk, sk, c).await
    }
    async fn add(
        &self,
        pk: &str,
        sk: &str,
        d: &[(&str, i64)],
    ) -> tillbridge_ports::Result<Vec<i64>> {
        self.inner.add(pk, sk, d).await
    }
    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> tillbridge_ports::Result<Page> {
        self.inner.query(pk, prefix, after, limit).await
    }
    fn max_transaction_writes(&self) -> usize {
        self.inner.max_transaction_writes()
    }
    async fn transact(&self, writes: Vec<TxWrite>) -> tillbridge_ports::Result<()> {
        if self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
            .is_err()
        {
            return Err(PortError::Transient("power cut".into()));
        }
        self.inner.transact(writes).await
    }
}

struct Harness {
    rt: LocalRuntime,
    table: Arc<dyn Table>,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    harness_with(tillbridge_ports::table::MAX_TX_WRITES)
}

/// A harness whose table takes up to `max_tx_writes` writes a transaction (100: DynamoDB;
/// more: a local store, whose migration batches are that much larger).
fn harness_with(max_tx_writes: usize) -> Harness {
    let clock = Arc::new(ManualClock::new(at()));
    let table: Arc<dyn Table> =
        Arc::new(MemoryTable::new(clock.clone()).with_max_transaction_writes(max_tx_writes));
    let rt = LocalRuntime::new(
        table.clone(),
        Arc::new(MemoryBlobStore::default()),
        Arc::new(StaticDirectory::from_json(TENANTS).unwrap()),
        clock.clone(),
    );
    Harness { rt, table, clock }
}

fn item(id: &str, name: &str, price: i64) -> CatalogItem {
    CatalogItem {
        external_id: id.into(),
        sku: Some(format!("SKU-{id}")),
        name: Some(name.into()),
        category: Some("Coffee".into()),
        price_minor: Some(price),
        currency: Some(Currency::USD),
        ..CatalogItem::default()
    }
}

fn upsert_event(item: CatalogItem, n: usize, updated: Timestamp) -> Envelope {
    stamped(item, n, updated, true)
}

fn stamped(item: CatalogItem, n: usize, updated: Timestamp, stamp: bool) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("wh/{}/{n}", item.external_id), 0),
        entity_id: item.external_id.clone(),
        body: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
            item: CatalogItem {
                updated_at: stamp.then_some(updated),
                ..item
            },
            inventory_item_id: None,
            parent_variants: None,
            product_variants: None,
        })),
        schema_version: SCHEMA_VERSION,
        tenant_id: t1(),
        provider: Some(tillbridge_domain::Provider::Square), // the namespace the `square` migrations write
        occurred_at: updated,
        received_at: updated,
        correlation_id: CorrelationId::parse("c-webhook").unwrap(),
        delivery_key: None,
    }
}

/// The catalog the merchant has before the migration: p1..p40.
async fn seed(table: &dyn Table) {
    for i in 1..=40 {
        let e = stamped(
            item(&format!("p{i}"), &format!("Item {i}"), 300 + i as i64),
            0,
            Timestamp::parse_rfc3339("2026-04-01T00:00:00Z").unwrap(),
            false,
        );
        assert_eq!(
            catalog::apply(table, &e).await.unwrap(),
            catalog::ApplyOutcome::Applied
        );
    }
}

/// The export: p1..p10 repriced (changed), p11 as it is (unchanged), n1..n150 new (created),
/// one with a negative price (held back).
fn export() -> Value {
    let mut records = Vec::new();
    for i in 1..=10 {
        records.push(json!({"id": format!("p{i}"), "name": format!("Item {i}"), "sku": format!("SKU-p{i}"), "category": "Coffee", "price": format!("{}.{:02}", 4, i)}));
    }
    records.push(json!({"id": "p11", "name": "Item 11", "sku": "SKU-p11", "category": "Coffee", "price": "3.11"}));
    for i in 1..=150 {
        records.push(json!({"id": format!("n{i}"), "name": format!("New {i}"), "sku": format!("SKU-n{i}"), "category": "Coffee", "price": format!("{}.{:02}", 3 + i % 4, i % 100)}));
    }
    records.push(json!({"id": "bad1", "name": "Broken", "sku": "SKU-bad1", "category": "Coffee", "price": "-3.00"}));
    json!({
        "items": records,
        "customers": [
            {"id": "c1", "name": "Ana Lind", "email": "ana@example.com", "marketing_consent": true},
            {"id": "c2", "name": "Bo Berg", "email": "bo@example.com", "marketing_consent": false},
            {"id": "c3", "name": "Cy Dahl", "email": "cy@example.com"}
        ]
    })
}

/// The tenant's live catalog in canonical form, by id.
async fn catalog_of(table: &dyn Table) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    snapshot::for_each_item(table, &t1(), |i| {
        out.insert(i.external_id.clone(), snapshot::canonical_line(&i)?);
        Ok::<_, MigrationError>(())
    })
    .await
    .unwrap();
    out
}

async fn call(h: &Harness, method: &str, path: &str, body: Value) -> (u16, Value) {
    let directory = StaticDirectory::from_json(TENANTS).unwrap();
    let api = http::Api {
        table: h.table.clone(),
        blobs: h.rt.blobs.clone(),
        bus: h.rt.bus.clone(),
        inbound: h.rt.inbound.clone(),
        admins: vec!["ana@ops".into()],
        syncs: None,
        dead_letters: Vec::new(),
        directory: std::sync::Arc::new(directory),
        secrets: h.rt.secrets.clone(),
        clock: h.clock.clone(),
        prices: std::sync::LazyLock::new(Box::new(|| {
            std::sync::Arc::new(tillbridge_costs::PriceBook::bundled())
        })),
    };
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let headers = [("content-type".to_owned(), "application/json".to_owned())];
    let r = http::handle(
        &api,
        &http::Request {
            method,
            path,
            query: &query,
            headers: &headers,
            operator: "ana@ops",
            body: &body,
        },
    )
    .await;
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// Starts and approves a migration of `export()`; returns its id once it is applying.
async fn start_and_approve(h: &Harness) -> String {
    let (status, m) = call(
        h,
        "POST",
        "/v1/migrations",
        json!({"tenant_id": "t1", "source_name": "square", "export": export()}),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    let id = m["id"].as_str().unwrap().to_owned();
    assert_eq!(m["status"], "pending");
    h.rt.drain().await.unwrap();
    let (_, m) = call(h, "GET", &format!("/v1/migrations/{id}"), Value::Null).await;
    assert_eq!(m["status"], "mapping_review");
    let (_, fields) = call(
        h,
        "GET",
        &format!("/v1/migrations/{id}/mappings"),
        Value::Null,
    )
    .await;
    let target = |source: &str| {
        fields["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["source"] == source)
            .map(|f| f["target"].clone())
    };
    assert_eq!(target("id"), Some(json!("external_id")), "{fields}");
    assert_eq!(target("price"), Some(json!("price_minor")));
    // The reviewer decides the category is not to be carried over, with a reason (audited).
    let (status, _) = call(
        h,
        "PUT",
        &format!("/v1/migrations/{id}/mappings"),
        // A name in the body is ignored: the audit records the authenticated operator.
        json!({"reviewer": "mallory", "overrides": [{"source": "category", "target": "category", "reason": "confirmed with the merchant"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, m) = call(
        h,
        "POST",
        &format!("/v1/migrations/{id}/approve"),
        json!({"reviewer": "mallory"}),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    assert_eq!(m["status"], "validating");
    id
}

fn mid(id: &str) -> MigrationId {
    MigrationId::parse(id).unwrap()
}

async fn state(h: &Harness, id: &str) -> migration::Migration {
    migration::load(h.table.as_ref(), &mid(id))
        .await
        .unwrap()
        .unwrap()
        .0
}

#[tokio::test]
async fn migrate_rerun_and_roll_back_restores_the_catalog_exactly() {
    let h = harness();
    seed(h.table.as_ref()).await;
    let before = catalog_of(h.table.as_ref()).await;
    let id = start_and_approve(&h).await;
    h.rt.drain().await.unwrap();

    let m = state(&h, &id).await;
    assert_eq!(m.status, Status::Completed, "{:?}", m.error);
    let p = &m.progress;
    assert_eq!(
        (p.created, p.changed, p.unchanged, p.skipped),
        (151, 10, 1, 1),
        "{p:?}"
    );
    // 150 new items + c1 (the only customer with consent) were created.
    let customers = m.customers.clone().unwrap();
    assert_eq!((customers.with_consent, customers.without_consent), (1, 2));
    let after = catalog_of(h.table.as_ref()).await;
    assert_eq!(after.len(), 40 + 150);
    assert!(after["p3"].contains("\"price_minor\":403"));
    assert!(!after.contains_key("bad1"));
    let manifest = m.snapshot.clone().unwrap();
    assert_eq!(manifest.items, 40);
    assert_eq!(
        manifest.sha256,
        snapshot::hash_lines(before.values().map(String::as_str))
    );

    // The validation report names the held-back item and no customer data.
    let (status, report) = call(
        &h,
        "GET",
        &format!("/v1/migrations/{id}/report"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["held_back"], json!(["bad1"]));
    let text = report.to_string();
    assert!(!text.contains("ana@example.com") && !text.contains("Ana Lind"));

    // Re-running: the same apply again, and a second migration of the same export.
    let mut rerun = m.clone();
    rerun.status = Status::Applying;
    let again = Envelope {
        event_id: derive_event_id("rerun", 0),
        entity_id: id.clone(),
        body: EventData::MigrationApplyRequested(ApplyRequested {
            migration_id: id.clone(),
            from: 0,
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: t1(),
        provider: None,
        occurred_at: at(),
        received_at: at(),
        correlation_id: CorrelationId::parse("c").unwrap(),
        delivery_key: None,
    };
    migration::handle(
        h.table.as_ref(),
        h.rt.blobs.as_ref(),
        h.rt.bus.as_ref(),
        &again,
        &|| false,
    )
    .await
    .unwrap();
    assert_eq!(catalog_of(h.table.as_ref()).await, after);
    assert_eq!(state(&h, &id).await.progress, m.progress);
    let second = start_and_approve(&h).await;
    h.rt.drain().await.unwrap();
    let m2 = state(&h, &second).await;
    assert_eq!(m2.status, Status::Completed);
    assert_eq!(
        (
            m2.progress.created,
            m2.progress.changed,
            m2.progress.unchanged
        ),
        (0, 0, 162),
        "a re-run of an applied export changes nothing"
    );
    assert_eq!(catalog_of(h.table.as_ref()).await, after);

    // Undo the first migration.
    let (status, m) = call(
        &h,
        "POST",
        &format!("/v1/migrations/{id}/rollback"),
        json!({"by": "ana@ops"}),
    )
    .await;
    assert_eq!(status, 202, "{m}");
    h.rt.drain().await.unwrap();
    let m = state(&h, &id).await;
    assert_eq!(m.status, Status::RolledBack, "{:?}", m.error);
    assert_eq!(catalog_of(h.table.as_ref()).await, before);
    assert!(
        h.table
            .get("customers#t1", "customer#c1")
            .await
            .unwrap()
            .is_none()
    );
    let (_, report) = call(
        &h,
        "GET",
        &format!("/v1/migrations/{id}/rollback-report"),
        Value::Null,
    )
    .await;
    assert_eq!(report["verified"], true);
    assert_eq!(report["removed"], 151);
    assert_eq!(report["restored"], 10);
    assert_eq!(report["current_sha256"], json!(manifest.sha256));

    // Asking again is refused; the audit report tells the whole story.
    let (status, _) = call(
        &h,
        "POST",
        &format!("/v1/migrations/{id}/rollback"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 409);
    let (_, audit) = call(
        &h,
        "GET",
        &format!("/v1/migrations/{id}/audit"),
        Value::Null,
    )
    .await;
    assert_eq!(audit["approved_by"], "ana@ops");
    assert_eq!(
        audit["human_overrides"][0]["reason"],
        "confirmed with the merchant"
    );
    assert_eq!(audit["counts"]["customers"]["without_consent"], 2);
    assert_eq!(audit["rollback"]["verified"], true);
    let statuses: Vec<&str> = audit["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "pending",
            "mapping_review",
            "validating",
            "applying",
            "completed",
            "rolling_back",
            "rolled_back"
        ]
    );
    assert!(!audit.to_string().contains("ana@example.com"));
}

/// Runs one migration step on `table` until it returns; the step may fail (a crash).
async fn step(
    h: &Harness,
    table: &dyn Table,
    e: &Envelope,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    migration::handle(table, h.rt.blobs.as_ref(), h.rt.bus.as_ref(), e, stop).await
}

fn migration_event(id: &str, body: EventData) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("test/{id}"), 0),
        entity_id: id.into(),
        body,
        schema_version: SCHEMA_VERSION,
        tenant_id: t1(),
        provider: None,
        occurred_at: at(),
        received_at: at(),
        correlation_id: CorrelationId::parse("c").unwrap(),
        delivery_key: None,
    }
}

#[tokio::test]
async fn interrupted_applies_and_rollbacks_resume_and_still_restore_exactly() {
    // Crash the apply after k transactions and the rollback after r, for several k and r,
    // with webhooks changing untouched items (and one migrated item) in between; on a table
    // with DynamoDB's 100-write transactions (7 apply batches, 5 rollback batches) and on one
    // taking 10,000 (the whole apply and the whole rollback are then one batch each, and
    // still all or nothing: the crash before it leaves nothing applied, or nothing undone).
    let dynamo = tillbridge_ports::table::MAX_TX_WRITES;
    for (max, (k, r)) in [(0, 0), (1, 3), (2, 1), (4, 2), (6, 4)]
        .map(|kr| (dynamo, kr))
        .into_iter()
        .chain([(10_000, (0, 0))])
    {
        let h = harness_with(max);
        seed(h.table.as_ref()).await;
        let before = catalog_of(h.table.as_ref()).await;
        let id = start_and_approve(&h).await;
        // Validate (the migrations queue holds the approval).
        let approved =
            h.rt.migrations_queue
                .receive(10, std::time::Duration::from_secs(30))
                .await
                .unwrap();
        for msg in &approved {
            let e = tillbridge_ports::bus::parse_bus_message(&msg.body).unwrap();
            step(&h, h.table.as_ref(), &e, &|| false).await.unwrap();
            h.rt.migrations_queue.delete(&msg.receipt).await.unwrap();
        }
        assert_eq!(state(&h, &id).await.status, Status::Applying);

        let apply = migration_event(
            &id,
            EventData::MigrationApplyRequested(ApplyRequested {
                migration_id: id.clone(),
                from: 0,
            }),
        );
        let crashing = Crashing::new(h.table.clone(), k);
        assert!(
            step(&h, &crashing, &apply, &|| false).await.is_err(),
            "k={k}"
        );
        let applied = state(&h, &id).await.progress.applied;
        assert!(
            applied as usize
                <= k * tillbridge_migration::apply::batch_lines(crashing.max_transaction_writes())
        );

        // Webhooks meanwhile: two untouched items change, one is deleted.
        let later = Timestamp::parse_rfc3339("2026-05-01T11:00:00Z").unwrap();
        let mut expected = before.clone();
        for (n, id) in ["p20", "p21"].iter().enumerate() {
            let changed = item(id, &format!("Renamed {id}"), 320 + n as i64);
            catalog::apply(h.table.as_ref(), &upsert_event(changed.clone(), 1, later))
                .await
                .unwrap();
            let mut visible = changed;
            visible.updated_at = Some(later);
            expected.insert((*id).into(), snapshot::canonical_line(&visible).unwrap());
        }
        let delete = Envelope {
            body: EventData::CatalogItemDeleted(tillbridge_domain::event::ItemDeleted {
                external_id: "p30".into(),
                deleted_at: later,
            }),
            ..upsert_event(item("p30", "x", 1), 2, later)
        };
        catalog::apply(h.table.as_ref(), &delete).await.unwrap();
        expected.remove("p30");

        // Resume: out of time after two batches (a Lambda handing over), then to the end.
        let calls = AtomicUsize::new(0);
        let two_batches = || calls.fetch_add(1, Ordering::SeqCst) >= 2;
        step(&h, h.table.as_ref(), &apply, &two_batches)
            .await
            .unwrap();
        step(&h, h.table.as_ref(), &apply, &|| false).await.unwrap();
        let m = state(&h, &id).await;
        assert_eq!(m.status, Status::Completed, "k={k}: {:?}", m.error);
        assert_eq!(
            (m.progress.created, m.progress.changed, m.progress.unchanged),
            (151, 10, 1),
            "k={k}"
        );

        // A webhook updates an item the migration created: the rollback must keep it.
        let n5 = item("n5", "New 5 (edited at the till)", 405);
        catalog::apply(
            h.table.as_ref(),
            &upsert_event(
                n5.clone(),
                3,
                Timestamp::parse_rfc3339("2026-05-02T00:00:00Z").unwrap(),
            ),
        )
        .await
        .unwrap();
        let kept = catalog_of(h.table.as_ref()).await["n5"].clone();
        expected.insert("n5".into(), kept);

        migration::request_rollback(h.table.as_ref(), h.rt.bus.as_ref(), &mid(&id), "ops", at())
            .await
            .unwrap();
        let rb = migration_event(
            &id,
            EventData::MigrationRollbackRequested(migration::rollback_request(&m, "ops")),
        );
        let crashing = Crashing::new(h.table.clone(), r);
        assert!(step(&h, &crashing, &rb, &|| false).await.is_err(), "r={r}");
        // Out of time after one more batch (a Lambda handing over), then to the end.
        let calls = AtomicUsize::new(0);
        let one_batch = || calls.fetch_add(1, Ordering::SeqCst) >= 1;
        step(&h, h.table.as_ref(), &rb, &one_batch).await.unwrap();
        // 161 journal entries (150 + 10 items, 1 customer) are 5 batches of 33 on DynamoDB,
        // one on the larger table.
        if r + 1 < 161usize.div_ceil(((max - 1) / 3).max(1)) {
            assert_eq!(state(&h, &id).await.status, Status::RollingBack, "r={r}");
        }
        step(&h, h.table.as_ref(), &rb, &|| false).await.unwrap();
        // A redelivered request after the end changes nothing.
        step(&h, h.table.as_ref(), &rb, &|| false).await.unwrap();

        let m = state(&h, &id).await;
        assert_eq!(m.status, Status::RolledBack, "k={k} r={r}: {:?}", m.error);
        assert_eq!(catalog_of(h.table.as_ref()).await, expected, "k={k} r={r}");
        let report: rollback::Report = serde_json::from_slice(
            &h.rt
                .blobs
                .get(m.rollback_report_key.as_deref().unwrap())
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert!(report.verified);
        assert_eq!(report.conflicts, ["n5"]);
        assert_eq!(report.changed_outside, ["p20", "p21", "p30"]);
        assert_eq!(
            (report.removed, report.restored),
            (150, 10),
            "n5 kept, c1 removed"
        );
        assert_eq!(report.reconciled_sha256, report.snapshot_sha256);
    }
}

#[tokio::test]
async fn the_lifecycle_refuses_what_does_not_fit_and_pauses_cancels() {
    let h = harness();
    seed(h.table.as_ref()).await;
    // Bad requests.
    for (body, status) in [
        (
            json!({"tenant_id": "nobody", "source_name": "square", "export": []}),
            404,
        ),
        (
            json!({"tenant_id": "t1", "source_name": "bad name!", "export": []}),
            400,
        ),
        (json!({"tenant_id": "t1", "source_name": "square"}), 400),
        (
            json!({"tenant_id": "t1", "source_name": "square", "export": 42}),
            400,
        ),
        (
            json!({"tenant_id": "t1", "source_name": "square", "export_key": "../etc/passwd"}),
            400,
        ),
        (
            json!({"tenant_id": "t1", "source_name": "square", "export": "id,name\n1,\"open"}),
            400,
        ),
    ] {
        assert_eq!(
            call(&h, "POST", "/v1/migrations", body.clone()).await.0,
            status,
            "{body}"
        );
    }
    assert_eq!(
        call(&h, "GET", "/v1/migrations/mig-nope", Value::Null)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&h, "GET", "/v1/migrations/..%2F", Value::Null).await.0,
        404
    );

    // Approving before the suggestions exist, and approving twice.
    let (_, m) = call(
        &h,
        "POST",
        "/v1/migrations",
        json!({"tenant_id": "t1", "source_name": "square", "export": export()}),
    )
    .await;
    let id = m["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(
            &h,
            "POST",
            &format!("/v1/migrations/{id}/approve"),
            json!({"reviewer": "a"})
        )
        .await
        .0,
        409
    );
    h.rt.drain().await.unwrap();
    // Pause before approval; the apply waits; resume finishes it.
    assert_eq!(
        call(
            &h,
            "POST",
            &format!("/v1/migrations/{id}/pause"),
            Value::Null
        )
        .await
        .0,
        202
    );
    assert_eq!(
        call(
            &h,
            "POST",
            &format!("/v1/migrations/{id}/approve"),
            json!({"reviewer": "a"})
        )
        .await
        .0,
        202
    );
    assert_eq!(
        call(
            &h,
            "POST",
            &format!("/v1/migrations/{id}/approve"),
            json!({"reviewer": "a"})
        )
        .await
        .0,
        409
    );
    h.rt.drain().await.unwrap();
    let m = state(&h, &id).await;
    assert_eq!(
        (m.status, m.paused, m.progress.applied),
        (Status::Applying, true, 0)
    );
    assert_eq!(
        call(
            &h,
            "POST",
            &format!("/v1/migrations/{id}/rollback"),
            Value::Null
        )
        .await
        .0,
        202,
        "a paused apply can be undone"
    );
    h.rt.drain().await.unwrap();
    assert_eq!(state(&h, &id).await.status, Status::RolledBack);

    // Cancel during review ends it; cancelling a completed one is refused.
    let (_, m) = call(
        &h,
        "POST",
        "/v1/migrations",
        json!({"tenant_id": "t1", "source_name": "square", "export": export()}),
    )
    .await;
    let id = m["id"].as_str().unwrap().to_owned();
    h.rt.drain().await.unwrap();
    assert_eq!(
        call(
            &h,
            "POST",
            &format!("/v1/migrations/{id}/cancel"),
            Value::Null
        )
        .await
        .0,
        202
    );
    assert_eq!(state(&h, &id).await.status, Status::Cancelled);
    assert_eq!(
        call(
            &h,
            "PUT",
            &format!("/v1/migrations/{id}/mappings"),
            json!({"reviewer": "a", "overrides": []})
        )
        .await
        .0,
        409
    );
    let (_, list) = call(&h, "GET", "/v1/migrations?tenant_id=t1", Value::Null).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}

/// Starts a migration of `records` from `source` (a re-run of `retry_of`'s held-back items
/// when given).
async fn start(
    h: &Harness,
    records: &Value,
    source: &str,
    retry_of: Option<&str>,
) -> Result<migration::Migration, MigrationError> {
    let bytes = serde_json::to_vec(records).unwrap();
    migration::start(
        h.table.as_ref(),
        h.rt.blobs.as_ref(),
        h.rt.bus.as_ref(),
        migration::StartRequest {
            tenant: &t1(),
            currency: Currency::USD,
            country: None,
            source_name: source,
            export: migration::ExportSource::Upload {
                bytes: &bytes,
                csv: false,
            },
            requested_by: "ops",
            idempotency_key: None,
            correlation_id: CorrelationId::parse("c").unwrap(),
            at: h.clock.now(),
            destination: None,
            retry_of: retry_of.map(mid),
        },
    )
    .await
}

/// Runs a whole migration of `records` (approved as suggested) and returns its id.
async fn migrate(h: &Harness, records: &Value) -> String {
    let m = start(h, records, "square", None).await.unwrap();
    h.rt.drain().await.unwrap();
    migration::approve(h.table.as_ref(), h.rt.bus.as_ref(), &m.id, "ops", at())
        .await
        .unwrap();
    h.rt.drain().await.unwrap();
    assert_eq!(state(h, m.id.as_str()).await.status, Status::Completed);
    m.id.to_string()
}

async fn undo(h: &Harness, id: &str) -> rollback::Report {
    migration::request_rollback(h.table.as_ref(), h.rt.bus.as_ref(), &mid(id), "ops", at())
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

#[tokio::test]
async fn stacked_migrations_undo_in_reverse_order_back_to_the_start() {
    let h = harness();
    seed(h.table.as_ref()).await;
    let start = catalog_of(h.table.as_ref()).await;
    let records = |cents: i64| {
        json!((1..=30)
            .map(|i| json!({"id": format!("p{i}"), "name": format!("Item {i}"), "price": format!("{}.{:02}", cents / 100, cents % 100 + i % 10)}))
            .collect::<Vec<_>>())
    };
    let first = migrate(&h, &records(400)).await;
    let after_first = catalog_of(h.table.as_ref()).await;
    h.clock.advance_secs(60);
    let second = migrate(&h, &records(500)).await;
    assert_ne!(catalog_of(h.table.as_ref()).await, after_first);

    // Not the first while the second stands on it: newest first (CLI.md).
    let refused = migration::request_rollback(
        h.table.as_ref(),
        h.rt.bus.as_ref(),
        &MigrationId::parse(&first).unwrap(),
        "ops",
        at(),
    )
    .await;
    match refused {
        Err(migration::MigrationError::Refused(migration::Refusal::Conflict(m))) => {
            assert!(m.contains(&second) && m.contains("newest first"), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Undo the second: back to what the first left.
    let r = undo(&h, &second).await;
    assert_eq!((r.restored, r.conflicts.len()), (30, 0));
    assert_eq!(catalog_of(h.table.as_ref()).await, after_first);
    // Undo the first: records the second's undo rewrote are still the first's content, so
    // they are restored too, not mistaken for someone else's change.
    let r = undo(&h, &first).await;
    assert_eq!((r.restored, r.conflicts.len()), (30, 0), "{r:?}");
    assert_eq!(catalog_of(h.table.as_ref()).await, start);
}

/// Held-back items can be fixed and re-run alone: the second migration takes from the fixed
/// export only what the first held back, and leaves the rest as the first applied it.
#[tokio::test]
async fn held_back_items_are_fixed_and_re_run_alone() {
    let h = harness();
    let records = |bad: &str| {
        json!([
            {"id": "r1", "name": "Latte", "price": "4.50"},
            {"id": "r2", "name": "Mocha", "price": bad},
            {"id": "r3", "name": "Tea", "price": "3.00"}
        ])
    };
    let first = migrate(&h, &records("-5.00")).await;
    let m1 = state(&h, &first).await;
    let report: Value = serde_json::from_slice(
        &h.rt
            .blobs
            .get(&migration::prepare::report_key(&m1))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["held_back"], json!(["r2"]), "{report}");
    // The merchant fixes r2 — and, in the same file, changes r1's price, which a re-run of
    // the held-back items alone must not take.
    let mut fixed = records("5.00");
    fixed[0]["price"] = json!("9.99");
    let m = start(&h, &fixed, "square", Some(&first)).await.unwrap();
    h.rt.drain().await.unwrap();
    migration::approve(h.table.as_ref(), h.rt.bus.as_ref(), &m.id, "ops", at())
        .await
        .unwrap();
    h.rt.drain().await.unwrap();
    let m2 = state(&h, m.id.as_str()).await;
    assert_eq!(m2.status, Status::Completed, "{:?}", m2.error);
    assert_eq!(
        (m2.progress.items, m2.progress.created),
        (1, 1),
        "{:?}",
        m2.progress
    );
    let price = |id: &'static str| {
        let table = h.table.clone();
        async move {
            tillbridge_catalog::get_item(table.as_ref(), &t1(), id)
                .await
                .unwrap()
                .and_then(|i| i.price_minor)
        }
    };
    assert_eq!(price("r2").await, Some(500));
    assert_eq!(price("r1").await, Some(450), "not part of the re-run");
    // Another tenant's or source's migration cannot be re-run this way.
    let wrong = start(&h, &fixed, "clover", Some(&first)).await;
    assert!(wrong.is_err());
}

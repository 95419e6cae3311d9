//! Every event the code emits validates against its JSON Schema in events/schemas/, every
//! event type has a schema, and every checked-in schema is what the Rust types generate
//! (`tillbridge_domain::schema`; `TILLBRIDGE_WRITE_SCHEMAS=1` rewrites the files).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tillbridge_domain::event::EventType;
use tillbridge_domain::{CorrelationId, Currency, Envelope, Provider, TenantId, Timestamp};
use tillbridge_ports::ManualClock;
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable, RecordingBus};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_sync::inbound::{InboundBody, InboundDelivery};
use tillbridge_sync::signature_check::SignatureCheck;
use tillbridge_webhooks::{Headers, NormalizeContext, normalize};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema_for(t: EventType) -> jsonschema::Validator {
    let path = root()
        .join("events/schemas")
        .join(format!("{}.json", t.as_str()));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no schema for {}: {e}", t.as_str()));
    let schema: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_valid(e: &Envelope) {
    let v = serde_json::to_value(e).unwrap_or(Value::Null);
    let validator = schema_for(e.event_type());
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|err| format!("{err} at {}", err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match its schema: {errors:?}\n{v}",
        e.event_type().as_str()
    );
}

/// A payload to normalize: provider, body, headers.
type Case<'a> = (Provider, Vec<u8>, Vec<(&'a str, &'a str)>);

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(root().join("samples/webhooks").join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_event_type_has_a_schema_and_every_schema_a_type() {
    for t in EventType::ALL {
        schema_for(t);
    }
    let files = std::fs::read_dir(root().join("events/schemas"))
        .map(|d| d.count())
        .unwrap_or(0);
    // one per type, nothing else
    assert_eq!(files, EventType::ALL.len());
}

#[test]
fn the_checked_in_schemas_are_generated_from_the_types() {
    let write = std::env::var_os("TILLBRIDGE_WRITE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for t in EventType::ALL {
        let path = root()
            .join("events/schemas")
            .join(tillbridge_domain::schema::file_name(t));
        let generated = tillbridge_domain::schema::event_schema(t);
        let checked_in: Option<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        if checked_in.as_ref() == Some(&generated) {
            continue;
        }
        if write {
            let text = serde_json::to_string_pretty(&generated).unwrap_or_default() + "\n";
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            stale.push(t.as_str());
        }
    }
    assert!(
        stale.is_empty(),
        "events/schemas/ differs from the Rust types for {stale:?}; regenerate with \
         TILLBRIDGE_WRITE_SCHEMAS=1 cargo test -p tillbridge-e2e --test event_schemas"
    );
}

#[test]
fn normalized_sample_payloads_match_their_schemas() {
    #[allow(clippy::type_complexity)]
    let cases: Vec<(Provider, &str, Vec<(&str, &str)>)> = vec![
        (
            Provider::Shopify,
            "shopify/products.update.json",
            vec![("X-Shopify-Topic", "products/update")],
        ),
        (
            Provider::Square,
            "square/inventory.count.updated.json",
            vec![],
        ),
        (Provider::Square, "square/order.created.json", vec![]),
        (Provider::Square, "square/order.updated.json", vec![]),
        (
            Provider::Square,
            "square/catalog.version.updated.json",
            vec![],
        ),
        (Provider::Toast, "toast/menus_updated.json", vec![]),
        (Provider::Toast, "toast/stock.in_stock.json", vec![]),
        (
            Provider::Toast,
            "toast/stock.in_stock.quantity.json",
            vec![],
        ),
        (Provider::Toast, "toast/stock.out_of_stock.json", vec![]),
        (Provider::Toast, "toast/stock.low_quantity.json", vec![]),
        (Provider::Zettle, "zettle/ProductCreated.json", vec![]),
        (Provider::Zettle, "zettle/ProductUpdated.json", vec![]),
        (Provider::Zettle, "zettle/ProductDeleted.json", vec![]),
        (
            Provider::Zettle,
            "zettle/InventoryBalanceChanged.json",
            vec![],
        ),
        (
            Provider::WooCommerce,
            "woocommerce/product.updated.json",
            vec![("X-WC-Webhook-Topic", "product.updated")],
        ),
        (
            Provider::WooCommerce,
            "woocommerce/order.created.json",
            vec![("X-WC-Webhook-Topic", "order.created")],
        ),
        (
            Provider::BigCommerce,
            "bigcommerce/store.order.created.callback.json",
            vec![],
        ),
    ];
    let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
    let corr = CorrelationId::parse("corr-1").unwrap_or_else(|e| panic!("{e}"));
    let mut seen = std::collections::HashSet::new();
    let mut extra: Vec<Case> = vec![
        (Provider::Shopify, br#"{"id":1}"#.to_vec(), vec![("X-Shopify-Topic", "products/delete")]),
        (Provider::Shopify, br#"{"inventory_item_id":5,"available":3,"updated_at":"2026-01-01T00:00:00Z"}"#.to_vec(), vec![("X-Shopify-Topic", "inventory_levels/update")]),
        (Provider::Clover, br#"{"appId":"A","merchants":{"M":[{"objectId":"I:1","type":"DELETE","ts":1700000000000},{"objectId":"IC:2","type":"UPDATE","ts":1700000000000}]}}"#.to_vec(), vec![]),
    ];
    let mut all: Vec<Case> = cases
        .into_iter()
        .map(|(p, f, h)| (p, sample(f), h))
        .collect();
    all.append(&mut extra);
    for (provider, body, headers) in all {
        let h: Headers = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let ctx = NormalizeContext {
            currency: Currency::USD,
            headers: &h,
            received_at: Timestamp::UNIX_EPOCH,
        };
        let n = normalize(provider, &ctx, &body).unwrap_or_else(|e| panic!("{provider}: {e}"));
        for e in n.into_envelopes(&tenant, provider, "id:x", Timestamp::UNIX_EPOCH, &corr) {
            seen.insert(e.event_type());
            assert_valid(&e);
        }
    }
    for t in [
        EventType::CatalogItemUpserted,
        EventType::CatalogItemDeleted,
        EventType::InventoryAdjusted,
        EventType::OrderUpserted,
        EventType::FetchRequested,
    ] {
        assert!(seen.contains(&t), "no sample produced {}", t.as_str());
    }
}

#[tokio::test]
async fn the_quarantine_event_matches_its_schema() {
    let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
    let bus = Arc::new(RecordingBus::default());
    let dir = Arc::new(StaticDirectory::from_json(r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{"shopify":{"secret":"s"}}}]}"#).unwrap_or_default());
    let check = SignatureCheck {
        directory: dir.clone(),
        secrets: dir,
        blobs: Arc::new(MemoryBlobStore::default()),
        table: Arc::new(MemoryTable::new(clock.clone())),
        bus: bus.clone(),
        clock,
    };
    let delivery = InboundDelivery {
        delivery_id: tillbridge_domain::DeliveryId::parse("d-1").unwrap_or_else(|e| panic!("{e}")),
        tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
        provider: Provider::Shopify,
        received_at: Timestamp::UNIX_EPOCH,
        correlation_id: CorrelationId::parse("c-1").unwrap_or_else(|e| panic!("{e}")),
        headers: Headers::new()
            .with("X-Shopify-Hmac-Sha256", "AAAA")
            .with("X-Shopify-Topic", "products/update"),
        body: InboundBody::Inline {
            base64: "e30=".into(),
        },
    };
    let message = serde_json::to_string(&delivery).unwrap_or_default();
    check
        .handle(&message)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let published = bus.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].event_type(), EventType::WebhookQuarantined);
    assert_valid(&published[0]);
}

#[test]
fn the_schemas_reject_what_the_model_rejects() {
    let validator = schema_for(EventType::CatalogItemUpserted);
    let good = serde_json::json!({
        "event_id": "evt_1", "type": "pos.catalog.item.upserted", "schema_version": 1, "tenant_id": "t1",
        "provider": "shopify", "entity_id": "v1", "occurred_at": "2026-01-01T00:00:00Z",
        "received_at": "2026-01-01T00:00:00.123Z", "correlation_id": "c1",
        "data": {"item": {"external_id": "v1", "price_minor": 450, "currency": "USD"}}
    });
    assert!(validator.is_valid(&good));
    let mutations: [(&str, Value); 5] = [
        ("/data/item/price_minor", Value::from("4.50")),
        ("/data/item/currency", Value::from("usd")),
        ("/occurred_at", Value::from("2026-01-01 00:00:00")),
        ("/type", Value::from("pos.catalog.item.deleted")),
        ("/data/item/colour", Value::from("red")),
    ];
    for (pointer, value) in mutations {
        let mut bad = good.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(Value::Object(m)) = bad.pointer_mut(parent) {
            m.insert(field.to_owned(), value);
        }
        assert!(!validator.is_valid(&bad), "{pointer} should be rejected");
    }
}

#[tokio::test]
async fn accounting_events_match_their_schemas() {
    use tillbridge_accounting as accounting;
    use tillbridge_domain::event::UsageRecorded;
    let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
    let table = MemoryTable::new(clock);
    let bus = RecordingBus::default();
    let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
    accounting::set_budget(
        &table,
        &tenant,
        tillbridge_domain::money::parse_decimal("1").unwrap_or_default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let at = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let usage = UsageRecorded {
        request_id: "r1".into(),
        migration_id: Some("m1".into()),
        operation: "mapping.suggest".into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        input_tokens: 1_000_000,
        output_tokens: 10,
        cached_input_tokens: 5,
        cache_write_tokens: 0,
    };
    let event = accounting::usage_event(
        &tenant,
        usage,
        at,
        &CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
    );
    assert_valid(&event);
    accounting::record_usage(
        &table,
        &bus,
        &tillbridge_costs::PriceBook::bundled(),
        &event,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let published = bus.published();
    assert_eq!(
        published.len(),
        3,
        "$2.50 against a $1 budget crosses 50, 80 and 100 %"
    );
    for e in &published {
        assert_eq!(e.event_type(), EventType::BudgetThresholdCrossed);
        assert_valid(e);
    }
}

#[tokio::test]
async fn migration_validation_events_match_their_schemas() {
    use tillbridge_domain::event::{SCHEMA_VERSION, ValidationRequested, derive_event_id};
    use tillbridge_ports::BlobStore;
    let blobs = MemoryBlobStore::default();
    blobs
        .put(
            "migrations/t1/m1/items.jsonl",
            &sample("../catalog/stockholm.jsonl"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let request = Envelope {
        event_id: derive_event_id("m1", 0),
        body: tillbridge_domain::event::EventData::MigrationValidationRequested(
            ValidationRequested {
                migration_id: "m1".into(),
                items_key: "migrations/t1/m1/items.jsonl".into(),
                country: Some("SE".into()),
            },
        ),
        schema_version: SCHEMA_VERSION,
        tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
        provider: None,
        entity_id: "m1".into(),
        occurred_at: Timestamp::UNIX_EPOCH,
        received_at: Timestamp::UNIX_EPOCH,
        correlation_id: CorrelationId::parse("m1").unwrap_or_else(|e| panic!("{e}")),
        delivery_key: None,
    };
    assert_valid(&request);
    let bus = RecordingBus::default();
    let table = MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
    let report = tillbridge_migration::validation::validate_batch(&table, &blobs, &bus, &request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.summary.errors, 0, "{:?}", report.findings);
    let published = bus.published();
    assert_eq!(published[0].event_type(), EventType::MigrationValidated);
    assert_valid(&published[0]);
}

#[tokio::test]
async fn migration_lifecycle_events_match_their_schemas() {
    use tillbridge_migration::{self as migration, ExportSource, StartRequest, Status};
    let at = Timestamp::parse_rfc3339("2026-05-01T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let table = MemoryTable::new(Arc::new(ManualClock::new(at)));
    let blobs = MemoryBlobStore::default();
    let bus = RecordingBus::default();
    let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
    let m = migration::start(
        &table,
        &blobs,
        &bus,
        StartRequest {
            tenant: &tenant,
            currency: Currency::USD,
            country: None,
            source_name: "square",
            export: ExportSource::Upload {
                bytes: br#"[{"id":"a1","name":"Latte","price":"4.50"},{"id":"a2","name":"Mocha","price":"5.00"}]"#,
                csv: false,
            },
            requested_by: "ops",
            idempotency_key: None,
            correlation_id: CorrelationId::parse("c1").unwrap_or_else(|e| panic!("{e}")),
            at,
            destination: None,
            retry_of: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // Each step consumes the event the previous one published.
    let step = |n: usize| bus.published().get(n).cloned();
    let requested = step(0).unwrap_or_else(|| panic!("no request"));
    migration::suggest(&table, &blobs, &bus, None, &requested)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    migration::approve(&table, &bus, &m.id, "ops", at)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let approved = step(2).unwrap_or_else(|| panic!("no approval"));
    migration::handle(&table, &blobs, &bus, &approved, &|| false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let apply = bus
        .published()
        .into_iter()
        .find(|e| e.event_type() == EventType::MigrationApplyRequested)
        .unwrap_or_else(|| panic!("no apply request"));
    migration::handle(&table, &blobs, &bus, &apply, &|| false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    migration::request_rollback(&table, &bus, &m.id, "ops", at)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rollback = bus
        .published()
        .into_iter()
        .find(|e| e.event_type() == EventType::MigrationRollbackRequested)
        .unwrap_or_else(|| panic!("no rollback request"));
    migration::handle(&table, &blobs, &bus, &rollback, &|| false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = migration::load(&table, &m.id)
        .await
        .ok()
        .flatten()
        .map(|(m, _)| m.status);
    assert_eq!(state, Some(Status::RolledBack));
    let published = bus.published();
    let types: Vec<&str> = published.iter().map(|e| e.event_type().as_str()).collect();
    assert_eq!(
        types,
        [
            "migration.requested",
            "migration.mapping.suggested",
            "migration.mapping.approved",
            "migration.validated",
            "migration.apply.requested",
            "migration.applied",
            "migration.rollback.requested",
            "migration.rolled_back"
        ]
    );
    for e in &published {
        assert_valid(e);
        assert_eq!(
            e.correlation_id.as_str(),
            "c1",
            "one correlation id through the flow"
        );
    }
}

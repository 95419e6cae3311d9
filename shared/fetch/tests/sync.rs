//! Syncs against the fake Square (its real wire format), applied to an in-memory catalog.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_domain::event::{Change, EventData, FetchRequested, SCHEMA_VERSION};
use tillbridge_domain::{CorrelationId, Envelope, Provider, TenantId, Timestamp};
use tillbridge_fetch::{FetchError, Fetcher};
use tillbridge_ports::ManualClock;
use tillbridge_ports::tenants::StaticDirectory;

fn at(day: u32) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2026-03-{day:02}T10:00:00Z")).unwrap()
}

fn fetcher(base_url: &str, token: &str, clock: Arc<ManualClock>) -> Fetcher {
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"square":{{"secret":"s","notification_url":"https://x/sq","api":{{"base_url":"{base_url}","access_token":"{token}"}}}}}}}}]}}"#
    );
    Fetcher::in_memory(
        Arc::new(StaticDirectory::from_json(&tenants).unwrap()),
        clock,
    )
}

fn t1() -> TenantId {
    TenantId::parse("t1").unwrap()
}

#[tokio::test]
async fn full_sync_then_repeat_then_vendor_changes_then_delta() {
    let fake = FakeSquare::start("tok", Catalog::generated(30, 2, at(1)))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(at(2)));
    let f = fetcher(&fake.server.base_url, "tok", clock.clone());
    let first = f.sync(&t1(), Provider::Square, None).await.unwrap();
    assert_eq!(
        (first.created, first.changed, first.deleted, first.unchanged),
        (60, 0, 0, 0),
        "{first:?}"
    );
    assert!(first.fetched >= 90, "items and variations: {first:?}");
    assert!(first.api_calls >= 2);
    let item = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "square", "VAR000003-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.name.as_deref(), Some("Item 3"));
    assert_eq!(item.variant_name.as_deref(), Some("Size 1"));
    assert_eq!(item.parent_id.as_deref(), Some("ITEM000003"));
    assert_eq!(
        item.quantity_on_hand.map(|q| q.to_string()),
        Some("5".into())
    );
    assert_eq!(item.stock_by_location.len(), 2);
    // Its product, as `migrate` creates parents: the product's id and own fields, no price
    // (its variations carry the prices), accepted by the gate.
    let product = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "square", "ITEM000003")
        .await
        .unwrap()
        .expect("the parent item exists");
    assert_eq!(product.name.as_deref(), Some("Item 3"));
    assert_eq!(product.parent_id, None);
    assert_eq!((product.price_minor, product.variant_name), (None, None));
    assert!(
        tillbridge_catalog::list_rejected(f.table.as_ref(), &t1())
            .await
            .unwrap()
            .is_empty()
    );
    let live = tillbridge_catalog::live_items_in(f.table.as_ref(), &t1(), "square")
        .await
        .unwrap();
    assert_eq!(live.len(), 90, "60 variations and their 30 products");

    // Nothing changed at the vendor: nothing changes here.
    let again = f.sync(&t1(), Provider::Square, None).await.unwrap();
    assert_eq!(
        (again.created, again.changed, again.deleted, again.unchanged),
        (0, 0, 0, 60),
        "{again:?}"
    );

    // At the vendor: a price change and a deleted product; a full sync sees both.
    {
        let mut c = fake.catalog();
        c.items[0].variations[0].price = Some(999);
        c.items[0].variations[0].updated_at = at(3);
        c.items.remove(1);
    }
    clock.advance_secs(86_400);
    let full = f.sync(&t1(), Provider::Square, None).await.unwrap();
    assert_eq!((full.changed, full.deleted), (1, 2), "{full:?}");
    let gone = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "square", "VAR000001-0")
        .await
        .unwrap();
    assert!(gone.is_none());
    // The product went with its variations; the others' products stay.
    for (id, live) in [("ITEM000001", false), ("ITEM000000", true)] {
        let p = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "square", id)
            .await
            .unwrap();
        assert_eq!(p.is_some(), live, "{id}");
    }

    // A delta after the watermark sees only what changed since.
    {
        let mut c = fake.catalog();
        c.items[2].variations[1].price = Some(4242);
        c.items[2].variations[1].updated_at = at(5);
    }
    let watermark = f.state(&t1(), Provider::Square).await.unwrap().watermark;
    let delta = f.sync(&t1(), Provider::Square, watermark).await.unwrap();
    assert_eq!(
        (delta.changed, delta.created, delta.deleted),
        (1, 0, 0),
        "{delta:?}"
    );
    let changed = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "square", "VAR000003-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.price_minor, Some(4242));
}

fn thin(received: Timestamp, n: usize) -> Envelope {
    Envelope {
        event_id: tillbridge_domain::event::derive_event_id("thin", n),
        entity_id: "catalog".into(),
        body: EventData::FetchRequested(FetchRequested {
            object_type: "catalog".into(),
            object_id: None,
            change: Change::Updated,
            vendor_event: "catalog.version.updated".into(),
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: t1(),
        provider: Some(Provider::Square),
        occurred_at: received,
        received_at: received,
        correlation_id: CorrelationId::parse("c").unwrap(),
        delivery_key: None,
    }
}

#[tokio::test]
async fn thin_notifications_fetch_once_per_burst() {
    let fake = FakeSquare::start("tok", Catalog::generated(5, 1, at(1)))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(at(2)));
    let f = fetcher(&fake.server.base_url, "tok", clock.clone());
    // A burst of 20 notifications received before the first is handled.
    let burst: Vec<Envelope> = (0..20).map(|n| thin(at(2), n)).collect();
    let mut ran = 0;
    clock.advance_secs(1);
    for e in &burst {
        if f.on_notify(e).await.unwrap().is_some() {
            ran += 1;
        }
    }
    assert_eq!(ran, 1, "one pull covers the burst");
    let calls_after_burst = fake.server.control.requests();
    let items = tillbridge_catalog::live_items_in(f.table.as_ref(), &t1(), "square")
        .await
        .unwrap();
    // Five variations and the five products they belong to (as a migration creates them).
    assert_eq!(items.len(), 10);
    // A later notification pulls again, as a delta.
    clock.advance_secs(60);
    assert!(
        f.on_notify(&thin(clock_now(&clock), 99))
            .await
            .unwrap()
            .is_some()
    );
    assert!(fake.server.control.requests() > calls_after_burst);
}

fn clock_now(c: &ManualClock) -> Timestamp {
    use tillbridge_ports::Clock;
    c.now()
}

#[tokio::test]
async fn bad_credentials_are_refused_with_the_vendors_reason_and_no_api_is_not_an_error() {
    let fake = FakeSquare::start("right", Catalog::generated(1, 1, at(1)))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(at(2)));
    let f = fetcher(&fake.server.base_url, "wrong", clock);
    let err = f.sync(&t1(), Provider::Square, None).await.unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    let none = f.sync(&t1(), Provider::Shopify, None).await.unwrap_err();
    assert!(matches!(none, FetchError::NoApi { .. }), "{none}");
    let unknown = f
        .sync(&TenantId::parse("nobody").unwrap(), Provider::Square, None)
        .await
        .unwrap_err();
    assert!(matches!(unknown, FetchError::UnknownTenant(_)));
}

/// Zettle's delta position (the library's `untilEventLogUuid`) is stored in the sync state
/// beside the watermark: a delta run by another process (a new fetcher and client on the
/// same table) resumes from it and sees a product deleted since, which a walk of the
/// library by update time cannot.
#[tokio::test]
async fn a_zettle_delta_in_another_process_resumes_from_the_stored_event_log_position() {
    use tillbridge_connectors::fake::zettle::{FakeProduct, FakeVariant, FakeZettle, Organization};
    let products = (0..3)
        .map(|i| FakeProduct {
            uuid: format!("00000000-0000-1000-8000-{i:012}"),
            name: format!("Product {i}"),
            updated: at(1),
            deleted_at: None,
            variants: vec![FakeVariant {
                uuid: format!("00000000-0000-1000-9000-{i:012}"),
                name: "One".into(),
                price: Some(500),
                stock: Vec::new(),
            }],
        })
        .collect();
    let fake = FakeZettle::start(
        "ztok",
        Organization {
            products,
            currency: "USD".into(),
            page: 10,
        },
    )
    .await
    .unwrap();
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"zettle":{{"secret":"s","api":{{"base_url":"{}","access_token":"ztok"}}}}}}}}]}}"#,
        fake.server.base_url
    );
    let dir = Arc::new(StaticDirectory::from_json(&tenants).unwrap());
    let clock = Arc::new(ManualClock::new(at(2)));
    let first = Fetcher::in_memory(dir.clone(), clock.clone());
    let full = first.sync(&t1(), Provider::Zettle, None).await.unwrap();
    assert_eq!(full.created, 3, "{full:?}");
    let state = first.state(&t1(), Provider::Zettle).await.unwrap();
    let position = state
        .position
        .clone()
        .expect("the event log position is stored");
    assert_eq!(Some(position.at), state.watermark);

    fake.org().products[1].deleted_at = Some(at(3));
    clock.advance_secs(86_400);
    let second = Fetcher {
        table: first.table.clone(),
        directory: dir.clone(),
        secrets: dir,
        clock,
        interactive: true,
    };
    let delta = second
        .sync(&t1(), Provider::Zettle, state.watermark)
        .await
        .unwrap();
    assert_eq!(delta.deleted, 1, "{delta:?}");
    let gone = tillbridge_catalog::get_item_in(
        second.table.as_ref(),
        &t1(),
        "zettle",
        "00000000-0000-1000-9000-000000000001",
    )
    .await
    .unwrap();
    assert!(gone.is_none());
    let after = second.state(&t1(), Provider::Zettle).await.unwrap();
    assert_ne!(after.position, Some(position), "the position moved on");
}

/// CLI.md: "A variable/open-priced variation is present with no `price_minor`" — Square's
/// `VARIABLE_PRICING` is priced at the register, not a missing price for the gate to reject.
#[tokio::test]
async fn an_open_priced_variation_is_present_without_a_price() {
    let mut catalog = Catalog::generated(2, 2, at(1));
    catalog.items[0].variations[1].price = None;
    let fake = FakeSquare::start("tok", catalog).await.unwrap();
    let clock = Arc::new(ManualClock::new(at(2)));
    let f = fetcher(&fake.server.base_url, "tok", clock);
    let first = f.sync(&t1(), Provider::Square, None).await.unwrap();
    assert_eq!((first.created, first.rejected), (4, 0), "{first:?}");
    let open = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "square", "VAR000000-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.price_minor, None);
    assert_eq!(open.open_price, Some(true));
    let again = f.sync(&t1(), Provider::Square, None).await.unwrap();
    assert_eq!((again.unchanged, again.rejected), (4, 0), "{again:?}");
}

//! Convergence: any arrival order of the same events (duplicates and late retries included)
//! ends in the state in-order application gives; and the cases that showed it did not.

use std::sync::Arc;

use proptest::prelude::*;
use rust_decimal::Decimal;
use tillbridge_catalog as catalog;
use tillbridge_catalog::ApplyOutcome;
use tillbridge_domain::event::{
    EventData, InventoryAdjusted, ItemDeleted, ItemUpserted, SCHEMA_VERSION, VariantListing,
    derive_event_id,
};
use tillbridge_domain::{
    CatalogItem, CorrelationId, Currency, Envelope, Provider, TenantId, Timestamp,
};
use tillbridge_ports::ManualClock;
use tillbridge_ports::memory::MemoryTable;

fn t(minute: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_714_816_800 + minute * 60).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn tenant() -> TenantId {
    TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"))
}

fn envelope(
    provider: Provider,
    n: usize,
    at: Timestamp,
    entity: &str,
    body: EventData,
) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("{provider}/{entity}/{n}"), n),
        body,
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant(),
        provider: Some(provider),
        entity_id: entity.into(),
        occurred_at: at,
        received_at: at,
        correlation_id: CorrelationId::parse("d1").unwrap_or_else(|e| panic!("{e}")),
        delivery_key: None,
    }
}

fn variant(id: &str, parent: &str, price: i64, at: Timestamp) -> CatalogItem {
    CatalogItem {
        name: Some("Tee".into()),
        sku: Some(format!("SKU-{id}")),
        category: Some("Apparel".into()),
        price_minor: Some(price),
        currency: Some(Currency::USD),
        parent_id: Some(parent.into()),
        updated_at: Some(at),
        ..CatalogItem::new(id)
    }
}

fn upsert(
    n: usize,
    id: &str,
    price: i64,
    at: Timestamp,
    listing: Option<(&[&str], Timestamp)>,
) -> Envelope {
    let u = ItemUpserted {
        item: variant(id, "P", price, at),
        inventory_item_id: Some(format!("inv-{id}")),
        parent_variants: listing.map(|(ids, as_of)| VariantListing {
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            as_of,
        }),
        product_variants: None,
    };
    envelope(
        Provider::Shopify,
        n,
        at,
        id,
        EventData::CatalogItemUpserted(Box::new(u)),
    )
}

fn delete(n: usize, id: &str, at: Timestamp) -> Envelope {
    let d = ItemDeleted {
        external_id: id.into(),
        deleted_at: at,
    };
    envelope(
        Provider::Shopify,
        n,
        at,
        id,
        EventData::CatalogItemDeleted(d),
    )
}

fn stock(
    n: usize,
    id: &str,
    by_inventory: bool,
    location: &str,
    q: i64,
    at: Timestamp,
) -> Envelope {
    let a = InventoryAdjusted {
        external_id: (!by_inventory).then(|| id.to_owned()),
        inventory_item_id: by_inventory.then(|| format!("inv-{id}")),
        location_id: Some(location.into()),
        quantity: Some(Decimal::from(q)),
        stock_status: None,
        as_of: at,
    };
    envelope(
        Provider::Shopify,
        n,
        at,
        id,
        EventData::InventoryAdjusted(a),
    )
}

fn table() -> MemoryTable {
    MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)))
}

async fn apply_all(table: &MemoryTable, events: &[Envelope]) {
    for e in events {
        if let Err(err) = catalog::apply(table, e).await {
            panic!("apply failed: {err}");
        }
    }
}

async fn state(table: &MemoryTable) -> Vec<CatalogItem> {
    catalog::list_items(table, &tenant())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(f)
}

/// One generated event over product P's variants A, B, C.
fn arb_event() -> impl Strategy<Value = (u8, u8, i64, u8, bool)> {
    (0u8..5, 0u8..3, 0i64..6, 0u8..4, any::<bool>())
}

fn build(n: usize, (kind, who, minute, pick, flag): (u8, u8, i64, u8, bool)) -> Envelope {
    let ids = ["A", "B", "C"];
    let id = ids[usize::from(who)];
    let at = t(minute);
    // Prices about 100× apart exercise the unit-error gate.
    let price = [1000, 100_000, 1100, 10][usize::from(pick)];
    match kind {
        0 => upsert(n, id, price, at, None),
        1 => {
            // A products/update listing a subset of the variants.
            let listed: Vec<&str> = ids.iter().copied().filter(|v| *v == id || flag).collect();
            upsert(n, id, price, at, Some((&listed, at)))
        }
        2 => delete(n, if flag { "P" } else { id }, at),
        3 => stock(
            n,
            id,
            flag,
            ["L1", "L2"][usize::from(pick % 2)],
            i64::from(pick) * 7,
            at,
        ),
        _ => upsert(n, id, price, at, Some((&ids, at))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any interleaving of creates, updates, deletes and stock changes of the same objects,
    /// with duplicates, converges on the state in-order (vendor time) application gives.
    #[test]
    fn every_arrival_order_converges_on_in_order_state(
        raw in proptest::collection::vec(arb_event(), 1..14),
        order in proptest::collection::vec(any::<u32>(), 14),
        duplicates in proptest::collection::vec(0usize..14, 0..4),
    ) {
        let events: Vec<Envelope> = raw.into_iter().enumerate().map(|(n, r)| build(n, r)).collect();
        let mut in_order = events.clone();
        in_order.sort_by_key(|e| e.occurred_at);
        let mut shuffled: Vec<(u32, Envelope)> =
            events.iter().cloned().zip(order.iter().copied()).map(|(e, k)| (k, e)).collect();
        shuffled.sort_by_key(|(k, _)| *k);
        let mut arrivals: Vec<Envelope> = shuffled.into_iter().map(|(_, e)| e).collect();
        for d in duplicates {
            if let Some(e) = events.get(d) {
                arrivals.push(e.clone()); // a late retry
            }
        }
        let (expected, got) = run(async {
            let a = table();
            apply_all(&a, &in_order).await;
            let b = table();
            apply_all(&b, &arrivals).await;
            (state(&a).await, state(&b).await)
        });
        prop_assert_eq!(expected, got);
    }
}

/// web-10 B: a delete at 10:30 arrives first, then the create of 10:00 retried late: the
/// variants stay deleted (and A: create then delete removes them).
#[test]
fn delete_before_late_create_does_not_resurrect_variants() {
    run(async {
        let table = table();
        apply_all(
            &table,
            &[
                delete(0, "P", t(30)),
                upsert(1, "A", 1100, t(0), Some((&["A", "B"], t(0)))),
                upsert(2, "B", 1100, t(0), Some((&["A", "B"], t(0)))),
            ],
        )
        .await;
        assert_eq!(state(&table).await, Vec::new());
        let in_order = self::table();
        apply_all(
            &in_order,
            &[upsert(1, "A", 1100, t(0), None), delete(0, "P", t(30))],
        )
        .await;
        assert_eq!(state(&in_order).await, Vec::new());
    });
}

/// A products/update that no longer lists a variant tombstones it as of the update's time,
/// in either arrival order; a later create of the variant is still newer.
#[test]
fn variant_missing_from_a_later_update_is_tombstoned() {
    run(async {
        let a_first = table();
        apply_all(
            &a_first,
            &[
                upsert(0, "C", 1100, t(0), Some((&["A", "C"], t(0)))),
                upsert(1, "A", 1100, t(10), Some((&["A"], t(10)))),
            ],
        )
        .await;
        let ids: Vec<String> = state(&a_first)
            .await
            .into_iter()
            .map(|i| i.external_id)
            .collect();
        assert_eq!(ids, ["A"]);
        let late = table();
        apply_all(
            &late,
            &[
                upsert(1, "A", 1100, t(10), Some((&["A"], t(10)))),
                upsert(0, "C", 1100, t(0), Some((&["A", "C"], t(0)))),
            ],
        )
        .await;
        assert_eq!(state(&late).await, state(&a_first).await);
        apply_all(&late, &[upsert(2, "C", 1200, t(20), None)]).await;
        assert!(
            catalog::get_item(&late, &tenant(), "C")
                .await
                .ok()
                .flatten()
                .is_some()
        );
    });
}

/// web-11: one notification with IN_STOCK counts at two locations keeps both; stock that
/// arrives before its product (by inventory id) is not lost.
#[test]
fn stock_is_kept_per_location_and_before_the_product() {
    run(async {
        let table = table();
        apply_all(
            &table,
            &[
                stock(0, "A", true, "LOCHARBOR0002", 50, t(5)),
                upsert(1, "A", 1100, t(0), None),
                stock(2, "A", false, "LOCDOWNTOWN01", 55, t(5)),
            ],
        )
        .await;
        let item = catalog::get_item(&table, &tenant(), "A")
            .await
            .ok()
            .flatten();
        let item = item.unwrap_or_else(|| panic!("item A missing"));
        assert_eq!(item.quantity_on_hand, Some(Decimal::from(105)));
        assert_eq!(item.stock_by_location.len(), 2);
        assert_eq!(
            item.stock_by_location.get("LOCHARBOR0002"),
            Some(&Decimal::from(50))
        );
    });
}

/// The gate judges an update against the state at its own vendor time: 1.00 then 100.00
/// and 100.00 then 1.00 (by arrival) both keep 1.00 and reject 100.00.
#[test]
fn gate_verdict_does_not_depend_on_arrival_order() {
    run(async {
        let cheap = upsert(0, "A", 100, t(0), None);
        let jump = upsert(1, "A", 10_000, t(1), None);
        for arrivals in [[cheap.clone(), jump.clone()], [jump.clone(), cheap.clone()]] {
            let table = table();
            apply_all(&table, &arrivals).await;
            let item = catalog::get_item(&table, &tenant(), "A")
                .await
                .ok()
                .flatten();
            assert_eq!(item.and_then(|i| i.price_minor), Some(100));
            let rejected = catalog::list_rejected(&table, &tenant())
                .await
                .unwrap_or_default();
            assert_eq!(rejected.len(), 1, "{rejected:?}");
            assert_eq!(rejected[0].event_id, jump.event_id.to_string());
        }
    });
}

/// The vendor is part of the identity: WooCommerce's delete of product 123 leaves
/// BigCommerce's product 123 alone.
#[test]
fn same_id_at_two_vendors_is_two_items() {
    run(async {
        let table = table();
        let mut woo = upsert(0, "123", 1100, t(0), None);
        woo.provider = Some(Provider::WooCommerce);
        let mut big = upsert(1, "123", 1200, t(0), None);
        big.provider = Some(Provider::BigCommerce);
        let mut gone = delete(2, "123", t(5));
        gone.provider = Some(Provider::WooCommerce);
        apply_all(&table, &[woo, big]).await;
        assert_eq!(
            catalog::apply(&table, &gone).await.ok(),
            Some(ApplyOutcome::Applied)
        );
        let left = state(&table).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].price_minor, Some(1200));
        assert!(
            catalog::get_item_in(&table, &tenant(), "woocommerce", "123")
                .await
                .ok()
                .flatten()
                .is_none()
        );
        assert!(
            catalog::get_item_in(&table, &tenant(), "bigcommerce", "123")
                .await
                .ok()
                .flatten()
                .is_some()
        );
    });
}

/// A product whose variants carry the prices, declared so by its upsert
/// (`product_variants`), passes the gate without a price of its own; the same item without
/// the declaration (a webhook's active item without a price) is still rejected. The same
/// content sent both ways ends as a product in either arrival order.
#[test]
fn a_declared_product_needs_no_price_and_an_unpriced_item_is_still_rejected() {
    let product = |n: usize, declared: bool| {
        let item = CatalogItem {
            name: Some("Tee".into()),
            category: Some("Apparel".into()),
            is_active: Some(true),
            updated_at: Some(t(0)),
            ..CatalogItem::new("P")
        };
        let u = ItemUpserted {
            item,
            inventory_item_id: None,
            parent_variants: None,
            product_variants: declared.then(|| vec!["A".to_owned(), "B".to_owned()]),
        };
        envelope(
            Provider::Square,
            n,
            t(0),
            "P",
            EventData::CatalogItemUpserted(Box::new(u)),
        )
    };
    run(async {
        let first = table();
        let outcome = catalog::apply(&first, &product(0, false)).await.ok();
        assert_eq!(
            outcome,
            Some(ApplyOutcome::Rejected),
            "a webhook's unpriced item"
        );
        assert!(
            catalog::get_item(&first, &tenant(), "P")
                .await
                .ok()
                .flatten()
                .is_none()
        );

        for arrivals in [
            vec![product(1, true)],
            vec![product(2, false), product(3, true)],
            vec![product(4, true), product(5, false)],
        ] {
            let table = table();
            apply_all(&table, &arrivals).await;
            let item = catalog::get_item(&table, &tenant(), "P")
                .await
                .ok()
                .flatten();
            assert_eq!(
                item.and_then(|i| i.name),
                Some("Tee".into()),
                "{arrivals:?}"
            );
            let rejected = catalog::list_rejected(&table, &tenant())
                .await
                .unwrap_or_default();
            assert!(rejected.is_empty(), "{rejected:?}");
        }
    });
}

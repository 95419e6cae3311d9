use proptest::prelude::*;
use tillbridge_domain::event::{Change, EventData, StockStatus};
use tillbridge_domain::{CorrelationId, Currency, Provider, TenantId, Timestamp};

use super::*;

const RECEIVED: &str = "2026-01-01T00:00:00Z";

macro_rules! sample {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/webhooks/",
            $path
        ))
        .as_slice()
    };
}

fn run(
    provider: Provider,
    headers: &[(&str, &str)],
    body: &[u8],
    currency: &str,
) -> Result<Normalized, NormalizeError> {
    let h: Headers = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let ctx = NormalizeContext {
        currency: Currency::parse(currency).expect("currency"),
        headers: &h,
        received_at: Timestamp::parse_rfc3339(RECEIVED).expect("ts"),
    };
    normalize(provider, &ctx, body)
}

fn upserted(e: &NormalizedEvent) -> &tillbridge_domain::event::ItemUpserted {
    match &e.data {
        EventData::CatalogItemUpserted(u) => u,
        other => panic!("expected an upsert, got {other:?}"),
    }
}

#[test]
fn shopify_product_becomes_one_item_per_variant() {
    let n = run(
        Provider::Shopify,
        &[("X-Shopify-Topic", "products/update")],
        sample!("shopify/products.update.json"),
        "USD",
    )
    .expect("normalizes");
    assert_eq!(n.events.len(), 1);
    let item = &upserted(&n.events[0]).item;
    assert_eq!(item.external_id, "123456789");
    assert_eq!(item.parent_id.as_deref(), Some("9554194432293"));
    assert_eq!(item.variant_name.as_deref(), Some("Default Title"));
    assert_eq!(item.name.as_deref(), Some("T-Shirt"));
    assert_eq!(item.price_minor, Some(2999));
    assert_eq!(item.currency, Some(Currency::USD));
    assert_eq!(item.sku.as_deref(), Some("TSHIRT-001"));
    assert_eq!(item.is_active, Some(true));
    assert_eq!(
        item.updated_at.map(|t| t.to_string()).as_deref(),
        Some("2025-04-22T19:30:00Z")
    );
}

#[test]
fn shopify_prices_follow_the_tenant_currency_exponent() {
    let body = br#"{"id":1,"title":"Ramen","variants":[{"id":2,"price":"1200","title":"L"},{"id":3,"price":"980.00","title":"M"}]}"#;
    let n = run(
        Provider::Shopify,
        &[("X-Shopify-Topic", "products/create")],
        body,
        "JPY",
    )
    .expect("normalizes");
    let prices: Vec<_> = n
        .events
        .iter()
        .map(|e| upserted(e).item.price_minor)
        .collect();
    assert_eq!(prices, vec![Some(1200), Some(980)]);
    let inexact = br#"{"id":1,"variants":[{"id":2,"price":"10.5"}]}"#;
    assert!(matches!(
        run(
            Provider::Shopify,
            &[("X-Shopify-Topic", "products/create")],
            inexact,
            "JPY"
        ),
        Err(NormalizeError::Value { .. })
    ));
}

#[test]
fn shopify_delete_inventory_and_orders() {
    let n = run(
        Provider::Shopify,
        &[
            ("X-Shopify-Topic", "products/delete"),
            ("X-Shopify-Triggered-At", "2026-01-02T00:00:00Z"),
        ],
        br#"{"id":9554194432293}"#,
        "USD",
    )
    .expect("ok");
    assert!(
        matches!(&n.events[0].data, EventData::CatalogItemDeleted(d) if d.external_id == "9554194432293" && d.deleted_at.to_string() == "2026-01-02T00:00:00Z")
    );
    let inv = br#"{"inventory_item_id":271878346596884015,"location_id":24826418,"available":6,"updated_at":"2021-12-30T19:00:00-05:00"}"#;
    let n = run(
        Provider::Shopify,
        &[("x-shopify-topic", "inventory_levels/update")],
        inv,
        "USD",
    )
    .expect("ok");
    assert!(
        matches!(&n.events[0].data, EventData::InventoryAdjusted(a) if a.inventory_item_id.as_deref() == Some("271878346596884015") && a.quantity == Some(Decimal::from(6)))
    );
    let order = br#"{"id":820982911946154508,"email":"jon@example.com","currency":"EUR","total_price":"403.00","financial_status":"paid","updated_at":"2021-12-31T19:00:00-05:00","line_items":[{"variant_id":808950810,"sku":"IPOD","quantity":1,"price":"199.00"}],"customer":{"first_name":"Jon"}}"#;
    let n = run(
        Provider::Shopify,
        &[("X-Shopify-Topic", "orders/paid")],
        order,
        "USD",
    )
    .expect("ok");
    let EventData::OrderUpserted(o) = &n.events[0].data else {
        panic!("order")
    };
    assert_eq!(
        (o.total_minor, o.currency.map(|c| c.to_string())),
        (Some(40300), Some("EUR".into()))
    );
    assert_eq!(o.line_items[0].unit_price_minor, Some(19900));
    // No customer data travels.
    let json = serde_json::to_string(&n.events[0].data).expect("json");
    assert!(!json.contains("jon@example.com") && !json.contains("Jon"));
}

#[test]
fn square_samples() {
    let n = run(
        Provider::Square,
        &[],
        sample!("square/inventory.count.updated.json"),
        "USD",
    )
    .expect("ok");
    let EventData::InventoryAdjusted(a) = &n.events[0].data else {
        panic!("inventory")
    };
    assert_eq!(a.external_id.as_deref(), Some("6F4K33KPNUVDWKZ43KUIFH6K"));
    assert_eq!(a.quantity, Some(Decimal::from(90)));
    assert_eq!(a.stock_status, Some(StockStatus::InStock));
    for (file, version) in [
        (sample!("square/order.created.json"), 1),
        (sample!("square/order.updated.json"), 2),
    ] {
        let n = run(Provider::Square, &[], file, "USD").expect("ok");
        let EventData::OrderUpserted(o) = &n.events[0].data else {
            panic!("order")
        };
        assert_eq!(
            (o.order_id.as_str(), o.version),
            ("eA3vssLHKJrv9H0IdJCM3gNqfdcZY", Some(version))
        );
    }
    let n = run(
        Provider::Square,
        &[],
        sample!("square/catalog.version.updated.json"),
        "USD",
    )
    .expect("ok");
    assert!(
        matches!(&n.events[0].data, EventData::FetchRequested(f) if f.object_type == "catalog")
    );
    assert_eq!(
        n.events[0].occurred_at.to_string(),
        "2019-10-29T17:26:16.530Z"
    );
    let n = run(
        Provider::Square,
        &[],
        sample!("square/webhooks.test_notification.json"),
        "USD",
    )
    .expect("ok");
    assert!(n.unhandled && n.events.is_empty());
}

#[test]
fn clover_thin_notifications() {
    let body = br#"{"appId":"APP","merchants":{"M1":[{"objectId":"I:ITEM1","type":"UPDATE","ts":1537970958000},{"objectId":"I:ITEM2","type":"DELETE","ts":1537970959000},{"objectId":"O:ORD1","type":"CREATE","ts":1537970960000}]}}"#;
    let n = run(Provider::Clover, &[], body, "USD").expect("ok");
    assert_eq!(n.events.len(), 3);
    assert!(
        matches!(&n.events[0].data, EventData::FetchRequested(f) if f.object_type == "item" && f.change == Change::Updated)
    );
    assert!(
        matches!(&n.events[1].data, EventData::CatalogItemDeleted(d) if d.external_id == "ITEM2")
    );
    assert!(matches!(&n.events[2].data, EventData::FetchRequested(f) if f.object_type == "order"));
    assert!(
        run(
            Provider::Clover,
            &[],
            br#"{"merchants":{"M1":[{"objectId":"nocolon","type":"UPDATE","ts":1}]}}"#,
            "USD"
        )
        .is_err()
    );
}

#[test]
fn toast_samples() {
    let n = run(
        Provider::Toast,
        &[],
        sample!("toast/menus_updated.json"),
        "USD",
    )
    .expect("ok");
    assert!(matches!(&n.events[0].data, EventData::FetchRequested(f) if f.object_type == "menu"));
    let n = run(
        Provider::Toast,
        &[],
        sample!("toast/stock.low_quantity.json"),
        "USD",
    )
    .expect("ok");
    let EventData::InventoryAdjusted(a) = &n.events[0].data else {
        panic!("inventory")
    };
    assert_eq!(
        (a.quantity, a.stock_status),
        (Some(Decimal::from(5)), Some(StockStatus::LowQuantity))
    );
    // The sample's timestamp is a placeholder: the receive time stands in.
    assert_eq!(a.as_of.to_string(), RECEIVED);
    let n = run(
        Provider::Toast,
        &[],
        sample!("toast/stock.out_of_stock.json"),
        "USD",
    )
    .expect("ok");
    assert!(
        matches!(&n.events[0].data, EventData::InventoryAdjusted(a) if a.quantity == Some(Decimal::ZERO))
    );
}

#[test]
fn zettle_samples_with_payload_as_object_and_as_string() {
    let n = run(
        Provider::Zettle,
        &[],
        sample!("zettle/ProductUpdated.json"),
        "USD",
    )
    .expect("ok");
    let item = &upserted(&n.events[0]).item;
    assert_eq!(item.name.as_deref(), Some("newName"));
    assert_eq!(
        (item.price_minor, item.cost_minor),
        (Some(8300), Some(9800))
    );
    assert_eq!(item.currency.map(|c| c.to_string()).as_deref(), Some("SEK"));
    assert_eq!(item.tax_rate_percent, Some(Decimal::from(25)));
    assert_eq!(
        item.updated_at.map(|t| t.to_string()).as_deref(),
        Some("2018-01-17T09:02:27.680Z")
    );

    // The same event as real deliveries carry it: payload is a JSON string.
    let mut env: serde_json::Value =
        serde_json::from_slice(sample!("zettle/ProductUpdated.json")).expect("json");
    let payload = env["payload"].to_string();
    env["payload"] = serde_json::Value::String(payload);
    let as_string = run(Provider::Zettle, &[], env.to_string().as_bytes(), "USD").expect("ok");
    assert_eq!(as_string.events, n.events);

    let n = run(
        Provider::Zettle,
        &[],
        sample!("zettle/InventoryBalanceChanged.json"),
        "USD",
    )
    .expect("ok");
    assert!(
        matches!(&n.events[0].data, EventData::InventoryAdjusted(a) if a.quantity == Some(Decimal::from(10)))
    );
    let n = run(
        Provider::Zettle,
        &[],
        sample!("zettle/ProductDeleted.json"),
        "USD",
    )
    .expect("ok");
    assert_eq!(n.events.len(), 2);
    let n = run(
        Provider::Zettle,
        &[],
        sample!("zettle/InventoryTrackingStarted.json"),
        "USD",
    )
    .expect("ok");
    assert!(n.unhandled);
}

#[test]
fn woocommerce_samples() {
    let n = run(
        Provider::WooCommerce,
        &[("X-WC-Webhook-Topic", "product.updated")],
        sample!("woocommerce/product.updated.json"),
        "USD",
    )
    .expect("ok");
    let item = &upserted(&n.events[0]).item;
    assert_eq!(
        (item.external_id.as_str(), item.price_minor),
        ("794", Some(2454))
    );
    assert_eq!(item.category.as_deref(), Some("Clothing"));
    assert_eq!(
        item.updated_at.map(|t| t.to_string()).as_deref(),
        Some("2017-03-23T20:01:14Z")
    );
    let n = run(
        Provider::WooCommerce,
        &[("X-WC-Webhook-Topic", "order.created")],
        sample!("woocommerce/order.created.json"),
        "USD",
    )
    .expect("ok");
    let EventData::OrderUpserted(o) = &n.events[0].data else {
        panic!("order")
    };
    assert_eq!(o.total_minor, Some(2935));
    assert_eq!(o.line_items[1].external_id.as_deref(), Some("23"));
    let json = serde_json::to_string(&n.events[0].data).expect("json");
    assert!(!json.contains("john.doe@example.com") && !json.contains("969 Market"));
}

#[test]
fn bigcommerce_sample() {
    let n = run(
        Provider::BigCommerce,
        &[],
        sample!("bigcommerce/store.order.created.callback.json"),
        "USD",
    )
    .expect("ok");
    assert!(
        matches!(&n.events[0].data, EventData::FetchRequested(f) if f.object_type == "order" && f.object_id.as_deref() == Some("250") && f.change == Change::Created)
    );
    let del = br#"{"scope":"store/product/deleted","data":{"type":"product","id":7},"created_at":1561479335}"#;
    assert!(matches!(
        &run(Provider::BigCommerce, &[], del, "USD")
            .expect("ok")
            .events[0]
            .data,
        EventData::CatalogItemDeleted(_)
    ));
    let inv = br#"{"scope":"store/product/inventory/updated","data":{"type":"product","id":7,"inventory":{"product_id":7,"method":"absolute","value":12}},"created_at":1561479335}"#;
    assert!(
        matches!(&run(Provider::BigCommerce, &[], inv, "USD").expect("ok").events[0].data, EventData::InventoryAdjusted(a) if a.quantity == Some(Decimal::from(12)))
    );
}

#[test]
fn lightspeed_form_bodies() {
    let body = b"payload=%7B%22id%22%3A%22p-1%22%2C%22name%22%3A%22Mug%22%2C%22price%22%3A12.5%2C%22updated_at%22%3A%222024-01-01+10%3A00%3A00%22%7D&type=product.update";
    let n = run(Provider::Lightspeed, &[], body, "NZD").expect("ok");
    let item = &upserted(&n.events[0]).item;
    assert_eq!(
        (item.name.as_deref(), item.price_minor),
        (Some("Mug"), Some(1250))
    );
    assert!(run(Provider::Lightspeed, &[], b"{}", "USD").is_err());
}

#[test]
fn envelopes_have_deterministic_ids_per_delivery() {
    let n = run(
        Provider::Shopify,
        &[("X-Shopify-Topic", "products/update")],
        sample!("shopify/products.update.json"),
        "USD",
    )
    .expect("ok");
    let tenant = TenantId::parse("t1").expect("t");
    let corr = CorrelationId::parse("c").expect("c");
    let at = Timestamp::UNIX_EPOCH;
    let a = n
        .clone()
        .into_envelopes(&tenant, Provider::Shopify, "id:w1", at, &corr);
    let b = n
        .clone()
        .into_envelopes(&tenant, Provider::Shopify, "id:w1", at, &corr);
    let c = n.into_envelopes(&tenant, Provider::Shopify, "id:w2", at, &corr);
    assert_eq!(a[0].event_id, b[0].event_id);
    assert_ne!(a[0].event_id, c[0].event_id);
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    for p in Provider::ALL {
        let _ = run(
            p,
            &[
                ("X-Shopify-Topic", "products/update"),
                ("X-WC-Webhook-Topic", "product.updated"),
            ],
            b"\xff\xfe",
            "USD",
        );
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(run(Provider::Square, &[], deep.as_bytes(), "USD").is_err());
    assert!(
        run(Provider::Shopify, &[], b"{}", "USD").is_err(),
        "no topic header"
    );
}

proptest! {
    #[test]
    fn normalizers_never_panic_on_arbitrary_json(
        provider in prop::sample::select(Provider::ALL.to_vec()),
        json in arb_json(),
        topic in prop::sample::select(vec!["products/update", "orders/create", "inventory_levels/update", "product.updated", "order.created", "x"]),
    ) {
        let text = json.to_string();
        let _ = run(provider, &[("X-Shopify-Topic", topic), ("X-WC-Webhook-Topic", topic)], text.as_bytes(), "USD");
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let keys = prop::sample::select(vec![
        "id",
        "type",
        "data",
        "object",
        "variants",
        "price",
        "title",
        "updated_at",
        "eventName",
        "payload",
        "eventType",
        "details",
        "merchants",
        "objectId",
        "ts",
        "scope",
        "inventory_counts",
        "quantity",
        "state",
        "catalog_object_id",
        "balanceAfter",
        "variantUuid",
        "balance",
        "newEntity",
        "uuid",
        "line_items",
        "total",
        "currency",
        "inventory",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "12.50",
            "IN_STOCK",
            "I:1",
            "UPDATE",
            "2024-01-01T00:00:00Z",
            "ProductUpdated",
            "in_stock",
            "store/product/deleted",
            "order.updated",
            "inventory.count.updated"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Shopify's mandatory compliance topics (payloads as in shopify.dev "Privacy law
/// compliance") become privacy requests; a redact naming no customer is malformed.
#[test]
fn shopify_compliance_topics_become_privacy_requests() {
    use tillbridge_domain::event::{PrivacyKind, PrivacyRequest};
    let request = |topic: &str, body: &[u8]| -> Result<PrivacyRequest, NormalizeError> {
        let n = run(
            Provider::Shopify,
            &[("X-Shopify-Topic", topic)],
            body,
            "USD",
        )?;
        match n.events.first().map(|e| &e.data) {
            Some(EventData::PrivacyRequested(r)) if !n.unhandled => Ok(r.clone()),
            other => panic!("{topic}: {other:?}"),
        }
    };
    let data = request(
        "customers/data_request",
        br#"{"shop_id": 954889, "shop_domain": "s.myshopify.com", "orders_requested": [299938, 280263], "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"}, "data_request": {"id": 9999}}"#,
    )
    .expect("normalizes");
    assert_eq!(
        (
            data.kind,
            data.request_id.as_deref(),
            data.customer_id.as_deref()
        ),
        (PrivacyKind::CustomerExport, Some("9999"), Some("191167"))
    );
    assert_eq!(data.order_ids, ["299938", "280263"]);
    assert_eq!(data.phone.as_deref(), Some("555-625-1199"));
    let redact = request(
        "customers/redact",
        br#"{"shop_id": 954889, "shop_domain": "s.myshopify.com", "customer": {"id": 191167, "email": "john@example.com", "phone": null}, "orders_to_redact": [299938]}"#,
    )
    .expect("normalizes");
    assert_eq!(
        (redact.kind, redact.phone),
        (PrivacyKind::CustomerErase, None)
    );
    let shop = request(
        "shop/redact",
        br#"{"shop_id": 954889, "shop_domain": "s.myshopify.com"}"#,
    )
    .expect("normalizes");
    assert_eq!(
        (shop.kind, shop.customer_id),
        (PrivacyKind::ShopErase, None)
    );
    assert!(
        run(
            Provider::Shopify,
            &[("X-Shopify-Topic", "customers/redact")],
            br#"{"shop_id": 954889, "customer": {}}"#,
            "USD"
        )
        .is_err()
    );
}

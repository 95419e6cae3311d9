//! The webhook path on in-memory ports: ingress → queue → signature check → bus → catalog.

use std::sync::Arc;

use tillbridge_catalog as catalog;
use tillbridge_domain::{Provider, TenantId, Timestamp};
use tillbridge_local::LocalRuntime;
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{ManualClock, PortError, Table};
use tillbridge_sync::ingress::IngressRequest;
use tillbridge_sync::quarantine;
use tillbridge_webhooks::Headers;
use tillbridge_webhooks::sign::{SignOptions, sign};

const TENANTS: &str = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{
  "shopify":{"secret":"shp-secret"},
  "clover":{"secret":"clover-code"},
  "woocommerce":{"secret":"wc"},
  "square":{"secret":"sq-key","notification_url":"https://hooks.example.com/v1/webhooks/square/t1"}}}]}"#;

struct Harness {
    rt: LocalRuntime,
    table: Arc<MemoryTable>,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").expect("ts"),
    ));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let blobs = Arc::new(MemoryBlobStore::default());
    harness_on(TENANTS, &table, &blobs, &clock)
}

/// A runtime with `tenants` over existing state (a restart with another configuration).
fn harness_on(
    tenants: &str,
    table: &Arc<MemoryTable>,
    blobs: &Arc<MemoryBlobStore>,
    clock: &Arc<ManualClock>,
) -> Harness {
    let directory = Arc::new(StaticDirectory::from_json(tenants).expect("tenants"));
    let rt = LocalRuntime::new(table.clone(), blobs.clone(), directory, clock.clone());
    Harness {
        rt,
        table: table.clone(),
        clock: clock.clone(),
    }
}

/// The X-Shopify-Hmac-Sha256 value of `body`, from the crate's own signer.
fn shopify_sig(secret: &str, body: &[u8]) -> String {
    sign(
        Provider::Shopify,
        secret.as_bytes(),
        body,
        &SignOptions::default(),
    )
    .expect("signs")
    .into_iter()
    .find(|(name, _)| name == "X-Shopify-Hmac-Sha256")
    .map(|(_, value)| value)
    .expect("a Shopify signature header")
}

fn shopify_product(title: &str, price: &str, updated_at: &str) -> Vec<u8> {
    format!(r#"{{"id":100,"title":"{title}","status":"active","updated_at":"{updated_at}","variants":[{{"id":200,"title":"Default Title","price":"{price}","sku":"SKU-1","updated_at":"{updated_at}","inventory_item_id":300}}]}}"#).into_bytes()
}

async fn post_shopify(
    h: &Harness,
    webhook_id: &str,
    topic: &str,
    body: &[u8],
    secret: &str,
) -> u16 {
    let headers = Headers::new()
        .with("X-Shopify-Hmac-Sha256", shopify_sig(secret, body))
        .with("X-Shopify-Topic", topic)
        .with("X-Shopify-Webhook-Id", webhook_id);
    h.rt.ingress
        .handle(IngressRequest {
            provider: "shopify",
            tenant: "t1",
            headers,
            body,
        })
        .await
        .status
}

fn t1() -> TenantId {
    TenantId::parse("t1").expect("tenant")
}

async fn price(h: &Harness) -> Option<i64> {
    catalog::get_item(h.table.as_ref(), &t1(), "200")
        .await
        .expect("read")
        .and_then(|i| i.price_minor)
}

#[tokio::test]
async fn in_order_out_of_order_and_duplicate_deliveries_end_at_the_newest_version() {
    let h = harness();
    let v1 = shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z");
    let v2 = shopify_product("Taco", "4.75", "2026-01-01T11:00:00Z");
    let v3 = shopify_product("Taco", "5.00", "2026-01-01T12:00:00Z");
    // v3 arrives first, then v1 (stale), then v2 (stale), then v3 again (a vendor retry).
    for (id, body) in [("w3", &v3), ("w1", &v1), ("w2", &v2), ("w3", &v3)] {
        assert_eq!(
            post_shopify(&h, id, "products/update", body, "shp-secret").await,
            202
        );
        h.rt.drain().await.expect("drain");
    }
    assert_eq!(price(&h).await, Some(500));
    let item = catalog::get_item(h.table.as_ref(), &t1(), "200")
        .await
        .expect("read")
        .expect("item");
    assert_eq!(item.parent_id.as_deref(), Some("100"));
    // Same result when all arrive before any processing.
    let h2 = harness();
    for (id, body) in [("w2", &v2), ("w3", &v3), ("w1", &v1), ("w2", &v2)] {
        post_shopify(&h2, id, "products/update", body, "shp-secret").await;
    }
    h2.rt.drain().await.expect("drain");
    assert_eq!(price(&h2).await, Some(500));
    // The redelivered w3 was dropped as a duplicate.
    let stats = tillbridge_ports::table::sum_sharded(h.table.as_ref(), "stats#t1", "webhooks")
        .await
        .expect("stats");
    assert_eq!(stats["duplicates"], 1);
}

#[tokio::test]
async fn forged_deliveries_never_apply_and_are_quarantined_with_a_reason() {
    let h = harness();
    let body = shopify_product("Free", "0.01", "2030-01-01T00:00:00Z");
    assert_eq!(
        post_shopify(&h, "evil", "products/update", &body, "wrong-secret").await,
        202
    );
    h.rt.drain().await.expect("drain");
    assert_eq!(price(&h).await, None);
    let q = quarantine::list(h.table.as_ref(), &t1())
        .await
        .expect("list");
    assert_eq!(q.len(), 1);
    assert!(q[0].reason.contains("signature"), "{}", q[0].reason);
    // A forged delivery does not burn the real delivery id.
    let real = shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z");
    post_shopify(&h, "evil", "products/update", &real, "shp-secret").await;
    h.rt.drain().await.expect("drain");
    assert_eq!(price(&h).await, Some(450));
}

#[tokio::test]
async fn ingress_checks() {
    let h = harness();
    let body = shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z");
    let signed = Headers::new()
        .with("X-Shopify-Hmac-Sha256", shopify_sig("shp-secret", &body))
        .with("X-Shopify-Topic", "products/update");
    let status = |tenant: &'static str, provider: &'static str, headers: Headers, body: Vec<u8>| {
        let rt = &h.rt;
        async move {
            rt.ingress
                .handle(IngressRequest {
                    provider,
                    tenant,
                    headers,
                    body: &body,
                })
                .await
        }
    };
    assert_eq!(
        status("nobody", "shopify", signed.clone(), body.clone())
            .await
            .status,
        404
    );
    assert_eq!(
        status("t1", "paypal", signed.clone(), body.clone())
            .await
            .status,
        404
    );
    assert_eq!(
        status("t1", "toast", signed.clone(), body.clone())
            .await
            .status,
        404,
        "provider not configured"
    );
    assert_eq!(
        status("../t1", "shopify", signed.clone(), body.clone())
            .await
            .status,
        404
    );
    assert_eq!(
        status("t1", "shopify", Headers::new(), body.clone())
            .await
            .status,
        401
    );
    let big = vec![b' '; 3 * 1024 * 1024];
    assert_eq!(
        status("t1", "shopify", signed.clone(), big).await.status,
        413
    );
    let ok = status("t1", "shopify", signed, body).await;
    assert_eq!(ok.status, 202);
    assert!(
        ok.body["delivery_id"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    // WooCommerce's creation ping: 200 and nothing else.
    let ping = status(
        "t1",
        "woocommerce",
        Headers::new(),
        b"webhook_id=7".to_vec(),
    )
    .await;
    assert_eq!(ping.status, 200);
    // Clover's verification request: 200, code kept for the operator, nothing enqueued.
    let clover = status(
        "t1",
        "clover",
        Headers::new(),
        br#"{"verificationCode":"abc-123"}"#.to_vec(),
    )
    .await;
    assert_eq!(clover.status, 200);
    assert_eq!(h.rt.inbound.depth().await.expect("depth"), 1);
    let stored = h
        .table
        .get("handshake#t1", "clover")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.attrs["doc"]["verification_code"], "abc-123");
}

#[tokio::test]
async fn large_bodies_travel_by_claim_check() {
    let h = harness();
    let variants: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"id":{},"title":"Size {i}","price":"1.00","updated_at":"2026-01-01T10:00:00Z"}}"#, 1000 + i))
        .collect();
    let body = format!(
        r#"{{"id":1,"title":"Big","updated_at":"2026-01-01T10:00:00Z","variants":[{}]}}"#,
        variants.join(",")
    )
    .into_bytes();
    assert!(body.len() > 160 * 1024);
    assert_eq!(
        post_shopify(&h, "big", "products/create", &body, "shp-secret").await,
        202
    );
    h.rt.drain().await.expect("drain");
    assert!(
        catalog::get_item(h.table.as_ref(), &t1(), "2999")
            .await
            .expect("read")
            .is_some()
    );
}

#[tokio::test]
async fn clover_auth_code_never_reaches_the_queue_and_still_verifies() {
    let h = harness();
    let body = br#"{"appId":"A","merchants":{"M":[{"objectId":"I:X1","type":"DELETE","ts":1767225600000}]}}"#;
    let headers = Headers::new().with("X-Clover-Auth", "clover-code");
    let r =
        h.rt.ingress
            .handle(IngressRequest {
                provider: "clover",
                tenant: "t1",
                headers,
                body,
            })
            .await;
    assert_eq!(r.status, 202);
    let queued =
        h.rt.inbound
            .receive(1, std::time::Duration::from_secs(1))
            .await
            .expect("receive");
    assert!(!queued[0].body.contains("clover-code"));
    h.rt.inbound
        .release(&queued[0].receipt, std::time::Duration::ZERO)
        .await
        .expect("release");
    h.rt.drain().await.expect("drain");
    let stats = tillbridge_ports::table::sum_sharded(h.table.as_ref(), "stats#t1", "webhooks")
        .await
        .expect("stats");
    assert_eq!(stats["published"], 1);
}

#[tokio::test]
async fn shopify_stock_resolves_through_the_inventory_item_alias_and_deletes_cascade() {
    let h = harness();
    post_shopify(
        &h,
        "p",
        "products/create",
        &shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z"),
        "shp-secret",
    )
    .await;
    let inv = br#"{"inventory_item_id":300,"location_id":1,"available":7,"updated_at":"2026-01-01T11:00:00Z"}"#;
    post_shopify(&h, "i", "inventory_levels/update", inv, "shp-secret").await;
    h.rt.drain().await.expect("drain");
    let item = catalog::get_item(h.table.as_ref(), &t1(), "200")
        .await
        .expect("read")
        .expect("item");
    assert_eq!(
        item.quantity_on_hand.map(|q| q.to_string()).as_deref(),
        Some("7")
    );
    // products/delete carries no time of its own: it is ordered by its receipt, a day later.
    h.clock.advance_secs(86_400);
    post_shopify(&h, "d", "products/delete", br#"{"id":100}"#, "shp-secret").await;
    h.rt.drain().await.expect("drain");
    assert!(
        catalog::get_item(h.table.as_ref(), &t1(), "200")
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn transient_failures_are_retried_and_nothing_is_lost() {
    let h = harness();
    post_shopify(
        &h,
        "w1",
        "products/update",
        &shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z"),
        "shp-secret",
    )
    .await;
    // The table throttles once while the signature check runs.
    h.table
        .faults
        .inject(PortError::Transient("throttled".into()));
    let first = h.rt.step().await;
    assert!(first.is_err() || first.is_ok_and(|r| r.failed + r.processed >= 1));
    for _ in 0..5 {
        h.clock.advance_secs(31);
        h.rt.drain().await.expect("drain");
    }
    assert_eq!(price(&h).await, Some(450));
}

#[tokio::test]
async fn an_update_that_fails_validation_is_not_applied_and_is_kept_with_its_reason() {
    let h = harness();
    post_shopify(
        &h,
        "v1",
        "products/update",
        &shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z"),
        "shp-secret",
    )
    .await;
    h.rt.drain().await.expect("drain");
    // A newer update whose price was typed in cents into a dollars field: 450.00 for 4.50.
    post_shopify(
        &h,
        "v2",
        "products/update",
        &shopify_product("Taco", "450.00", "2026-01-01T11:00:00Z"),
        "shp-secret",
    )
    .await;
    h.rt.drain().await.expect("drain");
    assert_eq!(
        price(&h).await,
        Some(450),
        "the bad price never reaches the catalog"
    );
    let rejected = catalog::list_rejected(h.table.as_ref(), &t1())
        .await
        .expect("list");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].external_id, "200");
    assert_eq!(rejected[0].findings[0].rule, "price.unit_error");
    assert_eq!(rejected[0].findings[0].fix.as_deref(), Some("450"));
    // A plausible change still applies.
    post_shopify(
        &h,
        "v3",
        "products/update",
        &shopify_product("Taco", "4.95", "2026-01-01T12:00:00Z"),
        "shp-secret",
    )
    .await;
    h.rt.drain().await.expect("drain");
    assert_eq!(price(&h).await, Some(495));
    let stats = tillbridge_ports::table::sum_sharded(h.table.as_ref(), "stats#t1", "catalog")
        .await
        .expect("stats");
    assert_eq!(stats["rejected"], 1);
}

/// A worker that died between the idempotency claim and the publish (kill -9) leaves an
/// in-progress claim with a 60 s lock. When the queue hands the same request out again, it
/// takes the claim over at once instead of meeting its own lock until it runs out of receives.
#[tokio::test]
async fn a_redelivered_request_takes_over_its_own_dead_claim() {
    use tillbridge_ports::table::{Condition, Item};
    use tillbridge_sync::inbound::InboundDelivery;
    use tillbridge_sync::keys;

    let h = harness();
    let body = shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z");
    assert_eq!(
        post_shopify(&h, "w-crash", "products/update", &body, "shp-secret").await,
        202
    );
    // The worker receives the delivery, claims it and dies before publishing.
    let taken =
        h.rt.inbound
            .receive(1, std::time::Duration::from_secs(2))
            .await
            .expect("receive");
    let d: InboundDelivery = serde_json::from_str(&taken[0].body).expect("a delivery");
    let now = h.clock.now_secs();
    let mut attrs = serde_json::Map::new();
    attrs.insert("state".into(), serde_json::json!("in_progress"));
    attrs.insert("locked_until".into(), serde_json::json!(now + 60));
    attrs.insert("delivery_id".into(), serde_json::json!(d.delivery_id));
    let claim = Item::new(
        keys::idempotency_pk(&t1()),
        keys::idempotency_sk(Provider::Shopify, "id:w-crash"),
        attrs,
    );
    h.table.put(claim, Condition::Always).await.expect("claim");
    // Its lease runs out; the queue hands the same request out again.
    h.clock.advance_secs(3);
    h.rt.drain().await.expect("drain");
    assert_eq!(price(&h).await, Some(450), "applied after the take-over");
}

/// After a secret fix, an operator replays a quarantined delivery: it goes through the
/// signature check again with the secret as it is now, applies, and a second replay is a
/// duplicate.
#[tokio::test]
async fn a_quarantined_delivery_replays_after_the_secret_is_fixed() {
    use tillbridge_sync::quarantine::{Replay, replay};

    // The tenant was configured with a mistyped secret: the delivery is quarantined.
    let wrong = TENANTS.replace("shp-secret", "shp-secrte");
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").expect("ts"),
    ));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let blobs = Arc::new(MemoryBlobStore::default());
    let h = harness_on(&wrong, &table, &blobs, &clock);
    let body = shopify_product("Taco", "4.50", "2026-01-01T10:00:00Z");
    assert_eq!(
        post_shopify(&h, "w-r", "products/update", &body, "shp-secret").await,
        202
    );
    h.rt.drain().await.expect("drain");
    let kept = quarantine::list(table.as_ref(), &t1()).await.expect("list");
    assert_eq!(kept.len(), 1);
    assert_eq!(price(&h).await, None);

    // The secret is fixed; the operator replays the delivery.
    let h = harness_on(TENANTS, &table, &blobs, &clock);
    let id = kept[0].delivery_id.to_string();
    let queued = replay(
        table.as_ref(),
        blobs.as_ref(),
        h.rt.inbound.as_ref(),
        &t1(),
        &id,
    )
    .await
    .expect("replay");
    assert_eq!(queued, Replay::Queued(kept[0].delivery_id.clone()));
    h.rt.drain().await.expect("drain");
    assert_eq!(price(&h).await, Some(450), "applied once verified");

    // Replaying again is harmless: the signature check sees a duplicate.
    replay(
        table.as_ref(),
        blobs.as_ref(),
        h.rt.inbound.as_ref(),
        &t1(),
        &id,
    )
    .await
    .expect("replay");
    h.rt.drain().await.expect("drain");
    assert_eq!(price(&h).await, Some(450));
    assert_eq!(
        replay(
            table.as_ref(),
            blobs.as_ref(),
            h.rt.inbound.as_ref(),
            &t1(),
            "nope"
        )
        .await
        .expect("replay"),
        Replay::NotFound
    );
}

//! Vendors tillbridge has no code for, described by a profile, on the same webhook path as the
//! built-ins: ingress precheck, signature check with the tenant's secret, idempotency,
//! normalization through the profile's mapping, catalog apply.

use std::sync::Arc;

use tillbridge_catalog as catalog;
use tillbridge_domain::{ProfileName, Provider, TenantId, Timestamp};
use tillbridge_local::LocalRuntime;
use tillbridge_ports::ManualClock;
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_profiles::{Profile, store};
use tillbridge_sync::ingress::IngressRequest;
use tillbridge_webhooks::Headers;
use tillbridge_webhooks::sign::{SignOptions, sign};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const TENANTS: &str = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{
  "acme-pos":{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
  "treez":{"secret":"treez-token-1"},
  "dutchie":{"secret":"unused"}}}]}"#;

/// A made-up vendor that signs per Standard Webhooks; added by an operator, no code.
const ACME: &str = r#"{"name":"acme-pos","version":1,"title":"Acme POS","sources":["https://www.standardwebhooks.com/"],
  "webhooks":{
    "signature":{"scheme":"hmac","algorithm":"sha256","signature":{"header":"webhook-signature"},
      "encoding":"base64","prefix":"v1,","separator":" ",
      "signed":[{"header":"webhook-id"},{"literal":"."},"timestamp",{"literal":"."},"body"],
      "timestamp":{"header":"webhook-timestamp","tolerance_secs":300},
      "secret":{"strip_prefix":"whsec_","decode":"base64"}},
    "delivery_id":{"header":"webhook-id"},
    "event_type":{"pointer":"/type"},
    "occurred_at":{"pointer":"/timestamp"},
    "events":[{"types":["item.*"],"meaning":"upsert","records":"/data"}]},
  "mapping":{"fields":[
    {"source":"id","target":"external_id"},{"source":"title","target":"name"},
    {"source":"price","target":"price_minor","conversion":"major_to_minor"}]}}"#;

struct Harness {
    rt: LocalRuntime,
    table: Arc<MemoryTable>,
}

fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").expect("ts"),
    ));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let blobs = Arc::new(MemoryBlobStore::default());
    let directory = Arc::new(StaticDirectory::from_json(TENANTS).expect("tenants"));
    let rt = LocalRuntime::new(table.clone(), blobs, directory, clock);
    Harness { rt, table }
}

fn t1() -> TenantId {
    TenantId::parse("t1").expect("tenant")
}

async fn post(h: &Harness, provider: &str, headers: Headers, body: &[u8]) -> u16 {
    h.rt.ingress
        .handle(IngressRequest {
            provider,
            tenant: "t1",
            headers,
            body,
        })
        .await
        .status
}

fn acme_delivery(id: &str, body: &[u8], secret: &str) -> Headers {
    let opts = SignOptions {
        url: None,
        timestamp: 1_767_225_600,
        message_id: Some(id),
    };
    sign(Provider::StandardWebhooks, secret.as_bytes(), body, &opts)
        .expect("signs")
        .into_iter()
        .collect()
}

async fn stat(h: &Harness, name: &str) -> i64 {
    tillbridge_ports::table::sum_sharded(h.table.as_ref(), "stats#t1", "webhooks")
        .await
        .expect("stats")
        .get(name)
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
}

#[tokio::test]
async fn an_operator_profile_makes_a_standard_webhooks_vendor_land_in_the_catalog() {
    let h = harness();
    let body = br#"{"type":"item.updated","timestamp":"2026-01-01T00:00:00Z","data":{"id":"acme-1","title":"Oat latte","price":"4.50"}}"#;

    // Before the profile exists, the vendor is unknown.
    assert_eq!(
        post(&h, "acme-pos", acme_delivery("msg_1", body, SECRET), body).await,
        404
    );

    let profile = Profile::parse(ACME).expect("valid profile");
    let name = ProfileName::parse("acme-pos").expect("name");
    store::put(h.table.as_ref(), name, &profile, Timestamp::UNIX_EPOCH)
        .await
        .expect("stored");

    assert_eq!(
        post(&h, "acme-pos", acme_delivery("msg_1", body, SECRET), body).await,
        202
    );
    // The vendor retries the same message: a duplicate, applied once.
    assert_eq!(
        post(&h, "acme-pos", acme_delivery("msg_1", body, SECRET), body).await,
        202
    );
    // A forgery (another key) passes the cheap precheck but is quarantined.
    let forged = acme_delivery(
        "msg_2",
        body,
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    assert_eq!(post(&h, "acme-pos", forged, body).await, 202);
    // Unsigned: refused at the door.
    assert_eq!(post(&h, "acme-pos", Headers::new(), body).await, 401);
    h.rt.drain().await.expect("drain");

    let item = catalog::get_item(h.table.as_ref(), &t1(), "acme-1")
        .await
        .expect("read")
        .expect("the profile vendor's item is in the catalog");
    assert_eq!(item.name.as_deref(), Some("Oat latte"));
    assert_eq!(item.price_minor, Some(450));
    assert_eq!(stat(&h, "published").await, 1);
    assert_eq!(stat(&h, "duplicates").await, 1);
    assert_eq!(stat(&h, "quarantined").await, 1);
    assert_eq!(stat(&h, "unhandled").await, 0);
}

#[tokio::test]
async fn a_built_in_profile_vendor_with_a_token_never_queues_the_token() {
    let h = harness();
    let body = br#"{"event_type":"PRODUCT","dispensary_short_name":"s","data":{"product_id":"tz-1","product_status":"ACTIVE","last_updated_at":"2025-12-31T10:00:00-08:00","product_configurable_fields":{"name":"Gummies"},"pricing":{"price_sell":21}}}"#;
    let headers = Headers::new().with("Authorization", "Bearer treez-token-1");
    assert_eq!(post(&h, "treez", headers, body).await, 202);
    let queued =
        h.rt.inbound
            .receive(1, std::time::Duration::from_secs(1))
            .await
            .expect("receive");
    assert!(!queued[0].body.contains("treez-token-1"));
    h.rt.inbound
        .release(&queued[0].receipt, std::time::Duration::ZERO)
        .await
        .expect("release");
    let wrong = Headers::new().with("Authorization", "Bearer guessed");
    assert_eq!(post(&h, "treez", wrong, body).await, 202);
    h.rt.drain().await.expect("drain");
    let item = catalog::get_item(h.table.as_ref(), &t1(), "tz-1")
        .await
        .expect("read")
        .expect("applied");
    assert_eq!(item.price_minor, Some(2100));
    assert_eq!(stat(&h, "published").await, 1);
    assert_eq!(stat(&h, "quarantined").await, 1);
}

#[tokio::test]
async fn a_vendor_without_documented_signing_is_refused_at_the_door() {
    let h = harness();
    let body = br#"[{"productId":1}]"#;
    assert_eq!(post(&h, "dutchie", Headers::new(), body).await, 401);
    // A name without a profile is an unknown provider.
    assert_eq!(post(&h, "nobody-pos", Headers::new(), body).await, 404);
}

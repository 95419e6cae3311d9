use std::sync::Arc;

use tillbridge_domain::{Currency, Provider, TenantId, Timestamp};
use tillbridge_ports::memory::{MemoryBlobStore, MemoryTable};
use tillbridge_ports::tenants::{ProviderConfig, TableDirectory, TenantConfig};
use tillbridge_ports::{ManualClock, Queue, TableQueue};

use super::*;

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn ingress() -> (Ingress, Arc<dyn Queue>) {
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2025-04-22T19:30:00Z").unwrap_or(Timestamp::UNIX_EPOCH),
    ));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let directory = TableDirectory::new(table.clone(), std::time::Duration::from_secs(60));
    let tenant = TenantConfig {
        tenant_id: TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}")),
        currency: Currency::USD,
        providers: [(Provider::Shopify, ProviderConfig::default())]
            .into_iter()
            .collect(),
        ..TenantConfig::new(
            TenantId::parse("demo-cafe").unwrap_or_else(|e| panic!("{e}")),
            Currency::USD,
        )
    };
    directory
        .put(&tenant)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let queue: Arc<dyn Queue> = Arc::new(TableQueue::new("inbound", table.clone(), clock.clone()));
    let ingress = Ingress {
        directory: Arc::new(directory),
        queue: queue.clone(),
        blobs: Arc::new(MemoryBlobStore::default()),
        table,
        clock,
    };
    (ingress, queue)
}

#[tokio::test]
async fn api_gateway_v2_event_is_accepted_and_enqueued_with_its_raw_bytes() {
    let (ingress, queue) = ingress().await;
    let response = handle(&ingress, None, event("apigw-webhook-shopify.json")).await;
    assert_eq!(response.status(), 202);
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    assert!(body["delivery_id"].as_str().is_some());
    let queued = queue
        .receive(1, std::time::Duration::from_secs(1))
        .await
        .unwrap_or_default();
    let message: serde_json::Value = serde_json::from_str(&queued[0].body).unwrap_or_default();
    assert_eq!(message["tenant_id"], "demo-cafe");
    // The base64 body of the API Gateway event arrives decoded, byte for byte.
    let sample = std::fs::read(format!(
        "{}/../../samples/webhooks/shopify/products.update.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default();
    let inline = message["body"]["base64"].as_str().unwrap_or_default();
    use base64_check::decode;
    assert_eq!(decode(inline), sample);
}

#[tokio::test]
async fn unknown_tenant_is_a_404_response_not_a_function_error() {
    let (ingress, queue) = ingress().await;
    let response = handle(&ingress, None, event("apigw-webhook-unknown-tenant.json")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(queue.depth().await.ok(), Some(0));
}

/// Minimal base64 decoding for the assertion, independent of the code under test.
mod base64_check {
    pub fn decode(s: &str) -> Vec<u8> {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut buf, mut bits) = (0u32, 0);
        for c in s.bytes().filter(|c| *c != b'=') {
            let Some(v) = A.iter().position(|a| *a == c) else {
                continue;
            };
            buf = (buf << 6) | v as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((buf >> bits) as u8);
                buf &= (1 << bits) - 1;
            }
        }
        out
    }
}

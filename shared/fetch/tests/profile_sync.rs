//! Pulls from a vendor described only by a profile (issue 16): a small fake server speaks the
//! profile's API (an API key header, offset pagination, records under `/data`) and throttles
//! once with 429 + Retry-After; a full sync lands every record, a re-run changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tillbridge_domain::{ProfileName, Provider, TenantId, Timestamp};
use tillbridge_fetch::Fetcher;
use tillbridge_ports::ManualClock;
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_profiles::{Profile, store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PROFILE: &str = r#"{"name":"shelf-pos","version":1,"title":"Shelf POS (made up)",
  "sources":["https://docs.shelf-pos.example/api — GET /v1/products?offset=&limit= → {data: [...]}, X-Api-Key"],
  "api":{"base_url":"https://api.shelf-pos.example","auth":{"type":"api_key_header","header":"X-Api-Key"},
    "list":{"path":"/v1/products","query":{"status":"all"},"records":"/data"},
    "get":{"path":"/v1/products/{id}","records":"/data"},
    "pagination":{"type":"offset","param":"offset","size_param":"limit","size":4},
    "rate_limit":{"per_second":50,"burst":10}},
  "mapping":{"fields":[
    {"source":"id","target":"external_id"},{"source":"name","target":"name"},
    {"source":"sku","target":"sku"},
    {"source":"price","target":"price_minor","conversion":"major_to_minor"},
    {"source":"updated_at","target":"updated_at","conversion":"date_time"}]}}"#;

const KEY: &str = "shelf-key-1";
const RECORDS: usize = 10;

fn record(i: usize) -> serde_json::Value {
    serde_json::json!({
        "id": format!("p-{i}"), "name": format!("Item {i}"), "sku": format!("S{i}"),
        "price": format!("{}.{:02}", i, i * 7 % 100), "updated_at": "2026-03-01T10:00:00Z"
    })
}

/// The fake vendor: `GET /v1/products?status=all&offset=N&limit=M` with `X-Api-Key`; the
/// very first request is answered 429 with `Retry-After: 1`.
async fn fake_vendor(calls: Arc<AtomicU32>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let calls = calls.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let key_ok = head
                    .lines()
                    .any(|l| l.to_ascii_lowercase() == format!("x-api-key: {KEY}"));
                let n = calls.fetch_add(1, Ordering::SeqCst);
                let (status, extra, body) = if n == 0 {
                    (
                        "429 Too Many Requests",
                        "Retry-After: 1\r\n",
                        r#"{"message":"slow down"}"#.to_owned(),
                    )
                } else if !key_ok {
                    (
                        "401 Unauthorized",
                        "",
                        r#"{"message":"bad key"}"#.to_owned(),
                    )
                } else {
                    let q = |name: &str| -> Option<usize> {
                        target
                            .split(['?', '&'])
                            .find_map(|kv| kv.strip_prefix(&format!("{name}="))?.parse().ok())
                    };
                    let status_all = target.contains("status=all");
                    match (q("offset"), q("limit"), status_all) {
                        (Some(offset), Some(limit), true)
                            if target.starts_with("/v1/products?") =>
                        {
                            let data: Vec<_> = (offset..RECORDS.min(offset + limit))
                                .map(|i| record(i + 1))
                                .collect();
                            (
                                "200 OK",
                                "",
                                serde_json::json!({ "data": data }).to_string(),
                            )
                        }
                        _ => (
                            "400 Bad Request",
                            "",
                            r#"{"message":"bad query"}"#.to_owned(),
                        ),
                    }
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn t1() -> TenantId {
    TenantId::parse("t1").unwrap()
}

async fn fetcher(base_url: &str, key: &str) -> Fetcher {
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"shelf-pos":{{"secret":"unused","api":{{"base_url":"{base_url}","access_token":"{key}"}}}}}}}}]}}"#
    );
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap(),
    ));
    let f = Fetcher::in_memory(
        Arc::new(StaticDirectory::from_json(&tenants).unwrap()),
        clock,
    );
    let name = ProfileName::parse("shelf-pos").unwrap();
    store::put(
        f.table.as_ref(),
        name,
        &Profile::parse(PROFILE).unwrap(),
        Timestamp::UNIX_EPOCH,
    )
    .await
    .unwrap();
    f
}

fn shelf() -> Provider {
    Provider::Profile(ProfileName::parse("shelf-pos").unwrap())
}

#[tokio::test]
async fn a_full_sync_of_a_profile_vendor_lands_every_record_and_a_rerun_changes_nothing() {
    let calls = Arc::new(AtomicU32::new(0));
    let base = fake_vendor(calls.clone()).await;
    let f = fetcher(&base, KEY).await;

    let first = f.sync(&t1(), shelf(), None).await.unwrap();
    assert_eq!(first.fetched, RECORDS as u64, "{first:?}");
    assert_eq!(
        (first.created, first.changed, first.deleted),
        (RECORDS as u64, 0, 0),
        "{first:?}"
    );
    // Pages of 4, 4 and 2, plus the throttled first attempt.
    assert_eq!((first.api_calls, first.retries), (4, 1), "{first:?}");
    let item = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1(), "shelf-pos", "p-7")
        .await
        .unwrap()
        .expect("p-7 landed");
    assert_eq!(item.name.as_deref(), Some("Item 7"));
    assert_eq!(item.sku.as_deref(), Some("S7"));
    assert_eq!(item.price_minor, Some(749), "7.49 exactly");

    let again = f.sync(&t1(), shelf(), None).await.unwrap();
    assert_eq!(
        (again.created, again.changed, again.deleted, again.unchanged),
        (0, 0, 0, RECORDS as u64),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_the_vendors_refusal() {
    let calls = Arc::new(AtomicU32::new(1)); // no 429 first
    let base = fake_vendor(calls).await;
    let f = fetcher(&base, "wrong").await;
    let e = f.sync(&t1(), shelf(), None).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("bad key"), "{text}");
    assert!(!text.contains("wrong"), "the key never appears: {text}");
}

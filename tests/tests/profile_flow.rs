//! The README's whole flow for a made-up vendor (issue 16), over the real binary: the profile
//! file PUT into a running `serve` (no restart), a signed webhook of the vendor landing in the
//! catalog, a pull of its API (the fake profile vendor) through `POST …/sync/{vendor}`, and
//! after the vendor changed, `tillbridge sync --since last`: a delta that sends the stored
//! watermark in the profile's "updated since" parameter and applies only the change and the
//! deletion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Server, binary, json, temp_state};
use tillbridge_connectors::fake::profile::{Access, FakeProfileVendor, FakeRecord, Paging};
use tillbridge_domain::{Provider, Timestamp};
use tillbridge_webhooks::sign::{SignOptions, sign};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_767_225_600 + secs).unwrap()
}

/// The vendor: Standard Webhooks signing, a cursor-paged REST list with bearer auth and
/// `updated_since` deltas, `deleted_at` marking deletions.
const PROFILE: &str = r#"{"name":"brew-pos","version":1,"title":"Brew POS (made up)",
  "sources":["https://www.standardwebhooks.com/","https://example.com/brew-pos/api (made up)"],
  "webhooks":{
    "signature":{"scheme":"hmac","algorithm":"sha256","signature":{"header":"webhook-signature"},
      "encoding":"base64","prefix":"v1,","separator":" ",
      "signed":[{"header":"webhook-id"},{"literal":"."},"timestamp",{"literal":"."},"body"],
      "timestamp":{"header":"webhook-timestamp","tolerance_secs":300},
      "secret":{"strip_prefix":"whsec_","decode":"base64"}},
    "delivery_id":{"header":"webhook-id"},
    "event_type":{"pointer":"/type"},
    "events":[{"types":["product.updated"],"meaning":"upsert","records":"/product"}]},
  "api":{
    "base_url":"https://api.brew-pos.example/v1",
    "auth":{"type":"bearer"},
    "list":{"path":"/products","records":"/products"},
    "pagination":{"type":"cursor","param":"cursor","next":"/next_cursor","size_param":"limit","size":2},
    "changes":{"param":"updated_since","format":"rfc3339","deleted":{"pointer":"/deleted_at","id":"/id"}}},
  "mapping":{"fields":[
    {"source":"id","target":"external_id"},{"source":"name","target":"name"},
    {"source":"price","target":"price_minor","conversion":"major_to_minor"},
    {"source":"updated_at","target":"updated_at","conversion":"date_time"}]}}"#;

fn fake_vendor() -> (tokio::runtime::Runtime, FakeProfileVendor) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // b-9 is also the product the webhook announces (2026-01-01T08:00:00Z).
    let records = (1..=3)
        .map(|i| FakeRecord::new(&format!("b-{i}"), &format!("Brew {i}"), "2.50", at(i)))
        .chain([FakeRecord::new("b-9", "Cortado", "3.40", at(8 * 3600))])
        .collect();
    let fake = rt
        .block_on(FakeProfileVendor::start(
            Access::Bearer("brew-token".into()),
            Paging::Cursor,
            2,
            records,
        ))
        .unwrap();
    (rt, fake)
}

fn signed_webhook(server: &Server, id: &str, body: &[u8]) -> (u16, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let opts = SignOptions {
        url: None,
        timestamp: i64::try_from(now).unwrap(),
        message_id: Some(id),
    };
    let signed = sign(Provider::StandardWebhooks, SECRET.as_bytes(), body, &opts).unwrap();
    let headers: Vec<(&str, String)> = signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    server.request("POST", "/v1/webhooks/brew-pos/t1", &headers, body)
}

#[test]
fn profile_file_then_webhook_then_pull_then_delta() {
    let (_rt, fake) = fake_vendor();
    let state = temp_state("profile-flow");
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"brew-pos":{{"secret":"{SECRET}","api":{{"base_url":"{}","access_token":"brew-token"}}}}}}}}]}}"#,
        fake.server.base_url
    );
    let server = Server::start_with_tenants(state.clone(), &tenants, &[], &[]);

    // 1. The profile, stored while serve runs.
    let (status, text) = server.request("PUT", "/v1/profiles/brew-pos", &[], PROFILE.as_bytes());
    assert_eq!(status, 201, "{text}");

    // 2. A signed webhook of the vendor lands in the catalog through the profile's mapping.
    let body = br#"{"type":"product.updated","product":{"id":"b-9","name":"Cortado","price":"3.40","updated_at":"2026-01-01T08:00:00Z"}}"#;
    let (status, text) = signed_webhook(&server, "msg_b9", body);
    assert_eq!(status, 202, "{text}");
    server.eventually("the webhook's item", Duration::from_secs(20), |s| {
        s.get("/v1/tenants/t1/items/b-9").0 == 200
    });
    let item = json(&server.get("/v1/tenants/t1/items/b-9").1);
    assert_eq!(
        (item["name"].as_str(), item["price_minor"].as_i64()),
        (Some("Cortado"), Some(340))
    );

    // 3. A pull of the vendor's API.
    let (status, text) = server.request("POST", "/v1/tenants/t1/sync/brew-pos", &[], b"");
    assert_eq!(status, 200, "{text}");
    let report = json(&text);
    assert_eq!(
        (
            report["fetched"].as_u64(),
            report["created"].as_u64(),
            report["unchanged"].as_u64()
        ),
        (Some(4), Some(3), Some(1)),
        "b-9 as the webhook brought it: {text}"
    );
    assert_eq!(
        json(&server.get("/v1/tenants/t1/items/b-2").1)["price_minor"],
        250
    );
    assert!(
        fake.list_queries()
            .iter()
            .all(|q| !q.contains("updated_since"))
    );
    let state = server.stop();

    // 4. The vendor changes one product and deletes another; the next sync is a delta from
    //    the stored watermark (the newest updated_at of the pull: b-9's).
    {
        let mut r = fake.records();
        r[0].price = "2.75".into();
        r[0].updated_at = at(9 * 3600);
        r[1].deleted_at = Some(at(9 * 3600 + 10));
    }
    let asked = fake.list_queries().len();
    let out = Command::new(binary())
        .args([
            "sync",
            "--tenant",
            "t1",
            "--provider",
            "brew-pos",
            "--since",
            "last",
            "--state",
        ])
        .arg(state.join("store"))
        .arg("--tenants")
        .arg(state.join("tenants-under-test.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delta = json(&stdout);
    assert_eq!(
        (
            delta["fetched"].as_u64(),
            delta["changed"].as_u64(),
            delta["deleted"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{stdout}"
    );
    let queries = &fake.list_queries()[asked..];
    assert_eq!(
        queries,
        [format!(
            "updated_since={}&limit=2",
            at(8 * 3600).to_rfc3339().replace(':', "%3A")
        )],
        "the watermark of the pull"
    );

    let server = Server::start_with_tenants(state, &tenants, &[], &[]);
    assert_eq!(
        json(&server.get("/v1/tenants/t1/items/b-1").1)["price_minor"],
        275
    );
    assert_eq!(server.get("/v1/tenants/t1/items/b-2").0, 404);
    assert_eq!(
        server.get("/v1/tenants/t1/items/b-9").0,
        200,
        "untouched by the delta"
    );
}

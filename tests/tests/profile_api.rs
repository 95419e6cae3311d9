//! Vendor profiles over HTTP (issue 16): an operator PUTs a profile into a running `serve`
//! and the vendor's next webhook uses it — no restart; a new version replaces the mapping
//! at once; bad profiles and stale versions are refused with reasons.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Server, json, temp_state};
use tillbridge_domain::Provider;
use tillbridge_webhooks::sign::{SignOptions, sign};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const TENANTS: &str = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{
  "acme-pos":{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}]}"#;

fn profile(version: u32, name_source: &str) -> String {
    format!(
        r#"{{"name":"acme-pos","version":{version},"title":"Acme POS","sources":["https://www.standardwebhooks.com/"],
  "webhooks":{{
    "signature":{{"scheme":"hmac","algorithm":"sha256","signature":{{"header":"webhook-signature"}},
      "encoding":"base64","prefix":"v1,","separator":" ",
      "signed":[{{"header":"webhook-id"}},{{"literal":"."}},"timestamp",{{"literal":"."}},"body"],
      "timestamp":{{"header":"webhook-timestamp","tolerance_secs":300}},
      "secret":{{"strip_prefix":"whsec_","decode":"base64"}}}},
    "delivery_id":{{"header":"webhook-id"}},
    "event_type":{{"pointer":"/type"}},
    "occurred_at":{{"pointer":"/timestamp"}},
    "events":[{{"types":["item.*"],"meaning":"upsert","records":"/data"}}]}},
  "mapping":{{"fields":[
    {{"source":"id","target":"external_id"}},{{"source":"{name_source}","target":"name"}},
    {{"source":"price","target":"price_minor","conversion":"major_to_minor"}}]}}}}"#
    )
}

fn post_acme(server: &Server, id: &str, body: &[u8]) -> u16 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let opts = SignOptions {
        url: None,
        timestamp: i64::try_from(now).unwrap(),
        message_id: Some(id),
    };
    let signed = sign(Provider::StandardWebhooks, SECRET.as_bytes(), body, &opts).expect("signs");
    let headers: Vec<(&str, String)> = signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    server
        .request("POST", "/v1/webhooks/acme-pos/t1", &headers, body)
        .0
}

fn item_name(server: &Server, id: &str) -> Option<String> {
    let (status, body) = server.get(&format!("/v1/tenants/t1/items/{id}"));
    (status == 200)
        .then(|| json(&body)["name"].as_str().map(str::to_owned))
        .flatten()
}

#[test]
fn an_operator_puts_a_profile_over_http_and_the_next_webhook_uses_it() {
    let server = Server::start_with_tenants(temp_state("profile-api"), TENANTS, &[], &[]);
    let body1 = br#"{"type":"item.updated","timestamp":"2026-01-01T00:00:00Z","data":{"id":"acme-1","title":"Oat latte","label":"Oat latte (v2)","price":"4.50"}}"#;

    // No profile yet: the vendor is unknown.
    assert_eq!(post_acme(&server, "msg_0", body1), 404);
    assert_eq!(server.get("/v1/profiles/acme-pos").0, 404);

    // A bad profile: 400 with every problem and its path; nothing stored.
    let bad = profile(1, "title").replace(r#""target":"name""#, r#""target":"nom""#);
    let (status, text) = server.request("PUT", "/v1/profiles/acme-pos", &[], bad.as_bytes());
    assert_eq!(status, 400, "{text}");
    let problems = json(&text)["problems"].clone();
    assert!(
        problems
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("mapping.fields[1].target")),
        "{text}"
    );
    let (status, text) = server.request("PUT", "/v1/profiles/acme-pos", &[], b"{\"name\":");
    assert_eq!(status, 400, "{text}");

    // Version 1 over HTTP: 201, and the next webhook lands through it.
    let (status, text) = server.request(
        "PUT",
        "/v1/profiles/acme-pos",
        &[],
        profile(1, "title").as_bytes(),
    );
    assert_eq!(status, 201, "{text}");
    assert_eq!(json(&text)["version"], 1);
    assert_eq!(post_acme(&server, "msg_1", body1), 202);
    server.eventually("v1's item", Duration::from_secs(20), |s| {
        item_name(s, "acme-1").as_deref() == Some("Oat latte")
    });

    // The same version again, or a lower one: 409 naming the stored version.
    let (status, text) = server.request(
        "PUT",
        "/v1/profiles/acme-pos",
        &[],
        profile(1, "label").as_bytes(),
    );
    assert_eq!(status, 409, "{text}");
    assert_eq!(json(&text)["stored_version"], 1);

    // Version 2 maps another field to the name; the next delivery uses it, no restart.
    let (status, text) = server.request(
        "PUT",
        "/v1/profiles/acme-pos",
        &[],
        profile(2, "label").as_bytes(),
    );
    assert_eq!(status, 201, "{text}");
    let body2 = br#"{"type":"item.updated","timestamp":"2026-01-01T00:01:00Z","data":{"id":"acme-1","title":"Oat latte","label":"Oat latte (v2)","price":"4.75"}}"#;
    assert_eq!(post_acme(&server, "msg_2", body2), 202);
    server.eventually("v2's item", Duration::from_secs(20), |s| {
        item_name(s, "acme-1").as_deref() == Some("Oat latte (v2)")
    });
    let (_, item) = server.get("/v1/tenants/t1/items/acme-1");
    assert_eq!(json(&item)["price_minor"], 475);

    // Reads: the effective profile, an older version, the list with versions.
    let (status, text) = server.get("/v1/profiles/acme-pos");
    assert_eq!(status, 200);
    let v = json(&text);
    assert_eq!(v["version"], 2);
    assert_eq!(v["source"], "table");
    assert_eq!(v["profile"]["mapping"]["fields"][1]["source"], "label");
    let (status, text) = server.get("/v1/profiles/acme-pos?version=1");
    assert_eq!(status, 200);
    assert_eq!(
        json(&text)["profile"]["mapping"]["fields"][1]["source"],
        "title"
    );
    assert_eq!(server.get("/v1/profiles/acme-pos?version=7").0, 404);
    assert_eq!(server.get("/v1/profiles/acme-pos?version=x").0, 400);
    let (status, text) = server.get("/v1/profiles");
    assert_eq!(status, 200);
    let all = json(&text)["profiles"].as_array().cloned().unwrap();
    let acme = all.iter().find(|p| p["name"] == "acme-pos").unwrap();
    assert_eq!(acme["stored_versions"], serde_json::json!([1, 2]));
    assert_eq!(acme["source"], "table");
    let treez = all.iter().find(|p| p["name"] == "treez").unwrap();
    assert_eq!(treez["source"], "builtin");
    let (status, text) = server.get("/v1/profiles/treez");
    assert_eq!(
        (status, json(&text)["source"].clone()),
        (200, "builtin".into())
    );
}

#[test]
fn profile_writes_need_admin() {
    let server = Server::start_with_tenants(temp_state("profile-api-403"), TENANTS, &[], &[]);
    let (status, _) = server.request(
        "PUT",
        "/v1/profiles/acme-pos",
        &[("X-Operator", "someone-else".to_owned())],
        profile(1, "title").as_bytes(),
    );
    assert_eq!(status, 403);
}

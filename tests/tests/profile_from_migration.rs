//! A reviewed migration mapping becomes a vendor's live normalizer (issue 16): migrate an
//! export of a made-up vendor, approve, export the approved mapping into the vendor's
//! profile (`tillbridge profile from-migration … --store`), then a signed webhook of that
//! vendor carrying a record shaped like the export lands in the catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Server, binary, json, temp_state};
use tillbridge_domain::Provider;
use tillbridge_webhooks::sign::{SignOptions, sign};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const TENANTS: &str = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{
  "kiosk-pos":{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}]}"#;

/// The vendor's webhook half, with a placeholder mapping the migration's replaces.
const BASE: &str = r#"{"name":"kiosk-pos","version":1,"title":"Kiosk POS (made up)","sources":["https://www.standardwebhooks.com/"],
  "webhooks":{
    "signature":{"scheme":"hmac","algorithm":"sha256","signature":{"header":"webhook-signature"},
      "encoding":"base64","prefix":"v1,","separator":" ",
      "signed":[{"header":"webhook-id"},{"literal":"."},"timestamp",{"literal":"."},"body"],
      "timestamp":{"header":"webhook-timestamp","tolerance_secs":300},
      "secret":{"strip_prefix":"whsec_","decode":"base64"}},
    "delivery_id":{"header":"webhook-id"},
    "event_type":{"pointer":"/type"},
    "events":[{"types":["product.changed"],"meaning":"upsert","records":"/product"}]},
  "mapping":{"origin":"placeholder","fields":[{"source":"id","target":"external_id"}]}}"#;

const EXPORT: &str = r#"[
 {"id":"k-1","name":"Cold brew","sku":"CB-1","price":"3.95","category":"Coffee","updated_at":"2025-12-01T10:00:00Z"},
 {"id":"k-2","name":"Flat white","sku":"FW-1","price":"4.20","category":"Coffee","updated_at":"2025-12-01T10:00:00Z"},
 {"id":"k-3","name":"Croissant","sku":"CR-1","price":"2.75","category":"Bakery","updated_at":"2025-12-01T10:00:00Z"},
 {"id":"k-4","name":"Banana bread","sku":"BB-1","price":"3.10","category":"Bakery","updated_at":"2025-12-01T10:00:00Z"}
]"#;

fn cli(args: &[&str], state: &Path) -> (i32, String, String) {
    let out = std::process::Command::new(binary())
        .args(args)
        .arg("--state")
        .arg(state.join("store"))
        .arg("--tenants")
        .arg(state.join("tenants-under-test.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reviewed_migration_mapping_becomes_the_vendors_live_normalizer() {
    let state = temp_state("profile-from-migration");
    std::fs::write(state.join("tenants-under-test.json"), TENANTS).unwrap();
    let export = state.join("export.json");
    std::fs::write(&export, EXPORT).unwrap();
    let base = state.join("kiosk-pos.json");
    std::fs::write(&base, BASE).unwrap();
    let export_arg = export.display().to_string();
    let base_arg = base.display().to_string();

    // Migrate: the suggestions wait for review.
    let (code, out, err) = cli(
        &[
            "migrate",
            "--tenant",
            "t1",
            "--source-name",
            "kiosk-pos",
            "--export",
            &export_arg,
            "--offline",
            "--format",
            "json",
        ],
        &state,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let id = json(&out)["id"].as_str().unwrap().to_owned();

    // Not approved yet: nothing to export.
    let (code, _, err) = cli(
        &[
            "profile",
            "from-migration",
            &id,
            "--name",
            "kiosk-pos",
            "--base",
            &base_arg,
        ],
        &state,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not approved"), "{err}");

    let (code, out, err) = cli(&["migration", "approve", &id, "--format", "json"], &state);
    assert_eq!(code, 0, "{out}\n{err}");

    // The approved mapping into the vendor's profile, stored as its next version.
    let (code, out, err) = cli(
        &[
            "profile",
            "from-migration",
            &id,
            "--name",
            "kiosk-pos",
            "--base",
            &base_arg,
            "--store",
        ],
        &state,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let profile = json(&out);
    assert_eq!(profile["version"], 2, "{out}");
    assert!(
        profile["mapping"]["origin"].as_str().unwrap().contains(&id),
        "{out}"
    );
    let fields = profile["mapping"]["fields"].as_array().unwrap();
    assert!(fields.len() > 1, "{out}");
    // The webhook half is the base's, untouched.
    let base_hooks = json(BASE)["webhooks"].clone();
    assert_eq!(
        profile["webhooks"]["signature"]["signed"],
        base_hooks["signature"]["signed"]
    );
    assert_eq!(profile["webhooks"]["events"][0]["records"], "/product");

    // A second migration of the same export, not approved.
    let (code, out, err) = cli(
        &[
            "migrate",
            "--tenant",
            "t1",
            "--source-name",
            "kiosk-pos",
            "--export",
            &export_arg,
            "--offline",
            "--format",
            "json",
        ],
        &state,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let unapproved = json(&out)["id"].as_str().unwrap().to_owned();

    // The vendor's next webhook, a record shaped like the export, lands through that mapping.
    let server = Server::start_with_tenants(state.clone(), TENANTS, &[], &[]);

    // Over HTTP, the same export as the CLI's: the approved mapping, and with ?name= the
    // vendor's next profile (v3 now that v2 is stored) with it.
    let (status, text) = server.get(&format!(
        "/v1/migrations/{id}/profile-mapping?name=kiosk-pos"
    ));
    assert_eq!(status, 200, "{text}");
    let exported = json(&text);
    assert_eq!(exported["migration"], id.as_str());
    assert_eq!(exported["mapping"], profile["mapping"], "{text}");
    assert_eq!(exported["version"], 3, "{text}");
    assert_eq!(exported["profile"]["version"], 3, "{text}");
    assert_eq!(exported["profile"]["mapping"], profile["mapping"]);
    assert_eq!(exported["profile"]["webhooks"], profile["webhooks"]);
    let (status, text) = server.get(&format!("/v1/migrations/{id}/profile-mapping"));
    assert_eq!(status, 200, "{text}");
    let section_only = json(&text);
    assert_eq!(section_only["mapping"], profile["mapping"], "{text}");
    assert!(section_only["profile"].is_null(), "{text}");
    let (status, text) = server.get(&format!(
        "/v1/migrations/{id}/profile-mapping?name=no-such-vendor"
    ));
    assert_eq!(status, 200, "{text}");
    assert!(
        json(&text)["profile"].is_null(),
        "no profile to join: {text}"
    );
    let (status, text) = server.get(&format!(
        "/v1/migrations/{unapproved}/profile-mapping?name=kiosk-pos"
    ));
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("not approved"), "{text}");
    let (status, text) = server.get(&format!(
        "/v1/migrations/{id}/profile-mapping?name=Bad_Name"
    ));
    assert_eq!(status, 400, "{text}");
    assert_eq!(server.get("/v1/migrations/mig-none/profile-mapping").0, 404);

    let body = br#"{"type":"product.changed","product":{"id":"k-9","name":"Iced matcha","sku":"IM-1","price":"5.25","category":"Tea","updated_at":"2026-01-02T09:00:00Z"}}"#;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let opts = SignOptions {
        url: None,
        timestamp: i64::try_from(now).unwrap(),
        message_id: Some("msg_k9"),
    };
    let signed = sign(Provider::StandardWebhooks, SECRET.as_bytes(), body, &opts).unwrap();
    let headers: Vec<(&str, String)> = signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let (status, text) = server.request("POST", "/v1/webhooks/kiosk-pos/t1", &headers, body);
    assert_eq!(status, 202, "{text}");
    server.eventually("the webhook's item", Duration::from_secs(20), |s| {
        s.get("/v1/tenants/t1/items/k-9").0 == 200
    });
    let (_, item) = server.get("/v1/tenants/t1/items/k-9");
    let item = json(&item);
    assert_eq!(item["name"], "Iced matcha", "{item}");
    assert_eq!(item["sku"], "IM-1", "{item}");
    assert_eq!(item["price_minor"], 525, "{item}");
    assert_eq!(item["provider"], "kiosk-pos", "{item}");
    // The migrated items are there too, from the same mapping.
    assert_eq!(server.get("/v1/tenants/t1/items/k-1").0, 200);
}

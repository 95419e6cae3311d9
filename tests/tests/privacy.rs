//! GDPR end to end on the embedded store: customers migrated with consent, a quarantined
//! webhook that mentions one of them, Shopify's mandatory customers/redact webhook carried
//! out, an access export over HTTP, then an erasure through the CLI — after which no byte of
//! the state directory holds the erased people, while the others' data is still there.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const EXPORT: &str = r#"{"items": [
  {"id": "i1", "name": "Tea", "price": "2.50"},
  {"id": "i2", "name": "Bun", "price": "3.90"}
], "customers": [
  {"id": "c1", "name": "Ana Berg", "email": "ana.berg@example.com", "phone": "+46 70 123 45 67", "accepts_marketing": true},
  {"id": "c2", "name": "Bo Lind", "email": "bo.lind@example.com", "phone": "+46 70 999 88 77", "accepts_marketing": true},
  {"id": "c3", "name": "Cy Strand", "email": "cy.strand@example.com", "accepts_marketing": true}
]}"#;

/// Every file under `dir` whose bytes contain `needle` (ASCII case-insensitively).
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

fn cli(args: &[&str], state: &Path) -> (i32, serde_json::Value, String) {
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
        json(&String::from_utf8_lossy(&out.stdout)),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_erasure_leaves_no_byte_of_the_person_in_the_state() {
    let state = temp_state("privacy");
    std::fs::write(state.join("tenants-under-test.json"), TENANTS).unwrap_or_default();
    let export = state.join("export.json");
    std::fs::write(&export, EXPORT).unwrap_or_default();
    let export_arg = export.display().to_string();
    let (code, _, err) = cli(
        &[
            "migrate",
            "--tenant",
            "t1",
            "--source-name",
            "square",
            "--export",
            &export_arg,
            "--approve-all",
            "--offline",
        ],
        &state,
    );
    assert_eq!(code, 0, "{err}");

    let s = Server::start(state.clone());
    // A forged delivery that mentions Ana: quarantined, body kept for inspection.
    let forged =
        br#"{"id": 77, "email": "ana.berg@example.com", "first_name": "Ana", "last_name": "Berg"}"#;
    assert_eq!(
        post_shopify(&s.addr, "t1", "forged-1", forged, "wrong-secret").0,
        202
    );
    // Shopify's mandatory customers/redact for Cy, signed as Shopify signs it.
    let redact = br#"{"shop_id": 954889, "shop_domain": "t1.myshopify.com", "customer": {"id": "c3", "email": "cy.strand@example.com", "phone": null}, "orders_to_redact": [299938]}"#;
    let headers = [
        ("X-Shopify-Hmac-Sha256", shopify_sig("shp-secret", redact)),
        ("X-Shopify-Topic", "customers/redact".to_owned()),
        ("X-Shopify-Webhook-Id", "gdpr-1".to_owned()),
        ("Content-Type", "application/json".to_owned()),
    ];
    assert_eq!(
        s.request("POST", "/v1/webhooks/shopify/t1", &headers, redact)
            .0,
        202
    );
    s.eventually(
        "the redact webhook carried out",
        Duration::from_secs(20),
        |s| {
            let v = json(&s.get("/v1/tenants/t1/privacy/erasures").1);
            v["erasures"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| e["customers_erased"] == 1 && e["by"] == "shopify compliance webhook")
            })
        },
    );
    s.eventually(
        "the forged delivery quarantined",
        Duration::from_secs(20),
        |s| {
            json(&s.get("/v1/tenants/t1/quarantine").1)
                .as_array()
                .is_some_and(|a| !a.is_empty())
        },
    );
    // Access: what is held of Ana, found by her phone written another way.
    let (status, body) = s.request(
        "POST",
        "/v1/tenants/t1/privacy/export",
        &[("Content-Type", "application/json".into())],
        br#"{"phone": "+46701234567"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let found = json(&body);
    assert_eq!(found["customers"][0]["email"], "ana.berg@example.com");
    assert!(
        found["mentioned_in_blobs"].as_array().is_some_and(|a| a
            .iter()
            .any(|k| k.as_str().is_some_and(|k| k.starts_with("quarantine/")))),
        "{found}"
    );
    assert_eq!(
        s.request("POST", "/v1/tenants/t1/privacy/erase", &[], b"{}")
            .0,
        400,
        "an erasure names someone"
    );
    let state = s.stop();
    assert!(
        !files_containing(&state.join("store"), "ana.berg@example.com").is_empty(),
        "the search finds what is there"
    );

    let (code, report, err) = cli(
        &[
            "privacy",
            "erase",
            "--tenant",
            "t1",
            "--email",
            "ANA.BERG@example.com",
            "--by",
            "dpo",
        ],
        &state,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["customers_erased"], 1, "{report}");
    assert!(
        report["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("subject-"))
    );
    assert!(
        !report.to_string().to_lowercase().contains("ana"),
        "the report names no one: {report}"
    );

    for gone in [
        "ana.berg@example.com",
        "Ana Berg",
        "70 123 45 67",
        "cy.strand@example.com",
        "Cy Strand",
    ] {
        assert_eq!(
            files_containing(&state.join("store"), gone),
            Vec::<String>::new(),
            "{gone} is still stored"
        );
    }
    // The others are untouched.
    assert!(!files_containing(&state.join("store"), "bo.lind@example.com").is_empty());
    let (code, bo, _) = cli(
        &["privacy", "export", "--tenant", "t1", "--customer-id", "c2"],
        &state,
    );
    assert_eq!(
        (code, &bo["customers"][0]["name"]),
        (0, &serde_json::json!("Bo Lind"))
    );
    let (_, erasures, _) = cli(&["privacy", "erasures", "--tenant", "t1"], &state);
    assert_eq!(erasures.as_array().map(Vec::len), Some(2), "{erasures}");
}

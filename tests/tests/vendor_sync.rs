//! `tillbridge sync` and `serve`'s fetch-on-notify against a fake Square speaking Square's
//! wire format (shared/connectors' fake, served in this process).

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_domain::{Provider, Timestamp};

const WAIT: Duration = Duration::from_secs(20);

fn at(day: u32) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2026-03-{day:02}T10:00:00Z")).unwrap()
}

/// A fake Square on its own runtime for the whole test.
fn fake_square(token: &str, items: usize) -> (tokio::runtime::Runtime, FakeSquare) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt
        .block_on(FakeSquare::start(
            token,
            Catalog::generated(items, 2, at(1)),
        ))
        .unwrap();
    (rt, fake)
}

fn tenants(base_url: &str, token: &str) -> String {
    format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"square":{{"secret":"sq-secret","notification_url":"https://hooks.example/sq","api":{{"base_url":"{base_url}","access_token":"{token}"}}}}}}}}]}}"#
    )
}

fn sync(
    state: &std::path::Path,
    tenants_file: &std::path::Path,
    extra: &[&str],
) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(["sync", "--tenant", "t1", "--provider", "square", "--state"])
        .arg(state)
        .arg("--tenants")
        .arg(tenants_file)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_sync_pulls_everything_then_nothing_changes_and_refusals_exit_1() {
    let (_rt, fake) = fake_square("tok", 40);
    let dir = temp_state("cli-sync");
    let file = dir.join("tenants.json");
    std::fs::write(&file, tenants(&fake.server.base_url, "tok")).unwrap();
    let state = dir.join("store");
    let (code, out, err) = sync(&state, &file, &[]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["tenant"], "t1");
    assert_eq!(r["provider"], "square");
    assert_eq!(r["created"], 80, "{r}");
    assert!(r["api_calls"].as_u64().unwrap_or(0) >= 2);
    for key in ["fetched", "changed", "unchanged", "deleted", "retries"] {
        assert!(r[key].is_u64(), "{key} in {r}");
    }
    let (code, out, _) = sync(&state, &file, &[]);
    assert_eq!(code, 0);
    let r = json(&out);
    assert_eq!(
        (
            r["created"].as_u64(),
            r["changed"].as_u64(),
            r["deleted"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{r}"
    );
    let (code, out, _) = sync(&state, &file, &["--since", "2026-03-20T00:00:00Z"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["created"], 0);
    let (code, _, err) = sync(&state, &file, &["--since", "yesterday"]);
    assert_eq!(code, 2, "{err}");

    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, tenants(&fake.server.base_url, "nope")).unwrap();
    let (code, out, err) = sync(&dir.join("store2"), &wrong, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("401") && err.contains("UNAUTHORIZED"),
        "the vendor's reason: {err}"
    );
}

#[test]
fn a_thin_square_webhook_in_serve_leads_to_fetched_items() {
    let (_rt, fake) = fake_square("tok", 3);
    let s = Server::start_with_tenants(
        temp_state("thin"),
        &tenants(&fake.server.base_url, "tok"),
        &[],
        &[],
    );
    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../samples/webhooks/square/catalog.version.updated.json"),
    )
    .unwrap();
    let headers: Vec<(&str, String)> = tillbridge_webhooks::sign::sign(
        Provider::Square,
        b"sq-secret",
        &body,
        &tillbridge_webhooks::sign::SignOptions {
            url: Some("https://hooks.example/sq"),
            ..Default::default()
        },
    )
    .unwrap()
    .into_iter()
    .map(|(k, v)| (leak(k), v))
    .chain([("Content-Type", "application/json".to_owned())])
    .collect();
    let (status, reply) = s.request("POST", "/v1/webhooks/square/t1", &headers, &body);
    assert_eq!(status, 202, "{reply}");
    s.eventually("the announced change fetched", WAIT, |s| {
        s.get("/v1/tenants/t1/items/VAR000002-1").0 == 200
    });
    let item = json(&s.get("/v1/tenants/t1/items/VAR000002-1").1);
    assert_eq!(item["name"], "Item 2");
    let fetches = json(&s.get("/v1/tenants/t1/fetches").1);
    assert_eq!(
        fetches["requests"][0]["request"]["vendor_event"], "catalog.version.updated",
        "{fetches}"
    );
    assert_eq!(item["stock_by_location"]["L1"], 3);
    // The operator's sync through the API: nothing new since.
    let (status, body) = s.request("POST", "/v1/tenants/t1/sync/square", &[], b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["created"], 0);
    let (status, _) = s.request("POST", "/v1/tenants/t1/sync/shopify", &[], b"");
    assert_eq!(status, 409, "no API credentials for shopify");
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn a_migration_takes_its_source_from_the_vendor_api() {
    let (_rt, fake) = fake_square("tok", 5);
    let dir = temp_state("migrate-api");
    let file = dir.join("tenants.json");
    std::fs::write(&file, tenants(&fake.server.base_url, "tok")).unwrap();
    let out = Command::new(binary())
        .args([
            "migrate",
            "--tenant",
            "t1",
            "--source-name",
            "square",
            "--source-api",
            "square",
            "--approve-all",
            "--offline",
            "--format",
            "json",
            "--state",
        ])
        .arg(dir.join("store"))
        .arg("--tenants")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("pulled 10 items from square"), "{stderr}");
    let m = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(m["status"], "completed", "{m}");
    assert_eq!(m["progress"]["created"], 10, "{m}");
    // Neither an export nor an API: a usage error.
    let out = Command::new(binary())
        .args([
            "migrate",
            "--tenant",
            "t1",
            "--source-name",
            "square",
            "--state",
        ])
        .arg(dir.join("store"))
        .arg("--tenants")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

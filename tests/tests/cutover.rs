//! A migration into a destination through `tillbridge serve`, as an operator and a vendor
//! would drive it (shared/design/CLI.md "Destination"), against the fake Square speaking
//! Square's wire format:
//! - killed (SIGKILL) part way through the write at Square, restarted: it resumes from the
//!   journal, a slow vendor's write handing over between invocations, and Square holds every
//!   product exactly once;
//! - the cutover: source changes (signed Shopify webhooks) keep flowing to Square until the
//!   merchant switches — created, updated, deleted there — then nothing flows; the report says
//!   what flowed; the rollback undoes the migration and what flowed.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::*;
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};

const WAIT: Duration = Duration::from_secs(60);

fn fake_square() -> (tokio::runtime::Runtime, FakeSquare) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let catalog = Catalog {
        locations: vec![("L1".into(), "Main".into())],
        list_page: 100,
        ..Catalog::default()
    };
    let fake = rt.block_on(FakeSquare::start("tok", catalog)).unwrap();
    (rt, fake)
}

fn tenants(fake: &FakeSquare) -> String {
    format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"shopify":{{"secret":"shp-secret"}},"square":{{"secret":"sq-secret","notification_url":"https://hooks.example/sq","api":{{"base_url":"{}","access_token":"tok"}}}}}}}}]}}"#,
        fake.server.base_url
    )
}

/// Live items at the fake Square: name → how many.
fn names_at_square(fake: &FakeSquare) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in fake.catalog().items.iter().filter(|i| !i.deleted) {
        *out.entry(i.name.clone()).or_default() += 1;
    }
    out
}

fn start_migration(s: &Server, source: &str, records: &[serde_json::Value]) -> String {
    let body = serde_json::json!({
        "tenant_id": "t1",
        "source_name": source,
        "export": records,
        "destination": "square",
    });
    let (status, reply) = s.request(
        "POST",
        "/v1/migrations",
        &[("content-type", "application/json".into())],
        &serde_json::to_vec(&body).unwrap(),
    );
    assert_eq!(status, 202, "{reply}");
    let id = json(&reply)["id"].as_str().unwrap().to_owned();
    s.eventually("suggestions", WAIT, |s| {
        json(&s.get(&format!("/v1/migrations/{id}")).1)["status"] == "mapping_review"
    });
    let (status, reply) = s.request("POST", &format!("/v1/migrations/{id}/approve"), &[], b"");
    assert_eq!(status, 202, "{reply}");
    id
}

fn status_of(s: &Server, id: &str) -> serde_json::Value {
    json(&s.get(&format!("/v1/migrations/{id}")).1)
}

fn records(n: usize, prefix: &str) -> Vec<serde_json::Value> {
    (1..=n)
        .map(|i| {
            serde_json::json!({"id": format!("{prefix}{i}"), "name": format!("{prefix} item {i}"),
                "sku": format!("{prefix}-SKU-{i}"), "category": "Tea", "price": format!("2.{:02}", i % 100)})
        })
        .collect()
}

#[test]
fn a_migration_killed_during_the_write_resumes_without_duplicates_at_square() {
    let (_rt, fake) = fake_square();
    // Slow enough that the write is still going when the process is killed.
    fake.server.control.set_delay(Duration::from_millis(150));
    let state = temp_state("cutover-kill");
    let s = Server::start_with_tenants(state.clone(), &tenants(&fake), &[], &[]);
    let id = start_migration(&s, "legacy", &records(120, "P"));
    s.eventually("the first products written at Square", WAIT, |_| {
        fake.writes_applied() >= 1
    });
    s.kill9();
    let at_kill = names_at_square(&fake).values().sum::<usize>();
    assert!(at_kill < 120, "the write had finished before the kill");

    // Still slow: each invocation hands over after its slice and the next goes on.
    let s = Server::start_with_tenants(state, &tenants(&fake), &[], &[]);
    s.eventually("the migration completed after the restart", WAIT, |s| {
        status_of(s, &id)["status"] == "completed"
    });
    let names = names_at_square(&fake);
    assert_eq!(names.len(), 120, "{names:?}");
    assert!(names.values().all(|n| *n == 1), "duplicates: {names:?}");
    let m = status_of(&s, &id);
    assert_eq!(m["progress"]["destination"]["written"], 120, "{m}");
    assert_eq!(m["progress"]["destination"]["failed"], 0, "{m}");
}

fn shopify_delete(s: &Server, webhook_id: &str, product_id: u64) -> u16 {
    let body = format!(r#"{{"id":{product_id}}}"#).into_bytes();
    let headers = [
        ("X-Shopify-Hmac-Sha256", shopify_sig("shp-secret", &body)),
        ("X-Shopify-Topic", "products/delete".to_owned()),
        ("X-Shopify-Webhook-Id", webhook_id.to_owned()),
        ("Content-Type", "application/json".to_owned()),
    ];
    request(&s.addr, "POST", "/v1/webhooks/shopify/t1", &headers, &body).0
}

#[test]
fn source_changes_flow_to_square_until_the_switch_and_the_rollback_undoes_them() {
    let (_rt, fake) = fake_square();
    let state = temp_state("cutover-flow");
    let s = Server::start_with_tenants(state, &tenants(&fake), &[], &[]);
    // The migration's source is Shopify: its webhooks land where the export's items do.
    let id = start_migration(&s, "shopify", &records(3, "M"));
    s.eventually("the migration completed", WAIT, |s| {
        status_of(s, &id)["status"] == "completed"
    });
    assert_eq!(names_at_square(&fake).len(), 3);
    let m = status_of(&s, &id);
    assert_eq!(m["cutover"]["namespace"], "shopify", "{m}");

    // During the cutover the merchant still sells on Shopify: a new product, then its new
    // price, another product, then the first one deleted.
    let post = |d: &str, body: Vec<u8>| {
        let (status, _) = post_shopify(&s.addr, "t1", d, &body, "shp-secret");
        assert_eq!(status, 202);
    };
    post("d1", product(7, 71, "4.50", "2026-03-01T10:00:00Z"));
    s.eventually("product 7 created at Square", WAIT, |_| {
        names_at_square(&fake).contains_key("Item 7")
    });
    post("d2", product(7, 71, "5.25", "2026-03-01T11:00:00Z"));
    post("d3", product(8, 81, "3.00", "2026-03-01T11:00:00Z"));
    s.eventually("product 8 created and 7 repriced at Square", WAIT, |_| {
        let c = fake.catalog();
        let price_of_7 = c
            .items
            .iter()
            .find(|i| !i.deleted && i.name == "Item 7")
            .and_then(|i| i.variations.first())
            .and_then(|v| v.price);
        price_of_7 == Some(525) && c.items.iter().any(|i| !i.deleted && i.name == "Item 8")
    });
    assert_eq!(shopify_delete(&s, "d4", 7), 202);
    let report_of = |s: &Server| json(&s.get(&format!("/v1/migrations/{id}/report")).1);
    s.eventually("the deletion of 7 flowed", WAIT, |s| {
        report_of(s)["cutover"]["flowed"]["deleted"] == 1
    });
    assert!(!names_at_square(&fake).contains_key("Item 7"));

    let report = report_of(&s);
    let cutover = &report["cutover"];
    assert_eq!(cutover["active"], true, "{cutover}");
    let flowed: BTreeMap<String, String> = cutover["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product_id"].as_str().unwrap().to_owned(),
                l["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        flowed.get("7").map(String::as_str),
        Some("deleted"),
        "{cutover}"
    );
    assert_eq!(
        flowed.get("8").map(String::as_str),
        Some("created"),
        "{cutover}"
    );
    assert_eq!(cutover["pending"], 0, "{cutover}");

    // The merchant switches: nothing flows after.
    let (status, reply) = s.request("POST", &format!("/v1/migrations/{id}/switch"), &[], b"");
    assert_eq!(status, 202, "{reply}");
    assert_eq!(json(&reply)["cutover"]["ended_by"], "switched", "{reply}");
    let (status, reply) = s.request("POST", &format!("/v1/migrations/{id}/switch"), &[], b"");
    assert_eq!(status, 409, "{reply}");
    post("d5", product(9, 91, "1.00", "2026-03-02T10:00:00Z"));
    s.eventually("product 9 in the catalog", WAIT, |s| {
        s.get("/v1/tenants/t1/items/91").0 == 200
    });
    // A migration step after it would flow, were the cutover still on.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!names_at_square(&fake).contains_key("Item 9"));

    // The rollback undoes the migration's products and what flowed (8); 9 never went.
    let (status, _) = s.request("POST", &format!("/v1/migrations/{id}/rollback"), &[], b"");
    assert_eq!(status, 202);
    s.eventually("the rollback", WAIT, |s| {
        status_of(s, &id)["status"] == "rolled_back"
    });
    assert_eq!(names_at_square(&fake), BTreeMap::new());
}

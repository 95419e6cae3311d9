//! A profile vendor (issue 16) synced like a built-in one: a made-up vendor's profile stored
//! in the table (no deploy), a full sync against the fake profile vendor, then a delta from
//! the watermark the sync state keeps — the vendor is asked only for what changed since, and
//! its deleted record is deleted here.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;
use tillbridge_connectors::fake::profile::{Access, FakeProfileVendor, FakeRecord, Paging};
use tillbridge_domain::{ProfileName, Provider, TenantId, Timestamp};
use tillbridge_fetch::Fetcher;
use tillbridge_ports::ManualClock;
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_profiles::Profile;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_772_000_000 + secs).unwrap()
}

fn acme() -> Profile {
    let doc = json!({
        "name": "acme-pos", "version": 1, "title": "Acme POS",
        "sources": ["https://example.com/acme-pos/api"],
        "api": {
            "base_url": "https://api.acme-pos.example/v1",
            "auth": {"type": "bearer"},
            "list": {"path": "/products", "records": "/products"},
            "pagination": {"type": "cursor", "param": "cursor", "next": "/next_cursor"},
            "changes": {"param": "updated_since",
                        "deleted": {"pointer": "/deleted_at", "id": "/id"}}
        },
        "mapping": {"fields": [
            {"source": "id", "target": "external_id"},
            {"source": "name", "target": "name"},
            {"source": "price", "target": "price_minor", "conversion": "major_to_minor"},
            {"source": "updated_at", "target": "updated_at", "conversion": "date_time"}
        ]}
    });
    Profile::parse(&doc.to_string()).unwrap()
}

#[tokio::test]
async fn a_profile_vendor_syncs_fully_then_by_delta_from_the_stored_watermark() {
    let records = (1..=3)
        .map(|i| FakeRecord::new(&format!("p{i}"), &format!("Tea {i}"), "3.50", at(i)))
        .collect();
    let fake = FakeProfileVendor::start(Access::Bearer("tok".into()), Paging::Cursor, 2, records)
        .await
        .unwrap();
    let tenants = format!(
        r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"acme-pos":{{"secret":"s","api":{{"base_url":"{}","access_token":"tok"}}}}}}}}]}}"#,
        fake.server.base_url
    );
    let clock = Arc::new(ManualClock::new(at(100)));
    let f = Fetcher::in_memory(
        Arc::new(StaticDirectory::from_json(&tenants).unwrap()),
        clock.clone(),
    );
    let name = ProfileName::parse("acme-pos").unwrap();
    tillbridge_profiles::store::put(f.table.as_ref(), name, &acme(), at(0))
        .await
        .unwrap();
    let t1 = TenantId::parse("t1").unwrap();
    let provider = Provider::Profile(name);

    let full = f.sync(&t1, provider, None).await.unwrap();
    assert_eq!((full.created, full.fetched), (3, 3), "{full:?}");
    let tea = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1, "acme-pos", "p2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (tea.name.as_deref(), tea.price_minor),
        (Some("Tea 2"), Some(350))
    );
    let state = f.state(&t1, provider).await.unwrap();
    assert_eq!(state.watermark, Some(at(3)), "the newest updated_at seen");

    {
        let mut r = fake.records();
        r[0].price = "3.75".into();
        r[0].updated_at = at(200);
        r[2].deleted_at = Some(at(210));
    }
    clock.advance_secs(300);
    let asked = fake.list_queries().len();
    let delta = f.sync(&t1, provider, state.watermark).await.unwrap();
    let queries = &fake.list_queries()[asked..];
    let sent = format!("updated_since={}", at(3).to_rfc3339().replace(':', "%3A"));
    assert_eq!(queries, [sent.as_str()]);
    assert_eq!(
        (delta.fetched, delta.changed, delta.deleted, delta.created),
        (2, 1, 1, 0),
        "{delta:?}"
    );
    let changed = tillbridge_catalog::get_item_in(f.table.as_ref(), &t1, "acme-pos", "p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.price_minor, Some(375));
    assert!(
        tillbridge_catalog::get_item_in(f.table.as_ref(), &t1, "acme-pos", "p3")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tillbridge_catalog::get_item_in(f.table.as_ref(), &t1, "acme-pos", "p2")
            .await
            .unwrap()
            .is_some(),
        "a delta deletes only what the vendor says"
    );
    assert_eq!(
        f.state(&t1, provider).await.unwrap().watermark,
        Some(at(210))
    );
}

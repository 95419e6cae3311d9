//! Notifications end to end on the local runtime (what `serve` runs): a migration's
//! lifecycle events reach an in-process HTTP receiver as signed Standard Webhooks (checked
//! with the inbound verifier), the receiver's 500s are retried on the schedule with one
//! webhook id, and the migration's customer message reaches only the customer who consented.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tillbridge_domain::{CorrelationId, Currency, Provider, Secret, TenantId, Timestamp};
use tillbridge_local::LocalRuntime;
use tillbridge_migration::{self as migration, Status};
use tillbridge_notifications::http::HttpPoster;
use tillbridge_notify::TenantSettings;
use tillbridge_ports::memory::{MemoryBlobStore, MemoryMailer, MemoryTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{Clock, ManualClock, Table};
use tillbridge_webhooks::{Headers, Secret as VerifySecret, VerifyOptions, verify};

const TENANTS: &str = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{}}]}"#;
const SECRET: &str = "whsec_c2VjcmV0LWtleS0zMi1ieXRlcy1sb25nLWVub3VnaCE=";

/// One request the receiver got: its headers and body.
type Seen = (Vec<(String, String)>, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    /// Every request, in order.
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests answered 500 before the receiver recovers.
    failing: Arc<Mutex<usize>>,
}

/// An HTTP receiver on 127.0.0.1; its URL.
async fn receiver(r: Receiver) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let pairs = headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                r.seen.lock().unwrap().push((pairs, body.to_vec()));
                let mut failing = r.failing.lock().unwrap();
                if *failing > 0 {
                    *failing -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn verified(headers: &[(String, String)], body: &[u8]) -> bool {
    let h = headers
        .iter()
        .fold(Headers::new(), |h, (k, v)| h.with(k, v.as_str()));
    let now: i64 = header(headers, "webhook-timestamp").parse().unwrap_or(0);
    verify(
        Provider::StandardWebhooks,
        &h,
        body,
        &[VerifySecret::new(SECRET)],
        &VerifyOptions {
            url: None,
            now_unix: now,
            tolerance_secs: 300,
        },
    )
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_notifies_a_receiver_signed_with_retries_and_only_consenting_customers() {
    // Thursday 7 May 2026, 12:00 in Stockholm: everything goes out at once.
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-05-07T10:00:00Z").unwrap(),
    ));
    let table: Arc<dyn Table> = Arc::new(MemoryTable::new(clock.clone()));
    let mailer = Arc::new(MemoryMailer::default());
    let rt = LocalRuntime::new(
        table.clone(),
        Arc::new(MemoryBlobStore::default()),
        Arc::new(StaticDirectory::from_json(TENANTS).unwrap()),
        clock.clone(),
    )
    .with_notifications(Arc::new(HttpPoster::new().unwrap()), mailer.clone());

    let r = Receiver::default();
    *r.failing.lock().unwrap() = 2;
    let url = receiver(r.clone()).await;
    let t1 = TenantId::parse("t1").unwrap();
    rt.secrets
        .put_notification_secret(&t1, "ops", &Secret::new(SECRET))
        .await
        .unwrap();
    // The API refuses plain HTTP; the local receiver is stored directly.
    let settings: TenantSettings = serde_json::from_value(json!({
        "tenant_name": "Kaffebaren AB",
        "channels": [
            {"channel": {"kind": "webhook", "url": url, "secret_name": "ops"}, "events": ["migration.*"]},
            {"channel": {"kind": "customers"}, "events": ["migration.applied"]}
        ]
    }))
    .unwrap();
    tillbridge_notifications::save_settings(table.as_ref(), &t1, &settings)
        .await
        .unwrap();

    let export = json!({
        "items": [
            {"id": "p1", "name": "Latte", "sku": "SKU-1", "category": "Coffee", "price": "4.50"},
            {"id": "p2", "name": "Bun", "sku": "SKU-2", "category": "Bakery", "price": "3.00"}
        ],
        "customers": [
            {"id": "c1", "name": "Ana Lind", "email": "ana@example.com", "marketing_consent": true},
            {"id": "c2", "name": "Bo Berg", "email": "bo@example.com", "marketing_consent": false},
            {"id": "c3", "name": "Cy Dahl", "email": "cy@example.com"}
        ]
    });
    let bytes = serde_json::to_vec(&export).unwrap();
    let m = migration::start(
        table.as_ref(),
        rt.blobs.as_ref(),
        rt.bus.as_ref(),
        migration::StartRequest {
            tenant: &t1,
            currency: Currency::USD,
            country: None,
            source_name: "square",
            export: migration::ExportSource::Upload {
                bytes: &bytes,
                csv: false,
            },
            requested_by: "ops",
            idempotency_key: None,
            correlation_id: CorrelationId::parse("c").unwrap(),
            at: clock.now(),
            destination: None,
            retry_of: None,
        },
    )
    .await
    .unwrap();
    rt.drain().await.unwrap();
    migration::approve(table.as_ref(), rt.bus.as_ref(), &m.id, "ops", clock.now())
        .await
        .unwrap();
    rt.drain().await.unwrap();
    let (state, _) = migration::load(table.as_ref(), &m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, Status::Completed);

    // The first two deliveries got 500s and wait for their retry (5 s, then 20 s steps).
    for _ in 0..3 {
        clock.advance_secs(30);
        rt.drain().await.unwrap();
    }
    let seen = r.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(h, b)| verified(h, b)),
        "every delivery is signed"
    );
    let ids: Vec<&str> = seen.iter().map(|(h, _)| header(h, "webhook-id")).collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // Two retries of the same ids, then every notification once more at most.
    assert_eq!(seen.len(), distinct.len() + 2, "{ids:?}");
    let types: Vec<String> = seen
        .iter()
        .map(|(_, b)| {
            serde_json::from_slice::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    for t in [
        "migration.requested",
        "migration.mapping.suggested",
        "migration.applied",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} missing from {types:?}");
    }
    let applied = seen
        .iter()
        .find(|(_, b)| serde_json::from_slice::<Value>(b).unwrap()["type"] == "migration.applied")
        .unwrap();
    let body: Value = serde_json::from_slice(&applied.1).unwrap();
    assert!(
        body["data"]["subject"]
            .as_str()
            .unwrap()
            .contains("completed"),
        "{body}"
    );
    assert_eq!(header(&applied.0, "content-type"), "application/json");
    // Nothing given up.
    assert!(
        tillbridge_notifications::failures(table.as_ref(), &t1, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The customer message: to Ana (consented) only; Bo refused, Cy was never asked.
    let mails = mailer.sent();
    assert_eq!(
        mails.len(),
        1,
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert_eq!(mails[0].to, vec!["ana@example.com".to_owned()]);
    assert!(mails[0].subject.contains("has moved"));
}

//! `tillbridge serve` sends notifications: settings set with `tillbridge notifications set`
//! (a receiver on this machine), a migration run over HTTP, and the receiver gets the
//! completion as a signed Standard Webhook (checked with the inbound verifier), after a 500
//! that the runtime retries with the same webhook id.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Server, TENANTS, json, temp_state};
use tillbridge_domain::Provider;
use tillbridge_notify::BusinessCalendar;
use tillbridge_ports::{Clock, SystemClock};
use tillbridge_webhooks::{Headers, Secret, VerifyOptions, verify};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "whsec_c2VjcmV0LWtleS0zMi1ieXRlcy1sb25nLWVub3VnaCE=";

/// One request the receiver got: lower-case headers and the body.
type Seen = (Vec<(String, String)>, Vec<u8>);

/// A receiver on 127.0.0.1 answering 500 to its first request and 204 after; its URL.
fn receiver(seen: Arc<Mutex<Vec<Seen>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line); // request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let first = {
                let mut s = seen.lock().unwrap();
                s.push((headers, body));
                s.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "204 No Content"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    url
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn verified((h, body): &Seen) -> bool {
    let headers = h
        .iter()
        .fold(Headers::new(), |acc, (k, v)| acc.with(k, v.as_str()));
    let now = SystemClock.now().unix_seconds();
    verify(
        Provider::StandardWebhooks,
        &headers,
        body,
        &[Secret::new(SECRET)],
        &VerifyOptions {
            url: None,
            now_unix: now,
            tolerance_secs: 300,
        },
    )
    .is_ok()
}

/// A zone (whole-hour offset) where it is business time now, so the test does not depend on
/// the hour it runs at: held notifications are tested elsewhere with a manual clock.
fn open_zone() -> String {
    let now = SystemClock.now();
    (-12..=14)
        .map(|h: i32| match h {
            0 => "Etc/GMT".to_owned(),
            h if h > 0 => format!("Etc/GMT-{h}"),
            h => format!("Etc/GMT+{}", -h),
        })
        .find(|z| {
            BusinessCalendar::in_zone(z)
                .map(|c| c.is_business_time(now))
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no time zone is in Swedish business hours now (a holiday?)"))
}

/// `tillbridge notifications set --tenant TENANT` on the state directory before `serve`
/// starts (the test tenants, `settings` as the file).
fn set_notifications(
    state: &std::path::Path,
    tenant: &str,
    settings: &serde_json::Value,
) -> std::process::Output {
    let tenants = state.join("tenants-under-test.json");
    std::fs::write(&tenants, TENANTS).unwrap();
    let file = state.join(format!("notifications-{tenant}.json"));
    std::fs::write(&file, settings.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tillbridge-under-test"))
        .args(["notifications", "set", "--tenant", tenant])
        .arg("--state")
        .arg(state.join("store"))
        .arg("--tenants")
        .arg(&tenants)
        .arg("--file")
        .arg(&file)
        .output()
        .unwrap()
}

#[test]
fn a_migration_completed_under_serve_reaches_a_receiver_signed_after_a_retry() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = receiver(seen.clone());
    let state = temp_state("notify");
    let set = set_notifications(
        &state,
        "t1",
        &serde_json::json!({
            "tenant_name": "Kaffebaren AB",
            "time_zone": open_zone(),
            "channels": [{"channel": {"kind": "webhook", "url": url, "secret_name": "ops",
                                      "secret": SECRET},
                          "events": ["migration.applied"]}]
        }),
    );
    let shown = String::from_utf8_lossy(&set.stdout).to_string();
    assert!(!shown.contains("whsec_"), "{shown}");
    assert_eq!(
        json(&shown)["settings"]["channels"][0]["channel"]["secret_name"],
        "ops"
    );

    let s = Server::start_with(state, &["--operator", "ana@ops"], &[]);
    let csv = b"Item ID,Item Name,Price,SKU\nA1,Latte,4.50,LAT-1\nA2,Mocha,5.00,MOC-1\n";
    let operator = [
        ("content-type", "text/csv".to_owned()),
        ("x-tillbridge-operator", "ana@ops".to_owned()),
    ];
    let (status, body) = s.request(
        "POST",
        "/v1/migrations?tenant_id=t1&source_name=lightspeed",
        &operator,
        csv,
    );
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().unwrap_or_default().to_owned();
    let status_of = |s: &Server| json(&s.get(&format!("/v1/migrations/{id}")).1)["status"].clone();
    s.eventually("suggestions", WAIT, |s| status_of(s) == "mapping_review");
    let (status, body) = s.request(
        "POST",
        &format!("/v1/migrations/{id}/approve"),
        &operator[1..2],
        b"",
    );
    assert_eq!(status, 202, "{body}");
    s.eventually("the apply", WAIT, |s| status_of(s) == "completed");
    // The first delivery got a 500; the retry (2.5-5 s later) gets through.
    s.eventually("the retried webhook", WAIT, |_| {
        seen.lock().unwrap().len() >= 2
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one notification, one retry");
    assert!(seen.iter().all(verified), "signed for the inbound verifier");
    assert_eq!(
        header(&seen[0].0, "webhook-id"),
        header(&seen[1].0, "webhook-id")
    );
    let body: serde_json::Value = serde_json::from_slice(&seen[1].1).unwrap();
    assert_eq!(body["type"], "migration.applied");
    assert_eq!(body["data"]["tenant_id"], "t1");
    assert!(
        body["data"]["subject"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("migration {id} completed")),
        "{body}"
    );
    let (_, shown) = s.get("/v1/tenants/t1/notifications");
    assert_eq!(json(&shown)["failed_deliveries"], serde_json::json!([]));
    s.stop();
}

/// The local alarms: forged Shopify deliveries push the Shopify delivery SLA below its
/// 98.5 % target; `serve` (alarms every 300 ms here, every minute by default) raises
/// `ShopifyDeliverySla`, a `[critical]` alarm, as an `operations.alarm.changed` notification
/// of the operators' tenant, which pages its webhook at any hour, signed.
#[test]
fn forged_deliveries_break_the_sla_and_the_alarm_pages_the_operators() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = receiver(seen.clone());
    let state = temp_state("alarms");
    let set = set_notifications(
        &state,
        "t2",
        &serde_json::json!({
            "tenant_name": "Operations",
            "channels": [{"channel": {"kind": "webhook", "url": url, "secret_name": "pager",
                                      "secret": SECRET},
                          "events": ["operations.*"], "min_level": "critical"}]
        }),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let s = Server::start_with(
        state,
        &["--alarms-tenant", "t2"],
        &[("TILLBRIDGE_ALARM_TICK_MS", "300".to_owned())],
    );
    let body =
        br#"{"id": 7, "title": "Latte", "updated_at": "2030-01-01T00:00:00Z", "variants": []}"#;
    for i in 0..3 {
        let (status, _) =
            support::post_shopify(&s.addr, "t1", &format!("forged-{i}"), body, "wrong");
        assert_eq!(status, 202);
    }
    // The page (after the receiver's 500, its retry).
    s.eventually("the alarm's page", WAIT, |_| {
        seen.lock().unwrap().len() >= 2
    });
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(verified), "signed for the inbound verifier");
    let page: serde_json::Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(page["type"], "operations.alarm.changed", "{page}");
    assert_eq!(page["data"]["tenant_id"], "t2");
    assert_eq!(page["data"]["level"], "critical");
    let subject = page["data"]["subject"].as_str().unwrap_or("");
    assert!(subject.contains("ShopifyDeliverySla in alarm"), "{subject}");
    let text = page["data"]["body"].as_str().unwrap_or("");
    assert!(text.contains("0 of 3 deliveries processed"), "{text}");
    // The same metrics on /metrics.
    let metrics = s.get("/metrics").1;
    assert!(
        metrics.contains(
            "tillbridge_deliveries_total{outcome=\"quarantined\",provider=\"shopify\"} 3"
        ),
        "{metrics}"
    );
}

//! `tillbridge serve` driven over HTTP, as a vendor and an operator would.

mod support;

use std::time::Duration;

use support::*;

const WAIT: Duration = Duration::from_secs(20);

fn price_of(s: &Server, tenant: &str, id: &str) -> Option<i64> {
    let (status, body) = s.get(&format!("/v1/tenants/{tenant}/items/{id}"));
    (status == 200)
        .then(|| json(&body)["price_minor"].as_i64())
        .flatten()
}

#[test]
fn deliveries_in_order_out_of_order_and_duplicated_end_at_the_newest_version() {
    let s = Server::start(temp_state("order"));
    assert_eq!(s.get("/healthz").0, 200);
    let v1 = product(1, 11, "4.50", "2026-03-01T10:00:00Z");
    let v2 = product(1, 11, "4.75", "2026-03-01T11:00:00Z");
    let v3 = product(1, 11, "5.00", "2026-03-01T12:00:00Z");
    // Newest first, then the older ones, then a vendor retry of the newest.
    for (id, body) in [
        ("a3", &v3),
        ("a1", &v1),
        ("a2", &v2),
        ("a3", &v3),
        ("a2", &v2),
    ] {
        let (status, reply) = post_shopify(&s.addr, "t1", id, body, "shp-secret");
        assert_eq!(status, 202, "{reply}");
        assert!(json(&reply)["delivery_id"].as_str().is_some());
    }
    s.eventually("the newest price", WAIT, |s| {
        price_of(s, "t1", "11") == Some(500)
    });
    s.eventually("all deliveries processed", WAIT, |s| {
        let stats = json(&s.get("/v1/tenants/t1/stats").1);
        stats["published"].as_i64().unwrap_or(0) + stats["duplicates"].as_i64().unwrap_or(0) == 5
    });
    // Still the newest after everything settled.
    assert_eq!(price_of(&s, "t1", "11"), Some(500));
    let item = json(&s.get("/v1/tenants/t1/items/11").1);
    assert_eq!(
        (item["parent_id"].as_str(), item["currency"].as_str()),
        (Some("1"), Some("USD"))
    );
    assert_eq!(s.get("/v1/tenants/t1/items/does-not-exist").0, 404);
    assert_eq!(s.get("/v1/tenants/nobody/items/11").0, 404);
    assert_eq!(json(&s.get("/v1/tenants/t1/stats").1)["duplicates"], 2);
    // What became of a delivery, by the vendor's own delivery id.
    let (status, d) = s.get("/v1/tenants/t1/deliveries/shopify/a3");
    assert_eq!(status, 200, "{d}");
    let d = json(&d);
    assert_eq!(
        (d["state"].as_str(), d["outcome"].as_str()),
        (Some("done"), Some("published"))
    );
    assert_eq!(s.get("/v1/tenants/t1/deliveries/shopify/never").0, 404);
}

#[test]
fn forged_deliveries_never_apply_and_are_listed_in_quarantine() {
    let s = Server::start(temp_state("forged"));
    let body = product(2, 22, "0.01", "2030-01-01T00:00:00Z");
    assert_eq!(
        post_shopify(&s.addr, "t1", "f1", &body, "wrong-secret").0,
        202
    );
    // Signed with another tenant's secret: still forged for t1.
    assert_eq!(post_shopify(&s.addr, "t1", "f2", &body, "other").0, 202);
    s.eventually("two quarantined deliveries", WAIT, |s| {
        json(&s.get("/v1/tenants/t1/quarantine").1)
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let list = json(&s.get("/v1/tenants/t1/quarantine").1);
    for q in list.as_array().unwrap_or(&Vec::new()) {
        assert_eq!(q["provider"], "shopify");
        assert!(q["delivery_id"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(
            q["reason"]
                .as_str()
                .is_some_and(|r| r.contains("signature")),
            "{q}"
        );
    }
    assert_eq!(s.get("/v1/tenants/t1/items/22").0, 404);
    assert_eq!(s.get("/v1/tenants/t2/quarantine").1.trim(), "[]");
    // One quarantined delivery with the request as it arrived, for inspection.
    let id = list[0]["delivery_id"].as_str().unwrap_or_default();
    let (status, one) = s.get(&format!("/v1/tenants/t1/quarantine/{id}"));
    assert_eq!(status, 200, "{one}");
    let one = json(&one);
    assert_eq!(one["record"]["delivery_id"], id);
    assert_eq!(
        one["body"].as_str().map(str::as_bytes),
        Some(body.as_slice())
    );
    assert_eq!(s.get("/v1/tenants/t1/quarantine/nope").0, 404);
    assert_eq!(s.get(&format!("/v1/tenants/t2/quarantine/{id}")).0, 404);
}

#[test]
fn unknown_tenant_provider_oversize_and_unsigned_requests() {
    let s = Server::start(temp_state("edges"));
    let body = product(3, 33, "1.00", "2026-03-01T10:00:00Z");
    assert_eq!(
        post_shopify(&s.addr, "nobody", "x", &body, "shp-secret").0,
        404
    );
    let sig = [("X-Shopify-Hmac-Sha256", shopify_sig("shp-secret", &body))];
    assert_eq!(
        s.request("POST", "/v1/webhooks/paypal/t1", &sig, &body).0,
        404
    );
    assert_eq!(
        s.request("POST", "/v1/webhooks/square/t1", &sig, &body).0,
        404,
        "provider not configured for t1"
    );
    // Over the tenant's 64 KiB cap, and over the API's 10 MB cap.
    let big = vec![b'x'; 70 * 1024];
    assert_eq!(
        post_shopify(&s.addr, "t1", "big", &big, "shp-secret").0,
        413
    );
    let huge = vec![b'x'; 10 * 1024 * 1024 + 1];
    assert_eq!(
        s.request("POST", "/v1/webhooks/shopify/t1", &sig, &huge).0,
        413
    );
    // Missing and garbled signature headers are refused before anything is stored.
    assert_eq!(
        s.request("POST", "/v1/webhooks/shopify/t1", &[], &body).0,
        401
    );
    assert_eq!(
        s.request(
            "POST",
            "/v1/webhooks/shopify/t1",
            &[("X-Shopify-Hmac-Sha256", "%%%".to_owned())],
            &body
        )
        .0,
        401
    );
    // Malformed JSON with a valid signature: accepted, then quarantined with a reason.
    let broken = b"{\"id\": 1, \"variants\": [".to_vec();
    assert_eq!(
        post_shopify(&s.addr, "t1", "broken", &broken, "shp-secret").0,
        202
    );
    let invalid_utf8 = b"\xff\xfe\x00garbage".to_vec();
    assert_eq!(
        post_shopify(&s.addr, "t1", "bytes", &invalid_utf8, "shp-secret").0,
        202
    );
    s.eventually("malformed payloads quarantined", WAIT, |s| {
        json(&s.get("/v1/tenants/t1/quarantine").1)
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let list = json(&s.get("/v1/tenants/t1/quarantine").1);
    assert!(
        list[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("payload rejected")),
        "{list}"
    );
    assert_eq!(s.get("/healthz").0, 200, "still serving");
}

#[test]
fn state_survives_a_restart() {
    let s = Server::start(temp_state("restart"));
    assert_eq!(
        post_shopify(
            &s.addr,
            "t1",
            "r1",
            &product(4, 44, "9.99", "2026-03-01T10:00:00Z"),
            "shp-secret"
        )
        .0,
        202
    );
    s.eventually("the item", WAIT, |s| price_of(s, "t1", "44") == Some(999));
    let state = s.stop();
    let s = Server::start(state);
    assert_eq!(price_of(&s, "t1", "44"), Some(999));
    // The idempotency record survived too: a retry after the restart is a duplicate.
    assert_eq!(
        post_shopify(
            &s.addr,
            "t1",
            "r1",
            &product(4, 44, "9.99", "2026-03-01T10:00:00Z"),
            "shp-secret"
        )
        .0,
        202
    );
    s.eventually("the duplicate dropped", WAIT, |s| {
        json(&s.get("/v1/tenants/t1/stats").1)["duplicates"] == 1
    });
}

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    let s = Server::start(temp_state("kill9"));
    let addr = s.addr.clone();
    // Four senders post distinct items while the server is killed mid-stream.
    let senders: Vec<_> = (0..4u64)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0..200u64 {
                    let id = 1000 + t * 1000 + i;
                    let body = product(id, id + 100_000, "1.00", "2026-03-01T10:00:00Z");
                    let result = post_shopify(&addr, "t1", &format!("k{id}"), &body, "shp-secret");
                    match result {
                        (202, _) => acknowledged.push(id + 100_000),
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let state = s.kill9();
    let acknowledged: Vec<u64> = senders
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    assert!(
        !acknowledged.is_empty(),
        "some deliveries were acknowledged before the kill"
    );
    let s = Server::start(state);
    s.eventually(
        "every acknowledged delivery applied",
        Duration::from_secs(60),
        |s| {
            let items = json(&s.get("/v1/tenants/t1/items").1);
            let have: std::collections::HashSet<u64> = items
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i["external_id"].as_str().and_then(|x| x.parse().ok()))
                        .collect()
                })
                .unwrap_or_default();
            acknowledged.iter().all(|id| have.contains(id))
        },
    );
    eprintln!(
        "kill -9: {} acknowledged deliveries, all applied after restart",
        acknowledged.len()
    );
}

#[test]
fn an_operator_migrates_over_http_reviews_approves_and_rolls_back() {
    let s = Server::start_with(temp_state("migration"), &["--operator", "ana@ops"], &[]);
    // Webhooks keep the catalog meanwhile.
    let (status, _) = post_shopify(
        &s.addr,
        "t1",
        "w1",
        &product(1, 11, "4.50", "2026-03-01T10:00:00Z"),
        "shp-secret",
    );
    assert_eq!(status, 202);
    s.eventually("the webhook item", WAIT, |s| {
        price_of(s, "t1", "11") == Some(450)
    });

    let csv = b"Item ID,Item Name,Price,SKU\nA1,Latte,4.50,LAT-1\nA2,Mocha,5.00,MOC-1\n";
    let operator = [
        ("content-type", "text/csv".to_owned()),
        ("x-tillbridge-operator", "ana@ops".to_owned()),
        ("idempotency-key", "upload-1".to_owned()),
    ];
    let (status, body) = s.request(
        "POST",
        "/v1/migrations?tenant_id=t1&source_name=lightspeed",
        &operator,
        csv,
    );
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().unwrap_or_default().to_owned();
    // A retried upload with the same key is the same migration.
    let (_, again) = s.request(
        "POST",
        "/v1/migrations?tenant_id=t1&source_name=lightspeed",
        &operator,
        csv,
    );
    assert_eq!(json(&again)["id"], json(&body)["id"]);
    let status_of = |s: &Server| json(&s.get(&format!("/v1/migrations/{id}")).1)["status"].clone();
    s.eventually("suggestions", WAIT, |s| status_of(s) == "mapping_review");
    let (_, mappings) = s.get(&format!("/v1/migrations/{id}/mappings"));
    assert!(mappings.contains("\"source\":\"Item ID\""), "{mappings}");
    let (status, body) = s.request(
        "POST",
        &format!("/v1/migrations/{id}/approve"),
        &operator[1..2],
        b"",
    );
    assert_eq!(status, 202, "{body}");
    s.eventually("the apply", WAIT, |s| status_of(s) == "completed");
    assert_eq!(price_of(&s, "t1", "A2"), Some(500));
    let (status, report) = s.get(&format!("/v1/migrations/{id}/report"));
    assert_eq!(status, 200);
    assert_eq!(json(&report)["summary"]["items"], 2);
    // The same report as a spreadsheet download.
    let (status, csv) = s.get(&format!("/v1/migrations/{id}/report?format=csv"));
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("external_id,name,variant_name,sku,action,rule,severity,message,fix"),
        "{csv}"
    );

    let (status, _) = s.request(
        "POST",
        &format!("/v1/migrations/{id}/rollback"),
        &operator[1..2],
        b"",
    );
    assert_eq!(status, 202);
    s.eventually("the rollback", WAIT, |s| status_of(s) == "rolled_back");
    assert_eq!(price_of(&s, "t1", "A2"), None);
    assert_eq!(price_of(&s, "t1", "11"), Some(450), "untouched items stay");
    let (_, audit) = s.get(&format!("/v1/migrations/{id}/audit"));
    assert_eq!(json(&audit)["started_by"], "ana@ops");
    assert_eq!(
        s.request("DELETE", &format!("/v1/migrations/{id}"), &[], b"")
            .0,
        405
    );
}

/// Text logs into a file or a collector carry no terminal colour codes (stderr is a pipe here).
#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let state = temp_state("logs");
    let tenants = state.join("tenants.json");
    std::fs::write(&tenants, TENANTS).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tillbridge-under-test"))
        .args(["serve", "--addr", "127.0.0.1:0", "--log-format", "text"])
        .arg("--state")
        .arg(state.join("store"))
        .arg("--tenants")
        .arg(&tenants)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_owned();
    let (status, _) = request(&addr, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut logs = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut logs);
    }
    let _ = child.wait();
    assert!(logs.contains("serving"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in {logs:?}");
}

/// A migration works off the request path: webhooks keep their fast 202 while it applies,
/// its percent moves, and a pause stops it within a batch until it is resumed.
#[test]
fn a_migration_runs_off_the_request_path_and_pauses_within_a_batch() {
    use std::time::Instant;

    let state = temp_state("migration-offpath");
    let exports = state.join("store/blobs/exports/t1");
    std::fs::create_dir_all(&exports).unwrap_or_else(|e| panic!("{e}"));
    let generator = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/exports/generate_large.py"
    );
    let export = std::process::Command::new("python3")
        .args([generator, "3000"])
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    assert!(export.status.success());
    std::fs::write(exports.join("large.json"), &export.stdout).unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start(state);
    let start =
        br#"{"tenant_id":"t1","source_name":"square","export_key":"exports/t1/large.json"}"#;
    let (status, body) = s.request(
        "POST",
        "/v1/migrations",
        &[("content-type", "application/json".into())],
        start,
    );
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().unwrap_or_default().to_owned();
    let show = |s: &Server| json(&s.get(&format!("/v1/migrations/{id}")).1);
    s.eventually("suggestions", WAIT, |s| {
        show(s)["status"] == "mapping_review"
    });
    let (status, _) = s.request("POST", &format!("/v1/migrations/{id}/approve"), &[], b"");
    assert_eq!(status, 202);
    s.eventually("apply under way", WAIT, |s| {
        let m = show(s);
        m["status"] == "applying" && m["percent"].as_u64().is_some_and(|p| p > 0)
    });

    let sent = Instant::now();
    let body = product(1, 11, "9.99", "2026-01-01T00:00:00Z");
    let (status, _) = post_shopify(&s.addr, "t1", "during-apply", &body, "shp-secret");
    assert_eq!(status, 202);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "a 202 took {:?}",
        sent.elapsed()
    );

    let (status, _) = s.request("POST", &format!("/v1/migrations/{id}/pause"), &[], b"");
    assert_eq!(status, 202);
    std::thread::sleep(Duration::from_millis(1500));
    let paused = show(&s)["progress"]["applied"].clone();
    std::thread::sleep(Duration::from_millis(1500));
    let m = show(&s);
    assert_eq!(
        m["progress"]["applied"], paused,
        "a paused migration does not move"
    );
    assert!(m["percent"].as_u64().is_some_and(|p| p < 100), "{m}");

    let (status, _) = s.request("POST", &format!("/v1/migrations/{id}/resume"), &[], b"");
    assert_eq!(status, 202);
    s.eventually("completed", Duration::from_secs(120), |s| {
        show(s)["status"] == "completed"
    });
}

#[test]
fn a_tenant_onboarded_over_http_receives_webhooks_keeps_rotated_secrets_and_survives_a_restart() {
    let s = Server::start(temp_state("onboard"));
    let put = |s: &Server, body: &str| {
        s.request(
            "PUT",
            "/v1/tenants/nordic",
            &[("Content-Type", "application/json".to_owned())],
            body.as_bytes(),
        )
    };
    // Not configured yet: the vendor's delivery is refused.
    let v1 = product(7, 71, "19.00", "2026-03-01T10:00:00Z");
    assert_eq!(post_shopify(&s.addr, "nordic", "n0", &v1, "first").0, 404);
    let (status, body) = put(
        &s,
        r#"{"currency":"SEK","country":"SE","time_zone":"Europe/Stockholm","providers":{"shopify":{"secret":"first"}}}"#,
    );
    assert_eq!(status, 201, "{body}");
    assert!(
        !body.contains("\"first\""),
        "no secret in the answer: {body}"
    );
    assert_eq!(post_shopify(&s.addr, "nordic", "n1", &v1, "first").0, 202);
    s.eventually("the item", WAIT, |s| {
        price_of(s, "nordic", "71") == Some(1900)
    });
    // Rotation: the vendor may still sign with the old secret for a while.
    let (status, _) = put(
        &s,
        r#"{"currency":"SEK","country":"SE","time_zone":"Europe/Stockholm","providers":{"shopify":{"secret":"second"}}}"#,
    );
    assert_eq!(status, 200);
    let v2 = product(7, 71, "21.00", "2026-03-01T11:00:00Z");
    assert_eq!(post_shopify(&s.addr, "nordic", "n2", &v2, "first").0, 202);
    s.eventually("signed with the previous secret", WAIT, |s| {
        price_of(s, "nordic", "71") == Some(2100)
    });
    let state = s.stop();
    let secrets = std::fs::read_to_string(state.join("store/secrets.json")).unwrap_or_default();
    assert!(
        secrets.contains("second"),
        "secrets kept in the state's secrets file"
    );
    let table = std::fs::read(state.join("store/state.redb")).unwrap_or_default();
    assert!(!table.is_empty());
    assert!(
        !table.windows(6).any(|w| w == b"second"),
        "no secret in the table file"
    );

    let s = Server::start(state);
    let (status, body) = s.get("/v1/tenants/nordic");
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(
        (
            v["time_zone"].as_str(),
            v["providers"]["shopify"]["previous_secret"].as_bool()
        ),
        (Some("Europe/Stockholm"), Some(true))
    );
    let v3 = product(7, 71, "23.00", "2026-03-01T12:00:00Z");
    assert_eq!(post_shopify(&s.addr, "nordic", "n3", &v3, "second").0, 202);
    s.eventually("signed with the new secret after a restart", WAIT, |s| {
        price_of(s, "nordic", "71") == Some(2300)
    });
    // A forged delivery (neither secret) never applies.
    let v4 = product(7, 71, "0.01", "2026-03-01T13:00:00Z");
    assert_eq!(post_shopify(&s.addr, "nordic", "n4", &v4, "guess").0, 202);
    s.eventually("the forgery quarantined", WAIT, |s| {
        json(&s.get("/v1/tenants/nordic/stats").1)["quarantined"] == 1
    });
    assert_eq!(price_of(&s, "nordic", "71"), Some(2300));
}

/// Case web-13: a product whose canonical event is larger than a bus entry (a 300 kB
/// description) is acknowledged and then stored whole — through a claim check — never lost.
#[test]
fn an_event_larger_than_a_bus_entry_travels_by_claim_check_and_is_stored() {
    let s = Server::start(temp_state("claim-check"));
    let description = "<p>".to_owned() + &"long text ".repeat(30_000) + "</p>";
    let body = format!(
        r#"{{"id":85,"title":"Big","body_html":"{description}","status":"active","updated_at":"2026-03-01T10:00:00Z","variants":[{{"id":8501,"title":"Default Title","price":"12.00","updated_at":"2026-03-01T10:00:00Z"}}]}}"#
    );
    assert!(body.len() > 300 * 1000);
    let (status, reply) = post_shopify(&s.addr, "t2", "big-1", body.as_bytes(), "other");
    assert_eq!(status, 202, "{reply}");
    s.eventually("the large product stored", WAIT, |s| {
        price_of(s, "t2", "8501") == Some(1200)
    });
    let item = json(&s.get("/v1/tenants/t2/items/8501").1);
    assert_eq!(
        item["description"].as_str().map(str::len),
        Some(description.len())
    );
}

/// A delivery's story by our delivery id and by the vendor's: received → published → applied,
/// a forged one received → quarantined → replayed; counters over a window of hours.
#[test]
fn a_delivery_tells_its_story_and_stats_count_over_a_window() {
    let s = Server::start(temp_state("story"));
    let (status, reply) = post_shopify(
        &s.addr,
        "t1",
        "st-1",
        &product(9, 91, "3.00", "2026-03-01T10:00:00Z"),
        "shp-secret",
    );
    assert_eq!(status, 202, "{reply}");
    let ours = json(&reply)["delivery_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    s.eventually("the event applied", WAIT, |s| {
        let story = json(&s.get(&format!("/v1/tenants/t1/deliveries/{ours}")).1);
        story["events"][0]["outcome"] == "applied"
    });
    let story = json(&s.get(&format!("/v1/tenants/t1/deliveries/{ours}")).1);
    let steps: Vec<&str> = story["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|x| x["step"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(steps, ["received", "published"], "{story}");
    assert_eq!(story["provider"], "shopify");
    assert_eq!(story["events"][0]["entity"], "91");
    let by_vendor = json(&s.get("/v1/tenants/t1/deliveries/shopify/st-1").1);
    assert_eq!(by_vendor["delivery_id"], ours.as_str());
    assert_eq!(by_vendor["events"][0]["outcome"], "applied");
    assert_eq!(
        s.get("/v1/tenants/t1/deliveries/01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .0,
        404
    );

    // A forgery is quarantined; the replay shows in its story.
    let (_, reply) = post_shopify(
        &s.addr,
        "t1",
        "st-2",
        &product(9, 91, "0.01", "2026-03-01T11:00:00Z"),
        "wrong",
    );
    let forged = json(&reply)["delivery_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    s.eventually("the forgery quarantined", WAIT, |s| {
        json(&s.get(&format!("/v1/tenants/t1/deliveries/{forged}")).1)["state"] == "quarantined"
    });
    let (status, _) = s.request(
        "POST",
        &format!("/v1/tenants/t1/quarantine/{forged}/replay"),
        &[],
        b"",
    );
    assert_eq!(status, 202);
    s.eventually("the replay in the story", WAIT, |s| {
        let story = json(&s.get(&format!("/v1/tenants/t1/deliveries/{forged}")).1);
        story["history"].as_array().is_some_and(|h| {
            h.iter()
                .any(|x| x["step"] == "replayed" && x["operator"] == "local")
        })
    });

    let window = json(&s.get("/v1/tenants/t1/stats?window=1h").1);
    assert_eq!(window["shopify.published"], 1, "{window}");
    assert!(window["window"]["from"].is_string());
    let past = json(
        &s.get("/v1/tenants/t1/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
            .1,
    );
    assert!(past.get("published").is_none(), "{past}");
    assert_eq!(s.get("/v1/tenants/t1/stats?window=2y").0, 400);
    assert_eq!(
        s.get("/v1/tenants/t1/stats?from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z")
            .0,
        400
    );
}

/// One sample of `/metrics` (Prometheus text), 0 when the series is absent.
fn sample(text: &str, series: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn metrics_count_the_webhooks_posted_by_outcome_without_tenants() {
    let s = Server::start(temp_state("metrics"));
    let body = product(7, 77, "2.00", "2026-03-01T10:00:00Z");
    let other = product(8, 88, "3.00", "2026-03-01T10:00:00Z");
    for (id, body, secret) in [
        ("m1", &body, "shp-secret"),
        ("m2", &other, "shp-secret"),
        ("m1", &body, "shp-secret"),
        ("m3", &body, "wrong-secret"),
    ] {
        assert_eq!(post_shopify(&s.addr, "t1", id, body, secret).0, 202);
    }
    // Unknown tenant: rejected at ingress, counted without the tenant.
    assert_eq!(
        post_shopify(&s.addr, "nobody", "m4", &body, "shp-secret").0,
        404
    );
    let d = |outcome: &str| {
        format!("tillbridge_deliveries_total{{outcome=\"{outcome}\",provider=\"shopify\"}}")
    };
    s.eventually("every delivery checked", WAIT, |s| {
        let text = s.get("/metrics").1;
        sample(&text, &d("published"))
            + sample(&text, &d("duplicate"))
            + sample(&text, &d("quarantined"))
            == 4
    });
    let (status, text) = s.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(sample(&text, &d("accepted")), 4, "{text}");
    assert_eq!(sample(&text, &d("rejected")), 1, "{text}");
    assert_eq!(sample(&text, &d("published")), 2, "{text}");
    assert_eq!(sample(&text, &d("duplicate")), 1, "{text}");
    assert_eq!(sample(&text, &d("quarantined")), 1, "{text}");
    assert_eq!(
        sample(&text, "tillbridge_quarantined_total{provider=\"shopify\"}"),
        1
    );
    s.eventually("both items applied", WAIT, |s| {
        sample(
            &s.get("/metrics").1,
            "tillbridge_apply_outcomes_total{outcome=\"applied\",provider=\"shopify\"}",
        ) == 2
    });
    assert!(text.contains("# TYPE tillbridge_deliveries_total counter"));
    assert!(!text.contains("t1") && !text.contains("nobody"), "{text}");
    // The same counters the stats route keeps per tenant.
    let stats = json(&s.get("/v1/tenants/t1/stats").1);
    assert_eq!(stats["published"], 2);
    assert_eq!(stats["quarantined"], 1);
}

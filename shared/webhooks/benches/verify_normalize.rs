//! verify + normalize per webhook, against the floor of HMAC-SHA256 + JSON parse of the same
//! bytes. `cargo bench -p tillbridge-webhooks` prints one line per payload size.

use std::hint::black_box;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tillbridge_domain::{Currency, Provider, Timestamp};
use tillbridge_webhooks::sign::{SignOptions, sign};
use tillbridge_webhooks::signature::VerifyOptions;
use tillbridge_webhooks::{Headers, NormalizeContext, Secret, normalize, verify};

const SECRET: &str = "bench-shopify-secret";

/// A Shopify product with enough variants to reach `target` bytes.
fn product(target: usize) -> Vec<u8> {
    let mut variants = Vec::new();
    let mut i = 0;
    loop {
        variants.push(format!(
            r#"{{"id":{},"product_id":7,"title":"Size {i} / Colour {i}","price":"{}.99","sku":"SKU-{i:05}","barcode":"0{:011}","inventory_item_id":{},"inventory_quantity":{},"weight":0.25,"weight_unit":"kg","taxable":true,"created_at":"2026-01-01T10:00:00-05:00","updated_at":"2026-01-02T10:00:00-05:00"}}"#,
            1000 + i, 10 + i % 50, 40_000_000 + i, 5000 + i, i % 17
        ));
        let body = format!(
            r#"{{"id":7,"title":"Café Crème T-Shirt","body_html":"<p>Soft cotton.</p>","vendor":"Demo","product_type":"Shirts","status":"active","created_at":"2026-01-01T10:00:00-05:00","updated_at":"2026-01-02T10:00:00-05:00","tags":"cotton","variants":[{}]}}"#,
            variants.join(",")
        );
        if body.len() >= target {
            return body.into_bytes();
        }
        i += 1;
    }
}

fn signed(body: &[u8]) -> Headers {
    sign(
        Provider::Shopify,
        SECRET.as_bytes(),
        body,
        &SignOptions::default(),
    )
    .unwrap_or_default()
    .into_iter()
    .collect()
}

/// Median time per call over `rounds` rounds of `iters` calls.
fn time(mut f: impl FnMut(), iters: u32, rounds: usize) -> Duration {
    for _ in 0..iters {
        f();
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters
        })
        .collect();
    samples.sort();
    samples[rounds / 2]
}

fn main() {
    let headers_for = |body: &[u8]| signed(body).with("X-Shopify-Topic", "products/update");
    let secrets = [Secret::new(SECRET)];
    let opts = VerifyOptions {
        url: None,
        now_unix: 1_760_000_000,
        tolerance_secs: 300,
    };
    println!(
        "{:<8} {:>8} {:>18} {:>18} {:>8}",
        "payload", "events", "verify+normalize", "hmac+json parse", "ratio"
    );
    for (label, target) in [("1 KB", 1024), ("50 KB", 50 * 1024)] {
        let body = product(target);
        let headers = headers_for(&body);
        let ctx = NormalizeContext {
            currency: Currency::USD,
            headers: &headers,
            received_at: Timestamp::UNIX_EPOCH,
        };
        let events = normalize(Provider::Shopify, &ctx, &body)
            .map(|n| n.events.len())
            .unwrap_or(0);
        assert!(verify(Provider::Shopify, &headers, &body, &secrets, &opts).is_ok());
        let iters = if target > 4096 { 400 } else { 20_000 };
        let full = time(
            || {
                let v = verify(
                    Provider::Shopify,
                    black_box(&headers),
                    black_box(&body),
                    &secrets,
                    &opts,
                );
                let n = normalize(Provider::Shopify, &ctx, black_box(&body));
                black_box((v.is_ok(), n.map(|n| n.events.len()).ok()));
            },
            iters,
            15,
        );
        let floor = time(
            || {
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes())
                    .unwrap_or_else(|_| unreachable!());
                mac.update(black_box(&body));
                let tag = mac.finalize().into_bytes();
                let v: serde_json::Value =
                    serde_json::from_slice(black_box(&body)).unwrap_or(serde_json::Value::Null);
                black_box((tag, v));
            },
            iters,
            15,
        );
        println!(
            "{:<8} {:>8} {:>15.1} µs {:>15.1} µs {:>7.2}x",
            format!("{label}"),
            events,
            full.as_secs_f64() * 1e6,
            floor.as_secs_f64() * 1e6,
            full.as_secs_f64() / floor.as_secs_f64()
        );
        println!(
            "{:<8} bytes={} per-event={:.2} µs",
            "",
            body.len(),
            full.as_secs_f64() * 1e6 / events.max(1) as f64
        );
    }
}

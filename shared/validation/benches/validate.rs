//! 100,000 canonical items: validation vs. parsing the same JSONL without validating.
//! `cargo bench -p tillbridge-validation`.

use std::hint::black_box;
use std::time::Instant;

use tillbridge_domain::CatalogItem;
use tillbridge_validation::{Options, Validator};

/// A valid GTIN-13 for `n`.
fn gtin(n: u64) -> String {
    let body = format!("{:012}", 200_000_000_000 + n);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 1 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn catalog(n: usize) -> String {
    let cats = [
        ("Coffee", 450),
        ("Pastry", 380),
        ("Sandwiches", 1100),
        ("Beans", 1800),
        ("Merch", 2500),
        ("Wine", 2800),
        ("Flower", 4000),
        ("Edibles", 1800),
    ];
    let mut s = String::with_capacity(n * 330);
    for i in 0..n {
        let (cat, base) = cats[i % cats.len()];
        let price = base + (i as i64 * 37) % (base / 3);
        // 1 % unit errors and some duplicates, so the rules have work to do.
        let price = if i % 100 == 7 { price * 100 } else { price };
        let sku = if i % 250 == 3 {
            format!("SKU-{:06}", i - 1)
        } else {
            format!("SKU-{i:06}")
        };
        s.push_str(&format!(
            r#"{{"external_id":"item-{i:06}","sku":"{sku}","name":"{cat} product {i}","description":"A fine {cat} item number {i}","category":"{cat}","price_minor":{price},"currency":"USD","cost_minor":{},"barcode":"{}","tax_rate_percent":8.875,"quantity_on_hand":{},"is_active":true,"brand":"House","updated_at":"2026-11-01T08:00:00Z"}}"#,
            price * 4 / 10,
            gtin(i as u64),
            i % 40
        ));
        s.push('\n');
    }
    s
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let text = catalog(100_000);
    let parse = best_of(5, || {
        text.lines()
            .filter(|l| serde_json::from_str::<CatalogItem>(l).is_ok())
            .count()
    });
    let validate = best_of(5, || {
        let mut v = Validator::with_capacity(Options { country: None }, text.len() / 250);
        for (i, l) in text.lines().enumerate() {
            v.push_line(i + 1, l);
        }
        v.finish()
    });
    let findings = {
        let mut v = Validator::new(Options::default());
        for (i, l) in text.lines().enumerate() {
            v.push_line(i + 1, l);
        }
        v.finish().summary
    };
    println!(
        "100,000 items ({} MB): parse only {:.3} s, validate {:.3} s, ratio {:.2}x; {} errors, {} warnings",
        text.len() / 1_000_000,
        parse,
        validate,
        validate / parse,
        findings.errors,
        findings.warnings
    );
}

//! 300 source fields × 1,000 sample records → suggestions over the 24 canonical targets.
//! `cargo bench -p tillbridge-mapping`.

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Map, Value};
use tillbridge_mapping::{profile_json, suggest};

fn main() {
    let names = [
        "id",
        "name",
        "sku",
        "price",
        "cost",
        "upc",
        "category_name",
        "description",
        "stock_qty",
        "brand",
        "vendor",
        "image_url",
        "created_at",
        "updated_at",
        "tax_rate",
        "weight",
        "unit",
        "status",
        "notes",
        "color",
    ];
    let records: Vec<Value> = (0..1000)
        .map(|r| {
            let mut m = Map::new();
            for f in 0..300 {
                let key = format!("{}_{f}", names[f % names.len()]);
                let v = match f % 5 {
                    0 => Value::from(r * 7 + f),
                    1 => Value::from(format!("text value {r} {f}")),
                    2 => Value::from((r as f64) * 1.25),
                    3 => Value::from(r % 2 == 0),
                    _ => Value::from(format!("2026-01-{:02}T10:00:00Z", 1 + r % 28)),
                };
                m.insert(key, v);
            }
            Value::Object(m)
        })
        .collect();
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        let fields = profile_json(black_box(&records));
        let s = suggest(&fields);
        black_box(s.len());
        best = best.min(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let fields = profile_json(&records);
    let profile = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let s = suggest(&fields);
    let rules = t.elapsed().as_secs_f64();
    println!(
        "300 fields × 1,000 records: {:.1} ms best of 7 (profiling {:.1} ms, suggesting {:.2} ms); {} suggestions",
        best * 1e3,
        profile * 1e3,
        rules * 1e3,
        s.len()
    );
}

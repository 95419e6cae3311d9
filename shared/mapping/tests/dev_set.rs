//! Scores the offline suggestions on the mapping development set (tests/data/mapping-dev):
//! precision, recall, F1 (strict and lenient) and the precision of the high band.

use serde_json::Value;
use tillbridge_mapping::{profile_json, suggest};

#[derive(Default)]
struct Score {
    predicted: usize,
    correct_predicted: usize,
    mappable: usize,
    correct_mappable: usize,
    high: usize,
    high_correct: usize,
}

#[test]
fn dev_set_scores() {
    let dir = format!("{}/tests/data/mapping-dev", env!("CARGO_MANIFEST_DIR"));
    let mut strict = Score::default();
    for source in ["square_catalog_api", "toast_menus_v2", "clover_items"] {
        let sample: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/{source}/sample.json")).unwrap_or_default(),
        )
        .unwrap_or_default();
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/{source}/truth.json")).unwrap_or_default(),
        )
        .unwrap_or_default();
        let fields = profile_json(&sample);
        let suggestions = suggest(&fields);
        let truth_fields = truth["fields"].as_object().cloned().unwrap_or_default();
        let paths: Vec<&str> = suggestions.iter().map(|s| s.source.as_str()).collect();
        for p in truth_fields.keys() {
            assert!(paths.contains(&p.as_str()), "{source}: path {p} not found");
        }
        for s in &suggestions {
            let Some(t) = truth_fields.get(&s.source) else {
                panic!("{source}: extra path {}", s.source);
            };
            let want = t["target"].as_str();
            let ok = s.target == want;
            if s.target.is_some() {
                strict.predicted += 1;
                strict.correct_predicted += usize::from(ok);
                if s.confidence > 0.9 {
                    strict.high += 1;
                    strict.high_correct += usize::from(ok);
                }
            }
            if want.is_some() {
                strict.mappable += 1;
                strict.correct_mappable += usize::from(ok);
            }
            if !ok {
                println!(
                    "{source}: {:<70} got {:<18} want {:<18} ({})",
                    s.source,
                    s.target.unwrap_or("-"),
                    want.unwrap_or("-"),
                    s.reason
                );
            }
        }
    }
    let p = strict.correct_predicted as f64 / strict.predicted.max(1) as f64;
    let r = strict.correct_mappable as f64 / strict.mappable.max(1) as f64;
    let f1 = 2.0 * p * r / (p + r).max(f64::EPSILON);
    let hp = strict.high_correct as f64 / strict.high.max(1) as f64;
    println!(
        "strict: precision {p:.3} recall {r:.3} F1 {f1:.3}; high band precision {hp:.3} ({} / {})",
        strict.high_correct, strict.high
    );
    assert!(f1 >= 0.90, "F1 {f1}");
    assert!(hp >= 0.95, "high-band precision {hp}");
}

/// Exports of vendors that are not in the dev set (JSON and CSV), truth by the same rules.
#[test]
fn other_vendors_score() {
    let dir = format!("{}/tests/data/other", env!("CARGO_MANIFEST_DIR"));
    let (mut predicted, mut correct_predicted, mut mappable, mut correct_mappable) =
        (0usize, 0usize, 0usize, 0usize);
    for (file, truth) in [
        ("shopify_products.json", "shopify_products.truth.json"),
        ("dispensary.csv", "dispensary.truth.json"),
        ("woocommerce_product.json", "woocommerce_product.truth.json"),
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap_or_default();
        let fields = if file.ends_with(".csv") {
            tillbridge_mapping::profile_csv(&text).unwrap_or_default()
        } else {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            let records = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            profile_json(&records)
        };
        let truth: serde_json::Map<String, Value> = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/{truth}")).unwrap_or_default(),
        )
        .unwrap_or_default();
        for s in suggest(&fields) {
            let Some(t) = truth.get(&s.source) else {
                continue;
            };
            let want = t.as_str();
            let ok = s.target == want;
            if s.target.is_some() {
                predicted += 1;
                correct_predicted += usize::from(ok);
            }
            if want.is_some() {
                mappable += 1;
                correct_mappable += usize::from(ok);
            }
            if !ok {
                println!(
                    "{file}: {:<40} got {:<18} want {:<18} ({})",
                    s.source,
                    s.target.unwrap_or("-"),
                    want.unwrap_or("-"),
                    s.reason
                );
            }
        }
    }
    let p = correct_predicted as f64 / predicted.max(1) as f64;
    let r = correct_mappable as f64 / mappable.max(1) as f64;
    let f1 = 2.0 * p * r / (p + r).max(f64::EPSILON);
    println!("other vendors: precision {p:.3} recall {r:.3} F1 {f1:.3}");
    assert!(f1 >= 0.85, "F1 {f1}");
}

//! Prints the suggester's scores on every development source (each source is scored without
//! anything fitted on it: leave-one-source-out for hand-written rules), the tune and held-out
//! aggregates, and the reliability table (precision per confidence bin and band).
//!
//! `cargo run -p tillbridge-mapping --example devset_eval [-- --misses] [-- --show-held-out]`

#[path = "../tests/common/mod.rs"]
mod common;

use tillbridge_mapping::eval::{Outcome, Score, reliability, strict_score};

fn line(name: &str, s: &Score) {
    println!(
        "{name:<28} fields {:>3}  P {:.3}  R {:.3}  F1 {:.3}  high {:>3} @ {:.3}",
        s.fields,
        s.precision(),
        s.recall(),
        s.f1(),
        s.high,
        s.high_precision()
    );
}

fn table(title: &str, all: &[Outcome]) {
    println!("\nreliability ({title}): predictions per confidence bin");
    for b in reliability(all, &[0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]) {
        println!(
            "  [{:.2}, {:.2})  {:>4} predicted  {:>4} right  precision {:.3}",
            b.low,
            b.high,
            b.predicted,
            b.correct,
            b.precision()
        );
    }
    for (band, lo, hi) in [("low", 0.0, 0.7), ("medium", 0.7, 0.9), ("high", 0.9, 2.0)] {
        let inb: Vec<&Outcome> = all
            .iter()
            .filter(|o| o.got.is_some())
            .filter(|o| {
                let c = o.confidence;
                if band == "medium" {
                    (lo..=hi).contains(&c)
                } else if band == "high" {
                    c > lo
                } else {
                    c < hi
                }
            })
            .collect();
        let right = inb.iter().filter(|o| o.strict).count();
        println!(
            "  band {band:<6} {:>4} predicted  {:>4} right  precision {:.3}",
            inb.len(),
            right,
            right as f64 / inb.len().max(1) as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let misses = args.iter().any(|a| a == "--misses");
    let show_held = args.iter().any(|a| a == "--show-held-out");
    for (title, set, show) in [
        ("tune", &common::TUNE[..], misses),
        ("held-out", &common::HELD_OUT[..], misses && show_held),
    ] {
        println!("== {title}");
        let mut all = Vec::new();
        for source in set {
            let out = common::run(source);
            if show || title == "tune" || show_held {
                line(source, &strict_score(&out));
            }
            if show {
                for o in out.iter().filter(|o| !o.strict) {
                    println!(
                        "    {:<48} got {:<18} want {:<18} {:.2}",
                        o.path,
                        o.got.as_deref().unwrap_or("-"),
                        o.want.as_deref().unwrap_or("-"),
                        o.confidence
                    );
                }
            }
            all.extend(out);
        }
        line(&format!("TOTAL {title}"), &strict_score(&all));
        table(title, &all);
        println!();
    }
}

//! 1,000,000 usage lines → per-tenant table. `cargo bench -p tillbridge-costs`.

use std::hint::black_box;
use std::time::Instant;

use tillbridge_costs::table::{Budgets, TableBuilder};
use tillbridge_costs::{Period, PriceBook};

fn main() {
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet-4-5",
        "claude-3-5-haiku-20241022",
        "o3-mini",
        "unknown-model",
    ];
    let mut text = String::with_capacity(260 * 1_000_000);
    for i in 0..1_000_000u64 {
        let day = 1 + i % 28;
        let month = if i % 10 == 0 { "04" } else { "03" };
        let rid = if i % 50 == 49 { i - 1 } else { i };
        text.push_str(&format!(
            r#"{{"request_id":"req-{rid:08}","tenant_id":"tenant-{:03}","migration_id":"mig-{}","operation":"mapping.suggest","provider":"openai","model":"{}","input_tokens":{},"output_tokens":{},"cached_input_tokens":{},"cache_write_tokens":{},"occurred_at":"2026-{month}-{day:02}T12:{:02}:00Z"}}"#,
            i % 200, i % 7, models[(i % 6) as usize], 1000 + i % 5000, 100 + i % 900, i % 300, i % 50, i % 60
        ));
        text.push('\n');
    }
    let book = PriceBook::bundled();
    let budgets = Budgets::default();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut b = TableBuilder::new(
            Period::parse("2026-03").unwrap_or_else(|e| panic!("{e}")),
            &book,
        );
        for (i, line) in text.lines().enumerate() {
            b.add_line(i + 1, line).unwrap_or_else(|e| panic!("{e}"));
        }
        let table = b.finish(&budgets);
        black_box(table.to_json());
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "1,000,000 usage lines ({} MB) -> table: best of 5 = {best:.3} s ({:.0} ns/line)",
        text.len() / 1_000_000,
        best * 1e9 / 1e6
    );
}

use proptest::prelude::*;

use super::*;
use crate::price::PriceTable;

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn build(usage: &str, prices: &str, budgets: &str, period: &str) -> Result<CostTable, CostError> {
    let book = PriceBook::single(PriceTable::from_litellm_json(prices)?);
    let mut b = TableBuilder::new(Period::parse(period)?, &book);
    for (i, line) in usage.lines().enumerate() {
        b.add_line(i + 1, line)?;
    }
    Ok(b.finish(&Budgets::from_json(budgets)?))
}

#[test]
fn matches_the_independent_python_computation_to_the_micro_dollar() {
    let table = build(
        &data("usage.jsonl"),
        &data("prices.json"),
        &data("budgets.json"),
        "2026-03",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let expected: serde_json::Value =
        serde_json::from_str(&data("expected.json")).unwrap_or_default();
    let got = serde_json::to_value(table.rendered()).unwrap_or_default();
    assert_eq!(got, expected["rows"]);
    let unpriced: Vec<String> = table.unpriced_models.iter().cloned().collect();
    assert_eq!(
        serde_json::to_value(unpriced).unwrap_or_default(),
        expected["unpriced_models"]
    );
}

#[test]
fn csv_has_the_same_columns_header_first() {
    let table = build(
        &data("usage.jsonl"),
        &data("prices.json"),
        &data("budgets.json"),
        "2026-03",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let csv = table.to_csv();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER));
    let first: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(first.len(), 10);
    assert_eq!(first[0], "acme");
    assert_eq!(first[6], "68.960248");
    let cafe = csv
        .lines()
        .find(|l| l.starts_with("cafe_du_nord"))
        .unwrap_or_default();
    assert!(
        cafe.ends_with(",,"),
        "no budget: empty fields, not null: {cafe}"
    );
}

#[test]
fn rounding_is_half_even_on_the_final_amount_only() {
    let prices = r#"{"m":{"input_cost_per_token":5e-07,"output_cost_per_token":0}}"#;
    // Each line costs $0.0000005 (rounds to 0.000000 or 0.000001 alone); three lines cost
    // exactly 0.0000015, which rounds half-even to 0.000002.
    let usage: String = (0..3).map(|i| format!(r#"{{"request_id":"r{i}","tenant_id":"t","model":"m","input_tokens":1,"output_tokens":0,"occurred_at":"2026-03-01T00:00:00Z"}}"#) + "\n").collect();
    let t = build(&usage, prices, "{}", "2026-03").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.rendered()[0].cost_usd, "0.000002");
    let one = build(
        &usage
            .lines()
            .next()
            .map(|l| l.to_owned() + "\n")
            .unwrap_or_default(),
        prices,
        "{}",
        "2026-03",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        one.rendered()[0].cost_usd,
        "0.000000",
        "0.0000005 rounds half-even down to 0"
    );
    assert_eq!(format_fixed(Decimal::new(125, 4), 2), "0.01");
    assert_eq!(format_fixed(Decimal::new(135, 4), 2), "0.01");
    assert_eq!(format_fixed(Decimal::new(1251, 5), 2), "0.01");
}

#[test]
fn bad_lines_name_their_line_number() {
    let prices = r#"{"m":{"input_cost_per_token":1e-06,"output_cost_per_token":1e-06}}"#;
    let ok = r#"{"request_id":"a","tenant_id":"t","model":"m","input_tokens":1,"output_tokens":1,"occurred_at":"2026-03-01T00:00:00Z"}"#;
    for bad in [
        "{not json",
        r#"{"request_id":"b","tenant_id":"t","model":"m","input_tokens":-1,"output_tokens":1,"occurred_at":"2026-03-01T00:00:00Z"}"#,
        r#"{"request_id":"b","tenant_id":"t","model":"m","input_tokens":1.5,"output_tokens":1,"occurred_at":"2026-03-01T00:00:00Z"}"#,
        r#"{"request_id":"b","tenant_id":"t","model":"m","input_tokens":1,"output_tokens":1,"occurred_at":"yesterday"}"#,
        r#"{"request_id":"","tenant_id":"t","model":"m","input_tokens":1,"output_tokens":1,"occurred_at":"2026-03-01T00:00:00Z"}"#,
    ] {
        let usage = format!("{ok}\n\n{bad}\n");
        match build(&usage, prices, "{}", "2026-03") {
            Err(CostError::Usage { line, .. }) => assert_eq!(line, 3, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        Period::parse("2026-13"),
        Err(CostError::Period(_))
    ));
    assert!(matches!(Period::parse("26-03"), Err(CostError::Period(_))));
    assert!(Budgets::from_json(r#"{"t":"-5"}"#).is_err());
    assert!(Budgets::from_json(r#"["t"]"#).is_err());
}

#[test]
fn csv_defuses_formulas_and_quotes() {
    assert_eq!(csv_text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    assert_eq!(csv_text("a,b"), "\"a,b\"");
    assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_text("plain"), "plain");
}

proptest! {
    /// Aggregating tokens then pricing equals pricing each line then summing.
    #[test]
    fn aggregate_pricing_equals_per_line_pricing(lines in prop::collection::vec((0u64..1_000_000, 0u64..100_000, 0u64..100_000, 0u64..100_000, 0usize..3), 1..60)) {
        let prices = r#"{"a":{"input_cost_per_token":3e-06,"output_cost_per_token":1.5e-05,"cache_read_input_token_cost":3e-07,"cache_creation_input_token_cost":3.75e-06},"b":{"input_cost_per_token":1.23456789e-07,"output_cost_per_token":9.87654321e-07},"c":{"input_cost_per_token":7.5e-08,"output_cost_per_token":6e-07,"cache_read_input_token_cost":3.75e-08}}"#;
        let table = PriceTable::from_litellm_json(prices).unwrap_or_default();
        let names = ["a", "b", "c"];
        let mut usage = String::new();
        let mut expected = Decimal::ZERO;
        for (i, (inp, out, cr, cw, m)) in lines.iter().enumerate() {
            usage.push_str(&format!(r#"{{"request_id":"r{i}","tenant_id":"t","model":"{}","input_tokens":{inp},"output_tokens":{out},"cached_input_tokens":{cr},"cache_write_tokens":{cw},"occurred_at":"2026-03-05T00:00:00Z"}}"#, names[*m]));
            usage.push('\n');
            let tokens = TokenCounts { input: *inp, cached_input: *cr, cache_write: *cw, output: *out };
            expected += tokens.cost(table.get(names[*m]).unwrap_or_else(|| unreachable!()));
        }
        let t = build(&usage, prices, "{}", "2026-03").unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(t.rows[0].cost_usd, expected);
    }
}

proptest! {
    /// The totals row: rendered rows add up to the rendered total, in cost and in tokens, for
    /// any split of usage over tenants; the total is the exact sum rounded half-even.
    #[test]
    fn rows_add_up_to_the_totals_row(lines in prop::collection::vec((1u64..100_000, 0u64..1_000, 0usize..7), 1..80)) {
        // Rates with 9–11 decimals: nearly every tenant's cost has a sub-micro-dollar part.
        let prices = r#"{"a":{"input_cost_per_token":1.23456789e-07,"output_cost_per_token":9.87654321e-07},"b":{"input_cost_per_token":3.3333e-08,"output_cost_per_token":1.7e-10}}"#;
        let mut usage = String::new();
        for (i, (inp, out, t)) in lines.iter().enumerate() {
            let model = if i % 2 == 0 { "a" } else { "b" };
            usage.push_str(&format!(r#"{{"request_id":"r{i}","tenant_id":"t{t}","model":"{model}","input_tokens":{inp},"output_tokens":{out},"occurred_at":"2026-03-05T00:00:00Z"}}"#));
            usage.push('\n');
        }
        let table = build(&usage, prices, "{}", "2026-03").unwrap_or_else(|e| panic!("{e}"));
        let rows = table.rendered_with_totals();
        let (total, rows) = rows.split_last().unwrap_or_else(|| unreachable!());
        prop_assert_eq!(total.tenant_id, TOTAL_LABEL);
        let dec = |s: &str| s.parse::<Decimal>().unwrap_or_else(|e| panic!("{s}: {e}"));
        let sum: Decimal = rows.iter().map(|r| dec(&r.cost_usd)).sum();
        prop_assert_eq!(sum, dec(&total.cost_usd));
        let exact: Decimal = table.rows.iter().map(|r| r.cost_usd).sum();
        prop_assert_eq!(total.cost_usd.clone(), format_fixed(exact, 6));
        prop_assert_eq!(rows.iter().map(|r| r.requests).sum::<u64>(), total.requests);
        prop_assert_eq!(rows.iter().map(|r| r.input_tokens).sum::<u64>(), total.input_tokens);
        prop_assert_eq!(rows.iter().map(|r| r.output_tokens).sum::<u64>(), total.output_tokens);
        let csv = table.to_csv_with_totals();
        prop_assert_eq!(csv.lines().count(), rows.len() + 2);
        prop_assert!(csv.trim_end().rsplit("\r\n").next().is_some_and(|l| l.starts_with("(total),")));
    }
}

use std::sync::Arc;

use tillbridge_costs::table::{Budgets, TableBuilder};
use tillbridge_costs::{Period, PriceTable};
use tillbridge_domain::CorrelationId;
use tillbridge_ports::memory::{MemoryTable, RecordingBus};
use tillbridge_ports::{ManualClock, Table};

use rust_decimal::Decimal;
use serde_json::json;
use tillbridge_costs::PriceBook;
use tillbridge_domain::event::{EventData, UsageRecorded};
use tillbridge_domain::{TenantId, Timestamp};

use super::*;

const PRICES: &str = r#"{"gpt-4o":{"input_cost_per_token":2.5e-06,"output_cost_per_token":1e-05,"cache_read_input_token_cost":1.25e-06},
"claude-sonnet-4-5":{"input_cost_per_token":3e-06,"output_cost_per_token":1.5e-05,"cache_read_input_token_cost":3e-07,"cache_creation_input_token_cost":3.75e-06}}"#;

fn tenant() -> TenantId {
    TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"))
}

fn usage(i: u64, model: &str, op: &str, mig: Option<&str>) -> UsageRecorded {
    UsageRecorded {
        request_id: format!("r{i}"),
        migration_id: mig.map(str::to_owned),
        operation: op.into(),
        provider: "openai".into(),
        model: model.into(),
        input_tokens: 1000 + i * 7,
        output_tokens: 100 + i,
        cached_input_tokens: i * 3,
        cache_write_tokens: i % 5,
    }
}

fn at(day: u32) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("2026-03-{day:02}T10:00:00Z"))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn table() -> MemoryTable {
    MemoryTable::new(Arc::new(ManualClock::new(at(1))))
}

fn book() -> PriceBook {
    PriceBook::single(PriceTable::from_litellm_json(PRICES).unwrap_or_default())
}

#[tokio::test]
async fn ledger_is_idempotent_and_aggregates_match_the_usage_table() {
    let (t, bus, book) = (table(), RecordingBus::default(), book());
    let corr = CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}"));
    let models = ["gpt-4o", "claude-sonnet-4-5", "unknown-model"];
    let mut jsonl = String::new();
    for i in 0..60u64 {
        let u = usage(
            i,
            models[(i % 3) as usize],
            if i % 2 == 0 {
                "mapping.suggest"
            } else {
                "mapping.escalate"
            },
            (i % 4 == 0).then_some("mig-1"),
        );
        let e = usage_event(&tenant(), u.clone(), at(1 + (i % 20) as u32), &corr);
        jsonl.push_str(&serde_json::to_string(&json!({"request_id": u.request_id, "tenant_id": "t1", "model": u.model, "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens, "cached_input_tokens": u.cached_input_tokens, "cache_write_tokens": u.cache_write_tokens,
            "occurred_at": e.occurred_at})).unwrap_or_default());
        jsonl.push('\n');
        assert_eq!(
            record_usage(&t, &bus, &book, &e).await.ok(),
            Some(Recorded::New)
        );
        assert_eq!(
            record_usage(&t, &bus, &book, &e).await.ok(),
            Some(Recorded::Duplicate),
            "a redelivery is a no-op"
        );
    }
    let by_model = grouped_costs(&t, &book, &tenant(), "2026-03", CostGroup::Model)
        .await
        .unwrap_or_default();
    assert_eq!(by_model.len(), 3);
    assert_eq!(by_model["unknown-model"].unpriced_requests, 20);
    let total: Decimal = by_model.values().map(|l| l.cost).sum();
    // The CLI's table over the same usage, computed by the costs crate's streaming builder.
    let mut builder = TableBuilder::new(
        Period::parse("2026-03").unwrap_or_else(|e| panic!("{e}")),
        &book,
    );
    for (i, line) in jsonl.lines().enumerate() {
        builder
            .add_line(i + 1, line)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let table = builder.finish(&Budgets::default());
    assert_eq!(table.rows[0].cost_usd, total);
    assert_eq!(
        spent(&t, &book, &tenant(), "2026-03").await.ok(),
        Some(total)
    );
    let by_op = grouped_costs(&t, &book, &tenant(), "2026-03", CostGroup::Operation)
        .await
        .unwrap_or_default();
    assert_eq!(by_op.values().map(|l| l.requests).sum::<u64>(), 60);
    assert_eq!(by_op.values().map(|l| l.cost).sum::<Decimal>(), total);
    let by_mig = grouped_costs(&t, &book, &tenant(), "2026-03", CostGroup::Migration)
        .await
        .unwrap_or_default();
    assert_eq!(by_mig["mig-1"].requests, 15);
    let by_day = grouped_costs(&t, &book, &tenant(), "2026-03", CostGroup::Day)
        .await
        .unwrap_or_default();
    assert_eq!(by_day.len(), 20);
}

#[tokio::test]
async fn each_threshold_is_announced_once_per_period() {
    let (t, bus, book) = (table(), RecordingBus::default(), book());
    let corr = CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}"));
    // Each call costs 1000 × 2.5e-06 = $0.0025; budget $0.01 → 50 % after 2, 80 % after 4 (0.008 ≥ 0.008), 100 % after 4.
    set_budget(&t, &tenant(), Decimal::new(1, 2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..8u64 {
        let u = UsageRecorded {
            request_id: format!("q{i}"),
            migration_id: None,
            operation: "op".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input_tokens: 1000,
            output_tokens: 0,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
        };
        let e = usage_event(&tenant(), u, at(3), &corr);
        record_usage(&t, &bus, &book, &e)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        record_usage(&t, &bus, &book, &e)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let events = bus.published();
    let crossed: Vec<(u32, String)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventData::BudgetThresholdCrossed(c) => {
                Some((c.threshold_percent, c.spent_usd.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        crossed,
        vec![
            (50, "0.005000".into()),
            (80, "0.010000".into()),
            (100, "0.010000".into())
        ]
    );
}

async fn fifty_concurrent_reservations_never_overspend(t: Arc<dyn Table>) {
    let limit = Decimal::from(20);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move {
                (
                    i,
                    reserve(
                        t.as_ref(),
                        &tenant(),
                        "2026-03",
                        &format!("res-{i}"),
                        Decimal::ONE,
                        limit,
                    )
                    .await,
                )
            })
        })
        .collect();
    let mut granted = 0;
    let mut winner = String::new();
    for h in handles {
        match h.await {
            Ok((i, Ok(Reserve::Granted))) => {
                granted += 1;
                winner = format!("res-{i}");
            }
            Ok((_, Ok(Reserve::Refused { .. }))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(granted, 20, "exactly the limit is reserved");
    let (committed, reserved) = budget_state(t.as_ref(), &tenant(), "2026-03")
        .await
        .unwrap_or_default();
    assert_eq!((committed, reserved), (Decimal::ZERO, limit));
    // Settling at a lower actual cost frees budget; settling twice changes nothing.
    settle(
        t.as_ref(),
        &tenant(),
        "2026-03",
        &winner,
        Decimal::new(25, 2),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    settle(
        t.as_ref(),
        &tenant(),
        "2026-03",
        &winner,
        Decimal::new(25, 2),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        settle(
            t.as_ref(),
            &tenant(),
            "2026-03",
            "never-reserved",
            Decimal::ONE
        )
        .await
        .is_err()
    );
    let (committed, reserved) = budget_state(t.as_ref(), &tenant(), "2026-03")
        .await
        .unwrap_or_default();
    assert_eq!(
        (committed, reserved),
        (Decimal::new(25, 2), Decimal::from(19))
    );
    assert_eq!(
        reserve(
            t.as_ref(),
            &tenant(),
            "2026-03",
            "extra",
            Decimal::new(75, 2),
            limit
        )
        .await
        .ok(),
        Some(Reserve::Granted)
    );
    assert!(matches!(
        reserve(
            t.as_ref(),
            &tenant(),
            "2026-03",
            "over",
            Decimal::new(1, 2),
            limit
        )
        .await,
        Ok(Reserve::Refused { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_on_the_memory_table() {
    fifty_concurrent_reservations_never_overspend(Arc::new(table())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_on_the_embedded_store() {
    let dir = std::env::temp_dir().join(format!("tillbridge-budget-{}", uuid::Uuid::now_v7()));
    let store = tillbridge_embedded::Embedded::open(&dir, Arc::new(ManualClock::new(at(1))))
        .unwrap_or_else(|e| panic!("{e}"));
    fifty_concurrent_reservations_never_overspend(store.table).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A model whose price disappears from the book is counted unpriced when read, never
/// costed at $0 (and a corrupt aggregate key is an error, not a silently skipped row).
#[tokio::test]
async fn an_aggregate_without_a_price_is_counted_unpriced() {
    let t = table();
    let corr = CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}"));
    let e = usage_event(
        &tenant(),
        usage(1, "gpt-4o", "mapping.suggest", None),
        at(2),
        &corr,
    );
    record_usage(&t, &RecordingBus::default(), &book(), &e)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let priced = grouped_costs(&t, &book(), &tenant(), "2026-03", CostGroup::Model)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(priced["gpt-4o"].cost > Decimal::ZERO);
    assert_eq!(priced["gpt-4o"].unpriced_requests, 0);

    let empty = PriceBook::single(PriceTable::from_litellm_json("{}").unwrap_or_default());
    let lines = grouped_costs(&t, &empty, &tenant(), "2026-03", CostGroup::Model)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let line = &lines["gpt-4o"];
    assert_eq!((line.requests, line.unpriced_requests), (1, 1));
    assert_eq!(line.cost, Decimal::ZERO);

    let pk = keys::aggregates_pk(&tenant(), "2026-03");
    t.add(&pk, "model#broken", &[("requests", 1)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        grouped_costs(&t, &book(), &tenant(), "2026-03", CostGroup::Model)
            .await
            .is_err()
    );
}

/// A price override applies from its effective date on: usage before it keeps the old price,
/// usage after it gets the new one, whichever order it was recorded in; an override that would
/// start in the past, or names an unknown model or field, is refused and stores nothing.
#[tokio::test]
async fn price_overrides_apply_from_their_date_and_never_reprice_the_past() {
    use tillbridge_costs::price::Override;

    use crate::prices::{OverrideRefused, Prices, add_override, overrides};

    let t: Arc<dyn Table> = Arc::new(table());
    let bus = RecordingBus::default();
    let base = Arc::new(book());
    let corr = CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}"));
    let one_m = |i: u64| UsageRecorded {
        input_tokens: 1_000_000,
        output_tokens: 0,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        ..usage(i, "gpt-4o", "mapping.suggest", None)
    };
    let record = |i: u64, day: u32, book: Arc<PriceBook>| {
        let (t, bus, corr) = (t.clone(), &bus, corr.clone());
        async move {
            let e = usage_event(&tenant(), one_m(i), at(day), &corr);
            record_usage(t.as_ref(), bus, &book, &e)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    };
    // Day 2: usage at the bundled $2.50/MTok.
    record(1, 2, base.clone()).await;
    let correction = |value: &str, day: u32| Override {
        model: "gpt-4o".into(),
        field: "input_cost_per_token".into(),
        value: value.into(),
        effective_from: at(day),
        reason: "negotiated rate".into(),
    };
    let now = at(3);
    let refused = |r: Result<Result<_, OverrideRefused>, AccountingError>| match r {
        Ok(Err(refused)) => refused,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(matches!(
        refused(add_override(t.as_ref(), &base, correction("0.000002", 2), "ana", now).await),
        OverrideRefused::TooEarly(_)
    ));
    let unknown = Override {
        model: "gpt-9".into(),
        ..correction("0.000002", 10)
    };
    assert!(matches!(
        refused(add_override(t.as_ref(), &base, unknown, "ana", now).await),
        OverrideRefused::UnknownModel(_)
    ));
    let field = Override {
        field: "input_cost".into(),
        ..correction("0.000002", 10)
    };
    assert!(matches!(
        refused(add_override(t.as_ref(), &base, field, "ana", now).await),
        OverrideRefused::UnknownField(_)
    ));
    assert!(matches!(
        refused(add_override(t.as_ref(), &base, correction("-1", 10), "ana", now).await),
        OverrideRefused::BadValue(_)
    ));
    assert_eq!(overrides(t.as_ref()).await.map(|o| o.len()).ok(), Some(0));

    // From day 10 on: $2.00/MTok.
    let stored = add_override(t.as_ref(), &base, correction("0.000002", 10), "ana", now)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.set_by, "ana");
    let prices = Prices::new(base.clone(), t.clone());
    let current = prices.book().await.unwrap_or_else(|e| panic!("{e}"));
    // Recorded after the override exists: day 12 (new price), then a late day-5 line (old).
    record(2, 12, current.clone()).await;
    record(3, 5, current.clone()).await;
    let lines = grouped_costs(t.as_ref(), &current, &tenant(), "2026-03", CostGroup::Total)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let total: Decimal = lines.values().map(|l| l.cost).sum();
    // 2.50 (day 2) + 2.50 (day 5) + 2.00 (day 12)
    assert_eq!(tillbridge_costs::format_fixed(total, 6), "7.000000");
}

/// Records `calls` (model index, migration?, day, input tokens) for t1 and returns the store.
async fn record_calls(calls: &[(usize, bool, u32, u64)]) -> MemoryTable {
    let (t, bus, book) = (table(), RecordingBus::default(), book());
    let corr = CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}"));
    let models = [
        "gpt-4o",
        "openai/gpt-4o",
        "claude-sonnet-4-5",
        "unknown-model",
    ];
    for (i, (m, mig, day, input)) in calls.iter().enumerate() {
        let mut u = usage(i as u64, models[*m % 4], "mapping.suggest", None);
        if *mig {
            u.migration_id = Some(format!("mig-{}", i % 3));
        }
        if i % 2 == 1 {
            u.operation = "mapping.escalate".into();
        }
        u.input_tokens = *input;
        let e = usage_event(&tenant(), u, at(1 + day % 28), &corr);
        let _ = record_usage(&t, &bus, &book, &e).await;
    }
    t
}

/// Every grouping's rows add up to its totals: tokens exactly, and the rendered costs to
/// the rendered total to the micro-dollar.
async fn check_groupings_add_up(t: &MemoryTable) {
    let book = book();
    for group in CostGroup::REPORTED {
        let g = finance::tenant_costs(t, &book, &tenant(), "2026-03", group)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sum = |f: fn(&CostLine) -> u64| g.rows.iter().map(|r| f(&r.line)).sum::<u64>();
        assert_eq!(sum(|l| l.requests), g.total.requests, "{group}");
        assert_eq!(sum(|l| l.input_tokens), g.total.input_tokens, "{group}");
        assert_eq!(sum(|l| l.output_tokens), g.total.output_tokens, "{group}");
        assert_eq!(sum(|l| l.cache_write_tokens), g.total.cache_write_tokens);
        assert_eq!(sum(|l| l.unpriced_requests), g.total.unpriced_requests);
        let exact: Decimal = g.rows.iter().map(|r| r.line.cost).sum();
        assert_eq!(exact, g.total.cost, "{group}");
        let (rows, total) = g.rounded_costs();
        let dec = |s: &str| s.parse::<Decimal>().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            rows.iter().map(|s| dec(s)).sum::<Decimal>(),
            dec(&total),
            "{group}"
        );
        assert_eq!(total, tillbridge_costs::format_fixed(g.total.cost, 6));
        let json: Vec<serde_json::Value> = g.rows_json();
        let json_sum: Decimal = json
            .iter()
            .map(|r| dec(r["cost_usd"].as_str().unwrap_or("x")))
            .sum();
        assert_eq!(json_sum, dec(&total));
        assert_eq!(g.totals_json()["cost_usd"], total.as_str());
        let csv = g.to_csv();
        assert_eq!(csv.lines().count(), g.rows.len() + 2);
        assert!(
            csv.lines()
                .last()
                .is_some_and(|l| l.starts_with("(total),"))
        );
    }
}

#[tokio::test]
async fn groupings_add_up_with_no_migration_row_and_normalised_models() {
    let calls: Vec<(usize, bool, u32, u64)> = (0..40u64)
        .map(|i| {
            (
                (i % 4) as usize,
                i % 3 == 0,
                (i * 7 % 28) as u32,
                1 + i * 13,
            )
        })
        .collect();
    let t = record_calls(&calls).await;
    check_groupings_add_up(&t).await;
    let book = book();
    let by_mig = finance::tenant_costs(&t, &book, &tenant(), "2026-03", CostGroup::Migration)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let none = by_mig.rows.iter().find(|r| r.key == finance::NONE_LABEL);
    assert_eq!(none.map(|r| r.line.requests), Some(26), "{by_mig:#?}");
    let by_model = finance::tenant_costs(&t, &book, &tenant(), "2026-03", CostGroup::Model)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<&str> = by_model.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["claude-sonnet-4-5", "gpt-4o", "unknown-model"]);
    let gpt = &by_model.rows[1];
    assert_eq!(gpt.line.requests, 20);
    assert_eq!(
        gpt.raw_models
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["gpt-4o", "openai/gpt-4o"]
    );
    assert_eq!(
        by_model.rows_json()[1]["raw_models"],
        json!(["gpt-4o", "openai/gpt-4o"])
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn any_usage_adds_up_in_every_grouping(
        calls in proptest::collection::vec((0usize..4, proptest::bool::ANY, 0u32..28, 0u64..50_000), 1..30)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let t = record_calls(&calls).await;
            check_groupings_add_up(&t).await;
        });
    }
}

#[tokio::test]
async fn a_tenant_with_only_infrastructure_cost_has_a_row() {
    let t = table();
    let quiet = TenantId::parse("t0").unwrap_or_else(|e| panic!("{e}"));
    let usage = tillbridge_costs::infra::InfraUsage {
        lambda_requests: 3,
        lambda_mb_ms: 128 * 900,
        ..Default::default()
    };
    record_infra(&t, &quiet, at(2), "validate", &usage)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let idle = TenantId::parse("t9").unwrap_or_else(|e| panic!("{e}"));
    let table = finance::cost_table(&t, &[idle, quiet], &book(), "2026-03", &Budgets::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.rows.len(), 1, "{table:#?}");
    let row = &table.rows[0];
    assert_eq!((row.tenant_id.as_str(), row.requests), ("t0", 0));
    assert_eq!(row.cost_usd, Decimal::ZERO);
    assert!(row.infra_cost_usd.is_some_and(|c| c > Decimal::ZERO));
}

/// The seed's consolidation: a generated 100,000-row legacy log imports with rows in = rows
/// recorded and equal totals, keeps each recorded cost as it was, counts once on a re-import,
/// and shows in the month's tables (by operation and by feature) beside priced usage.
#[tokio::test]
async fn a_legacy_log_of_100000_rows_round_trips_with_the_count_check() {
    use crate::legacy::{ServiceTarget, import_legacy, read_legacy};
    let (t, bus, book) = (table(), RecordingBus::default(), book());
    let services = ["catalog-mapper", "copywriter", "support-bot"];
    let mut csv = String::from("log_id,created_at,service_name,user,total_tokens,cost,model\n");
    let mut expected = Decimal::ZERO;
    for i in 0..100_000u64 {
        // Costs with up to 9 decimals, as a legacy system computed them.
        let cost = Decimal::new(i64::try_from(i * 7919 % 5_000_003).unwrap_or(0), 9);
        expected += cost;
        csv.push_str(&format!(
            "L{i},2026-03-{:02}T{:02}:00:00Z,{},user{}@example.com,{},{},{}\n",
            1 + i % 28,
            i % 24,
            services[(i % 3) as usize],
            i % 50,
            100 + i % 900,
            cost,
            if i % 2 == 0 { "gpt-4o" } else { "" }
        ));
    }
    let (rows, errors) = read_legacy(csv.as_bytes()).unwrap_or_default();
    assert_eq!((rows.len(), errors.len()), (100_000, 0));
    let mapping: crate::legacy::ServiceMapping = services
        .iter()
        .map(|s| {
            let target = ServiceTarget {
                operation: format!("legacy.{s}"),
                feature: (*s != "support-bot").then(|| "catalog-content".to_owned()),
            };
            ((*s).to_owned(), target)
        })
        .collect();
    let report = import_legacy(&t, &book, &rows, errors, &mapping, Some(&tenant()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.check_passed, "{report:?}");
    assert_eq!((report.rows_in, report.recorded), (100_000, 100_000));
    assert_eq!(report.legacy_total_usd, report.recorded_total_usd);
    assert_eq!(
        report.legacy_total_usd,
        tillbridge_costs::format_fixed(expected, 6)
    );
    // Every even row names gpt-4o; costs far below its price are flagged, not changed.
    assert!(report.price_differences_total > 0);

    // Priced usage of the same month sits beside it.
    let corr = CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}"));
    let e = usage_event(
        &tenant(),
        usage(1, "gpt-4o", "mapping.suggest", None),
        at(3),
        &corr,
    );
    let _ = record_usage(&t, &bus, &book, &e).await;
    let priced = TokenCounts {
        input: 1007,
        cached_input: 3,
        cache_write: 1,
        output: 101,
    }
    .cost(
        &book
            .price(0, "gpt-4o", at(3))
            .unwrap_or_else(|| panic!("price")),
    );
    let total = spent(&t, &book, &tenant(), "2026-03")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(total, expected + priced, "legacy costs are never re-priced");
    let by_feature = finance::tenant_costs(&t, &book, &tenant(), "2026-03", CostGroup::Feature)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<&str> = by_feature.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        ["(unassigned)", "catalog-content", "mapping-suggestions"],
        "support-bot has no feature"
    );
    assert_eq!(
        by_feature.total.unpriced_requests, 0,
        "legacy rows are not unpriced"
    );
    check_groupings_add_up(&t).await;

    // A re-import counts nothing twice.
    let (rows, errors) = read_legacy(csv.as_bytes()).unwrap_or_default();
    let again = import_legacy(&t, &book, &rows, errors, &mapping, Some(&tenant()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.check_passed, "{again:?}");
    assert_eq!((again.recorded, again.already_recorded), (0, 100_000));
    let total_again = spent(&t, &book, &tenant(), "2026-03")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(total_again, total);
}

#[tokio::test]
async fn a_legacy_service_the_mapping_does_not_name_imports_nothing() {
    use crate::legacy::{import_legacy, read_legacy};
    let t = table();
    let csv = "id,created_at,service,total_tokens,cost\n1,2026-03-02T10:00:00Z,mystery,10,0.01\n";
    let (rows, errors) = read_legacy(csv.as_bytes()).unwrap_or_default();
    let report = import_legacy(
        &t,
        &book(),
        &rows,
        errors,
        &Default::default(),
        Some(&tenant()),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.unmapped_services, ["mystery"]);
    assert!(!report.check_passed);
    assert_eq!(report.recorded, 0);
}

/// The meters of every tenant, priced per service, set beside a bill: what the meters
/// explain and what they do not.
#[tokio::test]
async fn a_cost_and_usage_report_is_reconciled_per_service_against_the_meters() {
    use crate::reconcile::{metered_by_service, read_cur, reconcile};
    use tillbridge_costs::infra::{AwsPrices, InfraUsage};
    let t = table();
    let t2 = TenantId::parse("t2").unwrap_or_else(|e| panic!("{e}"));
    for (tenant, n) in [(tenant(), 600_000u64), (t2.clone(), 400_000)] {
        let usage = InfraUsage {
            lambda_requests: n,
            lambda_mb_ms: 128 * 10 * n,
            http_api_requests: n,
            dynamodb_wru: 2 * n,
            ..InfraUsage::default()
        };
        record_infra(&t, &tenant, at(5), "webhook-ingress", &usage)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let metered = metered_by_service(&t, &[tenant(), t2], "2026-03", &AwsPrices::us_east_1())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // 1 M requests: Lambda 0.20 + 1250 GB-s = 0.216667; HTTP API 1.00; DynamoDB 2 M WRU 1.25.
    let cur = "lineItem/UsageStartDate,lineItem/ProductCode,lineItem/LineItemType,lineItem/UnblendedCost\n\
               2026-03-03T00:00:00Z,AWSLambda,Usage,0.2200000\n\
               2026-03-03T00:00:00Z,AmazonApiGateway,Usage,1.0000000\n\
               2026-03-03T00:00:00Z,AmazonDynamoDB,Usage,1.2500000\n\
               2026-03-03T00:00:00Z,AmazonSNS,Usage,0.5000000\n";
    let r = reconcile(
        "2026-03",
        &metered,
        &read_cur(cur.as_bytes(), "2026-03").unwrap_or_default(),
    );
    let line = |s: &str| {
        r.services
            .iter()
            .find(|l| l.service == s)
            .map(|l| (l.metered_usd.clone(), l.difference_usd.clone()))
    };
    assert_eq!(
        line("AWSLambda"),
        Some((Some("0.216667".into()), "0.003333".into()))
    );
    assert_eq!(
        line("AmazonApiGateway"),
        Some((Some("1.000000".into()), "0.000000".into()))
    );
    assert_eq!(
        line("AmazonDynamoDB"),
        Some((Some("1.250000".into()), "0.000000".into()))
    );
    assert_eq!(
        line("AmazonSNS"),
        Some((None, "0.500000".into())),
        "not metered"
    );
    // Log ingestion, secrets, KMS and X-Ray are metered now: named with what they metered.
    assert_eq!(
        line("AmazonCloudWatch"),
        Some((Some("0.000000".into()), "0.000000".into()))
    );
    assert_eq!(r.total_difference_usd, "0.503333");
}

/// The storage census: the tenant's items (sized by the metering rule), blobs under its
/// prefixes and secrets, filed as byte-hours since the last census; priced as GB-months.
#[tokio::test]
async fn the_storage_census_files_byte_hours_since_the_last_one() {
    use crate::census::{FIRST_INTERVAL_SECS, census};
    use tillbridge_costs::infra::{AwsPrices, GB, HOURS_PER_MONTH};
    use tillbridge_ports::BlobStore;
    use tillbridge_ports::memory::MemoryBlobStore;
    use tillbridge_ports::table::{Condition, Item};
    let t = table();
    let blobs = MemoryBlobStore::default();
    let secrets = tillbridge_ports::tenants::StaticDirectory::from_json(
        r#"{"tenants": [{"tenant_id": "t1", "currency": "USD", "providers": {"shopify": {"secret": "s"}}}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let item = Item::new("catalog#t1", "item#1", serde_json::Map::new());
    let item_size = tillbridge_ports::meter::item_bytes(&item) as u64;
    t.put(item, Condition::Always)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Another tenant's item and blob are not t1's.
    t.put(
        Item::new("catalog#t10", "item#1", serde_json::Map::new()),
        Condition::Always,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for (key, len) in [
        ("exports/t1/a.csv", 1000usize),
        ("snapshots/t1/m1/catalog.jsonl.gz", 24),
        ("exports/t10/b.csv", 5000),
    ] {
        blobs
            .put(key, &vec![b'x'; len])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let first = census(&t, &blobs, &secrets, &tenant(), at(2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            first.stored.blobs,
            first.stored.blob_bytes,
            first.stored.table_items,
            first.stored.table_bytes,
            first.stored.secrets
        ),
        (2, 1024, 1, item_size, 1)
    );
    assert_eq!(first.interval_secs, FIRST_INTERVAL_SECS);
    assert_eq!(first.s3_byte_hours, 1024 * 24);
    assert_eq!(first.secret_hours, 24);
    // Three days later: 72 hours of what is stored then (the census partition itself and
    // the filed counters are the tenant's items too, so the table grew).
    let second = census(&t, &blobs, &secrets, &tenant(), at(5))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.interval_secs, 3 * 86_400);
    assert_eq!(second.s3_byte_hours, 1024 * 72);
    assert_eq!(second.secret_hours, 72);
    let usage = infra_usage(&t, &tenant(), "2026-03")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(usage.s3_byte_hours, 1024 * 96);
    assert_eq!(usage.secret_hours, 96);
    assert_eq!(
        usage.dynamodb_byte_hours,
        first.dynamodb_byte_hours + second.dynamodb_byte_hours
    );
    // Priced: 96 secret-hours of $0.40 per 730 h, 98,304 byte-hours of $0.023 per GB-month.
    let by = usage.cost_by_service(&AwsPrices::us_east_1());
    let expect_s3 = Decimal::from(1024 * 96) * Decimal::new(23, 3)
        / (Decimal::from(GB) * Decimal::from(HOURS_PER_MONTH));
    assert_eq!(by["AmazonS3"], expect_s3);
    assert_eq!(
        tillbridge_costs::format_fixed(by["AWSSecretsManager"], 6),
        "0.052603"
    );
    // The infrastructure row of the cost table includes the storage.
    let row = finance::cost_table(&t, &[tenant()], &book(), "2026-03", &Budgets::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        row.rows[0]
            .infra_cost_usd
            .is_some_and(|c| c >= by["AWSSecretsManager"])
    );
}

/// X-Ray: a trace is recorded when Lambda's trace header says the invocation was sampled.
#[test]
fn the_trace_header_says_whether_xray_records_the_invocation() {
    use crate::metering::sampled;
    assert!(sampled(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    ));
    assert!(!sampled(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    ));
    assert!(!sampled(""));
}

/// The Secrets Manager decorator counts API calls, and KMS requests only for a
/// customer-managed key.
#[tokio::test]
async fn secret_calls_and_their_kms_requests_are_metered() {
    use std::sync::Arc;
    use tillbridge_domain::Provider;
    use tillbridge_ports::meter::{Meter, MeteredSecrets};
    use tillbridge_ports::tenants::SecretStore;
    let dir: Arc<dyn SecretStore> = Arc::new(
        tillbridge_ports::tenants::StaticDirectory::from_json(
            r#"{"tenants": [{"tenant_id": "t1", "currency": "USD", "providers": {"shopify": {"secret": "s"}}}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}")),
    );
    for (cmk, kms) in [(false, 0), (true, 3)] {
        let meter = Arc::new(Meter::default());
        let s = MeteredSecrets {
            inner: dir.clone(),
            meter: meter.clone(),
            customer_managed_key: cmk,
        };
        let _ = s.webhook_secrets(&tenant(), Provider::Shopify).await;
        let _ = s.api_credentials(&tenant(), Provider::Shopify).await;
        let units = meter.take();
        assert_eq!((units.secrets_api_calls, units.kms_requests), (3, kms));
        let usage = crate::infra_for_record(units, std::time::Duration::from_millis(1), 128, false);
        assert_eq!((usage.secrets_api_calls, usage.kms_requests), (3, kms));
    }
}

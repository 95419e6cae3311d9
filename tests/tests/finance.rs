//! Finance over HTTP: usage reported to `tillbridge serve` is accounted once per request and
//! read back as per-tenant tables (JSON and CSV) that agree with `tillbridge costs table`
//! on the same usage lines, and with the store-backed `costs table --state`.

mod support;

use std::time::Duration;

use support::*;

fn usage_lines() -> Vec<String> {
    let models = [
        "gpt-4o",
        "claude-sonnet-4-5",
        "gpt-4o-mini",
        "not-a-real-model",
    ];
    (0..40)
        .map(|i| {
            format!(
                r#"{{"request_id":"u{i}","tenant_id":"{}","migration_id":"mig-{}","operation":"{}","provider":"openai","model":"{}","input_tokens":{},"output_tokens":{},"cached_input_tokens":{},"cache_write_tokens":{},"occurred_at":"2026-03-{:02}T10:00:00Z"}}"#,
                if i % 3 == 0 { "t2" } else { "t1" },
                i % 2,
                if i % 2 == 0 { "mapping.suggest" } else { "mapping.escalate" },
                models[i % 4],
                10_000 + i * 13,
                500 + i,
                i * 11,
                i % 7,
                1 + i % 27
            )
        })
        .collect()
}

#[test]
fn reported_usage_becomes_tables_that_agree_with_the_cli() {
    let s = Server::start(temp_state("finance"));
    // t2's budget is small: its usage crosses every threshold (soft limit) and the hard limit.
    let (status, body) = s.request(
        "PUT",
        "/v1/tenants/t2/budget",
        &[("Content-Type", "application/json".into())],
        br#"{"monthly_usd": "0.01", "hard_limit_usd": "0.02"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let lines = usage_lines();
    for line in &lines {
        let tenant = if line.contains(r#""tenant_id":"t2""#) {
            "t2"
        } else {
            "t1"
        };
        let (status, body) = s.request(
            "POST",
            &format!("/v1/tenants/{tenant}/usage"),
            &[("Content-Type", "application/json".into())],
            line.as_bytes(),
        );
        assert_eq!(status, 202, "{body}");
    }
    // A retried report of the same call counts once.
    assert_eq!(
        s.request("POST", "/v1/tenants/t1/usage", &[], lines[1].as_bytes())
            .0,
        202
    );
    assert_eq!(
        s.request("POST", "/v1/tenants/t1/usage", &[], b"{\"request_id\": 1}")
            .0,
        400
    );

    let file = s.state.join("usage.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let budgets = s.state.join("budgets.json");
    std::fs::write(
        &budgets,
        r#"{"t1": "5", "t2": {"monthly_usd": "0.01", "hard_limit_usd": "0.02"}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cli = std::process::Command::new(binary())
        .args(["costs", "table", "--period", "2026-03"])
        .arg("--usage")
        .arg(&file)
        .arg("--budgets")
        .arg(&budgets)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cli.status.code(), Some(0));
    let expected = json(&String::from_utf8_lossy(&cli.stdout));
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("not-a-real-model"),
        "unpriced models are named"
    );

    // The API adds infrastructure cost beside the AI cost (zero here: nothing ran on AWS).
    let without_infra = |mut v: serde_json::Value| {
        for row in v.as_array_mut().into_iter().flatten() {
            if let Some(o) = row.as_object_mut() {
                assert_eq!(
                    o.remove("infra_cost_usd")
                        .and_then(|c| c.as_str().map(str::to_owned))
                        .as_deref(),
                    Some("0.000000")
                );
            }
        }
        v
    };
    s.eventually(
        "the API table to match the CLI table",
        Duration::from_secs(20),
        |s| {
            let api = json(&s.get("/v1/costs?period=2026-03").1);
            api.as_array().is_some_and(|a| a.len() == 2) && without_infra(api) == expected
        },
    );

    let (status, csv) = s.request(
        "GET",
        "/v1/costs?period=2026-03",
        &[("Accept", "text/csv".into())],
        b"",
    );
    assert_eq!(status, 200);
    let cli_csv = std::process::Command::new(binary())
        .args(["costs", "table", "--period", "2026-03", "--format", "csv"])
        .arg("--usage")
        .arg(&file)
        .arg("--budgets")
        .arg(&budgets)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let drop_last_column = |text: &str| {
        text.lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_owned())
            .collect::<Vec<_>>()
    };
    assert!(csv.starts_with(&format!("{},infra_cost_usd", tillbridge_costs_header())));
    assert_eq!(
        drop_last_column(&csv),
        String::from_utf8_lossy(&cli_csv.stdout)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    );
    assert_eq!(s.get("/v1/costs?period=2026-03&format=csv").1, csv);

    let by_op = json(
        &s.get("/v1/tenants/t1/costs?period=2026-03&group_by=operation")
            .1,
    );
    let rows = by_op["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2);
    let requests: u64 = rows.iter().filter_map(|r| r["requests"].as_u64()).sum();
    assert_eq!(Some(requests), expected[0]["requests"].as_u64());
    let by_day_csv = s
        .get("/v1/tenants/t1/costs?period=2026-03&group_by=day&format=csv")
        .1;
    assert!(by_day_csv.starts_with("day,requests,"));
    assert_eq!(
        s.get("/v1/tenants/t1/costs?period=2026-03&group_by=colour")
            .0,
        400
    );
    assert_eq!(s.get("/v1/costs").0, 400);
    assert_eq!(s.get("/v1/tenants/nobody/costs?period=2026-03").0, 404);

    // Budgets: the route, the file-based CLI and (below) the store-based CLI agree.
    let budgets_cli = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(binary())
            .args(["costs", "budgets", "--period", "2026-03"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            json(&String::from_utf8_lossy(&out.stdout)),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let listed = json(&s.get("/v1/budgets?period=2026-03").1)["budgets"].clone();
    let t2 = listed
        .as_array()
        .and_then(|a| a.iter().find(|r| r["tenant_id"] == "t2"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(t2["state"], "hard_limit_reached", "{listed}");
    assert_eq!(t2["hard_limit_usd"], "0.020000");
    let announced: Vec<&serde_json::Value> = t2["thresholds_crossed"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    assert_eq!(announced.len(), 3, "50, 80 and 100 % announced: {t2}");
    assert!(announced.iter().all(|t| t["event_id"].is_string()));
    let (from_file, said) = budgets_cli(&[
        "--usage".as_ref(),
        file.as_os_str(),
        "--budgets".as_ref(),
        budgets.as_os_str(),
    ]);
    let strip_events = |mut v: serde_json::Value| {
        for row in v.as_array_mut().into_iter().flatten() {
            for t in row["thresholds_crossed"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                t["event_id"] = serde_json::Value::Null;
            }
        }
        v
    };
    assert_eq!(from_file, strip_events(listed.clone()));
    assert!(said.contains("budget: t2 2026-03"), "{said}");

    // The store-backed CLI table agrees too (the server holds the store; stop it first).
    let state = s.stop();
    let (from_store, _) = budgets_cli(&[
        "--state".as_ref(),
        state.join("store").as_os_str(),
        "--tenants".as_ref(),
        state.join("tenants-under-test.json").as_os_str(),
    ]);
    assert_eq!(from_store, listed, "with the announcements' event ids");
    let from_store = std::process::Command::new(binary())
        .args(["costs", "table", "--period", "2026-03", "--state"])
        .arg(state.join("store"))
        .arg("--tenants")
        .arg(state.join("tenants-under-test.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        from_store.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_store.stderr)
    );
    assert_eq!(
        without_infra(json(&String::from_utf8_lossy(&from_store.stdout))),
        expected
    );
}

fn tillbridge_costs_header() -> &'static str {
    "tenant_id,requests,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost_usd,unpriced_requests,budget_usd,budget_used_percent"
}

//! The LLM tier against a local server that speaks the OpenAI chat-completions wire format
//! (usage with cached prompt tokens, 429 with Retry-After, 500, slow answers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tillbridge_accounting as accounting;
use tillbridge_costs::PriceTable;
use tillbridge_domain::event::EventData;
use tillbridge_domain::{CorrelationId, TenantId, Timestamp};
use tillbridge_llm::{ChatClient, Config, LlmTier, Outcome, Request};
use tillbridge_mapping::{FieldProfile, Suggestion, profile_json, suggest};
use tillbridge_ports::ManualClock;
use tillbridge_ports::memory::{MemoryTable, RecordingBus};

/// What the fake provider does with call number `n` (0-based) for `model` asked about `paths`.
type Script = dyn Fn(usize, &str, &[String]) -> Reply + Send + Sync;

enum Reply {
    Answer(Vec<(String, Option<&'static str>, f64)>),
    Text(String),
    Status(u16, Option<u64>),
    Slow(Duration),
}

struct Fake {
    calls: AtomicUsize,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
    script: Box<Script>,
    /// The `usage` block of every answer.
    usage: Value,
}

async fn chat(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let n = fake.calls.fetch_add(1, Ordering::SeqCst);
    let body: Value = serde_json::from_str(&body).unwrap();
    let model = body["model"].as_str().unwrap().to_string();
    let user: Value =
        serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    let paths: Vec<String> = user["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    fake.requests.lock().unwrap().push((headers, body));
    let completion = |content: String| {
        let usage = fake.usage.clone();
        axum::Json(json!({
            "id": format!("chatcmpl-{n}"), "object": "chat.completion", "created": 1_763_000_000,
            "model": format!("{model}-2024-07-18"),
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": content}}],
            "usage": usage,
        }))
        .into_response()
    };
    match (fake.script)(n, &model, &paths) {
        Reply::Answer(rows) => {
            let mappings: Vec<Value> = rows
                .into_iter()
                .map(|(p, t, c)| json!({"path": p, "target": t, "confidence": c, "reason": "fake"}))
                .collect();
            completion(json!({ "mappings": mappings }).to_string())
        }
        Reply::Text(t) => completion(t),
        Reply::Status(code, retry_after) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap(),
                axum::Json(json!({"error": {"message": "nope", "type": "server_error"}})),
            )
                .into_response();
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            r
        }
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            completion("{\"mappings\":[]}".into())
        }
    }
}

async fn serve(
    script: impl Fn(usize, &str, &[String]) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Fake>) {
    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
        "prompt_tokens_details": {"cached_tokens": 200}});
    serve_with_usage(script, usage).await
}

async fn serve_with_usage(
    script: impl Fn(usize, &str, &[String]) -> Reply + Send + Sync + 'static,
    usage: Value,
) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake {
        calls: AtomicUsize::new(0),
        requests: Mutex::default(),
        script: Box::new(script),
        usage,
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), fake)
}

fn config(base: &str) -> Config {
    let mut c = Config::new(
        base,
        "sk-test-secret",
        vec!["gpt-4o-mini".into(), "gpt-4o".into()],
    );
    c.backoff = Duration::from_millis(5);
    c.max_backoff = Duration::from_millis(20);
    c.timeout = Duration::from_millis(500);
    c
}

/// A vendor export the offline tiers are unsure about in places, with customer PII in it.
fn export(extra: &str) -> Vec<FieldProfile> {
    let records: Vec<Value> = (0..20)
        .map(|i| {
            json!({
                "id": format!("ITM{i:04}X"),
                "title": format!("Blue Dream {i}g"),
                "zq_amt": 1000 + i * 7,
                "kx": format!("bin-{}", i % 3),
                "customer_email": format!("jane.doe{i}@example.com"),
                "memo": format!("call +1 (415) 555-01{i:02} re card 4111 1111 1111 1111"),
                extra: i,
            })
        })
        .collect();
    profile_json(&records)
}

fn uncertain_paths(s: &[Suggestion]) -> Vec<String> {
    let mut p: Vec<String> = tillbridge_mapping::llm::uncertain(s)
        .iter()
        .map(|s| s.source.clone())
        .collect();
    p.sort();
    p
}

struct World {
    table: MemoryTable,
    bus: RecordingBus,
    prices: PriceTable,
    tenant: TenantId,
    correlation: CorrelationId,
}

impl World {
    fn new() -> Self {
        Self {
            table: MemoryTable::new(Arc::new(ManualClock::default())),
            bus: RecordingBus::default(),
            prices: PriceTable::bundled(),
            tenant: TenantId::parse("t1").unwrap(),
            correlation: CorrelationId::parse("corr-1").unwrap(),
        }
    }

    async fn run(
        &self,
        client: &ChatClient,
        fields: &[FieldProfile],
        budget: Option<Decimal>,
    ) -> (Vec<Suggestion>, Outcome) {
        let mut s = suggest(fields);
        let tier = LlmTier {
            client,
            table: &self.table,
            bus: &self.bus,
            prices: &self.prices,
        };
        let req = Request {
            tenant: &self.tenant,
            migration_id: Some("mig-1"),
            correlation: &self.correlation,
            budget_usd: budget,
            at: Timestamp::parse_rfc3339("2026-11-22T03:00:00Z").unwrap(),
        };
        let outcome = tier.refine(fields, &mut s, &req).await;
        (s, outcome)
    }
}

fn budget() -> Option<Decimal> {
    Some(Decimal::new(10, 0))
}

#[tokio::test]
async fn batches_masks_escalates_caches_and_records_usage() {
    let (base, fake) = serve(|_, model, paths| {
        Reply::Answer(
            paths
                .iter()
                .map(|p| match (p.as_str(), model) {
                    ("zq_amt", "gpt-4o-mini") => (p.clone(), Some("price_minor"), 0.7),
                    ("zq_amt", _) => (p.clone(), Some("price_minor"), 0.93),
                    _ => (p.clone(), None, 0.9),
                })
                .collect(),
        )
    })
    .await;
    let client = ChatClient::new(config(&base)).unwrap();
    let world = World::new();
    let fields = export("extra");
    let offline = suggest(&fields);
    let asked = uncertain_paths(&offline);
    assert!(
        asked.contains(&"zq_amt".to_string()),
        "{asked:?} {offline:#?}"
    );

    let (refined, outcome) = world.run(&client, &fields, budget()).await;

    // Batching: the first call asks about every uncertain field at once; escalation: the
    // second model is asked only about what stayed below 0.8.
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(outcome.models(), ["gpt-4o-mini", "gpt-4o"]);
    assert_eq!(requests.len(), 2);
    let paths_of = |b: &Value| -> Vec<String> {
        let user: Value =
            serde_json::from_str(b["messages"][1]["content"].as_str().unwrap()).unwrap();
        let mut p: Vec<String> = user["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    assert_eq!(paths_of(&requests[0].1), asked);
    assert_eq!(paths_of(&requests[1].1), ["zq_amt"]);
    assert_eq!(requests[1].1["model"], "gpt-4o");
    assert_eq!(
        requests[0].0["authorization"].to_str().unwrap(),
        "Bearer sk-test-secret"
    );

    // PII never leaves: not the email, the phone or the card number.
    for (_, body) in &requests {
        let text = body.to_string();
        for secret in ["jane", "example.com", "555-01", "4111", "1111 1111"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    let zq = refined.iter().find(|s| s.source == "zq_amt").unwrap();
    assert_eq!(zq.target, Some("price_minor"));
    assert!(zq.confidence > 0.9, "{zq:?}");
    assert!(zq.conversion.is_some());
    assert!(uncertain_paths(&refined).is_empty(), "{refined:?}");

    // One usage event per call, token classes converted (cached tokens are a subset of
    // OpenAI's prompt_tokens), and the spend committed against the budget.
    let usage: Vec<_> = world
        .bus
        .published()
        .into_iter()
        .filter_map(|e| match e.body {
            EventData::AiUsageRecorded(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(usage.len(), 2);
    assert_eq!(usage[0].model, "gpt-4o-mini");
    assert_eq!(usage[1].model, "gpt-4o");
    assert_eq!(
        (
            usage[0].input_tokens,
            usage[0].cached_input_tokens,
            usage[0].output_tokens
        ),
        (800, 200, 50)
    );
    assert_eq!(usage[0].migration_id.as_deref(), Some("mig-1"));
    assert_eq!(usage[0].request_id, "chatcmpl-0");
    let (committed, reserved) = accounting::budget_state(&world.table, &world.tenant, "2026-11")
        .await
        .unwrap();
    // gpt-4o-mini: 800 × 0.15/M + 200 × 0.075/M + 50 × 0.6/M; gpt-4o: 800 × 2.5/M + 200 × 1.25/M + 50 × 10/M.
    assert_eq!(committed, Decimal::new(165, 6) + Decimal::new(2750, 6));
    assert_eq!(reserved, Decimal::ZERO);

    // Same schema again: answered from the cache, no call, same result.
    let (again, outcome) = world.run(&client, &fields, budget()).await;
    assert!(outcome.cache_hit);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    let zq2 = again.iter().find(|s| s.source == "zq_amt").unwrap();
    assert_eq!(zq2.target, Some("price_minor"));
}

#[tokio::test]
async fn rate_limit_is_retried_after_the_providers_delay() {
    let (base, fake) = serve(|n, _, paths| {
        if n == 0 {
            Reply::Status(429, Some(0))
        } else {
            Reply::Answer(paths.iter().map(|p| (p.clone(), None, 0.9)).collect())
        }
    })
    .await;
    let client = ChatClient::new(config(&base)).unwrap();
    let world = World::new();
    let (_, outcome) = world.run(&client, &export("extra"), budget()).await;
    assert_eq!(outcome.fallback, None);
    assert_eq!(outcome.models(), ["gpt-4o-mini"]);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn server_errors_fall_back_offline_and_open_the_breaker() {
    let (base, fake) = serve(|_, _, _| Reply::Status(500, None)).await;
    let client = ChatClient::new(config(&base)).unwrap();
    let world = World::new();
    for (i, extra) in ["a1", "a2", "a3"].into_iter().enumerate() {
        let fields = export(extra);
        let (refined, outcome) = world.run(&client, &fields, budget()).await;
        assert_eq!(refined, suggest(&fields), "falls back to the offline tiers");
        assert!(outcome.models().is_empty());
        assert!(outcome.fallback.unwrap().contains("500"));
        assert_eq!(
            fake.calls.load(Ordering::SeqCst),
            3 * (i + 1),
            "3 attempts per call"
        );
    }
    assert!(client.is_open());
    let (_, outcome) = world.run(&client, &export("a4"), budget()).await;
    assert!(outcome.fallback.unwrap().contains("paused"));
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        9,
        "an open breaker sends nothing"
    );
    // Nothing was spent and nothing stays reserved.
    let (committed, reserved) = accounting::budget_state(&world.table, &world.tenant, "2026-11")
        .await
        .unwrap();
    assert_eq!((committed, reserved), (Decimal::ZERO, Decimal::ZERO));
    assert!(world.bus.published().is_empty());
}

#[tokio::test]
async fn slow_provider_times_out_and_falls_back() {
    let (base, _fake) = serve(|_, _, _| Reply::Slow(Duration::from_secs(3))).await;
    let mut cfg = config(&base);
    cfg.timeout = Duration::from_millis(150);
    cfg.attempts = 2;
    let client = ChatClient::new(cfg).unwrap();
    let world = World::new();
    let fields = export("extra");
    let (refined, outcome) = world.run(&client, &fields, budget()).await;
    assert!(outcome.fallback.unwrap().contains("timed out"));
    assert_eq!(refined, suggest(&fields));
}

#[tokio::test]
async fn unusable_answer_escalates_to_the_next_model() {
    let (base, _fake) = serve(|_, model, paths| {
        if model == "gpt-4o-mini" {
            Reply::Text("Sure! Here is the mapping you asked for.".into())
        } else {
            Reply::Answer(paths.iter().map(|p| (p.clone(), None, 0.95)).collect())
        }
    })
    .await;
    let client = ChatClient::new(config(&base)).unwrap();
    let world = World::new();
    let (refined, outcome) = world.run(&client, &export("extra"), budget()).await;
    assert_eq!(outcome.models(), ["gpt-4o-mini", "gpt-4o"]);
    assert!(uncertain_paths(&refined).is_empty());
    // Both calls cost money, so both are recorded.
    assert_eq!(world.bus.published().len(), 2);
}

#[tokio::test]
async fn budget_is_checked_before_any_call() {
    let (base, fake) = serve(|_, _, _| Reply::Answer(vec![])).await;
    let client = ChatClient::new(config(&base)).unwrap();
    let world = World::new();
    let fields = export("extra");
    let (refined, outcome) = world.run(&client, &fields, Some(Decimal::new(1, 6))).await;
    assert!(outcome.fallback.unwrap().contains("budget"));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    assert_eq!(refined, suggest(&fields));
    let (_, outcome) = world.run(&client, &fields, None).await;
    assert!(outcome.fallback.unwrap().contains("budget"));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_mapping_stage_uses_the_tier_and_audits_each_call() {
    use tillbridge_domain::Envelope;
    use tillbridge_domain::event::{MigrationRequested, SCHEMA_VERSION, derive_event_id};
    use tillbridge_llm::LlmRefiner;
    use tillbridge_migration::review::{self as mapping_review, AuditEntry};
    use tillbridge_migration::suggest::suggest_for_migration;
    use tillbridge_ports::BlobStore;
    use tillbridge_ports::memory::MemoryBlobStore;

    let (base, fake) = serve(|_, _, paths| {
        Reply::Answer(
            paths
                .iter()
                .map(|p| match p.as_str() {
                    "zq_amt" => (p.clone(), Some("price_minor"), 0.92),
                    _ => (p.clone(), None, 0.9),
                })
                .collect(),
        )
    })
    .await;
    let table: Arc<MemoryTable> = Arc::new(MemoryTable::new(Arc::new(ManualClock::default())));
    let bus = Arc::new(RecordingBus::default());
    let blobs = MemoryBlobStore::default();
    let tenant = TenantId::parse("t1").unwrap();
    accounting::set_budget(table.as_ref(), &tenant, Decimal::new(5, 0))
        .await
        .unwrap();
    let records: Vec<Value> = (0..5)
        .map(|i| {
            json!({"id": format!("ITM{i:04}X"), "title": "Latte", "zq_amt": 450 + i,
            "customer_email": "jane@example.com"})
        })
        .collect();
    blobs
        .put(
            "exports/t1/m1/items.json",
            &serde_json::to_vec(&records).unwrap(),
        )
        .await
        .unwrap();
    let refiner = LlmRefiner {
        client: Arc::new(ChatClient::new(config(&base)).unwrap()),
        table: table.clone(),
        bus: bus.clone(),
        prices: PriceTable::bundled(),
    };
    let at = Timestamp::parse_rfc3339("2026-11-22T03:00:00Z").unwrap();
    let request = Envelope {
        event_id: derive_event_id("m1", 0),
        body: EventData::MigrationRequested(MigrationRequested {
            migration_id: "m1".into(),
            source_name: "custom".into(),
            export_key: "exports/t1/m1/items.json".into(),
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: None,
        entity_id: "m1".into(),
        occurred_at: at,
        received_at: at,
        correlation_id: CorrelationId::parse("m1").unwrap(),
        delivery_key: None,
    };
    let summary = suggest_for_migration(
        table.as_ref(),
        &blobs,
        bus.as_ref(),
        Some(&refiner),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    assert!(summary.mapped >= 2);

    let stored = mapping_review::decisions(table.as_ref(), &tenant, "m1")
        .await
        .unwrap();
    let zq = stored.iter().find(|d| d.source == "zq_amt").unwrap();
    assert_eq!(zq.target.as_deref(), Some("price_minor"));
    assert!(zq.reason.contains("gpt-4o-mini"), "{}", zq.reason);

    let trail = mapping_review::audit_trail(table.as_ref(), &tenant, "m1")
        .await
        .unwrap();
    assert!(trail.iter().any(|e| matches!(e,
        AuditEntry::AiSuggestion { agent, tokens: 1050, prompt_hash, .. }
            if agent == "gpt-4o-mini" && prompt_hash.len() == 64)));
    assert!(trail.iter().any(|e| matches!(e,
        AuditEntry::AiSuggestion { agent, .. } if agent == "offline-tiers+llm")));

    let types: Vec<&str> = bus
        .published()
        .iter()
        .map(|e| e.event_type().as_str())
        .collect();
    assert_eq!(types, ["ai.usage.recorded", "migration.mapping.suggested"]);
    let (committed, _) = accounting::budget_state(table.as_ref(), &tenant, "2026-11")
        .await
        .unwrap();
    assert!(committed > Decimal::ZERO);
}

/// data-19: an OpenAI-compatible gateway (LiteLLM) in front of Anthropic reports a
/// prompt-caching call as prompt_tokens 2109 = 9 uncached + 100 cache read + 2000 cache
/// creation. Each class is recorded and settled at its own rate: 0.008307 USD for
/// claude-3-5-sonnet-20241022 (9×3e-06 + 100×3e-07 + 2000×3.75e-06 + 50×1.5e-05).
#[tokio::test]
async fn gateway_cache_writes_are_billed_at_the_cache_creation_rate() {
    let usage = json!({"prompt_tokens": 2109, "completion_tokens": 50, "total_tokens": 2159,
        "prompt_tokens_details": {"cached_tokens": 100},
        "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 100});
    let (base, _fake) = serve_with_usage(
        |_, _, paths| Reply::Answer(paths.iter().map(|p| (p.clone(), None, 0.9)).collect()),
        usage,
    )
    .await;
    let mut cfg = config(&base);
    cfg.models = vec!["claude-3-5-sonnet-20241022".into()];
    let client = ChatClient::new(cfg).unwrap();
    let world = World::new();
    let (_, outcome) = world.run(&client, &export("extra"), budget()).await;
    assert_eq!(outcome.calls.len(), 1, "{outcome:?}");
    let usage: Vec<_> = world
        .bus
        .published()
        .into_iter()
        .filter_map(|e| match e.body {
            EventData::AiUsageRecorded(u) => Some(u),
            _ => None,
        })
        .collect();
    let u = &usage[0];
    assert_eq!(
        (
            u.input_tokens,
            u.cached_input_tokens,
            u.cache_write_tokens,
            u.output_tokens
        ),
        (9, 100, 2000, 50)
    );
    let (committed, _) = accounting::budget_state(&world.table, &world.tenant, "2026-11")
        .await
        .unwrap();
    assert_eq!(committed, Decimal::new(8307, 6));
}

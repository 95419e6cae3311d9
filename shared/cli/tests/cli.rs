//! The CLI.md contract, exercised through the real `tillbridge` binary: flags, exit codes,
//! one-line errors on stderr, results only on stdout.

use std::path::PathBuf;
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tillbridge"))
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tillbridge-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_one_error_line(o: &Output) {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "stderr should be one line: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn verify_judges_every_vector_through_the_binary() {
    let text = std::fs::read_to_string(root().join("shared/webhooks/tests/data/vectors.json"))
        .unwrap_or_default();
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    assert!(vectors.len() > 50);
    for v in vectors {
        let body = base64::engine::general_purpose::STANDARD
            .decode(v["body_b64"].as_str().unwrap_or(""))
            .unwrap_or_default();
        let file = temp("body", &body);
        let mut cmd = bin();
        cmd.args([
            "verify",
            "--provider",
            v["provider"].as_str().unwrap_or(""),
            "--secret",
            v["secret"].as_str().unwrap_or(""),
        ]);
        cmd.arg("--body-file").arg(&file);
        if let Some(url) = v["url"].as_str() {
            cmd.args(["--url", url]);
        }
        if let Some(now) = v["now"].as_i64() {
            cmd.args(["--now", &now.to_string()]);
        }
        if let Some(prev) = v["previous_secret"].as_str() {
            cmd.args(["--previous-secret", prev]);
        }
        for (name, value) in v["headers"].as_object().into_iter().flatten() {
            cmd.arg("-H")
                .arg(format!("{name}: {}", value.as_str().unwrap_or("")));
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        let expected = if v["expect"] == "valid" { 0 } else { 1 };
        assert_eq!(code(&out), expected, "{}: {}", v["name"], stderr(&out));
        if expected == 1 {
            assert_one_error_line(&out);
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn verify_square_official_example_and_usage_errors() {
    let body = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
    let file = temp("square.json", body);
    let run = |extra: &[&str]| {
        let mut c = bin();
        c.args([
            "verify",
            "--provider",
            "square",
            "--secret",
            "Ibxx_5AKakO-3qeNVR61Dw",
            "--body-file",
        ])
        .arg(&file);
        c.args(extra);
        c.output().unwrap_or_else(|e| panic!("{e}"))
    };
    let ok = run(&[
        "--url",
        "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9",
        "-H",
        "X-Square-HmacSha256-Signature: GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
    ]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let no_url = run(&[
        "-H",
        "x-square-hmacsha256-signature: GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
    ]);
    assert_eq!(code(&no_url), 2);
    assert_one_error_line(&no_url);
    let bad_header = run(&["--url", "https://x", "-H", "no colon here"]);
    assert_eq!(code(&bad_header), 2);
    assert_one_error_line(&bad_header);

    let unknown = bin()
        .args([
            "verify",
            "--provider",
            "paypal",
            "--secret",
            "s",
            "--body-file",
        ])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&unknown), 2);
    assert_one_error_line(&unknown);
    let missing = bin()
        .args([
            "verify",
            "--provider",
            "shopify",
            "--secret",
            "s",
            "--body-file",
            "/nonexistent/body",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&missing), 2);
    assert_one_error_line(&missing);
    let no_args = bin()
        .args(["verify", "--provider", "shopify"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&no_args), 2);
    assert_one_error_line(&no_args);
}

#[test]
fn normalize_prints_one_envelope_per_line() {
    let file = root().join("samples/webhooks/shopify/products.update.json");
    let out = bin()
        .args([
            "normalize",
            "--provider",
            "shopify",
            "--tenant",
            "t1",
            "-H",
            "X-Shopify-Topic: products/update",
            "--body-file",
        ])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    assert_eq!(lines.len(), 1);
    let e = &lines[0];
    assert_eq!(e["type"], "pos.catalog.item.upserted");
    assert_eq!(e["tenant_id"], "t1");
    assert_eq!(e["provider"], "shopify");
    assert_eq!(e["data"]["item"]["external_id"], "123456789");
    assert_eq!(e["data"]["item"]["parent_id"], "9554194432293");
    assert_eq!(e["data"]["item"]["price_minor"], 2999);
    for field in [
        "event_id",
        "schema_version",
        "entity_id",
        "occurred_at",
        "received_at",
        "correlation_id",
    ] {
        assert!(!e[field].is_null(), "{field} missing");
    }

    let broken = temp("broken.json", b"{\"id\": ");
    let out = bin()
        .args([
            "normalize",
            "--provider",
            "square",
            "--tenant",
            "t1",
            "--body-file",
        ])
        .arg(&broken)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 1);
    assert_one_error_line(&out);
    assert!(out.stdout.is_empty());

    let zettle = root().join("samples/webhooks/zettle/InventoryBalanceChanged.json");
    let out = bin()
        .args([
            "normalize",
            "--provider",
            "zettle",
            "--tenant",
            "t1",
            "--body-file",
        ])
        .arg(&zettle)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("pos.inventory.adjusted"));
}

#[test]
fn demo_runs_and_summarizes() {
    let out = bin().arg("demo").output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 duplicates dropped"), "{text}");
    assert!(text.contains("1 quarantined"), "{text}");
    assert!(text.contains("1 stale"), "{text}");
    assert!(text.contains("31.50 USD"), "the newest price wins: {text}");
    assert!(
        text.contains("1 rejected by validation") && text.contains("price.unit_error"),
        "{text}"
    );
    let catalog_line = text
        .lines()
        .find(|l| l.contains("T-Shirt / Default Title"))
        .unwrap_or_default();
    assert!(
        catalog_line.contains("31.50 USD"),
        "the rejected 3150.00 never reaches the catalog: {catalog_line}"
    );
    assert!(
        !text.contains("27.00 USD") && !text.contains("0.01 USD"),
        "stale and forged prices never apply: {text}"
    );
    assert!(text.contains("status: completed"), "{text}");
    assert!(
        text.contains("catalog after the rollback is the catalog before it: yes"),
        "{text}"
    );
}

#[test]
fn migrate_show_and_rollback_through_the_binary() {
    let state = std::env::temp_dir().join(format!("tillbridge-mig-{}", uuid::Uuid::now_v7()));
    let export = temp(
        "export.csv",
        b"Item ID,Item Name,Price,SKU\nA1,Latte,4.50,LAT-1\nA2,Mocha,5.00,MOC-1\nA3,Tea,-1.00,TEA-1\n",
    );
    let state_arg = state.to_string_lossy().into_owned();
    let tenants = root().join("samples/tenants.json");
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .args(["--state", &state_arg])
            .arg("--tenants")
            .arg(&tenants)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    // Without --approve-all the migration waits for review.
    let out = run(&[
        "migrate",
        "--tenant",
        "demo-cafe",
        "--source-name",
        "lightspeed",
        "--export",
        &export.to_string_lossy(),
        "--offline",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(m["status"], "mapping_review", "{m}");
    assert!(
        stderr(&out).contains("Item Name"),
        "the mapping is shown for review"
    );
    let id = m["id"].as_str().unwrap_or_default().to_owned();

    let out = run(&["migration", "approve", &id, "--by", "ana"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: completed"), "{text}");
    assert!(text.contains("2 created"), "{text}");
    assert!(
        text.contains("1 items held back"),
        "the negative price stays out: {text}"
    );

    let out = run(&["migration", "report", &id]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(report["held_back"][0], "A3");

    let out = run(&["rollback", "--migration", &id, "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(m["status"], "rolled_back");
    assert_eq!(m["progress"]["removed"], 2);

    // Refusals are judged (exit 1) with one error line; unknown ids are usage errors.
    let out = run(&["rollback", "--migration", &id]);
    assert_eq!(code(&out), 1);
    assert_one_error_line(&out);
    let out = run(&["migration", "show", "mig-nope"]);
    assert_eq!(code(&out), 2);
    assert_one_error_line(&out);
    let out = run(&[
        "migrate",
        "--tenant",
        "nobody",
        "--source-name",
        "x",
        "--export",
        &export.to_string_lossy(),
    ]);
    assert_eq!(code(&out), 2);
    let audit = run(&["migration", "audit", &id]);
    let audit: Value = serde_json::from_slice(&audit.stdout).unwrap_or_default();
    assert_eq!(audit["approved_by"], "ana");
    assert_eq!(audit["rollback"]["verified"], true);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn validate_reports_findings_per_the_contract() {
    let lines = [
        r#"{"external_id":"t1","name":"Taco","category":"Tacos","price_minor":45000,"currency":"USD","sku":"T1"}"#.to_owned(),
        "{broken".to_owned(),
    ]
    .into_iter()
    .chain((2..12).map(|i| format!(r#"{{"external_id":"t{i}","name":"Taco {i}","category":"Tacos","price_minor":{},"currency":"USD","sku":"T{i}"}}"#, 400 + i * 10)))
    .collect::<Vec<_>>()
    .join("\n");
    let file = temp("items.jsonl", lines.as_bytes());
    let out = bin()
        .args(["validate", "--items"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        code(&out),
        0,
        "without --fail-on, findings do not fail: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(report["summary"]["items"], 12);
    assert_eq!(report["summary"]["errors"], 2);
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let unit = findings
        .iter()
        .find(|f| f["rule"] == "price.unit_error")
        .cloned()
        .unwrap_or_default();
    assert_eq!(unit["item"], "t1");
    assert_eq!(unit["severity"], "error");
    assert!(
        unit["message"]
            .as_str()
            .is_some_and(|m| m.contains("did you mean 450")),
        "{unit}"
    );
    assert!(findings.iter().any(|f| f["rule"] == "schema.invalid_json"
        && f["message"].as_str().is_some_and(|m| m.contains("line 2"))));
    for f in &findings {
        for key in ["item", "rule", "severity", "message"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
    }
    let failing = bin()
        .args(["validate", "--fail-on", "error", "--items"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&failing), 1);
    assert_one_error_line(&failing);
    assert!(!failing.stdout.is_empty(), "the report is still printed");
    let missing = bin()
        .args(["validate", "--items", "/nonexistent.jsonl"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&missing), 2);
    assert_one_error_line(&missing);
    // The bundled sample catalogs are clean of errors.
    for name in ["cafe.jsonl", "dispensary.jsonl", "stockholm.jsonl"] {
        let out = bin()
            .args([
                "validate",
                "--fail-on",
                "error",
                "--country",
                if name == "stockholm.jsonl" {
                    "SE"
                } else {
                    "US"
                },
                "--items",
            ])
            .arg(root().join("samples/catalog").join(name))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            code(&out),
            0,
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn suggest_lists_every_source_path_per_the_contract() {
    let sample =
        root().join("shared/mapping/tests/data/mapping-dev/square_catalog_api/sample.json");
    let out = bin()
        .args(["suggest", "--offline", "--sample"])
        .arg(&sample)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("shared/mapping/tests/data/mapping-dev/square_catalog_api/truth.json"),
        )
        .unwrap_or_default(),
    )
    .unwrap_or_default();
    let paths: Vec<&str> = rows.iter().filter_map(|r| r["source"].as_str()).collect();
    for p in truth["fields"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        assert!(paths.contains(&p.as_str()), "{p} missing");
    }
    for r in &rows {
        let c = r["confidence"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&c));
        let band = r["band"].as_str().unwrap_or("");
        match r["target"].as_str() {
            None => assert_eq!(band, "none"),
            Some(_) if c > 0.9 => assert_eq!(band, "high"),
            Some(_) if c >= 0.7 => assert_eq!(band, "medium"),
            Some(_) => assert_eq!(band, "low"),
        }
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let price = rows
        .iter()
        .find(|r| r["source"] == "item_data.variations[].item_variation_data.price_money.amount")
        .cloned()
        .unwrap_or_default();
    assert_eq!(price["target"], "price_minor");
    // CSV: headers as written.
    let csv = temp(
        "export.csv",
        b"Item Name,Retail Price,UPC,Qty On Hand,Notes\nLatte,4.50,036000291452,12,hot\n",
    );
    let out = bin()
        .args(["suggest", "--sample"])
        .arg(&csv)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let targets: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r["source"].as_str().unwrap_or(""), r["target"].as_str()))
        .collect();
    assert_eq!(
        targets,
        vec![
            ("Item Name", Some("name")),
            ("Retail Price", Some("price_minor")),
            ("UPC", Some("barcode")),
            ("Qty On Hand", Some("quantity_on_hand")),
            ("Notes", None)
        ]
    );
    let bad = temp("bad.json", b"{not json");
    let out = bin()
        .args(["suggest", "--sample"])
        .arg(&bad)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 2);
    assert_one_error_line(&out);
}

#[test]
fn suggest_eval_scores_a_truth_directory() {
    let out = bin()
        .args(["suggest-eval", "--dir"])
        .arg(root().join("shared/mapping/tests/data/mapping-dev"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(report["sources"].as_array().map(Vec::len), Some(3));
    assert!(
        report["total"]["strict"]["f1"]
            .as_f64()
            .is_some_and(|f| f >= 0.9)
    );
    assert!(
        report["total"]["lenient"]["high_band_precision"]
            .as_f64()
            .is_some_and(|p| p >= 0.95)
    );
    let empty = std::env::temp_dir();
    let out = bin()
        .args(["suggest-eval", "--dir"])
        .arg(empty.join("tillbridge-no-such-dir"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 2);
}

/// A one-thread HTTP/1.1 server speaking the chat-completions wire format: every field asked
/// about is answered `price_minor` if its path is `zq_amt`, no counterpart otherwise.
fn fake_model() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let base = format!(
        "http://{}/v1",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let user: Value =
                serde_json::from_str(request["messages"][1]["content"].as_str().unwrap_or("{}"))
                    .unwrap_or_default();
            let mappings: Vec<Value> = user["fields"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    let path = f["path"].as_str().unwrap_or_default();
                    let target = (path == "zq_amt").then_some("price_minor");
                    serde_json::json!({"path": path, "target": target, "confidence": 0.93, "reason": "fake"})
                })
                .collect();
            let reply = serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": request["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                    "content": serde_json::json!({"mappings": mappings}).to_string()}}],
                "usage": {"prompt_tokens": 400, "completion_tokens": 40, "total_tokens": 440},
            })
            .to_string();
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (base, calls)
}

#[test]
fn suggest_uses_a_configured_model_unless_offline() {
    let (base, calls) = fake_model();
    let dir = std::env::temp_dir().join(format!("tb-suggest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let sample = dir.join("export.json");
    let records: Vec<Value> = (0..10)
        .map(|i| serde_json::json!({"id": format!("ITM{i:04}X"), "title": "Latte", "zq_amt": 450 + i}))
        .collect();
    std::fs::write(&sample, serde_json::to_vec(&records).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let run = |offline: bool| {
        let mut cmd = bin();
        cmd.args(["suggest", "--sample"]).arg(&sample);
        if offline {
            cmd.arg("--offline");
        }
        cmd.env("TILLBRIDGE_LLM_BASE_URL", &base)
            .env("TILLBRIDGE_LLM_MODELS", "gpt-4o-mini")
            .env("TILLBRIDGE_LLM_API_KEY", "sk-test")
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let target_of = |out: &std::process::Output| -> Value {
        let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        rows.as_array()
            .and_then(|r| r.iter().find(|s| s["source"] == "zq_amt"))
            .map(|s| s["target"].clone())
            .unwrap_or_default()
    };

    let offline = run(true);
    assert_eq!(code(&offline), 0, "{}", stderr(&offline));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(target_of(&offline), Value::Null);

    let online = run(false);
    assert_eq!(code(&online), 0, "{}", stderr(&online));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(target_of(&online), "price_minor");
    assert!(
        stderr(&online).contains("llm: gpt-4o-mini answered"),
        "{}",
        stderr(&online)
    );
}

#[test]
fn profile_check_validates_and_prints_the_canonical_events_of_samples() {
    let dir = root().join("samples/profiles");
    let o = bin()
        .args(["profile", "check"])
        .arg(dir.join("acme-pos.json"))
        .arg("--sample")
        .arg(dir.join("acme-pos-item-updated.json"))
        .output()
        .expect("runs");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let variants: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|e| e["data"]["item"]["name"] == "Flat white")
        .collect();
    assert_eq!(variants.len(), 2, "{lines:#?}");
    assert_eq!(variants[0]["type"], "pos.catalog.item.upserted");
    assert_eq!(variants[0]["provider"], "acme-pos");
    assert_eq!(variants[0]["data"]["item"]["price_minor"], 320);
    assert_eq!(variants[1]["data"]["item"]["variant_name"], "Large");

    // A bad profile: exit 2, one error line naming the problem's path.
    let bad = temp(
        "bad-profile.json",
        br#"{"name":"acme-pos","version":1,"title":"A","sources":["s"],"mapping":{"fields":[{"source":"id","target":"ident"}]}}"#,
    );
    let o = bin()
        .args(["profile", "check"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(code(&o), 2);
    assert_one_error_line(&o);
    assert!(
        stderr(&o).contains("mapping.fields[0].target"),
        "{}",
        stderr(&o)
    );

    // Every shipped profile checks.
    let vendors = root().join("shared/profiles/vendors");
    for entry in std::fs::read_dir(vendors).expect("vendors") {
        let path = entry.expect("entry").path();
        let o = bin()
            .args(["profile", "check"])
            .arg(&path)
            .output()
            .expect("runs");
        assert_eq!(code(&o), 0, "{}: {}", path.display(), stderr(&o));
    }
}

#[test]
fn costs_census_files_storage_that_the_cost_table_prices() {
    let state = std::env::temp_dir().join(format!("tillbridge-census-{}", uuid::Uuid::now_v7()));
    let out = bin()
        .args(["demo", "--state"])
        .arg(&state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = bin()
        .args(["costs", "census", "--state"])
        .arg(&state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let cafe = lines
        .as_array()
        .and_then(|a| a.iter().find(|l| l["tenant_id"] == "demo-cafe"))
        .cloned()
        .unwrap_or_default();
    let stored = &cafe["stored"];
    assert!(stored["blobs"].as_u64() > Some(0), "{cafe}");
    assert!(stored["table_items"].as_u64() > Some(0), "{cafe}");
    assert_eq!(
        cafe["interval_secs"], 86_400,
        "a first census counts one day"
    );
    assert_eq!(
        cafe["s3_byte_hours"].as_u64(),
        stored["blob_bytes"].as_u64().map(|b| b * 24)
    );
    // The month of the census has the storage in its infrastructure cost, totals adding up.
    let month = cafe_period();
    let out = bin()
        .args([
            "costs", "table", "--format", "csv", "--totals", "--period", &month,
        ])
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with(",infra_cost_usd")),
        "{csv}"
    );
    let infra: Vec<rust_decimal::Decimal> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next())
        .filter_map(|c| c.parse().ok())
        .collect();
    let (total, rows) = infra.split_last().unwrap_or_else(|| panic!("{csv}"));
    assert!(*total > rust_decimal::Decimal::ZERO, "{csv}");
    assert_eq!(
        rows.iter().copied().sum::<rust_decimal::Decimal>(),
        *total,
        "{csv}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

/// The current month (the census files under the month it runs in), `YYYY-MM` UTC.
fn cafe_period() -> String {
    use tillbridge_ports::Clock as _;
    tillbridge_ports::SystemClock
        .now()
        .to_string()
        .chars()
        .take(7)
        .collect()
}

/// Usage errors (exit 2) name what was wrong in one line: a missing argument, an unknown
/// provider, an unreadable export; a byte order mark before a JSON document is no error.
#[test]
fn usage_errors_name_the_problem_and_a_bom_is_read_past() {
    let body = temp("body.json", b"{}");
    let o = bin()
        .args(["verify", "--provider", "shopify", "--body-file"])
        .arg(&body)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&o), 2);
    assert_one_error_line(&o);
    assert!(stderr(&o).contains("--secret"), "{}", stderr(&o));

    for cmd in [
        vec![
            "verify",
            "--provider",
            "acme",
            "--secret",
            "s",
            "--body-file",
        ],
        vec![
            "normalize",
            "--provider",
            "acme",
            "--tenant",
            "t1",
            "--body-file",
        ],
    ] {
        let o = bin()
            .args(&cmd)
            .arg(&body)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&o), 2, "{cmd:?}: {}", stderr(&o));
        assert_one_error_line(&o);
        assert!(
            stderr(&o).contains("unknown provider \"acme\""),
            "{}",
            stderr(&o)
        );
    }

    let state = temp("x", b"").with_file_name("state");
    for (name, bytes) in [
        ("empty.json", &b""[..]),
        ("junk.json", &b"\x00\x01binary"[..]),
        ("header-only.csv", &b"id,name,price\n"[..]),
        ("no-records.json", &b" [ \n ] "[..]),
    ] {
        let o = migrate_offline(&temp(name, bytes), &state);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains("error: export: "), "{}", stderr(&o));
    }

    let bom = temp(
        "bom.json",
        b"\xEF\xBB\xBF[{\"id\": \"1\", \"name\": \"Latte\", \"price\": \"4.50\"}]",
    );
    let o = bin()
        .args(["suggest", "--offline", "--sample"])
        .arg(&bom)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = migrate_offline(&bom, &state);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// `migrate --approve-all --offline` of `export` for the sample tenant on `state`.
fn migrate_offline(export: &std::path::Path, state: &std::path::Path) -> Output {
    bin()
        .args([
            "migrate",
            "--tenant",
            "demo-cafe",
            "--source-name",
            "generic",
        ])
        .args(["--approve-all", "--offline", "--export"])
        .arg(export)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// CLI.md: for CSV, a source path is "the header text as written" — padding included — and
/// the padded header still finds its target.
#[test]
fn suggest_keeps_csv_headers_as_written() {
    let csv = temp(
        "padded.csv",
        b"Item ID, Item Name ,Price(EUR) \nA1,Latte,\"4,50\"\nA2,Mocha,\"5,00\"\n",
    );
    let o = bin()
        .args(["suggest", "--offline", "--sample"])
        .arg(&csv)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    let target = |source: &str| {
        out.as_array()
            .and_then(|a| a.iter().find(|e| e["source"] == source))
            .map(|e| e["target"].clone())
    };
    assert_eq!(target(" Item Name "), Some(Value::from("name")), "{out}");
    assert_eq!(
        target("Price(EUR) "),
        Some(Value::from("price_minor")),
        "{out}"
    );
    assert_eq!(target("Item Name"), None, "not trimmed: {out}");

    // Not an array of records: a usage error naming why.
    for (bytes, why) in [
        (&b"[1, 2, \"x\"]"[..], "element 0 is a number"),
        (&b"{}"[..], "no fields"),
        (&b"[]"[..], "no fields"),
    ] {
        let sample = temp("not-records.json", bytes);
        let o = bin()
            .args(["suggest", "--offline", "--sample"])
            .arg(&sample)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert_one_error_line(&o);
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
    }
}

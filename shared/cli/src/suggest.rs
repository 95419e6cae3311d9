//! `tillbridge suggest --sample FILE [--source-name NAME] [--offline] [--format json]` (CLI.md).

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;
use tillbridge_mapping::{profile_csv, profile_json, suggest};

use crate::{Failure, Outcome, read_input};

#[derive(clap::Args)]
pub struct Args {
    /// A JSON array of records (nested allowed) or a CSV export with a header row.
    #[arg(long)]
    sample: PathBuf,
    /// The source system's name (e.g. square), for the reasons and the audit trail.
    #[arg(long)]
    source_name: Option<String>,
    /// Never call a model. Without it the LLM tier runs when TILLBRIDGE_LLM_BASE_URL,
    /// TILLBRIDGE_LLM_MODELS and TILLBRIDGE_LLM_API_KEY are set (spending at most
    /// TILLBRIDGE_LLM_BUDGET_USD, default 1.00, per run); otherwise the offline tiers alone.
    #[arg(long)]
    offline: bool,
    #[arg(long, default_value = "json", value_parser = ["json"])]
    format: String,
}

/// The records of a JSON sample: an array, an object holding one array of records, or one record.
fn records(value: Value) -> Result<Vec<Value>, Failure> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => {
            let arrays: Vec<&Value> = map
                .values()
                .filter(|v| v.as_array().is_some_and(|a| a.iter().any(Value::is_object)))
                .collect();
            match arrays.as_slice() {
                [Value::Array(items)] if map.len() <= 3 => Ok(items.clone()),
                _ => Ok(vec![Value::Object(map)]),
            }
        }
        _ => Err(Failure::usage("the JSON sample is not an array of records")),
    }
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A folder of sources in the mapping-dev layout: <source>/sample.json|sample.csv + truth.json.
    #[arg(long)]
    dir: PathBuf,
}

/// Loads a sample file into field profiles (JSON records or CSV).
fn profiles(path: &std::path::Path) -> Result<Vec<tillbridge_mapping::FieldProfile>, Failure> {
    let bytes = crate::read_document(&path.to_path_buf(), "sample")?;
    let starts_json =
        bytes.trim_ascii_start().starts_with(b"[") || bytes.trim_ascii_start().starts_with(b"{");
    let is_csv = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => true,
        Some("json") => false,
        _ => !starts_json,
    };
    if is_csv {
        profile_csv(&bytes).map_err(|e| Failure::usage(format!("cannot read the CSV sample: {e}")))
    } else {
        let text =
            String::from_utf8(bytes).map_err(|_| Failure::usage("the sample is not UTF-8"))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("the sample is not valid JSON: {e}")))?;
        let records = records(value)?;
        if let Some((i, other)) = records
            .iter()
            .enumerate()
            .find(|(_, r)| !r.is_object() && !r.is_null())
        {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            return Err(Failure::usage(format!(
                "the JSON sample is an array of records (objects); element {i} is {kind}"
            )));
        }
        let profiles = profile_json(&records);
        if profiles.is_empty() {
            return Err(Failure::usage("the sample's records have no fields"));
        }
        Ok(profiles)
    }
}

/// `tillbridge suggest-eval --dir DIR`: scores every source folder and the total.
pub fn eval(a: EvalArgs) -> Outcome {
    use tillbridge_mapping::eval::{Score, score};
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&a.dir)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", a.dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("truth.json").exists())
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Err(Failure::usage(format!(
            "no <source>/truth.json under {}",
            a.dir.display()
        )));
    }
    let (mut strict_total, mut lenient_total) = (Score::default(), Score::default());
    let mut rows = Vec::new();
    for dir in entries {
        let sample = ["sample.json", "sample.csv"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .ok_or_else(|| Failure::usage(format!("{} has no sample", dir.display())))?;
        let truth: Value = serde_json::from_slice(&read_input(&dir.join("truth.json"), "truth")?)
            .map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
        let suggestions = suggest(&profiles(&sample)?);
        let (strict, lenient, misses) = score(&suggestions, &truth);
        strict_total.add(&strict);
        lenient_total.add(&lenient);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.push(serde_json::json!({ "source": name, "strict": summary(&strict), "lenient": summary(&lenient), "misses": misses }));
    }
    let report = serde_json::json!({ "sources": rows, "total": { "strict": summary(&strict_total), "lenient": summary(&lenient_total) } });
    let out =
        serde_json::to_string_pretty(&report).map_err(|e| Failure::usage(e.to_string()))? + "\n";
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))
}

fn summary(s: &tillbridge_mapping::eval::Score) -> Value {
    let r = |v: f64| (v * 1000.0).round() / 1000.0;
    serde_json::json!({ "fields": s.fields, "precision": r(s.precision()), "recall": r(s.recall()), "f1": r(s.f1()), "high_band_precision": r(s.high_precision()), "high_band": s.high })
}

pub fn run(a: Args) -> Outcome {
    let _ = (&a.format, &a.source_name);
    let fields = profiles(&a.sample)?;
    let mut suggestions = suggest(&fields);
    if !a.offline
        && let Some(config) = tillbridge_llm::Config::from_env()
    {
        refine_with_model(config, &fields, &mut suggestions)?;
    }
    let out = serde_json::to_string_pretty(&suggestions)
        .map_err(|e| Failure::usage(e.to_string()))?
        + "\n";
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))
}

/// Runs the LLM tier for one local export: an in-memory table holds this run's budget and
/// cache; what was called and spent goes to stderr (stdout stays the suggestions).
fn refine_with_model(
    config: tillbridge_llm::Config,
    fields: &[tillbridge_mapping::FieldProfile],
    suggestions: &mut [tillbridge_mapping::Suggestion],
) -> Result<(), Failure> {
    use std::sync::Arc;

    use tillbridge_domain::{CorrelationId, TenantId};
    use tillbridge_ports::memory::{MemoryTable, RecordingBus};
    use tillbridge_ports::{Clock, SystemClock};

    let budget: rust_decimal::Decimal = std::env::var("TILLBRIDGE_LLM_BUDGET_USD")
        .ok()
        .map_or(Ok(rust_decimal::Decimal::ONE), |v| v.trim().parse())
        .map_err(|_| Failure::usage("TILLBRIDGE_LLM_BUDGET_USD is not a decimal amount"))?;
    let client = tillbridge_llm::ChatClient::new(config)
        .map_err(|e| Failure::usage(format!("LLM tier: {e}")))?;
    let clock = Arc::new(SystemClock);
    let table = MemoryTable::new(clock.clone());
    let bus = RecordingBus::default();
    let prices = tillbridge_costs::PriceTable::bundled();
    let tenant = TenantId::parse("local").map_err(|e| Failure::usage(e.to_string()))?;
    let correlation =
        CorrelationId::parse("cli-suggest").map_err(|e| Failure::usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))?;
    let outcome = runtime.block_on(async {
        let tier = tillbridge_llm::LlmTier {
            client: &client,
            table: &table,
            bus: &bus,
            prices: &prices,
        };
        let req = tillbridge_llm::Request {
            tenant: &tenant,
            migration_id: None,
            correlation: &correlation,
            budget_usd: Some(budget),
            at: clock.now(),
        };
        tier.refine(fields, suggestions, &req).await
    });
    let mut err = std::io::stderr().lock();
    for c in &outcome.calls {
        let _ = writeln!(
            err,
            "llm: {} answered {} fields ({} input, {} cached, {} output tokens)",
            c.model, c.answered, c.tokens.input, c.tokens.cached_input, c.tokens.output
        );
    }
    if let Some(why) = &outcome.fallback {
        let _ = writeln!(err, "llm: fell back to the offline tiers: {why}");
    }
    Ok(())
}

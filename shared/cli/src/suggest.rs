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
    /// Never call a model (the LLM tier is not configured in this build, so this is the default).
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

pub fn run(a: Args) -> Outcome {
    let _ = (a.offline, &a.format, &a.source_name);
    let bytes = read_input(&a.sample, "sample")?;
    let text = String::from_utf8(bytes).map_err(|_| Failure::usage("the sample is not UTF-8"))?;
    let is_csv = match a
        .sample
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => true,
        Some("json") => false,
        _ => !text.trim_start().starts_with(['[', '{']),
    };
    let fields = if is_csv {
        profile_csv(&text)
            .map_err(|e| Failure::usage(format!("cannot read the CSV sample: {e}")))?
    } else {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("the sample is not valid JSON: {e}")))?;
        profile_json(&records(value)?)
    };
    let suggestions = suggest(&fields);
    let out = serde_json::to_string_pretty(&suggestions)
        .map_err(|e| Failure::usage(e.to_string()))?
        + "\n";
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))
}

//! `tillbridge validate --items FILE.jsonl [--format json] [--fail-on error]` (CLI.md).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use tillbridge_validation::{Options, Severity, Validator};

use crate::{Failure, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// One canonical item per line (modifier groups as {"kind": "modifier_group", …} lines).
    #[arg(long)]
    items: PathBuf,
    /// json (the contract) or text (for people).
    #[arg(long, default_value = "json", value_parser = ["json", "text"])]
    format: String,
    /// Exit 1 when findings of this severity are present.
    #[arg(long, value_parser = ["error", "warning"])]
    fail_on: Option<String>,
    /// The tenant's country (ISO 3166), for the VAT-rate check (SE: 25/12/6 %).
    #[arg(long)]
    country: Option<String>,
}

pub fn run(a: Args) -> Outcome {
    let file = std::fs::File::open(&a.items).map_err(|e| {
        Failure::usage(format!("cannot read items file {}: {e}", a.items.display()))
    })?;
    let mut validator = Validator::new(Options {
        country: a.country.clone(),
    });
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Failure::usage(format!("cannot read items file: {e}")))?;
        if read == 0 {
            break;
        }
        n += 1;
        if n == 1 && buf.starts_with(crate::BOM) {
            buf.drain(..crate::BOM.len());
        }
        // Invalid UTF-8 is a broken line like any other, not a reason to stop.
        validator.push_line(n, &String::from_utf8_lossy(&buf));
    }
    let report = validator.finish();
    let out = if a.format == "text" {
        let mut s = format!(
            "{} items: {} errors, {} warnings\n",
            report.summary.items, report.summary.errors, report.summary.warnings
        );
        for f in &report.findings {
            let sev = if f.severity == Severity::Error {
                "error  "
            } else {
                "warning"
            };
            s.push_str(&format!(
                "line {:>6}  {sev}  {:<28} {}: {}\n",
                f.line, f.rule, f.item, f.message
            ));
        }
        s
    } else {
        serde_json::to_string_pretty(&report).map_err(|e| Failure::usage(e.to_string()))? + "\n"
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))?;
    let failing = match a.fail_on.as_deref() {
        Some("error") => report.summary.errors > 0,
        Some("warning") => report.summary.errors + report.summary.warnings > 0,
        _ => false,
    };
    if failing {
        return Err(Failure::rejected(format!(
            "{} errors, {} warnings",
            report.summary.errors, report.summary.warnings
        )));
    }
    Ok(())
}

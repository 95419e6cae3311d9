//! `tillbridge costs table`: per-tenant AI cost for one month, JSON or CSV (CLI.md).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use tillbridge_costs::table::{Budgets, TableBuilder};
use tillbridge_costs::{Period, PriceBook, PriceTable};

use crate::{Failure, Outcome, read_input};

#[derive(clap::Subcommand)]
pub enum Command {
    /// One row per tenant with usage in the period, sorted by tenant id.
    Table(TableArgs),
}

#[derive(clap::Args)]
pub struct TableArgs {
    /// Usage lines (JSONL), one model call each.
    #[arg(long)]
    usage: PathBuf,
    /// The month, YYYY-MM (UTC).
    #[arg(long)]
    period: String,
    /// Price map in LiteLLM's format (default: the bundled one).
    #[arg(long)]
    prices: Option<PathBuf>,
    /// Monthly budgets, {"TENANT": "MONTHLY_USD"}.
    #[arg(long)]
    budgets: Option<PathBuf>,
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    format: String,
}

pub fn run(c: Command) -> Outcome {
    match c {
        Command::Table(a) => table(a),
    }
}

fn table(a: TableArgs) -> Outcome {
    let period = Period::parse(&a.period).map_err(|e| Failure::usage(e.to_string()))?;
    let book = match &a.prices {
        Some(p) => {
            let text = String::from_utf8(read_input(p, "price map")?)
                .map_err(|_| Failure::usage("price map is not UTF-8"))?;
            PriceBook::single(
                PriceTable::from_litellm_json(&text).map_err(|e| Failure::usage(e.to_string()))?,
            )
        }
        None => PriceBook::bundled(),
    };
    let budgets = match &a.budgets {
        Some(p) => {
            let text = String::from_utf8(read_input(p, "budgets file")?)
                .map_err(|_| Failure::usage("budgets file is not UTF-8"))?;
            Budgets::from_json(&text).map_err(|e| Failure::usage(e.to_string()))?
        }
        None => Budgets::default(),
    };
    let file = std::fs::File::open(&a.usage).map_err(|e| {
        Failure::usage(format!("cannot read usage file {}: {e}", a.usage.display()))
    })?;
    let mut builder = TableBuilder::new(period, &book);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("usage file line {}: {e}", n + 1)))?;
        if read == 0 {
            break;
        }
        n += 1;
        builder
            .add_line(n, &line)
            .map_err(|e| Failure::usage(format!("usage file {e}")))?;
    }
    let table = builder.finish(&budgets);
    if !table.unpriced_models.is_empty() {
        let names: Vec<&str> = table.unpriced_models.iter().map(String::as_str).collect();
        eprintln!(
            "warning: not in the price map, counted in unpriced_requests and not priced: {}",
            names.join(", ")
        );
    }
    let out = if a.format == "csv" {
        table.to_csv()
    } else {
        table.to_json() + "\n"
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))?;
    Ok(())
}

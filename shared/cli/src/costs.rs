//! `tillbridge costs`: per-tenant AI cost tables (CLI.md) from a usage file or from the
//! embedded store's ledger, and re-pricing dry runs.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use rust_decimal::Decimal;
use tillbridge_accounting::{BudgetState, BudgetStatus, CrossedThreshold, THRESHOLDS};
use tillbridge_costs::table::{Budgets, HardLimits, TableBuilder};
use tillbridge_costs::{CostTable, Period, PriceBook, PriceTable, format_fixed};

use crate::{Failure, Outcome, read_input};

#[derive(clap::Subcommand)]
pub enum Command {
    /// One row per tenant with usage in the period, sorted by tenant id.
    Table(TableArgs),
    /// Dry run of a price correction: per tenant, the total now and under the new prices.
    Reprice(RepriceArgs),
    /// Every tenant with a budget: budget (soft limit) and hard limit, spend, share used,
    /// thresholds crossed and state; a line on stderr for each tenant at a threshold.
    Budgets(BudgetsArgs),
    /// Consolidate a legacy usage log (CSV or JSON lines: total tokens, a computed cost, a
    /// service, a user) into serve's embedded store: costs kept as recorded, services mapped
    /// to operations and features, idempotent, ending with the count and total check.
    Import(ImportArgs),
    /// Set an AWS Cost and Usage Report export (CSV) beside the metered infrastructure cost
    /// of every tenant in serve's embedded store: the difference per service.
    Reconcile(ReconcileArgs),
    /// Storage census of every tenant in serve's embedded store: items, blobs and secrets
    /// stored now, filed as byte-hours (secret-hours) since the tenant's last census; run it
    /// daily (the cloud runs it on a schedule) so the month adds up to GB-months.
    Census(CensusArgs),
}

#[derive(clap::Args)]
pub struct CensusArgs {
    /// State directory of `tillbridge serve`'s embedded store.
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (default: STATE/tenants.json, else the bundled samples).
    #[arg(long)]
    tenants: Option<PathBuf>,
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    format: String,
}

#[derive(clap::Args)]
pub struct ReconcileArgs {
    /// The CUR export (CSV; legacy or CUR 2.0 column names).
    #[arg(long)]
    cur: PathBuf,
    /// The month, YYYY-MM (UTC).
    #[arg(long)]
    period: String,
    /// State directory of `tillbridge serve`'s embedded store.
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (default: STATE/tenants.json, else the bundled samples).
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// AWS Price List offer file(s) (JSON, one offer or an array) for the region; default:
    /// the bundled us-east-1 extract.
    #[arg(long)]
    aws_prices: Option<PathBuf>,
    /// The region the stack runs in.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    format: String,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The legacy log: CSV with a header row, or JSON lines.
    #[arg(long)]
    log: PathBuf,
    /// Service mapping, {"SERVICE": {"operation": "…", "feature": "…"}}.
    #[arg(long)]
    services: PathBuf,
    /// The tenant of rows that name none.
    #[arg(long)]
    tenant: Option<String>,
    /// State directory of `tillbridge serve`'s embedded store.
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (default: STATE/tenants.json, else the bundled samples).
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Price map in LiteLLM's format for the price comparison (default: the bundled one).
    #[arg(long)]
    prices: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BudgetsArgs {
    /// Usage lines (JSONL), one model call each; needs --budgets.
    #[arg(long, required_unless_present = "state", requires = "budgets")]
    usage: Option<PathBuf>,
    /// Read the budgets, ledger and threshold announcements of `tillbridge serve`'s embedded
    /// store instead.
    #[arg(long, conflicts_with_all = ["usage", "budgets"])]
    state: Option<PathBuf>,
    /// Tenants file for --state (default: STATE/tenants.json, else the bundled samples).
    #[arg(long, requires = "state")]
    tenants: Option<PathBuf>,
    /// The month, YYYY-MM (UTC).
    #[arg(long)]
    period: String,
    /// Price map in LiteLLM's format (default: the bundled one).
    #[arg(long)]
    prices: Option<PathBuf>,
    /// Budgets, {"TENANT": "MONTHLY_USD"} or {"TENANT": {"monthly_usd": "…",
    /// "hard_limit_usd": "…"}}.
    #[arg(long)]
    budgets: Option<PathBuf>,
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    format: String,
}

#[derive(clap::Args)]
pub struct TableArgs {
    /// Usage lines (JSONL), one model call each.
    #[arg(long, required_unless_present = "state")]
    usage: Option<PathBuf>,
    /// Read the ledger of `tillbridge serve`'s embedded store instead of a usage file.
    #[arg(long, conflicts_with = "usage")]
    state: Option<PathBuf>,
    /// Tenants file for --state (default: STATE/tenants.json, else the bundled samples).
    #[arg(long, requires = "state")]
    tenants: Option<PathBuf>,
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
    /// Append a `(total)` row; the rows' cost_usd (and infra_cost_usd) are then allocated by
    /// largest remainder so they add up to it to the last digit.
    #[arg(long)]
    totals: bool,
}

#[derive(clap::Args)]
pub struct RepriceArgs {
    #[arg(long)]
    usage: PathBuf,
    #[arg(long)]
    period: String,
    /// The prices in force (default: the bundled map).
    #[arg(long)]
    prices: Option<PathBuf>,
    /// The corrected price map.
    #[arg(long)]
    new_prices: PathBuf,
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    format: String,
}

pub fn run(c: Command) -> Outcome {
    match c {
        Command::Table(a) => table(a),
        Command::Reprice(a) => reprice(a),
        Command::Budgets(a) => budgets(a),
        Command::Import(a) => import(a),
        Command::Reconcile(a) => reconcile(a),
        Command::Census(a) => census(a),
    }
}

fn price_book(path: Option<&PathBuf>) -> Result<PriceBook, Failure> {
    match path {
        Some(p) => {
            let text = String::from_utf8(crate::read_document(p, "price map")?)
                .map_err(|_| Failure::usage("price map is not UTF-8"))?;
            Ok(PriceBook::single(
                PriceTable::from_litellm_json(&text).map_err(|e| Failure::usage(e.to_string()))?,
            ))
        }
        None => Ok(PriceBook::bundled()),
    }
}

/// Streams a usage file once into one builder per price book.
fn build_tables(
    usage: &PathBuf,
    period: Period,
    books: &[&PriceBook],
    budgets: &Budgets,
) -> Result<Vec<CostTable>, Failure> {
    let file = std::fs::File::open(usage)
        .map_err(|e| Failure::usage(format!("cannot read usage file {}: {e}", usage.display())))?;
    let mut builders: Vec<TableBuilder<'_>> =
        books.iter().map(|b| TableBuilder::new(period, b)).collect();
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
        if n == 1 && line.starts_with('\u{feff}') {
            line.drain(..'\u{feff}'.len_utf8());
        }
        for b in &mut builders {
            b.add_line(n, &line)
                .map_err(|e| Failure::usage(format!("usage file {e}")))?;
        }
    }
    Ok(builders.into_iter().map(|b| b.finish(budgets)).collect())
}

fn write_out(text: &str) -> Outcome {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))
}

/// The status of each budget from a usage file: the thresholds a spend has reached (no
/// announcements are kept in a file, so no event ids).
fn statuses_from_file(
    usage: &PathBuf,
    period: Period,
    book: &PriceBook,
    budgets: &Budgets,
    hard: &HardLimits,
) -> Result<Vec<BudgetStatus>, Failure> {
    let table = build_tables(usage, period, &[book], budgets)?.remove(0);
    let mut tenants: Vec<&String> = budgets.0.keys().collect();
    tenants.sort();
    Ok(tenants
        .into_iter()
        .map(|tenant| {
            let monthly = budgets.0[tenant];
            let hard = hard.0.get(tenant).copied().unwrap_or(monthly);
            let spent = table
                .rows
                .iter()
                .find(|r| &r.tenant_id == tenant)
                .map_or(Decimal::ZERO, |r| r.cost_usd);
            let reached = |t: u32| {
                !monthly.is_zero() && spent * Decimal::ONE_HUNDRED >= monthly * Decimal::from(t)
            };
            BudgetStatus {
                tenant_id: tenant.clone(),
                period: period.label(),
                monthly_usd: monthly,
                hard_limit_usd: hard,
                spent_usd: spent,
                reserved_usd: Decimal::ZERO,
                used_percent: (!monthly.is_zero()).then(|| spent * Decimal::ONE_HUNDRED / monthly),
                thresholds_crossed: THRESHOLDS
                    .into_iter()
                    .filter(|t| reached(*t))
                    .map(|percent| CrossedThreshold {
                        percent,
                        event_id: None,
                    })
                    .collect(),
                state: if spent >= hard {
                    BudgetState::HardLimitReached
                } else if spent >= monthly {
                    BudgetState::OverBudget
                } else {
                    BudgetState::Within
                },
            }
        })
        .collect())
}

const BUDGET_COLUMNS: [&str; 8] = [
    "tenant_id",
    "period",
    "monthly_usd",
    "hard_limit_usd",
    "spent_usd",
    "used_percent",
    "thresholds_crossed",
    "state",
];

fn budgets(a: BudgetsArgs) -> Outcome {
    let period = Period::parse(&a.period).map_err(|e| Failure::usage(e.to_string()))?;
    let book = price_book(a.prices.as_ref())?;
    let statuses = match (&a.usage, &a.budgets, &a.state) {
        (Some(usage), Some(file), _) => {
            let text = String::from_utf8(crate::read_document(file, "budgets file")?)
                .map_err(|_| Failure::usage("budgets file is not UTF-8"))?;
            let (budgets, hard) =
                Budgets::with_hard_limits(&text).map_err(|e| Failure::usage(e.to_string()))?;
            statuses_from_file(usage, period, &book, &budgets, &hard)?
        }
        (None, None, Some(state)) => {
            crate::serve::store_budgets(state, a.tenants.as_deref(), &book, &period.label())?
        }
        _ => {
            return Err(Failure::usage(
                "give --usage FILE --budgets FILE, or --state DIR",
            ));
        }
    };
    for s in statuses.iter().filter(|s| !s.thresholds_crossed.is_empty()) {
        let crossed: Vec<String> = s
            .thresholds_crossed
            .iter()
            .map(|t| format!("{} %", t.percent))
            .collect();
        eprintln!(
            "budget: {} {} spent {} USD of {} ({} % used; crossed {}; hard limit {}): {}",
            s.tenant_id,
            s.period,
            format_fixed(s.spent_usd, 6),
            format_fixed(s.monthly_usd, 6),
            s.used_percent
                .map_or_else(|| "-".into(), |p| format_fixed(p, 2)),
            crossed.join(", "),
            format_fixed(s.hard_limit_usd, 6),
            serde_json::to_value(s.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        );
    }
    let rows: Vec<serde_json::Value> = statuses.iter().map(BudgetStatus::to_json).collect();
    if a.format == "csv" {
        let mut out = BUDGET_COLUMNS.join(",") + "\r\n";
        for r in &rows {
            let cell = |k: &str| match &r[k] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|t| t["percent"].as_u64().map(|p| p.to_string()))
                    .collect::<Vec<_>>()
                    .join(";"),
                v => v.to_string(),
            };
            out.push_str(&BUDGET_COLUMNS.map(cell).join(","));
            out.push_str("\r\n");
        }
        write_out(&out)
    } else {
        write_out(&(serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"))
    }
}

/// Exit 0 when the check passed; 1 when it did not (the report says why); 2 for unusable
/// input.
fn import(a: ImportArgs) -> Outcome {
    let book = price_book(a.prices.as_ref())?;
    let services: tillbridge_accounting::legacy::ServiceMapping =
        serde_json::from_slice(&crate::read_document(&a.services, "service mapping")?).map_err(|e| {
            Failure::usage(format!(
                "service mapping: expected {{\"SERVICE\": {{\"operation\": \"…\", \"feature\": \"…\"}}}}: {e}"
            ))
        })?;
    let (rows, errors) =
        tillbridge_accounting::legacy::read_legacy(&read_input(&a.log, "legacy log")?)
            .map_err(Failure::usage)?;
    let tenant = a
        .tenant
        .as_deref()
        .map(tillbridge_domain::TenantId::parse)
        .transpose()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let report = crate::serve::store_import_legacy(
        &a.state,
        a.tenants.as_deref(),
        &book,
        &rows,
        errors,
        &services,
        tenant.as_ref(),
    )?;
    write_out(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"))?;
    if !report.unmapped_services.is_empty() {
        return Err(Failure::usage(format!(
            "services the mapping does not name (nothing imported): {}",
            report.unmapped_services.join(", ")
        )));
    }
    eprintln!(
        "legacy import: {} rows in, {} recorded, {} already recorded, {} rejected; legacy total {} USD, recorded {} USD: check {}",
        report.rows_in,
        report.recorded,
        report.already_recorded,
        report.rejected.len(),
        report.legacy_total_usd,
        report.recorded_total_usd,
        if report.check_passed {
            "passed"
        } else {
            "FAILED"
        }
    );
    if report.check_passed {
        Ok(())
    } else {
        Err(Failure::rejected(
            "the legacy import's check failed (see the report)",
        ))
    }
}

fn census(a: CensusArgs) -> Outcome {
    let lines = crate::serve::store_census(&a.state, a.tenants.as_deref())?;
    if a.format == "csv" {
        write_out(&census_csv(&lines))
    } else {
        write_out(&(serde_json::to_string_pretty(&lines).unwrap_or_default() + "\n"))
    }
}

/// The census as CSV: one row per tenant, GB-months of the interval at 6 places.
pub fn census_csv(lines: &[tillbridge_accounting::census::CensusLine]) -> String {
    let mut out = String::from(
        "tenant_id,table_items,table_bytes,blobs,blob_bytes,secrets,interval_secs,dynamodb_byte_hours,s3_byte_hours,secret_hours\r\n",
    );
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\r\n",
            tillbridge_costs::table::csv_text(&l.tenant_id),
            l.stored.table_items,
            l.stored.table_bytes,
            l.stored.blobs,
            l.stored.blob_bytes,
            l.stored.secrets,
            l.interval_secs,
            l.dynamodb_byte_hours,
            l.s3_byte_hours,
            l.secret_hours
        ));
    }
    out
}

fn reconcile(a: ReconcileArgs) -> Outcome {
    use tillbridge_accounting::reconcile as r;
    let period = Period::parse(&a.period).map_err(|e| Failure::usage(e.to_string()))?;
    let cur =
        r::read_cur(&read_input(&a.cur, "CUR export")?, &period.label()).map_err(Failure::usage)?;
    let list = match &a.aws_prices {
        Some(p) => Some(
            String::from_utf8(read_input(p, "AWS price list")?)
                .map_err(|_| Failure::usage("AWS price list is not UTF-8"))?,
        ),
        None => None,
    };
    let prices = r::infra_prices(list.as_deref(), &a.region);
    if let Some(note) = &prices.note {
        if a.aws_prices.is_some() {
            return Err(Failure::usage(note.clone()));
        }
        eprintln!("note: {note}");
    }
    let metered = crate::serve::store_metered_by_service(
        &a.state,
        a.tenants.as_deref(),
        &period.label(),
        &prices.prices,
    )?;
    let mut report = r::reconcile(&period.label(), &metered, &cur);
    report.priced_with = Some(prices);
    if a.format == "csv" {
        write_out(&report.to_csv())
    } else {
        write_out(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"))
    }
}

fn table(a: TableArgs) -> Outcome {
    let period = Period::parse(&a.period).map_err(|e| Failure::usage(e.to_string()))?;
    let book = price_book(a.prices.as_ref())?;
    let budgets = match &a.budgets {
        Some(p) => {
            let text = String::from_utf8(crate::read_document(p, "budgets file")?)
                .map_err(|_| Failure::usage("budgets file is not UTF-8"))?;
            Budgets::from_json(&text).map_err(|e| Failure::usage(e.to_string()))?
        }
        None => Budgets::default(),
    };
    let table = match (&a.usage, &a.state) {
        (Some(usage), _) => build_tables(usage, period, &[&book], &budgets)?.remove(0),
        (None, Some(state)) => crate::serve::store_cost_table(
            state,
            a.tenants.as_deref(),
            &book,
            &period.label(),
            &budgets,
        )?,
        (None, None) => return Err(Failure::usage("give --usage FILE or --state DIR")),
    };
    if !table.unpriced_models.is_empty() {
        let names: Vec<&str> = table.unpriced_models.iter().map(String::as_str).collect();
        eprintln!(
            "warning: not in the price map, counted in unpriced_requests and not priced: {}",
            names.join(", ")
        );
    }
    write_out(&match (a.format == "csv", a.totals) {
        (true, false) => table.to_csv(),
        (true, true) => table.to_csv_with_totals(),
        (false, false) => table.to_json() + "\n",
        (false, true) => table.to_json_with_totals() + "\n",
    })
}

const REPRICE_COLUMNS: [&str; 7] = [
    "tenant_id",
    "requests",
    "old_cost_usd",
    "new_cost_usd",
    "delta_usd",
    "old_unpriced_requests",
    "new_unpriced_requests",
];

fn reprice(a: RepriceArgs) -> Outcome {
    let period = Period::parse(&a.period).map_err(|e| Failure::usage(e.to_string()))?;
    let old = price_book(a.prices.as_ref())?;
    let new = price_book(Some(&a.new_prices))?;
    let mut tables = build_tables(&a.usage, period, &[&old, &new], &Budgets::default())?;
    let (after, before) = (tables.remove(1), tables.remove(0));
    let rows: Vec<serde_json::Value> = before
        .rows
        .iter()
        .zip(&after.rows)
        .map(|(o, n)| {
            serde_json::json!({
                "tenant_id": o.tenant_id,
                "requests": o.requests,
                "old_cost_usd": format_fixed(o.cost_usd, 6),
                "new_cost_usd": format_fixed(n.cost_usd, 6),
                "delta_usd": format_fixed(n.cost_usd - o.cost_usd, 6),
                "old_unpriced_requests": o.unpriced_requests,
                "new_unpriced_requests": n.unpriced_requests,
            })
        })
        .collect();
    if a.format == "csv" {
        let mut s = REPRICE_COLUMNS.join(",") + "\r\n";
        for r in &rows {
            let cell = |k: &str| {
                r[k].as_str()
                    .map_or_else(|| r[k].to_string(), str::to_owned)
            };
            s.push_str(&REPRICE_COLUMNS.map(cell).join(","));
            s.push_str("\r\n");
        }
        write_out(&s)
    } else {
        write_out(&(serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"))
    }
}

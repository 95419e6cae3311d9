//! Legacy cost logs consolidated into the ledger (the seeds' `usage_logs` table): each row
//! carries a total token count, a cost someone already computed, a service name and a user.
//!
//! The legacy cost is kept exactly as recorded — it is what was billed — and never re-priced;
//! where the row names a model we know, our price for its tokens is compared and a row whose
//! cost lies outside what our prices allow (all tokens at the input rate … all at the output
//! rate) is flagged. A service mapping turns service names into our operations and AI
//! features. Each row becomes one ledger entry keyed by its id (or, without one, by a digest
//! of its content), so a re-import counts nothing twice. The import ends with the seed's
//! check, read back from the table: rows in = rows recorded, and the legacy total equals the
//! recorded total.
//!
//! Accepted exports: CSV with a header row, or JSON lines. Column names are matched loosely
//! (case, spaces, `_`): `id`/`log_id`/`request_id`; `created_at`/`timestamp`/`occurred_at`/
//! `date`; `service`/`service_name`; `user`/`user_id`; `total_tokens`/`tokens`;
//! `cost`/`cost_usd`/`total_cost`; `model` (optional); `tenant`/`tenant_id` (optional when the
//! import names the tenant).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tillbridge_costs::{PriceBook, format_fixed};
use tillbridge_domain::{TenantId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};

use crate::features::set_feature;
use crate::{AccountingError, CostGroup, keys, period_of, safe};

/// The model segment of legacy aggregates: their cost is fixed, never priced from tokens.
pub const LEGACY_MODEL: &str = "legacy";

/// Costs are kept in aggregates as integer nano-dollars (10^-9 USD); a legacy cost with
/// more decimal places cannot be kept exactly and is refused.
const NANOS: i64 = 1_000_000_000;

/// Where a service's usage goes: our operation, and the AI feature it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTarget {
    /// The operation (`mapping.suggest`, …).
    pub operation: String,
    /// The AI feature (`mapping`, …); recorded in the feature registry for the operation.
    #[serde(default)]
    pub feature: Option<String>,
}

/// Service name → where its usage goes: `{"SERVICE": {"operation": "…", "feature": "…"}}`.
pub type ServiceMapping = BTreeMap<String, ServiceTarget>;

/// One row of a legacy log, read.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyRow {
    /// 1-based row number in the file (the header is row 0 in CSV).
    pub row: usize,
    /// The row's own id, or a digest of its content when it has none.
    pub id: String,
    /// The tenant, when the file names it.
    pub tenant: Option<String>,
    /// When the usage happened.
    pub occurred_at: Timestamp,
    /// The legacy service name.
    pub service: String,
    /// The user as recorded (kept only as a pseudonymous digest).
    pub user: Option<String>,
    /// Tokens, all classes together.
    pub total_tokens: u64,
    /// The cost as recorded, USD, exact.
    pub cost_usd: Decimal,
    /// The model, when the log names it.
    pub model: Option<String>,
}

fn norm(h: &str) -> String {
    h.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn column(fields: &HashMap<String, String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| fields.get(*n))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn row_of(n: usize, fields: &HashMap<String, String>) -> Result<LegacyRow, String> {
    let at = column(
        fields,
        &["createdat", "timestamp", "occurredat", "date", "time"],
    )
    .ok_or("no timestamp (created_at, timestamp, occurred_at)")?;
    let occurred_at = Timestamp::parse_lenient(&at).map_err(|e| e.to_string())?;
    let service = column(fields, &["service", "servicename"]).ok_or("no service name")?;
    let tokens =
        column(fields, &["totaltokens", "tokens", "tokenstotal"]).ok_or("no total_tokens")?;
    let total_tokens: u64 = tokens
        .parse()
        .map_err(|_| format!("total_tokens {tokens:?} is not a whole number"))?;
    let cost =
        column(fields, &["cost", "costusd", "totalcost", "totalcostusd"]).ok_or("no cost")?;
    let cost_usd = tillbridge_domain::money::parse_decimal(cost.trim_start_matches('$'))
        .filter(|c| !c.is_sign_negative())
        .ok_or_else(|| format!("cost {cost:?} is not a non-negative amount"))?;
    if (cost_usd * Decimal::from(NANOS)).fract() != Decimal::ZERO {
        return Err(format!(
            "cost {cost} has more than 9 decimal places: it cannot be kept exactly"
        ));
    }
    let user = column(fields, &["user", "userid", "username"]);
    let model = column(fields, &["model", "modelname"]);
    let tenant = column(fields, &["tenant", "tenantid"]);
    let id = column(fields, &["id", "logid", "requestid", "usageid"]).unwrap_or_else(|| {
        // The same content is the same row: a re-import of an id-less log counts once.
        let mut h = Sha256::new();
        for part in [
            tenant.as_deref().unwrap_or(""),
            &at,
            &service,
            user.as_deref().unwrap_or(""),
            &tokens,
            &cost,
            model.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!("sha256-{}", &hex::encode(h.finalize())[..32])
    });
    Ok(LegacyRow {
        row: n,
        id,
        tenant,
        occurred_at,
        service,
        user,
        total_tokens,
        cost_usd,
        model,
    })
}

/// A row that could not be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based row number.
    pub row: usize,
    /// Why.
    pub reason: String,
}

/// Reads a legacy log: JSON lines when the first non-blank character is `{`, CSV with a
/// header row otherwise. Rows that cannot be read are returned as errors beside the rows
/// that can (nothing is dropped silently).
///
/// # Errors
/// The file is neither (no header, not UTF-8).
pub fn read_legacy(bytes: &[u8]) -> Result<(Vec<LegacyRow>, Vec<RowError>), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the log is not UTF-8".to_owned())?;
    let text = text.trim_start_matches('\u{feff}');
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let take = |n: usize,
                fields: HashMap<String, String>,
                rows: &mut Vec<LegacyRow>,
                errors: &mut Vec<RowError>| match row_of(n, &fields) {
        Ok(r) => rows.push(r),
        Err(reason) => errors.push(RowError { row: n, reason }),
    };
    if text.trim_start().starts_with('{') {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Map<String, Value>>(line) {
                Ok(o) => take(
                    i + 1,
                    o.into_iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => s,
                                Value::Null => String::new(),
                                other => other.to_string(),
                            };
                            (norm(&k), v)
                        })
                        .collect(),
                    &mut rows,
                    &mut errors,
                ),
                Err(e) => errors.push(RowError {
                    row: i + 1,
                    reason: format!("not a JSON object: {e}"),
                }),
            }
        }
        return Ok((distinct(rows), errors));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("no CSV header row: {e}"))?
        .iter()
        .map(norm)
        .collect();
    for (i, record) in reader.records().enumerate() {
        match record {
            Ok(r) => take(
                i + 1,
                headers
                    .iter()
                    .cloned()
                    .zip(r.iter().map(str::to_owned))
                    .collect(),
                &mut rows,
                &mut errors,
            ),
            Err(e) => errors.push(RowError {
                row: i + 1,
                reason: format!("CSV: {e}"),
            }),
        }
    }
    Ok((distinct(rows), errors))
}

/// Rows without an id that repeat another's content are rows of their own in the legacy
/// table: the second gets `-2`, the third `-3` (the same on every import of the file).
fn distinct(mut rows: Vec<LegacyRow>) -> Vec<LegacyRow> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rows.iter_mut().filter(|r| r.id.starts_with("sha256-")) {
        let n = seen.entry(r.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            r.id = format!("{}-{n}", r.id);
        }
    }
    rows
}

/// A row whose recorded cost lies outside what our prices give for its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceDifference {
    /// Row number.
    pub row: usize,
    /// The model as recorded.
    pub model: String,
    /// The recorded cost, USD.
    pub legacy_cost_usd: String,
    /// Our cost with every token at the input rate, USD.
    pub our_min_usd: String,
    /// Our cost with every token at the output rate, USD.
    pub our_max_usd: String,
}

/// What an import did, and the seed's check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Rows in the file (read or not).
    pub rows_in: usize,
    /// Rows recorded now.
    pub recorded: usize,
    /// Rows already recorded by an earlier import (counted once).
    pub already_recorded: usize,
    /// Rows that could not be read or placed.
    pub rejected: Vec<RowError>,
    /// Legacy total of the rows read, USD (6 places).
    pub legacy_total_usd: String,
    /// Total of those rows as the ledger holds them, read back, USD (6 places).
    pub recorded_total_usd: String,
    /// rows_in = recorded + already_recorded, and the totals are equal.
    pub check_passed: bool,
    /// Rows whose cost our prices cannot explain (first 100).
    pub price_differences: Vec<PriceDifference>,
    /// How many rows were flagged in all.
    pub price_differences_total: usize,
    /// Services in the file the mapping does not name (nothing is imported then).
    pub unmapped_services: Vec<String>,
}

fn pseudonym(tenant: &TenantId, user: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tillbridge-legacy-user\0");
    h.update(tenant.as_str().as_bytes());
    h.update([0]);
    h.update(user.as_bytes());
    format!("u-{}", &hex::encode(h.finalize())[..16])
}

fn our_range(
    book: &PriceBook,
    model: &str,
    tokens: u64,
    at: Timestamp,
) -> Option<(Decimal, Decimal)> {
    let v = book.version_at(at)?;
    let p = book
        .price(v, &book.canonical_name(model), at)
        .or_else(|| book.price(v, model, at))?;
    let t = Decimal::from(tokens);
    let (a, b) = (t * p.input, t * p.output);
    Some((a.min(b), a.max(b)))
}

/// Imports legacy rows into the ledger of `default_tenant` (or each row's own tenant when
/// the file names one), through `mapping`. Idempotent per row id. A file with a service the
/// mapping does not name imports nothing and lists the services.
///
/// # Errors
/// The table failed.
pub async fn import_legacy(
    table: &dyn Table,
    book: &PriceBook,
    rows: &[LegacyRow],
    mut rejected: Vec<RowError>,
    mapping: &ServiceMapping,
    default_tenant: Option<&TenantId>,
) -> Result<ImportReport, AccountingError> {
    let rows_in = rows.len() + rejected.len();
    let mut unmapped: Vec<String> = rows
        .iter()
        .filter(|r| !mapping.contains_key(&r.service))
        .map(|r| r.service.clone())
        .collect();
    unmapped.sort();
    unmapped.dedup();
    let legacy_total: Decimal = rows.iter().map(|r| r.cost_usd).sum();
    let mut report = ImportReport {
        rows_in,
        legacy_total_usd: format_fixed(legacy_total, 6),
        unmapped_services: unmapped,
        ..ImportReport::default()
    };
    if !report.unmapped_services.is_empty() {
        report.rejected = rejected;
        report.recorded_total_usd = format_fixed(Decimal::ZERO, 6);
        return Ok(report);
    }
    for target in mapping.values() {
        if let Some(f) = &target.feature {
            set_feature(table, &target.operation, f).await?;
        }
    }
    // (tenant, period) → ids of the rows read, to read back for the check.
    let mut placed: BTreeMap<(String, String), Vec<(String, Decimal)>> = BTreeMap::new();
    for r in rows {
        let tenant = match r.tenant.as_deref().map(TenantId::parse) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                rejected.push(RowError {
                    row: r.row,
                    reason: format!("tenant: {e}"),
                });
                continue;
            }
            None => match default_tenant {
                Some(t) => t.clone(),
                None => {
                    rejected.push(RowError {
                        row: r.row,
                        reason: "no tenant: the row names none and the import names none".into(),
                    });
                    continue;
                }
            },
        };
        let Some(target) = mapping.get(&r.service) else {
            continue;
        };
        if let Some(model) = &r.model
            && let Some((lo, hi)) = our_range(book, model, r.total_tokens, r.occurred_at)
            && (r.cost_usd < lo || r.cost_usd > hi)
        {
            report.price_differences_total += 1;
            if report.price_differences.len() < 100 {
                report.price_differences.push(PriceDifference {
                    row: r.row,
                    model: model.clone(),
                    legacy_cost_usd: r.cost_usd.to_string(),
                    our_min_usd: format_fixed(lo, 6),
                    our_max_usd: format_fixed(hi, 6),
                });
            }
        }
        let period = period_of(r.occurred_at);
        let request_id = format!("legacy:{}", safe(&r.id));
        let (pk, sk) = keys::ledger(&tenant, &period, &request_id);
        let entry = json!({
            "legacy": {
                "service": r.service,
                "user": r.user.as_deref().map(|u| pseudonym(&tenant, u)),
                "total_tokens": r.total_tokens,
                "model": r.model,
                "row": r.row,
            },
            "operation": target.operation,
            "occurred_at": r.occurred_at,
            "cost_usd": r.cost_usd.to_string(),
        });
        let nanos = (r.cost_usd * Decimal::from(NANOS))
            .trunc()
            .to_string()
            .parse::<i64>()
            .unwrap_or(i64::MAX);
        let agg_pk = keys::aggregates_pk(&tenant, &period);
        let day = r
            .occurred_at
            .to_string()
            .get(8..10)
            .unwrap_or("00")
            .to_owned();
        let model_value = r
            .model
            .clone()
            .unwrap_or_else(|| format!("({})", r.service));
        let mut writes = vec![TxWrite::Put {
            item: Item::with_doc(pk, sk, &entry)?,
            condition: Condition::IfAbsent,
        }];
        for (g, v) in [
            (CostGroup::Total, "all".to_owned()),
            (CostGroup::Model, model_value),
            (CostGroup::Operation, target.operation.clone()),
            (CostGroup::Day, day),
        ] {
            writes.push(TxWrite::Add {
                pk: agg_pk.clone(),
                sk: keys::aggregate_sk(g, &safe(&v), LEGACY_MODEL, 0),
                deltas: vec![
                    ("requests".into(), 1),
                    ("legacy_requests".into(), 1),
                    (
                        "legacy_tokens".into(),
                        i64::try_from(r.total_tokens).unwrap_or(i64::MAX),
                    ),
                    ("fixed_cost_nanos".into(), nanos),
                ],
            });
        }
        match table.transact(writes).await {
            Ok(()) => report.recorded += 1,
            Err(PortError::ConditionFailed) => report.already_recorded += 1,
            Err(e) => return Err(e.into()),
        }
        placed
            .entry((tenant.to_string(), period))
            .or_default()
            .push((request_id, r.cost_usd));
    }
    // The seed's check, from what the table holds now.
    let mut recorded_total = Decimal::ZERO;
    let mut found = 0usize;
    for ((tenant, period), ids) in &placed {
        let tenant =
            TenantId::parse(tenant).map_err(|e| AccountingError::Permanent(e.to_string()))?;
        let (pk, _) = keys::ledger(&tenant, period, "");
        let held: HashMap<String, Decimal> = query_all(table, &pk, "req#legacy:")
            .await?
            .into_iter()
            .filter_map(|i| {
                let cost = i
                    .attrs
                    .get("doc")
                    .and_then(|d| d.get("cost_usd"))
                    .and_then(Value::as_str)
                    .and_then(tillbridge_domain::money::parse_decimal)?;
                Some((i.sk.trim_start_matches("req#").to_owned(), cost))
            })
            .collect();
        for (id, _) in ids {
            if let Some(c) = held.get(id) {
                recorded_total += *c;
                found += 1;
            }
        }
    }
    report.rejected = rejected;
    report.recorded_total_usd = format_fixed(recorded_total, 6);
    report.check_passed = report.rejected.is_empty()
        && report.recorded + report.already_recorded == rows_in
        && found == rows_in
        && recorded_total == legacy_total;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_lines_read_alike_and_bad_rows_are_named() {
        let csv = "Log ID,Created At,Service Name,User,Total Tokens,Cost,Model\n\
                   1,2026-03-02 10:00:00,mapper,ana@example.com,1200,0.0031,gpt-4o\n\
                   2,2026-03-02T11:00:00Z,mapper,,x,0.1,\n";
        let (rows, errors) = read_legacy(csv.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cost_usd, Decimal::new(31, 4));
        assert_eq!(errors[0].row, 2);
        assert!(errors[0].reason.contains("total_tokens"), "{errors:?}");
        let jsonl = r#"{"id":"1","timestamp":"2026-03-02T10:00:00Z","service":"mapper","user":"ana@example.com","total_tokens":1200,"cost":"0.0031","model":"gpt-4o"}"#;
        let (j, _) = read_legacy(jsonl.as_bytes()).unwrap_or_default();
        assert_eq!(
            (j[0].total_tokens, j[0].cost_usd, j[0].occurred_at),
            (1200, rows[0].cost_usd, rows[0].occurred_at)
        );
    }

    #[test]
    fn rows_without_an_id_get_a_stable_one_from_their_content() {
        let csv = "created_at,service,total_tokens,cost\n2026-03-02T10:00:00Z,a,1,0.5\n2026-03-02T10:00:00Z,a,1,0.5\n2026-03-02T10:00:00Z,a,2,0.5\n";
        let (rows, _) = read_legacy(csv.as_bytes()).unwrap_or_default();
        assert_eq!(
            rows[1].id,
            format!("{}-2", rows[0].id),
            "a row of its own, stably"
        );
        assert_ne!(rows[0].id, rows[2].id);
        let (again, _) = read_legacy(csv.as_bytes()).unwrap_or_default();
        assert_eq!(again, rows);
    }

    #[test]
    fn a_cost_that_cannot_be_kept_exactly_is_refused() {
        let csv =
            "id,created_at,service,total_tokens,cost\n1,2026-03-02T10:00:00Z,a,1,0.0000000001\n";
        let (rows, errors) = read_legacy(csv.as_bytes()).unwrap_or_default();
        assert!(rows.is_empty());
        assert!(errors[0].reason.contains("9 decimal places"));
    }
}

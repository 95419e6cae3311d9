//! One tenant's month grouped by model, operation, migration or day, as a table that adds
//! up: every token and every micro-dollar of the month is in exactly one row, and the
//! rendered rows sum to the rendered totals row to the last digit.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tillbridge_costs::rounding::allocate;
use tillbridge_costs::table::csv_text;
use tillbridge_costs::{PriceBook, format_fixed};
use tillbridge_domain::TenantId;
use tillbridge_ports::Table;

use crate::{AccountingError, CostGroup, CostLine, features, grouped_costs};

/// The row of usage that has no value in the grouping (a call that served no migration).
pub const NONE_LABEL: &str = "(none)";

/// The label of the totals row in CSV.
pub const TOTAL_LABEL: &str = tillbridge_costs::table::TOTAL_LABEL;

/// One row of a grouped table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupedRow {
    /// The group's value: a canonical model name, an operation, a migration id (or
    /// [`NONE_LABEL`]), a day `01`…`31`.
    pub key: String,
    /// For the model grouping: every model name as recorded that the row gathers
    /// (`openai/gpt-4o-mini`, `gpt-4o-mini-2024-07-18`, …), sorted.
    pub raw_models: BTreeSet<String>,
    /// Tokens and exact cost.
    pub line: CostLine,
}

/// A tenant's month grouped by one dimension, with its totals.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedCosts {
    /// The dimension.
    pub group: CostGroup,
    /// Sorted by key; [`NONE_LABEL`] last when present.
    pub rows: Vec<GroupedRow>,
    /// The whole month (what the rows add up to).
    pub total: CostLine,
}

fn add(into: &mut CostLine, l: &CostLine) {
    into.requests = into.requests.saturating_add(l.requests);
    into.input_tokens = into.input_tokens.saturating_add(l.input_tokens);
    into.cached_input_tokens = into
        .cached_input_tokens
        .saturating_add(l.cached_input_tokens);
    into.cache_write_tokens = into.cache_write_tokens.saturating_add(l.cache_write_tokens);
    into.output_tokens = into.output_tokens.saturating_add(l.output_tokens);
    into.unpriced_requests = into.unpriced_requests.saturating_add(l.unpriced_requests);
    into.cost += l.cost;
}

/// `total` minus `part`, counts floored at 0.
fn remainder(total: &CostLine, part: &CostLine) -> CostLine {
    CostLine {
        requests: total.requests.saturating_sub(part.requests),
        input_tokens: total.input_tokens.saturating_sub(part.input_tokens),
        cached_input_tokens: total
            .cached_input_tokens
            .saturating_sub(part.cached_input_tokens),
        cache_write_tokens: total
            .cache_write_tokens
            .saturating_sub(part.cache_write_tokens),
        output_tokens: total.output_tokens.saturating_sub(part.output_tokens),
        unpriced_requests: total
            .unpriced_requests
            .saturating_sub(part.unpriced_requests),
        cost: total.cost - part.cost,
    }
}

/// One tenant's month grouped by `group` (model, operation, migration, day). Models are
/// grouped by [`PriceBook::canonical_name`] with the recorded names kept; whatever the
/// month's total has that no row names (usage without a migration id) is the
/// [`NONE_LABEL`] row, so the rows always add up to the total.
pub async fn tenant_costs(
    table: &dyn Table,
    book: &PriceBook,
    tenant: &TenantId,
    period: &str,
    group: CostGroup,
) -> Result<GroupedCosts, AccountingError> {
    let total = grouped_costs(table, book, tenant, period, CostGroup::Total)
        .await?
        .remove("all")
        .unwrap_or_default();
    let mut rows: BTreeMap<String, GroupedRow> = BTreeMap::new();
    let (read, features) = match group {
        CostGroup::Feature => (CostGroup::Operation, Some(features::registry(table).await?)),
        g => (g, None),
    };
    for (value, line) in grouped_costs(table, book, tenant, period, read).await? {
        let key = match (&features, group) {
            (Some(f), _) => f
                .get(&value)
                .cloned()
                .unwrap_or_else(|| features::UNASSIGNED.to_owned()),
            (None, CostGroup::Model) => book.canonical_name(&value),
            (None, _) => value.clone(),
        };
        let row = rows.entry(key.clone()).or_insert_with(|| GroupedRow {
            key,
            ..GroupedRow::default()
        });
        if group == CostGroup::Model {
            row.raw_models.insert(value);
        }
        add(&mut row.line, &line);
    }
    let mut grouped = CostLine::default();
    for r in rows.values() {
        add(&mut grouped, &r.line);
    }
    let mut rows: Vec<GroupedRow> = rows.into_values().collect();
    let rest = remainder(&total, &grouped);
    if rest != CostLine::default() {
        match rows.iter_mut().find(|r| r.key == NONE_LABEL) {
            Some(r) => add(&mut r.line, &rest),
            None => rows.push(GroupedRow {
                key: NONE_LABEL.to_owned(),
                raw_models: BTreeSet::new(),
                line: rest,
            }),
        }
    }
    Ok(GroupedCosts { group, rows, total })
}

const COLUMNS: [&str; 7] = [
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_requests",
];

fn line_json(l: &CostLine, cost: &str) -> serde_json::Map<String, Value> {
    let v = json!({
        "requests": l.requests, "input_tokens": l.input_tokens,
        "cached_input_tokens": l.cached_input_tokens, "cache_write_tokens": l.cache_write_tokens,
        "output_tokens": l.output_tokens, "cost_usd": cost,
        "unpriced_requests": l.unpriced_requests,
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

impl GroupedCosts {
    /// Each row's cost rounded to 6 places by largest remainder, and the total rounded
    /// half-even: the rows add up to the total exactly (each within 0.000001 of its exact
    /// amount).
    pub fn rounded_costs(&self) -> (Vec<String>, String) {
        let exact: Vec<_> = self.rows.iter().map(|r| r.line.cost).collect();
        let (rows, total) = allocate(&exact, 6);
        (
            rows.into_iter().map(|c| format_fixed(c, 6)).collect(),
            format_fixed(total, 6),
        )
    }

    /// The rows as JSON objects: the group's value under the group's name (`"model"`, …),
    /// the token counts, `cost_usd` (allocated, see [`GroupedCosts::rounded_costs`]),
    /// `unpriced_requests`, and for models `raw_models`.
    pub fn rows_json(&self) -> Vec<Value> {
        let (costs, _) = self.rounded_costs();
        self.rows
            .iter()
            .zip(costs)
            .map(|(r, cost)| {
                let mut m = serde_json::Map::new();
                m.insert(self.group.as_str().into(), json!(r.key));
                m.extend(line_json(&r.line, &cost));
                if self.group == CostGroup::Model {
                    m.insert("raw_models".into(), json!(r.raw_models));
                }
                Value::Object(m)
            })
            .collect()
    }

    /// The totals as a JSON object (the token counts, `cost_usd`, `unpriced_requests`).
    pub fn totals_json(&self) -> Value {
        let (_, total) = self.rounded_costs();
        Value::Object(line_json(&self.total, &total))
    }

    /// RFC 4180 CSV: header, the rows, then the totals row (group column [`TOTAL_LABEL`]);
    /// the model grouping has a last `raw_models` column (names separated by `;`).
    pub fn to_csv(&self) -> String {
        let models = self.group == CostGroup::Model;
        let mut out = String::from(self.group.as_str());
        for c in COLUMNS {
            out.push(',');
            out.push_str(c);
        }
        if models {
            out.push_str(",raw_models");
        }
        out.push_str("\r\n");
        let (costs, total) = self.rounded_costs();
        let row = |out: &mut String, key: &str, l: &CostLine, cost: &str, raw: Option<String>| {
            let cells = [
                csv_text(key),
                l.requests.to_string(),
                l.input_tokens.to_string(),
                l.cached_input_tokens.to_string(),
                l.cache_write_tokens.to_string(),
                l.output_tokens.to_string(),
                cost.to_owned(),
                l.unpriced_requests.to_string(),
            ];
            out.push_str(&cells.join(","));
            if let Some(raw) = raw {
                out.push(',');
                out.push_str(&csv_text(&raw));
            }
            out.push_str("\r\n");
        };
        for (r, cost) in self.rows.iter().zip(&costs) {
            let raw = models.then(|| r.raw_models.iter().cloned().collect::<Vec<_>>().join(";"));
            row(&mut out, &r.key, &r.line, cost, raw);
        }
        row(
            &mut out,
            TOTAL_LABEL,
            &self.total,
            &total,
            models.then(String::new),
        );
        out
    }
}

//! Per-tenant cost tables for one calendar month (UTC), streamed from usage lines.
//!
//! Lines are aggregated as integer token counts per (tenant, model, price version); the
//! exact cost is computed once per aggregate at the end (Σ tokens × rate is exact), so a
//! million lines cost a million integer additions, not a million decimal products.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;
use tillbridge_domain::Timestamp;
use tillbridge_domain::money::parse_decimal;

use crate::price::PriceBook;
use crate::usage::{TokenCounts, UsageRecord};
use crate::{CostError, format_fixed};

/// A UTC calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Calendar year, 1970–2200.
    pub year: i32,
    /// Month of the year, 1–12.
    pub month: u32,
    start: Timestamp,
    end: Timestamp,
}

impl Period {
    /// Parses `YYYY-MM` (e.g. `2026-03`).
    ///
    /// # Errors
    ///
    /// [`CostError::Period`] when the text is not `YYYY-MM` with a month 1–12 and a year
    /// 1970–2200.
    pub fn parse(text: &str) -> Result<Self, CostError> {
        let bad = || CostError::Period(format!("{text:?} is not YYYY-MM"));
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=2200).contains(&year) {
            return Err(bad());
        }
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        let start = Timestamp::parse_rfc3339(&format!("{year:04}-{month:02}-01T00:00:00Z"))
            .map_err(|_| bad())?;
        let end = Timestamp::parse_rfc3339(&format!("{ny:04}-{nm:02}-01T00:00:00Z"))
            .map_err(|_| bad())?;
        Ok(Self {
            year,
            month,
            start,
            end,
        })
    }

    /// True when `t` is in the month: from its first instant (inclusive) to the next
    /// month's (exclusive), UTC.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The period as `YYYY-MM`.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

#[derive(Default)]
struct TenantAcc {
    requests: u64,
    tokens: TokenCounts,
    unpriced: u64,
    /// model → per price regime: tokens and an instant in that regime.
    priced: HashMap<String, Vec<(usize, TokenCounts, Timestamp)>>,
}

/// Streams usage lines into a table.
pub struct TableBuilder<'b> {
    period: Period,
    book: &'b PriceBook,
    /// Instants where prices change (version starts, override dates), sorted.
    changes: Vec<Timestamp>,
    /// (model, regime) → priced? Computed once per pair.
    priced_cache: HashMap<String, Vec<(usize, bool)>>,
    seen: RequestIds,
    tenants: HashMap<String, TenantAcc>,
    unpriced_models: BTreeSet<String>,
    /// Usage records read (valid lines, duplicates and out-of-period ones included).
    pub lines: u64,
    /// Records skipped because their `request_id` was already seen.
    pub duplicates: u64,
    /// Records skipped because `occurred_at` is outside the period.
    pub outside_period: u64,
}

impl<'b> TableBuilder<'b> {
    /// An empty table for `period`, priced with `book`.
    pub fn new(period: Period, book: &'b PriceBook) -> Self {
        Self {
            period,
            book,
            changes: book.change_points(),
            priced_cache: HashMap::new(),
            seen: RequestIds::default(),
            tenants: HashMap::new(),
            unpriced_models: BTreeSet::new(),
            lines: 0,
            duplicates: 0,
            outside_period: 0,
        }
    }

    /// Adds one line (1-based `line_no` for messages). Blank lines are ignored; duplicate
    /// request ids and records outside the period are counted and skipped.
    ///
    /// # Errors
    ///
    /// [`CostError::Usage`] when the line is not a [`UsageRecord`], its `occurred_at` is
    /// not RFC 3339, or `request_id`, `tenant_id` or `model` is empty. The builder is
    /// unchanged by a refused line, so the caller may report it and go on.
    pub fn add_line(&mut self, line_no: usize, line: &str) -> Result<(), CostError> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let err = |reason: String| CostError::Usage {
            line: line_no,
            reason,
        };
        let (r, at) = UsageRecord::parse(line).map_err(err)?;
        self.lines += 1;
        if !self.seen.insert(&r.request_id) {
            self.duplicates += 1;
            return Ok(());
        }
        if !self.period.contains(at) {
            self.outside_period += 1;
            return Ok(());
        }
        self.add(&r.tenant_id, &r.model, r.tokens(), at);
        Ok(())
    }

    fn is_priced(&mut self, model: &str, regime: usize, at: Timestamp) -> bool {
        if let Some(known) = self
            .priced_cache
            .get(model)
            .and_then(|v| v.iter().find(|(r, _)| *r == regime))
        {
            return known.1;
        }
        let priced = self
            .book
            .version_at(at)
            .is_some_and(|v| self.book.price(v, model, at).is_some());
        self.priced_cache
            .entry(model.to_owned())
            .or_default()
            .push((regime, priced));
        priced
    }

    fn add(&mut self, tenant: &str, model: &str, tokens: TokenCounts, at: Timestamp) {
        // The price regime: how many price changes happened up to `at`.
        let regime = self.changes.partition_point(|c| *c <= at);
        let priced = self.is_priced(model, regime, at);
        let acc = match self.tenants.get_mut(tenant) {
            Some(a) => a,
            None => self.tenants.entry(tenant.to_owned()).or_default(),
        };
        acc.requests += 1;
        acc.tokens.add(&tokens);
        if !priced {
            acc.unpriced += 1;
            if !self.unpriced_models.contains(model) {
                self.unpriced_models.insert(model.to_owned());
            }
            return;
        }
        let slots = match acc.priced.get_mut(model) {
            Some(s) => s,
            None => acc.priced.entry(model.to_owned()).or_default(),
        };
        match slots.iter_mut().find(|(r, _, _)| *r == regime) {
            Some(slot) => slot.1.add(&tokens),
            None => slots.push((regime, tokens, at)),
        }
    }

    /// The table: one row per tenant (sorted by tenant id) with its exact cost, each
    /// aggregate priced at the price in force when its calls happened, and the tenant's
    /// monthly budget from `budgets`.
    pub fn finish(self, budgets: &Budgets) -> CostTable {
        let mut rows: Vec<CostRow> = self
            .tenants
            .into_iter()
            .map(|(tenant, acc)| {
                let cost = acc
                    .priced
                    .iter()
                    .flat_map(|(model, slots)| slots.iter().map(move |s| (model, s)))
                    .filter_map(|(model, (_, tokens, at))| {
                        let v = self.book.version_at(*at)?;
                        self.book.price(v, model, *at).map(|p| tokens.cost(&p))
                    })
                    .sum();
                CostRow {
                    budget_usd: budgets.0.get(&tenant).copied(),
                    tenant_id: tenant,
                    requests: acc.requests,
                    tokens: acc.tokens,
                    cost_usd: cost,
                    unpriced_requests: acc.unpriced,
                    infra_cost_usd: None,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id));
        CostTable {
            rows,
            unpriced_models: self.unpriced_models,
        }
    }
}

/// Request ids seen so far, as 128-bit keyed fingerprints (two SipHash-1-3 with independent
/// random keys): no allocation per id, and for a million distinct ids the chance of any two
/// colliding is about 10^-27 — and with per-process keys it cannot be provoked.
#[derive(Default)]
struct RequestIds {
    keys: (RandomState, RandomState),
    set: HashSet<u128, BuildHasherDefault<PassThrough>>,
}

impl RequestIds {
    fn insert(&mut self, id: &str) -> bool {
        let hi = self.keys.0.hash_one(id);
        let lo = self.keys.1.hash_one(id);
        self.set.insert((u128::from(hi) << 64) | u128::from(lo))
    }
}

/// The fingerprints are already uniformly random: use them as their own hash.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// Monthly budgets per tenant, USD, exact.
#[derive(Debug, Clone, Default)]
pub struct Budgets(pub HashMap<String, Decimal>);

/// Hard limits per tenant (where AI calls are refused), USD, exact; a tenant without one is
/// refused at its budget.
#[derive(Debug, Clone, Default)]
pub struct HardLimits(pub HashMap<String, Decimal>);

impl Budgets {
    /// `{"TENANT": "MONTHLY_USD", …}`, or per tenant `{"monthly_usd": "…", "hard_limit_usd":
    /// "…"}`; numbers are read by their text, exactly.
    ///
    /// # Errors
    ///
    /// [`CostError::Budgets`] when the text is not such an object or an amount is not a
    /// non-negative number.
    pub fn from_json(text: &str) -> Result<Self, CostError> {
        Ok(Self::with_hard_limits(text)?.0)
    }

    /// Budgets and hard limits from the same file as [`Budgets::from_json`].
    ///
    /// # Errors
    ///
    /// [`CostError::Budgets`] as for [`Budgets::from_json`], and when a hard limit is below
    /// its budget.
    pub fn with_hard_limits(text: &str) -> Result<(Self, HardLimits), CostError> {
        let map: HashMap<String, &RawValue> = serde_json::from_str(text).map_err(|e| {
            CostError::Budgets(format!("expected {{\"TENANT\": \"MONTHLY_USD\"}}: {e}"))
        })?;
        let amount = |tenant: &str, raw: &RawValue| {
            let text = raw.get().trim().trim_matches('"');
            parse_decimal(text)
                .filter(|d| !d.is_sign_negative())
                .ok_or_else(|| {
                    CostError::Budgets(format!("{tenant}: {text} is not a non-negative amount"))
                })
        };
        let (mut out, mut hard) = (HashMap::new(), HashMap::new());
        for (tenant, raw) in map {
            if raw.get().trim_start().starts_with('{') {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Limits<'a> {
                    #[serde(borrow)]
                    monthly_usd: &'a RawValue,
                    #[serde(borrow, default)]
                    hard_limit_usd: Option<&'a RawValue>,
                }
                let l: Limits<'_> = serde_json::from_str(raw.get()).map_err(|e| {
                    CostError::Budgets(format!(
                        "{tenant}: expected {{\"monthly_usd\", \"hard_limit_usd\"?}}: {e}"
                    ))
                })?;
                let monthly = amount(&tenant, l.monthly_usd)?;
                if let Some(h) = l.hard_limit_usd {
                    let h = amount(&tenant, h)?;
                    if h < monthly {
                        return Err(CostError::Budgets(format!(
                            "{tenant}: the hard limit {h} is below the budget {monthly}"
                        )));
                    }
                    hard.insert(tenant.clone(), h);
                }
                out.insert(tenant, monthly);
            } else {
                let v = amount(&tenant, raw)?;
                out.insert(tenant, v);
            }
        }
        Ok((Self(out), HardLimits(hard)))
    }
}

/// One tenant's month: usage, exact cost and budget.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    /// The tenant.
    pub tenant_id: String,
    /// Distinct requests in the period (duplicates not counted).
    pub requests: u64,
    /// Tokens per class over those requests, priced or not.
    pub tokens: TokenCounts,
    /// Exact; rounded only when rendered.
    pub cost_usd: Decimal,
    /// Requests whose model has no price in force; they add nothing to `cost_usd` (never
    /// a silent $0: the model is listed in [`CostTable::unpriced_models`]).
    pub unpriced_requests: u64,
    /// The tenant's monthly budget in USD, if it has one.
    pub budget_usd: Option<Decimal>,
    /// Infrastructure cost, where known (tables from the store; usage files have none).
    pub infra_cost_usd: Option<Decimal>,
}

impl CostRow {
    /// `cost_usd` as a percentage of the budget, unrounded; None without a budget or with
    /// a budget of 0.
    pub fn budget_used_percent(&self) -> Option<Decimal> {
        let b = self.budget_usd?;
        if b.is_zero() {
            return None;
        }
        self.cost_usd
            .checked_mul(Decimal::ONE_HUNDRED)?
            .checked_div(b)
    }
}

/// The rendered row of CLI.md.
#[derive(Debug, Serialize)]
pub struct RowOut<'a> {
    /// [`CostRow::tenant_id`].
    pub tenant_id: &'a str,
    /// [`CostRow::requests`].
    pub requests: u64,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Cache-read input tokens.
    pub cached_input_tokens: u64,
    /// Cache-write input tokens.
    pub cache_write_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// USD with exactly 6 decimals, half-even (`"1.216667"`).
    pub cost_usd: String,
    /// [`CostRow::unpriced_requests`].
    pub unpriced_requests: u64,
    /// Monthly budget, USD with 6 decimals; None without a budget.
    pub budget_usd: Option<String>,
    /// Budget used, percent with 2 decimals; None without a (non-zero) budget.
    pub budget_used_percent: Option<String>,
    /// Infrastructure cost, USD with 6 decimals; omitted from JSON when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infra_cost_usd: Option<String>,
}

/// Per-tenant costs for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct CostTable {
    /// Sorted by tenant id.
    pub rows: Vec<CostRow>,
    /// Models seen in usage with no price in force, sorted; add them to the price map or
    /// an override.
    pub unpriced_models: BTreeSet<String>,
}

/// The first line of [`CostTable::to_csv`] (without the optional `infra_cost_usd` column).
pub const CSV_HEADER: &str = "tenant_id,requests,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost_usd,unpriced_requests,budget_usd,budget_used_percent";

impl CostTable {
    /// The rows as printed: amounts rounded half-even and rendered as fixed decimals.
    pub fn rendered(&self) -> Vec<RowOut<'_>> {
        self.rows
            .iter()
            .map(|r| RowOut {
                tenant_id: &r.tenant_id,
                requests: r.requests,
                input_tokens: r.tokens.input,
                cached_input_tokens: r.tokens.cached_input,
                cache_write_tokens: r.tokens.cache_write,
                output_tokens: r.tokens.output,
                cost_usd: format_fixed(r.cost_usd, 6),
                unpriced_requests: r.unpriced_requests,
                budget_usd: r.budget_usd.map(|b| format_fixed(b, 6)),
                budget_used_percent: r.budget_used_percent().map(|p| format_fixed(p, 2)),
                infra_cost_usd: r.infra_cost_usd.map(|c| format_fixed(c, 6)),
            })
            .collect()
    }

    /// [`CostTable::rendered`] as a pretty-printed JSON array.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.rendered()).unwrap_or_else(|_| "[]".into())
    }

    /// RFC 4180 CSV, header first; opens as is in a spreadsheet. An `infra_cost_usd`
    /// column follows when the table has infrastructure costs.
    pub fn to_csv(&self) -> String {
        let with_infra = self.rows.iter().any(|r| r.infra_cost_usd.is_some());
        csv_of(self.rendered(), with_infra)
    }
}

/// Rendered rows as CSV, header first, with the `infra_cost_usd` column when `with_infra`.
fn csv_of(rows: Vec<RowOut<'_>>, with_infra: bool) -> String {
    let mut out = String::from(CSV_HEADER);
    if with_infra {
        out.push_str(",infra_cost_usd");
    }
    out.push_str("\r\n");
    for r in rows {
        let infra = r.infra_cost_usd.clone();
        let fields = [
            csv_text(r.tenant_id),
            r.requests.to_string(),
            r.input_tokens.to_string(),
            r.cached_input_tokens.to_string(),
            r.cache_write_tokens.to_string(),
            r.output_tokens.to_string(),
            r.cost_usd,
            r.unpriced_requests.to_string(),
            r.budget_usd.unwrap_or_default(),
            r.budget_used_percent.unwrap_or_default(),
        ];
        out.push_str(&fields.join(","));
        if with_infra {
            out.push(',');
            out.push_str(&infra.unwrap_or_default());
        }
        out.push_str("\r\n");
    }
    out
}

/// Quotes a text field when needed and defuses spreadsheet formulas (=, +, -, @).
pub fn csv_text(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

mod totals;
pub use totals::TOTAL_LABEL;

#[cfg(test)]
mod tests;

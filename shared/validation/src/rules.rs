//! The streaming validator and its rules, one module per rule family: [`schema`] (lines
//! that are not valid items, ranges, URLs, tax rates), [`price`] (per-item prices and costs,
//! unit errors against the current price), [`completeness`] (name, currency, category,
//! identifiers), [`duplicate`] (SKU, name), [`barcode`] (check digits, spreadsheet damage,
//! lengths, the same code twice; warnings only) and [`modifier`]
//! (modifier groups and the references to them). [`index`] holds the duplicate indexes.
//! The batch-wide pricing statistics live in [`crate::price`].

mod barcode;
mod completeness;
mod duplicate;
mod index;
mod modifier;
mod price;
mod schema;

use crate::rule::Rule;
use std::collections::HashMap;

use tillbridge_domain::{CatalogItem, Currency};

use crate::finding::{Finding, Report, Severity};
use crate::modifiers::ModifierGroup;
use crate::price::PriceRecord;
use index::{Fingerprints, Keys, Seen, normalize_into};

/// Tenant settings that change what the rules accept.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// ISO 3166 country of the tenant; enables the VAT-rate check.
    pub country: Option<String>,
}

/// Validates a batch line by line; [`Validator::finish`] runs the batch-wide rules.
///
/// Feed it with [`Validator::push_line`] (raw JSONL) or [`Validator::push_item`] (already
/// parsed items), then call [`Validator::finish`] once for the [`Report`]. Memory grows by a
/// few small entries per item (an id, index fingerprints, one price record), never by the
/// item itself.
#[derive(Default)]
pub struct Validator {
    opts: Options,
    items: usize,
    findings: Vec<Finding>,
    prices: Vec<PriceRecord>,
    /// Every item's id, once; the indexes refer to positions here.
    ids: Vec<Box<str>>,
    keys: Keys,
    scratch: String,
    groups: Fingerprints<usize>,
    /// Currencies seen, in order (a batch has one or a few).
    currencies: Vec<Currency>,
    external_ids: Seen,
    skus: Seen,
    barcodes: Seen,
    names: Seen,
    modifier_groups: HashMap<String, (usize, Vec<i64>)>,
    references: Vec<(usize, String, String, Option<i64>)>,
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

fn major(minor: i64, c: Option<Currency>) -> String {
    match c {
        Some(c) => format!("{} {c}", c.format_minor(minor)),
        None => format!("{minor} (minor units)"),
    }
}

impl Validator {
    /// An empty validator for one batch.
    pub fn new(opts: Options) -> Self {
        Self {
            opts,
            ..Self::default()
        }
    }

    /// Sizes the indexes for about `items` items up front (no rehashing while streaming).
    pub fn with_capacity(opts: Options, items: usize) -> Self {
        let n = items.min(10_000_000);
        Self {
            opts,
            ids: Vec::with_capacity(n),
            prices: Vec::with_capacity(n),
            external_ids: Seen::with_capacity_and_hasher(n, Default::default()),
            skus: Seen::with_capacity_and_hasher(n, Default::default()),
            barcodes: Seen::with_capacity_and_hasher(n, Default::default()),
            names: Seen::with_capacity_and_hasher(n, Default::default()),
            ..Self::default()
        }
    }

    fn add(
        &mut self,
        line: usize,
        item: &str,
        rule: Rule,
        severity: Severity,
        message: String,
        fix: Option<String>,
    ) {
        self.findings.push(Finding {
            item: item.to_owned(),
            rule,
            severity,
            message,
            line,
            fix,
        });
    }

    /// One JSONL line (1-based `line`). Blank lines are skipped; broken ones become schema
    /// findings and the rest of the batch is still validated.
    pub fn push_line(&mut self, line: usize, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if text.contains("\"modifier_group\"")
            && let Ok(g) = serde_json::from_str::<ModifierGroup>(text)
            && g.kind == "modifier_group"
        {
            self.push_group(line, g);
            return;
        }
        match serde_json::from_str::<CatalogItem>(text) {
            Ok(item) => {
                self.items += 1;
                self.check_item(line, &item);
            }
            Err(_) => self.diagnose(line, text),
        }
    }

    fn group_index(&mut self, item: &CatalogItem, currency: Currency) -> (usize, usize) {
        let c = match self.currencies.iter().position(|c| *c == currency) {
            Some(c) => c,
            None => {
                self.currencies.push(currency);
                self.currencies.len() - 1
            }
        };
        let key = self.key(|k| {
            normalize_into(item.category.as_deref().unwrap_or(""), k);
            k.push('|');
            k.push_str(currency.code());
        });
        let next = self.groups.len();
        let g = *self.groups.entry(key).or_insert(next);
        (g, c)
    }

    /// One parsed item (line = its position in the batch, 1-based): counted and checked.
    pub fn push_item(&mut self, line: usize, item: &CatalogItem) {
        self.items += 1;
        self.check_item(line, item);
    }

    /// Per-item rules; the item joins the duplicate indexes and the price statistics.
    fn check_item(&mut self, line: usize, item: &CatalogItem) {
        let missing_id = item.external_id.trim().is_empty();
        let id = if missing_id {
            format!("line {line}")
        } else {
            item.external_id.clone()
        };
        let index = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        if missing_id {
            self.add(
                line,
                &id,
                Rule::SchemaExternalId,
                Severity::Error,
                format!("line {line}: item has no external_id"),
                None,
            );
        } else {
            let key = self.keys.of(&item.external_id);
            if let Some((_, first)) = Self::seen(&mut self.external_ids, key, index, line) {
                self.add(
                    line,
                    &id,
                    Rule::DuplicateExternalId,
                    Severity::Error,
                    format!("external_id {} already used on line {first}", clip(&id)),
                    None,
                );
            }
        }
        self.check_fields(line, &id, item);
        self.check_duplicates(line, &id, index, item);
        self.check_duplicate_barcode(line, &id, index, item);
        if let (Some(p), Some(c)) = (item.price_minor, item.currency)
            && p > 0
        {
            let (group, currency) = self.group_index(item, c);
            self.prices.push(PriceRecord {
                line,
                item: index,
                group,
                currency,
                price_minor: p,
                exponent: c.exponent(),
                code: c,
            });
        }
        for g in &item.modifier_group_ids {
            self.references
                .push((line, id.clone(), g.clone(), item.price_minor));
        }
        self.ids.push(id.into_boxed_str());
    }

    /// Runs the batch-wide rules and returns the report.
    pub fn finish(mut self) -> Report {
        self.check_references();
        self.findings
            .extend(crate::price::findings(&self.prices, &self.ids));
        Report::new(self.items, self.findings)
    }

    /// The per-item field rules, in the order their findings are reported.
    fn check_fields(&mut self, line: usize, id: &str, item: &CatalogItem) {
        self.check_name(line, id, item);
        self.check_price(line, id, item);
        self.check_currency(line, id, item);
        self.check_cost(line, id, item);
        self.check_category_and_identifier(line, id, item);
        self.check_barcode(line, id, item);
        self.check_ranges(line, id, item);
    }
}

/// The rules for one webhook update: every per-item rule, and a unit error against the
/// price the catalog already has (a new price about 100× or 1/100 of the old one).
pub fn validate_update(
    item: &CatalogItem,
    previous: Option<&CatalogItem>,
    opts: &Options,
) -> Vec<Finding> {
    let mut v = Validator::new(opts.clone());
    v.items = 1;
    v.check_fields(1, &item.external_id, item);
    v.check_unit_change(item, previous);
    v.findings
}

#[cfg(test)]
mod tests;

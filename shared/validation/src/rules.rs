//! The streaming validator and the per-item rules.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use rust_decimal::Decimal;
use serde_json::Value;
use tillbridge_domain::item::CANONICAL_FIELDS;
use tillbridge_domain::{CatalogItem, Currency};

use crate::finding::{Finding, Report, Severity};
use crate::gtin::{gtin_check_digit_ok, looks_like_gtin, push_normalized_barcode};
use crate::modifiers::ModifierGroup;
use crate::price::{self, PriceRecord};
use crate::tax::{allowed_vat_rates, max_plausible_rate};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// ISO 3166 country of the tenant; enables the VAT-rate check.
    pub country: Option<String>,
}

/// Keyed 128-bit fingerprints of index keys: no allocation per key, and with per-process
/// random keys two different keys collide with probability ~2^-128.
#[derive(Default)]
struct Keys(RandomState, RandomState);

impl Keys {
    fn of(&self, text: &str) -> u128 {
        (u128::from(self.0.hash_one(text)) << 64) | u128::from(self.1.hash_one(text))
    }
}

/// The fingerprints are uniformly random already: hashing them again is wasted work.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
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

type Fingerprints<V> = HashMap<u128, V, std::hash::BuildHasherDefault<PassThrough>>;

/// Where a key was first seen: the item (position in `ids`) and its line.
type Seen = Fingerprints<(u32, usize)>;

/// Validates a batch line by line; [`Validator::finish`] runs the batch-wide rules.
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

/// Appends `s` lower-cased, punctuation dropped, whitespace collapsed: "Café  Latte!" and
/// "café latte" give the same text.
fn normalize_into(s: &str, out: &mut String) {
    let start = out.len();
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if pending_space && out.len() > start {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
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
        rule: &'static str,
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

    /// Fingerprint of a key built in the reusable scratch buffer.
    fn key(&mut self, build: impl FnOnce(&mut String)) -> u128 {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        build(&mut scratch);
        let k = self.keys.of(&scratch);
        self.scratch = scratch;
        k
    }

    /// Records `key` for `index`; returns the first item and line when it was seen before.
    fn seen(map: &mut Seen, key: u128, index: u32, line: usize) -> Option<(u32, usize)> {
        match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((index, line));
                None
            }
        }
    }

    fn id_of(&self, index: u32) -> String {
        self.ids
            .get(index as usize)
            .map_or_else(String::new, |s| clip(s))
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

    /// Explains a line that is not a valid item; validates what can be saved.
    fn diagnose(&mut self, line: usize, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.items += 1;
                let id = format!("line {line}");
                self.add(
                    line,
                    &id,
                    "schema.invalid_json",
                    Severity::Error,
                    format!("line {line} is not valid JSON ({e})"),
                    None,
                );
                return;
            }
        };
        let Value::Object(mut map) = value else {
            self.items += 1;
            let id = format!("line {line}");
            self.add(
                line,
                &id,
                "schema.invalid_json",
                Severity::Error,
                format!("line {line} is not a JSON object"),
                None,
            );
            return;
        };
        if map.get("kind").and_then(Value::as_str) == Some("modifier_group") {
            let id = map
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("line {line}"), str::to_owned);
            let reason = serde_json::from_value::<ModifierGroup>(Value::Object(map))
                .err()
                .map_or_else(String::new, |e| e.to_string());
            self.add(
                line,
                &id,
                "schema.invalid_modifier_group",
                Severity::Error,
                format!("line {line}: modifier group is malformed: {reason}"),
                None,
            );
            return;
        }
        self.items += 1;
        let id = match map.get("external_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => format!("line {line}"),
        };
        // Unknown fields are reported and dropped, so the rest of the item is still checked.
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !CANONICAL_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in &unknown {
            map.remove(k);
        }
        if !unknown.is_empty() {
            let names = unknown
                .iter()
                .map(|k| clip(k))
                .collect::<Vec<_>>()
                .join(", ");
            self.add(
                line,
                &id,
                "schema.unknown_field",
                Severity::Warning,
                format!("line {line}: unknown field(s) {names} ignored"),
                None,
            );
        }
        match serde_json::from_value::<CatalogItem>(Value::Object(map)) {
            Ok(item) => self.check_item(line, &item),
            Err(e) => self.add(
                line,
                &id,
                "schema.invalid_item",
                Severity::Error,
                format!("line {line}: {e}"),
                None,
            ),
        }
    }

    fn push_group(&mut self, line: usize, g: ModifierGroup) {
        let id = g.id.clone();
        if self.modifier_groups.contains_key(&id) {
            self.add(
                line,
                &id,
                "modifier.duplicate_group",
                Severity::Error,
                format!("modifier group {} is defined twice", clip(&id)),
                None,
            );
            return;
        }
        let n = g.options.len();
        if n == 0 {
            self.add(
                line,
                &id,
                "modifier.no_options",
                Severity::Error,
                format!("modifier group {} has no options to choose from", clip(&id)),
                None,
            );
        }
        if let Some(max) = g.max_selections {
            if g.min_selections > max {
                let msg = format!(
                    "modifier group {} requires at least {} but allows at most {max} choices",
                    clip(&id),
                    g.min_selections
                );
                self.add(
                    line,
                    &id,
                    "modifier.min_gt_max",
                    Severity::Error,
                    msg,
                    Some(max.to_string()),
                );
            }
            if max as usize > n && n > 0 {
                let msg = format!(
                    "modifier group {} allows {max} choices but has only {n} options",
                    clip(&id)
                );
                self.add(
                    line,
                    &id,
                    "modifier.max_exceeds_options",
                    Severity::Warning,
                    msg,
                    Some(n.to_string()),
                );
            }
        }
        if g.min_selections as usize > n && n > 0 {
            let msg = format!(
                "modifier group {} requires {} choices but has only {n} options; no one can order it",
                clip(&id),
                g.min_selections
            );
            self.add(
                line,
                &id,
                "modifier.min_unreachable",
                Severity::Error,
                msg,
                Some(n.to_string()),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for o in &g.options {
            if !seen.insert(o.id.as_str()) {
                self.add(
                    line,
                    &id,
                    "modifier.duplicate_option",
                    Severity::Error,
                    format!(
                        "modifier group {} lists option {} twice",
                        clip(&id),
                        clip(&o.id)
                    ),
                    None,
                );
            }
        }
        let deltas = g.options.iter().map(|o| o.price_delta_minor).collect();
        self.modifier_groups.insert(id, (line, deltas));
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
                "schema.external_id",
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
                    "duplicate.external_id",
                    Severity::Error,
                    format!("external_id {} already used on line {first}", clip(&id)),
                    None,
                );
            }
        }
        self.check_fields(line, &id, item);
        self.check_duplicates(line, &id, index, item);
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

    fn check_fields(&mut self, line: usize, id: &str, item: &CatalogItem) {
        let active = item.is_active.unwrap_or(true);
        if item.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            self.add(
                line,
                id,
                "completeness.name",
                Severity::Error,
                "item has no name; customers and staff cannot find it".into(),
                None,
            );
        }
        match item.price_minor {
            None if active => self.add(
                line,
                id,
                "price.missing",
                Severity::Error,
                "active item has no price; it cannot be sold".into(),
                None,
            ),
            Some(p) if p < 0 => self.add(
                line,
                id,
                "price.negative",
                Severity::Error,
                format!("price {} is negative", major(p, item.currency)),
                Some(p.saturating_abs().to_string()),
            ),
            Some(0) if active => self.add(
                line,
                id,
                "price.zero",
                Severity::Warning,
                "active item is priced at zero; it would be given away".into(),
                None,
            ),
            _ => {}
        }
        if item.price_minor.is_some() && item.currency.is_none() {
            self.add(
                line,
                id,
                "completeness.currency",
                Severity::Error,
                "item has a price but no currency".into(),
                None,
            );
        }
        if let Some(cost) = item.cost_minor {
            if cost < 0 {
                self.add(
                    line,
                    id,
                    "price.negative_cost",
                    Severity::Error,
                    format!("cost {} is negative", major(cost, item.currency)),
                    None,
                );
            } else if let Some(p) = item.price_minor.filter(|p| *p > 0 && *p < cost) {
                let msg = format!(
                    "price {} is below its cost {}; every sale loses money",
                    major(p, item.currency),
                    major(cost, item.currency)
                );
                self.add(line, id, "price.below_cost", Severity::Warning, msg, None);
            }
        }
        if item.category.as_deref().is_none_or(|c| c.trim().is_empty()) {
            self.add(
                line,
                id,
                "completeness.category",
                Severity::Warning,
                "item has no category; reports and menus group it under 'uncategorized'".into(),
                None,
            );
        }
        if item.sku.as_deref().is_none_or(|s| s.trim().is_empty())
            && item.barcode.as_deref().is_none_or(|b| b.trim().is_empty())
        {
            self.add(
                line,
                id,
                "completeness.identifier",
                Severity::Warning,
                "item has neither SKU nor barcode; stock counts cannot be matched to it".into(),
                None,
            );
        }
        if let Some(b) = item
            .barcode
            .as_deref()
            .map(str::trim)
            .filter(|b| looks_like_gtin(b))
            && !gtin_check_digit_ok(b)
        {
            self.add(
                line,
                id,
                "duplicate.gtin_check_digit",
                Severity::Error,
                format!("barcode {b} fails the GTIN check digit; it will not scan"),
                None,
            );
        }
        self.check_ranges(line, id, item);
    }

    fn check_ranges(&mut self, line: usize, id: &str, item: &CatalogItem) {
        let hundred = Decimal::ONE_HUNDRED;
        if let Some(q) = item
            .quantity_on_hand
            .filter(|q| q.is_sign_negative() && !q.is_zero())
        {
            self.add(
                line,
                id,
                "schema.range",
                Severity::Warning,
                format!("quantity on hand {q} is negative"),
                None,
            );
        }
        if let Some(w) = item.weight.filter(|w| w.is_sign_negative() && !w.is_zero()) {
            self.add(
                line,
                id,
                "schema.range",
                Severity::Error,
                format!("weight {w} is negative"),
                None,
            );
        }
        for (label, v) in [("THC", item.thc_percent), ("CBD", item.cbd_percent)] {
            if let Some(v) = v.filter(|v| v.is_sign_negative() || *v > hundred) {
                self.add(
                    line,
                    id,
                    "schema.range",
                    Severity::Error,
                    format!("{label} {v} % is outside 0–100 %"),
                    None,
                );
            }
        }
        if let (Some(c), Some(u)) = (item.created_at, item.updated_at)
            && u < c
        {
            self.add(
                line,
                id,
                "schema.range",
                Severity::Warning,
                format!("updated_at {u} is before created_at {c}"),
                None,
            );
        }
        if let Some(url) = item.image_url.as_deref()
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            self.add(
                line,
                id,
                "schema.url",
                Severity::Warning,
                format!("image_url {} is not an http(s) URL", clip(url)),
                None,
            );
        }
        let Some(rate) = item.tax_rate_percent else {
            return;
        };
        if rate.is_sign_negative() || rate > hundred {
            self.add(
                line,
                id,
                "schema.range",
                Severity::Error,
                format!("tax rate {rate} % is outside 0–100 %"),
                None,
            );
            return;
        }
        let country = self.opts.country.clone();
        match country.as_deref().and_then(allowed_vat_rates) {
            Some(allowed) if !allowed.contains(&rate.normalize()) => {
                // 0.25 for 25 %: a fraction where a percentage belongs.
                let scaled = (rate * hundred).normalize();
                let fix = allowed.contains(&scaled).then(|| scaled.to_string());
                let list = allowed
                    .iter()
                    .map(|r| r.normalize().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let hint = fix
                    .as_ref()
                    .map_or(String::new(), |f| format!("; did you mean {f} %?"));
                let country = country.unwrap_or_default();
                self.add(
                    line,
                    id,
                    "schema.tax_rate",
                    Severity::Warning,
                    format!("tax rate {rate} % is not a VAT rate in {country} ({list}){hint}"),
                    fix,
                );
            }
            Some(_) => {}
            None if rate > max_plausible_rate(country.as_deref()) => {
                self.add(
                    line,
                    id,
                    "schema.tax_rate",
                    Severity::Warning,
                    format!("tax rate {rate} % is higher than any sales tax here"),
                    None,
                );
            }
            None => {}
        }
    }

    fn check_duplicates(&mut self, line: usize, id: &str, index: u32, item: &CatalogItem) {
        if let Some(sku) = item.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let key = self.key(|k| k.extend(sku.chars().flat_map(char::to_lowercase)));
            if let Some((first, first_line)) = Self::seen(&mut self.skus, key, index, line) {
                let msg = format!(
                    "SKU {} is also used by item {} (line {first_line}); stock and sales would mix",
                    clip(sku),
                    self.id_of(first)
                );
                self.add(line, id, "duplicate.sku", Severity::Error, msg, None);
            }
        }
        if let Some(barcode) = item
            .barcode
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let key = self.key(|k| push_normalized_barcode(barcode, k));
            if let Some((first, first_line)) = Self::seen(&mut self.barcodes, key, index, line) {
                let msg = format!(
                    "barcode {} also scans as item {} (line {first_line})",
                    clip(barcode),
                    self.id_of(first)
                );
                self.add(line, id, "duplicate.barcode", Severity::Error, msg, None);
            }
        }
        if let Some(name) = item.name.as_deref().filter(|n| !n.trim().is_empty()) {
            let key = self.key(|k| {
                normalize_into(name, k);
                k.push('|');
                normalize_into(item.variant_name.as_deref().unwrap_or(""), k);
            });
            if let Some((first, first_line)) = Self::seen(&mut self.names, key, index, line) {
                let label = match item.variant_name.as_deref() {
                    Some(v) if !v.trim().is_empty() => format!("{} / {}", clip(name), clip(v)),
                    _ => clip(name),
                };
                let msg = format!(
                    "\"{label}\" has the same name as item {} (line {first_line}); is it the same product twice?",
                    self.id_of(first)
                );
                self.add(line, id, "duplicate.name", Severity::Warning, msg, None);
            }
        }
    }

    /// Runs the batch-wide rules and returns the report.
    pub fn finish(mut self) -> Report {
        let references = std::mem::take(&mut self.references);
        for (line, item, group, price) in references {
            match self.modifier_groups.get(&group) {
                None => self.add(
                    line,
                    &item,
                    "modifier.unknown_group",
                    Severity::Error,
                    format!(
                        "item refers to modifier group {} which is not defined",
                        clip(&group)
                    ),
                    None,
                ),
                Some((_, deltas)) => {
                    if let Some(p) = price.filter(|p| *p > 0) {
                        if deltas.iter().any(|d| *d < 0 && d.saturating_abs() > p) {
                            let msg = format!(
                                "an option of modifier group {} takes off more than the item's price",
                                clip(&group)
                            );
                            self.add(
                                line,
                                &item,
                                "modifier.price_delta",
                                Severity::Error,
                                msg,
                                None,
                            );
                        } else if deltas.iter().any(|d| *d > p.saturating_mul(10)) {
                            let msg = format!(
                                "an option of modifier group {} costs more than ten times the item; check its units",
                                clip(&group)
                            );
                            self.add(
                                line,
                                &item,
                                "modifier.price_delta",
                                Severity::Warning,
                                msg,
                                None,
                            );
                        }
                    }
                }
            }
        }
        self.findings
            .extend(price::findings(&self.prices, &self.ids));
        Report::new(self.items, self.findings)
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
    if let (Some(new), Some(old), Some(c)) = (
        item.price_minor,
        previous.and_then(|p| p.price_minor),
        item.currency,
    ) {
        let factor = 10_i64.pow(c.exponent());
        if factor > 1 && new > 0 && old > 0 {
            let ratio = new as f64 / old as f64;
            let f = factor as f64;
            if ratio > f / 2.0 && ratio < f * 2.0 {
                let fixed = (new + factor / 2) / factor;
                let msg = format!(
                    "new price {} is about {factor}× the current {}; did you mean {}?",
                    major(new, Some(c)),
                    major(old, Some(c)),
                    major(fixed, Some(c))
                );
                v.add(
                    1,
                    &item.external_id,
                    "price.unit_error",
                    Severity::Error,
                    msg,
                    Some(fixed.to_string()),
                );
            } else if ratio < 2.0 / f && ratio > 1.0 / (2.0 * f) {
                let fixed = new.saturating_mul(factor);
                let msg = format!(
                    "new price {} is about 1/{factor} of the current {}; did you mean {}?",
                    major(new, Some(c)),
                    major(old, Some(c)),
                    major(fixed, Some(c))
                );
                v.add(
                    1,
                    &item.external_id,
                    "price.unit_error",
                    Severity::Error,
                    msg,
                    Some(fixed.to_string()),
                );
            }
        }
    }
    v.findings
}

#[cfg(test)]
mod tests;

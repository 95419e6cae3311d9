//! Pricing rules that need the whole batch: each price against robust statistics of its
//! category (median and MAD of log10 price), so "normal" is learned from the catalog itself.

use crate::rule::Rule;
use std::collections::HashMap;

use crate::finding::{Finding, Severity};

/// What the pricing rules keep per priced item.
pub(crate) struct PriceRecord {
    pub line: usize,
    /// Position of the item's id in the validator's id list.
    pub item: u32,
    pub group: usize,
    pub currency: usize,
    pub price_minor: i64,
    pub exponent: u32,
    pub code: tillbridge_domain::Currency,
}

struct Stats {
    median: f64,
    scale: f64,
}

/// Fewer items than this and a category borrows the statistics of its whole currency.
const MIN_GROUP: usize = 8;
/// Robust z-score beyond which a price is far from its peers.
const FAR: f64 = 4.0;
/// The MAD scale never goes below 0.15 decade (±40 %),
/// so categories of near-identical prices don't flag ordinary variation.
const MIN_SCALE: f64 = 0.15;

fn stats(values: &mut [f64]) -> Option<Stats> {
    if values.len() < MIN_GROUP {
        return None;
    }
    let median = median(values);
    let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = median_of(&mut dev);
    Some(Stats {
        median,
        scale: (1.4826 * mad).max(MIN_SCALE),
    })
}

fn median(values: &mut [f64]) -> f64 {
    median_of(values)
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn log_price(r: &PriceRecord) -> f64 {
    (r.price_minor as f64 / 10f64.powi(r.exponent as i32)).log10()
}

/// "dollars entered as cents" in the merchant's terms where we know them.
fn units_phrase(code: tillbridge_domain::Currency, too_high: bool) -> String {
    let (major, minor) = match code.code() {
        "USD" | "CAD" | "AUD" | "NZD" | "SGD" | "HKD" => ("dollars", "cents"),
        "EUR" => ("euros", "cents"),
        "GBP" => ("pounds", "pence"),
        "SEK" | "NOK" | "DKK" => ("kronor", "öre"),
        other => {
            return if too_high {
                format!("{other} amounts entered as minor units")
            } else {
                format!("minor units read as {other}")
            };
        }
    };
    if too_high {
        format!("{major} entered as {minor}")
    } else {
        format!("{minor} entered as {major}")
    }
}

fn major(minor: i64, exponent: u32) -> String {
    rust_decimal::Decimal::new(minor, exponent).to_string()
}

/// Unit errors (a price off by the currency's minor-unit factor, either way) and outliers.
pub(crate) fn findings(records: &[PriceRecord], ids: &[Box<str>]) -> Vec<Finding> {
    let id = |r: &PriceRecord| {
        ids.get(r.item as usize)
            .map_or_else(String::new, |s| s.to_string())
    };
    let mut by_group: HashMap<usize, Vec<f64>> = HashMap::new();
    let mut by_currency: HashMap<usize, Vec<f64>> = HashMap::new();
    for r in records.iter().filter(|r| r.price_minor > 0) {
        let x = log_price(r);
        by_group.entry(r.group).or_default().push(x);
        by_currency.entry(r.currency).or_default().push(x);
    }
    let group_stats: HashMap<usize, Stats> = by_group
        .into_iter()
        .filter_map(|(g, mut v)| stats(&mut v).map(|s| (g, s)))
        .collect();
    let currency_stats: HashMap<usize, Stats> = by_currency
        .into_iter()
        .filter_map(|(c, mut v)| stats(&mut v).map(|s| (c, s)))
        .collect();

    let mut out = Vec::new();
    for r in records.iter().filter(|r| r.price_minor > 0) {
        let Some(s) = group_stats
            .get(&r.group)
            .or_else(|| currency_stats.get(&r.currency))
        else {
            continue;
        };
        let x = log_price(r);
        let d = x - s.median;
        let z = d / s.scale;
        if z.abs() < FAR {
            continue;
        }
        // The factor between major and minor units (100 for USD, 1000 for KWD; none for JPY).
        let decades = f64::from(r.exponent);
        // Corrected by the factor, the price must look ordinary: well inside its peers, or
        // at least not far when the deviation is close to the whole factor.
        let fits = |corrected: f64| {
            let zc = ((corrected - s.median) / s.scale).abs();
            zc < FAR / 2.0 || (zc < FAR && d.abs() > 0.75 * decades)
        };
        if decades > 0.0 && d > 0.0 && fits(x - decades) {
            let factor = 10_i64.pow(r.exponent);
            let fixed = (r.price_minor + factor / 2) / factor;
            out.push(Finding {
                item: id(r),
                rule: Rule::PriceUnitError,
                severity: Severity::Error,
                message: format!(
                    "{} ({code} {}) is about {factor}× what similar items cost (around {code} {}); it looks like {} — did you mean {fixed} ({code} {})?",
                    r.price_minor,
                    major(r.price_minor, r.exponent),
                    major(10f64.powf(s.median + decades).round() as i64, r.exponent),
                    units_phrase(r.code, true),
                    major(fixed, r.exponent),
                    code = r.code
                ),
                line: r.line,
                fix: Some(fixed.to_string()),
            });
        } else if decades > 0.0 && d < 0.0 && fits(x + decades) {
            let factor = 10_i64.pow(r.exponent);
            let fixed = r.price_minor.saturating_mul(factor);
            out.push(Finding {
                item: id(r),
                rule: Rule::PriceUnitError,
                severity: Severity::Error,
                message: format!(
                    "{} ({code} {}) is about 1/{factor} of what similar items cost (around {code} {}); it looks like {} — did you mean {fixed} ({code} {})?",
                    r.price_minor,
                    major(r.price_minor, r.exponent),
                    major(10f64.powf(s.median + decades).round() as i64, r.exponent),
                    units_phrase(r.code, false),
                    major(fixed, r.exponent),
                    code = r.code
                ),
                line: r.line,
                fix: Some(fixed.to_string()),
            });
        } else if d.abs() > 0.7 {
            out.push(Finding {
                item: id(r),
                rule: Rule::PriceOutlier,
                severity: Severity::Warning,
                message: format!(
                    "price {code} {} is far from what similar items cost (around {code} {}); please check it",
                    major(r.price_minor, r.exponent),
                    major(10f64.powf(s.median + decades).round() as i64, r.exponent),
                    code = r.code
                ),
                line: r.line,
                fix: None,
            });
        }
    }
    out
}

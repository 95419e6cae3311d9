//! Per-item price rules (`price.*`): a price that is missing, negative, zero or below cost,
//! and for a webhook update a price about the currency's minor-unit factor away from the
//! current one. The batch-wide outlier and unit-error rules are in [`crate::price`].

use crate::rule::Rule;
use tillbridge_domain::CatalogItem;

use super::{Validator, major};
use crate::finding::Severity;

impl Validator {
    /// `price.missing` (active item without a price), `price.negative` and `price.zero`
    /// (active item given away); an open price (entered at sale) needs no fixed price.
    pub(super) fn check_price(&mut self, line: usize, id: &str, item: &CatalogItem) {
        let active = item.is_active.unwrap_or(true);
        // An open price is entered at the register: no fixed price, and zero is a default.
        let open = item.open_price == Some(true);
        match item.price_minor {
            None | Some(0) if open => {}
            None if active => self.add(
                line,
                id,
                Rule::PriceMissing,
                Severity::Error,
                "active item has no price; it cannot be sold".into(),
                None,
            ),
            Some(p) if p < 0 => self.add(
                line,
                id,
                Rule::PriceNegative,
                Severity::Error,
                format!("price {} is negative", major(p, item.currency)),
                Some(p.saturating_abs().to_string()),
            ),
            Some(0) if active => self.add(
                line,
                id,
                Rule::PriceZero,
                Severity::Warning,
                "active item is priced at zero; it would be given away".into(),
                None,
            ),
            _ => {}
        }
    }

    /// `price.negative_cost`, and `price.below_cost` when every sale would lose money.
    pub(super) fn check_cost(&mut self, line: usize, id: &str, item: &CatalogItem) {
        if let Some(cost) = item.cost_minor {
            if cost < 0 {
                self.add(
                    line,
                    id,
                    Rule::PriceNegativeCost,
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
                self.add(line, id, Rule::PriceBelowCost, Severity::Warning, msg, None);
            }
        }
    }

    /// `price.unit_error` for an update: the new price is about the currency's minor-unit
    /// factor (100 for USD) times, or that fraction of, the price the catalog already has.
    pub(super) fn check_unit_change(&mut self, item: &CatalogItem, previous: Option<&CatalogItem>) {
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
                    self.add(
                        1,
                        &item.external_id,
                        Rule::PriceUnitError,
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
                    self.add(
                        1,
                        &item.external_id,
                        Rule::PriceUnitError,
                        Severity::Error,
                        msg,
                        Some(fixed.to_string()),
                    );
                }
            }
        }
    }
}

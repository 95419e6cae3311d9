//! Schema rules (`schema.*`): lines that are not valid items, unknown fields, values out
//! of range, URLs and tax rates.

use crate::rule::Rule;
use rust_decimal::Decimal;
use serde_json::Value;
use tillbridge_domain::CatalogItem;
use tillbridge_domain::item::CANONICAL_FIELDS;

use super::{Validator, clip};
use crate::finding::Severity;
use crate::modifiers::ModifierGroup;
use crate::tax::{allowed_vat_rates, max_plausible_rate};

impl Validator {
    /// Explains a line that is not a valid item; validates what can be saved.
    pub(super) fn diagnose(&mut self, line: usize, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.items += 1;
                let id = format!("line {line}");
                self.add(
                    line,
                    &id,
                    Rule::SchemaInvalidJson,
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
                Rule::SchemaInvalidJson,
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
                Rule::SchemaInvalidModifierGroup,
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
                Rule::SchemaUnknownField,
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
                Rule::SchemaInvalidItem,
                Severity::Error,
                format!("line {line}: {e}"),
                None,
            ),
        }
    }

    /// `schema.range` for negative stock or weight, THC/CBD outside 0–100 % and an update
    /// before its creation; `schema.url` for an image URL that is not http(s); then the tax
    /// rate.
    pub(super) fn check_ranges(&mut self, line: usize, id: &str, item: &CatalogItem) {
        let hundred = Decimal::ONE_HUNDRED;
        if let Some(q) = item
            .quantity_on_hand
            .filter(|q| q.is_sign_negative() && !q.is_zero())
        {
            self.add(
                line,
                id,
                Rule::SchemaRange,
                Severity::Warning,
                format!("quantity on hand {q} is negative"),
                None,
            );
        }
        if let Some(w) = item.weight.filter(|w| w.is_sign_negative() && !w.is_zero()) {
            self.add(
                line,
                id,
                Rule::SchemaRange,
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
                    Rule::SchemaRange,
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
                Rule::SchemaRange,
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
                Rule::SchemaUrl,
                Severity::Warning,
                format!("image_url {} is not an http(s) URL", clip(url)),
                None,
            );
        }
        self.check_tax_rate(line, id, item);
    }

    /// `schema.range` for a tax rate outside 0–100 %; `schema.tax_rate` for a rate that is
    /// not one of the country's VAT rates (with the fix when it is a fraction, 0.25 for
    /// 25 %), or, where no VAT list applies, one higher than any sales tax there.
    fn check_tax_rate(&mut self, line: usize, id: &str, item: &CatalogItem) {
        let hundred = Decimal::ONE_HUNDRED;
        let Some(rate) = item.tax_rate_percent else {
            return;
        };
        if rate.is_sign_negative() || rate > hundred {
            self.add(
                line,
                id,
                Rule::SchemaRange,
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
                    Rule::SchemaTaxRate,
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
                    Rule::SchemaTaxRate,
                    Severity::Warning,
                    format!("tax rate {rate} % is higher than any sales tax here"),
                    None,
                );
            }
            None => {}
        }
    }
}

//! Duplicate rules (`duplicate.*`): one SKU or name on two items (barcodes are
//! [`super::barcode`]'s).

use crate::rule::Rule;
use tillbridge_domain::CatalogItem;

use super::index::normalize_into;
use super::{Validator, clip};
use crate::finding::Severity;

impl Validator {
    pub(super) fn check_duplicates(
        &mut self,
        line: usize,
        id: &str,
        index: u32,
        item: &CatalogItem,
    ) {
        if let Some(sku) = item.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let key = self.key(|k| k.extend(sku.chars().flat_map(char::to_lowercase)));
            if let Some((first, first_line)) = Self::seen(&mut self.skus, key, index, line) {
                let msg = format!(
                    "SKU {} is also used by item {} (line {first_line}); stock and sales would mix",
                    clip(sku),
                    self.id_of(first)
                );
                self.add(line, id, Rule::DuplicateSku, Severity::Error, msg, None);
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
                self.add(line, id, Rule::DuplicateName, Severity::Warning, msg, None);
            }
        }
    }
}

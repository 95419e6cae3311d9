//! Completeness rules (`completeness.*`): what an item needs to be found, sold, reported
//! and counted — a name, a currency with its price, a category, a SKU or barcode.

use crate::rule::Rule;
use tillbridge_domain::CatalogItem;

use super::Validator;
use crate::finding::Severity;

impl Validator {
    /// `completeness.name`: an item without a name cannot be found.
    pub(super) fn check_name(&mut self, line: usize, id: &str, item: &CatalogItem) {
        if item.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            self.add(
                line,
                id,
                Rule::CompletenessName,
                Severity::Error,
                "item has no name; customers and staff cannot find it".into(),
                None,
            );
        }
    }

    /// `completeness.currency`: a price without a currency means nothing.
    pub(super) fn check_currency(&mut self, line: usize, id: &str, item: &CatalogItem) {
        if item.price_minor.is_some() && item.currency.is_none() {
            self.add(
                line,
                id,
                Rule::CompletenessCurrency,
                Severity::Error,
                "item has a price but no currency".into(),
                None,
            );
        }
    }

    /// `completeness.category` and `completeness.identifier` (neither SKU nor barcode).
    pub(super) fn check_category_and_identifier(
        &mut self,
        line: usize,
        id: &str,
        item: &CatalogItem,
    ) {
        if item.category.as_deref().is_none_or(|c| c.trim().is_empty()) {
            self.add(
                line,
                id,
                Rule::CompletenessCategory,
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
                Rule::CompletenessIdentifier,
                Severity::Warning,
                "item has neither SKU nor barcode; stock counts cannot be matched to it".into(),
                None,
            );
        }
    }
}

use serde::Serialize;

use crate::rule::{Family, Rule};

/// How bad a finding is. Serialized lowercase (`"error"`, `"warning"`); errors sort first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The item would be wrong or unsellable as written (a negative price, a barcode that
    /// will not scan, a price off by the minor-unit factor). A webhook update with an error
    /// is rejected instead of written (tillbridge-catalog); a migration holds back items with
    /// errors of the `price`, `duplicate` and `schema` families.
    Error,
    /// Probably a mistake but sellable (a price far from its peers, a missing category); it
    /// is reported and the item is still accepted.
    Warning,
}

/// One problem with one item. `item` is the external id (or `line N` when the line has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The item's `external_id` (clipped), or `line N` when the line has none or is not an
    /// item; for a modifier-group finding, the group's id.
    pub item: String,
    /// The rule, serialized as its stable id `family.rule` (e.g. `price.unit_error`).
    pub rule: Rule,
    /// Whether the finding blocks the item ([`Severity::Error`]) or only warns.
    pub severity: Severity,
    /// One sentence for the merchant, with amounts in major units and the currency code.
    pub message: String,
    /// 1-based line of the input.
    pub line: usize,
    /// The corrected value, where the fix is clear (e.g. a price in minor units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// The rule's family (`price` for `price.outlier`).
    pub fn family(&self) -> Family {
        self.rule.family()
    }
}

/// Counts over one validated batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Item lines read, including lines that could not be parsed as items (modifier-group
    /// lines and blank lines are not counted).
    pub items: usize,
    /// Findings of [`Severity::Error`] (not items: one item can have several).
    pub errors: usize,
    /// Findings of [`Severity::Warning`].
    pub warnings: usize,
}

/// What `tillbridge validate` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The counts of items and of findings per severity.
    pub summary: Summary,
    /// Every finding, sorted by line, then severity (errors first), then rule id.
    pub findings: Vec<Finding>,
}

impl Report {
    /// A report over `items` items: sorts `findings` (by line, severity, rule; stable) and
    /// counts them per severity.
    pub fn new(items: usize, mut findings: Vec<Finding>) -> Self {
        findings.sort_by_key(|f| (f.line, f.severity, f.rule));
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Self {
            summary: Summary {
                items,
                errors,
                warnings: findings.len() - errors,
            },
            findings,
        }
    }
}

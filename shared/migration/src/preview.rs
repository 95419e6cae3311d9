//! The validation report read by people: every item that has findings or is held back, by
//! name as well as id, with its findings; and, for a migration approved with a preview, what
//! the apply would do to each item (created, changed, unchanged) before it is approved again.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tillbridge_domain::CatalogItem;
use tillbridge_ports::Table;
use tillbridge_validation::{Report, Rule, Severity};

use crate::{Migration, MigrationError};

/// One finding of an item, as the report lists it under the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFinding {
    /// The rule id (`price.missing`).
    pub rule: Rule,
    /// Error or warning.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The corrected value, where the fix is clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One item in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemEntry {
    /// The source's id of the item.
    pub external_id: String,
    /// Its name, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its variant's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_name: Option<String>,
    /// Its SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// `held_back`, or for a preview what the apply would do: `created`, `changed`,
    /// `unchanged`; None when not previewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// The item's findings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<ItemFinding>,
}

/// A preview's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreviewCounts {
    /// Items the apply would create.
    pub created: u64,
    /// Items it would change.
    pub changed: u64,
    /// Items already as the export has them.
    pub unchanged: u64,
    /// Items held back by validation errors.
    pub held_back: u64,
}

/// The report's per-item parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entries {
    /// Items held back, with names and the findings that held them back.
    pub held_back: Vec<ItemEntry>,
    /// Every item with findings; for a preview, every item.
    pub items: Vec<ItemEntry>,
    /// The preview's counts (None when not previewed).
    pub preview: Option<PreviewCounts>,
    /// For a preview of a migration with a destination: what the write would do there
    /// (counts, and per item the action and the vendor's id when it has one).
    pub destination: Option<serde_json::Value>,
}

/// What the apply would do to each item, by position in `items` (held-back ones excluded).
///
/// # Errors
///
/// The table failed, or a stored record does not parse.
pub async fn actions(
    table: &dyn Table,
    m: &Migration,
    items: &[CatalogItem],
    held_back: &[String],
) -> Result<Vec<&'static str>, MigrationError> {
    let held: HashSet<&str> = held_back.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let action = if held.contains(item.external_id.as_str()) || !seen.insert(&item.external_id)
        {
            "held_back"
        } else {
            crate::apply::preview_action(table, m, item).await?
        };
        out.push(action);
    }
    Ok(out)
}

/// The report's items: findings grouped under their item with its name; held-back items;
/// with `actions` (a preview), every item with what the apply would do.
pub fn item_entries<E>(
    items: impl IntoIterator<Item = Result<CatalogItem, E>>,
    report: &Report,
    held_back: &[String],
    actions: Option<&Vec<&'static str>>,
) -> Result<Entries, E> {
    let mut by_item: HashMap<&str, Vec<ItemFinding>> = HashMap::new();
    for f in &report.findings {
        by_item
            .entry(f.item.as_str())
            .or_default()
            .push(ItemFinding {
                rule: f.rule,
                severity: f.severity,
                message: f.message.clone(),
                fix: f.fix.clone(),
            });
    }
    let held: HashSet<&str> = held_back.iter().map(String::as_str).collect();
    let mut out = Entries {
        preview: actions.map(|_| PreviewCounts::default()),
        ..Entries::default()
    };
    for (n, item) in items.into_iter().enumerate() {
        let item = item?;
        let action = actions.and_then(|a| a.get(n).copied());
        let findings = by_item
            .get(item.external_id.as_str())
            .cloned()
            .unwrap_or_default();
        let entry = ItemEntry {
            external_id: item.external_id.clone(),
            name: item.name.clone(),
            variant_name: item.variant_name.clone(),
            sku: item.sku.clone(),
            action: action.or(held
                .contains(item.external_id.as_str())
                .then_some("held_back")),
            findings,
        };
        if let Some(p) = out.preview.as_mut() {
            match action {
                Some("created") => p.created += 1,
                Some("changed") => p.changed += 1,
                Some("unchanged") => p.unchanged += 1,
                _ => p.held_back += 1,
            }
        }
        if entry.action == Some("held_back") {
            out.held_back.push(entry.clone());
        }
        if actions.is_some() || !entry.findings.is_empty() {
            out.items.push(entry);
        }
    }
    Ok(out)
}

/// The validation report as CSV for a spreadsheet: one row per item and finding (an item of a
/// preview without findings gets one row), with the item's name, variant, SKU, what the apply
/// does with it, the rule, severity, message and fix. Read from the stored report's `items`
/// (and `held_back_items`); the csv crate quotes what needs quoting.
///
/// A migration with a destination (the report has `destination`) is also the per-item results
/// file of the write there: four more columns, `destination` (the vendor),
/// `destination_id` (the object id there), `destination_action` (`created`, `updated`,
/// `unchanged`, `failed`) and `destination_reason`.
pub fn report_csv(report: &serde_json::Value) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let with_destination = report.get("destination").is_some_and(|d| d.is_object());
    let mut header = vec![
        "external_id",
        "name",
        "variant_name",
        "sku",
        "action",
        "rule",
        "severity",
        "message",
        "fix",
    ];
    if with_destination {
        header.extend([
            "destination",
            "destination_id",
            "destination_action",
            "destination_reason",
        ]);
    }
    let _ = w.write_record(&header);
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let mut seen = std::collections::HashSet::new();
    let lists = ["held_back_items", "items"];
    for list in lists {
        for item in report
            .get(list)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let id = text(item, "external_id");
            if !seen.insert(id.clone()) {
                continue;
            }
            let action = match text(item, "action") {
                a if a.is_empty() && list == "held_back_items" => "held_back".to_owned(),
                a => a,
            };
            let base = [
                id,
                text(item, "name"),
                text(item, "variant_name"),
                text(item, "sku"),
                action,
            ];
            let dest: Vec<String> = if with_destination {
                let d = item.get("destination").cloned().unwrap_or_default();
                ["provider", "object_id", "action", "reason"]
                    .map(|k| text(&d, k))
                    .to_vec()
            } else {
                Vec::new()
            };
            let findings = item.get("findings").and_then(|f| f.as_array());
            match findings.filter(|f| !f.is_empty()) {
                Some(fs) => {
                    for f in fs {
                        let mut row: Vec<String> = base.to_vec();
                        row.extend(["rule", "severity", "message", "fix"].map(|k| text(f, k)));
                        row.extend(dest.iter().cloned());
                        let _ = w.write_record(&row);
                    }
                }
                None => {
                    let mut row: Vec<String> = base.to_vec();
                    row.extend(std::iter::repeat_n(String::new(), 4));
                    row.extend(dest.iter().cloned());
                    let _ = w.write_record(&row);
                }
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn the_report_reads_as_one_row_per_item_and_finding() {
        let report = serde_json::json!({
            "held_back_items": [{"external_id": "a1", "name": "Latte, large", "findings": [
                {"rule": "price.unit_error", "severity": "error", "message": "about 100× \"similar\"", "fix": "450"}]}],
            "items": [
                {"external_id": "a1", "name": "Latte, large", "action": "held_back", "findings": [
                    {"rule": "price.unit_error", "severity": "error", "message": "dup"}]},
                {"external_id": "a2", "name": "Mocha", "action": "created"},
                {"external_id": "a3", "name": "Tea", "findings": [
                    {"rule": "barcode.check_digit", "severity": "warning", "message": "m1"},
                    {"rule": "completeness.category", "severity": "warning", "message": "m2"}]}
            ]
        });
        let text = report_csv(&report);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().filter_map(Result::ok).collect();
        assert_eq!(rows.len(), 4, "{text}");
        assert_eq!(&rows[0][1], "Latte, large");
        assert_eq!(&rows[0][4], "held_back");
        assert_eq!(&rows[0][7], "about 100× \"similar\"");
        assert_eq!(&rows[0][8], "450");
        assert_eq!(
            (&rows[1][0], &rows[1][4], &rows[1][5]),
            ("a2", "created", "")
        );
        assert_eq!((&rows[3][0], &rows[3][5]), ("a3", "completeness.category"));
    }

    #[test]
    fn a_report_with_a_destination_is_the_results_file_of_the_write() {
        let report = serde_json::json!({
            "destination": {"provider": "square", "created": 1, "failed": 1},
            "items": [
                {"external_id": "v1", "name": "Mug", "action": "created",
                 "destination": {"provider": "square", "object_id": "SQ-1", "action": "created"}},
                {"external_id": "v2", "name": "Cup", "action": "created",
                 "findings": [{"rule": "barcode.check_digit", "severity": "warning", "message": "m"}],
                 "destination": {"provider": "square", "object_id": null, "action": "failed",
                                 "reason": "conflict: version moved"}}
            ]
        });
        let text = report_csv(&report);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header = r.headers().cloned().unwrap_or_default();
        assert_eq!(
            header.iter().skip(9).collect::<Vec<_>>(),
            [
                "destination",
                "destination_id",
                "destination_action",
                "destination_reason"
            ]
        );
        let rows: Vec<csv::StringRecord> = r.records().filter_map(Result::ok).collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!((&rows[0][10], &rows[0][11]), ("SQ-1", "created"));
        assert_eq!(
            (&rows[1][5], &rows[1][11], &rows[1][12]),
            ("barcode.check_digit", "failed", "conflict: version moved")
        );
    }
}

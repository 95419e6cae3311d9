//! The AI feature registry: which product feature each operation serves, so finance can
//! read cost by feature (`group_by=feature`). The built-in operations are registered here;
//! an operator (or a legacy import's service mapping) adds operations in the table
//! (`features` → `<operation>`). Operations nobody registered are the
//! [`UNASSIGNED`] feature, so a feature table still adds up to the month's total.

use std::collections::BTreeMap;

use serde_json::json;
use tillbridge_ports::table::{Condition, Item, Table, query_all};

use crate::AccountingError;

/// Partition of the registry's table entries (sort key: the operation).
pub const FEATURES_PK: &str = "features";

/// The feature of operations nobody registered.
pub const UNASSIGNED: &str = "(unassigned)";

/// Operations tillbridge itself performs, and their features.
pub const BUILT_IN: [(&str, &str); 2] = [
    ("mapping.suggest", "mapping-suggestions"),
    ("mapping.escalate", "mapping-suggestions"),
];

/// Registers (or moves) `operation` under `feature`.
///
/// # Errors
/// The table failed.
pub async fn set_feature(
    table: &dyn Table,
    operation: &str,
    feature: &str,
) -> Result<(), AccountingError> {
    table
        .put(
            Item::with_doc(FEATURES_PK, operation, &json!({ "feature": feature }))?,
            Condition::Always,
        )
        .await?;
    Ok(())
}

/// Operation → feature: the built-in entries, then the table's (which win).
///
/// # Errors
/// The table failed.
pub async fn registry(table: &dyn Table) -> Result<BTreeMap<String, String>, AccountingError> {
    let mut out: BTreeMap<String, String> = BUILT_IN
        .iter()
        .map(|(o, f)| ((*o).to_owned(), (*f).to_owned()))
        .collect();
    for item in query_all(table, FEATURES_PK, "").await? {
        if let Some(f) = item
            .attrs
            .get("doc")
            .and_then(|d| d.get("feature"))
            .and_then(|f| f.as_str())
        {
            out.insert(item.sk.clone(), f.to_owned());
        }
    }
    Ok(out)
}

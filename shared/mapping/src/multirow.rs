//! Products written over several rows, recognised from the data, not from a vendor's name:
//!
//! - runs: a key column repeats over consecutive rows and product-level columns are blank on
//!   every row after the first (Shopify's Handle with Title, Body and Vendor on the first
//!   row only; any export built the same way);
//! - references: a column on some rows names another row by one of its ids (WooCommerce's
//!   `Parent` = `id:10` or the parent's SKU), and those rows leave product columns blank.
//!
//! The rows after the first (or the referring rows) take the blank product columns from their
//! product's row, and each such row knows its product (for `parent_id`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// How the rows of an export were grouped into products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// The column that groups rows (a repeated key, or a reference to another row).
    pub key: String,
    /// For a reference, the column of the product's row it refers to.
    pub refers_to: Option<String>,
    /// Columns that rows took from their product's row.
    pub inherited: Vec<String>,
    /// For each row, its product: the row the product's fields come from, and the product's
    /// key (the repeated value, or the referenced id); None for a row of its own.
    pub product_of: Vec<Option<(usize, String)>>,
    /// Products spread over more than one row.
    pub products: usize,
}

fn cell(record: &Value, column: &str) -> Option<String> {
    match record.get(column)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The scalar columns of flat records, in first-seen order; None when a record is not an
/// object.
fn columns(records: &[Value]) -> Option<Vec<String>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in records {
        for (k, v) in r.as_object()? {
            if !matches!(v, Value::Object(_) | Value::Array(_)) && seen.insert(k.as_str()) {
                out.push(k.clone());
            }
        }
    }
    Some(out)
}

/// Rows of `head` and of the rows that belong to it (continuation or referring rows).
struct Candidate {
    key: String,
    refers_to: Option<String>,
    /// (product row, member rows, product key).
    groups: Vec<(usize, Vec<usize>, String)>,
}

/// Columns that members leave blank where their product's row has a value, on at least
/// half of the members, and seldom contradict: product-level columns.
fn product_columns(
    records: &[Value],
    c: &Candidate,
    columns: &[String],
    excluded: &HashSet<&str>,
) -> Vec<String> {
    columns
        .iter()
        .filter(|col| {
            *col != &c.key && c.refers_to.as_ref() != Some(*col) && !excluded.contains(col.as_str())
        })
        .filter(|col| {
            let (mut blank, mut filled, mut differ) = (0usize, 0usize, 0usize);
            for (head, members, _) in &c.groups {
                let Some(h) = cell(&records[*head], col) else {
                    continue;
                };
                for m in members {
                    match cell(&records[*m], col) {
                        None => blank += 1,
                        Some(v) if v == h => filled += 1,
                        Some(_) => differ += 1,
                    }
                }
            }
            // Blank on most members; another value on a member is rare (an extra image).
            blank > 0 && blank >= filled + differ && differ * 4 <= blank
        })
        .cloned()
        .collect()
}

/// Runs of a repeated key: every value in one run only, at least one run of two rows.
fn runs(records: &[Value], key: &str) -> Option<Candidate> {
    let mut groups: Vec<(usize, Vec<usize>, String)> = Vec::new();
    let mut seen = HashSet::new();
    let mut current: Option<String> = None;
    for (i, r) in records.iter().enumerate() {
        let v = cell(r, key)?;
        if current.as_ref() == Some(&v) {
            if let Some(g) = groups.last_mut() {
                g.1.push(i);
            }
            continue;
        }
        if !seen.insert(v.clone()) {
            return None;
        }
        groups.push((i, Vec::new(), v.clone()));
        current = Some(v);
    }
    let multi = groups.iter().any(|g| !g.1.is_empty());
    multi.then(|| Candidate {
        key: key.to_owned(),
        refers_to: None,
        groups,
    })
}

/// A reference column: on some rows it names another row's value of `target` (as is, or
/// after a `prefix:` such as `id:`), and every one of its values does.
fn references(records: &[Value], key: &str, target: &str) -> Option<Candidate> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(v) = cell(r, target)
            && index.insert(v, i).is_some()
        {
            return None; // Not an id: a value repeats.
        }
    }
    let mut groups: Vec<(usize, Vec<usize>, String)> = Vec::new();
    let mut at: HashMap<usize, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let Some(raw) = cell(r, key) else { continue };
        let plain = raw.rsplit_once(':').map_or(raw.as_str(), |(_, v)| v).trim();
        let head = *index.get(plain)?;
        if head == i || cell(&records[head], key).is_some() {
            return None;
        }
        let g = *at.entry(head).or_insert_with(|| {
            groups.push((head, Vec::new(), plain.to_owned()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    (!groups.is_empty()).then(|| Candidate {
        key: key.to_owned(),
        refers_to: Some(target.to_owned()),
        groups,
    })
}

/// Finds how rows group into products and fills each member row's blank product columns
/// from its product's row. `excluded` columns are never taken over (what identifies a row
/// or belongs to it alone: ids, SKUs, barcodes, stock). None when no grouping shows in the
/// data.
pub fn complete_multi_row(records: &mut [Value], excluded: &HashSet<&str>) -> Option<Grouping> {
    if records.len() < 2 {
        return None;
    }
    let columns = columns(records)?;
    // The grouping that completes the most columns, then covers the most rows.
    let mut best: Option<(Candidate, Vec<String>, (usize, usize))> = None;
    let mut consider = |c: Candidate, records: &[Value]| {
        let inherited = product_columns(records, &c, &columns, excluded);
        let score = (inherited.len(), c.groups.iter().map(|g| g.1.len()).sum());
        let better = best.as_ref().is_none_or(|(_, _, b)| score > *b);
        if !inherited.is_empty() && better {
            best = Some((c, inherited, score));
        }
    };
    for key in &columns {
        if let Some(c) = runs(records, key) {
            consider(c, records);
        }
        for target in columns.iter().filter(|t| *t != key) {
            if let Some(c) = references(records, key, target) {
                consider(c, records);
            }
        }
    }
    let (c, inherited, _) = best?;
    let mut product_of = vec![None; records.len()];
    for (head, members, key) in &c.groups {
        for m in members {
            product_of[*m] = Some((*head, key.clone()));
            for col in &inherited {
                if cell(&records[*m], col).is_none()
                    && let Some(v) = records[*head].get(col).cloned()
                    && let Some(o) = records[*m].as_object_mut()
                {
                    o.insert(col.clone(), v);
                }
            }
        }
    }
    Some(Grouping {
        products: c.groups.iter().filter(|g| !g.1.is_empty()).count(),
        key: c.key,
        refers_to: c.refers_to,
        inherited,
        product_of,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn continuation_rows_take_the_product_columns() {
        let mut rows = vec![
            json!({"Handle": "tee", "Title": "Tee", "Vendor": "Acme", "SKU": "T-S", "Size": "S", "Image": "a.jpg"}),
            json!({"Handle": "tee", "SKU": "T-M", "Size": "M"}),
            json!({"Handle": "tee", "SKU": "T-L", "Size": "L"}),
            json!({"Handle": "cap", "Title": "Cap", "Vendor": "Acme", "SKU": "C-1"}),
        ];
        let g = complete_multi_row(&mut rows, &HashSet::from(["SKU"])).unwrap();
        assert_eq!(g.key, "Handle");
        assert_eq!(g.inherited, ["Image", "Title", "Vendor"]);
        assert_eq!(rows[1]["Title"], "Tee");
        assert_eq!(rows[2]["Image"], "a.jpg");
        assert_eq!(rows[1]["Image"], "a.jpg");
        assert_eq!(g.product_of[2], Some((0, "tee".into())));
        assert_eq!(g.product_of[3], None);
        assert_eq!(rows[3].get("Size"), None);
    }

    #[test]
    fn referring_rows_take_their_parents_columns() {
        let mut rows = vec![
            json!({"ID": "10", "Type": "variable", "SKU": "HOOD", "Name": "Hoodie", "Categories": "Tops", "Parent": ""}),
            json!({"ID": "11", "Type": "variation", "Name": "Hoodie - Red", "Parent": "id:10", "Price": "30"}),
            json!({"ID": "12", "Type": "variation", "Name": "Hoodie - Blue", "Parent": "id:10", "Price": "30"}),
            json!({"ID": "20", "Type": "simple", "SKU": "MUG", "Name": "Mug", "Categories": "Home"}),
        ];
        let g = complete_multi_row(&mut rows, &HashSet::from(["SKU", "ID"]));
        let g = g.unwrap();
        assert_eq!(
            (g.key.as_str(), g.refers_to.as_deref()),
            ("Parent", Some("ID"))
        );
        assert_eq!(rows[1]["Categories"], "Tops");
        assert_eq!(rows[1].get("SKU"), None);
        assert_eq!(g.product_of[1], Some((0, "10".into())));
    }

    #[test]
    fn rows_of_their_own_are_left_alone() {
        let mut rows = vec![
            json!({"id": "1", "name": "Tea", "category": "Drinks"}),
            json!({"id": "2", "name": "Coffee", "category": "Drinks"}),
            json!({"id": "3", "name": "Bun", "category": "Food"}),
        ];
        let before = rows.clone();
        assert_eq!(complete_multi_row(&mut rows, &HashSet::new()), None);
        assert_eq!(rows, before);
    }
}

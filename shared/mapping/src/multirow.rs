//! Products written over several rows, recognised from the data, not from a vendor's name:
//!
//! - runs: a key column repeats over consecutive rows and product-level columns are blank on
//!   every row after the first (Shopify's Handle with Title, Body and Vendor on the first
//!   row only; any export built the same way);
//! - repeats: a key column repeats over consecutive rows and the product's name and other
//!   product columns are repeated on every row (Square's item library export: one row per
//!   variation, `Item Name`, `Description` and `Categories` on each). Only accepted when the
//!   column mapped to the item's name is the key or repeats with it, so rows sorted by a
//!   category are never taken for one product;
//! - references: a column on some rows names another row by one of its ids (WooCommerce's
//!   `Parent` = `id:10` or the parent's SKU), and those rows leave product columns blank.
//!
//! The rows after the first (or the referring rows) take the blank product columns from their
//! product's row, and each such row knows its product (for `parent_id`).
//!
//! Attachment rows: a row of a product that has no value in any variant column (no id, SKU,
//! option, price, stock) is no variant; it only adds further values of product columns
//! (Shopify's image-only rows: `Handle`, `Image Src`, `Image Position`). Those columns are
//! lists whose first value is the product's: every variant takes the product row's value.

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
    /// Columns every row of a product repeats (the product's name, description …).
    pub shared: Vec<String>,
    /// Columns attachment rows add further values of (extra images): every row of the
    /// product took the product row's value.
    pub listed: Vec<String>,
    /// Rows that are no variant, only further values of their product's listed columns.
    pub attachments: Vec<usize>,
    /// Products spread over more than one row.
    pub products: usize,
}

/// What the mapping says of the columns, for grouping.
#[derive(Debug, Clone, Default)]
pub struct ColumnRoles<'a> {
    /// Columns whose values belong to one row alone (ids, SKUs, barcodes, option values,
    /// stock): never taken over from a product's row.
    pub row_own: HashSet<&'a str>,
    /// Columns a variant row has a value in (`row_own` and the price): a product's row
    /// without any is an attachment row.
    pub variant: HashSet<&'a str>,
    /// The column mapped to the item's name.
    pub name: Option<&'a str>,
    /// The column mapped to the parent's id, if any.
    pub parent: Option<&'a str>,
    /// Every mapped column.
    pub mapped: HashSet<&'a str>,
}

impl ColumnRoles<'_> {
    /// How well `key`'s values serve as the variants' parent id: the column mapped to it;
    /// then an unmapped column named like an id (handle, token, reference, key, slug, id);
    /// then an unmapped column whose values have no spaces; then the name; then the rest.
    fn key_rank<'v>(&self, key: &str, mut values: impl Iterator<Item = &'v str>) -> u8 {
        const ID_WORDS: [&str; 7] = ["handle", "token", "reference", "ref", "key", "slug", "id"];
        if self.parent == Some(key) {
            4
        } else if self.mapped.contains(key) {
            u8::from(self.name == Some(key))
        } else if crate::tokens::words(key)
            .iter()
            .any(|w| ID_WORDS.contains(&w.as_str()))
        {
            3
        } else if values.all(|k| !k.contains(char::is_whitespace)) {
            2
        } else {
            0
        }
    }
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

/// Members of a product with no value in any variant column: attachment rows.
fn attachments(records: &[Value], c: &Candidate, roles: &ColumnRoles) -> HashSet<usize> {
    if roles.variant.iter().all(|col| *col == c.key) {
        return HashSet::new();
    }
    c.groups
        .iter()
        .flat_map(|g| &g.1)
        .copied()
        .filter(|m| {
            roles
                .variant
                .iter()
                .filter(|col| **col != c.key)
                .all(|col| cell(&records[*m], col).is_none())
        })
        .collect()
}

/// How a candidate grouping explains the columns.
struct Explained {
    /// Columns members leave blank where their product's row has a value, on at least half
    /// of the members, and seldom contradict: product-level columns.
    inherited: Vec<String>,
    /// Columns every member repeats from its product's row; only for repeats that carry the
    /// item's name (see the module's doc).
    shared: Vec<String>,
    /// The rows of a product repeat the item's name (or the key is the name).
    repeats_name: bool,
}

fn explain(
    records: &[Value],
    c: &Candidate,
    columns: &[String],
    roles: &ColumnRoles,
    attached: &HashSet<usize>,
) -> Explained {
    let mut inherited = Vec::new();
    let mut shared = Vec::new();
    for col in columns {
        if col == &c.key
            || c.refers_to.as_ref() == Some(col)
            || roles.row_own.contains(col.as_str())
        {
            continue;
        }
        let (mut blank, mut filled, mut differ) = (0usize, 0usize, 0usize);
        for (head, members, _) in &c.groups {
            let Some(h) = cell(&records[*head], col) else {
                continue;
            };
            for m in members.iter().filter(|m| !attached.contains(m)) {
                match cell(&records[*m], col) {
                    None => blank += 1,
                    Some(v) if v == h => filled += 1,
                    Some(_) => differ += 1,
                }
            }
        }
        // Blank on most members; another value on a member is rare (an extra image).
        if blank > 0 && blank >= filled + differ && differ * 4 <= blank {
            inherited.push(col.clone());
        } else if filled > 0 && blank == 0 && differ == 0 {
            shared.push(col.clone());
        }
    }
    let repeats_name = c.refers_to.is_none()
        && roles
            .name
            .is_some_and(|n| n == c.key || shared.iter().any(|s| s == n));
    if !repeats_name {
        shared.clear();
    }
    Explained {
        inherited,
        shared,
        repeats_name,
    }
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
/// from its product's row (`roles.row_own` columns are never taken over). None when no
/// grouping shows in the data.
pub fn complete_multi_row(records: &mut [Value], roles: &ColumnRoles) -> Option<Grouping> {
    if records.len() < 2 {
        return None;
    }
    let columns = columns(records)?;
    // The grouping that explains the most columns, then covers the most rows.
    // Ties go to the key that serves best as the variants' parent id
    // ([`ColumnRoles::key_rank`]), then to the shortest values.
    type Score = (usize, usize, u8, std::cmp::Reverse<usize>);
    type Best = (Candidate, Explained, HashSet<usize>, Score);
    let mut best: Option<Best> = None;
    let mut consider = |c: Candidate, records: &[Value]| {
        let attached = attachments(records, &c, roles);
        let e = explain(records, &c, &columns, roles, &attached);
        let keys = || c.groups.iter().map(|g| g.2.as_str());
        let score = (
            e.inherited.len() + e.shared.len(),
            c.groups.iter().map(|g| g.1.len()).sum(),
            roles.key_rank(&c.key, keys()),
            std::cmp::Reverse(keys().map(str::len).sum()),
        );
        let better = best.as_ref().is_none_or(|b| score > b.3);
        if (!e.inherited.is_empty() || e.repeats_name) && better {
            best = Some((c, e, attached, score));
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
    let (c, e, attached, _) = best?;
    // Columns the attachment rows add values of: lists whose first value is the product's.
    let listed: Vec<String> = columns
        .iter()
        .filter(|col| {
            *col != &c.key
                && !roles.row_own.contains(col.as_str())
                && attached.iter().any(|a| cell(&records[*a], col).is_some())
        })
        .cloned()
        .collect();
    let mut product_of = vec![None; records.len()];
    for (head, members, key) in &c.groups {
        for m in members {
            product_of[*m] = Some((*head, key.clone()));
            if attached.contains(m) {
                continue;
            }
            for col in &e.inherited {
                if cell(&records[*m], col).is_none()
                    && let Some(v) = records[*head].get(col).cloned()
                    && let Some(o) = records[*m].as_object_mut()
                {
                    o.insert(col.clone(), v);
                }
            }
            for col in &listed {
                let v = records[*head].get(col).cloned().unwrap_or(Value::Null);
                if let Some(o) = records[*m].as_object_mut() {
                    o.insert(col.clone(), v);
                }
            }
        }
    }
    let mut attachments: Vec<usize> = attached.into_iter().collect();
    attachments.sort_unstable();
    Some(Grouping {
        products: c.groups.iter().filter(|g| !g.1.is_empty()).count(),
        key: c.key,
        refers_to: c.refers_to,
        inherited: e.inherited,
        shared: e.shared,
        listed,
        attachments,
        product_of,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn roles<'a>(row_own: &[&'a str], price: &[&'a str], name: Option<&'a str>) -> ColumnRoles<'a> {
        let variant: HashSet<&str> = row_own.iter().chain(price).copied().collect();
        ColumnRoles {
            row_own: row_own.iter().copied().collect(),
            mapped: variant
                .iter()
                .copied()
                .chain(name)
                .chain(["Description"])
                .collect(),
            variant,
            name,
            parent: None,
        }
    }

    #[test]
    fn continuation_rows_take_the_product_columns() {
        let mut rows = vec![
            json!({"Handle": "tee", "Title": "Tee", "Vendor": "Acme", "SKU": "T-S", "Size": "S", "Image": "a.jpg"}),
            json!({"Handle": "tee", "SKU": "T-M", "Size": "M"}),
            json!({"Handle": "tee", "SKU": "T-L", "Size": "L"}),
            json!({"Handle": "cap", "Title": "Cap", "Vendor": "Acme", "SKU": "C-1"}),
        ];
        let g = complete_multi_row(&mut rows, &roles(&["SKU"], &[], Some("Title"))).unwrap();
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
        let g = complete_multi_row(&mut rows, &roles(&["SKU", "ID"], &["Price"], Some("Name")));
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
        let roles = roles(&["id"], &[], Some("name"));
        assert_eq!(complete_multi_row(&mut rows, &roles), None);
        assert_eq!(rows, before);
    }

    #[test]
    fn rows_repeating_the_name_are_one_products_variations() {
        let mut rows = vec![
            json!({"Handle": "#bun", "Token": "A1", "Item Name": "Bun", "Variation Name": "Small", "Description": "Sweet", "Category": "Bakery", "Price": "2.50"}),
            json!({"Handle": "#bun", "Token": "A2", "Item Name": "Bun", "Variation Name": "Large", "Description": "Sweet", "Category": "Bakery", "Price": "3.90"}),
            json!({"Handle": "#bread", "Token": "B1", "Item Name": "Bread", "Variation Name": "Regular", "Description": "Fresh", "Category": "Bakery", "Price": "4.00"}),
        ];
        let before = rows.clone();
        let roles = roles(&["Token", "Variation Name"], &["Price"], Some("Item Name"));
        let g = complete_multi_row(&mut rows, &roles).unwrap();
        assert_eq!((g.key.as_str(), g.products), ("Handle", 1));
        assert_eq!(g.shared, ["Category", "Description", "Item Name"]);
        assert_eq!(g.product_of[1], Some((0, "#bun".into())));
        assert_eq!(g.product_of[2], None);
        assert_eq!(rows, before, "nothing to fill: every row has its values");
    }

    #[test]
    fn rows_sorted_by_category_are_no_product() {
        // Consecutive rows share a category (and its tax rate), but not the item's name.
        let mut rows = vec![
            json!({"sku": "1", "name": "Latte", "category": "Coffee", "tax": "7"}),
            json!({"sku": "2", "name": "Mocha", "category": "Coffee", "tax": "7"}),
            json!({"sku": "3", "name": "Scone", "category": "Bakery", "tax": "19"}),
        ];
        let roles = roles(&["sku"], &[], Some("name"));
        assert_eq!(complete_multi_row(&mut rows, &roles), None);
    }

    #[test]
    fn image_only_rows_are_attachments_not_variants() {
        let mut rows = vec![
            json!({"Handle": "tee", "Title": "Tee", "SKU": "T-S", "Opt": "S", "Price": "19", "Image Src": "1.jpg", "Image Position": "1"}),
            json!({"Handle": "tee", "SKU": "T-M", "Opt": "M", "Price": "19", "Image Src": "2.jpg", "Image Position": "2"}),
            json!({"Handle": "tee", "Image Src": "3.jpg", "Image Position": "3"}),
            json!({"Handle": "tee", "Image Src": "4.jpg", "Image Position": "4"}),
            json!({"Handle": "cap", "Title": "Cap", "SKU": "C", "Opt": "", "Price": "9", "Image Src": "c.jpg", "Image Position": "1"}),
        ];
        let roles = roles(&["SKU", "Opt"], &["Price"], Some("Title"));
        let g = complete_multi_row(&mut rows, &roles).unwrap();
        assert_eq!(g.attachments, [2, 3]);
        assert_eq!(g.listed, ["Image Position", "Image Src"]);
        assert_eq!(rows[1]["Image Src"], "1.jpg", "the product's first image");
        assert_eq!(rows[1]["Title"], "Tee");
        assert_eq!(rows[4]["Image Src"], "c.jpg");
    }
}

//! Applying an approved mapping to records: money columns decided as a whole (decimal mark
//! from every value, the tenant's currency and country), products spread over several rows
//! completed ([`crate::complete_multi_row`]), variants under array paths, open prices.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use tillbridge_domain::money_text::{DecimalMark, MarkDecision, decide_mark};
use tillbridge_domain::{CatalogItem, Country, Currency};

use crate::convert::{Conversion, MappedField, open_price, set, text, values_at};
use crate::multirow::{ColumnRoles, Grouping, complete_multi_row};

/// The tenant's money settings a mapping is applied with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyContext {
    /// Amounts are read in this currency (and it is the items' currency unless a field
    /// gives one).
    pub currency: Currency,
    /// The tenant's country: its way of writing decimals settles columns nothing else does.
    pub country: Option<Country>,
}

/// What applying a mapping gave.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The canonical items, in record order (a record's own item before its variants).
    pub items: Vec<CatalogItem>,
    /// Values and columns that did not convert (record number, field, why).
    pub problems: Vec<String>,
    /// Decisions taken from the data, with their evidence (a column's decimal mark, rows
    /// grouped into products), for the reviewer.
    pub notes: Vec<String>,
    /// How rows were grouped into products, when they were.
    pub grouping: Option<Grouping>,
}

/// Per-column decisions the conversions read.
pub(crate) struct Columns {
    pub(crate) currency: Currency,
    /// Money columns by source: their decimal mark, or None when it is ambiguous.
    pub(crate) marks: HashMap<String, Option<DecimalMark>>,
}

/// Targets whose values belong to one row alone: never taken over from a product's row.
const ROW_OWN: [&str; 7] = [
    "external_id",
    "sku",
    "barcode",
    "variant_name",
    "parent_id",
    "quantity_on_hand",
    "stock_by_location",
];

/// Applies an approved mapping to records ([`apply_with`] without a country).
pub fn apply(
    records: &[Value],
    mapping: &[MappedField],
    currency: Currency,
) -> (Vec<CatalogItem>, Vec<String>) {
    let a = apply_with(
        records,
        mapping,
        &ApplyContext {
            currency,
            country: None,
        },
    );
    (a.items, a.problems)
}

/// Applies an approved mapping to records. Rows of one product spread over several rows
/// take the product's fields (and, unless a field gives it, the product as `parent_id`).
/// Fields under the array that holds the variants' own ids become one item per variant
/// (parent_id defaults to the record's id, and the record's name, category and the like are
/// inherited); the record itself is an item too. Money columns are read with the decimal
/// mark their values show; an ambiguous column converts nothing and is a problem with the
/// evidence. A variant whose pricing field says the price is entered at sale is an open
/// price.
pub fn apply_with(records: &[Value], mapping: &[MappedField], cx: &ApplyContext) -> Applied {
    if records.iter().all(is_flat) {
        return apply_owned(records.to_vec(), mapping, cx);
    }
    apply_grouped(records, None, mapping, cx)
}

/// [`apply_with`] on records the caller gives away: flat rows are grouped into products in
/// place instead of in a copy of every record.
pub fn apply_owned(mut records: Vec<Value>, mapping: &[MappedField], cx: &ApplyContext) -> Applied {
    let grouping = if records.iter().all(is_flat) {
        complete_multi_row(&mut records, &column_roles(mapping))
    } else {
        None
    };
    apply_grouped(&records, grouping, mapping, cx)
}

/// What the mapping says of the columns, for grouping rows into products.
fn column_roles(mapping: &[MappedField]) -> ColumnRoles<'_> {
    let sources = |targets: &[&str]| -> HashSet<&str> {
        mapping
            .iter()
            .filter(|m| targets.contains(&m.target.as_str()))
            .map(|m| m.source.as_str())
            .collect()
    };
    ColumnRoles {
        row_own: sources(&ROW_OWN),
        variant: sources(&[&ROW_OWN[..], &["price_minor"]].concat()),
        name: mapping
            .iter()
            .find(|m| m.target == "name")
            .map(|m| m.source.as_str()),
        parent: mapping
            .iter()
            .find(|m| m.target == "parent_id")
            .map(|m| m.source.as_str()),
        mapped: mapping.iter().map(|m| m.source.as_str()).collect(),
    }
}

/// The mapping applied to records already grouped into products (or not grouped).
fn apply_grouped(
    records: &[Value],
    grouping: Option<Grouping>,
    mapping: &[MappedField],
    cx: &ApplyContext,
) -> Applied {
    let mut out = Applied {
        grouping,
        ..Applied::default()
    };
    let attachments: HashSet<usize> = out
        .grouping
        .as_ref()
        .map(|g| g.attachments.iter().copied().collect())
        .unwrap_or_default();
    if let Some(g) = &out.grouping {
        out.notes.push(grouping_note(g));
        if let Some(m) = mapping
            .iter()
            .find(|m| m.source == g.key && m.target == "external_id")
        {
            out.problems.push(format!(
                "{}: rows of one product share it ({} products over several rows), so it cannot be each row's external_id; map a column that differs per row (a variant SKU or id) to external_id and {} to parent_id",
                m.source, g.products, m.source
            ));
        }
    }
    let mut evidence = MoneyEvidence::new(mapping);
    for r in records {
        evidence.push(r);
    }
    let mapper = RecordMapper::new(
        mapping,
        evidence.decide(cx, &mut out),
        records.iter().all(is_flat),
    );
    let parent_mapped = mapping.iter().any(|m| m.target == "parent_id");
    let mut first_item_of_record: Vec<Option<usize>> = Vec::with_capacity(records.len());
    for (n, record) in records.iter().enumerate() {
        if attachments.contains(&n) {
            first_item_of_record.push(None);
            continue;
        }
        first_item_of_record.push(mapper.map(n, record, &mut out));
    }
    if let Some(g) = &out.grouping
        && !parent_mapped
    {
        link_products(&mut out.items, g, &first_item_of_record);
    }
    out
}

/// Applies a mapping one record at a time, in two passes over the records: each record is
/// shown to [`Streamed::observe`] (the money columns' decimal marks are decided from every
/// value), then [`Streamed::start`] decides, then each record again, in the same order, to
/// [`Streamed::map`]. The items, problems and notes are those [`apply_with`] gives for the
/// same records, as long as not every record is flat: flat rows (CSV, flat JSON) may be one
/// product spread over several rows, which only the whole set shows — give those to
/// [`apply_with`]. Nothing but the money columns' values is kept between records.
pub struct Streamed<'m> {
    mapping: &'m [MappedField],
    cx: ApplyContext,
    evidence: MoneyEvidence<'m>,
    mapper: Option<RecordMapper<'m>>,
    all_flat: bool,
}

impl<'m> Streamed<'m> {
    /// Ready for the first pass.
    pub fn new(mapping: &'m [MappedField], cx: &ApplyContext) -> Self {
        Self {
            mapping,
            cx: *cx,
            evidence: MoneyEvidence::new(mapping),
            mapper: None,
            all_flat: true,
        }
    }

    /// First pass: one record's money values (and whether it is flat).
    pub fn observe(&mut self, record: &Value) {
        self.all_flat &= is_flat(record);
        self.evidence.push(record);
    }

    /// Whether every record observed is flat: then give the records to [`apply_with`]
    /// instead (they may be grouped into products).
    pub fn all_flat(&self) -> bool {
        self.all_flat
    }

    /// Ends the first pass: the money columns decided, their notes and problems in `out`.
    pub fn start(&mut self, out: &mut Applied) {
        let evidence = std::mem::replace(&mut self.evidence, MoneyEvidence::new(&[]));
        let columns = evidence.decide(&self.cx, out);
        self.mapper = Some(RecordMapper::new(self.mapping, columns, self.all_flat));
    }

    /// Second pass: record `n` (0-based, in the first pass's order) to items, appended to
    /// `out.items` (the record's own item before its variants), its problems to
    /// `out.problems`. Takes the caller's `out` so it can drain the items as it goes.
    pub fn map(&self, n: usize, record: &Value, out: &mut Applied) {
        if let Some(mapper) = &self.mapper {
            mapper.map(n, record, out);
        }
    }
}

/// The text values of each text money column, gathered record by record, to decide the
/// column's decimal mark from all of them.
struct MoneyEvidence<'m> {
    columns: Vec<(&'m MappedField, Vec<String>)>,
}

impl<'m> MoneyEvidence<'m> {
    fn new(mapping: &'m [MappedField]) -> Self {
        Self {
            columns: mapping
                .iter()
                .filter(|m| {
                    matches!(m.target.as_str(), "price_minor" | "cost_minor")
                        && m.conversion != Conversion::MinorUnits
                })
                .map(|m| (m, Vec::new()))
                .collect(),
        }
    }

    fn push(&mut self, record: &Value) {
        for (m, values) in &mut self.columns {
            values.extend(
                values_at(record, &m.source)
                    .into_iter()
                    .filter(|v| v.is_string())
                    .filter_map(text),
            );
        }
    }

    /// Decides each text money column's decimal mark from all its values.
    fn decide(self, cx: &ApplyContext, out: &mut Applied) -> Columns {
        let mut marks = HashMap::new();
        for (m, values) in self.columns {
            let decision = decide_mark(values.iter().map(String::as_str), cx.currency, cx.country);
            let mark = match decision {
                MarkDecision::Decided { mark, evidence } => {
                    if evidence != "no value has a decimal separator" {
                        out.notes.push(format!(
                            "{}: read with a {} ({evidence})",
                            m.source,
                            mark.name()
                        ));
                    }
                    Some(mark)
                }
                MarkDecision::Ambiguous { evidence } => {
                    out.problems.push(format!(
                        "{}: the decimal mark is ambiguous ({evidence}); no amount of this column was converted, say which mark it uses",
                        m.source
                    ));
                    None
                }
            };
            marks.insert(m.source.clone(), mark);
        }
        Columns {
            currency: cx.currency,
            marks,
        }
    }
}

/// What mapping one record needs, decided once for all records.
struct RecordMapper<'m> {
    mapping: &'m [MappedField],
    columns: Columns,
    /// The array path holding the variants' ids, if any (`variations[]`).
    variant_prefix: Option<String>,
    id_source: Option<&'m str>,
    /// Every record is flat (a record without an id is then reported).
    flat: bool,
}

impl<'m> RecordMapper<'m> {
    fn new(mapping: &'m [MappedField], columns: Columns, flat: bool) -> Self {
        Self {
            mapping,
            columns,
            variant_prefix: mapping
                .iter()
                .filter(|m| m.target == "external_id" && m.source.contains("[]"))
                .map(|m| m.source[..m.source.rfind("[]").map_or(0, |i| i + 2)].to_owned())
                .min_by_key(String::len),
            id_source: mapping
                .iter()
                .find(|m| m.target == "external_id")
                .map(|m| m.source.as_str()),
            flat,
        }
    }

    /// Record `n`'s items appended to `out.items`; the index of its own item, if it has one.
    fn map(&self, n: usize, record: &Value, out: &mut Applied) -> Option<usize> {
        let mapping = self.mapping;
        let mut parent = CatalogItem::default();
        for m in mapping.iter().filter(|m| {
            self.variant_prefix
                .as_ref()
                .is_none_or(|p| !m.source.starts_with(p.as_str()))
        }) {
            if let Err(e) = set(&mut parent, m, &values_at(record, &m.source), &self.columns) {
                out.problems.push(format!("record {}: {e}", n + 1));
            }
        }
        finish_item(&mut parent, record, self.columns.currency);
        let variants = match &self.variant_prefix {
            Some(prefix) => variants_of(record, n, prefix, mapping, &parent, &self.columns, out),
            None => Vec::new(),
        };
        if parent.external_id.is_empty()
            && self.id_source.is_some()
            && variants.is_empty()
            && self.flat
        {
            out.problems.push(format!(
                "record {}: no {} value, so it is no item (not migrated)",
                n + 1,
                self.id_source.unwrap_or("external_id")
            ));
        }
        let first = (!parent.external_id.is_empty()).then_some(out.items.len());
        if !parent.external_id.is_empty() {
            out.items.push(parent);
        }
        out.items
            .extend(variants.into_iter().filter(|v| !v.external_id.is_empty()));
        first
    }
}

/// Records that are one level of scalars (CSV rows, flat JSON records).
fn is_flat(r: &Value) -> bool {
    r.as_object().is_some_and(|o| {
        o.values()
            .all(|v| !matches!(v, Value::Object(_) | Value::Array(_)))
    })
}

fn grouping_note(g: &Grouping) -> String {
    let how = match &g.refers_to {
        Some(t) => format!("rows whose {} names another row's {t}", g.key),
        None => format!("consecutive rows sharing {}", g.key),
    };
    let mut said = Vec::new();
    if !g.inherited.is_empty() {
        said.push(format!(
            "their rows took {} from the product's row",
            g.inherited.join(", ")
        ));
    }
    if !g.shared.is_empty() {
        said.push(format!("every row repeats {}", g.shared.join(", ")));
    }
    if !g.attachments.is_empty() {
        said.push(format!(
            "{} rows only add further {} to their product and are no items (each item keeps the product row's)",
            g.attachments.len(),
            g.listed.join(", ")
        ));
    }
    format!(
        "{} products spread over several rows ({how}); {}",
        g.products,
        said.join("; ")
    )
}

/// Each row of a product knows its product: `parent_id` is the product row's item id for a
/// reference, the shared key for a run (its first row included).
fn link_products(items: &mut [CatalogItem], g: &Grouping, first: &[Option<usize>]) {
    let mut heads = HashSet::new();
    for (row, product) in g.product_of.iter().enumerate() {
        let Some((head, key)) = product else { continue };
        let parent = match &g.refers_to {
            Some(_) => first
                .get(*head)
                .copied()
                .flatten()
                .map(|i| items[i].external_id.clone()),
            None => {
                heads.insert((*head, key.clone()));
                Some(key.clone())
            }
        };
        set_parent(items, first.get(row).copied().flatten(), parent);
    }
    for (head, key) in heads {
        set_parent(items, first.get(head).copied().flatten(), Some(key));
    }
}

fn set_parent(items: &mut [CatalogItem], item: Option<usize>, parent: Option<String>) {
    if let (Some(i), Some(p)) = (item, parent)
        && items[i].parent_id.is_none()
        && items[i].external_id != p
    {
        items[i].parent_id = Some(p);
    }
}

/// The currency of an item with money, and an open price its record's pricing field says.
fn finish_item(item: &mut CatalogItem, record: &Value, currency: Currency) {
    if item.currency.is_none() && (item.price_minor.is_some() || item.cost_minor.is_some()) {
        item.currency = Some(currency);
    }
    if item.open_price.is_none() && item.price_minor.is_none() {
        item.open_price = pricing_field(record).filter(|o| *o);
    }
}

/// A field of the record (not of nested arrays) whose name says pricing type or open or
/// variable price, and whose value says the price is entered at sale (Square's
/// `pricing_type: VARIABLE_PRICING`, Clover's `priceType: VARIABLE`, `open_price: true`).
fn pricing_field(record: &Value) -> Option<bool> {
    let o = record.as_object()?;
    for (k, v) in o {
        if let Value::Object(_) = v {
            if let Some(found) = pricing_field(v) {
                return Some(found);
            }
            continue;
        }
        let key = crate::tokens::words(k).join(" ");
        let named = key.contains("pricing")
            || key.contains("price type")
            || key.contains("open price")
            || key.contains("variable price");
        if named && let Some(open) = open_price(v, text(v).as_deref()) {
            return Some(open);
        }
    }
    None
}

/// The variants of a record under `prefix` (the array holding the variants' ids).
fn variants_of(
    record: &Value,
    n: usize,
    prefix: &str,
    mapping: &[MappedField],
    parent: &CatalogItem,
    columns: &Columns,
    out: &mut Applied,
) -> Vec<CatalogItem> {
    let key = prefix.trim_end_matches("[]");
    let mut variants = Vec::new();
    for element in values_at(record, &format!("{key}[]")) {
        let mut v = CatalogItem {
            parent_id: Some(parent.external_id.clone()).filter(|p| !p.is_empty()),
            ..CatalogItem::default()
        };
        for m in mapping.iter().filter(|m| m.source.starts_with(prefix)) {
            let rest = m.source[prefix.len()..].trim_start_matches('.');
            let vals = if rest.is_empty() {
                vec![element]
            } else {
                values_at(element, rest)
            };
            if let Err(e) = set(&mut v, m, &vals, columns) {
                out.problems.push(format!("record {}: {e}", n + 1));
            }
        }
        v.name = v.name.or_else(|| parent.name.clone());
        v.category = v.category.or_else(|| parent.category.clone());
        v.description = v.description.or_else(|| parent.description.clone());
        v.brand = v.brand.or_else(|| parent.brand.clone());
        v.vendor = v.vendor.or_else(|| parent.vendor.clone());
        v.image_url = v.image_url.or_else(|| parent.image_url.clone());
        v.is_active = v.is_active.or(parent.is_active);
        v.tax_rate_percent = v.tax_rate_percent.or(parent.tax_rate_percent);
        finish_item(&mut v, element, columns.currency);
        variants.push(v);
    }
    variants
}

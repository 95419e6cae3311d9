//! How a source field's values become a canonical field's values, detected from the values,
//! and the function that applies an approved mapping to records, producing canonical items.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tillbridge_domain::CanonicalField;
use tillbridge_domain::money::parse_decimal;
use tillbridge_domain::money_text::{DecimalMark, parse_money};
use tillbridge_domain::{CatalogItem, Currency, Timestamp};

use crate::flatten::{FieldProfile, ValueKind};
use crate::tokens::words;

/// How a source field's values become the canonical field's value (serialised in
/// `snake_case`: `"major_to_minor"`). Only the first value at the path is used, except by
/// [`Conversion::List`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversion {
    /// Taken as is (text, ids, codes).
    AsIs,
    /// Integers already in minor units (Square `amount`, Clover `price`).
    MinorUnits,
    /// Decimal major units ("29.99", 15.0) → minor units of the currency, exactly.
    MajorToMinor,
    /// Money strings with symbols or separators ("$1,299.00").
    MoneyString,
    /// Epoch milliseconds → RFC 3339.
    EpochMillis,
    /// Date-time text in any common shape → RFC 3339.
    DateTime,
    /// Booleans (incl. Y/N, yes/no, 1/0) taken as is.
    Boolean,
    /// "archived", "deleted", "hidden": true means not active.
    InvertedBoolean,
    /// Status words: active, published, publish, enabled, available and live (any case) mean
    /// active; any other word means not active.
    Status,
    /// A fraction (0.15) that the canonical field holds as a percentage (15).
    FractionToPercent,
    /// A decimal number.
    Number,
    /// The first element of a list (references such as `tax_ids[]`).
    FirstOfList,
    /// Every element of a list.
    List,
}

/// The conversion for a suggested target, from the field's name and values.
pub fn detect(target: &str, p: &FieldProfile) -> Conversion {
    let leaf = words(p.path.rsplit('.').next().unwrap_or(&p.path));
    let in_list = p.path.ends_with("[]");
    match target {
        "price_minor" | "cost_minor" => {
            if let Some((c, _)) = integer_units(p) {
                c
            } else if p.samples.iter().any(|s| s.contains(['$', '€', '£', ','])) {
                Conversion::MoneyString
            } else {
                Conversion::MajorToMinor
            }
        }
        "created_at" | "updated_at" => {
            if p.epoch_ms > 0 && p.epoch_ms * 2 >= p.present - p.nulls {
                Conversion::EpochMillis
            } else {
                Conversion::DateTime
            }
        }
        "is_active" => {
            if leaf.iter().any(|t| {
                ["archived", "deleted", "hidden", "disabled", "inactive"].contains(&t.as_str())
            }) {
                Conversion::InvertedBoolean
            } else if p.kind() == ValueKind::Bool {
                Conversion::Boolean
            } else {
                Conversion::Status
            }
        }
        "tax_rate_percent" if p.kind() == ValueKind::Decimal || p.kind() == ValueKind::Integer => {
            let all_fractions = p
                .samples
                .iter()
                .filter_map(|s| parse_decimal(s))
                .all(|d| d <= Decimal::ONE);
            if all_fractions
                && p.samples
                    .iter()
                    .any(|s| parse_decimal(s).is_some_and(|d| d > Decimal::ZERO))
            {
                Conversion::FractionToPercent
            } else {
                Conversion::Number
            }
        }
        "quantity_on_hand" | "weight" | "thc_percent" | "cbd_percent" | "tax_rate_percent" => {
            if in_list {
                Conversion::FirstOfList
            } else {
                Conversion::Number
            }
        }
        "modifier_group_ids" => Conversion::List,
        _ if in_list => Conversion::FirstOfList,
        _ => Conversion::AsIs,
    }
}

/// For a money column of whole numbers: minor or major units, decided from the values,
/// and the evidence (for the suggestion's reason). None when the values are not integers.
pub fn integer_units(p: &FieldProfile) -> Option<(Conversion, String)> {
    if p.share_of(ValueKind::Integer) < 0.8 || p.floats > 0 || p.decimal_strings > 0 {
        return None;
    }
    let leaf = words(&p.path);
    let n = p.ints.max(1);
    let pct = |k: usize| k * 100 / n;
    let minor_words = ["cents", "cent", "minor", "pence", "amount", "money"];
    Some(if leaf.iter().any(|w| minor_words.contains(&w.as_str())) {
        (
            Conversion::MinorUnits,
            "whole numbers under a name that says minor units (amount, cents, money)".into(),
        )
    } else if p.small_ints * 2 >= n {
        (
            Conversion::MajorToMinor,
            format!(
                "whole numbers, {}% of them below 100: as minor units they would cost under 1.00, so major units",
                pct(p.small_ints)
            ),
        )
    } else if p.json_ints * 2 >= n {
        (
            Conversion::MinorUnits,
            "JSON integers of 100 and more, as vendor APIs send minor units".into(),
        )
    } else if p.round_ints * 2 < n {
        (
            Conversion::MinorUnits,
            format!(
                "whole numbers, {}% of them not a multiple of 100 (as in 1299 for 12.99): minor units",
                100 - pct(p.round_ints)
            ),
        )
    } else {
        (
            Conversion::MajorToMinor,
            format!(
                "whole numbers, {}% of them multiples of 100: whole amounts in major units",
                pct(p.round_ints)
            ),
        )
    })
}

/// Whether `h` looks like a Shopify product handle: lowercase letters, digits, `-`, `_`
/// (Square's `Handle` column, `#bun`, does not).
fn shopify_handle(h: &str) -> bool {
    !h.is_empty()
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// One approved line of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedField {
    /// The source field's path (as in [`Suggestion::source`](crate::Suggestion::source)); a
    /// key holding the whole path (a CSV header with dots) is looked up first.
    pub source: String,
    /// The canonical field's name (`snake_case`, as in the canonical item); a name that is not
    /// a canonical field is reported as a problem by [`apply`].
    pub target: String,
    /// How the values convert.
    pub conversion: Conversion,
}

/// Values at `path` in `record` (every element of every `[]` level).
pub(crate) fn values_at<'v>(record: &'v Value, path: &str) -> Vec<&'v Value> {
    // A CSV header (or any key) that contains dots names the field as written.
    if let Some(v) = record.get(path) {
        return if v.is_null() { Vec::new() } else { vec![v] };
    }
    let mut current = vec![record];
    for seg in path.split('.') {
        let (key, arrays) = seg.split_at(seg.find("[]").unwrap_or(seg.len()));
        let mut next = Vec::new();
        for v in current {
            let Some(mut child) = v.get(key) else {
                continue;
            };
            let mut level = vec![child];
            for _ in 0..arrays.len() / 2 {
                level = level
                    .iter()
                    .filter_map(|c| c.as_array())
                    .flatten()
                    .collect();
            }
            if level.len() == 1 && arrays.is_empty() {
                child = level[0];
                next.push(child);
            } else {
                next.extend(level);
            }
        }
        current = next;
    }
    current.into_iter().filter(|v| !v.is_null()).collect()
}

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => match text(other)?.to_ascii_lowercase().as_str() {
            "true" | "y" | "yes" | "1" => Some(true),
            "false" | "n" | "no" | "0" => Some(false),
            _ => None,
        },
    }
}

/// Applies one converted value to an item. Returns an error message for a value that does
/// not convert (it is reported, never guessed).
pub(crate) fn set(
    item: &mut CatalogItem,
    f: &MappedField,
    vals: &[&Value],
    cx: &crate::apply::Columns,
) -> Result<(), String> {
    let Some(first) = vals.first() else {
        return Ok(());
    };
    let t = text(first);
    let dec = || t.as_deref().and_then(parse_decimal);
    let Some(field) = CanonicalField::parse(&f.target) else {
        return Err(format!(
            "{}: {:?} is not a canonical field",
            f.source, f.target
        ));
    };
    match field {
        CanonicalField::ExternalId => item.external_id = t.unwrap_or_default(),
        CanonicalField::Sku => item.sku = item.sku.take().or(t),
        CanonicalField::Name => item.name = item.name.take().or(t),
        CanonicalField::Description => item.description = item.description.take().or(t),
        CanonicalField::Category => item.category = item.category.take().or(t),
        CanonicalField::Barcode => item.barcode = item.barcode.take().or(t),
        CanonicalField::ImageUrl => item.image_url = item.image_url.take().or(t),
        CanonicalField::ProductUrl => item.product_url = item.product_url.take().or(t),
        CanonicalField::Brand => item.brand = item.brand.take().or(t),
        CanonicalField::Vendor => item.vendor = item.vendor.take().or(t),
        CanonicalField::VariantName => item.variant_name = item.variant_name.take().or(t),
        CanonicalField::ParentId => {
            // Shopify's product CSV `Handle` is the product's URL handle as well as the key
            // of its variant rows (help.shopify.com/en/manual/products/import-export/using-csv):
            // it is the old page a migration into an e-commerce destination redirects.
            if f.source.eq_ignore_ascii_case("handle")
                && let Some(h) = t.as_deref().filter(|h| shopify_handle(h))
            {
                item.product_url = item.product_url.take().or_else(|| Some(h.to_owned()));
            }
            item.parent_id = item.parent_id.take().or(t);
        }
        CanonicalField::UnitOfMeasure => item.unit_of_measure = item.unit_of_measure.take().or(t),
        CanonicalField::Currency => {
            if let Some(c) = t {
                item.currency = Some(
                    Currency::parse(&c.to_ascii_uppercase())
                        .map_err(|e| format!("{}: {e}", f.source))?,
                );
            }
        }
        CanonicalField::PriceMinor => {
            // "variable" / "open" in a price column: a price entered at sale, not an amount.
            if t.as_deref().and_then(open_price_word) == Some(true) {
                item.open_price = Some(true);
            } else {
                item.price_minor = item.price_minor.or(money(f, first, t.as_deref(), cx)?)
            }
        }
        CanonicalField::CostMinor => {
            item.cost_minor = item.cost_minor.or(money(f, first, t.as_deref(), cx)?)
        }
        CanonicalField::OpenPrice => {
            item.open_price = item.open_price.or(open_price(first, t.as_deref()))
        }
        CanonicalField::StockByLocation => {}
        CanonicalField::QuantityOnHand => {
            item.quantity_on_hand = item.quantity_on_hand.or_else(dec)
        }
        CanonicalField::Weight => item.weight = item.weight.or_else(dec),
        CanonicalField::ThcPercent => {
            item.thc_percent = item.thc_percent.or_else(|| percent(t.as_deref()))
        }
        CanonicalField::CbdPercent => {
            item.cbd_percent = item.cbd_percent.or_else(|| percent(t.as_deref()))
        }
        CanonicalField::TaxRatePercent => {
            let d = dec().map(|d| {
                if f.conversion == Conversion::FractionToPercent {
                    d * Decimal::ONE_HUNDRED
                } else {
                    d
                }
            });
            item.tax_rate_percent = item.tax_rate_percent.or(d.map(|d| d.normalize()));
        }
        CanonicalField::IsActive => {
            let v = active(f.conversion, first, t.as_deref());
            // Several sources may feed is_active: any "not active" wins.
            item.is_active = match (item.is_active, v) {
                (Some(a), Some(b)) => Some(a && b),
                (a, b) => a.or(b),
            };
        }
        CanonicalField::CreatedAt => {
            item.created_at = item.created_at.or(time(f, first, t.as_deref())?)
        }
        CanonicalField::UpdatedAt => {
            item.updated_at = item.updated_at.or(time(f, first, t.as_deref())?)
        }
        CanonicalField::ModifierGroupIds => item
            .modifier_group_ids
            .extend(vals.iter().filter_map(|v| text(v))),
    }
    Ok(())
}

/// A money value (`t`, the first value as text) in minor units of the currency: integers
/// as they are when the mapping says minor units; JSON numbers as major units; text with
/// its column's decimal mark, thousands groups, currency signs and negative forms
/// ([`tillbridge_domain::money_text`]). A column whose mark is ambiguous converts nothing
/// (reported once, by [`crate::apply`]).
fn money(
    f: &MappedField,
    first: &Value,
    t: Option<&str>,
    cx: &crate::apply::Columns,
) -> Result<Option<i64>, String> {
    let Some(s) = t else { return Ok(None) };
    let currency = cx.currency;
    if f.conversion == Conversion::MinorUnits {
        return s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{}: {s:?} is not an integer amount", f.source));
    }
    if first.is_number() {
        return currency
            .to_minor(s)
            .map(Some)
            .map_err(|e| format!("{}: {e}", f.source));
    }
    match cx.marks.get(&f.source) {
        Some(Some(mark)) => parse_money(s, *mark, currency)
            .map(Some)
            .map_err(|e| format!("{}: {e}", f.source)),
        Some(None) => Ok(None),
        None => parse_money(s, DecimalMark::Point, currency)
            .map(Some)
            .map_err(|e| format!("{}: {e}", f.source)),
    }
}

/// Whether a value says the price is entered at sale: flags (true/yes/1), and pricing
/// words ([`open_price_word`]).
pub(crate) fn open_price(first: &Value, t: Option<&str>) -> Option<bool> {
    truthy(first).or_else(|| t.and_then(open_price_word))
}

/// Pricing words: open (`VARIABLE_PRICING`, `variable`, `open`, `manual`, `market`) or fixed
/// (`FIXED_PRICING`, `fixed`, `per unit`, `standard`, `regular`).
pub(crate) fn open_price_word(t: &str) -> Option<bool> {
    let w = t.to_ascii_lowercase().replace(['_', '-'], " ");
    let has = |words: &[&str]| w.split_whitespace().any(|x| words.contains(&x));
    if has(&["variable", "open", "manual", "market"]) {
        Some(true)
    } else if has(&["fixed", "unit", "standard", "regular"]) {
        Some(false)
    } else {
        None
    }
}

/// A timestamp: epoch milliseconds when the mapping says so and the value is a number,
/// otherwise the text (`t`) in any common date-time shape.
fn time(f: &MappedField, first: &Value, t: Option<&str>) -> Result<Option<Timestamp>, String> {
    match (f.conversion, first) {
        (Conversion::EpochMillis, Value::Number(n)) => {
            Ok(n.as_i64().and_then(Timestamp::from_unix_millis))
        }
        _ => t
            .map(Timestamp::parse_lenient)
            .transpose()
            .map_err(|e| format!("{}: {e}", f.source)),
    }
}

/// A percentage from text such as "18.5" or "18.5%".
fn percent(t: Option<&str>) -> Option<Decimal> {
    t.map(|s| s.trim_end_matches('%')).and_then(parse_decimal)
}

/// Whether the item is active, by the conversion: an inverted flag, a status word
/// (active, published, enabled, available, live), or a flag as it is.
fn active(conversion: Conversion, first: &Value, t: Option<&str>) -> Option<bool> {
    match conversion {
        Conversion::InvertedBoolean => truthy(first).map(|b| !b),
        Conversion::Status => t.map(|s| {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "active" | "published" | "publish" | "enabled" | "available" | "live"
            )
        }),
        _ => truthy(first),
    }
}

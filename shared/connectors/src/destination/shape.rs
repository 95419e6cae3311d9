//! Helpers the writers of JSON-object vendors share (BigCommerce, WooCommerce): whether the
//! vendor already holds what we would write, exact prices, one stock level per variation.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Number, Value};
use tillbridge_domain::{CatalogItem, Currency};

/// Whether `have` (the vendor's object as read) already holds every field of `want` (what
/// we would send): objects field by field; arrays of objects with an `id` by id (extra
/// objects in `have` are fine); arrays of scalars as sets; numbers by exact decimal value;
/// `null` and `""` are the same.
pub(crate) fn holds(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| holds(h.get(k).unwrap_or(&Value::Null), wv)),
        (Value::Array(h), Value::Array(w)) => {
            let keyed = |a: &[Value]| a.iter().all(|x| x.get("id").is_some());
            if !w.is_empty() && keyed(w) {
                w.iter().all(|wv| {
                    h.iter()
                        .find(|hv| same(&hv["id"], &wv["id"]))
                        .is_some_and(|hv| holds(hv, wv))
                })
            } else if w.iter().all(|x| !x.is_object() && !x.is_array()) {
                let set = |a: &[Value]| {
                    let mut t: Vec<String> = a.iter().map(scalar).collect();
                    t.sort_unstable();
                    t.dedup();
                    t
                };
                set(h) == set(w)
            } else {
                h.len() == w.len() && h.iter().zip(w).all(|(a, b)| holds(a, b))
            }
        }
        _ => same(have, want),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => decimal(x).is_some() && decimal(x) == decimal(y),
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        _ => a == b,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Number(n) => decimal(n).map_or_else(|| n.to_string(), |d| d.normalize().to_string()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON number's exact decimal value (from its text; never through f64 arithmetic).
pub(crate) fn decimal(n: &Number) -> Option<Decimal> {
    let text = n.to_string();
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// A JSON number with exactly the value of the decimal text `text` ("12.50"); `None` when
/// JSON cannot carry it exactly (more than 15 significant digits).
pub(crate) fn number(text: &str) -> Option<Number> {
    let n: Number = serde_json::from_str(text).ok()?;
    let want = Decimal::from_str(text).ok()?;
    (decimal(&n)? == want).then_some(n)
}

/// The price of `var` as major-unit decimal text in the store's currency ("29.99"), `None`
/// for an open price or none; `Err` (a reason) for a price without currency or in another
/// currency than the store's.
pub(crate) fn price_text(var: &CatalogItem, store: Currency) -> Result<Option<String>, String> {
    if var.open_price == Some(true) {
        return Ok(None);
    }
    match (var.price_minor, var.currency) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(format!(
            "variation {}: a price without currency",
            var.external_id
        )),
        (Some(minor), Some(c)) if c == store => Ok(Some(store.format_minor(minor))),
        (Some(_), Some(c)) => Err(format!(
            "variation {}: priced in {}, the store sells in {}",
            var.external_id,
            c.code(),
            store.code()
        )),
    }
}

/// The one stock level of `var` at a single-location store: the sum of its
/// `stock_by_location` (else `quantity_on_hand`); `None` when unknown; `Err` for a
/// fractional or out-of-range total (the vendors count whole units).
pub(crate) fn whole_stock(var: &CatalogItem) -> Result<Option<i64>, String> {
    let total = if var.stock_by_location.is_empty() {
        match var.quantity_on_hand {
            Some(q) => q,
            None => return Ok(None),
        }
    } else {
        var.stock_by_location.values().copied().sum::<Decimal>()
    };
    if !total.fract().is_zero() {
        return Err(format!(
            "variation {}: stock {total} is not a whole number",
            var.external_id
        ));
    }
    i64::try_from(total.trunc()).map(Some).map_err(|_| {
        format!(
            "variation {}: stock {total} is out of range",
            var.external_id
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn held_fields_compare_numbers_exactly_and_arrays_by_id() {
        let have = json!({"price": 2.5, "categories": [3, 1], "variants": [
            {"id": 1, "sku": "A", "price": 1.1}, {"id": 2, "sku": "B"}], "extra": true, "upc": null});
        let want = json!({"price": number("2.50"), "categories": [1, 3],
                          "variants": [{"id": 1, "price": number("1.10")}], "upc": ""});
        assert!(holds(&have, &want));
        assert!(!holds(&have, &json!({"price": number("2.51")})));
        assert!(!holds(&have, &json!({"variants": [{"id": 3}]})));
    }

    #[test]
    fn prices_are_exact_text_in_the_store_currency() {
        let mut v = CatalogItem::new("v");
        v.price_minor = Some(1999);
        v.currency = Some(Currency::USD);
        assert_eq!(price_text(&v, Currency::USD), Ok(Some("19.99".into())));
        assert!(price_text(&v, Currency::parse("EUR").expect("EUR")).is_err());
        assert_eq!(number("19.99").map(|n| n.to_string()), Some("19.99".into()));
        assert!(number("12345678901234567.89").is_none());
    }
}

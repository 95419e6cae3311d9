//! Reading a source export: catalog records (a JSON array, an object with an `items`-like
//! array, or CSV) and, optionally, customer records (`customers` beside the items in a JSON
//! export). Customers are migrated only with an explicit consent flag; the rest are counted,
//! never stored, and never named in a report or a log line.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The records of an export.
#[derive(Debug, Default)]
pub struct Records {
    /// Catalog records, as parsed (JSON objects; CSV rows as objects keyed by header).
    pub catalog: Vec<Value>,
    /// Customer records (`customers` beside the items in a JSON export; none from CSV).
    pub customers: Vec<Value>,
}

/// Keys under which a JSON export object carries its catalog records.
const CATALOG_KEYS: [&str; 5] = ["items", "products", "catalog", "objects", "records"];

/// Parses an export by its format; errors name what is wrong, never a value.
///
/// # Errors
///
/// A message naming what is wrong (not UTF-8, not JSON with line and column, no catalog
/// array, CSV without rows); never a value from the export.
pub fn parse_records(bytes: &[u8], csv: bool) -> Result<Records, String> {
    if csv {
        let catalog = tillbridge_mapping::csv_records(bytes)?;
        if catalog.is_empty() {
            return Err("the CSV export has a header but no rows".into());
        }
        return Ok(Records {
            catalog,
            customers: Vec::new(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the export is not UTF-8".to_owned())?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "not JSON (line {}, column {}): {}",
            e.line(),
            e.column(),
            e.classify_kind()
        )
    })?;
    match value {
        Value::Array(catalog) => Ok(Records {
            catalog,
            customers: Vec::new(),
        }),
        Value::Object(mut o) => {
            let customers = match o.remove("customers") {
                Some(Value::Array(c)) => c,
                None => Vec::new(),
                Some(_) => return Err("customers must be an array".into()),
            };
            let catalog = CATALOG_KEYS
                .iter()
                .find_map(|k| match o.remove(*k) {
                    Some(Value::Array(a)) => Some(a),
                    _ => None,
                })
                .ok_or_else(|| {
                    format!(
                        "a JSON export is an array of records or an object with one of {}",
                        CATALOG_KEYS.join(", ")
                    )
                })?;
            Ok(Records { catalog, customers })
        }
        _ => Err("a JSON export is an array of records".into()),
    }
}

trait Classify {
    fn classify_kind(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// Checks an upload without building it (a 20 MB export would take ~10× that as a tree):
/// UTF-8, well-formed JSON whose top level is an array or object, or CSV that reads (its
/// encoding, delimiter and quote detected).
///
/// # Errors
///
/// As [`parse_records`]: a message naming what is wrong, never a value.
pub fn check(bytes: &[u8], csv: bool) -> Result<(), String> {
    if csv {
        return tillbridge_mapping::csv_records(bytes).and_then(|r| {
            if r.is_empty() {
                Err("the CSV export has a header but no rows".into())
            } else {
                Ok(())
            }
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the export is not UTF-8".to_owned())?;
    if !text.trim_start().starts_with(['[', '{']) {
        return Err("a JSON export is an array of records or an object".into());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "not JSON (line {}, column {}): {}",
                e.line(),
                e.column(),
                e.classify_kind()
            )
        })
}

/// Whether the format is CSV, by the key's extension.
pub fn is_csv(key: &str) -> bool {
    key.to_ascii_lowercase().ends_with(".csv")
}

/// A customer as tillbridge keeps it: contact fields and the consent it was migrated under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer's id in the source system.
    pub external_id: String,
    /// Full name, or first and last names joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The source field that carried the consent (e.g. `marketing_consent`).
    pub consent_field: String,
}

/// Customers in an export, and those left out (counted, never named).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCounts {
    /// Customer records in the export.
    pub in_export: u64,
    /// Migrated: an id and consent given.
    pub with_consent: u64,
    /// Left out: no consent flag, or consent not given.
    pub without_consent: u64,
    /// Left out: no id.
    pub without_id: u64,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "y" | "1" | "granted" | "subscribed" | "opted_in" | "opt_in"
        ),
        // `{"state": "subscribed"}` (Shopify's email_marketing_consent) and the like.
        Value::Object(o) => ["state", "status", "value", "granted"]
            .iter()
            .any(|k| o.get(*k).is_some_and(truthy)),
        _ => false,
    }
}

/// The consent flag of a record: the first field whose name says consent.
fn consent(record: &serde_json::Map<String, Value>) -> Option<(&str, bool)> {
    record.iter().find_map(|(k, v)| {
        let key = k.to_ascii_lowercase();
        (key.contains("consent") || key == "accepts_marketing" || key.contains("opt_in"))
            .then(|| (k.as_str(), truthy(v)))
    })
}

fn text_of(record: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match record.get(*k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Customers that may be migrated, and the counts of those that may not.
pub fn consenting_customers(records: &[Value]) -> (Vec<Customer>, CustomerCounts) {
    let mut counts = CustomerCounts {
        in_export: records.len() as u64,
        ..CustomerCounts::default()
    };
    let mut out = Vec::new();
    for r in records {
        let Some(o) = r.as_object() else {
            counts.without_id += 1;
            continue;
        };
        let Some(id) = text_of(o, &["id", "customer_id", "external_id", "uuid"]) else {
            counts.without_id += 1;
            continue;
        };
        match consent(o) {
            Some((field, true)) => {
                let name = text_of(o, &["name", "full_name", "display_name"]).or_else(|| {
                    let parts: Vec<String> =
                        ["first_name", "given_name", "last_name", "family_name"]
                            .iter()
                            .filter_map(|k| text_of(o, &[k]))
                            .collect();
                    (!parts.is_empty()).then(|| parts.join(" "))
                });
                out.push(Customer {
                    external_id: id,
                    name,
                    email: text_of(o, &["email", "email_address"]),
                    phone: text_of(o, &["phone", "phone_number", "mobile"]),
                    consent_field: field.to_owned(),
                });
                counts.with_consent += 1;
            }
            _ => counts.without_consent += 1,
        }
    }
    (out, counts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn exports_come_as_arrays_objects_or_csv() {
        assert_eq!(
            parse_records(br#"[{"id":1},{"id":2}]"#, false)
                .unwrap()
                .catalog
                .len(),
            2
        );
        let r = parse_records(
            br#"{"products":[{"id":1}],"customers":[{"id":"c"}]}"#,
            false,
        )
        .unwrap();
        assert_eq!((r.catalog.len(), r.customers.len()), (1, 1));
        let csv = parse_records(b"id,Name.Full\n1,Latte\n2,\n", true).unwrap();
        assert_eq!(csv.catalog[0]["Name.Full"], "Latte");
        assert!(csv.catalog[1].get("Name.Full").is_none());
        for bad in [&b"{"[..], b"42", b"{\"x\":1}", b"\xff"] {
            assert!(parse_records(bad, false).is_err());
        }
        assert!(parse_records(b"id\n", true).is_err());
        assert!(parse_records(b"a,b\n\"unterminated", true).is_err());
    }

    #[test]
    fn only_customers_with_consent_are_migrated() {
        let records = vec![
            json!({"id": "c1", "first_name": "Ana", "last_name": "Lind", "email": "ana@example.com", "marketing_consent": true}),
            json!({"id": "c2", "name": "Bo", "accepts_marketing": "no"}),
            json!({"id": "c3", "name": "Cy"}),
            json!({"id": "c4", "email_marketing_consent": {"state": "subscribed"}}),
            json!({"name": "no id", "consent": true}),
            json!("not an object"),
        ];
        let (ok, counts) = consenting_customers(&records);
        assert_eq!(
            ok.iter()
                .map(|c| c.external_id.as_str())
                .collect::<Vec<_>>(),
            ["c1", "c4"]
        );
        assert_eq!(ok[0].name.as_deref(), Some("Ana Lind"));
        assert_eq!(
            counts,
            CustomerCounts {
                in_export: 6,
                with_consent: 2,
                without_consent: 2,
                without_id: 2
            }
        );
    }
}

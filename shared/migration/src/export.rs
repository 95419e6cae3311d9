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

/// How [`stream_json`] read an export.
#[derive(Debug)]
pub enum Streamed {
    /// Every catalog record was given to the caller, in order.
    Read {
        /// Catalog records read.
        records: usize,
        /// The customer records beside them (kept whole: they are few).
        customers: Vec<Value>,
    },
    /// The export needs [`parse_records`] (not an array or object at the top, or a key the
    /// records may be under given twice, where the last one counts).
    Whole,
}

/// Reads the catalog records of a JSON export one at a time, in order, giving each to
/// `each` and dropping it: the same records [`parse_records`] gives, without the whole tree
/// (~10× the export) in memory at once. An object export is read twice (its keys first, to
/// find the records' array as [`parse_records`] does); only the customers are kept.
///
/// # Errors
///
/// As [`parse_records`]: a message naming what is wrong, never a value.
pub fn stream_json(bytes: &[u8], each: &mut dyn FnMut(Value)) -> Result<Streamed, String> {
    use serde::de::Deserializer as _;
    let text = std::str::from_utf8(bytes).map_err(|_| "the export is not UTF-8".to_owned())?;
    let not_json = |e: serde_json::Error| {
        format!(
            "not JSON (line {}, column {}): {}",
            e.line(),
            e.column(),
            e.classify_kind()
        )
    };
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let mut records = RecordSeq { each, count: 0 };
            let mut de = serde_json::Deserializer::from_str(text);
            (&mut de).deserialize_seq(&mut records).map_err(not_json)?;
            de.end().map_err(not_json)?;
            Ok(Streamed::Read {
                records: records.count,
                customers: Vec::new(),
            })
        }
        Some(b'{') => {
            let mut de = serde_json::Deserializer::from_str(text);
            let keys = (&mut de).deserialize_map(TopKeys).map_err(not_json)?;
            de.end().map_err(not_json)?;
            let named = |k: &str| keys.iter().filter(|(key, _)| key == k).count();
            if named("customers") > 1 || CATALOG_KEYS.iter().any(|k| named(k) > 1) {
                return Ok(Streamed::Whole);
            }
            if keys.iter().any(|(k, array)| k == "customers" && !array) {
                return Err("customers must be an array".into());
            }
            let catalog = CATALOG_KEYS
                .iter()
                .find(|k| keys.iter().any(|(key, array)| key == *k && *array))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "a JSON export is an array of records or an object with one of {}",
                        CATALOG_KEYS.join(", ")
                    )
                })?;
            let mut object = CatalogObject {
                catalog,
                records: RecordSeq { each, count: 0 },
                customers: Vec::new(),
            };
            let mut de = serde_json::Deserializer::from_str(text);
            (&mut de).deserialize_map(&mut object).map_err(not_json)?;
            Ok(Streamed::Read {
                records: object.records.count,
                customers: object.customers,
            })
        }
        _ => Ok(Streamed::Whole),
    }
}

/// The elements of the records' array, one at a time, to the caller.
struct RecordSeq<'f> {
    each: &'f mut dyn FnMut(Value),
    count: usize,
}

impl<'de> serde::de::Visitor<'de> for &mut RecordSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            (self.each)(record);
            self.count += 1;
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut RecordSeq<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// The top-level keys of an object export, each with whether its value is an array; the
/// values are skipped, not built.
struct TopKeys;

impl<'de> serde::de::Visitor<'de> for TopKeys {
    type Value = Vec<(String, bool)>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let IsArray(array) = map.next_value()?;
            keys.push((k, array));
        }
        Ok(keys)
    }
}

/// Whether a value is an array; its content is skipped.
struct IsArray(bool);

impl<'de> Deserialize<'de> for IsArray {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = IsArray;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<IsArray, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(IsArray(true))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<IsArray, A::Error> {
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(IsArray(false))
            }
            fn visit_bool<E>(self, _: bool) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
            fn visit_unit<E>(self) -> Result<IsArray, E> {
                Ok(IsArray(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object export's second pass: the records' array streamed, the customers kept, the
/// rest skipped.
struct CatalogObject<'f> {
    catalog: &'static str,
    records: RecordSeq<'f>,
    customers: Vec<Value>,
}

impl<'de> serde::de::Visitor<'de> for &mut CatalogObject<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<String>()? {
            if k == self.catalog {
                map.next_value_seed(&mut self.records)?;
            } else if k == "customers" {
                self.customers = map.next_value()?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
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
    // `[]`: nothing to migrate (said so, rather than "no field maps to external_id" later).
    if text.trim_start().starts_with('[') && text.trim_start()[1..].trim_start().starts_with(']') {
        return Err("the JSON export has no records".into());
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

    /// Catalog records and customers.
    type Both = (Vec<Value>, Vec<Value>);

    /// What `stream_json` gives: the records and customers, or None for the whole path.
    fn streamed(bytes: &[u8]) -> Result<Option<Both>, String> {
        let mut records = Vec::new();
        Ok(match stream_json(bytes, &mut |r| records.push(r))? {
            Streamed::Read {
                records: n,
                customers,
            } => {
                assert_eq!(n, records.len());
                Some((records, customers))
            }
            Streamed::Whole => None,
        })
    }

    #[test]
    fn streamed_exports_give_the_records_the_whole_parse_gives() {
        for export in [
            &br#"[{"id":1},{"id":2,"v":[{"id":"a"}]}]"#[..],
            br#" [] "#,
            br#"{"products":[{"id":1}],"customers":[{"id":"c"}]}"#,
            // Customers first, other keys around, `items` preferred to `products` wherever
            // it comes, as the whole parse prefers it.
            br#"{"customers":[{"id":"c"}],"products":[{"id":"p"}],"meta":{"items":1},"items":[{"id":"i"}]}"#,
            br#"{"objects":[{"id":1}],"items":{"not":"an array"}}"#,
        ] {
            let whole = parse_records(export, false).unwrap();
            let (records, customers) = streamed(export).unwrap().unwrap();
            assert_eq!(records, whole.catalog);
            assert_eq!(customers, whole.customers);
        }
        // A repeated key (the last one counts) and a scalar top level go the whole way.
        assert_eq!(
            streamed(br#"{"items":[{"id":1}],"items":[]}"#).unwrap(),
            None
        );
        assert_eq!(streamed(b"42").unwrap(), None);
        // The same refusals as the whole parse, line and column included.
        for bad in [
            &b"[{\"id\":1},\n{\"id\":"[..],
            b"{\"x\":1}",
            b"{\"items\":[],\"customers\":3}",
            b"\xff",
            b"[1] trailing",
            b"{\"items\":[1]} x",
        ] {
            assert_eq!(
                streamed(bad).unwrap_err(),
                parse_records(bad, false).unwrap_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
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

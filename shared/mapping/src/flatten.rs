//! Records → field paths with value profiles.
//!
//! Paths: object keys joined by `.`, `[]` for each array level
//! (`item_data.variations[].item_variation_data.price_money.amount`); for CSV the header text.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use serde_json::Value;

/// What the values of a field look like: the kind at least 80% of its non-null values share
/// (see [`FieldProfile::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// No non-null values (every value was null, an empty string, or absent).
    Empty,
    /// JSON booleans, or the strings true/false/y/n/yes/no in any case.
    Bool,
    /// Whole numbers: JSON integers, or strings that parse as a 64-bit integer (GTIN-length
    /// digit strings aside).
    Integer,
    /// Numbers with a fraction: JSON floats, decimal strings ("12.50", "$3.99"), "12.5%".
    Decimal,
    /// Identifier-shaped strings: UUIDs, or 6–40 letters/digits/`-`/`_` with at least one
    /// letter and one digit and no spaces.
    Id,
    /// Strings starting with `http://` or `https://`.
    Url,
    /// Date-time strings starting `YYYY-MM-DD`, or integers in epoch milliseconds
    /// (2001–2096).
    Timestamp,
    /// All-digit strings of 8, 12, 13 or 14 digits (EAN-8, UPC-A, EAN-13, GTIN-14 lengths).
    Gtin,
    /// Three upper-case ASCII letters, as ISO 4217 codes ("USD").
    Currency,
    /// Any other string (and the fallback when no kind reaches 80%).
    Text,
}

/// What was seen at one field path across all records: counts of values by shape, a few
/// samples, and how many distinct values there were. A string is counted under the first
/// shape it matches, in this order: blank (null), boolean, URL, percentage, unit, timestamp,
/// currency code, GTIN, integer, decimal, UUID, id, text.
#[derive(Debug, Clone, Default)]
pub struct FieldProfile {
    /// The field's path: object keys joined by `.`, `[]` per array level; for CSV the header.
    pub path: String,
    /// Values seen at the path, nulls included (each array element counts once).
    pub present: usize,
    /// JSON nulls and empty or whitespace-only strings.
    pub nulls: usize,
    /// JSON booleans and the strings true/false/y/n/yes/no (any case).
    pub bools: usize,
    /// JSON integers (64-bit) and strings that parse as one.
    pub ints: usize,
    /// JSON numbers that are not 64-bit integers (fractions, very large numbers).
    pub floats: usize,
    /// UUID strings (8-4-4-4-12 hex digits).
    pub uuids: usize,
    /// Other identifier-shaped strings: 6–40 letters, digits, `-` or `_`, with at least one
    /// letter and one digit.
    pub ids: usize,
    /// Strings starting with `http://` or `https://`.
    pub urls: usize,
    /// Strings starting with a `YYYY-MM-DD` date.
    pub timestamps: usize,
    /// JSON integers from 10^12 to 4·10^12, read as epoch milliseconds (also counted in
    /// `ints`).
    pub epoch_ms: usize,
    /// All-digit strings of 8, 12, 13 or 14 digits.
    pub gtins: usize,
    /// Strings of three upper-case ASCII letters (ISO 4217 currency codes).
    pub currencies: usize,
    /// Strings that parse as a number but not as an integer, optionally after `$`, `€` or
    /// `£` ("12.50", "$3"), and percentages (also counted in `percents`).
    pub decimal_strings: usize,
    /// Strings of no other shape, units of measure included.
    pub texts: usize,
    /// Of `texts`, those longer than 60 bytes.
    pub long_texts: usize,
    /// "12.5%"-style strings.
    pub percents: usize,
    /// Units of measure ("g", "oz", "each", "ml", …).
    pub units: usize,
    /// The largest JSON integer seen (0 when none was positive).
    pub int_max: i64,
    /// Of `ints`, the JSON numbers (the rest were integer strings).
    pub json_ints: usize,
    /// Of `ints`, values from 1 to 99 (under 1.00 if they were minor units).
    pub small_ints: usize,
    /// Of `ints`, non-zero multiples of 100 (a whole amount if they were minor units).
    pub round_ints: usize,
    /// Hashes of the first 200 distinct non-null values (seeded per process: only the count
    /// is meaningful).
    pub distinct: HashSet<u64>,
    /// The first five non-null values as text (strings cut to 40 characters).
    pub samples: Vec<String>,
    /// Values were found inside an array (the path has a `[]` level).
    pub in_array: bool,
}

impl FieldProfile {
    fn non_null(&self) -> usize {
        self.present - self.nulls
    }

    fn share(&self, n: usize) -> f64 {
        if self.non_null() == 0 {
            0.0
        } else {
            n as f64 / self.non_null() as f64
        }
    }

    /// The dominant kind of the values: the first of Bool, Timestamp, Url, Currency, Gtin, Id,
    /// Decimal, Integer, Text that at least 80% of the non-null values have; Text when none
    /// does, Empty when all were null.
    pub fn kind(&self) -> ValueKind {
        if self.non_null() == 0 {
            return ValueKind::Empty;
        }
        let candidates = [
            (self.bools, ValueKind::Bool),
            (self.timestamps + self.epoch_ms, ValueKind::Timestamp),
            (self.urls, ValueKind::Url),
            (self.currencies, ValueKind::Currency),
            (self.gtins, ValueKind::Gtin),
            (self.uuids + self.ids, ValueKind::Id),
            (self.floats + self.decimal_strings, ValueKind::Decimal),
            (self.ints, ValueKind::Integer),
            (self.texts, ValueKind::Text),
        ];
        candidates
            .iter()
            .find(|(n, _)| self.share(*n) >= 0.8)
            .map_or(ValueKind::Text, |(_, k)| *k)
    }

    /// The share of non-null values of `kind`, in [0, 1] (0 for [`ValueKind::Empty`] or when
    /// every value was null).
    pub fn share_of(&self, kind: ValueKind) -> f64 {
        match kind {
            ValueKind::Bool => self.share(self.bools),
            ValueKind::Integer => self.share(self.ints),
            ValueKind::Decimal => self.share(self.floats + self.decimal_strings),
            ValueKind::Id => self.share(self.uuids + self.ids),
            ValueKind::Url => self.share(self.urls),
            ValueKind::Timestamp => self.share(self.timestamps + self.epoch_ms),
            ValueKind::Gtin => self.share(self.gtins),
            ValueKind::Currency => self.share(self.currencies),
            ValueKind::Text => self.share(self.texts),
            ValueKind::Empty => 0.0,
        }
    }

    /// Recognised formats beyond the dominant kind, for reviewers and the LLM prompt:
    /// "percent", "unit_of_measure", "enumeration" (few distinct values, repeated).
    pub fn formats(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.share(self.percents) >= 0.8 {
            out.push("percent");
        }
        if self.share(self.units) >= 0.8 {
            out.push("unit_of_measure");
        }
        if self.non_null() >= 10
            && self.distinct.len() <= 12
            && self.distinct.len() * 3 <= self.non_null()
        {
            out.push("enumeration");
        }
        out
    }

    /// Distinct values / non-null values (1.0 = every value differs).
    pub fn distinct_ratio(&self) -> f64 {
        if self.non_null() == 0 {
            0.0
        } else {
            self.distinct.len() as f64 / self.non_null().min(200) as f64
        }
    }

    fn observe(&mut self, v: &Value) {
        self.present += 1;
        match v {
            Value::Null => self.nulls += 1,
            Value::Bool(_) => self.bools += 1,
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.ints += 1;
                    self.json_ints += 1;
                    self.count_int(i);
                    self.int_max = self.int_max.max(i);
                    if (1_000_000_000_000..4_000_000_000_000).contains(&i) {
                        self.epoch_ms += 1;
                    }
                } else {
                    self.floats += 1;
                }
            }
            Value::String(s) => self.observe_text(s),
            _ => {}
        }
        if !matches!(v, Value::Null) && (self.samples.len() < 5 || self.distinct.len() < 200) {
            thread_local!(static HASHER: RandomState = RandomState::new());
            let h = match v {
                Value::String(s) => HASHER.with(|r| r.hash_one(s.as_str())),
                Value::Number(n) => HASHER.with(|r| {
                    r.hash_one(
                        n.as_i64()
                            .map_or_else(|| n.as_f64().map_or(0, f64::to_bits), |i| i as u64),
                    )
                }),
                Value::Bool(b) => u64::from(*b),
                other => HASHER.with(|r| r.hash_one(other.to_string())),
            };
            if self.distinct.len() < 200 {
                self.distinct.insert(h);
            }
            if self.samples.len() < 5 {
                let text = match v {
                    Value::String(s) => s.chars().take(40).collect(),
                    other => other.to_string(),
                };
                self.samples.push(text);
            }
        }
    }

    fn count_int(&mut self, i: i64) {
        self.small_ints += usize::from((1..100).contains(&i));
        self.round_ints += usize::from(i != 0 && i % 100 == 0);
    }

    fn observe_text(&mut self, s: &str) {
        let t = s.trim();
        if t.is_empty() {
            self.nulls += 1;
        } else if ["true", "false", "y", "n", "yes", "no"]
            .iter()
            .any(|b| t.eq_ignore_ascii_case(b))
        {
            self.bools += 1;
        } else if t.starts_with("http://") || t.starts_with("https://") {
            self.urls += 1;
        } else if let Some(n) = t.strip_suffix('%')
            && n.trim().parse::<f64>().is_ok()
        {
            self.percents += 1;
            self.decimal_strings += 1;
        } else if UNITS.iter().any(|u| t.eq_ignore_ascii_case(u)) {
            self.units += 1;
            self.texts += 1;
        } else if looks_like_timestamp(t) {
            self.timestamps += 1;
        } else if t.len() == 3 && t.bytes().all(|b| b.is_ascii_uppercase()) {
            self.currencies += 1;
        } else if t.bytes().all(|b| b.is_ascii_digit()) && [8, 12, 13, 14].contains(&t.len()) {
            self.gtins += 1;
        } else if let Ok(i) = t.parse::<i64>() {
            self.ints += 1;
            self.count_int(i);
        } else if t.trim_start_matches(['$', '€', '£']).parse::<f64>().is_ok()
            || tillbridge_domain::money_text::looks_like_money(t)
        {
            self.decimal_strings += 1;
        } else if is_uuid(t) {
            self.uuids += 1;
        } else if !t.contains(' ')
            && t.len() >= 6
            && t.len() <= 40
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && t.bytes().any(|b| b.is_ascii_digit())
            && t.bytes().any(|b| b.is_ascii_alphabetic())
        {
            self.ids += 1;
        } else {
            self.texts += 1;
            if t.len() > 60 {
                self.long_texts += 1;
            }
        }
    }
}

const UNITS: [&str; 22] = [
    "g", "gram", "grams", "kg", "mg", "oz", "lb", "lbs", "ml", "l", "fl oz", "each", "ea", "unit",
    "units", "pc", "pcs", "piece", "pack", "dozen", "eighth", "quarter",
];

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit)
}

/// Profiles of every leaf path of JSON records, in first-seen order.
pub fn profile_json(records: &[Value]) -> Vec<FieldProfile> {
    let mut p = JsonProfiler::default();
    for r in records {
        p.push(r);
    }
    p.finish()
}

/// [`profile_json`] a record at a time, for records read one by one (a large export is
/// never held whole): the same profiles for the same records in the same order.
#[derive(Default)]
pub struct JsonProfiler {
    walker: Walker,
    path: String,
}

impl JsonProfiler {
    /// Adds one record's values.
    pub fn push(&mut self, record: &Value) {
        self.path.clear();
        self.walker.walk(record, &mut self.path, false);
    }

    /// Profiles of every leaf path seen, in first-seen order.
    pub fn finish(self) -> Vec<FieldProfile> {
        let Walker {
            profiles,
            containers,
            ..
        } = self.walker;
        profiles
            .into_iter()
            // A key that is null in some records and an object elsewhere is only its leaves.
            .filter(|f| !(containers.contains(&f.path) && f.non_null() == 0))
            .collect()
    }
}

/// FNV-1a: paths are short and looked up once per value; SipHash's strength buys nothing here.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<V> = HashMap<String, V, std::hash::BuildHasherDefault<Fnv>>;

#[derive(Default)]
struct Walker {
    /// Leaf profiles in first-seen order, and their index by path.
    profiles: Vec<FieldProfile>,
    index: FnvMap<usize>,
    /// Object paths → their shape: the key and leaf seen at each position last time.
    /// Records of one export mostly share key order, so a key compare at the same position
    /// finds the leaf without building its path or hashing it.
    objects: FnvMap<usize>,
    shapes: Vec<Vec<(String, usize)>>,
    containers: BTreeSet<String>,
}

impl Walker {
    /// `path` is a reusable buffer holding the current path; it is restored on return.
    fn walk(&mut self, v: &Value, path: &mut String, in_array: bool) {
        match v {
            Value::Object(map) => {
                let node = self.object(path);
                for (i, (k, child)) in map.iter().enumerate() {
                    if matches!(child, Value::Object(_) | Value::Array(_)) {
                        let len = push_key(path, k);
                        self.walk(child, path, in_array);
                        path.truncate(len);
                        continue;
                    }
                    let cached = self.shapes[node]
                        .get(i)
                        .filter(|(key, _)| key == k)
                        .map(|(_, leaf)| *leaf);
                    let leaf = match cached {
                        Some(leaf) => leaf,
                        None => {
                            let len = push_key(path, k);
                            let leaf = self.leaf(path);
                            path.truncate(len);
                            let shape = &mut self.shapes[node];
                            if i < shape.len() {
                                shape[i] = (k.clone(), leaf);
                            } else if i == shape.len() {
                                shape.push((k.clone(), leaf));
                            }
                            leaf
                        }
                    };
                    let f = &mut self.profiles[leaf];
                    f.in_array |= in_array;
                    f.observe(child);
                }
            }
            Value::Array(items) => {
                if !self.containers.contains(path.as_str()) {
                    self.containers.insert(path.clone());
                }
                let len = path.len();
                path.push_str("[]");
                for item in items {
                    self.walk(item, path, true);
                }
                path.truncate(len);
            }
            scalar => {
                let leaf = self.leaf(path);
                let f = &mut self.profiles[leaf];
                f.in_array |= in_array;
                f.observe(scalar);
            }
        }
    }

    fn object(&mut self, path: &str) -> usize {
        if let Some(&node) = self.objects.get(path) {
            return node;
        }
        if !path.is_empty() {
            self.containers.insert(path.to_owned());
        }
        self.shapes.push(Vec::new());
        self.objects.insert(path.to_owned(), self.shapes.len() - 1);
        self.shapes.len() - 1
    }

    fn leaf(&mut self, path: &str) -> usize {
        if let Some(&leaf) = self.index.get(path) {
            return leaf;
        }
        self.profiles.push(FieldProfile {
            path: path.to_owned(),
            ..FieldProfile::default()
        });
        self.index.insert(path.to_owned(), self.profiles.len() - 1);
        self.profiles.len() - 1
    }
}

/// Appends `.key` (or `key` at the root) and returns the length to truncate back to.
fn push_key(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    len
}

/// Profiles of the columns of a CSV export (header row first), in header order; the
/// encoding, delimiter and quote are detected ([`read_csv`](crate::read_csv)). Every cell is
/// profiled as a string; blank lines are skipped.
///
/// # Errors
///
/// As [`read_csv`](crate::read_csv): the file is not text or empty, a quoted field is not
/// terminated, or a row has more fields than the header; the message names what was
/// detected.
pub fn profile_csv(bytes: impl AsRef<[u8]>) -> Result<Vec<FieldProfile>, String> {
    let table = crate::read_csv(bytes.as_ref())?;
    let mut profiles: Vec<FieldProfile> = table
        .header
        .iter()
        .map(|h| FieldProfile {
            path: h.clone(),
            ..FieldProfile::default()
        })
        .collect();
    for row in table.rows {
        for (i, cell) in row.into_iter().enumerate() {
            profiles[i].observe(&Value::String(cell));
        }
    }
    Ok(profiles)
}

/// The rows of a CSV export as JSON objects keyed by the header text (values as strings;
/// empty cells are absent), so an approved mapping applies to CSV and JSON alike. Rows of
/// one product spread over several rows are completed from their product's row
/// ([`complete_multi_row`](crate::complete_multi_row)).
///
/// # Errors
///
/// As [`profile_csv`].
pub fn csv_records(bytes: impl AsRef<[u8]>) -> Result<Vec<Value>, String> {
    let table = crate::read_csv(bytes.as_ref())?;
    let header = table.header;
    Ok(table
        .rows
        .into_iter()
        .map(|row| {
            let record: serde_json::Map<String, Value> = header
                .iter()
                .zip(row)
                .filter(|(_, cell)| !cell.trim().is_empty())
                .map(|(h, cell)| (h.clone(), Value::String(cell)))
                .collect();
            Value::Object(record)
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod format_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn recognises_percents_units_and_enumerations() {
        let records: Vec<Value> = (0..30)
            .map(|i| {
                let uom = ["g", "oz", "each"][i % 3];
                let status = ["ACTIVE", "ARCHIVED"][i % 2];
                json!({
                    "thc": format!("{}.5%", 10 + i % 7),
                    "uom": uom,
                    "status": status,
                    "title": format!("Item {i}"),
                })
            })
            .collect();
        let p = profile_json(&records);
        let get = |path: &str| p.iter().find(|f| f.path == path).unwrap().formats();
        assert_eq!(get("thc"), ["percent", "enumeration"]);
        assert_eq!(get("uom"), ["unit_of_measure", "enumeration"]);
        assert_eq!(get("status"), ["enumeration"]);
        assert!(get("title").is_empty());
    }
}

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;
use serde_json::Value;

use super::*;
use crate::gtin::gtin_check_digit_ok;

/// A small deterministic PRNG (xorshift64*) so generated catalogs are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn gtin13(n: u64) -> String {
    let body = format!("{:012}", 400_000_000_000 + n);
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|c| gtin_check_digit_ok(c))
        .unwrap_or_default()
}

/// (category, median price in USD, spread in decades)
const CATEGORIES: [(&str, f64, f64); 8] = [
    ("Coffee", 4.5, 0.08),
    ("Pastry", 3.8, 0.10),
    ("Sandwiches", 11.0, 0.08),
    ("Salads", 12.5, 0.07),
    ("Beans", 18.0, 0.10),
    ("Merch", 25.0, 0.15),
    ("Wine", 28.0, 0.20),
    ("Cannabis Flower", 40.0, 0.12),
];

fn clean_catalog(n: usize, rng: &mut Rng) -> Vec<CatalogItem> {
    (0..n)
        .map(|i| {
            let (cat, median, spread) = CATEGORIES[i % CATEGORIES.len()];
            let price = (median * 10f64.powf(spread * rng.normal()) * 100.0)
                .round()
                .max(50.0) as i64;
            CatalogItem {
                external_id: format!("item-{i:05}"),
                sku: Some(format!("SKU-{i:05}")),
                name: Some(format!("{cat} product {i}")),
                category: Some(cat.into()),
                price_minor: Some(price),
                currency: Some(Currency::USD),
                cost_minor: Some(price * 4 / 10),
                barcode: Some(gtin13(i as u64)),
                is_active: Some(true),
                tax_rate_percent: Some(Decimal::from(25)),
                ..CatalogItem::default()
            }
        })
        .collect()
}

/// Injected problems: (rule expected, mutation).
const INJECTIONS: [&str; 17] = [
    "price.unit_error:x100",
    "price.unit_error:div100",
    "price.negative",
    "price.zero",
    "price.missing",
    "price.below_cost",
    "price.outlier",
    "duplicate.sku",
    "barcode.duplicate",
    "duplicate.name",
    "barcode.check_digit",
    "completeness.name",
    "completeness.currency",
    "schema.range",
    "schema.tax_rate",
    "modifier.unknown_group",
    "schema.invalid_item",
];

fn inject(item: &mut CatalogItem, kind: &str, donor: &CatalogItem) -> Option<String> {
    let p = item.price_minor.unwrap_or(100);
    match kind {
        "price.unit_error:x100" => item.price_minor = Some(p * 100),
        "price.unit_error:div100" => item.price_minor = Some(((p + 50) / 100).max(1)),
        "price.negative" => item.price_minor = Some(-p),
        "price.zero" => item.price_minor = Some(0),
        "price.missing" => item.price_minor = None,
        "price.below_cost" => item.cost_minor = Some(p + 150),
        "price.outlier" => item.price_minor = Some(p * 12),
        "duplicate.sku" => item.sku.clone_from(&donor.sku),
        "barcode.duplicate" => item.barcode.clone_from(&donor.barcode),
        "duplicate.name" => {
            item.name = donor
                .name
                .as_ref()
                .map(|n| format!("  {}!! ", n.to_uppercase()))
        }
        "barcode.check_digit" => {
            let b = item.barcode.clone().unwrap_or_default();
            let last = b.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0);
            item.barcode = Some(format!("{}{}", &b[..b.len() - 1], (last + 1) % 10));
        }
        "completeness.name" => item.name = None,
        "completeness.currency" => item.currency = None,
        "schema.range" => item.thc_percent = Some(Decimal::from(120)),
        "schema.tax_rate" => item.tax_rate_percent = Some(Decimal::new(25, 2)),
        "modifier.unknown_group" => item.modifier_group_ids = vec!["mg-missing".into()],
        "schema.invalid_item" => {
            let mut v = serde_json::to_value(&*item).unwrap_or_default();
            v["price_minor"] = Value::from("4.50");
            return Some(v.to_string());
        }
        _ => {}
    }
    None
}

#[test]
fn recall_and_false_flags_per_family_on_generated_catalogs() {
    for seed in [0x5EED_CAFE, 7, 0xDEAD_BEEF, 2026, 11, 12, 13, 14] {
        println!("seed {seed:#x}");
        evaluate(seed);
    }
}

/// Injects 30 problems of each kind into the second half of `items`; returns the rule
/// expected per injected item and the raw lines that replace serialized items.
fn inject_problems(
    items: &mut [CatalogItem],
    rng: &mut Rng,
) -> (HashMap<String, &'static str>, HashMap<usize, String>) {
    let n = items.len();
    let mut expected: HashMap<String, &'static str> = HashMap::new();
    let mut overrides: HashMap<usize, String> = HashMap::new();
    let mut touched = HashSet::new();
    // Injected items come from the second half, donors of duplicated values from the first:
    // a duplicate is reported on the later of the two lines.
    for kind in INJECTIONS {
        for _ in 0..30 {
            let idx = loop {
                let i = n / 2 + rng.pick(n / 2);
                if touched.insert(i) {
                    break i;
                }
            };
            let donor_idx = loop {
                let i = rng.pick(n / 2);
                if touched.insert(i) {
                    break i;
                }
            };
            let donor = items[donor_idx].clone();
            if let Some(line) = inject(&mut items[idx], kind, &donor) {
                overrides.insert(idx, line);
            }
            let rule = kind.split(':').next().unwrap_or(kind);
            expected.insert(
                items[idx].external_id.clone(),
                INJECTIONS
                    .iter()
                    .find(|r| r.starts_with(rule))
                    .map_or("", |_| leak(rule)),
            );
        }
    }
    (expected, overrides)
}

fn evaluate(seed: u64) {
    let mut rng = Rng(seed);
    let n = 4000;
    let mut items = clean_catalog(n, &mut rng);
    let (expected, overrides) = inject_problems(&mut items, &mut rng);
    let mut v = Validator::new(Options {
        country: Some("SE".into()),
    });
    for (i, item) in items.iter().enumerate() {
        let line = overrides
            .get(&i)
            .cloned()
            .unwrap_or_else(|| serde_json::to_string(item).unwrap_or_default());
        v.push_line(i + 1, &line);
    }
    v.push_line(n + 1, "{ this is not json");
    let report = v.finish();
    assert_eq!(report.summary.items, n + 1);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "schema.invalid_json" && f.line == n + 1)
    );

    let mut by_item: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in &report.findings {
        by_item.entry(f.item.as_str()).or_default().push(f);
    }
    // Recall per expected rule; false flags per family on items nothing was injected into
    // (donors of duplicates are the first occurrence, so they are not flagged either).
    // Recall per family (a finding of the injected problem's family on the item) and, for
    // information, per exact rule.
    let mut recall: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut exact: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (item, rule) in &expected {
        let family = rule.split('.').next().unwrap_or("");
        let fs = by_item.get(item.as_str());
        let hit_family = fs.is_some_and(|fs| fs.iter().any(|f| f.family() == family));
        let hit_rule = fs.is_some_and(|fs| fs.iter().any(|f| f.rule == *rule));
        let e = recall.entry(family).or_default();
        e.0 += usize::from(hit_family);
        e.1 += 1;
        let e = exact.entry(rule).or_default();
        e.0 += usize::from(hit_rule);
        e.1 += 1;
    }
    let clean: Vec<&CatalogItem> = items
        .iter()
        .filter(|i| !expected.contains_key(&i.external_id))
        .collect();
    let mut false_flags: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &clean {
        for f in by_item.get(i.external_id.as_str()).into_iter().flatten() {
            *false_flags.entry(f.family().as_str()).or_default() += 1;
        }
    }
    println!(
        "family         recall            false flags (of {} clean items)",
        clean.len()
    );
    for family in ["price", "duplicate", "modifier", "completeness", "schema"] {
        let (hit, total) = recall.get(family).copied().unwrap_or((0, 0));
        let ff = false_flags.get(family).copied().unwrap_or(0);
        println!(
            "{family:<14} {hit:>3}/{total:<3} {:>6.1} %   {ff:>3} ({:.3} %)",
            100.0 * hit as f64 / total.max(1) as f64,
            100.0 * ff as f64 / clean.len() as f64
        );
    }
    for (rule, (hit, total)) in &exact {
        println!("  rule {rule:<28}{hit:>3}/{total}");
    }
    assert_eq!(
        exact["price.unit_error"],
        (60, 60),
        "every unit error is caught as one"
    );
    for (family, (hit, total)) in &recall {
        assert!(
            *hit as f64 >= 0.95 * *total as f64,
            "{family}: {hit}/{total}"
        );
    }
    for family in ["price", "duplicate", "modifier", "completeness", "schema"] {
        let ff = false_flags.get(family).copied().unwrap_or(0) as f64 / clean.len() as f64;
        assert!(ff <= 0.005, "{family}: false-flag rate {ff}");
    }
}

fn leak(s: &str) -> &'static str {
    INJECTIONS
        .iter()
        .map(|r| r.split(':').next().unwrap_or(r))
        .find(|r| *r == s)
        .unwrap_or("")
}

#[test]
fn modifier_groups_add_up() {
    let mut v = Validator::new(Options::default());
    v.push_line(1, r#"{"kind":"modifier_group","id":"milk","min_selections":0,"max_selections":1,"options":[{"id":"oat","price_delta_minor":50},{"id":"almond","price_delta_minor":60}]}"#);
    v.push_line(2, r#"{"kind":"modifier_group","id":"broken","min_selections":3,"max_selections":1,"options":[{"id":"a"},{"id":"a"}]}"#);
    v.push_line(3, r#"{"kind":"modifier_group","id":"empty","options":[]}"#);
    v.push_line(4, r#"{"kind":"modifier_group","id":"discount","options":[{"id":"huge","price_delta_minor":-5000}]}"#);
    v.push_line(
        5,
        r#"{"kind":"modifier_group","id":"milk","options":[{"id":"x"}]}"#,
    );
    v.push_line(
        6,
        r#"{"kind":"modifier_group","id":"bad","max_selections":"many"}"#,
    );
    v.push_line(7, r#"{"external_id":"latte","name":"Latte","category":"Coffee","price_minor":450,"currency":"USD","sku":"L1","modifier_group_ids":["milk","discount","nope"]}"#);
    let r = v.finish();
    let rules: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.item.as_str(), f.rule.as_str()))
        .collect();
    for expected in [
        ("broken", "modifier.min_gt_max"),
        ("broken", "modifier.duplicate_option"),
        ("broken", "modifier.min_unreachable"),
        ("empty", "modifier.no_options"),
        ("milk", "modifier.duplicate_group"),
        ("bad", "schema.invalid_modifier_group"),
        ("latte", "modifier.unknown_group"),
        ("latte", "modifier.price_delta"),
    ] {
        assert!(
            rules.contains(&expected),
            "{expected:?} missing in {rules:?}"
        );
    }
    assert_eq!(r.summary.items, 1);
}

#[test]
fn broken_lines_are_schema_findings_with_line_numbers_and_the_rest_is_validated() {
    let mut v = Validator::new(Options::default());
    let lines = [
        r#"{"external_id":"a","name":"Taco","category":"Food","price_minor":450,"currency":"USD","sku":"A"}"#,
        r#"{"external_id":"b","name":"Burrito","price_minor":"9.50","currency":"USD"}"#,
        r#"{"external_id":"c","name":"Nachos","colour":"red","price_minor":-5,"currency":"USD","sku":"C"}"#,
        "[1,2,3]",
        "\u{0}\u{1}garbage",
        r#"{"external_id":"d","name":"Quesadilla","price_minor":900,"currency":"usd"}"#,
        r#"{"external_id":"a","name":"Taco again","category":"Food","price_minor":450,"currency":"USD","sku":"A"}"#,
        "",
        r#"{"external_id": 42, "name": null}"#,
    ];
    for (i, l) in lines.iter().enumerate() {
        v.push_line(i + 1, l);
    }
    let r = v.finish();
    let has = |line: usize, rule: &str| r.findings.iter().any(|f| f.line == line && f.rule == rule);
    assert!(has(2, "schema.invalid_item"));
    assert!(
        r.findings
            .iter()
            .any(|f| f.line == 2 && f.message.contains("line 2"))
    );
    assert!(has(3, "schema.unknown_field"));
    assert!(
        has(3, "price.negative"),
        "the rest of the item is still checked"
    );
    assert!(has(4, "schema.invalid_json"));
    assert!(has(5, "schema.invalid_json"));
    assert!(has(6, "schema.invalid_item"));
    assert!(has(7, "duplicate.external_id"));
    assert!(has(7, "duplicate.sku"));
    assert!(has(9, "schema.invalid_item"));
    assert_eq!(r.summary.items, 8);
    assert_eq!(r.summary.errors + r.summary.warnings, r.findings.len());
}

#[test]
fn webhook_updates_are_checked_against_the_current_price() {
    let old = CatalogItem {
        external_id: "t".into(),
        name: Some("Taco".into()),
        price_minor: Some(450),
        currency: Some(Currency::USD),
        ..CatalogItem::default()
    };
    let mut new = old.clone();
    new.price_minor = Some(45_000);
    let f = validate_update(&new, Some(&old), &Options::default());
    let unit = f.iter().find(|f| f.rule == "price.unit_error").cloned();
    assert_eq!(
        unit.as_ref().and_then(|f| f.fix.clone()).as_deref(),
        Some("450")
    );
    assert!(unit.is_some_and(|f| f.message.contains("did you mean 4.50 USD")));
    new.price_minor = Some(5);
    assert!(
        validate_update(&new, Some(&old), &Options::default())
            .iter()
            .any(|f| f.rule == "price.unit_error")
    );
    new.price_minor = Some(475);
    assert!(
        validate_update(&new, Some(&old), &Options::default())
            .iter()
            .all(|f| f.severity != Severity::Error)
    );
}

#[test]
fn sample_catalogs_raise_no_price_or_duplicate_findings() {
    let dir = format!("{}/../../samples/catalog", env!("CARGO_MANIFEST_DIR"));
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let country = if path.to_string_lossy().contains("stockholm") {
            Some("SE".to_owned())
        } else {
            None
        };
        let mut v = Validator::new(Options { country });
        for (i, l) in text.lines().enumerate() {
            v.push_line(i + 1, l);
        }
        let r = v.finish();
        let bad: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f.family().as_str(),
                    "price" | "duplicate" | "modifier" | "schema"
                ) || f.severity == Severity::Error
            })
            .collect();
        assert!(bad.is_empty(), "{}: {bad:#?}", path.display());
        assert!(r.summary.items > 20);
    }
    assert!(files >= 3);
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_lines(lines in proptest::collection::vec(".{0,200}", 0..20)) {
        let mut v = Validator::new(Options { country: Some("SE".into()) });
        for (i, l) in lines.iter().enumerate() {
            v.push_line(i + 1, l);
        }
        let r = v.finish();
        proptest::prop_assert_eq!(r.summary.errors + r.summary.warnings, r.findings.len());
    }
}

/// Case data-08: barcodes after a round trip through a spreadsheet are warnings with the
/// likely original where it is recoverable; a valid UPC-A passes; nothing is an error.
#[test]
fn spreadsheet_mangled_barcodes_are_barcode_warnings() {
    let lines = [
        r#"{"external_id":"g1","sku":"SOAP-1","name":"Olive soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"7.31E+12"}"#,
        r#"{"external_id":"g2","sku":"SOAP-2","name":"Lavender soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"36000291452"}"#,
        r#"{"external_id":"g3","sku":"SOAP-3","name":"Mint soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"012345678905"}"#,
        r#"{"external_id":"g4","sku":"SOAP-4","name":"Rose soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"4006381333932"}"#,
        r#"{"external_id":"g5","sku":"SOAP-5","name":"Tar soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"0012345678905"}"#,
        r#"{"external_id":"g6","sku":"SOAP-6","name":"Oat soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"1234567890"}"#,
        r#"{"external_id":"g7","sku":"SOAP-7","name":"Clay soap","category":"Bath","price_minor":450,"currency":"USD","barcode":"4711"}"#,
    ];
    let mut v = Validator::new(Options::default());
    for (i, l) in lines.iter().enumerate() {
        v.push_line(i + 1, l);
    }
    let r = v.finish();
    let of = |id: &str| -> Vec<(&str, Option<&str>)> {
        r.findings
            .iter()
            .filter(|f| f.item == id)
            .map(|f| (f.rule.as_str(), f.fix.as_deref()))
            .collect()
    };
    assert_eq!(of("g1"), [("barcode.scientific_notation", None)]);
    assert_eq!(of("g2"), [("barcode.leading_zero", Some("036000291452"))]);
    assert!(of("g3").is_empty());
    assert_eq!(of("g4"), [("barcode.check_digit", None)]);
    assert_eq!(of("g5"), [("barcode.duplicate", None)]);
    assert_eq!(of("g6"), [("barcode.length", None)]);
    assert!(of("g7").is_empty(), "a store code (PLU) is not a GTIN");
    assert!(
        r.findings
            .iter()
            .all(|f| f.severity == Severity::Warning && f.family() == crate::Family::Barcode)
    );
}

/// Case data-11: an open (variable) price is sellable without a fixed price.
#[test]
fn open_prices_need_no_fixed_price() {
    let mut v = Validator::new(Options::default());
    v.push_line(1, r#"{"external_id":"fish","name":"Catch of the day","category":"Deli","open_price":true,"sku":"FISH-MKT"}"#);
    v.push_line(2, r#"{"external_id":"cake","name":"Custom cake","category":"Deli","open_price":true,"price_minor":0,"currency":"USD"}"#);
    v.push_line(
        3,
        r#"{"external_id":"bread","name":"Bread","category":"Deli","sku":"B"}"#,
    );
    let r = v.finish();
    let rules: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.item.as_str(), f.rule.as_str()))
        .collect();
    assert!(
        !rules
            .iter()
            .any(|(i, r)| *i != "bread" && r.starts_with("price.")),
        "{rules:?}"
    );
    assert!(rules.contains(&("bread", "price.missing")));
}

//! Loading the development sets (tests/data/mapping-dev and devset/) and scoring them,
//! shared by the regression test and the `devset_eval` example.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tillbridge_mapping::eval::{Outcome, outcomes};
use tillbridge_mapping::{FieldProfile, profile_csv, profile_json, suggest};

/// Sources the rules were tuned on.
pub const TUNE: [&str; 10] = [
    "square_catalog_api",
    "toast_menus_v2",
    "clover_items",
    "shopify_product_csv",
    "woocommerce_product_csv",
    "square_item_library_csv",
    "bigcommerce_catalog_api",
    "magento2_catalog_export",
    "odoo_product_export",
    "dutchie_catalog_export",
];

/// Sources held out: only their aggregate is read while the rules change.
pub const HELD_OUT: [&str; 6] = [
    "bigcommerce_bulk_edit_csv",
    "prestashop_product_csv",
    "lightspeed_ecom_export",
    "lightspeed_retail_items",
    "vend_xseries_products",
    "ecwid_catalog_csv",
];

/// The folder of a source: mapping-dev's three, or the crate's devset.
pub fn dir(source: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dev = root.join("tests/data/mapping-dev").join(source);
    if dev.exists() {
        dev
    } else {
        root.join("devset").join(source)
    }
}

/// The field profiles and truth of one source.
pub fn load(source: &str) -> (Vec<FieldProfile>, Value) {
    let d = dir(source);
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    let truth: Value = serde_json::from_str(&read("truth.json")).unwrap_or_default();
    let fields = if d.join("sample.csv").exists() {
        profile_csv(read("sample.csv")).unwrap_or_default()
    } else {
        let records: Vec<Value> = serde_json::from_str(&read("sample.json")).unwrap_or_default();
        profile_json(&records)
    };
    (fields, truth)
}

/// The scored fields of one source under the current suggester.
pub fn run(source: &str) -> Vec<Outcome> {
    let (fields, truth) = load(source);
    outcomes(&suggest(&fields), &truth)
}

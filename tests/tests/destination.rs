//! `tillbridge migrate --destination square|woocommerce|shopify|zettle` → `migration report` →
//! `rollback` against fake Square, WooCommerce, Shopify and Zettle servers speaking their
//! vendors' wire formats
//! (shared/connectors' fakes, served in this process): shared/design/CLI.md "Destination".

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::*;
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};

fn fake_square(token: &str) -> (tokio::runtime::Runtime, FakeSquare) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let catalog = Catalog {
        locations: vec![("L1".into(), "Main".into())],
        list_page: 100,
        ..Catalog::default()
    };
    let fake = rt.block_on(FakeSquare::start(token, catalog)).unwrap();
    (rt, fake)
}

fn run(state: &Path, tenants: &Path, args: &[&str]) -> (i32, String, String) {
    run_as(state, tenants, args, "json")
}

fn run_as(state: &Path, tenants: &Path, args: &[&str], format: &str) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--state")
        .arg(state)
        .arg("--tenants")
        .arg(tenants)
        .args(["--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn live(fake: &FakeSquare) -> Vec<(String, String)> {
    fake.catalog()
        .items
        .iter()
        .filter(|i| !i.deleted)
        .map(|i| (i.id.clone(), i.name.clone()))
        .collect()
}

#[test]
fn migrate_to_square_report_then_roll_back_there_leaving_a_merchant_edit_alone() {
    let (_rt, fake) = fake_square("tok");
    let dir = temp_state("destination");
    let tenants = dir.join("tenants.json");
    std::fs::write(
        &tenants,
        format!(
            r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"square":{{"secret":"sq-secret","notification_url":"https://hooks.example/sq","api":{{"base_url":"{}","access_token":"tok"}}}}}}}}]}}"#,
            fake.server.base_url
        ),
    )
    .unwrap();
    let export = dir.join("export.json");
    let records: Vec<serde_json::Value> = (1..=4)
        .map(|i| serde_json::json!({"id": format!("p{i}"), "name": format!("Item {i}"), "sku": format!("SKU-{i}"), "category": "Tea", "price": format!("2.{i:02}")}))
        .collect();
    std::fs::write(&export, serde_json::to_vec(&records).unwrap()).unwrap();
    let state = dir.join("store");
    let export_arg = export.to_string_lossy().into_owned();
    let (code, out, err) = run(
        &state,
        &tenants,
        &[
            "migrate",
            "--tenant",
            "t1",
            "--source-name",
            "legacy",
            "--export",
            &export_arg,
            "--approve-all",
            "--offline",
            "--destination",
            "square",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let m = json(&out);
    assert_eq!(m["status"], "completed", "{m}");
    assert_eq!(m["destination"], "square", "{m}");
    let id = m["id"].as_str().unwrap().to_owned();
    assert_eq!(live(&fake).len(), 4, "{:?}", live(&fake));

    let (code, out, err) = run(&state, &tenants, &["migration", "report", &id]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{report}");
    for e in items {
        let d = &e["destination"];
        assert_eq!(d["provider"], "square", "{e}");
        assert_eq!(d["action"], "created", "{e}");
        assert!(d["object_id"].is_string(), "{e}");
    }

    // The merchant edits one product at Square after the migration: a conflict, kept.
    let (edited, _) = live(&fake)
        .into_iter()
        .find(|(_, n)| n == "Item 1")
        .unwrap();
    fake.edit_item(&edited, |i| i.name = "Item 1 (edited)".into());
    let (code, out, err) = run(&state, &tenants, &["rollback", "--migration", &id]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["status"], "rolled_back", "{out}");
    // CLI.md: the rollback report lists the object left alone under `conflicts`.
    assert_eq!(
        json(&out)["conflicts"],
        serde_json::json!([format!("square:{edited}")]),
        "{out}"
    );
    assert_eq!(json(&out)["rollback"]["destination"]["deleted"], 4, "{out}");
    assert_eq!(
        live(&fake),
        vec![(edited.clone(), "Item 1 (edited)".into())]
    );
    let (code, out, _) = run_as(&state, &tenants, &["migration", "show", &id], "text");
    assert_eq!(code, 0);
    assert!(
        out.contains("at square: 4 deleted, 0 restored, 1 kept (changed there since), 0 failed; verified: yes"),
        "{out}"
    );
    assert!(
        out.contains(", 0 kept (changed since)"),
        "the local catalog kept nothing: {out}"
    );
    // The category the migration made ("Tea") is gone with it; the merchant's item that
    // still names it was kept, and a category that existed before would be too.
    assert!(
        fake.catalog().categories.is_empty(),
        "{:?}",
        fake.catalog().categories
    );
}

fn fake_woocommerce() -> (
    tokio::runtime::Runtime,
    tillbridge_connectors::fake::woocommerce::FakeWooCommerce,
) {
    use tillbridge_connectors::fake::woocommerce::{FakeWooCommerce, Store, simple};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let at = tillbridge_domain::Timestamp::from_unix_seconds(1_735_689_600).unwrap();
    let store = Store {
        products: vec![simple(7, "Merchant's own mug", "3.00", Some(4), at)],
        variations: Vec::new(),
    };
    let fake = rt
        .block_on(FakeWooCommerce::start("ck_e2e", "cs_e2e", store))
        .unwrap();
    (rt, fake)
}

/// The whole round trip at WooCommerce: `migrate --destination woocommerce` → the store holds
/// the items (exact prices, one category made) → `rollback` → the
/// store is exactly as before, verified.
#[test]
fn migrate_to_woocommerce_then_roll_back_leaves_the_store_as_it_was() {
    let (_rt, fake) = fake_woocommerce();
    let before = fake.store().products.clone();
    let (state, tenants, m) = migrate_four_items(
        "destination-woo",
        "woocommerce",
        &r#"{"secret":"wc-secret","api":{"base_url":"BASE","consumer_key":"ck_e2e","consumer_secret":"cs_e2e"}}"#.replace("BASE", &fake.server.base_url),
    );
    let id = m["id"].as_str().unwrap().to_owned();
    {
        let s = fake.store();
        assert_eq!(s.products.len(), 5, "{:?}", s.products);
        let item2 = s.products.iter().find(|p| p["name"] == "Item 2").unwrap();
        assert_eq!(item2["regular_price"], "2.02");
        assert_eq!(item2["sku"], "SKU-2");
        assert_eq!(item2["categories"][0]["name"], "Tea");
    }
    assert_eq!(fake.writes().categories.len(), 1);

    let (code, out, err) = run(&state, &tenants, &["migration", "report", &id]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    for e in report["items"].as_array().unwrap() {
        assert_eq!(e["destination"]["provider"], "woocommerce", "{e}");
        assert_eq!(e["destination"]["action"], "created", "{e}");
    }

    let (code, out, err) = run(&state, &tenants, &["rollback", "--migration", &id]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["status"], "rolled_back", "{out}");
    assert_eq!(fake.store().products, before, "the store is as it was");
    let (code, out, _) = run_as(&state, &tenants, &["migration", "show", &id], "text");
    assert_eq!(code, 0);
    assert!(
        out.contains("at woocommerce: 5 deleted, 0 restored, 0 kept (changed there since), 0 failed; verified: yes"),
        "{out}"
    );
    assert!(
        fake.writes().categories.is_empty(),
        "the category it made is gone"
    );
}

fn fake_shopify() -> (
    tokio::runtime::Runtime,
    tillbridge_connectors::fake::shopify::FakeShopify,
) {
    use tillbridge_connectors::fake::shopify::{FakeShopify, Shop, product};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let at = tillbridge_domain::Timestamp::from_unix_seconds(1_735_689_600).unwrap();
    let shop = Shop {
        products: vec![product(
            1,
            "Merchant's own mug",
            &[(11, "Default Title", "3.00", 4, 0)],
            at,
        )],
        maximum_available: 1_000_000.0,
        restore_rate: 1_000_000.0,
        ..Shop::default()
    };
    let fake = rt.block_on(FakeShopify::start("shpat_e2e", shop)).unwrap();
    (rt, fake)
}

/// The whole round trip at Shopify: `migrate --destination shopify` → the shop holds the
/// products (exact decimal prices, SKUs, product type) → `rollback` → the shop is exactly as
/// before, verified.
#[test]
fn migrate_to_shopify_then_roll_back_leaves_the_shop_as_it_was() {
    let (_rt, fake) = fake_shopify();
    let before = fake.shop().products.clone();
    let (state, tenants, m) = migrate_four_items(
        "destination-shopify",
        "shopify",
        &r#"{"secret":"shp-secret","api":{"base_url":"BASE","access_token":"shpat_e2e"}}"#
            .replace("BASE", &fake.server.base_url),
    );
    assert_eq!(
        m["progress"]["destination"],
        serde_json::json!({"written": 4, "unchanged": 0, "failed": 0, "redirects": 0}),
        "{m}"
    );
    let id = m["id"].as_str().unwrap().to_owned();
    {
        let s = fake.shop();
        assert_eq!(s.products.len(), 5, "{:?}", s.products);
        let item2 = s.products.iter().find(|p| p["title"] == "Item 2").unwrap();
        assert_eq!(item2["variants"]["nodes"][0]["price"], "2.02");
        assert_eq!(item2["variants"]["nodes"][0]["sku"], "SKU-2");
        assert_eq!(item2["productType"], "Tea");
    }

    let (code, out, err) = run(&state, &tenants, &["migration", "report", &id]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    for e in report["items"].as_array().unwrap() {
        assert_eq!(e["destination"]["provider"], "shopify", "{e}");
        assert_eq!(e["destination"]["action"], "created", "{e}");
    }

    let (code, out, err) = run(&state, &tenants, &["rollback", "--migration", &id]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["status"], "rolled_back", "{out}");
    assert_eq!(fake.shop().products, before, "the shop is as it was");
    let (code, out, _) = run_as(&state, &tenants, &["migration", "show", &id], "text");
    assert_eq!(code, 0);
    assert!(
        out.contains("at shopify: 4 deleted, 0 restored, 0 kept (changed there since), 0 failed; verified: yes"),
        "{out}"
    );
}

fn fake_zettle() -> (
    tokio::runtime::Runtime,
    tillbridge_connectors::fake::zettle::FakeZettle,
) {
    use tillbridge_connectors::fake::zettle::{FakeZettle, Organization};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let org = Organization {
        products: Vec::new(),
        currency: "USD".into(),
        page: 100,
    };
    let fake = rt.block_on(FakeZettle::start("zt_e2e", org)).unwrap();
    fake.put_product(
        serde_json::json!({"uuid": "0a0a0a0a-0000-1000-8000-00000000a001", "name": "Merchant's own mug",
            "variants": [{"uuid": "0a0a0a0a-0000-1000-8000-00000000b001", "name": "", "sku": "MUG-1",
                          "price": {"amount": 300, "currencyId": "USD"}}]}),
        &[("0a0a0a0a-0000-1000-8000-00000000b001", 4)],
    );
    (rt, fake)
}

/// The whole round trip at Zettle: `migrate --destination zettle` → the library holds the
/// products (prices in minor units, SKUs, the category made) → `rollback` → the library is
/// exactly as before (the merchant's mug and its stock untouched), verified.
#[test]
fn migrate_to_zettle_then_roll_back_leaves_the_library_as_it_was() {
    let (_rt, fake) = fake_zettle();
    let library = |fake: &tillbridge_connectors::fake::zettle::FakeZettle| {
        let w = fake.writes();
        (w.products.clone(), w.balances.clone())
    };
    let before = library(&fake);
    let (state, tenants, m) = migrate_four_items(
        "destination-zettle",
        "zettle",
        &r#"{"secret":"zt-secret","api":{"base_url":"BASE","access_token":"zt_e2e"}}"#
            .replace("BASE", &fake.server.base_url),
    );
    assert_eq!(
        m["progress"]["destination"],
        serde_json::json!({"written": 4, "unchanged": 0, "failed": 0, "redirects": 0}),
        "{m}"
    );
    let id = m["id"].as_str().unwrap().to_owned();
    {
        let w = fake.writes();
        assert_eq!(w.products.len(), 5, "{:?}", w.products);
        let item2 = w.products.values().find(|p| p["name"] == "Item 2").unwrap();
        assert_eq!(
            item2["variants"][0]["price"],
            serde_json::json!({"amount": 202, "currencyId": "USD"})
        );
        assert_eq!(item2["variants"][0]["sku"], "SKU-2");
        assert_eq!(item2["category"]["name"], "Tea");
        assert_eq!(w.categories.len(), 1);
    }

    let (code, out, err) = run(&state, &tenants, &["migration", "report", &id]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    for e in report["items"].as_array().unwrap() {
        assert_eq!(e["destination"]["provider"], "zettle", "{e}");
        assert_eq!(e["destination"]["action"], "created", "{e}");
    }

    let (code, out, err) = run(&state, &tenants, &["rollback", "--migration", &id]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["status"], "rolled_back", "{out}");
    assert_eq!(library(&fake), before, "the library is as it was");
    let (code, out, _) = run_as(&state, &tenants, &["migration", "show", &id], "text");
    assert_eq!(code, 0);
    assert!(
        out.contains("at zettle: 5 deleted, 0 restored, 0 kept (changed there since), 0 failed; verified: yes"),
        "{out}"
    );
    assert!(
        fake.writes().categories.is_empty(),
        "the category it made is gone"
    );
}

/// SEO: a Shopify CSV's handles are the old pages: migrated into BigCommerce they become
/// storefront redirects (`/products/<handle>`) to the new products, and rollback removes them
/// with the products.
#[test]
fn a_shopify_csv_migrated_to_bigcommerce_redirects_the_old_handles_until_rolled_back() {
    use tillbridge_connectors::fake::bigcommerce::{FakeBigCommerce, Store};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt
        .block_on(FakeBigCommerce::start("bc_e2e", Store::default()))
        .unwrap();
    let dir = temp_state("destination-seo");
    let tenants = dir.join("tenants.json");
    std::fs::write(
        &tenants,
        format!(
            r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"bigcommerce":{{"secret":"bc-secret","api":{{"base_url":"{}","access_token":"bc_e2e"}}}}}}}}]}}"#,
            fake.server.base_url
        ),
    )
    .unwrap();
    let export = dir.join("products_export.csv");
    std::fs::write(
        &export,
        // A Shopify product export with its variant ids (as Matrixify and the Admin API
        // exports carry them; the plain CSV has none and waits for a reviewer).
        "Handle,Title,Body (HTML),Vendor,Type,Option1 Name,Option1 Value,Variant ID,Variant SKU,Variant Price,Variant Inventory Qty\n\
         classic-tee,Classic Tee,<p>Soft cotton tee</p>,Acme,Shirts,Size,S,40011,TEE-S,19.00,10\n\
         classic-tee,,,,,,M,40012,TEE-M,19.00,7\n\
         blue-mug,Blue Mug,<p>Mug</p>,Acme,Mugs,Title,Default Title,40021,MUG-1,8.50,4\n",
    )
    .unwrap();
    let state = dir.join("store");
    let export_arg = export.to_string_lossy().into_owned();
    let migrate = [
        "migrate",
        "--tenant",
        "t1",
        "--source-name",
        "old-shopify",
        "--export",
        &export_arg,
        "--approve-all",
        "--offline",
        "--destination",
        "bigcommerce",
    ];
    let (code, out, err) = run(&state, &tenants, &migrate);
    assert_eq!(code, 0, "{out}\n{err}");
    let m = json(&out);
    assert_eq!(m["status"], "completed", "{m}");
    let id = m["id"].as_str().unwrap().to_owned();
    let mut paths: Vec<String> = fake
        .writes()
        .redirects
        .iter()
        .filter_map(|r| r["from_path"].as_str().map(str::to_owned))
        .collect();
    paths.sort();
    assert_eq!(paths, ["/products/blue-mug", "/products/classic-tee"]);
    assert_eq!(m["progress"]["destination"]["redirects"], 2, "{m}");
    let (code, out, _) = run(&state, &tenants, &["migration", "show", &id]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["progress"]["destination"]["written"], 2, "{out}");
    assert_eq!(fake.store().products.len(), 2);

    let (code, out, err) = run(&state, &tenants, &["rollback", "--migration", &id]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(fake.writes().redirects.is_empty(), "the redirects are gone");
    assert!(fake.store().products.is_empty());
}

/// Migrates four tea items from a JSON export into `provider` (the tenants file's entry
/// `entry`) with `--approve-all --offline`; the state, the tenants file and the completed
/// migration record.
fn migrate_four_items(
    name: &str,
    provider: &str,
    entry: &str,
) -> (std::path::PathBuf, std::path::PathBuf, serde_json::Value) {
    let dir = temp_state(name);
    let tenants = dir.join("tenants.json");
    std::fs::write(
        &tenants,
        format!(
            r#"{{"tenants":[{{"tenant_id":"t1","currency":"USD","providers":{{"{provider}":{entry}}}}}]}}"#
        ),
    )
    .unwrap();
    let export = dir.join("export.json");
    let records: Vec<serde_json::Value> = (1..=4)
        .map(|i| serde_json::json!({"id": format!("p{i}"), "name": format!("Item {i}"), "sku": format!("SKU-{i}"), "category": "Tea", "price": format!("2.{i:02}")}))
        .collect();
    std::fs::write(&export, serde_json::to_vec(&records).unwrap()).unwrap();
    let state = dir.join("store");
    let export_arg = export.to_string_lossy().into_owned();
    let migrate = [
        "migrate",
        "--tenant",
        "t1",
        "--source-name",
        "legacy",
        "--export",
        &export_arg,
        "--approve-all",
        "--offline",
        "--destination",
        provider,
    ];
    let (code, out, err) = run(&state, &tenants, &migrate);
    assert_eq!(code, 0, "{out}\n{err}");
    let m = json(&out);
    assert_eq!(m["status"], "completed", "{m}");
    (state, tenants, m)
}

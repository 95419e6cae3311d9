//! Approved mappings applied to the dev samples produce the canonical items they describe.

use serde_json::Value;
use tillbridge_domain::Currency;
use tillbridge_mapping::{Conversion, MappedField, apply, profile_json, suggest};

fn approved(source: &str) -> (Vec<Value>, Vec<MappedField>) {
    let dir = format!(
        "{}/tests/data/mapping-dev/{source}",
        env!("CARGO_MANIFEST_DIR")
    );
    let records: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/sample.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let mapping = suggest(&profile_json(&records))
        .into_iter()
        .filter_map(|s| {
            Some(MappedField {
                source: s.source,
                target: s.target?.to_owned(),
                conversion: s.conversion?,
            })
        })
        .collect();
    (records, mapping)
}

#[test]
fn square_items_and_variations_become_parents_and_variants() {
    let (records, mapping) = approved("square_catalog_api");
    let amount = mapping
        .iter()
        .find(|m| m.source.ends_with("price_money.amount"))
        .map(|m| m.conversion);
    assert_eq!(amount, Some(Conversion::MinorUnits));
    let archived = mapping
        .iter()
        .find(|m| m.source.ends_with("is_archived"))
        .map(|m| m.conversion);
    assert_eq!(archived, Some(Conversion::InvertedBoolean));
    let (items, problems) = apply(&records, &mapping, Currency::USD);
    assert!(problems.is_empty(), "{problems:?}");
    let variants: Vec<_> = items.iter().filter(|i| i.parent_id.is_some()).collect();
    assert_eq!(items.len() - variants.len(), 25);
    assert_eq!(variants.len(), 38);
    assert!(
        variants
            .iter()
            .all(|v| v.name.is_some() && v.variant_name.is_some())
    );
    // Variable-priced variations carry no price_money; every fixed-price one converts.
    let fixed = records
        .iter()
        .flat_map(|r| {
            r["item_data"]["variations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|v| v["item_variation_data"]["price_money"].is_object())
        .count();
    assert_eq!(
        variants
            .iter()
            .filter(|v| v.price_minor.is_some() && v.currency.is_some())
            .count(),
        fixed
    );
    let parents: std::collections::HashSet<&str> = items
        .iter()
        .filter(|i| i.parent_id.is_none())
        .map(|i| i.external_id.as_str())
        .collect();
    assert!(
        variants
            .iter()
            .all(|v| parents.contains(v.parent_id.as_deref().unwrap_or("")))
    );
}

#[test]
fn toast_dollars_and_clover_epoch_millis_convert() {
    let (records, mapping) = approved("toast_menus_v2");
    assert_eq!(
        mapping
            .iter()
            .find(|m| m.source == "price")
            .map(|m| m.conversion),
        Some(Conversion::MajorToMinor)
    );
    let (items, problems) = apply(&records, &mapping, Currency::USD);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(items.len(), 30);
    let burger = items
        .iter()
        .find(|i| i.name.as_deref() == Some("Classic Smash Burger"));
    assert_eq!(burger.and_then(|b| b.price_minor), Some(1500));

    let (records, mapping) = approved("clover_items");
    assert_eq!(
        mapping
            .iter()
            .find(|m| m.source == "modifiedTime")
            .map(|m| m.conversion),
        Some(Conversion::EpochMillis)
    );
    assert_eq!(
        mapping
            .iter()
            .find(|m| m.source == "price")
            .map(|m| m.conversion),
        Some(Conversion::MinorUnits)
    );
    let (items, problems) = apply(&records, &mapping, Currency::USD);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(items.len(), 30);
    assert!(items.iter().all(|i| {
        i.updated_at
            .is_some_and(|t| t.to_string().starts_with("20"))
    }));
}

#[test]
fn a_mistyped_target_is_a_problem_not_a_silently_dropped_field() {
    let records: Vec<Value> =
        serde_json::from_str(r#"[{"id":"a1","title":"Latte"}]"#).unwrap_or_default();
    let mapping = vec![
        MappedField {
            source: "id".into(),
            target: "external_id".into(),
            conversion: Conversion::AsIs,
        },
        MappedField {
            source: "title".into(),
            target: "nmae".into(),
            conversion: Conversion::AsIs,
        },
    ];
    let (_, problems) = apply(&records, &mapping, Currency::USD);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("\"nmae\" is not a canonical field")),
        "{problems:?}"
    );
}

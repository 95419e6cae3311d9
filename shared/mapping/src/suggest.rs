//! The offline tiers: name evidence (tokens, lexicon, parent context) checked against value
//! evidence, one suggestion (or an explicit "no counterpart") per source field.

use serde::Serialize;
use tillbridge_domain::CanonicalField as F;

use crate::flatten::{FieldProfile, ValueKind};
use crate::tokens::words;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub source: String,
    pub target: Option<&'static str>,
    pub confidence: f64,
    pub band: &'static str,
    pub reason: String,
    /// How the values convert (for suggestions with a target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<crate::convert::Conversion>,
}

/// high > 0.9, medium 0.7–0.9, low < 0.7, none = no suggestion.
pub fn band(target: Option<&str>, confidence: f64) -> &'static str {
    match target {
        None => "none",
        Some(_) if confidence > 0.9 => "high",
        Some(_) if confidence >= 0.7 => "medium",
        Some(_) => "low",
    }
}

/// Segments that only wrap the record (or one of its variants), not another entity.
const ENTITY: [&str; 18] = [
    "item",
    "items",
    "data",
    "product",
    "products",
    "variation",
    "variations",
    "variant",
    "variants",
    "record",
    "node",
    "nodes",
    "edges",
    "attributes",
    "fields",
    "result",
    "results",
    "entry",
];
const VARIANT: [&str; 4] = ["variation", "variations", "variant", "variants"];

struct Field<'a> {
    profile: &'a FieldProfile,
    /// Tokens of the last path segment.
    leaf: Vec<String>,
    /// The last segment's tokens joined ("modifiedtime").
    joined: String,
    /// Tokens of every other segment.
    parents: Vec<Vec<String>>,
    is_array_leaf: bool,
}

impl Field<'_> {
    fn parent_has(&self, w: &[&str]) -> bool {
        self.parents
            .iter()
            .flatten()
            .any(|t| w.contains(&t.as_str()))
    }

    fn leaf_has(&self, w: &[&str]) -> bool {
        self.leaf.iter().any(|t| w.contains(&t.as_str()))
    }

    fn leaf_is(&self, w: &[&str]) -> bool {
        w.contains(&self.joined.as_str())
    }

    /// Every parent segment is a wrapper of the record or of a variant.
    fn at_entity_level(&self) -> bool {
        self.parents
            .iter()
            .all(|seg| seg.iter().all(|t| ENTITY.contains(&t.as_str())))
    }

    fn in_variant(&self) -> bool {
        self.parent_has(&VARIANT)
    }

    fn numeric(&self) -> bool {
        let p = self.profile;
        p.share_of(ValueKind::Integer) + p.share_of(ValueKind::Decimal) >= 0.8
            || p.kind() == ValueKind::Empty
    }

    fn kind(&self) -> ValueKind {
        self.profile.kind()
    }
}

fn field(p: &FieldProfile) -> Field<'_> {
    let segs: Vec<&str> = p.path.split('.').collect();
    let (last, rest) = segs.split_last().map_or(("", &[][..]), |(l, r)| (*l, r));
    let leaf = words(last);
    Field {
        profile: p,
        joined: leaf.concat(),
        leaf,
        parents: rest.iter().map(|s| words(s)).collect(),
        is_array_leaf: last.ends_with("[]"),
    }
}

type Rule = (Option<&'static str>, f64, String);

fn hit(target: F, confidence: f64, reason: impl Into<String>) -> Option<Rule> {
    Some((Some(target.as_str()), confidence, reason.into()))
}

fn none(confidence: f64, reason: impl Into<String>) -> Option<Rule> {
    Some((None, confidence, reason.into()))
}

/// Near misses: a name qualified by a use ("kitchen name", "POS name", "alternate name",
/// "short name") is another label for the item, not the item's name.
fn near_miss(f: &Field<'_>) -> Option<Rule> {
    let qualified_name = f.leaf.len() > 1
        && f.leaf.last().is_some_and(|t| t == "name")
        && f.leaf.iter().any(|t| {
            ![
                "item",
                "product",
                "display",
                "full",
                "name",
                "variant",
                "variation",
                "option",
                "category",
                "brand",
                "vendor",
                "supplier",
                "unit",
            ]
            .contains(&t.as_str())
        });
    if qualified_name {
        return none(
            0.8,
            "a secondary label (qualified name), not the item's name",
        );
    }
    None
}

fn rules(f: &Field<'_>, all: &[FieldProfile]) -> Option<Rule> {
    let kind = f.kind();
    if let Some(r) = near_miss(f) {
        return Some(r);
    }
    // Cannabis potency.
    if f.leaf_has(&["thc"]) || (f.parent_has(&["thc"]) && !f.leaf_has(&["unit", "type"])) {
        return hit(F::ThcPercent, 0.95, "name says THC");
    }
    if f.leaf_has(&["cbd"]) || (f.parent_has(&["cbd"]) && !f.leaf_has(&["unit", "type"])) {
        return hit(F::CbdPercent, 0.95, "name says CBD");
    }
    // Money.
    if f.leaf_has(&["currency"]) {
        return hit(
            F::Currency,
            if kind == ValueKind::Currency {
                0.97
            } else {
                0.9
            },
            "a currency field with ISO codes",
        );
    }
    if (f.leaf_has(&["cost", "wholesale", "supply"])
        || (f.parent_has(&["cost"]) && f.leaf_is(&["amount", "value"])))
        && f.numeric()
    {
        return hit(F::CostMinor, 0.93, "a cost amount");
    }
    if f.parent_has(&["price"]) && f.leaf_is(&["amount", "value"]) && f.numeric() {
        return hit(F::PriceMinor, 0.96, "the amount of a price object");
    }
    if f.leaf_has(&["price", "amount"])
        && !f.parent_has(&[
            "tax",
            "modifier",
            "modifiers",
            "option",
            "options",
            "cost",
            "discount",
        ])
    {
        // "Price", "Retail Price", "Price (USD)": a price with neutral qualifiers only.
        const NEUTRAL: [&str; 32] = [
            "price",
            "amount",
            "regular",
            "unit",
            "base",
            "retail",
            "selling",
            "list",
            "current",
            "item",
            "product",
            "default",
            "standard",
            "variant",
            "usd",
            "eur",
            "gbp",
            "sek",
            "cad",
            "aud",
            "including",
            "excluding",
            "incl",
            "excl",
            "tax",
            "pre",
            "in",
            "pennies",
            "cents",
            "minor",
            "rec",
            "recreational",
        ];
        if f.leaf.iter().all(|t| NEUTRAL.contains(&t.as_str())) {
            let c = if f.numeric() { 0.95 } else { 0.75 };
            return hit(F::PriceMinor, c, "a price");
        }
        return none(0.8, "a price-related setting, not the selling price");
    }
    // Identifiers of the thing itself.
    if f.leaf_has(&["sku"]) && !f.leaf_has(&["parent"]) {
        return hit(F::Sku, 0.96, "name says SKU");
    }
    if f.leaf_has(&["upc", "ean", "gtin", "barcode"]) {
        return hit(F::Barcode, 0.96, "name says barcode/UPC/EAN/GTIN");
    }
    if f.leaf_is(&["code"])
        && f.profile.share_of(ValueKind::Gtin) + f.profile.share_of(ValueKind::Integer) >= 0.5
    {
        return hit(F::Barcode, 0.9, "a numeric code shaped like a GTIN");
    }
    // Text.
    if f.leaf_has(&["description", "desc"]) && !f.leaf_has(&["short"]) {
        return hit(F::Description, 0.95, "name says description");
    }
    if f.leaf_has(&["short"]) && f.leaf_has(&["description"]) {
        return hit(F::Description, 0.85, "a short description");
    }
    if f.leaf_has(&["body"]) && (f.leaf_has(&["html"]) || f.profile.long_texts > 0) {
        return hit(F::Description, 0.85, "a long text body describing the item");
    }
    // Stock and status.
    if f.leaf_has(&["qty", "quantity", "stock", "inventory", "onhand", "hand"])
        && !f.leaf_has(&[
            "min",
            "max",
            "alert",
            "threshold",
            "reorder",
            "sold",
            "order",
            "track",
            "tracking",
            "policy",
            "unit",
            "management",
            "id",
            "ids",
            "status",
        ])
        && f.numeric()
        && f.profile.kind() != ValueKind::Bool
        && !f.parent_has(&["modifier", "modifiers", "price", "location", "overrides"])
    {
        return hit(F::QuantityOnHand, 0.92, "a stock quantity");
    }
    if f.parent_has(&["inventory", "stock", "stocks", "levels"])
        && f.leaf_is(&["count", "quantity", "available", "level", "onhand", "qty"])
        && f.numeric()
        && f.profile.kind() != ValueKind::Bool
    {
        return hit(F::QuantityOnHand, 0.9, "a stock count");
    }
    if f.leaf_is(&["isarchived", "archived"]) {
        return hit(F::IsActive, 0.92, "archived is the inverse of active");
    }
    if f.leaf_is(&[
        "sellable",
        "available",
        "active",
        "isactive",
        "enabled",
        "isavailable",
        "published",
        "status",
        "state",
    ]) && f.at_entity_level()
    {
        let c = if kind == ValueKind::Bool || f.profile.distinct.len() <= 5 {
            0.92
        } else {
            0.7
        };
        return hit(F::IsActive, c, "whether the item can be sold");
    }
    // Media, brand, vendor.
    if f.parent_has(&["image", "images", "photos"]) && f.leaf_is(&["id", "guid"]) {
        // A reference feeds the field only when the resolved value is not there too.
        let parent = f.profile.path.rsplit_once('.').map_or("", |(p, _)| p);
        let resolved = all.iter().any(|o| {
            o.path.starts_with(parent) && o.path != f.profile.path && o.kind() == ValueKind::Url
        });
        return if resolved {
            none(0.8, "an image reference whose URL is also present")
        } else {
            hit(F::ImageUrl, 0.85, "a reference to the item's image")
        };
    }
    if f.leaf_has(&["image", "images", "photo", "picture", "thumbnail"])
        || (f.parent_has(&["image", "images", "photos"]) && f.leaf_is(&["src", "url"]))
    {
        return hit(
            F::ImageUrl,
            if kind == ValueKind::Url || kind == ValueKind::Empty {
                0.93
            } else {
                0.9
            },
            "an image or its id",
        );
    }
    let label_or_ref = |f: &Field<'_>| {
        f.leaf.iter().all(|t| {
            [
                "brand",
                "manufacturer",
                "vendor",
                "supplier",
                "name",
                "id",
                "guid",
                "title",
            ]
            .contains(&t.as_str())
        })
    };
    if (f.leaf_has(&["brand", "manufacturer"]) && label_or_ref(f))
        || (f.parent_has(&["brand", "manufacturer"]) && f.leaf_is(&["name", "title"]))
    {
        return hit(F::Brand, 0.93, "the brand (its name or reference)");
    }
    if (f.leaf_has(&["vendor", "supplier"]) && label_or_ref(f))
        || (f.parent_has(&["vendor", "supplier"]) && f.leaf_is(&["name", "title"]))
    {
        return hit(F::Vendor, 0.93, "the vendor (its name or reference)");
    }
    // Tax.
    if f.leaf_has(&["tax", "vat"]) || f.parent_has(&["tax", "taxes", "vat"]) {
        let rate_named =
            f.leaf_has(&["rate", "percent", "percentage", "pct"]) || f.leaf_is(&["tax", "vat"]);
        if rate_named && f.numeric() && f.profile.kind() != ValueKind::Empty {
            return hit(F::TaxRatePercent, 0.94, "a tax rate");
        }
        if f.leaf_is(&["id", "guid"]) {
            let parent = f.profile.path.rsplit_once('.').map_or("", |(p, _)| p);
            let has_rate = all.iter().any(|o| {
                o.path.starts_with(parent)
                    && words(o.path.rsplit('.').next().unwrap_or(""))
                        .iter()
                        .any(|t| t == "rate")
            });
            return if has_rate {
                none(0.8, "a tax reference whose rate is also present")
            } else {
                hit(F::TaxRatePercent, 0.85, "a reference to the tax applied")
            };
        }
        if f.is_array_leaf && f.leaf_has(&["tax", "taxes"]) {
            return hit(F::TaxRatePercent, 0.88, "references to the taxes applied");
        }
        return none(0.8, "tax metadata");
    }
    // Modifiers.
    if f.leaf_has(&["modifier", "modifiers"]) || f.parent_has(&["modifier", "modifiers"]) {
        if f.leaf_is(&[
            "id",
            "guid",
            "modifierlistid",
            "modifiergroupid",
            "modifiergroupreferences",
            "modifiergroupids",
            "modifiergroups",
        ]) || (f.is_array_leaf && f.leaf_has(&["modifier"]))
        {
            return hit(F::ModifierGroupIds, 0.92, "references to modifier groups");
        }
        return none(0.85, "modifier group settings");
    }
    // Units and weight.
    if f.leaf_has(&["unit", "uom"])
        && !f.leaf_has(&["weight", "dimension", "length", "price", "cost"])
    {
        return hit(F::UnitOfMeasure, 0.9, "a unit of measure");
    }
    if f.leaf_has(&["weight", "grams", "gram"]) && !f.leaf_has(&["unit"]) && f.numeric() {
        return hit(F::Weight, 0.93, "a weight");
    }
    // Time.
    if f.leaf_has(&["created"]) && (f.at_entity_level()) {
        return hit(
            F::CreatedAt,
            if kind == ValueKind::Timestamp {
                0.95
            } else {
                0.85
            },
            "creation time",
        );
    }
    if (f.leaf_has(&["updated", "modified"]) || f.leaf_is(&["lastmodified", "updatedat"]))
        && f.at_entity_level()
    {
        return hit(
            F::UpdatedAt,
            if kind == ValueKind::Timestamp {
                0.95
            } else {
                0.85
            },
            "last change time",
        );
    }
    // Categories.
    if f.leaf_has(&["category", "categories", "department", "collection"])
        || f.parent_has(&["category", "categories", "department"])
    {
        let plain = f.leaf.iter().all(|t| {
            [
                "category",
                "categories",
                "department",
                "collection",
                "reporting",
                "main",
                "primary",
                "product",
                "item",
                "type",
                "name",
                "id",
                "ids",
                "guid",
                "title",
                "label",
            ]
            .contains(&t.as_str())
        });
        if plain && !f.leaf_has(&["sub", "subcategory"]) {
            return hit(F::Category, 0.92, "the item's category");
        }
        return none(0.85, "category metadata");
    }
    // Parents of variants.
    if (f.leaf_has(&["parent"]) && f.leaf_has(&["id", "guid", "uuid", "sku"]))
        || (f.leaf_is(&["itemgroupid", "groupid", "productid", "itemid"]) && f.in_variant())
    {
        return hit(F::ParentId, 0.92, "the variant's parent");
    }
    if f.parent_has(&["group", "itemgroup", "parent"]) && f.leaf_is(&["id", "guid"]) {
        return hit(F::ParentId, 0.9, "the id of the group this item belongs to");
    }
    // Own id.
    if f.leaf_is(&[
        "id",
        "guid",
        "uuid",
        "itemid",
        "productid",
        "externalid",
        "variationid",
        "variantid",
    ]) && f.at_entity_level()
    {
        return hit(F::ExternalId, 0.95, "the record's own id");
    }
    // Names.
    if f.leaf_is(&[
        "name",
        "title",
        "itemname",
        "productname",
        "displayname",
        "item",
        "product",
    ]) {
        if f.in_variant() {
            return hit(F::VariantName, 0.93, "the name of a variant");
        }
        if f.at_entity_level() {
            return hit(F::Name, 0.95, "the item's name");
        }
        if f.parent_has(&["option", "options"]) {
            return hit(F::VariantName, 0.8, "an option value naming the variant");
        }
    }
    if f.in_variant() && f.leaf_is(&["option", "label", "size"]) {
        return hit(F::VariantName, 0.85, "the option naming the variant");
    }
    if f.parent_has(&["option", "options", "optionvalues"])
        && f.leaf_is(&["label", "value"])
        && f.profile.kind() == ValueKind::Text
    {
        return hit(F::VariantName, 0.8, "an option value naming the variant");
    }
    if f.leaf_is(&[
        "variantname",
        "variationname",
        "varianttitle",
        "optionvalue",
        "size",
    ]) {
        return hit(F::VariantName, 0.9, "the name of a variant");
    }
    None
}

/// No rule matched. That is a confident "no counterpart" when the name is readable, but an
/// uncertain one when the name tells nothing (short codes, digits) or the values are of a
/// kind canonical fields take (numbers, barcodes, URLs): those go to the LLM tier when it is on.
fn unmatched(f: &Field<'_>) -> Rule {
    let opaque = f
        .leaf
        .iter()
        .all(|t| t.len() <= 3 || t.bytes().any(|b| b.is_ascii_digit()));
    let telling = matches!(
        f.kind(),
        ValueKind::Integer | ValueKind::Decimal | ValueKind::Gtin | ValueKind::Url
    );
    match (opaque, telling) {
        (true, _) => (
            None,
            0.6,
            "no canonical counterpart recognised; the name says little".to_owned(),
        ),
        (false, true) => (
            None,
            0.75,
            format!(
                "no canonical counterpart recognised in the name, though its values ({:?}) could feed one",
                f.kind()
            ),
        ),
        (false, false) => (None, 0.9, "no canonical counterpart".to_owned()),
    }
}

/// One suggestion per field, in the input's order.
pub fn suggest(fields: &[FieldProfile]) -> Vec<Suggestion> {
    let mut out = per_field(fields);
    assign(&mut out);
    out
}

/// The record level of a path: the item itself, or the array (variants, modifiers…) it is in.
fn level(path: &str) -> &str {
    path.rfind("[]").map_or("", |i| &path[..i])
}

/// The global assignment: a canonical field takes one source field per record level. Where
/// several claim it, the strongest evidence keeps it (the earlier field on a tie); the others
/// are often the same value in another form (`description` / `description_html`, a stock
/// count at two depths), so they stay as alternates, capped below the high band and naming
/// the primary, for the reviewer to choose.
fn assign(suggestions: &mut [Suggestion]) {
    let mut best: std::collections::HashMap<(&'static str, String), usize> =
        std::collections::HashMap::new();
    for (i, s) in suggestions.iter().enumerate() {
        let Some(t) = s.target else { continue };
        // List-valued targets take every list.
        if t == "modifier_group_ids" {
            continue;
        }
        best.entry((t, level(&s.source).to_owned()))
            .and_modify(|b| {
                if s.confidence > suggestions[*b].confidence {
                    *b = i;
                }
            })
            .or_insert(i);
    }
    let losers: Vec<(usize, String)> = suggestions
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let t = s.target?;
            let b = *best.get(&(t, level(&s.source).to_owned()))?;
            (b != i).then(|| (i, suggestions[b].source.clone()))
        })
        .collect();
    for (i, winner) in losers {
        let s = &mut suggestions[i];
        let t = s.target.unwrap_or_default();
        s.reason = format!(
            "alternative to {winner}, which feeds {t} with stronger evidence; {}",
            s.reason
        );
        s.confidence = s.confidence.min(0.75);
        s.band = band(s.target, s.confidence);
    }
}

fn per_field(fields: &[FieldProfile]) -> Vec<Suggestion> {
    fields
        .iter()
        .map(|p| {
            let f = field(p);
            let (target, confidence, reason) = rules(&f, fields).unwrap_or_else(|| unmatched(&f));
            let confidence = (confidence * 100.0).round() / 100.0;
            let conversion = target.map(|t| crate::convert::detect(t, p));
            Suggestion {
                source: p.path.clone(),
                target,
                confidence,
                band: band(target, confidence),
                reason,
                conversion,
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::profile_json;

    #[test]
    fn one_primary_per_target_and_level_the_rest_are_alternates() {
        let fields = profile_json(&[json!({
            "description": "Oat milk latte",
            "description_html": "<p>Oat milk latte</p>",
            "variants": [{"description": "Large"}],
        })]);
        let s = suggest(&fields);
        let get = |p: &str| s.iter().find(|x| x.source == p).unwrap();
        let (primary, alt) = (get("description"), get("description_html"));
        assert_eq!(primary.target, Some("description"));
        assert_eq!(alt.target, Some("description"));
        assert!(primary.confidence > alt.confidence);
        assert!(alt.confidence <= 0.75 && alt.band != "high");
        assert!(
            alt.reason.contains("alternative to description"),
            "{}",
            alt.reason
        );
        // Another record level is another assignment.
        let nested = get("variants[].description");
        assert!(!nested.reason.contains("alternative"), "{}", nested.reason);
    }
}

//! The name and value rules of the offline tiers. Each function recognises one family of
//! canonical fields; [`rules`] tries them in a fixed order and the first that answers wins, so
//! the order is part of the behaviour (a qualified name is a near miss before it is a name, a
//! price under `tax` is tax metadata before it is a price, …).

use tillbridge_domain::CanonicalField as F;

use super::entities::{brand_vendor, categories, hierarchy, names};
use super::field::Field;
use crate::flatten::{FieldProfile, ValueKind};
use crate::tokens::words;

/// What a rule decides: the canonical field fed (None: no counterpart), the confidence of
/// that decision in [0, 1], and the reason shown to reviewers.
pub(super) type Rule = (Option<&'static str>, f64, String);

pub(super) fn hit(target: F, confidence: f64, reason: impl Into<String>) -> Option<Rule> {
    Some((Some(target.as_str()), confidence, reason.into()))
}

pub(super) fn none(confidence: f64, reason: impl Into<String>) -> Option<Rule> {
    Some((None, confidence, reason.into()))
}

/// The first rule that recognises the field, in a fixed order; None when none does.
pub(super) fn rules(f: &Field<'_>, all: &[FieldProfile]) -> Option<Rule> {
    near_miss(f)
        .or_else(|| cannabis(f))
        .or_else(|| money(f))
        .or_else(|| price(f))
        .or_else(|| identifiers(f))
        .or_else(|| descriptions(f))
        .or_else(|| stock(f))
        .or_else(|| status(f))
        .or_else(|| images(f, all))
        .or_else(|| storefront(f))
        .or_else(|| brand_vendor(f))
        .or_else(|| tax(f, all))
        .or_else(|| modifiers(f))
        .or_else(|| units(f))
        .or_else(|| time(f))
        .or_else(|| categories(f))
        .or_else(|| hierarchy(f))
        .or_else(|| names(f))
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
                "default",
                "primary",
                "main",
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
/// Cannabis potency: THC and CBD, named in the field or in its parent object.
fn cannabis(f: &Field<'_>) -> Option<Rule> {
    if f.leaf_has(&["thc"]) || (f.parent_has(&["thc"]) && !f.leaf_has(&["unit", "type"])) {
        return hit(F::ThcPercent, 0.95, "name says THC");
    }
    if f.leaf_has(&["cbd"]) || (f.parent_has(&["cbd"]) && !f.leaf_has(&["unit", "type"])) {
        return hit(F::CbdPercent, 0.95, "name says CBD");
    }
    None
}

/// Money other than the selling price: the currency code and cost amounts.
fn money(f: &Field<'_>) -> Option<Rule> {
    let kind = f.kind();
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
    None
}

/// The selling price: the amount of a price object, or a price-named field with neutral
/// qualifiers only; any other price-related name is a setting, not the price.
fn price(f: &Field<'_>) -> Option<Rule> {
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
        const NEUTRAL: [&str; 33] = [
            "price",
            "sales",
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
    None
}

/// Identifiers of the thing itself: SKU and barcode (by name, or a GTIN-shaped `code`).
fn identifiers(f: &Field<'_>) -> Option<Rule> {
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
    // "Reference", "Internal Reference", "Reference #": the merchant's own code for the item.
    if f.leaf_has(&["reference", "ref"])
        && f.leaf.iter().all(|t| {
            ["reference", "ref", "internal", "product", "item", "default"].contains(&t.as_str())
        })
        && f.at_entity_level()
    {
        return hit(F::Sku, 0.85, "the merchant's reference code for the item");
    }
    None
}

/// Descriptions: plain, short, or an HTML/long text body.
fn descriptions(f: &Field<'_>) -> Option<Rule> {
    if f.leaf_has(&["description", "desc"]) && !f.leaf_has(&["short"]) {
        return hit(F::Description, 0.95, "name says description");
    }
    if f.leaf_has(&["short"]) && f.leaf_has(&["description"]) {
        return hit(F::Description, 0.85, "a short description");
    }
    if f.leaf_has(&["body"]) && (f.leaf_has(&["html"]) || f.profile.long_texts > 0) {
        return hit(F::Description, 0.85, "a long text body describing the item");
    }
    None
}

/// Stock on hand: a quantity-named number, or a count inside an inventory object.
fn stock(f: &Field<'_>) -> Option<Rule> {
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
    None
}

/// Whether the item can be sold: archived flags (inverted) and status/active fields at the
/// record's own level.
fn status(f: &Field<'_>) -> Option<Rule> {
    let kind = f.kind();
    if f.leaf_is(&["isarchived", "archived"]) {
        return hit(F::IsActive, 0.92, "archived is the inverse of active");
    }
    // The status word once fillers and the point-of-sale channel are set aside
    // ("is_visible", "product_online", "Available on POS", "Active (0/1)").
    const FILLER: [&str; 7] = ["is", "product", "item", "on", "in", "at", "pos"];
    const STATUS: [&str; 9] = [
        "sellable",
        "available",
        "active",
        "enabled",
        "published",
        "status",
        "state",
        "visible",
        "online",
    ];
    let core: Vec<&str> = f
        .leaf
        .iter()
        .map(String::as_str)
        .filter(|t| !FILLER.contains(t))
        .collect();
    if matches!(core.as_slice(), [w] if STATUS.contains(w)) && f.at_entity_level() {
        let c = if kind == ValueKind::Bool || f.profile.distinct.len() <= 5 {
            0.92
        } else {
            0.7
        };
        return hit(F::IsActive, c, "whether the item can be sold");
    }
    None
}

/// Images: an image reference (unless its URL is present too), or an image-named field.
fn images(f: &Field<'_>, all: &[FieldProfile]) -> Option<Rule> {
    let kind = f.kind();
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
        || (f.parent_has(&["image", "images", "photos", "media"]) && f.leaf_has(&["src", "url"]))
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
    None
}

/// The product's storefront page: a permalink, slug or product URL (WooCommerce
/// `permalink` / `slug`, BigCommerce `custom_url.url`), redirected by a migration into an
/// e-commerce destination.
fn storefront(f: &Field<'_>) -> Option<Rule> {
    if f.leaf_is(&["permalink", "slug", "producturl", "storefronturl", "seourl"])
        || (f.parent_has(&["custom"]) && f.leaf_is(&["url"]))
    {
        return hit(F::ProductUrl, 0.9, "the product's page in the old shop");
    }
    None
}

/// Tax: a rate, a reference to the tax applied (unless its rate is present too), lists of
/// tax references; anything else under tax is metadata.
fn tax(f: &Field<'_>, all: &[FieldProfile]) -> Option<Rule> {
    if f.leaf_has(&["tax", "taxes", "vat"]) || f.parent_has(&["tax", "taxes", "vat"]) {
        let rate_named =
            f.leaf_has(&["rate", "percent", "percentage", "pct"]) || f.leaf_is(&["tax", "vat"]);
        if f.leaf_has(&["vendor", "supplier", "purchase", "purchases"]) {
            return none(0.8, "tax on purchases, not on the item's sale");
        }
        if rate_named && f.numeric() && f.profile.kind() != ValueKind::Empty {
            return hit(F::TaxRatePercent, 0.94, "a tax rate");
        }
        if f.profile.percents > 0 && f.profile.distinct.len() <= 12 {
            return hit(F::TaxRatePercent, 0.85, "taxes given as percentages");
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
    None
}

/// Modifiers: references to modifier groups; anything else about modifiers is settings.
fn modifiers(f: &Field<'_>) -> Option<Rule> {
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
    None
}

/// Units of measure and weight.
fn units(f: &Field<'_>) -> Option<Rule> {
    if f.leaf_has(&["unit", "uom"])
        && !f.leaf_has(&["weight", "dimension", "length", "price", "cost"])
    {
        return hit(F::UnitOfMeasure, 0.9, "a unit of measure");
    }
    if f.leaf_has(&["weight"]) && !f.leaf_has(&["unit"]) && f.numeric() {
        return hit(F::Weight, 0.93, "a weight");
    }
    if f.leaf_has(&["grams", "gram"]) && f.numeric() {
        return hit(F::Weight, 0.85, "an amount in grams");
    }
    None
}

/// Creation and last-change times of the record itself.
fn time(f: &Field<'_>) -> Option<Rule> {
    let kind = f.kind();
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
    None
}
/// No rule matched. That is a confident "no counterpart" when the name is readable, but an
/// uncertain one when the name tells nothing (short codes, digits) or the values are of a
/// kind canonical fields take (numbers, barcodes, URLs): those go to the LLM tier when it is on.
pub(super) fn unmatched(f: &Field<'_>) -> Rule {
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

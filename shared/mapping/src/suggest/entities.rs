//! Name rules for the fields that say what the record is and where it belongs: its own id and
//! its parent's, its name and its variant's, its category, brand and vendor.

use tillbridge_domain::CanonicalField as F;

use super::field::Field;
use super::rules::{Rule, hit, none};
use crate::flatten::ValueKind;

/// Brand and vendor: their name or reference, in the field's name or its parent object.
pub(super) fn brand_vendor(f: &Field<'_>) -> Option<Rule> {
    let label_or_ref = |f: &Field<'_>| {
        f.leaf.iter().all(|t| {
            [
                "brand",
                "brands",
                "manufacturer",
                "vendor",
                "vendors",
                "supplier",
                "name",
                "id",
                "guid",
                "title",
                "default",
                "primary",
                "main",
            ]
            .contains(&t.as_str())
        })
    };
    if (f.leaf_has(&["brand", "brands", "manufacturer"]) && label_or_ref(f))
        || (f.parent_has(&["brand", "manufacturer"]) && f.leaf_is(&["name", "title"]))
    {
        return hit(F::Brand, 0.93, "the brand (its name or reference)");
    }
    if (f.leaf_has(&["vendor", "vendors", "supplier"]) && label_or_ref(f))
        || (f.parent_has(&["vendor", "supplier"]) && f.leaf_is(&["name", "title"]))
    {
        return hit(F::Vendor, 0.93, "the vendor (its name or reference)");
    }
    None
}

/// Categories: the category's name or reference; sub-categories and other category fields
/// are metadata.
pub(super) fn categories(f: &Field<'_>) -> Option<Rule> {
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
    None
}

/// Ids: the parent a variant belongs to (or its group), then the record's own id.
pub(super) fn hierarchy(f: &Field<'_>) -> Option<Rule> {
    if f.leaf_is(&["parent", "handle"]) && f.at_entity_level() {
        // A key several rows share is the product the rows are variants of.
        let repeats = f.profile.distinct.len() < f.profile.present.saturating_sub(f.profile.nulls);
        return if repeats || f.leaf_is(&["parent"]) {
            hit(
                F::ParentId,
                0.85,
                "a key shared by the variant rows of one product",
            )
        } else {
            hit(F::ExternalId, 0.8, "a unique key of the record")
        };
    }
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
        "token",
        "variationid",
        "variantid",
    ]) && f.at_entity_level()
    {
        return hit(F::ExternalId, 0.95, "the record's own id");
    }
    None
}

/// Names: the item's name at the record level, a variant's name inside variants or options.
pub(super) fn names(f: &Field<'_>) -> Option<Rule> {
    // Option columns: "Option1 Value", "Attribute 1 value(s)", "variant_option_one_value" name
    // the variant; the option's own name ("Size") does not.
    if f.leaf_has(&["option", "attribute"]) {
        if f.leaf_has(&["value", "values"])
            && !f.leaf_has(&["id", "ids", "guid"])
            && f.profile.kind() != ValueKind::Bool
        {
            return hit(F::VariantName, 0.9, "an option value naming the variant");
        }
        if f.leaf.last().is_some_and(|t| t == "name") {
            return none(0.85, "the option's name (Size, Color), not the variant's");
        }
    }
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

//! General evidence applied after the name rules: qualifier words that make a field an
//! attribute of a value (alt text, sort position, alert level) or a secondary copy of it (SEO
//! description, compare-at price, thumbnail), a unit column next to the value it measures,
//! yes/no switches, and value shapes that support or veto the rule's target.

use tillbridge_domain::CanonicalField as F;

use super::field::Field;
use super::rules::Rule;
use crate::flatten::{FieldProfile, ValueKind};
use crate::tokens::words;

/// Words that make a field describe or control a value rather than hold it: alt text,
/// positions, alert levels, switches, dates of a price, shipping amounts.
const ATTRIBUTE: [&str; 44] = [
    "alt",
    "position",
    "sort",
    "ordinal",
    "label",
    "labels",
    "caption",
    "warning",
    "alert",
    "threshold",
    "notify",
    "notification",
    "low",
    "min",
    "minimum",
    "max",
    "maximum",
    "below",
    "decimal",
    "manage",
    "tracking",
    "track",
    "tracker",
    "policy",
    "config",
    "reorder",
    "restock",
    "email",
    "when",
    "starts",
    "ends",
    "from",
    "to",
    "shipping",
    "handling",
    "freight",
    "delivery",
    "keywords",
    "tags",
    "limit",
    "expiry",
    "use",
    "backorder",
    "backorders",
];

/// Words that make a field a secondary copy of a value another field holds: search-engine and
/// social copies, short or alternate texts, extra images, second prices, other stock figures.
const SECONDARY: [&str; 44] = [
    "seo",
    "meta",
    "og",
    "open",
    "graph",
    "social",
    "short",
    "summary",
    "subtitle",
    "alternate",
    "alternative",
    "alias",
    "abbreviation",
    "online",
    "web",
    "small",
    "thumbnail",
    "thumb",
    "swatch",
    "zoom",
    "additional",
    "gallery",
    "extra",
    "secondary",
    "old",
    "previous",
    "former",
    "compare",
    "compared",
    "retail",
    "recommended",
    "msrp",
    "rrp",
    "suggested",
    "sale",
    "special",
    "promo",
    "member",
    "med",
    "medical",
    "purchase",
    "forecast",
    "forecasted",
    "calculated",
];

/// More secondary words: other stock figures and averaged or market-specific amounts.
const SECONDARY_MORE: [&str; 7] = [
    "new",
    "incoming",
    "reserved",
    "committed",
    "avg",
    "average",
    "international",
];

const IMAGE: [&str; 6] = ["image", "images", "photo", "photos", "media", "picture"];

/// The rule's answer checked against the general evidence. A vetoed target becomes "no
/// counterpart"; a secondary one keeps its target at a lower confidence (it still feeds the
/// field when nothing stronger claims it; see the assignment step).
pub(super) fn refine(f: &Field<'_>, all: &[FieldProfile], rule: Rule) -> Rule {
    let Some(target) = rule.0 else {
        return rule;
    };
    if let Some(why) = attribute(f, target).or_else(|| unit_of_neighbour(f, all)) {
        return (None, 0.85, why);
    }
    if let Some(why) = value_veto(f, target) {
        return (None, 0.8, why);
    }
    let (_, mut confidence, mut reason) = rule;
    if f.kind() == ValueKind::Empty {
        // Nothing in the sample confirms the name; a populated field claiming the same target
        // is stronger evidence.
        confidence = confidence.min(0.7);
        reason = format!("{reason} (no values in the sample to confirm it)");
    }
    match secondary(f, target) {
        Some(word) => (
            Some(target),
            confidence.min(0.72),
            format!("{reason}, but qualified as secondary ({word})"),
        ),
        None => (Some(target), confidence, reason),
    }
}

/// An attribute word in the name (other than the whole name: a field named just `label` is
/// the label), or a yes/no switch for anything but `is_active`.
fn attribute(f: &Field<'_>, target: &str) -> Option<String> {
    if f.flag_named && target != F::IsActive.as_str() {
        return Some(format!("a yes/no setting about the item, not its {target}"));
    }
    if f.parent_has(&IMAGE) && target != F::ImageUrl.as_str() {
        return Some(format!("describes an image, not the item's {target}"));
    }
    if f.leaf.len() < 2 {
        return None;
    }
    let word = f
        .leaf
        .iter()
        .map(String::as_str)
        .find(|t| ATTRIBUTE.contains(t))?;
    // Dates and shipping words only veto what they cannot be; "from"/"to" read as dates.
    let time_target = [F::CreatedAt.as_str(), F::UpdatedAt.as_str()].contains(&target);
    if time_target && ["starts", "ends", "from", "to"].contains(&word) {
        return None;
    }
    Some(format!("describes the {target} ({word}), does not hold it"))
}

/// A secondary word in the name; `unit` and `per` qualify a price only.
fn secondary(f: &Field<'_>, target: &str) -> Option<String> {
    let is_price = target == F::PriceMinor.as_str();
    f.qualifying_tokens()
        .find(|t| {
            SECONDARY.contains(t)
                || SECONDARY_MORE.contains(t)
                || (is_price && ["unit", "per"].contains(t))
        })
        .map(str::to_owned)
}

/// A unit column next to the value it measures ("THC Content Unit" beside "THC Content",
/// "Net Weight Unit" beside "Net Weight"): the unit of that value, not of the item's price.
fn unit_of_neighbour(f: &Field<'_>, all: &[FieldProfile]) -> Option<String> {
    const UNIT: [&str; 5] = ["unit", "uom", "measure", "of", "type"];
    let numeric = f.profile.share_of(ValueKind::Integer) + f.profile.share_of(ValueKind::Decimal);
    if !f.leaf.iter().any(|t| t == "unit" || t == "uom") || numeric >= 0.5 {
        return None;
    }
    let rest: Vec<&str> = f
        .leaf
        .iter()
        .map(String::as_str)
        .filter(|t| !UNIT.contains(t) && !SECONDARY.contains(t))
        .collect();
    if rest.is_empty() {
        return None;
    }
    let leaf_of = |p: &str| words(p.rsplit('.').next().unwrap_or(p));
    let neighbour = all.iter().find(|o| {
        let w = leaf_of(&o.path);
        o.path != f.profile.path
            && !w.iter().any(|t| t == "unit" || t == "uom")
            && rest.iter().all(|r| w.iter().any(|t| t == r))
    })?;
    Some(format!(
        "the unit of {}, not a value of its own",
        neighbour.path
    ))
}

/// Value shapes a target cannot take: yes/no values for amounts, texts or links; links or
/// dates for amounts; words for numbers; small integers for an image.
fn value_veto(f: &Field<'_>, target: &str) -> Option<String> {
    let kind = f.kind();
    if kind == ValueKind::Empty {
        return None;
    }
    let p = f.profile;
    let numeric = p.share_of(ValueKind::Integer) + p.share_of(ValueKind::Decimal) >= 0.8;
    let amount = [
        F::PriceMinor,
        F::CostMinor,
        F::QuantityOnHand,
        F::Weight,
        F::ThcPercent,
        F::CbdPercent,
    ]
    .iter()
    .any(|t| t.as_str() == target);
    let texty = [
        F::Name,
        F::Description,
        F::VariantName,
        F::Category,
        F::Brand,
        F::Vendor,
        F::ImageUrl,
        F::Sku,
    ]
    .iter()
    .any(|t| t.as_str() == target);
    let bad = match kind {
        ValueKind::Bool => amount || texty || target == F::Barcode.as_str(),
        ValueKind::Url | ValueKind::Timestamp => amount,
        ValueKind::Text => amount && !numeric && p.percents == 0,
        ValueKind::Integer => {
            target == F::ImageUrl.as_str() && !f.leaf_has(&["id", "ids", "guid"])
                || target == F::Description.as_str()
        }
        _ => false,
    };
    bad.then(|| format!("its values ({kind:?}) cannot be a {target}"))
}

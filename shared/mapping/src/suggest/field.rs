//! A source field as the rules see it: its path split into word tokens (the leaf segment and
//! its parents) next to its value profile.

use crate::flatten::{FieldProfile, ValueKind};
use crate::tokens::words;

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

pub(super) struct Field<'a> {
    pub(super) profile: &'a FieldProfile,
    /// Tokens of the last path segment.
    pub(super) leaf: Vec<String>,
    /// The last segment's tokens joined ("modifiedtime").
    pub(super) joined: String,
    /// Tokens of every other segment.
    pub(super) parents: Vec<Vec<String>>,
    pub(super) is_array_leaf: bool,
    /// The last segment reads as a yes/no question or switch ("In stock?", "Active (0/1)",
    /// `is_visible`).
    pub(super) flag_named: bool,
}

impl Field<'_> {
    pub(super) fn parent_has(&self, w: &[&str]) -> bool {
        self.parents
            .iter()
            .flatten()
            .any(|t| w.contains(&t.as_str()))
    }

    pub(super) fn leaf_has(&self, w: &[&str]) -> bool {
        self.leaf.iter().any(|t| w.contains(&t.as_str()))
    }

    pub(super) fn leaf_is(&self, w: &[&str]) -> bool {
        w.contains(&self.joined.as_str())
    }

    /// Every parent segment is a wrapper of the record or of a variant.
    pub(super) fn at_entity_level(&self) -> bool {
        self.parents
            .iter()
            .all(|seg| seg.iter().all(|t| ENTITY.contains(&t.as_str())))
    }

    pub(super) fn in_variant(&self) -> bool {
        self.parent_has(&VARIANT)
    }

    pub(super) fn numeric(&self) -> bool {
        let p = self.profile;
        p.share_of(ValueKind::Integer) + p.share_of(ValueKind::Decimal) >= 0.8
            || p.kind() == ValueKind::Empty
    }

    pub(super) fn kind(&self) -> ValueKind {
        self.profile.kind()
    }

    /// Tokens of the leaf and of every parent segment that is not a record wrapper.
    pub(super) fn qualifying_tokens(&self) -> impl Iterator<Item = &str> {
        self.parents
            .iter()
            .filter(|seg| !seg.iter().all(|t| ENTITY.contains(&t.as_str())))
            .flatten()
            .chain(self.leaf.iter())
            .map(String::as_str)
    }
}

/// Word tokens that carry meaning: numbering ("Option1", "Image 2") and one-letter
/// placeholders ("(x,y,z...)", "Weight (g)") are dropped.
fn meaningful(tokens: Vec<String>) -> Vec<String> {
    tokens
        .into_iter()
        .filter(|t| t.chars().count() > 1 && !t.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// A yes/no question or switch: a trailing `?`, a `(0/1)`-style hint, or a leading
/// is/has/can/allow/show word.
fn flag_named(last: &str, raw: &[String]) -> bool {
    let compact: String = last.chars().filter(|c| !c.is_whitespace()).collect();
    last.trim_end().ends_with('?')
        || compact.contains("(0/1)")
        || compact.contains("0=No")
        || raw
            .first()
            .is_some_and(|t| ["is", "has", "can", "allow", "show"].contains(&t.as_str()))
}

pub(super) fn field(p: &FieldProfile) -> Field<'_> {
    let segs: Vec<&str> = p.path.split('.').collect();
    let (last, rest) = segs.split_last().map_or(("", &[][..]), |(l, r)| (*l, r));
    let raw = words(last);
    let flag = flag_named(last, &raw);
    let leaf = meaningful(raw);
    Field {
        profile: p,
        joined: leaf.concat(),
        leaf,
        parents: rest.iter().map(|s| meaningful(words(s))).collect(),
        is_array_leaf: last.ends_with("[]"),
        flag_named: flag,
    }
}

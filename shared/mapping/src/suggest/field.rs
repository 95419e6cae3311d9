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
}

pub(super) fn field(p: &FieldProfile) -> Field<'_> {
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

//! Modifier groups: the canonical model's extension for choices sold with an item
//! ("Milk: oat +0.50, almond +0.60; choose 0 to 1").

use serde::{Deserialize, Serialize};

/// A group of options sold with an item, one JSONL line
/// `{"kind": "modifier_group", "id": …, "options": […]}`; items refer to it by `id` in
/// their `modifier_group_ids`. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierGroup {
    /// Always "modifier_group" on a JSONL line.
    pub kind: String,
    /// The group's id, unique in the batch; what items list in `modifier_group_ids`.
    pub id: String,
    /// Display name ("Milk"), if any.
    #[serde(default)]
    pub name: Option<String>,
    /// Fewest options a customer must choose (0 = optional); default 0.
    #[serde(default)]
    pub min_selections: u32,
    /// Most options a customer may choose; `None` = no limit.
    #[serde(default)]
    pub max_selections: Option<u32>,
    /// The choices, in display order; option ids must be unique within the group.
    #[serde(default)]
    pub options: Vec<ModifierOption>,
}

/// One choice of a [`ModifierGroup`] ("oat milk, +0.50"). Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierOption {
    /// The option's id, unique within its group.
    pub id: String,
    /// Display name ("Oat"), if any.
    #[serde(default)]
    pub name: Option<String>,
    /// Added to the item's price, in minor units (may be negative for "no cheese").
    #[serde(default)]
    pub price_delta_minor: i64,
}

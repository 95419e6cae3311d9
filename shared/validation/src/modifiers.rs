//! Modifier groups: the canonical model's extension for choices sold with an item
//! ("Milk: oat +0.50, almond +0.60; choose 0 to 1").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierGroup {
    /// Always "modifier_group" on a JSONL line.
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub min_selections: u32,
    #[serde(default)]
    pub max_selections: Option<u32>,
    #[serde(default)]
    pub options: Vec<ModifierOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierOption {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Added to the item's price, in minor units (may be negative for "no cheese").
    #[serde(default)]
    pub price_delta_minor: i64,
}

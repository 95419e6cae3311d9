//! Modifier rules (`modifier.*`): each group adds up on its own, and every group an item
//! refers to exists and does not price the item below zero or out of proportion.

use super::{Validator, clip};
use crate::finding::Severity;
use crate::modifiers::ModifierGroup;
use crate::rule::Rule;

impl Validator {
    pub(super) fn push_group(&mut self, line: usize, g: ModifierGroup) {
        let id = g.id.clone();
        if self.modifier_groups.contains_key(&id) {
            self.add(
                line,
                &id,
                Rule::ModifierDuplicateGroup,
                Severity::Error,
                format!("modifier group {} is defined twice", clip(&id)),
                None,
            );
            return;
        }
        let n = g.options.len();
        if n == 0 {
            self.add(
                line,
                &id,
                Rule::ModifierNoOptions,
                Severity::Error,
                format!("modifier group {} has no options to choose from", clip(&id)),
                None,
            );
        }
        if let Some(max) = g.max_selections {
            if g.min_selections > max {
                let msg = format!(
                    "modifier group {} requires at least {} but allows at most {max} choices",
                    clip(&id),
                    g.min_selections
                );
                self.add(
                    line,
                    &id,
                    Rule::ModifierMinGtMax,
                    Severity::Error,
                    msg,
                    Some(max.to_string()),
                );
            }
            if max as usize > n && n > 0 {
                let msg = format!(
                    "modifier group {} allows {max} choices but has only {n} options",
                    clip(&id)
                );
                self.add(
                    line,
                    &id,
                    Rule::ModifierMaxExceedsOptions,
                    Severity::Warning,
                    msg,
                    Some(n.to_string()),
                );
            }
        }
        if g.min_selections as usize > n && n > 0 {
            let msg = format!(
                "modifier group {} requires {} choices but has only {n} options; no one can order it",
                clip(&id),
                g.min_selections
            );
            self.add(
                line,
                &id,
                Rule::ModifierMinUnreachable,
                Severity::Error,
                msg,
                Some(n.to_string()),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for o in &g.options {
            if !seen.insert(o.id.as_str()) {
                self.add(
                    line,
                    &id,
                    Rule::ModifierDuplicateOption,
                    Severity::Error,
                    format!(
                        "modifier group {} lists option {} twice",
                        clip(&id),
                        clip(&o.id)
                    ),
                    None,
                );
            }
        }
        let deltas = g.options.iter().map(|o| o.price_delta_minor).collect();
        self.modifier_groups.insert(id, (line, deltas));
    }

    /// Every item's modifier-group references against the groups of the whole batch: the
    /// group must exist, and no option may take more off than the item costs or cost more
    /// than ten times the item.
    pub(super) fn check_references(&mut self) {
        let references = std::mem::take(&mut self.references);
        for (line, item, group, price) in references {
            match self.modifier_groups.get(&group) {
                None => self.add(
                    line,
                    &item,
                    Rule::ModifierUnknownGroup,
                    Severity::Error,
                    format!(
                        "item refers to modifier group {} which is not defined",
                        clip(&group)
                    ),
                    None,
                ),
                Some((_, deltas)) => {
                    if let Some(p) = price.filter(|p| *p > 0) {
                        if deltas.iter().any(|d| *d < 0 && d.saturating_abs() > p) {
                            let msg = format!(
                                "an option of modifier group {} takes off more than the item's price",
                                clip(&group)
                            );
                            self.add(
                                line,
                                &item,
                                Rule::ModifierPriceDelta,
                                Severity::Error,
                                msg,
                                None,
                            );
                        } else if deltas.iter().any(|d| *d > p.saturating_mul(10)) {
                            let msg = format!(
                                "an option of modifier group {} costs more than ten times the item; check its units",
                                clip(&group)
                            );
                            self.add(
                                line,
                                &item,
                                Rule::ModifierPriceDelta,
                                Severity::Warning,
                                msg,
                                None,
                            );
                        }
                    }
                }
            }
        }
    }
}

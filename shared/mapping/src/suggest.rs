//! The offline tiers: name evidence (tokens, lexicon, parent context) checked against value
//! evidence, one suggestion (or an explicit "no counterpart") per source field.

mod entities;
mod evidence;
mod field;
mod rules;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::flatten::FieldProfile;
use field::field;
use rules::{rules, unmatched};

/// The mapping suggested for one source field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The source field's path, as produced by [`profile_json`](crate::profile_json) or
    /// [`profile_csv`](crate::profile_csv).
    pub source: String,
    /// The canonical field it feeds (`snake_case` name, as in the canonical item), or None
    /// when it has no canonical counterpart.
    pub target: Option<&'static str>,
    /// How sure the suggestion is, in [0, 1] (rounded to two decimals by the offline tiers).
    /// With no target it is the confidence that the field has no counterpart.
    pub confidence: f64,
    /// `confidence` in bands (see [`Band`]).
    pub band: Band,
    /// Why: the evidence the suggestion rests on, for reviewers.
    pub reason: String,
    /// How the values convert (for suggestions with a target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<crate::convert::Conversion>,
    /// With no target: the canonical field this one would feed, held by another source field
    /// with stronger evidence (named in `reason`), for a reviewer who wants it instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<&'static str>,
}

/// A suggestion's confidence in bands; serialised in lower case (`"high"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// A target with confidence above 0.9: expected to be right as suggested.
    High,
    /// A target with confidence from 0.7 to 0.9 (inclusive): likely, worth a look.
    Medium,
    /// A target with confidence below 0.7: a guess for the reviewer to confirm or replace.
    Low,
    /// No target: the field has no suggested canonical counterpart, whatever the confidence.
    None,
}

impl Band {
    /// The band's name as serialised: `"high"`, `"medium"`, `"low"` or `"none"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
            Band::None => "none",
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The band of a suggestion: [`Band::None`] without a target; otherwise high above 0.9,
/// medium from 0.7 to 0.9, low below 0.7.
pub fn band(target: Option<&str>, confidence: f64) -> Band {
    match target {
        None => Band::None,
        Some(_) if confidence > 0.9 => Band::High,
        Some(_) if confidence >= 0.7 => Band::Medium,
        Some(_) => Band::Low,
    }
}

/// One suggestion per field, in the input's order. A canonical field is fed by one source
/// field per record level, the one with the strongest evidence (the earlier on a tie); every
/// other claimant gets no target, its claim kept in [`Suggestion::candidate`] and the holder
/// named in the reason. `modifier_group_ids` takes every claimant.
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
/// (an SEO copy of the description, a compare-at price, a second stock figure) lose the
/// target, since a reviewer reads every non-null target as a suggestion, and keep it as
/// their candidate.
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
            "{winner} feeds {t} with stronger evidence; this field is its candidate only ({})",
            s.reason
        );
        s.candidate = s.target.take();
        s.conversion = None;
        s.confidence = (1.0 - s.confidence).clamp(0.5, 0.8);
        s.band = band(None, s.confidence);
    }
}

fn per_field(fields: &[FieldProfile]) -> Vec<Suggestion> {
    fields
        .iter()
        .map(|p| {
            let f = field(p);
            let (target, confidence, reason) = rules(&f, fields)
                .map(|r| evidence::refine(&f, fields, r))
                .unwrap_or_else(|| unmatched(&f));
            let confidence = (confidence * 100.0).round() / 100.0;
            let conversion = target.map(|t| crate::convert::detect(t, p));
            let reason = match target {
                Some("price_minor" | "cost_minor") => match crate::convert::integer_units(p) {
                    Some((_, evidence)) => format!("{reason}; {evidence}"),
                    None => reason,
                },
                _ => reason,
            };
            Suggestion {
                source: p.path.clone(),
                target,
                confidence,
                band: band(target, confidence),
                reason,
                conversion,
                candidate: None,
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
    fn one_holder_per_target_and_level_the_rest_are_candidates() {
        let fields = profile_json(&[json!({
            "description": "Oat milk latte",
            "seo_description": "Buy an oat milk latte online",
            "variants": [{"description": "Large"}],
        })]);
        let s = suggest(&fields);
        let get = |p: &str| s.iter().find(|x| x.source == p).unwrap();
        let (primary, alt) = (get("description"), get("seo_description"));
        assert_eq!(primary.target, Some("description"));
        assert_eq!(alt.target, None);
        assert_eq!(alt.candidate, Some("description"));
        assert_eq!(alt.band, Band::None);
        assert!(
            alt.reason.contains("description feeds description"),
            "{}",
            alt.reason
        );
        // Another record level is another assignment.
        let nested = get("variants[].description");
        assert_eq!(nested.target, Some("description"));
        assert!(nested.candidate.is_none(), "{}", nested.reason);
    }
}

//! Scoring suggestions against a truth file in the mapping-dev layout: top-1 per field;
//! precision over non-null predictions, recall over mappable fields, a null truth is right
//! only when left unmatched; lenient scoring also accepts `also_acceptable`; calibration is
//! the precision of predictions with confidence ≥ 0.9.

use serde::Serialize;
use serde_json::Value;

use crate::suggest::Suggestion;

/// Counts of one scoring run (one export, or several added together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Score {
    /// Fields in the truth file.
    pub fields: usize,
    /// Of those, fields given a target.
    pub predicted: usize,
    /// Of the predicted, those whose target is right.
    pub correct_predicted: usize,
    /// Fields whose truth has a target.
    pub mappable: usize,
    /// Of the mappable, those given the right target.
    pub correct_mappable: usize,
    /// Predicted fields with confidence ≥ 0.9.
    pub high: usize,
    /// Of those, the ones whose target is right.
    pub high_correct: usize,
}

impl Score {
    /// Adds another run's counts to these.
    pub fn add(&mut self, o: &Score) {
        self.fields += o.fields;
        self.predicted += o.predicted;
        self.correct_predicted += o.correct_predicted;
        self.mappable += o.mappable;
        self.correct_mappable += o.correct_mappable;
        self.high += o.high;
        self.high_correct += o.high_correct;
    }

    /// Correct predictions over predictions (0 when nothing was predicted).
    pub fn precision(&self) -> f64 {
        self.correct_predicted as f64 / self.predicted.max(1) as f64
    }

    /// Mappable fields given the right target over mappable fields (0 when none).
    pub fn recall(&self) -> f64 {
        self.correct_mappable as f64 / self.mappable.max(1) as f64
    }

    /// The harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Precision of the predictions with confidence ≥ 0.9 (0 when there are none).
    pub fn high_precision(&self) -> f64 {
        self.high_correct as f64 / self.high.max(1) as f64
    }
}

/// Scores suggestions against `truth.json`'s `fields` (path → `{"target": name | null,
/// "also_acceptable": [name…]}`); returns (strict, lenient, misses), a miss being
/// `"path: got X want Y"` for each field wrong by strict scoring.
pub fn score(suggestions: &[Suggestion], truth: &Value) -> (Score, Score, Vec<String>) {
    let fields = truth["fields"].as_object().cloned().unwrap_or_default();
    let (mut strict, mut lenient) = (Score::default(), Score::default());
    let mut misses = Vec::new();
    for (path, t) in &fields {
        let want = t["target"].as_str();
        let also: Vec<&str> = t["also_acceptable"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let s = suggestions.iter().find(|s| &s.source == path);
        let got = s.and_then(|s| s.target);
        let confidence = s.map_or(0.0, |s| s.confidence);
        let ok_strict = got == want;
        let ok_lenient = ok_strict || got.is_some_and(|g| also.contains(&g));
        for (score, ok) in [(&mut strict, ok_strict), (&mut lenient, ok_lenient)] {
            score.fields += 1;
            if got.is_some() {
                score.predicted += 1;
                score.correct_predicted += usize::from(ok);
                if confidence >= 0.9 {
                    score.high += 1;
                    score.high_correct += usize::from(ok);
                }
            }
            if want.is_some() {
                score.mappable += 1;
                score.correct_mappable += usize::from(ok);
            }
        }
        if !ok_strict {
            misses.push(format!(
                "{path}: got {} want {}",
                got.unwrap_or("-"),
                want.unwrap_or("-")
            ));
        }
    }
    (strict, lenient, misses)
}

/// One scored field: what was suggested, what the truth says, and whether it is right.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The source field's path.
    pub path: String,
    /// The suggested target (None: no counterpart).
    pub got: Option<String>,
    /// The truth's target (None: no counterpart).
    pub want: Option<String>,
    /// The suggestion's confidence (0 when the field got no suggestion at all).
    pub confidence: f64,
    /// Right by strict scoring (`got == want`).
    pub strict: bool,
    /// Right by lenient scoring (strict, or `got` is in `also_acceptable`).
    pub lenient: bool,
}

/// Every truth field scored one by one, in the truth's order (see [`score`] for the rules).
pub fn outcomes(suggestions: &[Suggestion], truth: &Value) -> Vec<Outcome> {
    let fields = truth["fields"].as_object().cloned().unwrap_or_default();
    fields
        .iter()
        .map(|(path, t)| {
            let want = t["target"].as_str();
            let also: Vec<&str> = t["also_acceptable"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let s = suggestions.iter().find(|s| &s.source == path);
            let got = s.and_then(|s| s.target);
            let strict = got == want;
            Outcome {
                path: path.clone(),
                got: got.map(str::to_owned),
                want: want.map(str::to_owned),
                confidence: s.map_or(0.0, |s| s.confidence),
                strict,
                lenient: strict || got.is_some_and(|g| also.contains(&g)),
            }
        })
        .collect()
}

/// One row of a reliability table: predictions (fields given a target) whose confidence
/// falls in `[low, high)` (the last bin includes 1.0), and how many were right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    /// Lower bound of the confidence range (inclusive).
    pub low: f64,
    /// Upper bound of the confidence range (exclusive, but 1.0 is included in the last bin).
    pub high: f64,
    /// Predictions in the range.
    pub predicted: usize,
    /// Of those, the ones right by strict scoring.
    pub correct: usize,
}

impl Bin {
    /// Correct over predicted (0 when the bin is empty).
    pub fn precision(&self) -> f64 {
        self.correct as f64 / self.predicted.max(1) as f64
    }
}

/// The reliability table of a set of outcomes: precision of the predictions per confidence
/// bin, bins bounded by `edges` (ascending, e.g. `[0.0, 0.5, 0.7, 0.9, 0.95, 1.0]`).
/// Outcomes without a target are not predictions and are left out.
pub fn reliability(outcomes: &[Outcome], edges: &[f64]) -> Vec<Bin> {
    let mut bins: Vec<Bin> = edges
        .windows(2)
        .map(|w| Bin {
            low: w[0],
            high: w[1],
            predicted: 0,
            correct: 0,
        })
        .collect();
    let last = bins.len().saturating_sub(1);
    for o in outcomes.iter().filter(|o| o.got.is_some()) {
        let found = bins
            .iter()
            .position(|b| o.confidence >= b.low && o.confidence < b.high);
        let at_top = bins.get(last).is_some_and(|b| o.confidence >= b.high);
        if let Some(i) = found.or(at_top.then_some(last)) {
            bins[i].predicted += 1;
            bins[i].correct += usize::from(o.strict);
        }
    }
    bins
}

/// The strict [`Score`] of a set of outcomes, with "high" meaning the high band
/// (confidence above 0.9, as [`band`](crate::band) draws it).
pub fn strict_score(outcomes: &[Outcome]) -> Score {
    let mut s = Score::default();
    for o in outcomes {
        s.fields += 1;
        if o.got.is_some() {
            s.predicted += 1;
            s.correct_predicted += usize::from(o.strict);
            if o.confidence > 0.9 {
                s.high += 1;
                s.high_correct += usize::from(o.strict);
            }
        }
        if o.want.is_some() {
            s.mappable += 1;
            s.correct_mappable += usize::from(o.strict);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(got: Option<&str>, want: Option<&str>, confidence: f64) -> Outcome {
        Outcome {
            path: "p".into(),
            got: got.map(str::to_owned),
            want: want.map(str::to_owned),
            confidence,
            strict: got == want,
            lenient: got == want,
        }
    }

    #[test]
    fn reliability_bins_predictions_only_and_keeps_one_in_the_last_bin() {
        let out = [
            o(Some("sku"), Some("sku"), 1.0),
            o(Some("name"), None, 0.95),
            o(None, Some("name"), 0.9),
            o(Some("sku"), Some("sku"), 0.6),
        ];
        let bins = reliability(&out, &[0.0, 0.7, 0.9, 1.0]);
        assert_eq!(
            bins.iter()
                .map(|b| (b.predicted, b.correct))
                .collect::<Vec<_>>(),
            [(1, 1), (0, 0), (2, 1)]
        );
        let s = strict_score(&out);
        assert_eq!(
            (
                s.predicted,
                s.correct_predicted,
                s.mappable,
                s.correct_mappable
            ),
            (3, 2, 3, 2)
        );
        assert_eq!((s.high, s.high_correct), (2, 1));
    }
}

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

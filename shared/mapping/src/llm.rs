//! The pure half of the LLM tier: which fields to ask about, the prompt (with customer PII
//! masked before anything leaves), strict parsing of the model's answer, and how its answer
//! combines with the offline tiers. The HTTP client lives in an adapter crate.

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::flatten::FieldProfile;
use crate::suggest::{Suggestion, band};

/// The canonical fields a source field can feed (every one, by name).
pub const TARGETS: [&str; tillbridge_domain::item::CANONICAL_FIELDS.len()] =
    tillbridge_domain::item::CANONICAL_FIELDS;

/// Suggestions below this confidence — everything under the high band, which is calibrated
/// to be right at least 95 % of the time on exports never seen — are sent to the model (and a
/// model answer below it escalates to the next model).
pub const ASK_BELOW: f64 = 0.9;

/// Samples per field in the prompt.
const SAMPLES: usize = 3;

/// Path words that mean the values describe a person (masked wholesale).
const PERSON: [&str; 16] = [
    "customer", "email", "phone", "mobile", "first", "last", "surname", "contact", "owner",
    "buyer", "employee", "cashier", "address", "street", "birth", "card",
];

/// Fields whose offline suggestion is uncertain enough to ask about: confidence below
/// [`ASK_BELOW`].
pub fn uncertain(suggestions: &[Suggestion]) -> Vec<&Suggestion> {
    suggestions
        .iter()
        .filter(|s| s.confidence < ASK_BELOW)
        .collect()
}

/// A stable hash of the export's schema (sorted field paths): the cache key of model answers.
/// Hex-encoded SHA-256 of the paths, each followed by a NUL byte.
pub fn schema_hash(fields: &[FieldProfile]) -> String {
    let mut paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    let mut h = Sha256::new();
    for p in paths {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// Masks customer PII in one sample value: emails, phone numbers, card numbers; every value
/// of a field whose path names a person. Long values are cut.
pub fn mask(path: &str, value: &str) -> String {
    let words = crate::tokens::words(path);
    if words.iter().any(|w| PERSON.contains(&w.as_str())) {
        return "<redacted>".into();
    }
    let out = mask_text(value);
    if out.chars().count() > 40 {
        out.chars().take(40).collect::<String>() + "…"
    } else {
        out
    }
}

/// Masks emails, phone numbers and card numbers in free text (reports, logs), keeping the rest.
pub fn mask_text(value: &str) -> String {
    // Samples may arrive cut short, so any token with a local part and an '@' is an email.
    let emails: Vec<&str> = value
        .split(' ')
        .map(|t| {
            if t.find('@').is_some_and(|at| at > 0) {
                "<email>"
            } else {
                t
            }
        })
        .collect();
    mask_numbers(&emails.join(" "))
}

/// Replaces runs of phone-number characters holding a phone or a card number.
fn mask_numbers(s: &str) -> String {
    let is_num = |c: char| c.is_ascii_digit() || "+-(). ".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit() || c == '+' || c == '(') {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !is_num(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        let trimmed = run.trim_end_matches([' ', '.', '-']);
        let tail = &run[trimmed.len()..];
        let digits: Vec<u32> = trimmed.chars().filter_map(|c| c.to_digit(10)).collect();
        let separated = trimmed.chars().any(|c| !c.is_ascii_digit());
        if (13..=19).contains(&digits.len()) && luhn(&digits) && !gtin(&digits) {
            out.push_str("<card>");
        } else if separated && digits.len() >= 7 {
            out.push_str("<phone>");
        } else {
            out.push_str(trimmed);
        }
        out.push_str(tail);
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

fn luhn(d: &[u32]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn gtin(d: &[u32]) -> bool {
    if ![8, 12, 13, 14].contains(&d.len()) {
        return false;
    }
    let (body, check) = d.split_at(d.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| if i % 2 == 0 { x * 3 } else { x })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

/// One chat-completions request body asking about every uncertain field at once: the
/// system message lists the canonical fields and the JSON reply shape; the user message holds,
/// per field, its path, value kind, formats, share of nulls and up to three masked samples.
pub fn prompt(model: &str, fields: &[FieldProfile], ask: &[&Suggestion]) -> Value {
    let described: Vec<Value> = ask
        .iter()
        .filter_map(|s| fields.iter().find(|f| f.path == s.source))
        .map(|f| {
            let samples: Vec<String> = f
                .samples
                .iter()
                .take(SAMPLES)
                .map(|v| mask(&f.path, v))
                .collect();
            json!({
                "path": f.path,
                "kind": format!("{:?}", f.kind()),
                "formats": f.formats(),
                "null_ratio": f.nulls as f64 / f.present.max(1) as f64,
                "samples": samples,
            })
        })
        .collect();
    let system = format!(
        "You map fields of a point-of-sale export to canonical catalog fields. Canonical fields: {}. \
         Most export fields have no counterpart: answer null for them. Reply with JSON only: \
         {{\"mappings\":[{{\"path\":string,\"target\":string|null,\"confidence\":number,\"reason\":string}}]}} \
         with one entry per field asked.",
        TARGETS.join(", ")
    );
    json!({
        "model": model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": json!({"fields": described}).to_string()},
        ],
    })
}

/// One field's answer from the model, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The source field's path, one of those asked about.
    pub path: String,
    /// The canonical field the model chose (one of [`TARGETS`]), or None for no counterpart.
    pub target: Option<&'static str>,
    /// The model's confidence, in [0, 1].
    pub confidence: f64,
    /// The model's reason, cut to 200 characters.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    mappings: Vec<WireMapping>,
}

#[derive(Deserialize)]
struct WireMapping {
    path: String,
    target: Option<String>,
    confidence: f64,
    #[serde(default)]
    reason: String,
}

/// Parses the assistant message strictly: JSON (optionally in a ```json fence), only fields
/// that were asked, only canonical targets, confidences in [0, 1]. A target of `""` or
/// `"null"` means no counterpart.
///
/// # Errors
///
/// The content is not that JSON, or an entry names a field not asked about, a target that
/// is not a canonical field, or a confidence outside [0, 1].
pub fn parse(content: &str, asked: &[&Suggestion]) -> Result<Vec<Answer>, String> {
    let body = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let wire: Wire = serde_json::from_str(body)
        .map_err(|e| format!("model answer is not the JSON asked for: {e}"))?;
    let mut out = Vec::with_capacity(wire.mappings.len());
    for m in wire.mappings {
        if !asked.iter().any(|s| s.source == m.path) {
            return Err(format!(
                "model answered about a field not asked: {:?}",
                m.path
            ));
        }
        if !(0.0..=1.0).contains(&m.confidence) {
            return Err(format!("confidence out of range for {}", m.path));
        }
        let target = match m.target.as_deref() {
            None | Some("") | Some("null") => None,
            Some(t) => Some(
                TARGETS
                    .iter()
                    .copied()
                    .find(|c| *c == t)
                    .ok_or_else(|| format!("unknown canonical field {t:?} for {}", m.path))?,
            ),
        };
        let reason: String = m.reason.chars().take(200).collect();
        out.push(Answer {
            path: m.path,
            target,
            confidence: m.confidence,
            reason,
        });
    }
    Ok(out)
}

/// Combines the model's answers with the offline suggestions: where both agree the
/// confidence rises to the larger of the two plus 0.05 (at most 0.99); where the model is
/// surer it wins, with confidence capped at 0.95 (conversion re-detected from values);
/// otherwise the offline suggestion stays. Bands follow the new confidences; the model's
/// reason is added to the suggestion's, prefixed by `model`.
pub fn merge(
    suggestions: &mut [Suggestion],
    fields: &[FieldProfile],
    answers: &[Answer],
    model: &str,
) {
    for a in answers {
        let Some(s) = suggestions.iter_mut().find(|s| s.source == a.path) else {
            continue;
        };
        if a.target == s.target {
            s.confidence = (s.confidence.max(a.confidence) + 0.05).min(0.99);
            s.reason = format!("{}; {model} agrees: {}", s.reason, a.reason);
        } else if a.confidence > s.confidence {
            s.target = a.target;
            if s.target.is_some() {
                s.candidate = None;
            }
            s.confidence = a.confidence.min(0.95);
            s.reason = format!("{model}: {} (offline: {})", a.reason, s.reason);
            s.conversion = match (a.target, fields.iter().find(|f| f.path == a.path)) {
                (Some(t), Some(f)) => Some(crate::convert::detect(t, f)),
                _ => None,
            };
        } else {
            continue;
        }
        s.band = band(s.target, s.confidence);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{profile_json, suggest};

    fn export() -> Vec<FieldProfile> {
        profile_json(&[json!({
            "id": "A1B2C3D4",
            "title": "Blue Dream 3.5g",
            "customer_email": "jane.doe@example.com",
            "notes": "call +1 (415) 555-0134 or mail jane@example.com",
            "card": "4111 1111 1111 1111",
            "zx_val": "4111111111111111",
            "upc": "012345678905",
        })])
    }

    #[test]
    fn masks_pii_and_keeps_product_values() {
        assert_eq!(mask("customer_email", "jane.doe@example.com"), "<redacted>");
        assert_eq!(
            mask("notes", "call +1 (415) 555-0134 or mail jane@example.com"),
            "call <phone> or mail <email>"
        );
        assert_eq!(mask("zx_val", "4111111111111111"), "<card>");
        assert_eq!(mask("upc", "012345678905"), "012345678905");
        assert_eq!(mask("title", "Blue Dream 3.5g"), "Blue Dream 3.5g");
        assert_eq!(mask("title", "(é) + 日本 +"), "(é) + 日本 +");
    }

    #[test]
    fn prompt_never_contains_pii() {
        let fields = export();
        let offline = suggest(&fields);
        let all: Vec<&Suggestion> = offline.iter().collect();
        let body = prompt("m", &fields, &all).to_string();
        for secret in ["jane", "555-0134", "4111"] {
            assert!(!body.contains(secret), "{secret} leaked: {body}");
        }
        assert!(body.contains("Blue Dream"));
    }

    #[test]
    fn parse_is_strict() {
        let fields = export();
        let offline = suggest(&fields);
        let all: Vec<&Suggestion> = offline.iter().collect();
        let ok = parse(
            "```json\n{\"mappings\":[{\"path\":\"title\",\"target\":\"name\",\"confidence\":0.97,\"reason\":\"product title\"}]}\n```",
            &all,
        )
        .unwrap();
        assert_eq!(ok[0].target, Some("name"));
        assert!(
            parse(
                "{\"mappings\":[{\"path\":\"nope\",\"target\":null,\"confidence\":0.5}]}",
                &all
            )
            .is_err()
        );
        assert!(
            parse(
                "{\"mappings\":[{\"path\":\"title\",\"target\":\"colour\",\"confidence\":0.5}]}",
                &all
            )
            .is_err()
        );
        assert!(
            parse(
                "{\"mappings\":[{\"path\":\"title\",\"target\":\"name\",\"confidence\":7}]}",
                &all
            )
            .is_err()
        );
        assert!(parse("Sure! here you go", &all).is_err());
    }

    #[test]
    fn merge_agreement_raises_and_surer_model_wins() {
        let fields = export();
        let mut offline = suggest(&fields);
        let zx = offline.iter().position(|s| s.source == "zx_val").unwrap();
        offline[zx].target = None;
        offline[zx].confidence = 0.5;
        merge(
            &mut offline,
            &fields,
            &[Answer {
                path: "zx_val".into(),
                target: Some("barcode"),
                confidence: 0.85,
                reason: "r".into(),
            }],
            "m",
        );
        assert_eq!(offline[zx].target, Some("barcode"));
        assert_eq!(offline[zx].band.as_str(), "medium");
        assert!(offline[zx].conversion.is_some());
    }

    #[test]
    fn schema_hash_ignores_order() {
        let a = profile_json(&[json!({"a": 1, "b": 2})]);
        let b = profile_json(&[json!({"b": 2, "a": 1})]);
        assert_eq!(schema_hash(&a), schema_hash(&b));
        assert_ne!(
            schema_hash(&a),
            schema_hash(&profile_json(&[json!({"a": 1})]))
        );
    }
}

//! Price tables in LiteLLM's format, read exactly, versioned by effective date, with an
//! override layer for entries known to be wrong.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tillbridge_domain::Timestamp;
use tillbridge_domain::money::parse_decimal;

use crate::CostError;

/// USD per token for each token class. Missing cache rates fall back to the input rate:
/// a token is never priced at $0 because a field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPrice {
    /// USD per uncached input token (LiteLLM `input_cost_per_token`).
    pub input: Decimal,
    /// USD per output token (`output_cost_per_token`).
    pub output: Decimal,
    /// USD per cache-read input token (`cache_read_input_token_cost`), if the map has it.
    pub cache_read: Option<Decimal>,
    /// USD per cache-write input token (`cache_creation_input_token_cost`), if the map has it.
    pub cache_write: Option<Decimal>,
    /// The 1-hour cache write rate (informational; usage lines carry one write class).
    pub cache_write_1h: Option<Decimal>,
}

impl ModelPrice {
    /// USD per cache-read token: [`ModelPrice::cache_read`], else the input rate.
    pub fn cache_read_rate(&self) -> Decimal {
        self.cache_read.unwrap_or(self.input)
    }

    /// USD per cache-write token: [`ModelPrice::cache_write`], else the input rate.
    pub fn cache_write_rate(&self) -> Decimal {
        self.cache_write.unwrap_or(self.input)
    }
}

/// One price map: [`ModelPrice`] by model name, as read from one LiteLLM
/// `model_prices_and_context_window.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    models: HashMap<String, ModelPrice>,
}

const BUNDLED: &str = include_str!("../data/model_prices.json");

fn exact(raw: Option<&&RawValue>, model: &str, field: &str) -> Result<Option<Decimal>, CostError> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get().trim();
    if text == "null" {
        return Ok(None);
    }
    let text = text.trim_matches('"');
    let value = parse_decimal(text)
        .ok_or_else(|| CostError::PriceMap(format!("{model}.{field}: {text} is not a number")))?;
    if value.is_sign_negative() {
        return Err(CostError::PriceMap(format!("{model}.{field} is negative")));
    }
    Ok(Some(value))
}

impl PriceTable {
    /// The price map shipped with tillbridge.
    pub fn bundled() -> Self {
        Self::from_litellm_json(BUNDLED).unwrap_or_default()
    }

    /// Reads LiteLLM's format. Entries without input and output prices (embeddings, images,
    /// the `sample_spec` documentation entry) are skipped: they can't price a chat call.
    /// Prices are read from their JSON text (`3e-06` is exactly 0.000003).
    ///
    /// # Errors
    ///
    /// [`CostError::PriceMap`] when the text is not a JSON object of entries, or a price is
    /// not a number or is negative.
    pub fn from_litellm_json(text: &str) -> Result<Self, CostError> {
        let map: HashMap<String, HashMap<String, &RawValue>> = serde_json::from_str(text)
            .map_err(|e| CostError::PriceMap(format!("not a LiteLLM price map: {e}")))?;
        let mut models = HashMap::with_capacity(map.len());
        for (model, fields) in &map {
            let (Some(input), Some(output)) = (
                exact(
                    fields.get("input_cost_per_token"),
                    model,
                    "input_cost_per_token",
                )?,
                exact(
                    fields.get("output_cost_per_token"),
                    model,
                    "output_cost_per_token",
                )?,
            ) else {
                continue;
            };
            models.insert(
                model.clone(),
                ModelPrice {
                    input,
                    output,
                    cache_read: exact(
                        fields.get("cache_read_input_token_cost"),
                        model,
                        "cache_read_input_token_cost",
                    )?,
                    cache_write: exact(
                        fields.get("cache_creation_input_token_cost"),
                        model,
                        "cache_creation_input_token_cost",
                    )?,
                    cache_write_1h: exact(
                        fields.get("cache_creation_input_token_cost_above_1hr"),
                        model,
                        "cache_creation_input_token_cost_above_1hr",
                    )?,
                },
            );
        }
        Ok(Self { models })
    }

    /// Exact model name first, then without a `provider/` prefix.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.models
            .get(model)
            .or_else(|| model.split_once('/').and_then(|(_, m)| self.models.get(m)))
    }

    /// The name a model is reported under in grouped tables, so one model is one row however
    /// a client spelled it: provider prefixes (`openai/`, `anthropic/`, `openrouter/openai/`)
    /// removed, then a dated snapshot suffix (`-2024-07-18`, `-20241022`) removed when the
    /// price map knows the undated name. Pricing still uses the name as recorded (a dated
    /// snapshot may have its own price); this is for grouping and display only.
    pub fn canonical_name(&self, model: &str) -> String {
        let bare = model.rsplit('/').next().unwrap_or(model).trim();
        let bare = if bare.is_empty() { model } else { bare };
        match strip_date_suffix(bare) {
            Some(base) if self.models.contains_key(base) => base.to_owned(),
            _ => bare.to_owned(),
        }
    }

    /// Number of models priced.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// True when no model is priced.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// Prices `model` at `price`, replacing any earlier entry.
    pub fn set(&mut self, model: &str, price: ModelPrice) {
        self.models.insert(model.to_owned(), price);
    }
}

/// `name` without a trailing `-YYYY-MM-DD` or `-YYYYMMDD` (a dated snapshot), if it has one.
fn strip_date_suffix(name: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (base, last) = name.rsplit_once('-')?;
    if last.len() == 8 && digits(last) && last.starts_with("20") {
        return Some(base);
    }
    // -YYYY-MM-DD: three dash-separated parts of 4, 2 and 2 digits.
    let (rest, month) = base.rsplit_once('-')?;
    let (base, year) = rest.rsplit_once('-')?;
    (last.len() == 2 && month.len() == 2 && year.len() == 4)
        .then_some(())
        .filter(|()| digits(last) && digits(month) && digits(year) && year.starts_with("20"))
        .map(|()| base)
}

/// The price-map fields an [`Override`] can set.
pub const OVERRIDE_FIELDS: [&str; 5] = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
];

/// A correction applied on top of a price table from a date on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The model name exactly as in the price table.
    pub model: String,
    /// The LiteLLM field corrected (one of [`OVERRIDE_FIELDS`]): `input_cost_per_token`, `output_cost_per_token`,
    /// `cache_read_input_token_cost`, `cache_creation_input_token_cost` or
    /// `cache_creation_input_token_cost_above_1hr`; other names are ignored.
    pub field: String,
    /// The corrected USD per token as decimal text (`"0.0000016"`); text that is not a
    /// number leaves the price unchanged.
    pub value: String,
    /// From when the correction applies (earlier usage keeps the old price).
    pub effective_from: Timestamp,
    /// Why, with the vendor's published price, for the audit trail.
    pub reason: String,
}

/// Price tables by effective date, plus overrides. `price(model, at)` is the price in force
/// at `at`, so history stays priced as it was and a correction can be re-applied.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    versions: Vec<(Timestamp, PriceTable)>,
    overrides: Vec<Override>,
}

impl PriceBook {
    /// One table in force since the epoch, with the known corrections.
    pub fn single(table: PriceTable) -> Self {
        let mut book = Self {
            versions: vec![(Timestamp::UNIX_EPOCH, table)],
            overrides: Vec::new(),
        };
        book.overrides.extend(known_corrections());
        book
    }

    /// [`PriceBook::single`] of the bundled price map.
    pub fn bundled() -> Self {
        Self::single(PriceTable::bundled())
    }

    /// Adds a table in force from `from` (until a later one).
    pub fn add_version(&mut self, from: Timestamp, table: PriceTable) {
        self.versions.push((from, table));
        self.versions.sort_by_key(|(t, _)| *t);
    }

    /// [`PriceTable::canonical_name`] by the newest version.
    pub fn canonical_name(&self, model: &str) -> String {
        match self.versions.last() {
            Some((_, table)) => table.canonical_name(model),
            None => PriceTable::default().canonical_name(model),
        }
    }

    /// Whether the newest version prices `model`.
    pub fn knows(&self, model: &str) -> bool {
        self.versions
            .last()
            .is_some_and(|(_, table)| table.get(model).is_some())
    }

    /// The overrides in force, in the order they were added.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Adds a correction; it applies to prices asked for at or after its `effective_from`.
    pub fn add_override(&mut self, o: Override) {
        self.overrides.push(o);
    }

    /// Index of the version in force at `at`.
    pub fn version_at(&self, at: Timestamp) -> Option<usize> {
        self.versions.iter().rposition(|(from, _)| *from <= at)
    }

    /// Every instant where some price changes (version starts, override dates), sorted:
    /// between two of them every model's price is constant.
    pub fn change_points(&self) -> Vec<Timestamp> {
        let mut points: Vec<Timestamp> = self
            .versions
            .iter()
            .map(|(t, _)| *t)
            .chain(self.overrides.iter().map(|o| o.effective_from))
            .collect();
        points.sort();
        points.dedup();
        points
    }

    /// The price of `model` in version `version`, overrides effective at `at` applied.
    pub fn price(&self, version: usize, model: &str, at: Timestamp) -> Option<ModelPrice> {
        let mut p = *self.versions.get(version)?.1.get(model)?;
        for o in self
            .overrides
            .iter()
            .filter(|o| o.model == model && o.effective_from <= at)
        {
            let Some(v) = parse_decimal(&o.value) else {
                continue;
            };
            match o.field.as_str() {
                "input_cost_per_token" => p.input = v,
                "output_cost_per_token" => p.output = v,
                "cache_read_input_token_cost" => p.cache_read = Some(v),
                "cache_creation_input_token_cost" => p.cache_write = Some(v),
                "cache_creation_input_token_cost_above_1hr" => p.cache_write_1h = Some(v),
                _ => {}
            }
        }
        Some(p)
    }
}

/// Entries of the bundled map known to be wrong (see data/SOURCE.md).
pub fn known_corrections() -> Vec<Override> {
    vec![Override {
        model: "claude-3-5-haiku-20241022".into(),
        field: "cache_creation_input_token_cost_above_1hr".into(),
        value: "0.0000016".into(),
        effective_from: Timestamp::UNIX_EPOCH,
        reason: "Anthropic prices Claude 3.5 Haiku 1-hour cache writes at 2x input ($1.60/MTok); the map says $6/MTok".into(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prices_exactly_as_written() {
        let t = PriceTable::from_litellm_json(r#"{"m":{"input_cost_per_token":3e-06,"output_cost_per_token":1.5e-05,"cache_read_input_token_cost":3e-07,"mode":"chat"},"embed":{"input_cost_per_token":1e-07,"mode":"embedding"}}"#)
            .unwrap_or_default();
        let p = t.get("m").copied();
        assert_eq!(p.map(|p| p.input.to_string()), Some("0.000003".into()));
        assert_eq!(p.map(|p| p.output.to_string()), Some("0.000015".into()));
        assert_eq!(
            p.map(|p| p.cache_write_rate().to_string()),
            Some("0.000003".into()),
            "missing write rate falls back to input"
        );
        assert!(t.get("embed").is_none());
        assert!(t.get("openai/m").is_some());
    }

    #[test]
    fn bundled_table_loads_and_corrections_apply() {
        let book = PriceBook::bundled();
        let v = book.version_at(Timestamp::UNIX_EPOCH).unwrap_or(0);
        let haiku = book.price(v, "claude-3-5-haiku-20241022", Timestamp::UNIX_EPOCH);
        assert_eq!(
            haiku.and_then(|p| p.cache_write_1h).map(|d| d.to_string()),
            Some("0.0000016".into())
        );
        assert_eq!(haiku.map(|p| p.input.to_string()), Some("0.0000008".into()));
        assert!(PriceTable::bundled().len() > 100);
    }

    #[test]
    fn versions_apply_by_effective_date() {
        let mut book = PriceBook::single(
            PriceTable::from_litellm_json(
                r#"{"m":{"input_cost_per_token":1e-06,"output_cost_per_token":2e-06}}"#,
            )
            .unwrap_or_default(),
        );
        let later =
            Timestamp::parse_rfc3339("2026-06-01T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
        book.add_version(
            later,
            PriceTable::from_litellm_json(
                r#"{"m":{"input_cost_per_token":5e-07,"output_cost_per_token":2e-06}}"#,
            )
            .unwrap_or_default(),
        );
        let before = Timestamp::parse_rfc3339("2026-05-31T23:59:59Z").unwrap_or(later);
        let (v0, v1) = (
            book.version_at(before).unwrap_or(9),
            book.version_at(later).unwrap_or(9),
        );
        assert_eq!((v0, v1), (0, 1));
        assert_eq!(
            book.price(v1, "m", later).map(|p| p.input.to_string()),
            Some("0.0000005".into())
        );
    }

    #[test]
    fn model_names_are_normalised_for_grouping() {
        let t = PriceTable::bundled();
        for (raw, canonical) in [
            ("openai/gpt-4o-mini", "gpt-4o-mini"),
            ("gpt-4o-mini", "gpt-4o-mini"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("openrouter/openai/gpt-4o-2024-05-13", "gpt-4o"),
            (
                "anthropic/claude-3-5-sonnet-20241022",
                "claude-3-5-sonnet-20241022",
            ),
            ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
            ("unknown-model-2025-01-01", "unknown-model-2025-01-01"),
            ("my-model/", "my-model/"),
            ("-", "-"),
            ("2024-07-18", "2024-07-18"),
        ] {
            assert_eq!(t.canonical_name(raw), canonical, "{raw}");
        }
        assert_eq!(strip_date_suffix("x-20241022"), Some("x"));
        assert_eq!(strip_date_suffix("x-2024-10-22"), Some("x"));
        assert_eq!(strip_date_suffix("x-2024-1-22"), None);
        assert_eq!(strip_date_suffix("x-12345678"), None);
    }

    #[test]
    fn malformed_maps_are_errors() {
        assert!(PriceTable::from_litellm_json("[]").is_err());
        assert!(
            PriceTable::from_litellm_json(
                r#"{"m":{"input_cost_per_token":"abc","output_cost_per_token":1}}"#
            )
            .is_err()
        );
        assert!(
            PriceTable::from_litellm_json(
                r#"{"m":{"input_cost_per_token":-1,"output_cost_per_token":1}}"#
            )
            .is_err()
        );
    }
}

//! Mapping suggestions (offline tiers): which canonical field each source field of a vendor
//! export feeds, how sure we are, and why.
//!
//! Evidence per field: its name (tokenised path, a POS/e-commerce lexicon, the parent path's
//! context such as `variations[]`), and its values (ids, money, timestamps, booleans, URLs,
//! GTINs, currency codes). Most export fields have no canonical counterpart; saying so is a
//! decision with its own confidence.

#![warn(missing_docs)]

mod apply;
mod convert;
mod csv_read;
pub mod eval;
mod flatten;
pub mod llm;
mod multirow;
mod suggest;
mod tokens;

pub use apply::{Applied, ApplyContext, Streamed, apply, apply_owned, apply_with};
pub use convert::{Conversion, MappedField, detect, integer_units};
pub use csv_read::{CsvTable, Dialect, read_csv};
pub use flatten::{FieldProfile, JsonProfiler, ValueKind, csv_records, profile_csv, profile_json};
pub use multirow::{Grouping, complete_multi_row};
pub use suggest::{Band, Suggestion, band, suggest};

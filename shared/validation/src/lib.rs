//! Catalog validation: catch before anything is written the failures that are silent later —
//! dollars read as cents, lost prices, one product under two SKUs, modifier groups that no
//! longer add up — with messages a merchant understands and the fix where it is clear.
//!
//! [`Validator`] takes JSONL lines one at a time (canonical items, and modifier groups as
//! `{"kind": "modifier_group", …}` lines). Per-item rules run as lines arrive; duplicate
//! indexes keep one small entry per key; prices are kept as compact records so the pricing
//! rules can compare each item with robust statistics (median and MAD of log-price) of its
//! category once the whole batch is known. Nothing is ever a fixed price threshold.

#![warn(missing_docs)]

mod finding;
mod gtin;
mod modifiers;
mod price;
mod rule;
mod rules;
mod tax;

pub use finding::{Finding, Report, Severity, Summary};
pub use gtin::gtin_check_digit_ok;
pub use modifiers::{ModifierGroup, ModifierOption};
pub use rule::{Family, Rule};
pub use rules::{Options, Validator, validate_update};
pub use tax::allowed_vat_rates;

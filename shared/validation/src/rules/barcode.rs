//! Barcode rules (`barcode.*`), warnings only: a code that will not scan is worth fixing but
//! never keeps an item from being sold. Spreadsheets damage barcodes in two ways worth
//! naming: a long number shown in scientific notation ("7.31E+12", the digits after the
//! third are gone) and a number losing its leading zeros (UPC-A "036000291452" saved as
//! "36000291452"); where the original is recoverable the finding's fix gives it.

use tillbridge_domain::CatalogItem;

use super::{Validator, clip};
use crate::finding::Severity;
use crate::gtin::{gtin_check_digit_ok, looks_like_gtin, push_normalized_barcode};
use crate::rule::Rule;

/// GTIN lengths: EAN-8, UPC-A, EAN-13, GTIN-14.
const GTIN_LENGTHS: [usize; 4] = [8, 12, 13, 14];
/// All-digit codes shorter than this are store codes (PLUs), not meant as GTINs.
const SHORTEST_GTIN_LIKE: usize = 6;

/// "7.31E+12", "7,31E+12", "7.31e12": a number in scientific notation.
fn scientific(code: &str) -> bool {
    let Some((mantissa, exp)) = code.split_once(['e', 'E']) else {
        return false;
    };
    let exp = exp.strip_prefix('+').unwrap_or(exp);
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && !exp.is_empty()
        && exp.chars().all(|c| c.is_ascii_digit())
}

/// The code with the leading zeros a spreadsheet dropped, when exactly that makes a valid
/// GTIN (the shortest such length).
fn with_leading_zeros(code: &str) -> Option<String> {
    GTIN_LENGTHS
        .iter()
        .filter(|l| **l > code.len())
        .map(|l| format!("{}{code}", "0".repeat(l - code.len())))
        .find(|c| gtin_check_digit_ok(c))
}

impl Validator {
    /// `barcode.scientific_notation`, `barcode.leading_zero`, `barcode.length` and
    /// `barcode.check_digit`.
    pub(super) fn check_barcode(&mut self, line: usize, id: &str, item: &CatalogItem) {
        let Some(code) = item
            .barcode
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
        else {
            return;
        };
        let (rule, message, fix) = if scientific(code) {
            (
                Rule::BarcodeScientificNotation,
                format!(
                    "barcode {} is a number in scientific notation (a spreadsheet shortened it); its digits are lost and it will not scan: export the column as text",
                    clip(code)
                ),
                None,
            )
        } else if !code.chars().all(|c| c.is_ascii_digit()) || code.len() < SHORTEST_GTIN_LIKE {
            return;
        } else if looks_like_gtin(code) {
            if gtin_check_digit_ok(code) {
                return;
            }
            (
                Rule::BarcodeCheckDigit,
                format!("barcode {code} fails the GTIN check digit; it will not scan"),
                None,
            )
        } else if let Some(original) = with_leading_zeros(code) {
            (
                Rule::BarcodeLeadingZero,
                format!(
                    "barcode {code} has {} digits, no GTIN length; with its leading zero restored it is {original}, a valid GTIN (a spreadsheet dropped the zero)",
                    code.len()
                ),
                Some(original),
            )
        } else {
            (
                Rule::BarcodeLength,
                format!(
                    "barcode {} has {} digits; a GTIN has 8, 12, 13 or 14, so it will not scan as one",
                    clip(code),
                    code.len()
                ),
                None,
            )
        };
        self.add(line, id, rule, Severity::Warning, message, fix);
    }

    /// `barcode.duplicate`: the same code (GTINs compared across their lengths) on two
    /// items; a scan finds only one of them.
    pub(super) fn check_duplicate_barcode(
        &mut self,
        line: usize,
        id: &str,
        index: u32,
        item: &CatalogItem,
    ) {
        let Some(barcode) = item
            .barcode
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return;
        };
        let key = self.key(|k| push_normalized_barcode(barcode, k));
        if let Some((first, first_line)) = Self::seen(&mut self.barcodes, key, index, line) {
            let msg = format!(
                "barcode {} also scans as item {} (line {first_line}); a scan finds only one of them",
                clip(barcode),
                self.id_of(first)
            );
            self.add(
                line,
                id,
                Rule::BarcodeDuplicate,
                Severity::Warning,
                msg,
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_damage_is_recognised() {
        assert!(scientific("7.31E+12"));
        assert!(scientific("7,31E+12"));
        assert!(scientific("4.00638E12"));
        assert!(!scientific("ABC-E12"));
        assert!(!scientific("E12"));
        assert_eq!(
            with_leading_zeros("36000291452").as_deref(),
            Some("036000291452")
        );
        assert_eq!(with_leading_zeros("1234565").as_deref(), Some("01234565"));
        assert_eq!(with_leading_zeros("36000291453"), None);
    }
}

//! GTIN-8/12/13/14 (EAN/UPC) check digits.

/// True when `code` is all digits of a GTIN length and its check digit is right.
pub fn gtin_check_digit_ok(code: &str) -> bool {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != code.len() || ![8, 12, 13, 14].contains(&digits.len()) {
        return false;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

/// Whether a barcode looks like it is meant to be a GTIN (digits of a GTIN length).
pub fn looks_like_gtin(code: &str) -> bool {
    code.chars().all(|c| c.is_ascii_digit()) && [8, 12, 13, 14].contains(&code.len())
}

/// Appends the barcode normalized to `out`: GTINs compare equal across their lengths
/// (UPC-A 0123… is EAN-13 00123…).
pub fn push_normalized_barcode(code: &str, out: &mut String) {
    let trimmed = code.trim();
    if trimmed.chars().all(|c| c.is_ascii_digit()) && trimmed.len() <= 14 {
        out.extend(std::iter::repeat_n('0', 14 - trimmed.len()));
        out.push_str(trimmed);
    } else {
        out.extend(trimmed.chars().map(|c| c.to_ascii_uppercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits() {
        assert!(gtin_check_digit_ok("4006381333931")); // EAN-13
        assert!(gtin_check_digit_ok("036000291452")); // UPC-A
        assert!(gtin_check_digit_ok("96385074")); // EAN-8
        assert!(!gtin_check_digit_ok("4006381333932"));
        assert!(!gtin_check_digit_ok("40063813339"));
        assert!(!gtin_check_digit_ok("ABC"));
        let (mut a, mut b) = (String::new(), String::new());
        push_normalized_barcode("036000291452", &mut a);
        push_normalized_barcode("0036000291452", &mut b);
        assert_eq!(a, b);
    }
}

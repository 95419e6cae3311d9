//! Tax rates that make sense for a country (standard and reduced VAT rates, in percent).

use rust_decimal::Decimal;

/// The VAT rates a country uses, or None when it has no national VAT list here (the US
/// and Canada combine state/provincial rates; a range check applies instead).
pub fn allowed_vat_rates(country: &str) -> Option<Vec<Decimal>> {
    let rates: &[&str] = match country.to_ascii_uppercase().as_str() {
        "SE" => &["0", "6", "12", "25"],
        "NO" => &["0", "12", "15", "25"],
        "DK" => &["0", "25"],
        "FI" => &["0", "10", "14", "25.5"],
        "DE" => &["0", "7", "19"],
        "FR" => &["0", "2.1", "5.5", "10", "20"],
        "GB" | "UK" => &["0", "5", "20"],
        "NL" => &["0", "9", "21"],
        "ES" => &["0", "4", "10", "21"],
        "IT" => &["0", "4", "5", "10", "22"],
        "IE" => &["0", "4.8", "9", "13.5", "23"],
        "AU" => &["0", "10"],
        "NZ" => &["0", "15"],
        _ => return None,
    };
    Some(
        rates
            .iter()
            .filter_map(|r| tillbridge_domain::money::parse_decimal(r))
            .collect(),
    )
}

/// The widest plausible combined sales-tax rate where no VAT list applies.
pub fn max_plausible_rate(country: Option<&str>) -> Decimal {
    match country.map(str::to_ascii_uppercase).as_deref() {
        Some("US") => Decimal::new(115, 1),
        Some("CA") => Decimal::from(15),
        _ => Decimal::from(30),
    }
}

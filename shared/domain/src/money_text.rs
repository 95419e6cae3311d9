//! Money as people and spreadsheets write it: "12,50 €", "$1,299.00", "1.234,56",
//! "CHF 1'250.–", "(3.50)", "1 234,56 kr". Pure and exact: amounts end as integer minor units
//! through [`Currency::to_minor`], never through floating point.
//!
//! One value alone is often ambiguous ("1,250" is 1.25 or 1250), so the decimal mark is
//! decided per column ([`decide_mark`]) from every value, the currency's exponent and the
//! tenant's country, and the decision carries its evidence. A column whose values disagree,
//! or that nothing settles, is [`MarkDecision::Ambiguous`]: the caller reports it, never
//! guesses.

use crate::{Country, Currency, DomainError};

/// The character that separates the fraction from the whole part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMark {
    /// "12.50" (the other marks group thousands: "1,234.50").
    Point,
    /// "12,50" (the other marks group thousands: "1.234,50").
    Comma,
}

impl DecimalMark {
    fn char(self) -> char {
        match self {
            DecimalMark::Point => '.',
            DecimalMark::Comma => ',',
        }
    }

    /// "decimal point" or "decimal comma".
    pub fn name(self) -> &'static str {
        match self {
            DecimalMark::Point => "decimal point",
            DecimalMark::Comma => "decimal comma",
        }
    }

    /// The mark a country writes money with: a comma in most of continental Europe and
    /// South America, a point elsewhere (CLDR's `decimal` symbol for the country's main
    /// language).
    pub fn of_country(country: Country) -> DecimalMark {
        const COMMA: [&str; 52] = [
            "AD", "AL", "AM", "AO", "AR", "AT", "AZ", "BA", "BE", "BG", "BO", "BR", "BY", "CL",
            "CM", "CO", "CR", "CY", "CZ", "DE", "DK", "DZ", "EC", "EE", "ES", "FI", "FO", "FR",
            "GE", "GL", "GR", "HR", "HU", "ID", "IS", "IT", "KZ", "LT", "LU", "LV", "MD", "ME",
            "MK", "NL", "NO", "PL", "PT", "PY", "RO", "RS", "RU", "SE",
        ];
        const COMMA_MORE: [&str; 8] = ["SI", "SK", "TN", "TR", "UA", "UY", "VE", "VN"];
        let c = country.as_str();
        if COMMA.contains(&c) || COMMA_MORE.contains(&c) {
            DecimalMark::Comma
        } else {
            DecimalMark::Point
        }
    }
}

/// Characters that group thousands besides `.` and `,`: spaces (plain, no-break, narrow
/// no-break, thin) and apostrophes (Swiss "1'250").
const GROUPING: [char; 6] = [' ', '\u{a0}', '\u{202f}', '\u{2009}', '\'', '\u{2019}'];

/// Currency signs written before or after an amount, lower case, longest first (ISO codes
/// are recognised separately).
const SIGNS: [&str; 28] = [
    "us$", "nz$", "hk$", "r$", "c$", "a$", "fr.", "kr", "zł", "kč", "$", "€", "£", "¥", "₹", "₩",
    "₽", "₺", "₪", "₫", "฿", "₱", "₴", "₦", "₡", "₲", "₵", "₸",
];

/// An amount's text split into sign, number and currency affix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts<'a> {
    negative: bool,
    /// Digits and separators only.
    number: &'a str,
    /// An ISO code written beside the amount ("EUR"), upper-cased.
    code: Option<String>,
}

/// Splits off signs ("-12", "12-", "−12", "(12)"), currency signs and codes before or
/// after, and spaces; None when what is left is not digits and separators.
fn parts(text: &str) -> Option<Parts<'_>> {
    let mut t = text.trim();
    let mut negative = false;
    if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        negative = true;
        t = inner.trim();
    }
    let mut code = None;
    // Signs and currency affixes in any order: "-€12", "€-12", "12 €-", "EUR 12,50".
    for _ in 0..3 {
        let before = t;
        if let Some(rest) = t.strip_prefix(['-', '\u{2212}']) {
            negative = true;
            t = rest.trim_start();
        } else if let Some(rest) = t.strip_prefix('+') {
            t = rest.trim_start();
        }
        // "12.–" / "12,-": Swiss and German ways of writing no cents.
        for dash in [".–", ",–", ".-", ",-", ".—", ",—"] {
            if let Some(rest) = t.strip_suffix(dash) {
                t = rest;
            }
        }
        if let Some(rest) = t.strip_suffix(['-', '\u{2212}']) {
            negative = true;
            t = rest.trim_end();
        }
        t = strip_affix(t, &mut code)?;
        if t == before {
            break;
        }
    }
    let t = t.trim_matches(|c: char| GROUPING.contains(&c) && c != '\'');
    let ok = !t.is_empty()
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',' || GROUPING.contains(&c))
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && t.chars().last().is_some_and(|c| c.is_ascii_digit());
    ok.then_some(Parts {
        negative,
        number: t,
        code,
    })
}

/// Strips one currency sign or ISO code from either end of `t`.
fn strip_affix<'a>(t: &'a str, code: &mut Option<String>) -> Option<&'a str> {
    let lower = t.to_lowercase();
    for s in SIGNS {
        if lower.starts_with(s) && t.is_char_boundary(s.len()) {
            return Some(t[s.len()..].trim_start());
        }
        if lower.ends_with(s) && t.len() >= s.len() && t.is_char_boundary(t.len() - s.len()) {
            return Some(t[..t.len() - s.len()].trim_end());
        }
    }
    let letters = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic());
    if t.len() > 3 && t.is_char_boundary(3) && letters(&t[..3]) {
        let c = t[..3].to_ascii_uppercase();
        if Currency::parse(&c).is_ok() {
            *code = Some(c);
            return Some(t[3..].trim_start());
        }
        return None;
    }
    if t.len() > 3 && t.is_char_boundary(t.len() - 3) && letters(&t[t.len() - 3..]) {
        let c = t[t.len() - 3..].to_ascii_uppercase();
        if Currency::parse(&c).is_ok() {
            *code = Some(c);
            return Some(t[..t.len() - 3].trim_end());
        }
        return None;
    }
    Some(t)
}

/// What one value says about its column's decimal mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkHint {
    /// It reads only with a decimal point ("12.5", "1,234.00", "1.234.567" aside).
    Point,
    /// It reads only with a decimal comma ("12,50", "1.234,00").
    Comma,
    /// One separator followed by exactly three digits ("1,250", "2.500"): a fraction or a
    /// thousands group.
    Either,
    /// No separator that could be a decimal mark ("12", "1 250").
    Silent,
    /// Not an amount at all.
    NotMoney,
}

/// What `text` says about the decimal mark of its column.
pub fn hint(text: &str) -> MarkHint {
    let Some(p) = parts(text) else {
        return MarkHint::NotMoney;
    };
    let n = p.number;
    let (points, commas) = (n.matches('.').count(), n.matches(',').count());
    let last_mark = n.rfind(['.', ',']);
    match (points, commas) {
        (0, 0) => MarkHint::Silent,
        (_, _) if points > 0 && commas > 0 => {
            // The last one is the decimal mark, and it occurs once.
            match last_mark.map(|i| &n[i..i + 1]) {
                Some(".") if points == 1 => MarkHint::Point,
                Some(",") if commas == 1 => MarkHint::Comma,
                _ => MarkHint::NotMoney,
            }
        }
        (p, 0) if p > 1 => MarkHint::Comma,
        (0, c) if c > 1 => MarkHint::Point,
        _ => {
            let i = last_mark.unwrap_or(0);
            let (whole, fraction) = (&n[..i], &n[i + 1..]);
            let whole_digits: String = whole.chars().filter(char::is_ascii_digit).collect();
            let could_group = fraction.len() == 3
                && !whole_digits.is_empty()
                && !whole_digits.starts_with('0')
                && whole.chars().rev().take_while(char::is_ascii_digit).count() <= 3;
            match (could_group, n.as_bytes()[i]) {
                (true, _) => MarkHint::Either,
                (false, b'.') => MarkHint::Point,
                (false, _) => MarkHint::Comma,
            }
        }
    }
}

/// Whether `text` reads as an amount with some decimal mark.
pub fn looks_like_money(text: &str) -> bool {
    !matches!(hint(text), MarkHint::NotMoney)
        && [DecimalMark::Point, DecimalMark::Comma]
            .into_iter()
            .any(|m| plain_decimal(text, m).is_ok())
}

/// A column's decimal mark, decided from all its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkDecision {
    /// The values read with this mark; `evidence` says why, for the reviewer.
    Decided {
        /// The decimal mark.
        mark: DecimalMark,
        /// Why, with example values.
        evidence: String,
    },
    /// The values disagree or nothing settles it; `evidence` names the values.
    Ambiguous {
        /// What was seen.
        evidence: String,
    },
}

/// Decides the decimal mark of a money column from all its `values`, the tenant's
/// `currency` (an exponent below 3 means three digits after a separator are a thousands
/// group) and `country` (its convention).
pub fn decide_mark<'a>(
    values: impl IntoIterator<Item = &'a str>,
    currency: Currency,
    country: Option<Country>,
) -> MarkDecision {
    let (mut point, mut comma, mut either) = (Vec::new(), Vec::new(), Vec::new());
    for v in values {
        let bucket = match hint(v) {
            MarkHint::Point => &mut point,
            MarkHint::Comma => &mut comma,
            MarkHint::Either => &mut either,
            MarkHint::Silent | MarkHint::NotMoney => continue,
        };
        bucket.push(v.trim());
    }
    let show = |v: &[&str]| {
        let mut s: Vec<String> = v.iter().take(3).map(|x| format!("{x:?}")).collect();
        if v.len() > 3 {
            s.push(format!("and {} more", v.len() - 3));
        }
        s.join(", ")
    };
    match (point.is_empty(), comma.is_empty()) {
        (false, false) => {
            return MarkDecision::Ambiguous {
                evidence: format!(
                    "{} read only with a decimal point but {} only with a decimal comma",
                    show(&point),
                    show(&comma)
                ),
            };
        }
        (true, false) => {
            return MarkDecision::Decided {
                mark: DecimalMark::Comma,
                evidence: format!("{} read only with a decimal comma", show(&comma)),
            };
        }
        (false, true) => {
            return MarkDecision::Decided {
                mark: DecimalMark::Point,
                evidence: format!("{} read only with a decimal point", show(&point)),
            };
        }
        (true, true) => {}
    }
    if either.is_empty() {
        return MarkDecision::Decided {
            mark: country.map_or(DecimalMark::Point, DecimalMark::of_country),
            evidence: "no value has a decimal separator".into(),
        };
    }
    // Every separator is followed by three digits: a fraction only where the currency has
    // three decimals, a thousands group otherwise.
    let grouping_mark = |v: &str| {
        if v.contains(',') {
            DecimalMark::Point
        } else {
            DecimalMark::Comma
        }
    };
    let marks: Vec<DecimalMark> = either.iter().map(|v| grouping_mark(v)).collect();
    let all_same = marks.windows(2).all(|w| w[0] == w[1]);
    let convention = country.map(DecimalMark::of_country);
    if currency.exponent() < 3 && all_same {
        let mark = marks[0];
        if convention.is_none_or(|c| c == mark) {
            return MarkDecision::Decided {
                mark,
                evidence: format!(
                    "{} have three digits after the separator; {} has {} decimals, so it groups thousands",
                    show(&either),
                    currency.code(),
                    currency.exponent()
                ),
            };
        }
    }
    MarkDecision::Ambiguous {
        evidence: format!(
            "{} may be fractions or thousands ({}{})",
            show(&either),
            currency.code(),
            country.map_or(String::new(), |c| format!(", {c}"))
        ),
    }
}

/// The decimal text of an amount written with `mark` ("1.234,50" → "1234.50"; "-"
/// prefixed when negative), and the ISO code written beside it.
fn plain_decimal(text: &str, mark: DecimalMark) -> Result<(String, Option<String>), DomainError> {
    let bad = |why: &str| DomainError::invalid("amount", format!("{:?} {why}", text.trim()));
    let p = parts(text).ok_or_else(|| bad("is not an amount"))?;
    let m = mark.char();
    let (whole, fraction) = match p.number.rfind(m) {
        Some(i) if p.number.matches(m).count() == 1 => (&p.number[..i], &p.number[i + 1..]),
        Some(_) => return Err(bad(&format!("has more than one {}", mark.name()))),
        None => (p.number, ""),
    };
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad(&format!("does not read with a {}", mark.name())));
    }
    let groups: Vec<&str> = whole.split(|c: char| !c.is_ascii_digit()).collect();
    let separators: Vec<char> = whole.chars().filter(|c| !c.is_ascii_digit()).collect();
    if !separators.windows(2).all(|w| w[0] == w[1]) {
        return Err(bad("mixes thousands separators"));
    }
    if groups.len() > 1 && !grouped_right(&groups) {
        return Err(bad(&format!(
            "has separators that neither group thousands nor are a {}",
            mark.name()
        )));
    }
    let mut out = String::with_capacity(whole.len() + fraction.len() + 2);
    if p.negative {
        out.push('-');
    }
    out.push_str(&groups.concat());
    if out.is_empty() || out == "-" {
        out.push('0');
    }
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    Ok((out, p.code))
}

/// Thousands groups: a first group of 1–3 digits, then groups of 3 (or the Indian 2-digit
/// groups before a final group of 3: "1,23,456").
fn grouped_right(groups: &[&str]) -> bool {
    let (first, rest) = groups.split_first().unwrap_or((&"", &[]));
    let western = rest.iter().all(|g| g.len() == 3);
    let indian = rest.last().is_some_and(|g| g.len() == 3)
        && rest[..rest.len() - 1].iter().all(|g| g.len() == 2);
    (1..=3).contains(&first.len()) && (western || indian)
}

/// An amount as written (signs, currency sign or code before or after, thousands groups,
/// `mark` as the decimal mark) in minor units of `currency`, exactly.
///
/// # Errors
///
/// [`DomainError::Invalid`] when the text is not an amount with this mark, or names another
/// currency; [`DomainError::InexactAmount`] when it has more decimals than the currency.
pub fn parse_money(text: &str, mark: DecimalMark, currency: Currency) -> Result<i64, DomainError> {
    let (decimal, code) = plain_decimal(text, mark)?;
    if let Some(code) = code
        && code != currency.code()
    {
        return Err(DomainError::invalid(
            "amount",
            format!(
                "{:?} is in {code}; the store's currency is {}",
                text.trim(),
                currency.code()
            ),
        ));
    }
    currency.to_minor(&decimal)
}

#[cfg(test)]
#[path = "money_text/tests.rs"]
mod tests;

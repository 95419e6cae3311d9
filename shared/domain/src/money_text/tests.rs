use proptest::prelude::*;

use super::*;

fn cur(c: &str) -> Currency {
    Currency::parse(c).unwrap_or(Currency::USD)
}

fn country(c: &str) -> Option<Country> {
    Country::parse(c).ok()
}

#[test]
fn reads_every_common_way_of_writing_an_amount() {
    let eur = cur("EUR");
    let comma = [
        ("12,50", 1250),
        ("12,50 €", 1250),
        ("€ 12,50", 1250),
        ("1.234,56", 123_456),
        ("1 234,56", 123_456),
        ("1\u{a0}234,56 EUR", 123_456),
        ("1\u{202f}234,56", 123_456),
        ("EUR 3,75", 375),
        ("-12,50", -1250),
        ("12,50-", -1250),
        ("(12,50)", -1250),
        ("\u{2212}0,99 €", -99),
        ("12,-", 1200),
        ("7", 700),
        (",50", 50),
    ];
    for (text, minor) in comma {
        assert_eq!(
            parse_money(text, DecimalMark::Comma, eur),
            Ok(minor),
            "{text}"
        );
    }
    let point = [
        ("$1,299.00", 129_900),
        ("1,299", 129_900),
        ("USD 19.00", 1900),
        ("19.00 USD", 1900),
        ("-$3.50", -350),
        ("$-3.50", -350),
        ("1,23,456.50", 12_345_650),
        ("+4.5", 450),
    ];
    for (text, minor) in point {
        assert_eq!(
            parse_money(text, DecimalMark::Point, cur("USD")),
            Ok(minor),
            "{text}"
        );
    }
    assert_eq!(
        parse_money("CHF 1'250.–", DecimalMark::Point, cur("CHF")),
        Ok(125_000)
    );
    assert_eq!(
        parse_money("1’250.50", DecimalMark::Point, cur("CHF")),
        Ok(125_050)
    );
    assert_eq!(
        parse_money("1 250 kr", DecimalMark::Comma, cur("SEK")),
        Ok(125_000)
    );
    assert_eq!(
        parse_money("12,5 zł", DecimalMark::Comma, cur("PLN")),
        Ok(1250)
    );
    assert_eq!(
        parse_money("1.200", DecimalMark::Comma, cur("JPY")),
        Ok(1200)
    );
    assert_eq!(
        parse_money("1,234", DecimalMark::Comma, cur("KWD")),
        Ok(1234)
    );
}

#[test]
fn refuses_rather_than_guesses() {
    let eur = cur("EUR");
    for bad in [
        "",
        "abc",
        "12,50,10",
        "1.23.4",
        "1,2.3",
        "12 50,1 0",
        "12.5.0",
        "1.234 567,5",
    ] {
        assert!(
            parse_money(bad, DecimalMark::Comma, eur).is_err(),
            "{bad:?}"
        );
    }
    // A thousands group must have three digits.
    assert!(parse_money("1.23,50", DecimalMark::Comma, eur).is_err());
    // Another currency named beside the amount.
    let e = parse_money("$12.50", DecimalMark::Point, eur);
    assert!(e.is_ok(), "a bare $ is a sign of many currencies");
    let e = parse_money("USD 12.50", DecimalMark::Point, eur);
    assert!(matches!(e, Err(DomainError::Invalid { reason, .. }) if reason.contains("USD")));
    // More decimals than the currency has.
    assert!(matches!(
        parse_money("12,505", DecimalMark::Comma, eur),
        Err(DomainError::InexactAmount { .. })
    ));
}

#[test]
fn each_value_hints_at_its_mark() {
    assert_eq!(hint("12,50"), MarkHint::Comma);
    assert_eq!(hint("12.5"), MarkHint::Point);
    assert_eq!(hint("1.234,00"), MarkHint::Comma);
    assert_eq!(hint("1,234.00"), MarkHint::Point);
    assert_eq!(hint("1.234.567"), MarkHint::Comma);
    assert_eq!(hint("1,234,567"), MarkHint::Point);
    assert_eq!(hint("1,250"), MarkHint::Either);
    assert_eq!(hint("2.500 €"), MarkHint::Either);
    assert_eq!(hint("0,500"), MarkHint::Comma);
    assert_eq!(hint("1234,567"), MarkHint::Comma);
    assert_eq!(hint("1 250"), MarkHint::Silent);
    assert_eq!(hint("Mug"), MarkHint::NotMoney);
    assert!(looks_like_money("12,50 €"));
    assert!(!looks_like_money("12,50,10"));
}

#[test]
fn a_column_is_decided_from_all_its_values() {
    let eur = cur("EUR");
    let d = decide_mark(["12,50", "24,90", "3,75"], eur, None);
    assert!(
        matches!(d, MarkDecision::Decided { mark: DecimalMark::Comma, ref evidence } if evidence.contains("12,50"))
    );
    // One decisive value settles the ambiguous ones.
    let d = decide_mark(["1,250", "12,5", "7"], eur, None);
    assert!(matches!(
        d,
        MarkDecision::Decided {
            mark: DecimalMark::Comma,
            ..
        }
    ));
    let d = decide_mark(["1,250", "12.50"], cur("USD"), None);
    assert!(matches!(
        d,
        MarkDecision::Decided {
            mark: DecimalMark::Point,
            ..
        }
    ));
    // Values that disagree.
    let d = decide_mark(["12,50", "13.50"], eur, None);
    assert!(
        matches!(d, MarkDecision::Ambiguous { ref evidence } if evidence.contains("12,50") && evidence.contains("13.50"))
    );
    // Three digits after the separator: thousands for a two-decimal currency…
    let d = decide_mark(["1.250", "2.500"], eur, None);
    assert!(
        matches!(d, MarkDecision::Decided { mark: DecimalMark::Comma, ref evidence } if evidence.contains("EUR has 2 decimals"))
    );
    // … unless the country writes a decimal comma and the values would be its fractions.
    let d = decide_mark(["1,250", "2,500"], eur, country("DE"));
    assert!(matches!(d, MarkDecision::Ambiguous { .. }));
    // … and a fraction or a group alike for a three-decimal currency.
    let d = decide_mark(["1,250"], cur("KWD"), None);
    assert!(matches!(d, MarkDecision::Ambiguous { .. }));
    let d = decide_mark(["12", "7"], eur, country("DE"));
    assert!(matches!(
        d,
        MarkDecision::Decided {
            mark: DecimalMark::Comma,
            ..
        }
    ));
}

proptest! {
    #[test]
    fn never_panics(text in "\\PC{0,30}") {
        let _ = hint(&text);
        let _ = parse_money(&text, DecimalMark::Comma, Currency::USD);
        let _ = parse_money(&text, DecimalMark::Point, Currency::USD);
        let _ = decide_mark([text.as_str()], Currency::USD, None);
    }

    #[test]
    fn formatted_amounts_read_back(minor in -10_000_000_000_i64..10_000_000_000) {
        let eur = cur("EUR");
        let plain = eur.format_minor(minor);
        let (sign, digits) = plain.strip_prefix('-').map_or(("", plain.as_str()), |d| ("-", d));
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push('.');
            }
            grouped.push(c);
        }
        let de = format!("{sign}{grouped},{fraction} €");
        prop_assert_eq!(parse_money(&de, DecimalMark::Comma, eur), Ok(minor));
        let us = format!("{sign}€{},{fraction}", grouped).replace('.', ",");
        let us = match us.rfind(',') { Some(i) => format!("{}.{}", &us[..i], &us[i + 1..]), None => us };
        prop_assert_eq!(parse_money(&us, DecimalMark::Point, eur), Ok(minor));
    }
}

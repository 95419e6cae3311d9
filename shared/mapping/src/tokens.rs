//! Field names to lower-case word tokens: camelCase, snake_case, dots, spaces, `[]`, and
//! letters next to digits ("Option1" → option, 1).

pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let digit_edge = cur
            .chars()
            .last()
            .is_some_and(|p| p.is_ascii_digit() != c.is_ascii_digit());
        let boundary = digit_edge
            || c.is_uppercase()
                && !cur.is_empty()
                && (chars
                    .get(i.wrapping_sub(1))
                    .is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                    || chars.get(i + 1).is_some_and(|n| n.is_lowercase())
                        && chars
                            .get(i.wrapping_sub(1))
                            .is_some_and(|p| p.is_uppercase()));
        if boundary {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_convention() {
        assert_eq!(
            words("modifierGroupReferences[]"),
            ["modifier", "group", "references"]
        );
        assert_eq!(
            words("item_data.price_money.amount"),
            ["item", "data", "price", "money", "amount"]
        );
        assert_eq!(words("Item Name"), ["item", "name"]);
        assert_eq!(words("UPCCode"), ["upc", "code"]);
        assert_eq!(words("thcPercent"), ["thc", "percent"]);
        assert_eq!(words("Option1 Value"), ["option", "1", "value"]);
        assert_eq!(words("EAN13"), ["ean", "13"]);
    }
}

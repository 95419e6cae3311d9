//! `application/x-www-form-urlencoded` bodies (Lightspeed deliveries, WooCommerce pings).

/// Decodes a form body into (name, value) pairs. Returns None when the bytes are not a
/// well-formed form (bad percent escapes or invalid UTF-8 after decoding).
pub fn parse(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(
            parse(b"webhook_id=12"),
            Some(vec![("webhook_id".into(), "12".into())])
        );
        assert_eq!(
            parse(b"payload=%7B%22a%22%3A1%7D&environment=prod+x"),
            Some(vec![
                ("payload".into(), "{\"a\":1}".into()),
                ("environment".into(), "prod x".into())
            ])
        );
        assert_eq!(parse(b"a=%zz"), None);
        assert_eq!(parse(b"a=%e9"), None);
    }
}

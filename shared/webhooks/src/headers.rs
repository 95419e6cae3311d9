//! HTTP headers with case-insensitive lookup (API Gateway and HTTP/2 lower-case them).

use serde::{Deserialize, Serialize};

/// Request headers as received, names normalised to lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one header; the name is trimmed and lower-cased, the value kept as given
    /// (it is trimmed on lookup). Repeated names are kept in order; [`Headers::get`] returns
    /// the first.
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.0
            .push((name.trim().to_ascii_lowercase(), value.into()));
    }

    /// [`Headers::insert`] as a builder: `Headers::new().with("X-Shopify-Hmac-SHA256", sig)`.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// The first value of `name`, compared case-insensitively, trimmed of surrounding space.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// The first non-empty value among several alternative names.
    pub fn get_any(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.get(n).filter(|v| !v.is_empty()))
    }

    /// Every (lower-cased name, raw value) pair in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Parses one `Name: value` line as given on a command line (`-H`).
    pub fn parse_line(line: &str) -> Option<(String, String)> {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        Some((name.to_ascii_lowercase(), value.trim().to_owned()))
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.insert(&n, v);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_trims() {
        let h = Headers::new().with("X-Shopify-Hmac-SHA256", " abc= ");
        assert_eq!(h.get("x-shopify-hmac-sha256"), Some("abc="));
        assert_eq!(h.get("X-SHOPIFY-HMAC-SHA256"), Some("abc="));
        assert_eq!(h.get("other"), None);
    }

    #[test]
    fn parses_header_lines() {
        assert_eq!(
            Headers::parse_line("Stripe-Signature: t=1,v1=ab"),
            Some(("stripe-signature".into(), "t=1,v1=ab".into()))
        );
        assert_eq!(
            Headers::parse_line("a:b:c"),
            Some(("a".into(), "b:c".into()))
        );
        assert_eq!(Headers::parse_line("no colon"), None);
        assert_eq!(Headers::parse_line(": empty"), None);
    }
}

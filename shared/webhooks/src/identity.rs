//! The vendor's own identity of a delivery: what stays the same when the vendor retries.
//! Idempotency records are keyed by it.

use sha2::{Digest, Sha256};
use tillbridge_domain::Provider;

use crate::{Headers, vendors};

/// A key that is equal for every retry of the same vendor event and different otherwise.
/// Where a scheme documents one (event id, webhook id, message id), it is used; otherwise the
/// SHA-256 of the body stands in (Clover, Lightspeed and WooCommerce don't retry with ids).
pub fn delivery_key(provider: Provider, headers: &Headers, body: &[u8]) -> String {
    let vendor = (vendors::vendor(provider).delivery_id)(headers, body);
    match vendor.filter(|v| !v.is_empty() && v.len() <= 200) {
        Some(id) => format!("id:{id}"),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// A top-level string field of a JSON body.
pub(crate) fn json_str(body: &[u8], field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get(field)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_vendor_ids_and_falls_back_to_body_hash() {
        let h = Headers::new().with("X-Shopify-Webhook-Id", "abc");
        assert_eq!(delivery_key(Provider::Shopify, &h, b"{}"), "id:abc");
        assert_eq!(
            delivery_key(Provider::Square, &Headers::new(), br#"{"event_id":"e1"}"#),
            "id:e1"
        );
        let a = delivery_key(Provider::Clover, &Headers::new(), b"x");
        assert!(a.starts_with("sha256:"));
        assert_ne!(a, delivery_key(Provider::Clover, &Headers::new(), b"y"));
        assert!(delivery_key(Provider::Shopify, &Headers::new(), b"{}").starts_with("sha256:"));
    }
}

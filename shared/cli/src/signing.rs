//! Signs sample payloads the way each vendor does, so the demo can play the vendors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

pub fn shopify(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac(secret.as_bytes(), &[body]))
}

pub fn square(secret: &str, url: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac(secret.as_bytes(), &[url.as_bytes(), body]))
}

pub fn toast(secret: &str, body: &[u8], timestamp: &str) -> String {
    STANDARD.encode(hmac(secret.as_bytes(), &[body, timestamp.as_bytes()]))
}

pub fn zettle(secret: &str, timestamp: &str, payload: &str) -> String {
    hex::encode(hmac(
        secret.as_bytes(),
        &[timestamp.as_bytes(), b".", payload.as_bytes()],
    ))
}

pub fn woocommerce(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac(secret.as_bytes(), &[body]))
}

/// Standard Webhooks v1 with the raw key bytes (BigCommerce uses its client secret as is).
pub fn standard(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    format!(
        "v1,{}",
        STANDARD.encode(hmac(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]))
    )
}

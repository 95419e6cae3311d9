//! The cheap, secret-free checks the ingress runs before acknowledging a delivery:
//! the signature header is present and well formed, the signed timestamp (where the scheme
//! has one) is inside the window, and vendor handshakes are recognised.

use tillbridge_domain::Provider;

use crate::Headers;
use crate::signature::{self, VerifyError};

pub type PrecheckError = VerifyError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precheck {
    /// Carries a well-formed signature: enqueue for verification.
    Signed,
    /// A vendor setup request that is unsigned by design and must get 200.
    Handshake(Handshake),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Clover POSTs `{"verificationCode": "…"}` once; the operator pastes it in the dashboard.
    CloverVerification { code: String },
    /// WooCommerce POSTs `webhook_id=<id>` unsigned when a webhook is created.
    WooCommercePing { webhook_id: String },
}

/// `now_unix` and `tolerance_secs` bound the signed timestamp where the scheme has one.
pub fn precheck(
    provider: Provider,
    headers: &Headers,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<Precheck, PrecheckError> {
    let present = |name: &'static str| {
        headers
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeader(name))
    };
    match provider {
        Provider::Square => {
            match headers
                .get("x-square-hmacsha256-signature")
                .filter(|v| !v.is_empty())
            {
                Some(v) => signature::decode_b64("x-square-hmacsha256-signature", v)?,
                None => signature::decode_b64(
                    "x-square-signature",
                    present("x-square-signature")
                        .map_err(|_| VerifyError::MissingHeader("x-square-hmacsha256-signature"))?,
                )?,
            };
        }
        Provider::Shopify => {
            signature::decode_b64("x-shopify-hmac-sha256", present("x-shopify-hmac-sha256")?)?;
        }
        Provider::Clover => {
            if headers
                .get("x-clover-auth")
                .filter(|v| !v.is_empty())
                .is_none()
            {
                return match clover_verification_code(body) {
                    Some(code) => Ok(Precheck::Handshake(Handshake::CloverVerification { code })),
                    None => Err(VerifyError::MissingHeader("x-clover-auth")),
                };
            }
        }
        Provider::Toast => {
            signature::decode_b64("toast-signature", present("toast-signature")?)?;
        }
        Provider::Zettle => {
            signature::decode_hex("x-izettle-signature", present("x-izettle-signature")?)?;
        }
        Provider::WooCommerce => match headers
            .get("x-wc-webhook-signature")
            .filter(|v| !v.is_empty())
        {
            Some(v) => {
                signature::decode_b64("x-wc-webhook-signature", v)?;
            }
            None => {
                return match woocommerce_ping_id(body) {
                    Some(webhook_id) => Ok(Precheck::Handshake(Handshake::WooCommercePing {
                        webhook_id,
                    })),
                    None => Err(VerifyError::MissingHeader("x-wc-webhook-signature")),
                };
            }
        },
        Provider::Lightspeed => {
            signature::parse_lightspeed_header(present("x-signature")?)?;
        }
        Provider::Stripe => {
            let (t, _) = signature::parse_stripe_header(present("stripe-signature")?)?;
            if tolerance_secs > 0 && t < now_unix.saturating_sub(tolerance_secs) {
                return Err(VerifyError::OutsideTolerance {
                    timestamp: t,
                    now: now_unix,
                    tolerance: tolerance_secs,
                });
            }
        }
        Provider::BigCommerce | Provider::StandardWebhooks => {
            let svix =
                provider == Provider::StandardWebhooks && headers.get("svix-signature").is_some();
            let (id_h, ts_h, sig_h) = if svix {
                ("svix-id", "svix-timestamp", "svix-signature")
            } else {
                ("webhook-id", "webhook-timestamp", "webhook-signature")
            };
            present(id_h)?;
            let ts: i64 = present(ts_h)?
                .parse()
                .map_err(|_| VerifyError::MalformedHeader {
                    header: ts_h,
                    reason: "not an integer Unix timestamp".into(),
                })?;
            if tolerance_secs > 0
                && (now_unix.saturating_sub(ts) > tolerance_secs
                    || ts.saturating_sub(now_unix) > tolerance_secs)
            {
                return Err(VerifyError::OutsideTolerance {
                    timestamp: ts,
                    now: now_unix,
                    tolerance: tolerance_secs,
                });
            }
            signature::parse_standard_signatures(sig_h, present(sig_h)?)?;
        }
    }
    Ok(Precheck::Signed)
}

/// The code of a Clover verification request: a JSON object whose only key is
/// `verificationCode`, a short string.
pub(crate) fn clover_verification_code(body: &[u8]) -> Option<String> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    if map.len() != 1 {
        return None;
    }
    match map.get("verificationCode")? {
        serde_json::Value::String(s) if !s.is_empty() && s.len() <= 200 => Some(s.clone()),
        _ => None,
    }
}

fn woocommerce_ping_id(body: &[u8]) -> Option<String> {
    match crate::form::parse(body)?.as_slice() {
        [(k, v)]
            if k == "webhook_id"
                && !v.is_empty()
                && v.len() <= 20
                && v.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(v.clone())
        }
        _ => None,
    }
}

pub(crate) fn is_woocommerce_ping(body: &[u8]) -> bool {
    woocommerce_ping_id(body).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_handshakes() {
        let h = Headers::new();
        assert_eq!(
            precheck(
                Provider::Clover,
                &h,
                br#"{"verificationCode":"ce7643c1-83ea-4218-abe6-da876c9c7a0a"}"#,
                0,
                300
            ),
            Ok(Precheck::Handshake(Handshake::CloverVerification {
                code: "ce7643c1-83ea-4218-abe6-da876c9c7a0a".into()
            }))
        );
        assert_eq!(
            precheck(Provider::WooCommerce, &h, b"webhook_id=42", 0, 300),
            Ok(Precheck::Handshake(Handshake::WooCommercePing {
                webhook_id: "42".into()
            }))
        );
        // Anything else unsigned is not a handshake.
        assert!(precheck(Provider::WooCommerce, &h, b"webhook_id=42&x=1", 0, 300).is_err());
        assert!(
            precheck(
                Provider::Clover,
                &h,
                br#"{"verificationCode":"a","merchants":{}}"#,
                0,
                300
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_missing_and_garbled_headers() {
        let body = b"{}";
        assert_eq!(
            precheck(Provider::Shopify, &Headers::new(), body, 0, 300),
            Err(VerifyError::MissingHeader("x-shopify-hmac-sha256"))
        );
        let garbled = Headers::new().with("X-Shopify-Hmac-Sha256", "%%%not base64%%%");
        assert!(matches!(
            precheck(Provider::Shopify, &garbled, body, 0, 300),
            Err(VerifyError::MalformedHeader { .. })
        ));
        let stripe = Headers::new().with("Stripe-Signature", "v1=abcd");
        assert!(matches!(
            precheck(Provider::Stripe, &stripe, body, 0, 300),
            Err(VerifyError::MalformedHeader { .. })
        ));
        let zettle = Headers::new().with("X-iZettle-Signature", "xyz");
        assert!(matches!(
            precheck(Provider::Zettle, &zettle, body, 0, 300),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn checks_the_timestamp_window() {
        let h = Headers::new()
            .with("webhook-id", "msg_1")
            .with("webhook-timestamp", "1000")
            .with("webhook-signature", "v1,AAAA");
        assert_eq!(
            precheck(Provider::StandardWebhooks, &h, b"{}", 1200, 300),
            Ok(Precheck::Signed)
        );
        assert!(matches!(
            precheck(Provider::StandardWebhooks, &h, b"{}", 1301, 300),
            Err(VerifyError::OutsideTolerance { .. })
        ));
        assert!(matches!(
            precheck(Provider::BigCommerce, &h, b"{}", 699, 300),
            Err(VerifyError::OutsideTolerance { .. })
        ));
    }
}

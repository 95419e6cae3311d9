//! The cheap, secret-free checks the ingress runs before acknowledging a delivery:
//! the signature header is present and well formed, the signed timestamp (where the scheme
//! has one) is inside the window, and vendor handshakes are recognised.

use tillbridge_domain::Provider;

use crate::Headers;
use crate::signature::VerifyError;
use crate::vendors;

/// Why a precheck refused a delivery: the header and timestamp cases of [`VerifyError`]
/// (never a signature mismatch; no secret is involved).
pub type PrecheckError = VerifyError;

/// A delivery that passed the precheck, and what to do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precheck {
    /// Carries a well-formed signature: enqueue for verification.
    Signed,
    /// A vendor setup request that is unsigned by design and must get 200.
    Handshake(Handshake),
}

/// An unsigned vendor setup request (see shared/reference/webhook-signatures.md, Clover and
/// WooCommerce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Clover POSTs `{"verificationCode": "…"}` once; the operator pastes it in the dashboard.
    CloverVerification {
        /// The verification code Clover sent, to show to the operator.
        code: String,
    },
    /// WooCommerce POSTs `webhook_id=<id>` unsigned when a webhook is created.
    WooCommercePing {
        /// WooCommerce's id of the webhook that was created.
        webhook_id: String,
    },
}

/// Checks a delivery without its secret: the signature header is present and well formed,
/// or the request is a recognised handshake. `now_unix` (Unix seconds) and
/// `tolerance_secs` bound the signed timestamp where the scheme has one (Stripe,
/// BigCommerce, Standard Webhooks).
///
/// # Errors
///
/// [`VerifyError::MissingHeader`] or [`VerifyError::MalformedHeader`] for an unsigned or
/// garbled request, [`VerifyError::OutsideTolerance`] for a stale or future timestamp,
/// [`VerifyError::ProfileVendor`] for a profile vendor (its profile prechecks it). A
/// request with a well-formed but wrong signature passes here and fails [`crate::verify`].
pub fn precheck(
    provider: Provider,
    headers: &Headers,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<Precheck, PrecheckError> {
    if let Some(name) = provider.profile() {
        return Err(VerifyError::ProfileVendor(name.to_string()));
    }
    (vendors::vendor(provider).precheck)(headers, body, now_unix, tolerance_secs)
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

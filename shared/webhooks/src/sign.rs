//! Signing deliveries the way each vendor does (feature `signing`): one signer for the
//! tests, the benches and the demo, so they never drift from [`crate::verify`].
//!
//! ```
//! use tillbridge_domain::Provider;
//! use tillbridge_webhooks::sign::{SignOptions, sign};
//! use tillbridge_webhooks::signature::VerifyOptions;
//! use tillbridge_webhooks::{Headers, Secret, verify};
//!
//! let body = br#"{"id":1}"#;
//! let headers: Headers = sign(Provider::Shopify, b"secret", body, &SignOptions::default())
//!     .expect("signs")
//!     .into_iter()
//!     .collect();
//! let opts = VerifyOptions { url: None, now_unix: 0, tolerance_secs: 300 };
//! assert!(verify(Provider::Shopify, &headers, body, &[Secret::new("secret")], &opts).is_ok());
//! ```

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tillbridge_domain::Provider;

use crate::signature::VerifyError;
use crate::vendors;

/// Why a delivery could not be signed (the same conditions verification reports).
pub type SignError = VerifyError;

/// What a scheme signs besides the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignOptions<'a> {
    /// The notification URL (required by Square, which signs it).
    pub url: Option<&'a str>,
    /// Unix seconds of the signed timestamp (Stripe, Standard Webhooks, BigCommerce).
    pub timestamp: i64,
    /// The Standard Webhooks / BigCommerce message id (`webhook-id`); when absent, one is
    /// derived from the body so the same body always gets the same id.
    pub message_id: Option<&'a str>,
}

impl SignOptions<'_> {
    pub(crate) fn message_id(&self, body: &[u8]) -> String {
        match self.message_id {
            Some(id) => id.to_owned(),
            None => format!("msg_{}", &hex::encode(Sha256::digest(body))[..24]),
        }
    }
}

/// The headers (name, value) that make `body` a valid delivery of `provider` signed with
/// `secret`, in the vendor's own header spelling. Toast and Zettle read their signed
/// timestamp from the body, so it must be their envelope; Clover sends the secret itself.
pub fn sign(
    provider: Provider,
    secret: &[u8],
    body: &[u8],
    opts: &SignOptions<'_>,
) -> Result<Vec<(String, String)>, SignError> {
    (vendors::vendor(provider).sign)(secret, body, opts)
}

/// HMAC-SHA256 of the concatenated parts (any key length is valid for HMAC).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{DEFAULT_TOLERANCE_SECS, Secret, VerifyOptions};
    use crate::{Headers, verify};

    /// A body every scheme can sign: JSON with Toast's `timestamp` and Zettle's `payload`.
    const BODY: &[u8] =
        br#"{"timestamp":"2026-01-01T00:00:00Z","payload":"{\"a\":1}","id":"evt_1"}"#;

    #[test]
    fn every_signature_verifies() {
        let url = "https://hooks.example/square";
        let secret_for = |p: Provider| match p {
            Provider::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => "s3cret&amp;",
        };
        for provider in Provider::ALL {
            let secret = secret_for(provider);
            let opts = SignOptions {
                url: Some(url),
                timestamp: 1_760_000_000,
                message_id: None,
            };
            let headers: Headers = sign(provider, secret.as_bytes(), BODY, &opts)
                .expect("signs")
                .into_iter()
                .collect();
            let verify_opts = VerifyOptions {
                url: Some(url),
                now_unix: 1_760_000_000,
                tolerance_secs: DEFAULT_TOLERANCE_SECS,
            };
            let got = verify(
                provider,
                &headers,
                BODY,
                &[Secret::new(secret)],
                &verify_opts,
            );
            assert!(got.is_ok(), "{provider}: {got:?}");
            assert!(
                crate::precheck(provider, &headers, BODY, 1_760_000_000, 300).is_ok(),
                "{provider}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_be_signed() {
        let opts = SignOptions::default();
        assert_eq!(
            sign(Provider::Square, b"k", BODY, &opts),
            Err(VerifyError::MissingUrl("square"))
        );
        assert!(sign(Provider::Toast, b"k", b"{}", &opts).is_err());
        assert!(sign(Provider::Zettle, b"k", b"[]", &opts).is_err());
        assert!(sign(Provider::StandardWebhooks, b"whsec_%%%", BODY, &opts).is_err());
    }
}

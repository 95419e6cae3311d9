//! One module per vendor: its signature scheme, ingress precheck, delivery identity, payload
//! normalizer and (with the `signing` feature) its signer, side by side, gathered in one
//! [`Vendor`] entry. The public dispatchers ([`crate::verify`], [`crate::precheck()`],
//! [`crate::identity`], [`crate::normalize()`], `crate::sign`) look the entry up with
//! [`vendor`] and call through it; none of them names a vendor.
//!
//! # Adding a built-in vendor
//!
//! Code (the compiler points at each step that is missing):
//!
//! 1. `shared/domain/src/ids.rs`: one line `Variant = "name",` in `providers!` (the name is
//!    the URL segment, the config key and the events' `provider`).
//! 2. `shared/webhooks/src/vendors/<vendor>.rs` (new): the scheme's functions and
//!    `pub(crate) const VENDOR: Vendor`, adapting them to the uniform signatures of
//!    [`Vendor`] with closures that drop what they don't use; `normalize: None`
//!    acknowledges every event as unhandled (as for Stripe).
//! 3. This file: `pub(crate) mod <vendor>;` and one arm in [`vendor`] (the match is
//!    exhaustive).
//!
//! Data, tests and docs:
//!
//! 4. Signature vectors: a case in `shared/webhooks/tests/data/generate_vectors.py`, then
//!    regenerate `vectors.json` (a test requires vectors for every provider).
//! 5. Sample payloads under `samples/webhooks/<vendor>/` and normalizer tests in
//!    `src/normalize/tests.rs`.
//! 6. `events/schemas/`: the envelope's `provider` enum lists every name; regenerate with
//!    `TILLBRIDGE_WRITE_SCHEMAS=1 cargo test -p tillbridge-e2e --test event_schemas`
//!    (that test fails until then).
//! 7. Prose that lists the vendors and is not checked: the README's "Signature schemes"
//!    table and the `--provider` help in `shared/cli/src/verify.rs`.

use serde_json::Value;
use tillbridge_domain::Provider;

use crate::Headers;
use crate::normalize::{NormalizeContext, NormalizeError, Normalized};
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::SignOptions;
use crate::signature::{Secret, Verified, VerifyError, VerifyOptions};

pub(crate) mod bigcommerce;
pub(crate) mod clover;
pub(crate) mod lightspeed;
pub(crate) mod shopify;
pub(crate) mod square;
pub(crate) mod standard_webhooks;
pub(crate) mod stripe;
pub(crate) mod toast;
pub(crate) mod woocommerce;
pub(crate) mod zettle;

/// The table entry of `provider`: the only place that maps a provider to its module.
pub(crate) fn vendor(provider: Provider) -> &'static Vendor {
    match provider {
        Provider::Square => &square::VENDOR,
        Provider::Shopify => &shopify::VENDOR,
        Provider::Clover => &clover::VENDOR,
        Provider::Toast => &toast::VENDOR,
        Provider::Zettle => &zettle::VENDOR,
        Provider::WooCommerce => &woocommerce::VENDOR,
        Provider::Lightspeed => &lightspeed::VENDOR,
        Provider::BigCommerce => &bigcommerce::VENDOR,
        Provider::Stripe => &stripe::VENDOR,
        Provider::StandardWebhooks => &standard_webhooks::VENDOR,
        // A profile vendor's scheme is in its profile (tillbridge-profiles); the public
        // dispatchers refuse it before they get here, and this entry refuses it again.
        Provider::Profile(_) => &PROFILE,
    }
}

/// The entry of every profile vendor: nothing here can judge it without its profile.
const PROFILE: Vendor = Vendor {
    verify: |_, _, _, _| Err(VerifyError::ProfileVendor("profile vendor".into())),
    precheck: |_, _, _, _| Err(VerifyError::ProfileVendor("profile vendor".into())),
    delivery_id: no_delivery_id,
    normalize: Some(|_, _| {
        Err(crate::normalize::malformed(
            "a profile vendor is normalized by its profile (tillbridge-profiles)",
        ))
    }),
    #[cfg(feature = "signing")]
    sign: |_, _, _| Err(VerifyError::ProfileVendor("profile vendor".into())),
};

/// One vendor's share of every dispatcher, with uniform signatures: each dispatcher passes
/// everything any vendor needs, and a vendor ignores what its scheme does not use.
pub(crate) struct Vendor {
    /// [`crate::verify`] after its common checks (at least one secret): headers, raw body,
    /// the tenant's secrets (current first), options (URL, now, tolerance).
    pub(crate) verify: fn(&Headers, &[u8], &[Secret], &VerifyOptions<'_>) -> VerifyResult,
    /// [`crate::precheck()`]: headers, raw body, now (Unix seconds), tolerance (seconds).
    pub(crate) precheck: fn(&Headers, &[u8], i64, i64) -> Result<Precheck, VerifyError>,
    /// The vendor's own id of a delivery, if it has one, for [`crate::identity`]: headers,
    /// raw body. `None` falls back to the body's hash.
    pub(crate) delivery_id: fn(&Headers, &[u8]) -> Option<String>,
    /// [`crate::normalize()`]: context, raw body. `None`: tillbridge maps none of the vendor's
    /// events; the body must be JSON and is acknowledged as unhandled under its `type`.
    pub(crate) normalize: Option<fn(&NormalizeContext<'_>, &[u8]) -> NormalizeResult>,
    /// `crate::sign`: secret, body, options (URL, timestamp, message id).
    #[cfg(feature = "signing")]
    pub(crate) sign: fn(&[u8], &[u8], &SignOptions<'_>) -> SignResult,
}

type VerifyResult = Result<Verified, VerifyError>;
type NormalizeResult = Result<Normalized, NormalizeError>;
#[cfg(feature = "signing")]
type SignResult = Result<Vec<(String, String)>, VerifyError>;

/// For [`Vendor::delivery_id`] of vendors that send no delivery id (Clover, Lightspeed).
pub(crate) fn no_delivery_id(_: &Headers, _: &[u8]) -> Option<String> {
    None
}

/// The body as JSON, for the normalizers that read JSON (all but Lightspeed's form data).
///
/// # Errors
///
/// [`NormalizeError::Malformed`] when the body is not JSON.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, NormalizeError> {
    serde_json::from_slice(body).map_err(|e| crate::normalize::malformed(format!("not JSON: {e}")))
}

//! Webhook signature schemes, exactly as each vendor documents them
//! (see ../shared/reference/webhook-signatures.md).
//!
//! Common rules: the signed bytes are the raw body as received; header names are looked up
//! case-insensitively; signatures are compared in constant time on decoded bytes; every
//! secret of the tenant (current, then previous during a rotation) is tried.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use tillbridge_domain::Provider;

use crate::{Headers, vendors};

/// Standard base64, padding optional: senders differ and the HMAC decides validity anyway.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub use tillbridge_domain::Secret;

/// Inputs besides headers, body and secrets.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The notification URL the subscription was created with (Square signs it).
    pub url: Option<&'a str>,
    /// The current time, Unix seconds (a value, so tests and `--now` can set it).
    pub now_unix: i64,
    /// Accepted clock difference for schemes that sign a timestamp.
    pub tolerance_secs: i64,
}

pub use tillbridge_domain::secret::DEFAULT_TOLERANCE_SECS;

/// Set by our ingress in place of `X-Clover-Auth`: the hex SHA-256 of the auth code, so the
/// code itself (the secret) is never stored in a queue.
pub const CLOVER_AUTH_DIGEST_HEADER: &str = "x-tillbridge-clover-auth-sha256";

/// A successful check: which scheme matched and which secret (0 = current, 1 = previous).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Stable name of the scheme that matched, e.g. `shopify-hmac-sha256`, `stripe-v1`,
    /// `square-hmac-sha1-legacy` (for logs and metrics).
    pub scheme: &'static str,
    /// Position in the `secrets` slice given to [`verify`] of the secret that matched: 0 is
    /// the current secret, 1 the previous one during a rotation.
    pub secret_index: usize,
}

/// Why a delivery was not accepted as signed (also what [`precheck`](crate::precheck())
/// and, with `signing`, `sign` report).
///
/// None of these is fixed by retrying the same check on the same bytes: a request error
/// stays an error, and a configuration error (see [`VerifyError::is_configuration`]) needs
/// the operator to fix the tenant's settings before redeliveries can pass.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The vendor's signature header (named in the field, lower case) is absent or empty.
    #[error("missing signature header {0}")]
    MissingHeader(&'static str),
    /// A signature or timestamp header is present but cannot be parsed (bad base64 or hex,
    /// no `t=`/`v1=` part, a non-numeric timestamp).
    #[error("malformed {header} header: {reason}")]
    MalformedHeader {
        /// The header's name, lower case.
        header: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The scheme signs a field inside the body (Toast's and Zettle's timestamp) and the
    /// body is not a JSON object with that string field.
    #[error("malformed body: {0}")]
    MalformedBody(String),
    /// A vendor handshake that is unsigned by design (Clover's verification request,
    /// WooCommerce's creation ping); the text says what the receiver does with it.
    /// [`precheck`](crate::precheck()) recognises these as [`crate::Handshake`]s first.
    #[error("{0}")]
    Unsigned(&'static str),
    /// The signed timestamp is further than the tolerance from now: a replay or a badly
    /// skewed clock. All values are Unix seconds.
    #[error("timestamp {timestamp} is outside the tolerance of {tolerance} s (now {now})")]
    OutsideTolerance {
        /// The timestamp the request carries (Unix seconds).
        timestamp: i64,
        /// [`VerifyOptions::now_unix`] of the check.
        now: i64,
        /// [`VerifyOptions::tolerance_secs`] of the check.
        tolerance: i64,
    },
    /// No configured secret produces the signature; the field names what was signed
    /// ("HMAC-SHA256 of the body"). A forged request, or a secret that was rotated at the
    /// vendor but not here.
    #[error("signature does not match ({0})")]
    Mismatch(&'static str),
    /// Configuration: the scheme signs the notification URL (Square) and
    /// [`VerifyOptions::url`] was not given. The field names the vendor.
    #[error("the notification URL is required for {0} signatures")]
    MissingUrl(&'static str),
    /// Configuration: the tenant has no secret for this provider.
    #[error("no secret is configured")]
    NoSecret,
    /// Configuration: a stored secret is not in the vendor's format (a Standard Webhooks
    /// secret that is not `whsec_` + base64); the field says what is wrong.
    #[error("secret is unusable: {0}")]
    BadSecret(&'static str),
    /// Configuration: the provider is a profile vendor ([`Provider::Profile`]), whose scheme
    /// is in its profile: tillbridge-profiles checks it, these built-in dispatchers cannot.
    #[error("{0} is a profile vendor: its profile verifies it")]
    ProfileVendor(String),
}

impl VerifyError {
    /// Errors caused by our configuration or invocation rather than by the request.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            VerifyError::MissingUrl(_)
                | VerifyError::NoSecret
                | VerifyError::BadSecret(_)
                | VerifyError::ProfileVendor(_)
        )
    }
}

/// Verifies one delivery against every secret given, in order: `body` is the raw request
/// body exactly as received (after API Gateway's base64 decoding, before any JSON parsing),
/// `secrets` the tenant's current secret then, during a rotation, the previous one.
/// Each vendor's scheme is as documented in shared/reference/webhook-signatures.md.
///
/// # Errors
///
/// [`VerifyError::NoSecret`] when `secrets` is empty; otherwise the first reason the
/// delivery fails the provider's scheme (missing or malformed header, timestamp outside
/// the tolerance, signature mismatch against every secret, a missing URL for Square).
pub fn verify(
    provider: Provider,
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    opts: &VerifyOptions<'_>,
) -> Result<Verified, VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    if let Some(name) = provider.profile() {
        return Err(VerifyError::ProfileVendor(name.to_string()));
    }
    (vendors::vendor(provider).verify)(headers, body, secrets, opts)
}

pub(crate) fn verified(scheme: &'static str, secret_index: usize) -> Verified {
    Verified {
        scheme,
        secret_index,
    }
}

pub(crate) fn require<'h>(
    headers: &'h Headers,
    name: &'static str,
) -> Result<&'h str, VerifyError> {
    headers
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

pub(crate) fn decode_b64(header: &'static str, value: &str) -> Result<Vec<u8>, VerifyError> {
    let bytes = B64
        .decode(value.trim())
        .map_err(|_| VerifyError::MalformedHeader {
            header,
            reason: "not base64".into(),
        })?;
    if bytes.is_empty() {
        return Err(VerifyError::MalformedHeader {
            header,
            reason: "empty signature".into(),
        });
    }
    Ok(bytes)
}

pub(crate) fn decode_hex(header: &'static str, value: &str) -> Result<Vec<u8>, VerifyError> {
    hex::decode(value.trim()).map_err(|_| VerifyError::MalformedHeader {
        header,
        reason: "not hexadecimal".into(),
    })
}

pub(crate) fn b64_header(headers: &Headers, name: &'static str) -> Result<Vec<u8>, VerifyError> {
    decode_b64(name, require(headers, name)?)
}

/// Index of the first key whose HMAC-SHA256 over the concatenated parts equals any of the
/// candidate signatures. `verify_slice` compares in constant time.
pub(crate) fn hmac_sha256_any(
    keys: impl Iterator<Item = Vec<u8>>,
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Option<usize> {
    for (i, key) in keys.enumerate() {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            continue;
        };
        for p in parts {
            mac.update(p);
        }
        if candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
        {
            return Some(i);
        }
    }
    None
}

pub(crate) fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests;

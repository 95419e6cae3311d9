//! Webhook secrets as the domain knows them: opaque bytes that are never printed, and the
//! default window within which a signed timestamp is accepted.

use std::fmt;

/// A webhook secret as configured for a tenant and provider. Never printed (`Debug` shows
/// `Secret(***)`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the secret's bytes exactly as the vendor shows them (the key text itself, or
    /// for Standard Webhooks the whole `whsec_…` string; each scheme decodes its own form).
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(value.into())
    }

    /// The raw secret bytes, for signing and for storing it back; never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Default accepted clock difference for signed timestamps: 300 s, Stripe's default tolerance
/// (stripe-go `DefaultTolerance`) and the ±5 min of the Standard Webhooks libraries, which
/// BigCommerce points to without giving a window (shared/reference/webhook-signatures.md,
/// [ST2], [B1]).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

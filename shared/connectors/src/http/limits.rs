//! Rate limits per vendor and credential, from each vendor's documented limits.
//!
//! One GCRA limiter (`governor`) per (vendor, credential) in the process: every client built
//! with the same credential shares it, so two syncs of one merchant never add up to more
//! than the vendor allows. The credential is keyed by a SHA-256 fingerprint, never by itself.
//!
//! Documented limits (defaults of [`RateLimit::documented`]):
//! - Square publishes no number; it asks clients to back off on `429 RATE_LIMITED`
//!   (<https://developer.squareup.com/docs/build-basics/handling-errors>). We send at most
//!   10 requests per second per access token.
//! - WooCommerce's REST API v3 has no limit of its own (the merchant's server decides,
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/>); 5 per second, to spare
//!   small shared hosts.
//! - BigCommerce: 150 requests per 30 s on Standard/Plus plans, more on Pro/Enterprise
//!   (<https://developer.bigcommerce.com/docs/start/best-practices/api-rate-limits>); 5 per
//!   second.
//! - Clover: 16 requests per second per token, 50 per app, 5 concurrent per token
//!   (<https://docs.clover.com/docs/api-usage-rate-limits>); 16 per second, evenly spaced
//!   (the client sends one request at a time, well under the concurrency limit).
//! - Toast: 20 requests per second and 10,000 per 15 minutes by default, but `GET /menus`
//!   one request per second per location
//!   (<https://doc.toasttab.com/doc/devguide/apiRateLimiting.html>); 1 per second for the
//!   whole credential, so the menus endpoint is never over its limit.
//! - Zettle: Inventory API v3 allows about 4 requests per second (a soft limit,
//!   <https://developer.zettle.com/docs/api/inventory/overview>); the Product Library
//!   publishes none. 4 per second for both.
//! - Shopify Admin GraphQL: a leaky bucket of query cost, 100 points restored per second and
//!   2,000 points of capacity on standard plans (each request takes its estimated cost) (<https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits>).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use tillbridge_domain::Provider;

/// A steady rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests that may go at once after a quiet spell. 1 spaces every request evenly, so
    /// no one-second window ever holds more than `per_second`.
    pub burst: NonZeroU32,
}

const fn nz(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    }
}

impl RateLimit {
    /// `per_second` requests per second, evenly spaced (burst 1).
    pub const fn per_second(per_second: u32) -> Self {
        Self {
            per_second: nz(per_second),
            burst: NonZeroU32::MIN,
        }
    }

    /// The vendor's documented limit, or our conservative default (module docs).
    pub const fn documented(vendor: Provider) -> Self {
        match vendor {
            Provider::Square => Self::per_second(10),
            Provider::BigCommerce | Provider::WooCommerce => Self::per_second(5),
            Provider::Clover => Self::per_second(16),
            Provider::Toast => Self::per_second(1),
            Provider::Zettle => Self::per_second(4),
            // Cells are query-cost points: 100 restored per second, a 2,000-point bucket.
            Provider::Shopify => Self {
                per_second: nz(100),
                burst: nz(2000),
            },
            _ => Self::per_second(2),
        }
    }

    fn quota(self) -> Quota {
        let period = Duration::from_nanos(1_000_000_000 / u64::from(self.per_second.get()));
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(self.per_second))
            .allow_burst(self.burst)
    }
}

/// A fingerprint of a credential, safe to log and to use in keys (first 16 hex digits of
/// its SHA-256).
pub fn fingerprint(credential: &[u8]) -> String {
    hex::encode(&Sha256::digest(credential)[..8])
}

type Registry = Mutex<HashMap<(Provider, String, RateLimit), Arc<DefaultDirectRateLimiter>>>;

static LIMITERS: LazyLock<Registry> = LazyLock::new(Registry::default);

/// The process-wide limiter of (vendor, credential fingerprint, limit).
pub(crate) fn limiter(
    vendor: Provider,
    fingerprint: &str,
    limit: RateLimit,
) -> Arc<DefaultDirectRateLimiter> {
    let mut map = LIMITERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry((vendor, fingerprint.to_owned(), limit))
        .or_insert_with(|| Arc::new(RateLimiter::direct(limit.quota())))
        .clone()
}

//! Vendor webhooks: who signed this request, and what does it mean canonically.
//!
//! [`signature`] verifies each vendor's scheme over the exact raw bytes; [`precheck`] is the
//! cheap, secret-free part the ingress runs; [`normalize`] turns a verified payload into
//! canonical events; each vendor's share of all three lives in one module under `vendors`.
//! With the `signing` feature, `sign` signs deliveries as vendors do (tests, demo).
//! Pure code: no clock, no I/O (time comes in as a value).

#![warn(missing_docs)]

pub mod form;
pub mod headers;
pub mod identity;
pub mod normalize;
pub mod precheck;
#[cfg(feature = "signing")]
pub mod sign;
pub mod signature;
mod vendors;

pub use headers::Headers;
pub use normalize::{NormalizeContext, NormalizeError, Normalized, NormalizedEvent, normalize};
pub use precheck::{Handshake, Precheck, PrecheckError, precheck};
pub use signature::{Secret, Verified, VerifyError, VerifyOptions, verify};

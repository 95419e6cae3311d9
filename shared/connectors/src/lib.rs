//! Vendor API connectors: one client per POS vendor, speaking the vendor's real wire
//! format, all sending through one shared HTTP layer ([`http`]) with per vendor-and-credential
//! rate limits, full-jitter backoff honouring `Retry-After`, timeouts and a circuit breaker
//! whose state lives in the table port. Clients implement [`VendorApi`] and return canonical
//! items (one per variation) with stock per location, and deletions as tombstones.
//!
//! Vendors: Square ([`SquareClient`]), WooCommerce ([`WooCommerceClient`]), BigCommerce
//! ([`BigCommerceClient`]), Shopify ([`ShopifyClient`]), Clover ([`CloverClient`]),
//! Toast ([`ToastClient`]), Zettle ([`ZettleClient`]).
//!
//! ```text
//! let env = Env { table, clock };                       // breaker state + "now"
//! let creds: ApiCredentials = serde_json::from_value(tenant_provider_entry["api"])?;
//! let api = connect(Provider::Square, &creds, Currency::USD, None, &env, None)?;
//! let everything = pull(&*api, None).await?;             // full: every page, with stock
//! let changes = pull(&*api, everything.watermark).await?; // delta since the watermark
//! let fetched = api.fetch(&["VARIATION_ID".into()]).await?; // fetch-on-notify
//! let CallStats { api_calls, retries } = api.stats();
//! ```
//!
//! The write side ([`destination`]): a migration written into the merchant's new system
//! through [`Destination`] (Square, BigCommerce, WooCommerce, Shopify, Zettle: [`connect_destination`]),
//! idempotent and resumable, with prior states so [`rollback`] can delete what it created
//! and restore what it changed, verified by reading back; objects changed at the vendor
//! since are conflicts.
//!
//! Pure library: no AWS types. With the `fake` feature, [`fake`] serves in-process fake
//! vendor servers (tests, the demo).

#![warn(missing_docs)]

pub mod api;
pub mod bigcommerce;
pub mod clover;
pub mod connect;
pub mod destination;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod http;
pub mod oauth;
pub mod profile;
pub mod shopify;
pub mod square;
pub mod toast;
pub mod woocommerce;
pub mod zettle;

pub use api::{
    CatalogPage, FetchedItem, Location, ObjectKind, Pull, StockLevel, Tombstone, VendorApi, pull,
};
pub use bigcommerce::BigCommerceClient;
pub use clover::CloverClient;
pub use connect::{ApiCredentials, connect, connect_destination, stored_credentials};
pub use destination::{
    Action, Destination, Journal, Outcome, Parent, PriorState, Snapshot, Undo, UndoResult,
    WriteReport, created_category, prior_states, rollback,
};
pub use error::{ConnectorError, Result};
pub use http::{CallStats, Env, HttpConfig};
pub use oauth::{CredentialStore, Grant, TokenSource};
pub use profile::ProfileClient;
pub use shopify::ShopifyClient;
pub use square::SquareClient;
pub use toast::ToastClient;
pub use woocommerce::WooCommerceClient;
pub use zettle::ZettleClient;

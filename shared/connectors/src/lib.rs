//! Vendor API connectors: one client per POS vendor, speaking the vendor's real wire
//! format, all sending through one shared HTTP layer ([`http`]) with per vendor-and-credential
//! rate limits, full-jitter backoff honouring `Retry-After`, timeouts and a circuit breaker
//! whose state lives in the table port. Clients implement [`VendorApi`] and return canonical
//! items (one per variation) with stock per location, and deletions as tombstones.
//!
//! Pure library: no AWS types. With the `fake` feature, [`fake`] serves in-process fake
//! vendor servers (tests, the demo).

#![warn(missing_docs)]

pub mod api;
pub mod bigcommerce;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod http;
pub mod shopify;
pub mod square;
pub mod woocommerce;

pub use api::{
    CatalogPage, FetchedItem, Location, ObjectKind, Pull, StockLevel, Tombstone, VendorApi, pull,
};
pub use bigcommerce::BigCommerceClient;
pub use error::{ConnectorError, Result};
pub use http::{CallStats, Env, HttpConfig};
pub use shopify::ShopifyClient;
pub use square::SquareClient;
pub use woocommerce::WooCommerceClient;

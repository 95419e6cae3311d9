//! The canonical model shared by every tillbridge stage.
//!
//! Pure data and rules: no I/O, no AWS types. Everything that crosses a stage boundary
//! (queue message, event detail, table record) is defined here or built from these types.

#![warn(missing_docs)]

pub mod error;
pub mod event;
pub mod ids;
pub mod item;
pub mod locale;
pub mod money;
pub mod money_text;
pub mod number;
pub mod schema;
pub mod secret;
pub mod time;

pub use error::{Classify, DomainError, ErrorKind};
pub use event::{Envelope, EventData, EventType};
pub use ids::{CorrelationId, DeliveryId, EventId, MigrationId, ProfileName, Provider, TenantId};
pub use item::{CanonicalField, CatalogItem};
pub use locale::{Country, TimeZone};
pub use money::Currency;
pub use secret::Secret;
pub use time::Timestamp;

//! Ports: the small traits through which tillbridge's logic reaches storage and messaging.
//!
//! Each port has three implementations: AWS (DynamoDB, SQS, EventBridge, S3, Secrets
//! Manager), embedded (one state directory, the local default) and in-memory (tests, with
//! fault injection). The table port is shaped after DynamoDB's guarantees so every store
//! is written once on top of it; the queue here is itself built on the table port.

#![warn(missing_docs)]

pub mod blob;
pub mod bus;
pub mod clock;
pub mod conformance;
pub mod error;
pub mod memory;
pub mod meter;
pub mod metrics;
pub mod notify;
pub mod queue;
pub mod table;
pub mod tenants;

pub use blob::BlobStore;
pub use bus::{EventBus, LocalBus, Rule, publish};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{PortError, Result};
pub use notify::{Email, Mailer, OutboundPost, Poster};
pub use queue::{Message, Queue, TableQueue};
pub use table::{Condition, Item, Page, Table};
pub use tenants::{ProviderConfig, SecretStore, TenantConfig, TenantDirectory, WebhookSecrets};

//! The stages of tillbridge, written once over the ports and run by the Lambda functions
//! (AWS adapters) and by the local runtime (embedded store) alike.
//!
//! Table layout (partition → sort key):
//! - `idem#<tenant>` → `<provider>#<delivery key>`: idempotency records (TTL 7 days)
//! - `quarantine#<tenant>` → `<received nanos>#<delivery id>`: quarantined deliveries (TTL 30 days)
//! - `catalog#<tenant>` → `item#<id>`, `child#<parent>#<id>`, `alias#<inventory item id>`
//! - `orders#<tenant>` → `order#<id>`; `fetch#<tenant>` → `<object type>#<id>`
//! - `handshake#<tenant>` → `<provider>`: vendor setup requests (Clover verification code)
//! - `stats#<tenant>` → `webhooks`: counters
//! - `ledger#<tenant>#<YYYY-MM>` → `req#<request id>`: one entry per model call
//! - `costagg#<tenant>#<YYYY-MM>` → `<group>#<value>#<model>#r<regime>`: token counters
//! - `budget#<tenant>#<YYYY-MM>` → `state`, `res#<id>`, `threshold#<pct>`; `budgets` → `<tenant>`

pub mod accounting;
pub mod batch_validation;
pub mod catalog;
pub mod error;
pub mod finance;
pub mod inbound;
pub mod ingress;
pub mod local;
pub mod mapping_review;
pub mod mapping_suggest;
pub mod metering;
pub mod migration;
pub mod quarantine;
pub mod signature_check;

pub use error::PipelineError;

//! Migrations: a merchant's switch from one POS, as one record with a lifecycle.
//!
//! ```text
//! start ─► pending ─(suggested)─► mapping_review ─(approve)─► validating ─► applying ─► completed
//!                                   (approve with preview: validating ─► previewed ─(approve)─► applying)
//!                                                                             │  ▲          │
//!                                                       pause/resume ─────────┘  │   rollback│
//!                                                       cancel ─► rolling_back ◄─┴───────────┘
//!                                                                   └─► rolled_back
//! ```
//!
//! Every step is an event on the bus (`migration.requested` → mapping-suggest,
//! `migration.mapping.approved` → [`prepare`], `migration.apply.requested` → [`apply`],
//! `migration.rollback.requested` → [`rollback`]), every transition a version-checked write of
//! the record, so redeliveries and concurrent operators cannot move it twice.
//!
//! Table layout: `migration#<id>` → `state` (the record), `journal#<catalog id>` (what the
//! apply changed, for the undo); `migrations#<tenant>` → `<id>` (index);
//! `idmap#<tenant>#<source>` → `<source id>` (source id → catalog id).

#![warn(missing_docs)]

mod error;
mod record;
mod stage;
mod start;
mod transitions;

/// applying: the snapshot, then the prepared items in journaled batches.
pub mod apply;
/// The audit report of a migration for a compliance reviewer.
pub mod audit;
/// The destination: the approved items written to the merchant's new system, and undone there.
pub mod destination;
/// Reading a source export: catalog records and consenting customers.
pub mod export;
/// The table and blob layout of migrations.
pub mod keys;
/// validating: the export converted, validated and stored in apply order.
pub mod prepare;
/// The report's per-item view: names, findings, what an apply would do (a preview).
pub mod preview;
/// Data subject requests: export or erase one customer's data (GDPR), or every customer's.
pub mod privacy;
/// An approved migration's mapping as a vendor profile (`tillbridge profile from-migration`,
/// `GET /v1/migrations/{id}/profile-mapping`).
pub mod profile;
/// Review of mapping suggestions: decisions, overrides and their audit trail.
pub mod review;
/// rolling_back: the journal undone and the catalog verified against the snapshot.
pub mod rollback;
/// The pre-migration snapshot of a tenant's catalog.
pub mod snapshot;
/// The mapping-suggest stage: suggestions for an export, stored for review.
pub mod suggest;
/// Validation of a batch of canonical items outside a migration.
pub mod validation;

pub use error::{MigrationError, Refusal};
pub use record::{
    DestinationProgress, Migration, Progress, Status, Transition, ValidationSummary, list,
    list_page, load,
};
pub use stage::{handle, handle_with, suggest};
pub use start::{ExportSource, StartRequest, start};
pub use transitions::{
    approve, approve_with, cancel, fail, pause, request_rollback, resume, rollback_request,
    suggestions_ready,
};

pub(crate) use record::{event, state_write};
pub(crate) use transitions::{advance, update};

/// Snapshots, journals and the id map are kept this long: the window in which a migration
/// can be undone.
pub const ROLLBACK_WINDOW_SECS: i64 = 180 * 24 * 3600;
/// Raw exports are deleted after this long (the prepared canonical items stay until the
/// rollback window closes).
pub const EXPORT_TTL_SECS: i64 = 30 * 24 * 3600;

/// Publishes to the bus with per-entry retry ([`tillbridge_ports::publish`]).
async fn publish(
    bus: &dyn tillbridge_ports::EventBus,
    events: &[tillbridge_domain::Envelope],
) -> Result<(), MigrationError> {
    Ok(tillbridge_ports::publish(bus, events).await?)
}

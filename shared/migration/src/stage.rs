//! The event dispatch: the stage each migration event runs, and a stage's permanent failure
//! recorded on the migration.

use tillbridge_domain::event::EventData;
use tillbridge_domain::{Envelope, MigrationId};
use tillbridge_ports::{BlobStore, EventBus, Table};

use crate::destination::Destinations;
use crate::transitions::fail;
use crate::{MigrationError, apply, prepare, rollback};

/// The event that moves a migration on: one dispatcher for every consumer (the validate
/// function and the local runtime take approved/apply events, the rollback function
/// rollback requests). `stop` says when an apply should hand over to a fresh invocation.
///
/// # Errors
///
/// [`MigrationError::Permanent`] for an event that is not a migration step; the step's
/// retryable or store errors (to be retried by the queue). A step's permanent failure is not
/// returned: it is logged and the migration marked failed with the reason.
pub async fn handle(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    event: &Envelope,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    handle_with(table, blobs, bus, None, event, stop).await
}

/// [`handle`] with the destination writers (shared/design/CLI.md "Destination"): a
/// migration with a destination is written there after the catalog apply, previewed there
/// (dry run) and undone there by its rollback. Without `dests`, such a migration fails with
/// a reason.
///
/// # Errors
///
/// As [`handle`].
pub async fn handle_with(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    dests: Option<&dyn Destinations>,
    event: &Envelope,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    let (raw, step) = match &event.body {
        EventData::MigrationMappingApproved(a) => (&a.migration_id, Step::Prepare),
        EventData::MigrationApplyRequested(a) => (&a.migration_id, Step::Apply),
        EventData::MigrationRollbackRequested(r) => (&r.migration_id, Step::Rollback),
        other => {
            return Err(MigrationError::Permanent(format!(
                "{} is not a migration step",
                other.event_type().as_str()
            )));
        }
    };
    let at = event.received_at;
    let Ok(id) = MigrationId::parse(raw) else {
        // No migration has such an id: nothing to run, nothing to mark failed.
        let reason = format!("migration {raw} not found");
        tracing::error!(migration = %raw, tenant = %event.tenant_id, correlation_id = %event.correlation_id, reason = %reason, "migration failed");
        return Ok(());
    };
    let result = match step {
        Step::Prepare => prepare::prepare(table, blobs, bus, dests, &id, at).await,
        Step::Apply => apply::apply(table, blobs, bus, dests, &id, at, stop).await,
        Step::Rollback => rollback::rollback(table, blobs, bus, dests, &id, at, stop).await,
    };
    match result {
        Err(MigrationError::Permanent(reason)) => {
            tracing::error!(migration = %id, tenant = %event.tenant_id, correlation_id = %event.correlation_id, reason = %reason, "migration failed");
            fail(table, &id, &reason, at).await
        }
        other => other,
    }
}

/// The stage an event runs.
enum Step {
    Prepare,
    Apply,
    Rollback,
}

/// The mapping-suggest step of a migration: suggestions for its export, or, when the export
/// cannot be read, the migration marked failed with the reason (None).
///
/// # Errors
///
/// Retryable or store errors of the step, for the queue to retry; a permanent failure of an
/// event that is not a `migration.requested`.
pub async fn suggest(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    refiner: Option<&dyn crate::suggest::Refine>,
    event: &Envelope,
) -> Result<Option<tillbridge_domain::event::MappingSuggested>, MigrationError> {
    match crate::suggest::suggest_for_migration(table, blobs, bus, refiner, event).await {
        Ok(s) => Ok(Some(s)),
        Err(MigrationError::Permanent(reason)) => {
            let EventData::MigrationRequested(req) = &event.body else {
                return Err(MigrationError::Permanent(reason));
            };
            tracing::error!(migration = %req.migration_id, tenant = %event.tenant_id, correlation_id = %event.correlation_id, reason = %reason, "mapping suggestions failed");
            if let Ok(id) = MigrationId::parse(&req.migration_id) {
                fail(table, &id, &reason, event.received_at).await?;
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

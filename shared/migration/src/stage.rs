//! The event dispatch: the stage each migration event runs, and a stage's permanent failure
//! recorded on the migration.

use tillbridge_domain::Envelope;
use tillbridge_domain::event::EventData;
use tillbridge_ports::{BlobStore, EventBus, Table};

use crate::transitions::fail;
use crate::{MigrationError, apply, prepare, rollback};

/// The event that moves a migration on: one dispatcher for every consumer (the validate
/// function and the local runtime take approved/apply events, the rollback function
/// rollback requests). `stop` says when an apply should hand over to a fresh invocation.
pub async fn handle(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    event: &Envelope,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    let (id, result) = match &event.body {
        EventData::MigrationMappingApproved(a) => (
            &a.migration_id,
            prepare::prepare(table, blobs, bus, &a.migration_id, event.received_at).await,
        ),
        EventData::MigrationApplyRequested(a) => (
            &a.migration_id,
            apply::apply(table, blobs, bus, &a.migration_id, event.received_at, stop).await,
        ),
        EventData::MigrationRollbackRequested(r) => (
            &r.migration_id,
            rollback::rollback(table, blobs, bus, &r.migration_id, event.received_at, stop).await,
        ),
        other => {
            return Err(MigrationError::Permanent(format!(
                "{} is not a migration step",
                other.event_type().as_str()
            )));
        }
    };
    match result {
        Err(MigrationError::Permanent(reason)) => {
            tracing::error!(migration = %id, tenant = %event.tenant_id, correlation_id = %event.correlation_id, reason = %reason, "migration failed");
            fail(table, id, &reason, event.received_at).await
        }
        other => other,
    }
}

/// The mapping-suggest step of a migration: suggestions for its export, or, when the export
/// cannot be read, the migration marked failed with the reason (None).
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
            fail(table, &req.migration_id, &reason, event.received_at).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

//! Validation of a migration batch: the canonical items (JSONL in the blob store) are
//! streamed through the validator; the report goes to the blob store, the summary to the
//! table, and `migration.validated` to the bus. Idempotent: a redelivered request rewrites
//! the same report and republishes the same event id.

use serde_json::json;
use tillbridge_domain::Envelope;
use tillbridge_domain::event::{EventData, MigrationValidated, SCHEMA_VERSION, derive_event_id};
use tillbridge_ports::table::{Condition, Item, Table};
use tillbridge_ports::{BlobStore, EventBus};
use tillbridge_validation::{Options, Report, Validator};

use crate::MigrationError;
use crate::publish;

/// Reports are kept for a year (audit), then expire.
pub const REPORT_TTL_SECS: i64 = 365 * 24 * 3600;

/// Validates the batch a `migration.validation.requested` event names: the report (JSON) to
/// the blob store, the summary to the table, `migration.validated` to the bus; the report is
/// returned.
///
/// # Errors
///
/// [`MigrationError::Permanent`] for another event or when the items are missing (lines that
/// do not parse are findings of the report); a failing table, blob store or bus otherwise.
pub async fn validate_batch(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    event: &Envelope,
) -> Result<Report, MigrationError> {
    let EventData::MigrationValidationRequested(req) = &event.body else {
        return Err(MigrationError::Permanent(format!(
            "{} is not a validation request",
            event.event_type().as_str()
        )));
    };
    let tenant = &event.tenant_id;
    let bytes = blobs.get(&req.items_key).await?.ok_or_else(|| {
        MigrationError::Permanent(format!("migration items {} not found", req.items_key))
    })?;
    let mut validator = Validator::with_capacity(
        Options {
            country: req.country.clone(),
        },
        bytes.len() / 250,
    );
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        validator.push_line(i + 1, &String::from_utf8_lossy(line));
    }
    let report = validator.finish();
    let report_key = format!(
        "reports/{tenant}/{}/validation.json",
        safe(&req.migration_id)
    );
    let body =
        serde_json::to_vec_pretty(&report).map_err(|e| MigrationError::Permanent(e.to_string()))?;
    blobs.put(&report_key, &body).await?;
    let summary = MigrationValidated {
        migration_id: req.migration_id.clone(),
        items: report.summary.items as u64,
        errors: report.summary.errors as u64,
        warnings: report.summary.warnings as u64,
        passed: report.summary.errors == 0,
        report_key: report_key.clone(),
    };
    let (pk, sk) = crate::keys::validation_summary(tenant, &req.migration_id);
    let item = Item::with_doc(
        pk,
        sk,
        &json!({ "summary": summary, "validated_at": event.received_at }),
    )?
    .expiring_at(event.received_at.unix_seconds() + REPORT_TTL_SECS);
    table.put(item, Condition::Always).await?;
    let out = Envelope {
        event_id: derive_event_id(&format!("validated/{tenant}/{}", event.event_id), 0),
        entity_id: req.migration_id.clone(),
        body: EventData::MigrationValidated(summary),
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: None,
        occurred_at: event.occurred_at,
        received_at: event.received_at,
        correlation_id: event.correlation_id.clone(),
        delivery_key: None,
    };
    publish(bus, std::slice::from_ref(&out)).await?;
    Ok(report)
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}

//! The mapping-suggest stage: a `migration.requested` event's export (JSON or CSV in the blob
//! store) is profiled, suggestions are stored for review with their audit entry, and
//! `migration.mapping.suggested` is published. Idempotent: a redelivery rewrites the same
//! suggestions and republishes the same event id.

use async_trait::async_trait;
use tillbridge_domain::event::{EventData, MappingSuggested, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{CorrelationId, Envelope, MigrationId, TenantId, Timestamp};
use tillbridge_mapping::{Band, FieldProfile, Suggestion, profile_csv, profile_json, suggest};
use tillbridge_ports::{BlobStore, EventBus, Table};

use crate::publish;
use crate::{MigrationError, review as mapping_review};

/// One model call made while refining suggestions (for the audit trail).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCall {
    /// The model's name.
    pub model: String,
    /// SHA-256 of the prompt sent; never the prompt.
    pub prompt_hash: String,
    /// Tokens used (prompt and answer).
    pub tokens: u64,
    /// Mean confidence of the model's answers.
    pub confidence: f64,
    /// What the model answered, summarized (no export values).
    pub summary: String,
}

/// Who refines a migration's suggestions.
pub struct RefineContext<'a> {
    /// The merchant.
    pub tenant: &'a TenantId,
    /// The migration's id.
    pub migration: &'a str,
    /// The migration's correlation id.
    pub correlation: &'a CorrelationId,
    /// When the stage runs.
    pub at: Timestamp,
}

/// A tier that improves the offline suggestions after they are made (the LLM tier, when it
/// is configured). It must not fail the stage: on any trouble it leaves them as they are.
#[async_trait]
pub trait Refine: Send + Sync {
    /// Improves `suggestions` in place (one per field of `fields`), returning the model calls
    /// made, for the audit trail.
    async fn refine(
        &self,
        cx: &RefineContext<'_>,
        fields: &[FieldProfile],
        suggestions: &mut [Suggestion],
    ) -> Vec<ModelCall>;
}

/// Runs the stage for a `migration.requested` event: the export profiled, suggestions
/// made (and refined), stored with their audit entries, the migration moved to
/// mapping_review and `migration.mapping.suggested` published; its data is returned.
///
/// # Errors
///
/// [`MigrationError::Permanent`] for another event, or an export that is missing or does not
/// parse; a failing table, blob store or bus otherwise.
pub async fn suggest_for_migration(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    refiner: Option<&dyn Refine>,
    event: &Envelope,
) -> Result<MappingSuggested, MigrationError> {
    let EventData::MigrationRequested(req) = &event.body else {
        return Err(MigrationError::Permanent(format!(
            "{} is not a migration request",
            event.event_type().as_str()
        )));
    };
    let bytes = blobs
        .get(&req.export_key)
        .await?
        .ok_or_else(|| MigrationError::Permanent(format!("export {} not found", req.export_key)))?;
    let csv = crate::export::is_csv(&req.export_key)
        || !bytes.trim_ascii_start().starts_with(b"[")
            && !bytes.trim_ascii_start().starts_with(b"{");
    let fields = if csv {
        profile_csv(&bytes).map_err(|e| MigrationError::Permanent(format!("export: {e}")))?
    } else {
        // A record at a time: a large export is never held as a whole tree.
        let export = |e: String| MigrationError::Permanent(format!("export: {e}"));
        let mut profiler = tillbridge_mapping::JsonProfiler::default();
        match crate::export::stream_json(&bytes, &mut |r| profiler.push(&r)).map_err(export)? {
            crate::export::Streamed::Read { .. } => profiler.finish(),
            crate::export::Streamed::Whole => {
                let records = crate::export::parse_records(&bytes, false).map_err(export)?;
                profile_json(&records.catalog)
            }
        }
    };
    let mut suggestions = suggest(&fields);
    let calls = match refiner {
        Some(r) => {
            let cx = RefineContext {
                tenant: &event.tenant_id,
                migration: &req.migration_id,
                correlation: &event.correlation_id,
                at: event.received_at,
            };
            r.refine(&cx, &fields, &mut suggestions).await
        }
        None => Vec::new(),
    };
    for call in &calls {
        mapping_review::record_model_call(
            table,
            &event.tenant_id,
            &req.migration_id,
            call,
            event.received_at,
        )
        .await?;
    }
    mapping_review::store_suggestions(
        table,
        &event.tenant_id,
        &req.migration_id,
        if calls.is_empty() {
            "offline-tiers"
        } else {
            "offline-tiers+llm"
        },
        &suggestions,
        &fields,
        event.received_at,
    )
    .await?;
    let summary = MappingSuggested {
        migration_id: req.migration_id.clone(),
        fields: suggestions.len() as u64,
        mapped: suggestions.iter().filter(|s| s.target.is_some()).count() as u64,
        high: suggestions.iter().filter(|s| s.band == Band::High).count() as u64,
    };
    let out = Envelope {
        event_id: derive_event_id(
            &format!("suggested/{}/{}", event.tenant_id, event.event_id),
            0,
        ),
        entity_id: req.migration_id.clone(),
        body: EventData::MigrationMappingSuggested(summary.clone()),
        schema_version: SCHEMA_VERSION,
        tenant_id: event.tenant_id.clone(),
        provider: None,
        occurred_at: event.occurred_at,
        received_at: event.received_at,
        correlation_id: event.correlation_id.clone(),
        delivery_key: None,
    };
    // An id no migration can have: nothing to move on.
    if let Ok(id) = MigrationId::parse(&req.migration_id) {
        crate::suggestions_ready(table, &id, event.received_at).await?;
    }
    publish(bus, std::slice::from_ref(&out)).await?;
    Ok(summary)
}

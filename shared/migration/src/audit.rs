//! The audit report of a migration, for a compliance reviewer: who started and approved it,
//! every status change, every human override with its reason, every AI suggestion with its
//! prompt hash and tokens (never the prompt), counts in and out (customers left out for want
//! of consent included), the snapshot's hash and the rollback's outcome. No customer data.

use serde_json::{Value, json};
use tillbridge_ports::{BlobStore, Table};

use super::{Migration, rollback};
use crate::MigrationError;
use crate::review::{AuditEntry, audit_trail};

/// The audit report of `m` as JSON: the record's who and when, status history, overrides,
/// AI suggestions with token totals, counts, validation and customer counts, the snapshot's
/// hash and the rollback's outcome.
///
/// # Errors
///
/// The table or blob store failed, or the audit trail does not parse.
pub async fn report(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
) -> Result<Value, MigrationError> {
    let trail = audit_trail(table, &m.tenant_id, m.id.as_str()).await?;
    let (mut ai, mut overrides) = (Vec::new(), Vec::new());
    let mut tokens = 0u64;
    for e in trail {
        match e {
            AuditEntry::AiSuggestion {
                agent,
                prompt_hash,
                response_summary,
                confidence,
                tokens: t,
                at,
            } => {
                tokens += t;
                ai.push(json!({ "agent": agent, "prompt_sha256": prompt_hash, "summary": response_summary, "mean_confidence": confidence, "tokens": t, "at": at }));
            }
            AuditEntry::HumanOverride {
                source,
                original,
                new,
                reason,
                reviewer,
                at,
            } => overrides.push(json!({ "source": source, "from": original, "to": new, "reason": reason, "reviewer": reviewer, "at": at })),
        }
    }
    let rollback = match &m.rollback_report_key {
        Some(k) => match blobs.get(k).await? {
            Some(bytes) => serde_json::from_slice::<rollback::Report>(&bytes).ok().map(|r| {
                json!({ "verified": r.verified, "restored": r.restored, "removed": r.removed,
                        "conflicts": r.conflicts.len(), "changed_outside": r.changed_outside.len(),
                        "snapshot_sha256": r.snapshot_sha256, "reconciled_sha256": r.reconciled_sha256, "at": r.at })
            }),
            None => None,
        },
        None => None,
    };
    let p = &m.progress;
    Ok(json!({
        "migration_id": m.id,
        "tenant_id": m.tenant_id,
        "source_name": m.source_name,
        "status": m.status,
        "started_by": m.created_by,
        "started_at": m.created_at,
        "approved_by": m.approved_by,
        "history": m.history,
        "ai_suggestions": ai,
        "ai_tokens": tokens,
        "human_overrides": overrides,
        "counts": {
            "records_in": p.records,
            "items_prepared": p.items,
            "held_back": p.skipped,
            "created": p.created,
            "changed": p.changed,
            "unchanged": p.unchanged,
            "customers": m.customers,
        },
        "validation": m.validation,
        "snapshot": m.snapshot.as_ref().map(|s| json!({ "sha256": s.sha256, "items": s.items, "taken_at": s.taken_at, "key": s.key })),
        "rollback": rollback,
        "error": m.error,
    }))
}

//! Undoing a migration at its destination: what it created deleted, what it changed
//! restored, each read back; objects changed at the vendor since are left alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tillbridge_connectors::{Undo, UndoResult};
use tillbridge_ports::table::{Condition, Item, Table};

use super::{Destinations, expiry, load_journal, open, vendor};
use crate::keys::{DEST_UNDO_SK, state_pk};
use crate::{Migration, MigrationError};

/// One product's undo as the rollback report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoLine {
    /// The source product's id.
    pub source_id: String,
    /// The vendor's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// `deleted`, `restored`, `nothing`, `conflict` or `failed`.
    pub result: String,
    /// Read back as it should be (conflicts: false; left alone).
    pub verified: bool,
    /// Why it failed, or the versions of a conflict (recorded → found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a rollback did at the destination (part of the rollback report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationUndo {
    /// The vendor.
    pub provider: String,
    /// Objects the migration created, deleted.
    pub deleted: u64,
    /// Objects it changed, back to their prior content.
    pub restored: u64,
    /// Vendor ids of objects changed at the vendor since the migration: left alone.
    pub conflicts: Vec<String>,
    /// Vendor (or source) ids whose undo failed.
    pub failed: Vec<String>,
    /// Every undo was read back as it should be (conflicts are explained, not failures).
    pub verified: bool,
    /// Per product.
    pub objects: Vec<UndoLine>,
}

fn line(u: &Undo) -> UndoLine {
    let (result, detail) = match &u.result {
        UndoResult::Deleted => ("deleted", None),
        UndoResult::Restored => ("restored", None),
        UndoResult::Nothing => ("nothing", None),
        UndoResult::Conflict { recorded, found } => (
            "conflict",
            Some(format!("recorded versions {recorded:?}, found {found:?}")),
        ),
        UndoResult::Failed { reason } => ("failed", Some(reason.clone())),
    };
    UndoLine {
        source_id: u.source_id.clone(),
        object_id: u.object_id.clone(),
        result: result.to_owned(),
        verified: u.verified,
        detail,
    }
}

fn summary(provider: &str, lines: Vec<UndoLine>) -> DestinationUndo {
    let count = |r: &str| lines.iter().filter(|l| l.result == r).count() as u64;
    let ids = |r: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.result == r)
            .map(|l| l.object_id.clone().unwrap_or_else(|| l.source_id.clone()))
            .collect()
    };
    DestinationUndo {
        provider: provider.to_owned(),
        deleted: count("deleted"),
        restored: count("restored"),
        conflicts: ids("conflict"),
        failed: ids("failed"),
        verified: lines.iter().all(|l| l.verified || l.result == "conflict"),
        objects: lines,
    }
}

/// Undoes the migration's writes at its destination (None without one). A rollback run
/// again (after a crash or a failed verification) finds what it deleted or restored gone or
/// back and keeps the first run's results for those.
///
/// # Errors
/// A vendor call that failed as a whole, missing credentials, the stores' errors.
pub(crate) async fn undo(
    table: &dyn Table,
    dests: Option<&dyn Destinations>,
    m: &Migration,
) -> Result<Option<DestinationUndo>, MigrationError> {
    let Some(provider) = m.destination else {
        return Ok(None);
    };
    let journal = load_journal(table, &m.id).await?;
    if journal.entries.is_empty() && journal.categories.is_empty() {
        return Ok(Some(summary(provider.as_str(), Vec::new())));
    }
    let Some(dest) = open(dests, m).await? else {
        return Ok(None);
    };
    let undone = tillbridge_connectors::rollback(&*dest, m.id.as_str(), &journal)
        .await
        .map_err(vendor)?;
    let pk = state_pk(&m.id);
    let mut before: BTreeMap<String, UndoLine> = match table.get(&pk, DEST_UNDO_SK).await? {
        Some(i) => i
            .doc::<Vec<UndoLine>>()?
            .into_iter()
            .map(|l| (l.source_id.clone(), l))
            .collect(),
        None => BTreeMap::new(),
    };
    let mut lines = Vec::with_capacity(undone.len());
    for u in &undone {
        let now = line(u);
        let kept = before.remove(&now.source_id).filter(|b| {
            now.result == "nothing" && matches!(b.result.as_str(), "deleted" | "restored")
        });
        lines.push(kept.unwrap_or(now));
    }
    lines.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    table
        .put(
            Item::with_doc(&pk, DEST_UNDO_SK, &lines)?.expiring_at(expiry(m)),
            Condition::Always,
        )
        .await?;
    let s = summary(provider.as_str(), lines);
    tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, provider = provider.as_str(), deleted = s.deleted, restored = s.restored, conflicts = s.conflicts.len(), failed = s.failed.len(), verified = s.verified, "destination undone");
    Ok(Some(s))
}

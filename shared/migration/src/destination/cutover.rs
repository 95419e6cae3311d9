//! Cutover: from the apply until the merchant switches, changes the source vendor keeps
//! sending (webhooks, pulls) flow on to the destination, so the new system is current on
//! switch day (shared/design/CLI.md "Destination").
//!
//! ```text
//! apply starts ─► watch the source's catalog namespace (catalog::watch)
//! webhook/pull applied ─► the catalog marks the changed product
//! flow (after a consumer's apply, `migration cutover`, the switch) ─► per marked product,
//!     the catalog's current state written through the same journal as the migration's
//!     write (prior state first, idempotency keys, id map), then the mark settled
//! switch ─► a last flow, then the watch ends; rollback ends it too, before it undoes
//! ```
//!
//! A product deleted at the source is deleted at the destination when this migration
//! created it there; one that existed there before is left (its rollback restores it) and
//! reported as `kept`. What flowed is kept per product (`cutover#<product>` in the
//! migration's partition) and counted on the record; the report lists it.
//!
//! Flows only run while the migration is `completed` (its own write done); marks wait
//! meanwhile. Failed products keep their mark and are tried again by the next flow.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tillbridge_catalog::watch;
use tillbridge_connectors::{Action, Journal, PriorState, UndoResult};
use tillbridge_domain::{MigrationId, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, query_all};

use super::{
    Destinations, PARENTS_PER_CALL, expiry, group, load_journal, match_existing, open, vendor,
    write::write_chunk,
};
use crate::keys::{self, state_pk};
use crate::{Migration, MigrationError, Refusal, Status, load, update};

/// The cutover of a migration with a destination, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutover {
    /// The catalog namespace watched: the migration's source name (a `square` migration
    /// watches what Square's webhooks and pulls change).
    pub namespace: String,
    /// When changes began to be watched (the apply's start).
    pub since: Timestamp,
    /// What flowed so far: per product its latest outcome, counted.
    #[serde(default)]
    pub flowed: FlowCounts,
    /// The last flow that wrote or deleted anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_flow_at: Option<Timestamp>,
    /// When the cutover ended; None while changes still flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<CutoverEnd>,
}

impl Cutover {
    /// Changes still flow.
    pub fn active(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// Why a cutover ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutoverEnd {
    /// The merchant switched to the new system (`migration switch`).
    Switched,
    /// The migration was rolled back.
    RolledBack,
    /// A later migration of the same source took the watch over.
    Superseded,
    /// The migration failed or was cancelled.
    Stopped,
}

/// Products that flowed, by their latest outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FlowCounts {
    /// Created at the destination (new at the source during the cutover).
    pub created: u64,
    /// Changed at the destination.
    pub updated: u64,
    /// Already as the source has it.
    pub unchanged: u64,
    /// Deleted at the source, and at the destination (which this migration created).
    pub deleted: u64,
    /// Deleted at the source but existing at the destination before the migration: left.
    pub kept: u64,
    /// Not written; tried again by the next flow.
    pub failed: u64,
}

/// What the cutover last flowed of one source product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLine {
    /// The source product's id.
    pub product_id: String,
    /// `created`, `updated`, `unchanged`, `deleted`, `kept` or `failed`.
    pub action: String,
    /// The destination's id of the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Why it failed or was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it flowed.
    pub at: Timestamp,
}

/// Starts the cutover of `m` (with a destination and none yet): its source namespace is
/// watched from now on; a cutover of an earlier migration of the same source ends
/// (superseded). Returns the record as updated.
///
/// # Errors
/// The stores failed.
pub(crate) async fn begin(
    table: &dyn Table,
    m: &Migration,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    if m.destination.is_none() || m.cutover.is_some() {
        return Ok(m.clone());
    }
    if let Some(w) = watch::watcher(table, &m.tenant_id, &m.source_name).await?
        && w.watcher != m.id.as_str()
        && let Ok(earlier) = MigrationId::parse(&w.watcher)
    {
        mark_ended(table, &earlier, CutoverEnd::Superseded, at).await?;
    }
    watch::watch(table, &m.tenant_id, &m.source_name, m.id.as_str(), at).await?;
    let namespace = m.source_name.clone();
    update(table, &m.id, |r| {
        if r.cutover.is_none() {
            r.cutover = Some(Cutover {
                namespace: namespace.clone(),
                since: at,
                flowed: FlowCounts::default(),
                last_flow_at: None,
                ended_at: None,
                ended_by: None,
            });
        }
        Ok(())
    })
    .await
}

/// Ends the cutover of `m` (no more changes flow): the watch removed, its pending marks
/// dropped, the record marked. Nothing without an active cutover.
///
/// # Errors
/// The stores failed.
pub(crate) async fn end(
    table: &dyn Table,
    m: &Migration,
    why: CutoverEnd,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let Some(c) = m.cutover.as_ref().filter(|c| c.active()) else {
        return Ok(());
    };
    watch::unwatch(table, &m.tenant_id, &c.namespace, m.id.as_str()).await?;
    mark_ended(table, &m.id, why, at).await
}

async fn mark_ended(
    table: &dyn Table,
    id: &MigrationId,
    why: CutoverEnd,
    at: Timestamp,
) -> Result<(), MigrationError> {
    match update(table, id, |r| {
        if let Some(c) = r.cutover.as_mut().filter(|c| c.active()) {
            c.ended_at = Some(at);
            c.ended_by = Some(why);
        }
        Ok(())
    })
    .await
    {
        Ok(_) | Err(MigrationError::Refused(Refusal::NotFound)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Flows the pending source changes of every active cutover of `tenant` to their
/// destinations. Returns the products that flowed. Cheap when nothing is watched (one
/// query). Cutovers of migrations that are no longer completed or in progress end here.
///
/// # Errors
/// A destination failure (the marks stay; the next flow retries), the stores' errors.
pub async fn flow(
    table: &dyn Table,
    dests: Option<&dyn Destinations>,
    tenant: &TenantId,
    at: Timestamp,
) -> Result<u64, MigrationError> {
    let mut flowed = 0;
    for (_, w) in watch::watches(table, tenant).await? {
        let Ok(id) = MigrationId::parse(&w.watcher) else {
            continue;
        };
        let Some((m, _)) = load(table, &id).await? else {
            continue;
        };
        match m.status {
            Status::Completed => flowed += flow_one(table, dests, &m, at).await?,
            // The migration's own write goes on (or waits for approval): marks wait.
            Status::Pending
            | Status::MappingReview
            | Status::Validating
            | Status::Previewed
            | Status::Applying => {}
            Status::RollingBack | Status::RolledBack => {
                end(table, &m, CutoverEnd::RolledBack, at).await?;
            }
            Status::Failed | Status::Cancelled => {
                end(table, &m, CutoverEnd::Stopped, at).await?;
            }
        }
    }
    Ok(flowed)
}

/// Flows the pending changes of one completed migration, a call of [`PARENTS_PER_CALL`]
/// products at a time, each mark visited once.
async fn flow_one(
    table: &dyn Table,
    dests: Option<&dyn Destinations>,
    m: &Migration,
    at: Timestamp,
) -> Result<u64, MigrationError> {
    let Some(c) = m.cutover.as_ref().filter(|c| c.active()) else {
        return Ok(0);
    };
    let ns = c.namespace.as_str();
    let mut after: Option<String> = None;
    let mut journal: Option<Journal> = None;
    let mut dest = None;
    let mut flowed = 0;
    loop {
        let changes =
            watch::changed(table, &m.tenant_id, ns, after.as_deref(), PARENTS_PER_CALL).await?;
        let Some(last) = changes.last() else {
            break;
        };
        after = Some(last.product_id.clone());
        if dest.is_none() {
            dest = open(dests, m).await?;
        }
        let (Some(d), Some(provider)) = (dest.as_deref(), m.destination) else {
            return Ok(flowed);
        };
        let journal = match &mut journal {
            Some(j) => j,
            None => journal.insert(load_journal(table, &m.id).await?),
        };
        let mut parents = Vec::new();
        let mut gone = Vec::new();
        for change in &changes {
            let product = watch::product(table, &m.tenant_id, ns, &change.product_id).await?;
            if product.items.is_empty() {
                gone.push(change.product_id.clone());
            } else {
                parents.extend(group(&product.items));
            }
        }
        match_existing(table, m, provider, &mut parents, journal).await?;
        let stopped = write_chunk(table, d, m, &parents, journal, expiry(m)).await?;
        let mut lines: Vec<FlowLine> = parents
            .iter()
            .map(|p| line_of(journal, &p.source_id, at))
            .collect();
        lines.extend(delete_gone(d, m, journal, &gone, at).await?);
        record(table, m, &lines).await?;
        let failed: HashSet<&str> = lines
            .iter()
            .filter(|l| l.action == "failed")
            .map(|l| l.product_id.as_str())
            .collect();
        for change in &changes {
            if !failed.contains(change.product_id.as_str()) {
                watch::settle(table, &m.tenant_id, ns, change).await?;
            }
        }
        flowed += lines.len() as u64;
        if let Some(e) = stopped {
            tracing::warn!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, error = %e, "cutover flow stopped");
            return Err(vendor(e));
        }
    }
    if flowed > 0 {
        tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, products = flowed, "cutover flowed");
    }
    Ok(flowed)
}

fn line_of(journal: &Journal, source_id: &str, at: Timestamp) -> FlowLine {
    let o = journal.entries.get(source_id);
    let (action, reason) = match o.map(|o| &o.action) {
        Some(Action::Created) => ("created", None),
        Some(Action::Updated) => ("updated", None),
        Some(Action::Unchanged) => ("unchanged", None),
        Some(Action::Failed { reason }) => ("failed", Some(reason.clone())),
        None => ("failed", Some("not written".to_owned())),
    };
    FlowLine {
        product_id: source_id.to_owned(),
        action: action.to_owned(),
        object_id: o.and_then(|o| o.object_id.clone()),
        reason,
        at,
    }
}

/// Products gone at the source: deleted at the destination when this migration created
/// them there, kept otherwise.
async fn delete_gone(
    dest: &dyn tillbridge_connectors::Destination,
    m: &Migration,
    journal: &Journal,
    gone: &[String],
    at: Timestamp,
) -> Result<Vec<FlowLine>, MigrationError> {
    let mut lines = Vec::new();
    let mut created = Vec::new();
    for id in gone {
        let Some(o) = journal.entries.get(id).filter(|o| o.object_id.is_some()) else {
            // Never written there: nothing to delete.
            lines.push(FlowLine {
                product_id: id.clone(),
                action: "unchanged".into(),
                object_id: None,
                reason: Some("deleted at the source; never written to the destination".into()),
                at,
            });
            continue;
        };
        let made_here = o.action == Action::Created
            || matches!(o.prior, Some(PriorState::Absent) | None) && o.sent;
        if made_here {
            created.push(o.clone());
        } else {
            lines.push(FlowLine {
                product_id: id.clone(),
                action: "kept".into(),
                object_id: o.object_id.clone(),
                reason: Some(
                    "deleted at the source; it existed at the destination before the \
                     migration, so it stays (a rollback restores its prior content)"
                        .into(),
                ),
                at,
            });
        }
    }
    if created.is_empty() {
        return Ok(lines);
    }
    let undone = dest.delete(m.id.as_str(), &created).await.map_err(vendor)?;
    for u in undone {
        let (action, reason) = match &u.result {
            UndoResult::Deleted | UndoResult::Nothing => ("deleted", None),
            UndoResult::Conflict { .. } => (
                "kept",
                Some("changed at the destination since it was written: left alone".to_owned()),
            ),
            UndoResult::Failed { reason } => ("failed", Some(reason.clone())),
            UndoResult::Restored => ("updated", None),
        };
        lines.push(FlowLine {
            product_id: u.source_id.clone(),
            action: action.into(),
            object_id: u.object_id.clone(),
            reason,
            at,
        });
    }
    Ok(lines)
}

/// Keeps the flow lines and recounts the record's cutover from every product's latest.
async fn record(
    table: &dyn Table,
    m: &Migration,
    lines: &[FlowLine],
) -> Result<(), MigrationError> {
    if lines.is_empty() {
        return Ok(());
    }
    let pk = state_pk(&m.id);
    let expires = expiry(m);
    for l in lines {
        table
            .put(
                Item::with_doc(&pk, keys::cutover_sk(&l.product_id), l)?.expiring_at(expires),
                Condition::Always,
            )
            .await?;
    }
    let all = flow_lines(table, &m.id).await?;
    let mut counts = FlowCounts::default();
    for l in &all {
        match l.action.as_str() {
            "created" => counts.created += 1,
            "updated" => counts.updated += 1,
            "unchanged" => counts.unchanged += 1,
            "deleted" => counts.deleted += 1,
            "kept" => counts.kept += 1,
            _ => counts.failed += 1,
        }
    }
    let wrote = lines.iter().any(|l| l.action != "unchanged");
    let at = lines.iter().map(|l| l.at).max();
    update(table, &m.id, |r| {
        if let Some(c) = r.cutover.as_mut() {
            c.flowed = counts;
            if wrote {
                c.last_flow_at = at;
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// What the cutover flowed, per product (latest), by product id.
///
/// # Errors
/// The table failed, or a line is corrupt.
pub async fn flow_lines(
    table: &dyn Table,
    id: &MigrationId,
) -> Result<Vec<FlowLine>, MigrationError> {
    query_all(table, &state_pk(id), keys::CUTOVER_PREFIX)
        .await?
        .iter()
        .map(|i| i.doc().map_err(MigrationError::from))
        .collect()
}

/// The cutover part of the migration report: `{"namespace", "since", "active", "ended_at",
/// "ended_by", "flowed": {counts}, "pending": <products waiting>, "items": [FlowLine]}`;
/// None without a cutover.
///
/// # Errors
/// The stores failed.
pub async fn report(
    table: &dyn Table,
    m: &Migration,
) -> Result<Option<serde_json::Value>, MigrationError> {
    let Some(c) = &m.cutover else {
        return Ok(None);
    };
    let pending = if c.active() {
        watch::changed(table, &m.tenant_id, &c.namespace, None, 1000)
            .await?
            .len()
    } else {
        0
    };
    let items = flow_lines(table, &m.id).await?;
    let mut v = serde_json::to_value(c).map_err(|e| MigrationError::Permanent(e.to_string()))?;
    v["active"] = serde_json::json!(c.active());
    v["pending"] = serde_json::json!(pending);
    v["items"] = serde_json::to_value(&items).unwrap_or_default();
    Ok(Some(v))
}

/// The merchant switched to the new system: a last flow of what is pending, then no more
/// changes flow (the watch ends). Refused unless the migration is completed with an active
/// cutover. Returns the record.
///
/// # Errors
/// [`MigrationError::Refused`] as said; the last flow's destination failure (the cutover
/// stays active: switch again); the stores' errors.
pub async fn switch(
    table: &dyn Table,
    dests: Option<&dyn Destinations>,
    id: &MigrationId,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    let Some((m, _)) = load(table, id).await? else {
        return Err(Refusal::NotFound.into());
    };
    match (&m.cutover, m.status) {
        (None, _) => {
            return Err(Refusal::Conflict(
                "this migration has no cutover (it has no destination, or has not been applied)"
                    .into(),
            )
            .into());
        }
        (Some(c), _) if !c.active() => {
            return Err(Refusal::Conflict(format!(
                "the cutover already ended ({})",
                c.ended_by.map_or("ended", |e| match e {
                    CutoverEnd::Switched => "switched",
                    CutoverEnd::RolledBack => "rolled back",
                    CutoverEnd::Superseded => "superseded by a later migration",
                    CutoverEnd::Stopped => "stopped",
                })
            ))
            .into());
        }
        (Some(_), Status::Completed) => {}
        (Some(_), s) => {
            return Err(Refusal::Conflict(format!(
                "a {} migration cannot switch; it switches once completed",
                s.as_str()
            ))
            .into());
        }
    }
    flow_one(table, dests, &m, at).await?;
    end(table, &m, CutoverEnd::Switched, at).await?;
    load(table, id)
        .await?
        .map(|(m, _)| m)
        .ok_or_else(|| Refusal::NotFound.into())
}

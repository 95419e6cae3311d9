//! The lifecycle record: its status, progress counters, history and the API view; reading it.

use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{EventData, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{
    CorrelationId, Currency, Envelope, MigrationId, Provider, TenantId, Timestamp,
};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};

use crate::keys::{self, STATE_SK, state_pk};
use crate::{MigrationError, export, snapshot};

/// Where a migration is in its lifecycle (stored and shown in `snake_case`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, the export stored; mapping-suggest has not stored its suggestions yet.
    Pending,
    /// Suggestions stored; waiting for a reviewer to override fields and approve.
    MappingReview,
    /// Approved; the export is being converted, validated and prepared for the apply.
    Validating,
    /// Approved for a preview: validated and prepared, the report (with what would be
    /// created, changed or left unchanged) waits for a second approval before the apply.
    Previewed,
    /// The prepared items are being written to the catalog in batches (after the snapshot).
    Applying,
    /// Every prepared item was applied.
    Completed,
    /// A stage gave up, or a rollback could not be verified; [`Migration::error`] says why.
    Failed,
    /// Cancelled before the apply: nothing was written to the catalog.
    Cancelled,
    /// The apply's journal is being undone.
    RollingBack,
    /// Undone, and the catalog verified against the snapshot.
    RolledBack,
}

impl Status {
    /// The status as stored and shown (`mapping_review`, `rolled_back`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::MappingReview => "mapping_review",
            Status::Validating => "validating",
            Status::Previewed => "previewed",
            Status::Applying => "applying",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::RollingBack => "rolling_back",
            Status::RolledBack => "rolled_back",
        }
    }
}

/// Counts an operator watches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Source records in the export.
    pub records: u64,
    /// Canonical items prepared from them (parents and variants).
    pub items: u64,
    /// Items processed by the apply so far (the checkpoint).
    pub applied: u64,
    /// Catalog items and customers the apply created (none had the id before).
    pub created: u64,
    /// Records the apply overwrote with different content (journaled with their prior state).
    pub changed: u64,
    /// Records already holding exactly the prepared content: nothing written.
    pub unchanged: u64,
    /// Held back: validation errors or a repeated id in the export.
    pub skipped: u64,
    /// Journal entries undone by a rollback so far.
    pub rolled_back: u64,
    /// Records a rollback set back to the state they had before the apply.
    pub restored: u64,
    /// Records a rollback deleted because the apply had created them.
    pub removed: u64,
    /// Records a rollback left alone because someone changed them after the apply.
    pub conflicts: u64,
    /// The write into the destination (`--destination`), products so far; zero without one.
    #[serde(default)]
    pub destination: DestinationProgress,
}

/// Products written into the destination so far, counted from its journal after every call
/// (a resumed write recounts, never double counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationProgress {
    /// Created or updated there.
    pub written: u64,
    /// Already as they would be written: nothing sent.
    pub unchanged: u64,
    /// Not written (the vendor refused, a conflict, or a run stopped before them).
    pub failed: u64,
    /// Redirects from old storefront paths made there.
    pub redirects: u64,
}

/// One status change, for the audit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The status moved to (or kept, for a pause or resume).
    pub status: Status,
    /// When.
    pub at: Timestamp,
    /// Who: the operator, or the stage (`validate`, `apply`, `rollback`, …); a pause or resume
    /// is noted as `<operator> (paused)` / `(resumed)`, a cancel during a pause as `(cancelled)`.
    pub by: String,
}

/// A merchant's migration from one POS: the lifecycle record, stored as JSON at
/// `migration#<id>` / `state` (see [`keys`](crate::keys)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// Ours: `mig-` and 20 hex digits (derived from the idempotency key when there is one).
    pub id: MigrationId,
    /// The merchant migrating.
    pub tenant_id: TenantId,
    /// The POS the export came from (1 to 40 letters, digits, '-' or '_'); names the id map.
    pub source_name: String,
    /// Blob key of the uploaded export (`exports/<tenant>/…`; `.csv` means CSV, else JSON).
    pub export_key: String,
    /// Currency of the export's prices.
    pub currency: Currency,
    /// Country whose rules the validation applies, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Where the migration is in its lifecycle.
    pub status: Status,
    /// An operator paused it: the apply stops at its next checkpoint until resumed.
    #[serde(default)]
    pub paused: bool,
    /// Stop after validation (status previewed) until a second approval applies it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview: bool,
    /// Cancelled during the apply: it stops at the next checkpoint and rolls back.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Who started it.
    pub created_by: String,
    /// When it was started.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// Carried by every event of the migration and its log lines.
    pub correlation_id: CorrelationId,
    /// The reviewer who approved the mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// Counts of the stages so far.
    #[serde(default)]
    pub progress: Progress,
    /// The validation's counts, once the export is prepared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSummary>,
    /// The prepared canonical items (JSONL), in apply order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_key: Option<String>,
    /// The pre-apply snapshot of the tenant's catalog, once taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<snapshot::Manifest>,
    /// Sort key of the last journal entry a rollback undid (where it goes on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_cursor: Option<String>,
    /// Blob key of the rollback report (JSON [`rollback::Report`](crate::rollback::Report)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_report_key: Option<String>,
    /// Why it failed, for an operator (no values from the export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The vendor the approved items are also written to (shared/design/CLI.md
    /// "Destination"): the tenant's account there, through its API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Provider>,
    /// With a destination: source changes flowing to it until the merchant switches
    /// (begins with the apply, ends at the switch or the rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover: Option<crate::destination::Cutover>,
    /// A re-run of the items an earlier migration held back (after the export was fixed):
    /// only those items (and their parents) are taken from this export; customers are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<MigrationId>,
    /// Customers in the export, and those left out for want of consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<export::CustomerCounts>,
    /// Every status change and pause/resume, oldest first.
    #[serde(default)]
    pub history: Vec<Transition>,
}

/// The validation's outcome as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationSummary {
    /// Canonical items validated.
    pub items: u64,
    /// Findings of error severity (items with price, duplicate or schema errors are held back).
    pub errors: u64,
    /// Findings of warning severity (reported; the items are applied).
    pub warnings: u64,
    /// Blob key of the validation report (JSON).
    pub report_key: String,
    /// Values in the export that did not convert (record number and field, no values).
    #[serde(default)]
    pub conversion_problems: u64,
}

impl Migration {
    /// The record's JSON as the API shows it, with `percent` added (0 to 100): items applied of
    /// those prepared, or while rolling back, journal entries undone of those the apply created
    /// or changed.
    pub fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        let p = &self.progress;
        let percent = match self.status {
            Status::RollingBack | Status::RolledBack => (p.rolled_back * 100)
                .checked_div(p.created + p.changed)
                .unwrap_or(100),
            // Items held back count as not applied: a migration that lost items never
            // shows 100 %.
            _ if p.items + p.skipped == 0 => 0,
            _ => p.applied * 100 / (p.items + p.skipped),
        };
        v["percent"] = serde_json::json!(percent);
        v
    }

    /// A change within the status (pause, resume), kept in the history.
    pub(crate) fn noted(&mut self, at: Timestamp, by: &str) {
        self.updated_at = at;
        self.history.push(Transition {
            status: self.status,
            at,
            by: by.to_owned(),
        });
    }

    /// A status change, kept in the history.
    pub(crate) fn moved(&mut self, status: Status, at: Timestamp, by: &str) {
        self.status = status;
        self.noted(at, by);
    }
}

/// The record and its table version, or None when there is no such migration.
///
/// # Errors
///
/// The table failed ([`MigrationError::Store`]), or the stored record does not parse.
pub async fn load(
    table: &dyn Table,
    id: &MigrationId,
) -> Result<Option<(Migration, u64)>, MigrationError> {
    match table.get(&state_pk(id), STATE_SK).await? {
        Some(i) => Ok(Some((i.doc()?, i.version))),
        None => Ok(None),
    }
}

/// Migrations of a tenant, newest first.
///
/// # Errors
///
/// The table failed, or a stored record does not parse.
pub async fn list(table: &dyn Table, tenant: &TenantId) -> Result<Vec<Migration>, MigrationError> {
    let mut out = Vec::new();
    for i in query_all(table, &keys::index_pk(tenant), "").await? {
        let Ok(id) = MigrationId::parse(&i.sk) else {
            continue;
        };
        if let Some((m, _)) = load(table, &id).await? {
            out.push(m);
        }
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.created_at));
    Ok(out)
}

/// One page of a tenant's migrations, newest first (by id: migration ids are UUIDv7): at
/// most `limit` after the id `after`, and the id to continue after (None on the last page).
///
/// # Errors
/// The table failed, or a stored record does not parse.
pub async fn list_page(
    table: &dyn Table,
    tenant: &TenantId,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<Migration>, Option<String>), MigrationError> {
    // The index holds keys only: read it whole, load only the page's records.
    let mut ids: Vec<String> = query_all(table, &keys::index_pk(tenant), "")
        .await?
        .into_iter()
        .map(|i| i.sk)
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let start = after.map_or(0, |a| ids.partition_point(|id| id.as_str() >= a));
    let mut out = Vec::new();
    let mut last = None;
    let mut rest = ids.iter().skip(start);
    for sk in rest.by_ref() {
        let Ok(id) = MigrationId::parse(sk) else {
            continue;
        };
        if let Some((m, _)) = load(table, &id).await? {
            out.push(m);
        }
        last = Some(sk.clone());
        if out.len() == limit.max(1) {
            break;
        }
    }
    let next = if rest.next().is_some() { last } else { None };
    Ok((out, next))
}

/// The record's write, if it is still at `version`.
pub(crate) fn state_write(m: &Migration, version: u64) -> Result<TxWrite, MigrationError> {
    Ok(TxWrite::Put {
        item: Item::with_doc(state_pk(&m.id), STATE_SK, m)?,
        condition: Condition::IfVersion(version),
    })
}

/// An event of the migration; its id derives from the migration id and `key`, so a
/// redelivery publishes the same id.
pub(crate) fn event(m: &Migration, key: &str, body: EventData, at: Timestamp) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("migration/{}/{key}", m.id), 0),
        entity_id: m.id.to_string(),
        body,
        schema_version: SCHEMA_VERSION,
        tenant_id: m.tenant_id.clone(),
        provider: None,
        occurred_at: at,
        received_at: at,
        correlation_id: m.correlation_id.clone(),
        delivery_key: None,
    }
}

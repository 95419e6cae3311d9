//! Migrations: a merchant's switch from one POS, as one record with a lifecycle.
//!
//! ```text
//! start ─► pending ─(suggested)─► mapping_review ─(approve)─► validating ─► applying ─► completed
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

mod error;

pub mod apply;
pub mod audit;
pub mod export;
pub mod keys;
pub mod prepare;
pub mod review;
pub mod rollback;
pub mod snapshot;
pub mod suggest;
pub mod validation;

pub use error::MigrationError;

/// Publishes to the bus with per-entry retry ([`tillbridge_ports::publish`]).
async fn publish(
    bus: &dyn tillbridge_ports::EventBus,
    events: &[tillbridge_domain::Envelope],
) -> Result<(), MigrationError> {
    Ok(tillbridge_ports::publish(bus, events).await?)
}

use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{
    EventData, MappingApproved, MigrationRequested, RollbackRequested, SCHEMA_VERSION,
    derive_event_id,
};
use tillbridge_domain::{CorrelationId, Currency, Envelope, TenantId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, Update, query_all, update_item};
use tillbridge_ports::{BlobStore, EventBus};

/// Snapshots, journals and the id map are kept this long: the window in which a migration
/// can be undone.
pub const ROLLBACK_WINDOW_SECS: i64 = 180 * 24 * 3600;
/// Raw exports are deleted after this long (the prepared canonical items stay until the
/// rollback window closes).
pub const EXPORT_TTL_SECS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    MappingReview,
    Validating,
    Applying,
    Completed,
    Failed,
    Cancelled,
    RollingBack,
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::MappingReview => "mapping_review",
            Status::Validating => "validating",
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
    pub created: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Held back: validation errors or a repeated id in the export.
    pub skipped: u64,
    /// Journal entries undone by a rollback so far.
    pub rolled_back: u64,
    pub restored: u64,
    pub removed: u64,
    pub conflicts: u64,
}

/// One status change, for the audit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub status: Status,
    pub at: Timestamp,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    pub id: String,
    pub tenant_id: TenantId,
    pub source_name: String,
    pub export_key: String,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub status: Status,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub cancel_requested: bool,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub correlation_id: CorrelationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub progress: Progress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSummary>,
    /// The prepared canonical items (JSONL), in apply order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<snapshot::Manifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_report_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Customers in the export, and those left out for want of consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<export::CustomerCounts>,
    #[serde(default)]
    pub history: Vec<Transition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationSummary {
    pub items: u64,
    pub errors: u64,
    pub warnings: u64,
    pub report_key: String,
    /// Values in the export that did not convert (record number and field, no values).
    #[serde(default)]
    pub conversion_problems: u64,
}

impl Migration {
    /// The record's JSON as the API shows it (adds a completion percentage).
    pub fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        let p = &self.progress;
        let percent = match self.status {
            Status::RollingBack | Status::RolledBack => (p.rolled_back * 100)
                .checked_div(p.created + p.changed)
                .unwrap_or(100),
            _ if p.items == 0 => 0,
            _ => p.applied * 100 / p.items,
        };
        v["percent"] = serde_json::json!(percent);
        v
    }

    /// A change within the status (pause, resume), kept in the history.
    fn noted(&mut self, at: Timestamp, by: &str) {
        self.updated_at = at;
        self.history.push(Transition {
            status: self.status,
            at,
            by: by.to_owned(),
        });
    }

    fn moved(&mut self, status: Status, at: Timestamp, by: &str) {
        self.status = status;
        self.noted(at, by);
    }
}

use keys::{STATE_SK, state_pk};

/// Migration ids are ours (`mig-…`) or a caller's idempotency-derived id: safe in keys and paths.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The record and its version, or None.
pub async fn load(table: &dyn Table, id: &str) -> Result<Option<(Migration, u64)>, MigrationError> {
    if !valid_id(id) {
        return Ok(None);
    }
    match table.get(&state_pk(id), STATE_SK).await? {
        Some(i) => Ok(Some((i.doc()?, i.version))),
        None => Ok(None),
    }
}

pub(crate) fn state_write(m: &Migration, version: u64) -> Result<TxWrite, MigrationError> {
    Ok(TxWrite::Put {
        item: Item::with_doc(state_pk(&m.id), STATE_SK, m)?,
        condition: Condition::IfVersion(version),
    })
}

/// Why an operator's request was refused (HTTP 404 / 409 / 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    Conflict(String),
    Invalid(String),
}

impl std::error::Error for Refusal {}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound => f.write_str("migration not found"),
            Refusal::Conflict(m) | Refusal::Invalid(m) => f.write_str(m),
        }
    }
}

/// Reads the record, lets `f` change it, writes it if unchanged since; retries races.
pub(crate) async fn update(
    table: &dyn Table,
    id: &str,
    mut f: impl FnMut(&mut Migration) -> Result<(), Refusal>,
) -> Result<Migration, MigrationError> {
    if !valid_id(id) {
        return Err(MigrationError::Refused(Refusal::NotFound));
    }
    let pk = state_pk(id);
    update_item(table, &pk, STATE_SK, &[], 16, |current, _| {
        let Some(item) = current else {
            return Err(Refusal::NotFound.into());
        };
        let mut m: Migration = item.doc()?;
        f(&mut m)?;
        Ok(Update::Put {
            item: Item::with_doc(&pk, STATE_SK, &m)?,
            also: Vec::new(),
            value: m,
        })
    })
    .await
}

/// Moves a migration that is still `from` (a redelivery or an operator may have moved it
/// already): the record after `f`, or None when it was no longer `from`.
pub(crate) async fn advance(
    table: &dyn Table,
    id: &str,
    from: Status,
    mut f: impl FnMut(&mut Migration),
) -> Result<Option<Migration>, MigrationError> {
    let moved = update(table, id, |m| {
        if m.status != from {
            return Err(Refusal::Conflict(String::new()));
        }
        f(m);
        Ok(())
    })
    .await;
    match moved {
        Ok(m) => Ok(Some(m)),
        Err(MigrationError::Refused(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An operator's request: the change `f` allows, then the event that moves the migration on.
async fn act(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &str,
    f: impl FnMut(&mut Migration) -> Result<(), Refusal>,
    next: impl FnOnce(&Migration) -> Option<Envelope>,
) -> Result<Migration, MigrationError> {
    let m = update(table, id, f).await?;
    if let Some(e) = next(&m) {
        publish(bus, &[e]).await?;
    }
    Ok(m)
}

/// What starts a migration.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    pub tenant: &'a TenantId,
    pub currency: Currency,
    pub country: Option<String>,
    pub source_name: &'a str,
    /// The export: a JSON array of records, or CSV with a header row.
    pub export: ExportSource<'a>,
    pub requested_by: &'a str,
    /// The same key always names the same migration (safe client retries).
    pub idempotency_key: Option<&'a str>,
    pub correlation_id: CorrelationId,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub enum ExportSource<'a> {
    /// Uploaded with the request; `csv` tells the format.
    Upload { bytes: &'a [u8], csv: bool },
    /// Already in the blob store.
    Key(&'a str),
}

fn new_id(tenant: &TenantId, key: Option<&str>, at: Timestamp) -> String {
    use sha2::{Digest, Sha256};
    match key {
        Some(k) => {
            let d = Sha256::digest(format!("{tenant}\u{1f}{k}"));
            format!("mig-{}", &hex::encode(d)[..20])
        }
        None => {
            let uuid = uuid::Uuid::now_v7();
            let _ = at;
            format!("mig-{}", &uuid.simple().to_string()[..20])
        }
    }
}

fn source_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Starts a migration: stores the export, creates the record (pending) and raises
/// `migration.requested`. With an idempotency key, a retry returns the same migration.
pub async fn start(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    req: StartRequest<'_>,
) -> Result<Migration, MigrationError> {
    if !source_ok(req.source_name) {
        return Err(MigrationError::Refused(Refusal::Invalid(
            "source_name is 1 to 40 letters, digits, '-' or '_'".into(),
        )));
    }
    let id = new_id(req.tenant, req.idempotency_key, req.at);
    if let Some((existing, _)) = load(table, &id).await? {
        if existing.tenant_id != *req.tenant {
            return Err(MigrationError::Refused(Refusal::Conflict(
                "idempotency key used by another tenant".into(),
            )));
        }
        if existing.status == Status::Pending {
            publish(bus, &[requested_event(&existing)]).await?;
        }
        return Ok(existing);
    }
    let export_key = match req.export {
        ExportSource::Upload { bytes, csv } => {
            if let Err(e) = export::check(bytes, csv) {
                return Err(MigrationError::Refused(Refusal::Invalid(format!(
                    "export: {e}"
                ))));
            }
            let key = format!(
                "exports/{}/{id}/export.{}",
                req.tenant,
                if csv { "csv" } else { "json" }
            );
            blobs.put(&key, bytes).await?;
            key
        }
        ExportSource::Key(k) => {
            if !tillbridge_ports::blob::valid_key(k)
                || !k.starts_with(&keys::exports_prefix(req.tenant))
            {
                return Err(MigrationError::Refused(Refusal::Invalid(format!(
                    "export_key must be a key under exports/{}/",
                    req.tenant
                ))));
            }
            if blobs.get(k).await?.is_none() {
                return Err(MigrationError::Refused(Refusal::Invalid(format!(
                    "export {k} not found"
                ))));
            }
            k.to_owned()
        }
    };
    let mut m = Migration {
        id: id.clone(),
        tenant_id: req.tenant.clone(),
        source_name: req.source_name.to_owned(),
        export_key,
        currency: req.currency,
        country: req.country,
        status: Status::Pending,
        paused: false,
        cancel_requested: false,
        created_by: req.requested_by.to_owned(),
        created_at: req.at,
        updated_at: req.at,
        correlation_id: req.correlation_id,
        approved_by: None,
        progress: Progress::default(),
        validation: None,
        items_key: None,
        snapshot: None,
        rollback_cursor: None,
        rollback_report_key: None,
        error: None,
        customers: None,
        history: Vec::new(),
    };
    m.moved(Status::Pending, req.at, req.requested_by);
    let writes = vec![
        TxWrite::Put {
            item: Item::with_doc(state_pk(&id), STATE_SK, &m)?,
            condition: Condition::IfAbsent,
        },
        TxWrite::Put {
            item: Item::with_doc(keys::index_pk(req.tenant), &id, &req.at)?,
            condition: Condition::Always,
        },
    ];
    match table.transact(writes).await {
        Ok(()) => {}
        // A concurrent retry with the same key created it first.
        Err(PortError::ConditionFailed) => {
            return load(table, &id)
                .await?
                .map(|(m, _)| m)
                .ok_or(Refusal::NotFound.into());
        }
        Err(e) => return Err(e.into()),
    }
    publish(bus, &[requested_event(&m)]).await?;
    Ok(m)
}

/// Migrations of a tenant, newest first.
pub async fn list(table: &dyn Table, tenant: &TenantId) -> Result<Vec<Migration>, MigrationError> {
    let mut out = Vec::new();
    for i in query_all(table, &keys::index_pk(tenant), "").await? {
        if let Some((m, _)) = load(table, &i.sk).await? {
            out.push(m);
        }
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.created_at));
    Ok(out)
}

pub(crate) fn event(m: &Migration, key: &str, body: EventData, at: Timestamp) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("migration/{}/{key}", m.id), 0),
        entity_id: m.id.clone(),
        body,
        schema_version: SCHEMA_VERSION,
        tenant_id: m.tenant_id.clone(),
        provider: None,
        occurred_at: at,
        received_at: at,
        correlation_id: m.correlation_id.clone(),
    }
}

fn requested_event(m: &Migration) -> Envelope {
    event(
        m,
        "requested",
        EventData::MigrationRequested(MigrationRequested {
            migration_id: m.id.clone(),
            source_name: m.source_name.clone(),
            export_key: m.export_key.clone(),
        }),
        m.created_at,
    )
}

/// Called by mapping-suggest once suggestions are stored: pending → mapping_review.
pub async fn suggestions_ready(
    table: &dyn Table,
    id: &str,
    at: Timestamp,
) -> Result<(), MigrationError> {
    advance(table, id, Status::Pending, |m| {
        m.moved(Status::MappingReview, at, "mapping-suggest");
    })
    .await?;
    Ok(())
}

/// A reviewer approves the mapping: mapping_review → validating, `migration.mapping.approved`.
pub async fn approve(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &str,
    reviewer: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    if reviewer.trim().is_empty() {
        return Err(MigrationError::Refused(Refusal::Invalid(
            "approval needs a reviewer".into(),
        )));
    }
    let Some((current, _)) = load(table, id).await? else {
        return Err(MigrationError::Refused(Refusal::NotFound));
    };
    let mapping = crate::review::approved_mapping(table, &current.tenant_id, &current.id).await?;
    if !mapping.iter().any(|f| f.target == "external_id") {
        return Err(MigrationError::Refused(Refusal::Conflict(
            "no source field is mapped to external_id; override one before approving".into(),
        )));
    }
    let mapped_fields = mapping.len() as u64;
    act(
        table,
        bus,
        id,
        |m| match m.status {
            Status::MappingReview => {
                m.approved_by = Some(reviewer.to_owned());
                m.moved(Status::Validating, at, reviewer);
                Ok(())
            }
            s => Err(Refusal::Conflict(format!(
                "the migration is {}; only a migration in mapping_review can be approved",
                s.as_str()
            ))),
        },
        |m| {
            Some(event(
                m,
                "approved",
                EventData::MigrationMappingApproved(MappingApproved {
                    migration_id: m.id.clone(),
                    approved_by: reviewer.to_owned(),
                    mapped_fields,
                }),
                at,
            ))
        },
    )
    .await
}

/// Pauses at the next checkpoint (the apply stops between batches).
pub async fn pause(
    table: &dyn Table,
    id: &str,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    update(table, id, |m| match m.status {
        Status::Pending | Status::MappingReview | Status::Validating | Status::Applying => {
            m.paused = true;
            m.noted(at, &format!("{by} (paused)"));
            Ok(())
        }
        s => Err(Refusal::Conflict(format!(
            "a {} migration cannot be paused",
            s.as_str()
        ))),
    })
    .await
}

/// Resumes a paused migration where it stopped.
pub async fn resume(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &str,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    act(
        table,
        bus,
        id,
        |m| {
            if !m.paused {
                return Err(Refusal::Conflict("the migration is not paused".into()));
            }
            m.paused = false;
            m.noted(at, &format!("{by} (resumed)"));
            Ok(())
        },
        |m| match m.status {
            Status::Applying => Some(apply::request_event(
                m,
                m.progress.applied,
                &format!("resume-{}", m.history.len()),
                at,
            )),
            Status::Pending => Some(requested_event(m)),
            _ => None,
        },
    )
    .await
}

/// Cancels: before the apply the migration simply ends; during the apply it stops at the
/// next checkpoint and what it applied is rolled back.
pub async fn cancel(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &str,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    act(
        table,
        bus,
        id,
        |m| match m.status {
            Status::Pending | Status::MappingReview | Status::Validating => {
                m.moved(Status::Cancelled, at, by);
                Ok(())
            }
            Status::Applying if m.paused => {
                m.moved(Status::RollingBack, at, &format!("{by} (cancelled)"));
                Ok(())
            }
            Status::Applying => {
                m.cancel_requested = true;
                m.updated_at = at;
                Ok(())
            }
            s => Err(Refusal::Conflict(format!(
                "a {} migration cannot be cancelled{}",
                s.as_str(),
                if s == Status::Completed {
                    "; request a rollback to undo it"
                } else {
                    ""
                }
            ))),
        },
        |m| (m.status == Status::RollingBack).then(|| rollback::request_event(m, by, at)),
    )
    .await
}

/// Asks for the undo of an applied (or failed, or stopped) migration.
pub async fn request_rollback(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &str,
    by: &str,
    at: Timestamp,
) -> Result<Migration, MigrationError> {
    act(
        table,
        bus,
        id,
        |m| match m.status {
            Status::Completed | Status::Failed if m.snapshot.is_some() => {
                m.moved(Status::RollingBack, at, by);
                Ok(())
            }
            Status::Applying if m.paused => {
                m.moved(Status::RollingBack, at, by);
                Ok(())
            }
            // Asked again: the request stands (republished below, same event id).
            Status::RollingBack => Ok(()),
            Status::RolledBack => Err(Refusal::Conflict("already rolled back".into())),
            s => Err(Refusal::Conflict(format!(
                "a {} migration has nothing applied to roll back{}",
                s.as_str(),
                if s == Status::Applying {
                    "; pause or cancel it first"
                } else {
                    ""
                }
            ))),
        },
        |m| Some(rollback::request_event(m, by, at)),
    )
    .await
}

/// Marks a migration failed with a reason an operator can act on (the stage gave up).
pub async fn fail(
    table: &dyn Table,
    id: &str,
    reason: &str,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let failed = update(table, id, |m| {
        if matches!(
            m.status,
            Status::Completed | Status::RolledBack | Status::Cancelled
        ) {
            return Err(Refusal::Conflict(String::new()));
        }
        m.error = Some(reason.to_owned());
        m.moved(Status::Failed, at, "tillbridge");
        Ok(())
    })
    .await;
    match failed {
        Ok(_) | Err(MigrationError::Refused(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

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

/// The request that `RollbackRequested` carries (for tests and callers building events).
pub fn rollback_request(m: &Migration, by: &str) -> RollbackRequested {
    RollbackRequested {
        migration_id: m.id.clone(),
        requested_by: by.to_owned(),
    }
}

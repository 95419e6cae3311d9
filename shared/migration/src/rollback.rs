//! rolling_back: the apply's journal is undone in batches (one transaction each, with the
//! cursor, as large as the table's transactions allow; the records of a batch read together): records it created are removed, records it changed get their prior state back,
//! exactly as stored. A record someone changed after the apply (a webhook) is a conflict:
//! kept, and listed. Then the catalog is verified against the snapshot: every difference
//! must be explained (a conflict, or an item the migration never touched that changed since),
//! and with those explained the catalog must hash to the snapshot's SHA-256.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{EventData, MigrationRolledBack};
use tillbridge_domain::{Envelope, MigrationId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};
use tillbridge_ports::{BlobStore, EventBus};

use super::apply::{JournalEntry, attrs_sha256};
use super::{Migration, Status, event, load, rollback_request, snapshot};
use super::{advance, state_write};
use crate::MigrationError;
use crate::keys::state_pk;
use crate::publish;

/// Journal entries one batch undoes, for a table taking `max_transaction_writes` writes a
/// transaction: an entry takes at most 3 (the record, its id map and child index entries),
/// plus the cursor — 33 on DynamoDB's 100, thousands on the embedded store.
fn batch_entries(max_transaction_writes: usize) -> usize {
    (max_transaction_writes.saturating_sub(1) / 3).max(1)
}

/// `migration.rollback.requested` for `m`, a new event id per rollback the migration has had.
pub fn request_event(m: &Migration, by: &str, at: Timestamp) -> Envelope {
    // A new id per request: a rollback retried after a failure is a new request.
    let n = m
        .history
        .iter()
        .filter(|t| t.status == Status::RollingBack)
        .count();
    event(
        m,
        &format!("rollback/{n}"),
        EventData::MigrationRollbackRequested(rollback_request(m, by)),
        at,
    )
}

/// Blob key of the migration's rollback report (JSON [`Report`]).
pub fn report_key(m: &Migration) -> String {
    crate::keys::rollback_report_blob(&m.tenant_id, &m.id)
}

/// A record the rollback left as it was, because someone changed it after the apply.
/// (`written_version` is the version the apply wrote, `found_version` the one found.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Partition of the record.
    pub pk: String,
    /// Sort key of the record.
    pub sk: String,
    /// Version the apply wrote.
    pub written_version: u64,
    /// Version found by the rollback (0: the record was deleted).
    pub found_version: u64,
}

/// The rollback report: what was undone and how the catalog compares with the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The migration rolled back.
    pub migration_id: String,
    /// No unexplained difference, and the reconciled catalog hashes to the snapshot.
    pub verified: bool,
    /// Records set back to their state before the apply.
    pub restored: u64,
    /// Records deleted because the apply created them.
    pub removed: u64,
    /// Catalog ids (or `customer:<id>`) kept because they changed after the apply.
    pub conflicts: Vec<String>,
    /// Items the migration never touched that changed since the snapshot (webhooks): kept.
    pub changed_outside: Vec<String>,
    /// Differences nobody explains (verification fails when there is one).
    pub unexplained: Vec<String>,
    /// SHA-256 (hex) of the snapshot's content (empty without a snapshot).
    pub snapshot_sha256: String,
    /// The catalog now, as is.
    pub current_sha256: String,
    /// The catalog now with the explained differences set back to the snapshot: must equal
    /// the snapshot's hash.
    pub reconciled_sha256: String,
    /// Items in the snapshot.
    pub snapshot_items: u64,
    /// Items in the catalog now.
    pub current_items: u64,
    /// When the verification ran.
    pub at: Timestamp,
    /// What the rollback did at the migration's destination (none without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<crate::destination::DestinationUndo>,
}

/// Undoes a migration in rolling_back, a batch of journal entries per transaction from its
/// cursor, then verifies the catalog, writes the report and moves it to rolled_back (or to
/// failed when verification fails). `stop` says when to hand over to a fresh invocation.
///
/// # Errors
///
/// [`MigrationError::Permanent`] when the migration is gone or the verification cannot run
/// (no snapshot after an apply, a corrupt snapshot); [`MigrationError::Retryable`] under
/// sustained write contention; a failing table, blob store or bus otherwise.
pub async fn rollback(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    dests: Option<&dyn crate::destination::Destinations>,
    id: &MigrationId,
    at: Timestamp,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    let journal_pk = state_pk(id);
    let batch = batch_entries(table.max_transaction_writes());
    let mut attempts = 0;
    loop {
        let Some((mut m, version)) = load(table, id).await? else {
            return Err(MigrationError::Permanent(format!(
                "migration {id} not found"
            )));
        };
        if m.status != Status::RollingBack {
            return Ok(());
        }
        if m.cutover.as_ref().is_some_and(|c| c.active()) {
            // Nothing flows to the destination while (and after) it is undone.
            crate::destination::end_cutover(
                table,
                &m,
                crate::destination::CutoverEnd::RolledBack,
                at,
            )
            .await?;
            continue;
        }
        let page = table
            .query(
                &journal_pk,
                crate::keys::JOURNAL_PREFIX,
                m.rollback_cursor.as_deref(),
                batch,
            )
            .await?;
        if page.items.is_empty() {
            let undone = crate::destination::undo(table, dests, &m).await?;
            return verify_and_finish(table, blobs, bus, m, undone, at).await;
        }
        if stop() {
            // Out of time: a fresh invocation goes on from the cursor.
            let e = event(
                &m,
                &format!("rollback/continue-{}", m.progress.rolled_back),
                EventData::MigrationRollbackRequested(rollback_request(&m, "rollback")),
                at,
            );
            return publish(bus, &[e]).await;
        }
        let entries: Vec<JournalEntry> =
            page.items.iter().map(Item::doc).collect::<Result<_, _>>()?;
        let keys: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.pk.clone(), e.sk.clone()))
            .collect();
        let currents = table.get_many(&keys).await?;
        drop(keys);
        let mut writes = Vec::with_capacity(page.items.len() * 3 + 1);
        for ((j, entry), current) in page.items.iter().zip(entries).zip(currents) {
            match current {
                Some(c) if attrs_sha256(&c.attrs) == entry.written_sha256 => {
                    match &entry.prior {
                        Some(p) => {
                            let mut item = Item::new(&entry.pk, &entry.sk, p.attrs.clone());
                            item.expires_at = p.expires_at;
                            writes.push(TxWrite::Put {
                                item,
                                condition: Condition::IfVersion(c.version),
                            });
                            m.progress.restored += 1;
                        }
                        None => {
                            writes.push(TxWrite::Delete {
                                pk: entry.pk.clone(),
                                sk: entry.sk.clone(),
                                condition: Condition::IfVersion(c.version),
                            });
                            m.progress.removed += 1;
                        }
                    }
                    for (pk, sk) in &entry.created_keys {
                        writes.push(TxWrite::Delete {
                            pk: pk.clone(),
                            sk: sk.clone(),
                            condition: Condition::Always,
                        });
                    }
                }
                found => {
                    let conflict = Conflict {
                        pk: entry.pk.clone(),
                        sk: entry.sk.clone(),
                        written_version: entry.written_version,
                        found_version: found.map_or(0, |f| f.version),
                    };
                    writes.push(TxWrite::Put {
                        item: Item::with_doc(&journal_pk, conflict_sk(&j.sk), &conflict)?,
                        condition: Condition::Always,
                    });
                    m.progress.conflicts += 1;
                }
            }
            m.progress.rolled_back += 1;
        }
        m.rollback_cursor = page.items.last().map(|i| i.sk.clone());
        m.updated_at = at;
        writes.push(state_write(&m, version)?);
        crate::apply::commit_batch(table, writes, &mut attempts, "rolling back").await?;
    }
}

use crate::keys::conflict_sk;

fn display_id(pk: &str, sk: &str) -> String {
    match (pk.split_once('#'), sk.split_once('#')) {
        (Some(("customers", _)), Some((_, id))) => format!("customer:{id}"),
        (Some(("catalog", _)), _) => tillbridge_catalog::keys::item_id(sk)
            .unwrap_or(sk)
            .to_owned(),
        (_, Some((_, id))) => id.to_owned(),
        _ => sk.to_owned(),
    }
}

/// Verifies the catalog against the snapshot and writes the report.
///
/// # Errors
///
/// [`MigrationError::Permanent`] when the migration has journal entries but no snapshot, or
/// the snapshot is missing or does not match its manifest; a failing table or blob store.
pub async fn verify(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
    at: Timestamp,
) -> Result<Report, MigrationError> {
    let journal_pk = state_pk(&m.id);
    let Some(manifest) = m.snapshot.as_ref() else {
        return verify_without_snapshot(table, m, &journal_pk, at).await;
    };
    let JournalReview {
        touched,
        mut unexplained,
    } = review_journal(table, m, &journal_pk).await?;
    let conflicts: Vec<String> = query_all(table, &journal_pk, "conflict#")
        .await?
        .iter()
        .map(|i| i.doc::<Conflict>().map(|c| display_id(&c.pk, &c.sk)))
        .collect::<Result<_, _>>()?;
    let conflict_set: HashSet<&str> = conflicts.iter().map(String::as_str).collect();

    let snap: BTreeMap<String, String> =
        snapshot::read(blobs, manifest).await?.into_iter().collect();
    let current = current_catalog(table, m).await?;
    let current_sha256 = snapshot::hash_lines(current.values().map(String::as_str));
    let current_items = current.len() as u64;

    let (reconciled, changed_outside) =
        reconcile(&snap, current, &touched, &conflict_set, &mut unexplained);
    let reconciled_sha256 = snapshot::hash_lines(reconciled.values().map(String::as_str));
    let verified = unexplained.is_empty() && reconciled_sha256 == manifest.sha256;
    let report = Report {
        migration_id: m.id.to_string(),
        verified,
        restored: m.progress.restored,
        removed: m.progress.removed,
        conflicts,
        changed_outside,
        unexplained,
        snapshot_sha256: manifest.sha256.clone(),
        current_sha256,
        reconciled_sha256,
        snapshot_items: manifest.items,
        current_items,
        at,
        destination: None,
    };
    Ok(report)
}

/// A migration stopped before its snapshot: verified when nothing was applied (an empty
/// journal), an error otherwise.
async fn verify_without_snapshot(
    table: &dyn Table,
    m: &Migration,
    journal_pk: &str,
    at: Timestamp,
) -> Result<Report, MigrationError> {
    // Stopped before its snapshot: nothing was applied, so nothing needs undoing.
    if table
        .query(journal_pk, crate::keys::JOURNAL_PREFIX, None, 1)
        .await?
        .items
        .is_empty()
    {
        return Ok(Report {
            migration_id: m.id.to_string(),
            verified: true,
            restored: 0,
            removed: 0,
            conflicts: Vec::new(),
            changed_outside: Vec::new(),
            unexplained: Vec::new(),
            snapshot_sha256: String::new(),
            current_sha256: String::new(),
            reconciled_sha256: String::new(),
            snapshot_items: 0,
            current_items: 0,
            at,
            destination: None,
        });
    }
    Err(MigrationError::Permanent(
        "the migration has changes but no snapshot".into(),
    ))
}

/// What the journal tells the verification.
struct JournalReview {
    /// Catalog item ids the apply wrote.
    touched: HashSet<String>,
    /// Customers not back to their prior document and not a recorded conflict.
    unexplained: Vec<String>,
}

/// Reads the journal a page at a time (entries carry whole prior records): the catalog items
/// the apply touched, and the customers the rollback did not set back unexplained.
async fn review_journal(
    table: &dyn Table,
    m: &Migration,
    journal_pk: &str,
) -> Result<JournalReview, MigrationError> {
    let catalog_pk = tillbridge_catalog::keys::catalog_pk(&m.tenant_id);
    let mut touched = HashSet::new();
    let mut unexplained = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = table
            .query(
                journal_pk,
                crate::keys::JOURNAL_PREFIX,
                after.as_deref(),
                500,
            )
            .await?;
        for j in &page.items {
            let e: JournalEntry = j.doc()?;
            if e.pk == catalog_pk {
                touched.insert(
                    tillbridge_catalog::keys::item_id(&e.sk)
                        .unwrap_or(&e.sk)
                        .to_owned(),
                );
            } else {
                // Customers: back to the prior document (or gone).
                let now = table.get(&e.pk, &e.sk).await?.map(|i| i.attrs);
                if now != e.prior.map(|p| p.attrs)
                    && table.get(journal_pk, &conflict_sk(&j.sk)).await?.is_none()
                {
                    unexplained.push(display_id(&e.pk, &e.sk));
                }
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(JournalReview {
        touched,
        unexplained,
    })
}

/// The tenant's catalog now: external id → canonical line.
async fn current_catalog(
    table: &dyn Table,
    m: &Migration,
) -> Result<BTreeMap<String, String>, MigrationError> {
    let mut current = BTreeMap::new();
    snapshot::for_each_item(table, &m.tenant_id, |item| {
        let line = snapshot::canonical_line(&item)?;
        current.insert(item.external_id, line);
        Ok::<_, MigrationError>(())
    })
    .await?;
    Ok(current)
}

/// The current catalog with every explained difference (a conflict, or an item the migration
/// never touched) set back to the snapshot, and the untouched items that changed since.
/// Differences nobody explains are added to `unexplained` and left as they are.
fn reconcile(
    snap: &BTreeMap<String, String>,
    current: BTreeMap<String, String>,
    touched: &HashSet<String>,
    conflicts: &HashSet<&str>,
    unexplained: &mut Vec<String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut changed_outside = Vec::new();
    let ids: Vec<String> = snap
        .keys()
        .chain(current.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut reconciled = current;
    for id in ids {
        if snap.get(&id) == reconciled.get(&id) {
            continue;
        }
        if conflicts.contains(id.as_str()) {
        } else if !touched.contains(&id) {
            changed_outside.push(id.clone());
        } else {
            unexplained.push(id.clone());
            continue;
        }
        match snap.get(&id) {
            Some(line) => reconciled.insert(id, line.clone()),
            None => reconciled.remove(&id),
        };
    }
    (reconciled, changed_outside)
}

async fn verify_and_finish(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    m: Migration,
    undone: Option<crate::destination::DestinationUndo>,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let mut report = verify(table, blobs, &m, at).await?;
    if let Some(d) = undone {
        // Objects changed at the destination since are conflicts too: left alone, listed.
        report
            .conflicts
            .extend(d.conflicts.iter().map(|id| format!("{}:{id}", d.provider)));
        report.verified &= d.verified;
        report.unexplained.extend(
            d.objects
                .iter()
                .filter(|l| !l.verified && l.result != "conflict")
                .map(|l| {
                    let id = l.object_id.as_deref().unwrap_or(&l.source_id);
                    format!("{}:{id}", d.provider)
                }),
        );
        report.destination = Some(d);
    }
    let key = report_key(&m);
    blobs
        .put(
            &key,
            &serde_json::to_vec_pretty(&report)
                .map_err(|e| MigrationError::Permanent(e.to_string()))?,
        )
        .await?;
    tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, verified = report.verified, restored = report.restored, removed = report.removed, conflicts = report.conflicts.len(), "rollback finished");
    let verified = report.verified;
    let Some(m) = advance(table, &m.id, Status::RollingBack, |m| {
        m.rollback_report_key = Some(key.clone());
        if verified {
            m.error = None;
            m.moved(Status::RolledBack, at, "rollback");
        } else {
            m.error = Some(format!(
                "rollback verification failed: {} unexplained differences (see {key})",
                report.unexplained.len()
            ));
            m.moved(Status::Failed, at, "rollback");
        }
    })
    .await?
    else {
        return Ok(());
    };
    if !verified {
        return Ok(());
    }
    let e = event(
        &m,
        "rolled_back",
        EventData::MigrationRolledBack(MigrationRolledBack {
            migration_id: m.id.to_string(),
            restored: report.restored,
            removed: report.removed,
            conflicts: report.conflicts.len() as u64,
            verified,
            report_key: key,
        }),
        at,
    );
    publish(bus, &[e]).await
}

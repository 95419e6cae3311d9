//! applying: snapshot first, then the prepared items in batches. Each batch is one table
//! transaction: the records, a journal entry per record (the record as it was, and the
//! version the apply wrote), the source id → catalog id map, the child and cross-reference
//! index entries, and the checkpoint. A crash loses at most an uncommitted batch; a
//! redelivery or a re-run finds the journal (or equal content) and changes nothing.
//!
//! A batch is as large as the table's transactions allow ([`Table::max_transaction_writes`]:
//! 100 writes on DynamoDB, thousands on the embedded store, where each commit is an fsync),
//! and its reads are done together ([`Table::get_many`]) before it is planned.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tillbridge_domain::event::{ApplyRequested, EventData, MigrationApplied};
use tillbridge_domain::{CatalogItem, Envelope, MigrationId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, TxWrite};
use tillbridge_ports::{BlobStore, EventBus};

use super::export::Customer;
use super::{
    Migration, ROLLBACK_WINDOW_SECS, Status, advance, event, load, prepare, rollback, snapshot,
    state_write, update,
};
use crate::MigrationError;
use crate::keys::state_pk;
use crate::publish;
use tillbridge_catalog::CatalogRecord;

/// Writes one applied item takes at most: the record, its id map entry, its child index
/// entry, its journal entry and its cross-reference entries.
const MAX_WRITES_PER_ITEM: usize = 4 + tillbridge_catalog::xref::MAX_INDEX_WRITES;

/// Prepared lines one batch looks at, for a table taking `max_transaction_writes` writes a
/// transaction: room for 4 writes a line plus the checkpoint (24 lines on DynamoDB's 100).
/// A batch whose lines need more writes ends earlier (it never exceeds the table's limit);
/// lines applied before, or unchanged, take none.
pub fn batch_lines(max_transaction_writes: usize) -> usize {
    (max_transaction_writes.saturating_sub(1) / 4).max(1)
}

/// What the apply did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// There was no record: the apply created it (a rollback deletes it).
    Created,
    /// There was a different record: the apply overwrote it (a rollback restores it).
    Changed,
}

/// A stored item as it was before the apply wrote over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// The stored attributes, exactly as they were.
    pub attrs: Map<String, Value>,
    /// Its expiry (Unix seconds), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// What the apply did to one record, so a rollback can undo exactly that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Partition of the record written.
    pub pk: String,
    /// Sort key of the record written.
    pub sk: String,
    /// Created or changed.
    pub kind: Kind,
    /// The record before the apply; None when it created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<Prior>,
    /// The record's version right after the apply wrote it.
    pub written_version: u64,
    /// SHA-256 of what the apply wrote (canonical JSON of the attributes). The rollback
    /// restores only a record that still holds exactly this; anything else is someone
    /// else's change (a version alone would not do: undoing a later migration rewrites the
    /// same content under a new version).
    pub written_sha256: String,
    /// Index keys the apply created beside the record (child index, id map).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_keys: Vec<(String, String)>,
}

pub use crate::keys::journal_sk;

/// `migration.apply.requested` from item `from` (the checkpoint); `key` makes the event id
/// (`start`, `resume-<n>`, `continue-<n>`).
pub fn request_event(m: &Migration, from: u64, key: &str, at: Timestamp) -> Envelope {
    event(
        m,
        &format!("apply/{key}"),
        EventData::MigrationApplyRequested(ApplyRequested {
            migration_id: m.id.to_string(),
            from,
        }),
        at,
    )
}

use crate::keys::idmap_pk;

/// One prepared line: an item or a customer.
enum Line {
    Item(Box<CatalogItem>),
    Customer(Customer),
}

/// The writes for one line, or None when nothing changes.
struct Planned {
    writes: Vec<TxWrite>,
    kind: Option<Kind>,
    key: (String, String),
}

/// Applies the prepared items of a migration in applying, batch by batch from its
/// checkpoint: the snapshot first, then one transaction per batch (records, journal, id map,
/// index entries, checkpoint). Stops when paused, cancelled (then rolls back) or when `stop` says time is up
/// (then asks a fresh invocation to go on). With a destination, the items are then written
/// there ([`crate::destination`]); completes with `migration.applied`.
///
/// # Errors
///
/// [`MigrationError::Permanent`] when the migration is gone or its prepared items cannot be
/// read; [`MigrationError::Retryable`] under sustained write contention; a failing table,
/// blob store or bus otherwise.
pub async fn apply(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    dests: Option<&dyn crate::destination::Destinations>,
    id: &MigrationId,
    at: Timestamp,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(), MigrationError> {
    let Some((mut m, _)) = load(table, id).await? else {
        return Err(MigrationError::Permanent(format!(
            "migration {id} not found"
        )));
    };
    if m.status != Status::Applying || m.paused {
        return Ok(());
    }
    // From the apply on, source changes are watched for the destination (the cutover).
    m = crate::destination::begin_cutover(table, &m, at).await?;
    if m.snapshot.is_none() {
        let manifest = snapshot::take(table, blobs, &m, at).await?;
        m = match update(table, id, |m| {
            if m.snapshot.is_none() {
                m.snapshot = Some(manifest.clone());
            }
            Ok(())
        })
        .await
        {
            Ok(m) => m,
            Err(MigrationError::Refused(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, items = manifest.items, bytes = manifest.compressed_bytes, "snapshot taken");
    }
    let lines = read_lines(blobs, &m).await?;
    let max_writes = table.max_transaction_writes();
    let journal_pk = state_pk(&m.id);
    let expires = at.unix_seconds() + ROLLBACK_WINDOW_SECS;
    let mut attempts = 0;
    loop {
        let Some((mut m, version)) = load(table, id).await? else {
            return Ok(());
        };
        if m.status != Status::Applying || m.paused {
            return Ok(());
        }
        if m.cancel_requested {
            return cancel_to_rollback(table, bus, id, at).await;
        }
        let from = m.progress.applied as usize;
        if from >= lines.len() {
            if !crate::destination::write(table, blobs, dests, &m, stop).await? {
                let key = format!("destination-{}", at.unix_nanos());
                return publish(bus, &[request_event(&m, from as u64, &key, at)]).await;
            }
            return finish(table, bus, id, at).await;
        }
        // Heartbeat of an apply that has items left: with no items applied it is stalled.
        tillbridge_ports::metrics::count("MigrationApplySteps", &[], Some(m.tenant_id.as_str()), 1);
        if stop() {
            // Out of time: a fresh invocation goes on from the checkpoint.
            return publish(
                bus,
                &[request_event(
                    &m,
                    from as u64,
                    &format!("continue-{from}"),
                    at,
                )],
            )
            .await;
        }
        let window = from..(from + batch_lines(max_writes)).min(lines.len());
        let batch = lines.parse(window)?;
        let reads = prefetch(table, &m, &journal_pk, &batch).await?;
        let mut writes = Vec::with_capacity(max_writes);
        let mut seen = std::collections::HashSet::new();
        let mut consumed = 0;
        for line in &batch {
            let planned = match line {
                Line::Item(item) => plan_item(&reads, &m, &journal_pk, item, at, expires)?,
                Line::Customer(c) => plan_customer(&reads, &m, &journal_pk, c, expires)?,
            };
            if let Some(p) = &planned
                && consumed > 0
                && writes.len() + p.writes.len() + 1 > max_writes
            {
                // The transaction is full: this line starts the next batch.
                break;
            }
            consumed += 1;
            let Some(p) = planned else {
                // Applied before (by this migration: its journal entry exists).
                continue;
            };
            if !seen.insert(p.key.clone()) {
                m.progress.skipped += 1;
                continue;
            }
            match p.kind {
                Some(Kind::Created) => m.progress.created += 1,
                Some(Kind::Changed) => m.progress.changed += 1,
                None => m.progress.unchanged += 1,
            }
            writes.extend(p.writes);
        }
        drop(batch);
        m.progress.applied = (from + consumed) as u64;
        m.updated_at = at;
        writes.push(state_write(&m, version)?);
        // Someone may have written one of these records (a webhook, an operator): then the
        // batch is planned again from what is stored now.
        commit_batch(table, writes, &mut attempts, "applying").await?;
        if attempts == 0 {
            tillbridge_ports::metrics::count(
                "MigrationItemsApplied",
                &[],
                Some(m.tenant_id.as_str()),
                i64::try_from(consumed).unwrap_or(i64::MAX),
            );
        }
    }
}

/// Commits one planned batch with the record's checkpoint. A lost race (a record changed
/// since it was read) leaves `attempts` counted and the caller plans the batch again; more
/// than 8 in a row is reported as retryable contention.
pub(crate) async fn commit_batch(
    table: &dyn Table,
    writes: Vec<TxWrite>,
    attempts: &mut u32,
    what: &str,
) -> Result<(), MigrationError> {
    match table.transact(writes).await {
        Ok(()) => {
            *attempts = 0;
            Ok(())
        }
        Err(PortError::ConditionFailed) if *attempts < 8 => {
            *attempts += 1;
            Ok(())
        }
        Err(PortError::ConditionFailed) => Err(MigrationError::Retryable(format!(
            "too much contention while {what}"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The prepared items and customers, kept as their JSONL bytes (a 100,000-item apply holds
/// ~40 MB of text, not ~10× that as parsed items); a batch parses only its own lines.
struct Lines {
    items: Vec<u8>,
    customers: Vec<u8>,
    /// Byte ranges of the item lines, then of the customer lines.
    spans: Vec<(bool, std::ops::Range<usize>)>,
}

impl Lines {
    fn len(&self) -> usize {
        self.spans.len()
    }

    /// The lines in `range`, parsed.
    fn parse(&self, range: std::ops::Range<usize>) -> Result<Vec<Line>, MigrationError> {
        self.spans[range]
            .iter()
            .map(|(customer, span)| {
                if *customer {
                    serde_json::from_slice(&self.customers[span.clone()])
                        .map(Line::Customer)
                        .map_err(|e| {
                            MigrationError::Permanent(format!("prepared customer is corrupt: {e}"))
                        })
                } else {
                    serde_json::from_slice(&self.items[span.clone()])
                        .map(|i| Line::Item(Box::new(i)))
                        .map_err(|e| {
                            MigrationError::Permanent(format!("prepared item is corrupt: {e}"))
                        })
                }
            })
            .collect()
    }
}

/// Byte ranges of the non-empty lines of `bytes`.
fn line_spans(bytes: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    bytes
        .split(|b| *b == b'\n')
        .map(move |l| {
            let span = start..start + l.len();
            start += l.len() + 1;
            span
        })
        .filter(|s| !s.is_empty())
}

async fn read_lines(blobs: &dyn BlobStore, m: &Migration) -> Result<Lines, MigrationError> {
    let items = blobs
        .get(&prepare::items_key(m))
        .await?
        .ok_or_else(|| MigrationError::Permanent("prepared items are missing".into()))?;
    let customers = blobs
        .get(&prepare::customers_key(m))
        .await?
        .unwrap_or_default();
    let mut spans = Vec::with_capacity(m.progress.items as usize);
    spans.extend(line_spans(&items).map(|s| (false, s)));
    spans.extend(line_spans(&customers).map(|s| (true, s)));
    Ok(Lines {
        items,
        customers,
        spans,
    })
}

/// What a batch reads before it is planned, read together: the id map entries of its ids
/// and parents, then the journal entries, records and child index entries under the catalog
/// ids those give.
struct Reads(std::collections::HashMap<(String, String), Option<Item>>);

impl Reads {
    fn get(&self, pk: &str, sk: &str) -> Result<Option<&Item>, MigrationError> {
        self.0
            .get(&(pk.to_owned(), sk.to_owned()))
            .map(Option::as_ref)
            .ok_or_else(|| MigrationError::Permanent(format!("{pk}/{sk} was not read")))
    }

    /// The catalog id of a source id: the id map, else the source id itself (and whether
    /// it was mapped).
    fn catalog_id(&self, m: &Migration, source_id: &str) -> Result<(String, bool), MigrationError> {
        match self.get(&idmap_pk(&m.tenant_id, &m.source_name), source_id)? {
            Some(i) => Ok((i.doc::<IdMapEntry>()?.catalog_id, true)),
            None => Ok((source_id.to_owned(), false)),
        }
    }

    async fn read(
        &mut self,
        table: &dyn Table,
        keys: Vec<(String, String)>,
    ) -> Result<(), MigrationError> {
        let keys: Vec<(String, String)> = keys
            .into_iter()
            .filter(|k| !self.0.contains_key(k))
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let found = table.get_many(&keys).await?;
        self.0.extend(keys.into_iter().zip(found));
        Ok(())
    }
}

async fn prefetch(
    table: &dyn Table,
    m: &Migration,
    journal_pk: &str,
    batch: &[Line],
) -> Result<Reads, MigrationError> {
    let mut reads = Reads(std::collections::HashMap::with_capacity(batch.len() * 5));
    let map_pk = idmap_pk(&m.tenant_id, &m.source_name);
    let mut first = Vec::with_capacity(batch.len() * 2);
    for line in batch {
        match line {
            Line::Item(item) => {
                first.push((map_pk.clone(), item.external_id.clone()));
                if let Some(p) = &item.parent_id {
                    first.push((map_pk.clone(), p.clone()));
                }
            }
            Line::Customer(c) => {
                first.push((
                    journal_pk.to_owned(),
                    journal_sk("customer", &c.external_id),
                ));
                first.push(crate::keys::customer(&m.tenant_id, &c.external_id));
            }
        }
    }
    reads.read(table, first).await?;
    let pk = tillbridge_catalog::keys::catalog_pk(&m.tenant_id);
    let mut second = Vec::with_capacity(batch.len() * 3);
    for line in batch {
        if let Line::Item(item) = line {
            let (cid, _) = reads.catalog_id(m, &item.external_id)?;
            second.push((journal_pk.to_owned(), journal_sk("item", &cid)));
            second.push((
                pk.clone(),
                tillbridge_catalog::keys::item_sk(&m.source_name, &cid),
            ));
            if let Some(parent) = &item.parent_id {
                let (parent, _) = reads.catalog_id(m, parent)?;
                second.push((
                    pk.clone(),
                    tillbridge_catalog::keys::child_sk(&m.source_name, &parent, &cid),
                ));
            }
        }
    }
    reads.read(table, second).await?;
    Ok(reads)
}

/// The catalog id of a source id: the id map, else the source id itself.
/// What applying `item` would do to the catalog now: `created`, `changed` or `unchanged`
/// (the preview of a migration that stops after validation). Reads only.
///
/// # Errors
///
/// The table failed, or a stored record does not parse.
pub(crate) async fn preview_action(
    table: &dyn Table,
    m: &Migration,
    item: &CatalogItem,
) -> Result<&'static str, MigrationError> {
    let (cid, _) = catalog_id(table, m, &item.external_id).await?;
    let mut item = item.clone();
    item.external_id = cid.clone();
    if let Some(parent) = &item.parent_id {
        item.parent_id = Some(catalog_id(table, m, parent).await?.0);
    }
    let pk = tillbridge_catalog::keys::catalog_pk(&m.tenant_id);
    let sk = tillbridge_catalog::keys::item_sk(&m.source_name, &cid);
    let record: Option<CatalogRecord> = table
        .get(&pk, &sk)
        .await?
        .as_ref()
        .map(Item::doc)
        .transpose()?;
    Ok(
        match record.as_ref().and_then(CatalogRecord::visible_item) {
            None => "created",
            Some(v) if v.content_hash() == item.content_hash() => "unchanged",
            Some(_) => "changed",
        },
    )
}

async fn catalog_id(
    table: &dyn Table,
    m: &Migration,
    source_id: &str,
) -> Result<(String, bool), MigrationError> {
    match table
        .get(&idmap_pk(&m.tenant_id, &m.source_name), source_id)
        .await?
    {
        Some(i) => Ok((i.doc::<IdMapEntry>()?.catalog_id, true)),
        None => Ok((source_id.to_owned(), false)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IdMapEntry {
    catalog_id: String,
    migration_id: String,
}

/// SHA-256 of attributes in canonical JSON (object keys sorted at every level).
pub fn attrs_sha256(attrs: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    fn write_map(o: &Map<String, Value>, out: &mut Vec<u8>) {
        let mut keys: Vec<&String> = o.keys().collect();
        keys.sort();
        out.push(b'{');
        for (n, k) in keys.into_iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            write(&o[k], out);
        }
        out.push(b'}');
    }
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(o) => write_map(o, out),
            Value::Array(a) => {
                out.push(b'[');
                for (n, x) in a.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write(x, out);
                }
                out.push(b']');
            }
            other => {
                let _ = serde_json::to_writer(&mut *out, other);
            }
        }
    }
    let mut out = Vec::with_capacity(1024);
    write_map(attrs, &mut out);
    hex::encode(Sha256::digest(&out))
}

fn prior_of(i: &Item) -> Prior {
    Prior {
        attrs: i.attrs.clone(),
        expires_at: i.expires_at,
    }
}

fn plan_item(
    reads: &Reads,
    m: &Migration,
    journal_pk: &str,
    item: &CatalogItem,
    at: Timestamp,
    expires: i64,
) -> Result<Option<Planned>, MigrationError> {
    let (cid, mapped) = reads.catalog_id(m, &item.external_id)?;
    let jsk = journal_sk("item", &cid);
    if reads.get(journal_pk, &jsk)?.is_some() {
        return Ok(None);
    }
    let mut item = item.clone();
    item.external_id = cid.clone();
    if let Some(parent) = &item.parent_id {
        item.parent_id = Some(reads.catalog_id(m, parent)?.0);
    }
    let pk = tillbridge_catalog::keys::catalog_pk(&m.tenant_id);
    // A migration's items live in its source's namespace (a `square` export lands where
    // Square's webhooks land).
    let sk = tillbridge_catalog::keys::item_sk(&m.source_name, &cid);
    let current = reads.get(&pk, &sk)?;
    let record: Option<CatalogRecord> = current.map(Item::doc).transpose()?;
    let visible = record.as_ref().and_then(CatalogRecord::visible_item);
    if visible
        .as_ref()
        .is_some_and(|v| v.content_hash() == item.content_hash())
    {
        return Ok(Some(Planned {
            writes: Vec::new(),
            kind: None,
            key: (pk, sk),
        }));
    }
    let kind = if visible.is_some() {
        Kind::Changed
    } else {
        Kind::Created
    };
    let next = record.unwrap_or_default().replaced_by(item.clone(), at);
    let record = Item::with_doc(&pk, &sk, &next)?;
    let written_sha256 = attrs_sha256(&record.attrs);
    let mut writes = Vec::with_capacity(MAX_WRITES_PER_ITEM);
    writes.push(TxWrite::Put {
        item: record,
        condition: current.map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version)),
    });
    let mut created_keys = Vec::new();
    if !mapped {
        let map_pk = idmap_pk(&m.tenant_id, &m.source_name);
        let entry = IdMapEntry {
            catalog_id: cid.clone(),
            migration_id: m.id.to_string(),
        };
        writes.push(TxWrite::Put {
            item: Item::with_doc(&map_pk, &cid, &entry)?,
            condition: Condition::IfAbsent,
        });
        created_keys.push((map_pk, cid.clone()));
    }
    if let Some(parent) = &item.parent_id {
        let child_sk = tillbridge_catalog::keys::child_sk(&m.source_name, parent, &cid);
        if reads.get(&pk, &child_sk)?.is_none() {
            writes.push(TxWrite::Put {
                item: Item::with_doc(&pk, &child_sk, &cid)?,
                condition: Condition::IfAbsent,
            });
            created_keys.push((pk.clone(), child_sk));
        }
    }
    let entry = JournalEntry {
        pk: pk.clone(),
        sk: sk.clone(),
        kind,
        prior: current.map(prior_of),
        written_version: current.map_or(1, |c| c.version + 1),
        written_sha256,
        created_keys,
    };
    writes.push(TxWrite::Put {
        item: Item::with_doc(journal_pk, jsk, &entry)?.expiring_at(expires),
        condition: Condition::IfAbsent,
    });
    // Linked to its twins at other vendors in the same commit (unconditional puts: a
    // redelivery rewrites the same entries).
    writes.extend(tillbridge_catalog::xref::index_writes(
        &m.tenant_id,
        &m.source_name,
        &item,
    )?);
    Ok(Some(Planned {
        writes,
        kind: Some(kind),
        key: (pk, sk),
    }))
}

fn plan_customer(
    reads: &Reads,
    m: &Migration,
    journal_pk: &str,
    c: &Customer,
    expires: i64,
) -> Result<Option<Planned>, MigrationError> {
    let jsk = journal_sk("customer", &c.external_id);
    if reads.get(journal_pk, &jsk)?.is_some() {
        return Ok(None);
    }
    let (pk, sk) = crate::keys::customer(&m.tenant_id, &c.external_id);
    let current = reads.get(&pk, &sk)?;
    if let Some(cur) = current
        && cur.doc::<Customer>().ok().as_ref() == Some(c)
    {
        return Ok(Some(Planned {
            writes: Vec::new(),
            kind: None,
            key: (pk, sk),
        }));
    }
    let kind = if current.is_some() {
        Kind::Changed
    } else {
        Kind::Created
    };
    let record = Item::with_doc(&pk, &sk, c)?;
    let entry = JournalEntry {
        pk: pk.clone(),
        sk: sk.clone(),
        kind,
        prior: current.map(prior_of),
        written_version: current.map_or(1, |c| c.version + 1),
        written_sha256: attrs_sha256(&record.attrs),
        created_keys: Vec::new(),
    };
    let writes = vec![
        TxWrite::Put {
            item: record,
            condition: current.map_or(Condition::IfAbsent, |c| Condition::IfVersion(c.version)),
        },
        TxWrite::Put {
            item: Item::with_doc(journal_pk, jsk, &entry)?.expiring_at(expires),
            condition: Condition::IfAbsent,
        },
    ];
    Ok(Some(Planned {
        writes,
        kind: Some(kind),
        key: (pk, sk),
    }))
}

async fn finish(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let Some(m) = advance(table, id, Status::Applying, |m| {
        m.moved(Status::Completed, at, "apply");
    })
    .await?
    else {
        return Ok(());
    };
    let p = &m.progress;
    // From the approval that started the apply (else the record's creation) to completion.
    let began = m
        .history
        .iter()
        .rev()
        .find(|t| t.status == Status::Applying)
        .map_or(m.created_at, |t| t.at);
    let ms = (at.unix_nanos() - began.unix_nanos()).max(0) / 1_000_000;
    let tenant = Some(m.tenant_id.as_str());
    use tillbridge_ports::metrics::{Kind, Unit, record};
    record(
        "MigrationDurationMs",
        Unit::Milliseconds,
        Kind::Counter,
        &[],
        tenant,
        ms,
    );
    record(
        "MigrationsCompleted",
        Unit::Count,
        Kind::Counter,
        &[("outcome", "applied")],
        tenant,
        1,
    );
    tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, created = p.created, changed = p.changed, unchanged = p.unchanged, skipped = p.skipped, "migration applied");
    let e = event(
        &m,
        "applied",
        EventData::MigrationApplied(MigrationApplied {
            migration_id: m.id.to_string(),
            created: p.created,
            changed: p.changed,
            unchanged: p.unchanged,
            skipped: p.skipped,
            snapshot_key: m
                .snapshot
                .as_ref()
                .map(|s| s.key.clone())
                .unwrap_or_default(),
        }),
        at,
    );
    publish(bus, &[e]).await
}

async fn cancel_to_rollback(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let Some(m) = advance(table, id, Status::Applying, |m| {
        m.moved(Status::RollingBack, at, "cancel");
    })
    .await?
    else {
        return Ok(());
    };
    publish(bus, &[rollback::request_event(&m, "cancel", at)]).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn batches_fit_the_tables_transactions() {
        assert_eq!(batch_lines(100), 24);
        assert_eq!(batch_lines(1), 1);
        assert!(batch_lines(8192) * 4 < 8192);
    }

    /// The hash rollbacks compare stays what journals already hold: canonical JSON with keys
    /// sorted at every level, strings escaped as serde_json escapes them.
    #[test]
    fn attribute_hashes_are_of_canonical_json() {
        use sha2::{Digest, Sha256};
        let attrs = json!({
            "z": 1, "a": {"y": [true, null, 1.5, {"k": "v\"\n"}], "b": "é"}, "m": "x"
        });
        let canonical = r#"{"a":{"b":"é","y":[true,null,1.5,{"k":"v\"\n"}]},"m":"x","z":1}"#;
        assert_eq!(
            attrs_sha256(attrs.as_object().unwrap()),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
    }
}

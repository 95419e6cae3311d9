use std::any::Any;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tillbridge_ports::table::{
    Condition, Item, Page, Table, TxWrite, apply_deltas, check, check_tx,
};
use tillbridge_ports::{Clock, PortError, Result};
use tokio::sync::oneshot;

/// One redb table for all partitions: key (pk, sk), value the JSON of [`Stored`].
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

/// At most this many queued operations share one write transaction (and its fsync).
pub const MAX_BATCH: usize = 2048;

/// redb's page cache (reads and the write buffer, at most half; its default is 1 GiB, which a 100,000-item
/// migration fills: every page it writes stays cached). Pages beyond it are read again from
/// the file, which the OS caches anyway.
pub const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Most writes one [`Table::transact`] takes here. redb has no such limit; this bounds one
/// transaction's memory (a migration batch of ~4,000 writes, ~1,000 items, is ~15 MB while
/// planned) and how long it holds the committer (webhook writes queued behind it wait), while
/// a 100,000-item apply commits (fsyncs) ~100 times instead of once per 100 writes.
pub const MAX_TX_WRITES: usize = 4096;

#[derive(Deserialize)]
struct Stored {
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    attrs: Map<String, Value>,
}

/// The open redb table inside the committer's write transaction.
type Items<'t> = redb::Table<'t, (&'static str, &'static str), &'static [u8]>;

/// What an operation gives its caller; typed again on the caller's side.
type Boxed = Box<dyn Any + Send>;

/// An operation's run inside a batch: `Ok(result)` for its own outcome (a failed condition
/// writes nothing), `Err` for a storage failure that fails the whole batch.
type Op =
    Box<dyn FnOnce(&mut Items<'_>, i64) -> std::result::Result<Result<Boxed>, PortError> + Send>;

/// One queued write and where its result goes once its batch is durable (or failed).
struct Pending {
    op: Op,
    reply: oneshot::Sender<Result<Boxed>>,
}

/// The [`Table`] port on one redb file: every partition in one redb table keyed by
/// `(pk, sk)`, each item stored as JSON with its version and expiry; expired items read as
/// absent.
///
/// Writes are group-committed: every write operation goes to one committer thread, which
/// runs whatever operations are queued (up to [`MAX_BATCH`]) in order inside one redb
/// write transaction and commits it with one fsync; each caller's future resolves with its
/// own result only after that commit. Operations in a batch see the writes of those before
/// them, and each checks its conditions as it runs, so the outcome is the same as running
/// them one after another; an operation whose condition fails writes nothing and the rest
/// of the batch goes on. A storage failure (or a failed commit) fails every operation of
/// its batch. A write whose caller stops waiting still commits (the caller just does not
/// learn it). Reads run on the caller and see every committed write.
pub struct EmbeddedTable {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
    writes: Option<mpsc::Sender<Pending>>,
    committer: Option<JoinHandle<()>>,
}

fn io(e: impl std::fmt::Display) -> PortError {
    PortError::Transient(format!("embedded store: {e}"))
}

fn decode(pk: &str, sk: &str, bytes: &[u8]) -> Result<Item> {
    let s: Stored = serde_json::from_slice(bytes)
        .map_err(|e| PortError::Permanent(format!("corrupt item {pk}/{sk}: {e}")))?;
    Ok(Item {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
        version: s.version,
        expires_at: s.expires_at,
        attrs: s.attrs,
    })
}

/// [`Stored`] as written, borrowing the attributes (no copy of them per write).
#[derive(Serialize)]
struct StoredRef<'a> {
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    attrs: &'a Map<String, Value>,
}

fn encode(item: &Item) -> Result<Vec<u8>> {
    serde_json::to_vec(&StoredRef {
        version: item.version,
        expires_at: item.expires_at,
        attrs: &item.attrs,
    })
    .map_err(|e| PortError::Permanent(e.to_string()))
}

/// An operation's outcome inside a batch: the outer error fails the batch (storage), the
/// inner one only the operation (a condition, a corrupt item).
type Step<R> = std::result::Result<Result<R>, PortError>;

/// The live (stored, unexpired) item at `(pk, sk)` in the batch's transaction.
fn live_in(t: &Items<'_>, pk: &str, sk: &str, now: i64) -> Step<Option<Item>> {
    Ok(match t.get((pk, sk)).map_err(io)? {
        Some(v) => decode(pk, sk, v.value()).map(|i| Some(i).filter(|i| !i.is_expired(now))),
        None => Ok(None),
    })
}

/// Takes queued operations until the table is dropped: each pass runs everything queued
/// (at most [`MAX_BATCH`]) as one transaction.
fn commit_loop(db: &Database, clock: &dyn Clock, queue: &mpsc::Receiver<Pending>) {
    while let Ok(first) = queue.recv() {
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        run_batch(db, clock.now().unix_seconds(), batch);
    }
}

/// Runs `batch` in order in one write transaction, commits it (one fsync), then answers
/// every caller: its own result, or the batch's failure.
fn run_batch(db: &Database, now: i64, batch: Vec<Pending>) {
    let mut pending = batch.into_iter();
    let mut done: Vec<(oneshot::Sender<Result<Boxed>>, Result<Boxed>)> =
        Vec::with_capacity(pending.len());
    let failure = match db.begin_write() {
        Err(e) => Some(io(e)),
        Ok(tx) => {
            let broken = match tx.open_table(ITEMS) {
                Err(e) => Some(io(e)),
                Ok(mut t) => {
                    let mut broken = None;
                    for p in pending.by_ref() {
                        match (p.op)(&mut t, now) {
                            Ok(r) => done.push((p.reply, r)),
                            Err(e) => {
                                let _ = p.reply.send(Err(e.clone()));
                                broken = Some(e);
                                break;
                            }
                        }
                    }
                    broken
                }
            };
            match broken {
                // Dropping the transaction aborts it: nothing of the batch is written.
                Some(e) => Some(e),
                None => tx.commit().err().map(io),
            }
        }
    };
    match failure {
        Some(e) => {
            for (reply, _) in done {
                let _ = reply.send(Err(e.clone()));
            }
            for p in pending {
                let _ = p.reply.send(Err(e.clone()));
            }
        }
        None => {
            for (reply, r) in done {
                let _ = reply.send(r);
            }
        }
    }
}

impl EmbeddedTable {
    /// Opens the redb file at `path`, creating it when missing, and starts its committer
    /// thread; `clock` gives "now" for expiry (unix seconds).
    ///
    /// # Errors
    ///
    /// [`PortError::Permanent`] when the file cannot be opened as a redb database (another
    /// process holds it, or it is not one) or the committer thread cannot start;
    /// [`PortError::Transient`] when the first write transaction that creates the table
    /// fails.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        // TILLBRIDGE_STORE_CACHE_MB overrides the page cache (a busy `serve` reads its
        // catalog and queues far more than a migration's batch).
        let cache = std::env::var("TILLBRIDGE_STORE_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(CACHE_BYTES, |mb| mb.saturating_mul(1024 * 1024));
        let db = Database::builder()
            .set_cache_size(cache)
            .create(path)
            .map_err(|e| PortError::Permanent(format!("cannot open {}: {e}", path.display())))?;
        // Create the table once so read transactions find it.
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ITEMS).map_err(io)?;
        tx.commit().map_err(io)?;
        let db = Arc::new(db);
        let (writes, queue) = mpsc::channel();
        let committer = std::thread::Builder::new()
            .name("embedded-commit".into())
            .spawn({
                let (db, clock) = (db.clone(), clock.clone());
                move || commit_loop(&db, clock.as_ref(), &queue)
            })
            .map_err(|e| PortError::Permanent(format!("cannot start the committer: {e}")))?;
        Ok(Self {
            db,
            clock,
            writes: Some(writes),
            committer: Some(committer),
        })
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_seconds()
    }

    /// Queues `op` for the next batch and waits until that batch is durable (or failed).
    async fn submit<R: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Items<'_>, i64) -> Step<R> + Send + 'static,
    ) -> Result<R> {
        let stopped = || PortError::Transient("embedded store: the committer stopped".into());
        let (reply, answer) = oneshot::channel();
        let op: Op = Box::new(move |t, now| Ok(op(t, now)?.map(|r| Box::new(r) as Boxed)));
        self.writes
            .as_ref()
            .ok_or_else(stopped)?
            .send(Pending { op, reply })
            .map_err(|_| stopped())?;
        let boxed = answer.await.map_err(|_| stopped())??;
        boxed
            .downcast::<R>()
            .map(|r| *r)
            .map_err(|_| PortError::Permanent("embedded store: mismatched result".into()))
    }

    /// Runs `f` on the live item inside a batch; `f` returns the item to store (or None to
    /// delete) and a result; an error from `f` writes nothing.
    async fn update<R: Send + 'static>(
        &self,
        pk: String,
        sk: String,
        f: impl FnOnce(Option<Item>) -> Result<(Option<Item>, R)> + Send + 'static,
    ) -> Result<R> {
        self.submit(move |t, now| {
            let live = match live_in(t, &pk, &sk, now)? {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            let (next, result) = match f(live) {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            match next {
                Some(item) => {
                    let bytes = match encode(&item) {
                        Ok(b) => b,
                        Err(e) => return Ok(Err(e)),
                    };
                    t.insert((pk.as_str(), sk.as_str()), bytes.as_slice())
                        .map_err(io)?;
                }
                None => {
                    t.remove((pk.as_str(), sk.as_str())).map_err(io)?;
                }
            }
            Ok(Ok(result))
        })
        .await
    }
}

impl Drop for EmbeddedTable {
    fn drop(&mut self) {
        // Closing the queue ends the committer after the batches already queued; waiting
        // for it releases the file, so the state directory can be opened again at once.
        self.writes.take();
        if let Some(c) = self.committer.take() {
            let _ = c.join();
        }
    }
}

/// Stages `writes` against the batch's transaction (each sees the ones before it) and
/// writes them only when every condition holds.
fn transact_in(t: &mut Items<'_>, now: i64, writes: Vec<TxWrite>) -> Step<()> {
    let mut staged: Vec<(String, String, Option<Vec<u8>>)> = Vec::with_capacity(writes.len());
    for w in writes {
        let (pk, sk) = (w.key().0.to_owned(), w.key().1.to_owned());
        let live = match live_in(t, &pk, &sk, now)? {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        let next = match w {
            TxWrite::Put {
                mut item,
                condition,
            } => {
                if let Err(e) = check(condition, live.as_ref()) {
                    return Ok(Err(e));
                }
                item.version = live.map_or(0, |i| i.version) + 1;
                Some(item)
            }
            TxWrite::Add { deltas, .. } => {
                let mut item =
                    live.unwrap_or_else(|| Item::new(pk.clone(), sk.clone(), Map::new()));
                let refs: Vec<(&str, i64)> = deltas.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                if let Err(e) = apply_deltas(&mut item.attrs, &refs) {
                    return Ok(Err(e));
                }
                item.version += 1;
                Some(item)
            }
            TxWrite::Delete { condition, .. } => {
                if let Err(e) = check(condition, live.as_ref()) {
                    return Ok(Err(e));
                }
                None
            }
        };
        let bytes = match next.as_ref().map(encode).transpose() {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        staged.push((pk, sk, bytes));
    }
    for (pk, sk, bytes) in staged {
        match bytes {
            Some(b) => {
                t.insert((pk.as_str(), sk.as_str()), b.as_slice())
                    .map_err(io)?;
            }
            None => {
                t.remove((pk.as_str(), sk.as_str())).map_err(io)?;
            }
        }
    }
    Ok(Ok(()))
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        let tx = self.db.begin_read().map_err(io)?;
        let t = tx.open_table(ITEMS).map_err(io)?;
        match t.get((pk, sk)).map_err(io)? {
            Some(v) => Ok(Some(decode(pk, sk, v.value())?).filter(|i| !i.is_expired(self.now()))),
            None => Ok(None),
        }
    }

    async fn put(&self, mut item: Item, condition: Condition) -> Result<u64> {
        let (pk, sk) = (item.pk.clone(), item.sk.clone());
        self.update(pk, sk, move |live| {
            check(condition, live.as_ref())?;
            item.version = live.map_or(0, |i| i.version) + 1;
            let v = item.version;
            Ok((Some(item), v))
        })
        .await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        self.update(pk.to_owned(), sk.to_owned(), move |live| {
            check(condition, live.as_ref())?;
            Ok((None, ()))
        })
        .await
    }

    async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<Vec<i64>> {
        self.add_with(pk, sk, deltas, None).await
    }

    async fn add_expiring(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: i64,
    ) -> Result<Vec<i64>> {
        self.add_with(pk, sk, deltas, Some(expires_at)).await
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let now = self.now();
        let tx = self.db.begin_read().map_err(io)?;
        let t = tx.open_table(ITEMS).map_err(io)?;
        let from = start_after.unwrap_or(prefix);
        let mut out: Vec<Item> = Vec::new();
        let mut next = None;
        for entry in t.range((pk, from)..).map_err(io)? {
            let (k, v) = entry.map_err(io)?;
            let (p, sk) = k.value();
            if p != pk || !sk.starts_with(prefix) {
                break;
            }
            if start_after == Some(sk) {
                continue;
            }
            let item = decode(p, sk, v.value())?;
            if item.is_expired(now) {
                continue;
            }
            if out.len() == limit {
                next = out.last().map(|i| i.sk.clone());
                break;
            }
            out.push(item);
        }
        Ok(Page { items: out, next })
    }

    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>> {
        // One read transaction for all of them.
        let now = self.now();
        let tx = self.db.begin_read().map_err(io)?;
        let t = tx.open_table(ITEMS).map_err(io)?;
        let mut out = Vec::with_capacity(keys.len());
        for (pk, sk) in keys {
            out.push(match t.get((pk.as_str(), sk.as_str())).map_err(io)? {
                Some(v) => Some(decode(pk, sk, v.value())?).filter(|i| !i.is_expired(now)),
                None => None,
            });
        }
        Ok(out)
    }

    fn max_transaction_writes(&self) -> usize {
        MAX_TX_WRITES
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<()> {
        check_tx(&writes, MAX_TX_WRITES)?;
        // All or nothing inside its batch: a failed condition stages nothing.
        self.submit(move |t, now| transact_in(t, now, writes)).await
    }
}

impl EmbeddedTable {
    /// Adds `deltas` to the item's numeric attributes (creating it), setting its expiry when
    /// given.
    async fn add_with(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Vec<i64>> {
        let owned: Vec<(String, i64)> = deltas.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect();
        let (p, s) = (pk.to_owned(), sk.to_owned());
        self.update(pk.to_owned(), sk.to_owned(), move |live| {
            let mut item = live.unwrap_or_else(|| Item::new(p, s, Map::new()));
            let refs: Vec<(&str, i64)> = owned.iter().map(|(n, d)| (n.as_str(), *d)).collect();
            let values = apply_deltas(&mut item.attrs, &refs)?;
            item.version += 1;
            if expires_at.is_some() {
                item.expires_at = expires_at;
            }
            Ok((Some(item), values))
        })
        .await
    }
}

//! In-memory implementations for tests, with fault injection.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::table::{Condition, Item, Page, Table, TxWrite, apply_deltas, check, check_tx};
use crate::{BlobStore, Clock, PortError, Result};

/// Errors queued to be returned by the next operations, for failure tests.
#[derive(Debug, Default)]
pub struct Faults(Mutex<VecDeque<PortError>>);

impl Faults {
    /// Queues `error` to be returned by the next call of the owning fake (in order, one
    /// call per error).
    pub fn inject(&self, error: PortError) {
        lock(&self.0).push_back(error);
    }

    fn next(&self) -> Result<()> {
        match lock(&self.0).pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The [`Table`] port in memory, with DynamoDB's conditions, expiry and transaction rules
/// (up to 100 writes a transaction, unless [`MemoryTable::with_max_transaction_writes`]).
pub struct MemoryTable {
    items: Mutex<BTreeMap<(String, String), Item>>,
    clock: Arc<dyn Clock>,
    max_tx_writes: usize,
    /// Errors the next calls return instead of running.
    pub faults: Faults,
}

impl MemoryTable {
    /// An empty table; `clock` decides which items have expired.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            items: Mutex::default(),
            clock,
            max_tx_writes: crate::table::MAX_TX_WRITES,
            faults: Faults::default(),
        }
    }

    /// The same table taking up to `max` writes a transaction (a local store's batches)
    /// instead of DynamoDB's 100.
    #[must_use]
    pub fn with_max_transaction_writes(mut self, max: usize) -> Self {
        self.max_tx_writes = max.max(1);
        self
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_seconds()
    }
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        self.faults.next()?;
        let now = self.now();
        Ok(lock(&self.items)
            .get(&(pk.to_owned(), sk.to_owned()))
            .filter(|i| !i.is_expired(now))
            .cloned())
    }

    async fn put(&self, mut item: Item, condition: Condition) -> Result<u64> {
        self.faults.next()?;
        let now = self.now();
        let mut items = lock(&self.items);
        let key = (item.pk.clone(), item.sk.clone());
        let live = items.get(&key).filter(|i| !i.is_expired(now));
        check(condition, live)?;
        item.version = live.map_or(0, |i| i.version) + 1;
        let version = item.version;
        items.insert(key, item);
        Ok(version)
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        self.faults.next()?;
        let now = self.now();
        let mut items = lock(&self.items);
        let key = (pk.to_owned(), sk.to_owned());
        check(condition, items.get(&key).filter(|i| !i.is_expired(now)))?;
        items.remove(&key);
        Ok(())
    }

    async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<Vec<i64>> {
        self.faults.next()?;
        let now = self.now();
        let mut items = lock(&self.items);
        let key = (pk.to_owned(), sk.to_owned());
        let mut item = items
            .get(&key)
            .filter(|i| !i.is_expired(now))
            .cloned()
            .unwrap_or_else(|| Item::new(pk, sk, serde_json::Map::new()));
        let values = apply_deltas(&mut item.attrs, deltas)?;
        item.version += 1;
        items.insert(key, item);
        Ok(values)
    }

    async fn add_expiring(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: i64,
    ) -> Result<Vec<i64>> {
        self.faults.next()?;
        let now = self.now();
        let mut items = lock(&self.items);
        let key = (pk.to_owned(), sk.to_owned());
        let mut item = items
            .get(&key)
            .filter(|i| !i.is_expired(now))
            .cloned()
            .unwrap_or_else(|| Item::new(pk, sk, serde_json::Map::new()));
        let values = apply_deltas(&mut item.attrs, deltas)?;
        item.version += 1;
        item.expires_at = Some(expires_at);
        items.insert(key, item);
        Ok(values)
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        self.faults.next()?;
        let now = self.now();
        let items = lock(&self.items);
        let from = (pk.to_owned(), start_after.unwrap_or(prefix).to_owned());
        let mut out = Vec::new();
        let mut next = None;
        for ((p, sk), item) in items.range(from..) {
            if p != pk || !sk.starts_with(prefix) {
                break;
            }
            if start_after == Some(sk.as_str()) || item.is_expired(now) {
                continue;
            }
            if out.len() == limit {
                next = out.last().map(|i: &Item| i.sk.clone());
                break;
            }
            out.push(item.clone());
        }
        Ok(Page { items: out, next })
    }

    fn max_transaction_writes(&self) -> usize {
        self.max_tx_writes
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<()> {
        self.faults.next()?;
        check_tx(&writes, self.max_tx_writes)?;
        let now = self.now();
        let mut items = lock(&self.items);
        // Check every condition first, then apply: all or nothing under one lock.
        for w in &writes {
            let condition = match w {
                TxWrite::Put { condition, .. } | TxWrite::Delete { condition, .. } => *condition,
                TxWrite::Add { .. } => continue,
            };
            let (pk, sk) = w.key();
            let live = items
                .get(&(pk.to_owned(), sk.to_owned()))
                .filter(|i| !i.is_expired(now));
            check(condition, live)?;
        }
        let mut staged = Vec::with_capacity(writes.len());
        for w in writes {
            match w {
                TxWrite::Put { mut item, .. } => {
                    let key = (item.pk.clone(), item.sk.clone());
                    item.version = items
                        .get(&key)
                        .filter(|i| !i.is_expired(now))
                        .map_or(0, |i| i.version)
                        + 1;
                    staged.push((key, Some(item)));
                }
                TxWrite::Add { pk, sk, deltas } => {
                    let key = (pk.clone(), sk.clone());
                    let mut item = items
                        .get(&key)
                        .filter(|i| !i.is_expired(now))
                        .cloned()
                        .unwrap_or_else(|| Item::new(pk, sk, serde_json::Map::new()));
                    let refs: Vec<(&str, i64)> =
                        deltas.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                    apply_deltas(&mut item.attrs, &refs)?;
                    item.version += 1;
                    staged.push((key, Some(item)));
                }
                TxWrite::Delete { pk, sk, .. } => staged.push(((pk, sk), None)),
            }
        }
        for (key, item) in staged {
            match item {
                Some(i) => {
                    items.insert(key, i);
                }
                None => {
                    items.remove(&key);
                }
            }
        }
        Ok(())
    }
}

/// The [`BlobStore`] port in memory.
#[derive(Default)]
pub struct MemoryBlobStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Errors the next calls return instead of running.
    pub faults: Faults,
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.faults.next()?;
        if !crate::blob::valid_key(key) {
            return Err(PortError::Permanent(format!("invalid blob key {key:?}")));
        }
        lock(&self.objects).insert(key.to_owned(), bytes.to_vec());
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.faults.next()?;
        Ok(lock(&self.objects).get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.faults.next()?;
        Ok(lock(&self.objects)
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        self.faults.next()?;
        Ok(lock(&self.objects)
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect())
    }
}

/// The in-memory event bus: keeps what was published, in order (with fault injection).
#[derive(Default)]
pub struct RecordingBus {
    events: Mutex<Vec<tillbridge_domain::Envelope>>,
    /// Errors the next calls return instead of running.
    pub faults: Faults,
}

impl RecordingBus {
    /// Everything published so far.
    pub fn published(&self) -> Vec<tillbridge_domain::Envelope> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl crate::EventBus for RecordingBus {
    async fn put_events(&self, events: &[tillbridge_domain::Envelope]) -> Result<Vec<Result<()>>> {
        self.faults.next()?;
        lock(&self.events).extend_from_slice(events);
        Ok(events.iter().map(|_| Ok(())).collect())
    }
}

/// The in-memory [`crate::Poster`]: records every post and answers the scripted statuses
/// in order (then 200), or an injected fault.
#[derive(Default)]
pub struct MemoryPoster {
    posts: Mutex<Vec<crate::OutboundPost>>,
    statuses: Mutex<VecDeque<u16>>,
    /// Errors the next calls return instead of running (unreachable endpoints).
    pub faults: Faults,
}

impl MemoryPoster {
    /// Every post so far, in order.
    pub fn posts(&self) -> Vec<crate::OutboundPost> {
        lock(&self.posts).clone()
    }

    /// The next posts are answered with these statuses, in order.
    pub fn answer(&self, statuses: &[u16]) {
        lock(&self.statuses).extend(statuses.iter().copied());
    }
}

#[async_trait]
impl crate::Poster for MemoryPoster {
    async fn post(&self, post: &crate::OutboundPost) -> Result<u16> {
        lock(&self.posts).push(post.clone());
        self.faults.next()?;
        Ok(lock(&self.statuses).pop_front().unwrap_or(200))
    }
}

/// The in-memory [`crate::Mailer`]: keeps what was sent (with fault injection).
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<crate::Email>>,
    /// Errors the next calls return instead of running.
    pub faults: Faults,
}

impl MemoryMailer {
    /// Every email sent so far, in order.
    pub fn sent(&self) -> Vec<crate::Email> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl crate::Mailer for MemoryMailer {
    async fn send(&self, email: &crate::Email) -> Result<()> {
        self.faults.next()?;
        lock(&self.sent).push(email.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests;

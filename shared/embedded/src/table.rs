use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tillbridge_ports::table::{
    Condition, Item, Page, Table, TxWrite, apply_deltas, check, check_tx,
};
use tillbridge_ports::{Clock, PortError, Result};

/// One redb table for all partitions: key (pk, sk), value the JSON of [`Stored`].
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    attrs: Map<String, Value>,
}

/// The [`Table`] port on one redb file: every partition in one redb table keyed by
/// `(pk, sk)`, each item stored as JSON with its version and expiry. Every write is its own
/// durable transaction; expired items read as absent.
pub struct EmbeddedTable {
    db: Database,
    clock: Arc<dyn Clock>,
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

fn encode(item: &Item) -> Result<Vec<u8>> {
    serde_json::to_vec(&Stored {
        version: item.version,
        expires_at: item.expires_at,
        attrs: item.attrs.clone(),
    })
    .map_err(|e| PortError::Permanent(e.to_string()))
}

impl EmbeddedTable {
    /// Opens the redb file at `path`, creating it when missing; `clock` gives "now" for
    /// expiry (unix seconds).
    ///
    /// # Errors
    ///
    /// [`PortError::Permanent`] when the file cannot be opened as a redb database (another
    /// process holds it, or it is not one); [`PortError::Transient`] when the first write
    /// transaction that creates the table fails.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let db = Database::create(path)
            .map_err(|e| PortError::Permanent(format!("cannot open {}: {e}", path.display())))?;
        // Create the table once so read transactions find it.
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ITEMS).map_err(io)?;
        tx.commit().map_err(io)?;
        Ok(Self { db, clock })
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_seconds()
    }

    /// Runs `f` on the live item inside one write transaction; `f` returns the item to
    /// store (or None to delete) and a result. Commits durably.
    fn update<R>(
        &self,
        pk: &str,
        sk: &str,
        f: impl FnOnce(Option<Item>) -> Result<(Option<Item>, R)>,
    ) -> Result<R> {
        let now = self.now();
        let tx = self.db.begin_write().map_err(io)?;
        let result = {
            let mut t = tx.open_table(ITEMS).map_err(io)?;
            let live = match t.get((pk, sk)).map_err(io)? {
                Some(v) => Some(decode(pk, sk, v.value())?).filter(|i| !i.is_expired(now)),
                None => None,
            };
            let (next, result) = f(live)?;
            match next {
                Some(item) => {
                    t.insert((pk, sk), encode(&item)?.as_slice()).map_err(io)?;
                }
                None => {
                    t.remove((pk, sk)).map_err(io)?;
                }
            }
            result
        };
        tx.commit().map_err(io)?;
        Ok(result)
    }
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
        self.update(&pk, &sk, |live| {
            check(condition, live.as_ref())?;
            item.version = live.map_or(0, |i| i.version) + 1;
            let v = item.version;
            Ok((Some(item), v))
        })
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        self.update(pk, sk, |live| {
            check(condition, live.as_ref())?;
            Ok((None, ()))
        })
    }

    async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<Vec<i64>> {
        self.update(pk, sk, |live| {
            let mut item = live.unwrap_or_else(|| Item::new(pk, sk, Map::new()));
            let values = apply_deltas(&mut item.attrs, deltas)?;
            item.version += 1;
            Ok((Some(item), values))
        })
    }

    async fn add_expiring(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: i64,
    ) -> Result<Vec<i64>> {
        self.update(pk, sk, |live| {
            let mut item = live.unwrap_or_else(|| Item::new(pk, sk, Map::new()));
            let values = apply_deltas(&mut item.attrs, deltas)?;
            item.version += 1;
            item.expires_at = Some(expires_at);
            Ok((Some(item), values))
        })
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

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<()> {
        check_tx(&writes)?;
        let now = self.now();
        // One redb write transaction: dropped (aborted) on any failed condition.
        let tx = self.db.begin_write().map_err(io)?;
        {
            let mut t = tx.open_table(ITEMS).map_err(io)?;
            let mut staged: Vec<(String, String, Option<Item>)> = Vec::with_capacity(writes.len());
            for w in writes {
                let (pk, sk) = (w.key().0.to_owned(), w.key().1.to_owned());
                let live = match t.get((pk.as_str(), sk.as_str())).map_err(io)? {
                    Some(v) => Some(decode(&pk, &sk, v.value())?).filter(|i| !i.is_expired(now)),
                    None => None,
                };
                match w {
                    TxWrite::Put {
                        mut item,
                        condition,
                    } => {
                        check(condition, live.as_ref())?;
                        item.version = live.map_or(0, |i| i.version) + 1;
                        staged.push((pk, sk, Some(item)));
                    }
                    TxWrite::Add { deltas, .. } => {
                        let mut item =
                            live.unwrap_or_else(|| Item::new(pk.clone(), sk.clone(), Map::new()));
                        let refs: Vec<(&str, i64)> =
                            deltas.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                        apply_deltas(&mut item.attrs, &refs)?;
                        item.version += 1;
                        staged.push((pk, sk, Some(item)));
                    }
                    TxWrite::Delete { condition, .. } => {
                        check(condition, live.as_ref())?;
                        staged.push((pk, sk, None));
                    }
                }
            }
            for (pk, sk, item) in staged {
                match item {
                    Some(i) => {
                        t.insert((pk.as_str(), sk.as_str()), encode(&i)?.as_slice())
                            .map_err(io)?;
                    }
                    None => {
                        t.remove((pk.as_str(), sk.as_str())).map_err(io)?;
                    }
                }
            }
        }
        tx.commit().map_err(io)?;
        Ok(())
    }
}

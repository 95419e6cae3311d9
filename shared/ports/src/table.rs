//! The table port: DynamoDB's guarantees, nothing more.
//!
//! Items live under a partition key and a sort key, carry a version that every write bumps,
//! an optional expiry (Unix seconds; expired items read as absent) and a JSON object of
//! attributes. Writes can be conditional on absence or on a version; numeric attributes
//! can be added to atomically; a partition can be read in sort-key order by prefix.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::Result;

/// One stored item: its key, version, expiry and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Partition key (`tenant#t1`, `queue#ingress`, …).
    pub pk: String,
    /// Sort key within the partition; queries return items in its byte order.
    pub sk: String,
    /// 1 after the first write, +1 on every write.
    pub version: u64,
    /// Unix seconds after which the item reads as absent (DynamoDB TTL).
    pub expires_at: Option<i64>,
    /// The item's attributes; by convention a whole document is under `doc`.
    pub attrs: Map<String, Value>,
}

impl Item {
    /// A new item (version 0, no expiry) to write.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, attrs: Map<String, Value>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            version: 0,
            expires_at: None,
            attrs,
        }
    }

    /// The item expiring at `unix_secs` (Unix seconds).
    pub fn expiring_at(mut self, unix_secs: i64) -> Self {
        self.expires_at = Some(unix_secs);
        self
    }

    /// Stores a serializable document under the `doc` attribute.
    ///
    /// # Errors
    ///
    /// [`crate::PortError::Permanent`] when `doc` cannot be serialized to JSON.
    pub fn with_doc<T: serde::Serialize>(
        pk: impl Into<String>,
        sk: impl Into<String>,
        doc: &T,
    ) -> Result<Self> {
        let value = serde_json::to_value(doc)
            .map_err(|e| crate::PortError::Permanent(format!("serialize: {e}")))?;
        let mut attrs = Map::new();
        attrs.insert("doc".into(), value);
        Ok(Self::new(pk, sk, attrs))
    }

    /// Reads the `doc` attribute back.
    ///
    /// # Errors
    ///
    /// [`crate::PortError::Permanent`] when the attribute does not deserialize as `T` (a
    /// corrupt or foreign item; retrying will not help).
    pub fn doc<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let v = self.attrs.get("doc").cloned().unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|e| {
            crate::PortError::Permanent(format!(
                "stored item {}/{} is corrupt: {e}",
                self.pk, self.sk
            ))
        })
    }

    /// True when the item has an expiry at or before `now_unix` (Unix seconds).
    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_unix)
    }
}

/// When a write may happen; otherwise it fails with [`crate::PortError::ConditionFailed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Unconditionally.
    Always,
    /// Only if no live item has this key (expired items count as absent).
    IfAbsent,
    /// Only if the live item is at exactly this version.
    IfVersion(u64),
}

/// One write of an all-or-nothing transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxWrite {
    /// [`Table::put`] of `item` under `condition`.
    Put {
        /// The item to write (its version is ignored).
        item: Item,
        /// When the write may happen.
        condition: Condition,
    },
    /// [`Table::add`]: add each delta to a numeric attribute, creating the item if needed.
    Add {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// (attribute, amount to add) pairs.
        deltas: Vec<(String, i64)>,
    },
    /// [`Table::delete`] under `condition`.
    Delete {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// When the delete may happen.
        condition: Condition,
    },
}

impl TxWrite {
    /// The (pk, sk) the write touches.
    pub fn key(&self) -> (&str, &str) {
        match self {
            TxWrite::Put { item, .. } => (&item.pk, &item.sk),
            TxWrite::Add { pk, sk, .. } | TxWrite::Delete { pk, sk, .. } => (pk, sk),
        }
    }
}

/// At most this many writes per transaction on DynamoDB (TransactWriteItems), each on a
/// distinct key; the default of [`Table::max_transaction_writes`].
pub const MAX_TX_WRITES: usize = 100;

/// Rejects transactions the backend would reject: none, more than `max` writes (the
/// backend's [`Table::max_transaction_writes`]), or two writes on one key.
///
/// # Errors
///
/// [`crate::PortError::Permanent`] for no writes, more than `max`, or two writes on one key.
pub fn check_tx(writes: &[TxWrite], max: usize) -> Result<()> {
    if writes.is_empty() || writes.len() > max {
        return Err(crate::PortError::Permanent(format!(
            "a transaction takes 1 to {max} writes"
        )));
    }
    let mut keys: Vec<(&str, &str)> = writes.iter().map(TxWrite::key).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(crate::PortError::Permanent(
            "a transaction writes each key at most once".into(),
        ));
    }
    Ok(())
}

/// One page of a [`Table::query`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// Live items in ascending sort-key order.
    pub items: Vec<Item>,
    /// Sort key to pass as `start_after` for the next page.
    pub next: Option<String>,
}

/// A key-value table with DynamoDB's guarantees (see the module docs). Every call fails with
/// [`crate::PortError::Transient`] on backend hiccups (retry),
/// [`crate::PortError::ConditionFailed`] when a condition does not hold, and
/// [`crate::PortError::TooLarge`] or [`crate::PortError::Permanent`] for writes that can
/// never succeed.
#[async_trait]
pub trait Table: Send + Sync {
    /// The live item at (pk, sk), or None when absent or expired.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>>;

    /// Writes the item (its `version` field is ignored) if the condition holds; returns the
    /// new version. Fails with `ConditionFailed` otherwise.
    async fn put(&self, item: Item, condition: Condition) -> Result<u64>;

    /// Deletes the item if the condition holds; deleting an absent item under
    /// [`Condition::Always`] succeeds.
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()>;

    /// Adds each delta to a numeric attribute (missing counts as 0), creating the item if
    /// needed, atomically; returns the new values.
    async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<Vec<i64>>;

    /// [`Table::add`] that also sets the item's expiry (Unix seconds, DynamoDB TTL): counters
    /// that age out. A backend without TTL may ignore the expiry (the default).
    async fn add_expiring(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: i64,
    ) -> Result<Vec<i64>> {
        let _ = expires_at;
        self.add(pk, sk, deltas).await
    }

    /// Live items of a partition whose sort key starts with `prefix`, ascending, at most
    /// `limit`, after `start_after` when given.
    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page>;

    /// Applies every write or none: `ConditionFailed` when any condition does not hold.
    /// Takes 1 to [`Table::max_transaction_writes`] writes, each on a distinct key.
    async fn transact(&self, writes: Vec<TxWrite>) -> Result<()>;

    /// Most writes one [`Table::transact`] takes on this backend: [`MAX_TX_WRITES`] (100, the
    /// DynamoDB limit) unless the backend says more. Batch work (a migration's apply and
    /// rollback) sizes its transactions by it, so a local store commits (and fsyncs) once per
    /// thousands of writes while DynamoDB still gets 100. A wrapper that does not forward it
    /// keeps the safe 100.
    fn max_transaction_writes(&self) -> usize {
        MAX_TX_WRITES
    }

    /// The live items at `keys`, in the same order (None when absent or expired): what a
    /// [`Table::get`] of each would return. The default reads one at a time; a backend may
    /// read them together (the embedded store: one read transaction).
    async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Option<Item>>> {
        let mut out = Vec::with_capacity(keys.len());
        for (pk, sk) in keys {
            out.push(self.get(pk, sk).await?);
        }
        Ok(out)
    }
}

/// Reads every page of a query (for small partitions).
pub async fn query_all(table: &dyn Table, pk: &str, prefix: &str) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = table.query(pk, prefix, after.as_deref(), 500).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The attributes of one item (counters, for example), empty when it does not exist.
///
/// # Errors
/// The table failed.
pub async fn attrs_of(table: &dyn Table, pk: &str, sk: &str) -> Result<Map<String, Value>> {
    Ok(table
        .get(pk, sk)
        .await?
        .map(|i| i.attrs)
        .unwrap_or_default())
}

/// The hour bucket of an instant: `YYYY-MM-DDTHH` (UTC).
pub fn hour_of(at: tillbridge_domain::Timestamp) -> String {
    at.to_string()
        .get(..13)
        .unwrap_or("0000-00-00T00")
        .to_owned()
}

/// Write shards of a hot counter partition: one tenant's counters written on every delivery
/// are spread over this many partitions (a DynamoDB partition takes about 1,000 writes/s).
pub const COUNTER_SHARDS: u32 = 8;

/// Hourly counters expire this long after their last write (DynamoDB TTL).
pub const HOURLY_TTL_SECS: i64 = 90 * 24 * 3600;

/// The shard a write keyed by `key` (a delivery id, an event id) goes to: FNV-1a, stable
/// across processes and releases.
pub fn shard_of(key: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % COUNTER_SHARDS
}

/// Partition of one shard of `pk`: `<pk>#shard<n>`.
pub fn shard_pk(pk: &str, shard: u32) -> String {
    format!("{pk}#shard{shard}")
}

/// Every partition a sharded counter may live in: the unsharded one first (written before
/// sharding; still read), then each shard.
pub fn all_shards(pk: &str) -> Vec<String> {
    std::iter::once(pk.to_owned())
        .chain((0..COUNTER_SHARDS).map(|n| shard_pk(pk, n)))
        .collect()
}

/// Adds `deltas` to counter item (`pk`'s shard chosen by `shard_key`, `sk`).
///
/// # Errors
/// The table failed.
pub async fn add_sharded(
    table: &dyn Table,
    pk: &str,
    sk: &str,
    shard_key: &str,
    deltas: &[(&str, i64)],
) -> Result<()> {
    table
        .add(&shard_pk(pk, shard_of(shard_key)), sk, deltas)
        .await?;
    Ok(())
}

/// A counter item written with [`add_sharded`] (and any unsharded one before it): the sum of
/// its numeric attributes over every shard, empty when none exists.
///
/// # Errors
/// The table failed.
pub async fn sum_sharded(table: &dyn Table, pk: &str, sk: &str) -> Result<Map<String, Value>> {
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for p in all_shards(pk) {
        if let Some(item) = table.get(&p, sk).await? {
            for (name, v) in &item.attrs {
                if let Some(n) = v.as_i64() {
                    *sums.entry(name.clone()).or_default() += n;
                }
            }
        }
    }
    Ok(sums.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
}

/// Adds `deltas` to the counters of `kind` in `at`'s hour bucket of partition `pk` (sort key
/// `<YYYY-MM-DDTHH>#<kind>`): counters a window of hours can be summed over. The partition is
/// sharded by `shard_key` (see [`add_sharded`]); the bucket expires [`HOURLY_TTL_SECS`] after
/// its hour.
///
/// # Errors
/// The table failed.
pub async fn add_hourly(
    table: &dyn Table,
    pk: &str,
    kind: &str,
    at: tillbridge_domain::Timestamp,
    shard_key: &str,
    deltas: &[(&str, i64)],
) -> Result<()> {
    table
        .add_expiring(
            &shard_pk(pk, shard_of(shard_key)),
            &format!("{}#{kind}", hour_of(at)),
            deltas,
            at.unix_seconds() + HOURLY_TTL_SECS,
        )
        .await?;
    Ok(())
}

/// The counters of `kind` in partition `pk` summed over the hours from `from`'s to `to`'s,
/// both included (at most 24 × 93 buckets are read: callers cap the window).
///
/// # Errors
/// The table failed.
pub async fn sum_hourly(
    table: &dyn Table,
    pk: &str,
    kind: &str,
    from: tillbridge_domain::Timestamp,
    to: tillbridge_domain::Timestamp,
) -> Result<Map<String, Value>> {
    let (first, last) = (hour_of(from), hour_of(to));
    let suffix = format!("#{kind}");
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for pk in all_shards(pk) {
        sum_hours(table, &pk, &first, &last, &suffix, &mut sums).await?;
    }
    Ok(sums.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
}

async fn sum_hours(
    table: &dyn Table,
    pk: &str,
    first: &str,
    last: &str,
    suffix: &str,
    sums: &mut std::collections::BTreeMap<String, i64>,
) -> Result<()> {
    // Sort keys `<hour>#<kind>` sort after the bare hour, so starting after it includes it.
    let mut after = Some(first.to_owned());
    'pages: loop {
        let page = table.query(pk, "", after.as_deref(), 500).await?;
        for item in &page.items {
            let Some(hour) = item.sk.get(..13) else {
                continue;
            };
            if hour > last {
                break 'pages;
            }
            if !item.sk.ends_with(suffix) {
                continue;
            }
            for (name, v) in &item.attrs {
                if let Some(n) = v.as_i64() {
                    *sums.entry(name.clone()).or_default() += n;
                }
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(())
}

/// What [`update_item`] does with the item it read.
#[derive(Debug)]
pub enum Update<T> {
    /// Nothing to write: return the value.
    Done(T),
    /// Write `item` — on the condition that the item read is unchanged (same version, or
    /// still absent) — together with `also` in one transaction, then return `value`.
    Put {
        /// The new item (same partition and sort key as the one read).
        item: Item,
        /// Further writes that must happen with it, each with its own condition.
        also: Vec<TxWrite>,
        /// What the caller gets once the write succeeded.
        value: T,
    },
}

/// The one read-change-write loop: reads `pk`/`sk` (and the items of `read_also`, for a
/// decision that depends on them), lets `decide` choose, writes if the item is still as read
/// (optimistic concurrency), and on a lost race reads and decides again, at most
/// `max_attempts` times.
///
/// # Errors
/// What `decide` returns; the table's errors; [`PortError::Transient`] when every attempt
/// lost a race (heavy contention: retry later).
///
/// [`PortError::Transient`]: crate::PortError::Transient
pub async fn update_item<T, E>(
    table: &dyn Table,
    pk: &str,
    sk: &str,
    read_also: &[(&str, &str)],
    max_attempts: usize,
    mut decide: impl FnMut(Option<&Item>, &[Option<Item>]) -> std::result::Result<Update<T>, E>,
) -> std::result::Result<T, E>
where
    E: From<crate::PortError>,
{
    for attempt in 0..max_attempts.max(1) {
        if attempt > 0 {
            // Lost a race: back off with full jitter (1 ms doubling, capped at 64 ms) so many
            // writers of one hot item spread out instead of retrying in lockstep — a store
            // that group-commits grants one of them per commit.
            let cap = 1u64 << attempt.min(6);
            tokio::time::sleep(std::time::Duration::from_micros(fastrand::u64(
                0..=cap * 1000,
            )))
            .await;
        }
        let current = table.get(pk, sk).await?;
        let mut others = Vec::with_capacity(read_also.len());
        for (opk, osk) in read_also {
            others.push(table.get(opk, osk).await?);
        }
        let condition = current
            .as_ref()
            .map_or(Condition::IfAbsent, |i| Condition::IfVersion(i.version));
        let (item, also, value) = match decide(current.as_ref(), &others)? {
            Update::Done(value) => return Ok(value),
            Update::Put { item, also, value } => (item, also, value),
        };
        let written = if also.is_empty() {
            table.put(item, condition).await.map(|_| ())
        } else {
            let mut writes = Vec::with_capacity(also.len() + 1);
            writes.push(TxWrite::Put { item, condition });
            writes.extend(also);
            table.transact(writes).await
        };
        match written {
            Ok(()) => return Ok(value),
            Err(crate::PortError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::PortError::Transient(format!(
        "{pk} / {sk} kept changing during {max_attempts} attempts to update it"
    ))
    .into())
}

/// Applies DynamoDB's ADD to an attribute map.
pub fn apply_deltas(attrs: &mut Map<String, Value>, deltas: &[(&str, i64)]) -> Result<Vec<i64>> {
    deltas
        .iter()
        .map(|(name, delta)| {
            let current = match attrs.get(*name) {
                None | Some(Value::Null) => 0,
                Some(v) => v.as_i64().ok_or_else(|| {
                    crate::PortError::Permanent(format!("attribute {name} is not an integer"))
                })?,
            };
            let next = current.checked_add(*delta).ok_or_else(|| {
                crate::PortError::Permanent(format!("attribute {name} overflows"))
            })?;
            attrs.insert((*name).to_owned(), Value::from(next));
            Ok(next)
        })
        .collect()
}

/// Checks a condition against the live item (None when absent or expired).
pub fn check(condition: Condition, live: Option<&Item>) -> Result<()> {
    let ok = match condition {
        Condition::Always => true,
        Condition::IfAbsent => live.is_none(),
        Condition::IfVersion(v) => live.is_some_and(|i| i.version == v),
    };
    if ok {
        Ok(())
    } else {
        Err(crate::PortError::ConditionFailed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod sharding_tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::memory::MemoryTable;
    use std::sync::Arc;
    use tillbridge_domain::Timestamp;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[tokio::test]
    async fn sharded_counters_sum_to_what_one_item_would_hold() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T10:00:00Z")));
        let t = MemoryTable::new(clock.clone());
        // Written before sharding: still counted.
        t.add("stats#t", "webhooks", &[("published", 5)])
            .await
            .unwrap();
        let mut shards = std::collections::BTreeSet::new();
        for i in 0..1_000 {
            let key = format!("delivery-{i}");
            shards.insert(shard_of(&key));
            add_sharded(
                &t,
                "stats#t",
                "webhooks",
                &key,
                &[("published", 1), ("x.y", 2)],
            )
            .await
            .unwrap();
        }
        assert_eq!(
            shards.len(),
            COUNTER_SHARDS as usize,
            "every shard takes writes"
        );
        let sums = sum_sharded(&t, "stats#t", "webhooks").await.unwrap();
        assert_eq!(sums["published"], 1_005);
        assert_eq!(sums["x.y"], 2_000);
        assert!(
            sum_sharded(&t, "stats#u", "webhooks")
                .await
                .unwrap()
                .is_empty()
        );
        // Stable: the same key always lands on the same shard.
        assert_eq!(shard_of("delivery-7"), shard_of("delivery-7"));
    }

    #[tokio::test]
    async fn hourly_counters_sum_over_shards_and_expire_after_90_days() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T10:00:00Z")));
        let t = MemoryTable::new(clock.clone());
        let ten = at("2026-03-01T10:15:00Z");
        let eleven = at("2026-03-01T11:59:00Z");
        // A bucket from before sharding, in the unsharded partition.
        t.add("h#t", "2026-03-01T10#webhooks", &[("published", 3)])
            .await
            .unwrap();
        for i in 0..100 {
            let when = if i % 2 == 0 { ten } else { eleven };
            add_hourly(
                &t,
                "h#t",
                "webhooks",
                when,
                &format!("d{i}"),
                &[("published", 1)],
            )
            .await
            .unwrap();
        }
        add_hourly(&t, "h#t", "catalog", ten, "d0", &[("applied", 1)])
            .await
            .unwrap();
        let both = sum_hourly(&t, "h#t", "webhooks", ten, eleven)
            .await
            .unwrap();
        assert_eq!(both["published"], 103);
        let first = sum_hourly(&t, "h#t", "webhooks", ten, ten).await.unwrap();
        assert_eq!(first["published"], 53);
        // 90 days after the hour the sharded buckets are gone (the old one had no TTL).
        clock.advance_secs(HOURLY_TTL_SECS + 2 * 3600);
        let later = sum_hourly(&t, "h#t", "webhooks", ten, eleven)
            .await
            .unwrap();
        assert_eq!(later["published"], 3);
    }
}

//! The delivery log: one index item per delivery, keyed for time-ordered listing per tenant.
//!
//! `deliveries#<tenant>#<YYYY-MM-DDTHH>#<shard>` → `<delivery id>`: the delivery's receipt
//! (provider, bytes, correlation id, time). The delivery id is a UUIDv7 minted from the
//! receipt time ([`mint_id`]), so its text sorts by time (to the millisecond) and names its
//! own hour; the shard is [`shard_of`] the id (one of [`COUNTER_SHARDS`]). One tenant at 500
//! deliveries/s so writes about 63 items/s to each of 8 partitions, and a fresh set of
//! partitions every hour (a DynamoDB partition takes about 1,000 writes/s). A listing merges
//! the shards of an hour in id order, hour after hour ([`scan`]).
//!
//! The item is the story's `received` step, written instead of a `trail#` item rather than
//! beside it, so a webhook costs no more writes than before; [`crate::trail::history`] reads
//! it back as the first step. Outcomes are not written on it (another write per delivery):
//! a listing derives each row's outcome from its story. Kept as long as the story
//! ([`crate::trail::TRAIL_TTL_SECS`]).

use serde_json::{Map, Value};
use tillbridge_domain::{DeliveryId, TenantId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{COUNTER_SHARDS, Condition, Item, Table, hour_of, shard_of};

use crate::trail::TRAIL_TTL_SECS;

/// A new delivery id: a UUIDv7 carrying `at` (milliseconds) as its time.
///
/// # Errors
/// Never in practice (a UUID's text is a valid delivery id).
pub fn mint_id(at: Timestamp) -> Result<DeliveryId, tillbridge_domain::DomainError> {
    let nanos = at.unix_nanos().max(0);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or_default();
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or_default();
    let uuid = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, sub));
    DeliveryId::from_uuid_text(&uuid.to_string())
}

/// The receipt time (milliseconds) a UUIDv7 delivery id carries; None for other ids.
pub fn received_at_of(id: &str) -> Option<Timestamp> {
    let b = id.as_bytes();
    if b.len() != 36 || b.get(14) != Some(&b'7') || b.get(8) != Some(&b'-') {
        return None;
    }
    let hex: String = id.get(..8)?.to_owned() + id.get(9..13)?;
    let ms = i64::from_str_radix(&hex, 16).ok()?;
    Timestamp::from_unix_millis(ms)
}

/// The smallest id text of the millisecond `at` (a `start_after` bound: every id minted at or
/// after `at` sorts after it).
fn lower_bound(at: Timestamp) -> String {
    let ms = (at.unix_nanos().max(0) / 1_000_000) as u64 & 0xffff_ffff_ffff;
    let hex = format!("{ms:012x}");
    format!("{}-{}-0000-0000-000000000000", &hex[..8], &hex[8..])
}

/// Partition of one shard of a tenant's deliveries received in `hour` (`YYYY-MM-DDTHH`).
pub fn pk(tenant: &TenantId, hour: &str, shard: u32) -> String {
    format!("deliveries#{tenant}#{hour}#{shard}")
}

/// Where a delivery's index item lives; None for an id that is not a UUIDv7.
pub fn key(tenant: &TenantId, id: &DeliveryId) -> Option<(String, String)> {
    let at = received_at_of(id.as_str())?;
    Some((
        pk(tenant, &hour_of(at), shard_of(id.as_str())),
        id.as_str().to_owned(),
    ))
}

/// Records a delivery's receipt (`detail`: provider, bytes, correlation id): the index item,
/// which is also the story's `received` step. Falls back to a `trail#` step for an id that
/// is not a UUIDv7.
///
/// # Errors
/// The table failed.
pub async fn record_receipt(
    table: &dyn Table,
    tenant: &TenantId,
    id: &DeliveryId,
    at: Timestamp,
    detail: Map<String, Value>,
) -> Result<(), PortError> {
    let Some((pk, sk)) = key(tenant, id) else {
        return crate::trail::record(table, tenant, id, at, "received", Value::Object(detail))
            .await;
    };
    let mut attrs = detail;
    attrs.insert("step".into(), Value::from("received"));
    attrs.insert("at".into(), serde_json::json!(at));
    attrs.insert("delivery_id".into(), serde_json::json!(id));
    let item = Item::new(pk, sk, attrs).expiring_at(at.unix_seconds() + TRAIL_TTL_SECS);
    table.put(item, Condition::Always).await?;
    Ok(())
}

/// A delivery's receipt (its index item's attributes), None when unknown or expired.
///
/// # Errors
/// The table failed.
pub async fn receipt(
    table: &dyn Table,
    tenant: &TenantId,
    id: &DeliveryId,
) -> Result<Option<Map<String, Value>>, PortError> {
    let Some((pk, sk)) = key(tenant, id) else {
        return Ok(None);
    };
    Ok(table.get(&pk, &sk).await?.map(|i| i.attrs))
}

/// Where a listing stands: the hour (Unix seconds of its start) and the last id returned
/// in it (None: from the hour's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Start of the hour being read (Unix seconds, a multiple of 3600).
    pub hour: i64,
    /// The last id read in that hour.
    pub after: Option<String>,
}

impl Position {
    /// The start of a listing from `from`.
    pub fn from(from: Timestamp) -> Self {
        Self {
            hour: from.unix_seconds().div_euclid(3600) * 3600,
            after: Some(lower_bound(from)),
        }
    }

    /// The position just after `id` (a delivery id that [`scan`] returned).
    pub fn after_id(id: &str) -> Option<Self> {
        let at = received_at_of(id)?;
        Some(Self {
            hour: at.unix_seconds().div_euclid(3600) * 3600,
            after: Some(id.to_owned()),
        })
    }

    /// As text for a cursor: `<hour>.<after>`.
    pub fn to_text(&self) -> String {
        format!(
            "{}.{}",
            self.hour,
            self.after.as_deref().unwrap_or_default()
        )
    }

    /// Back from [`Position::to_text`]; None when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let (hour, after) = s.split_once('.')?;
        let hour: i64 = hour.parse().ok()?;
        if hour.rem_euclid(3600) != 0 || after.len() > 64 {
            return None;
        }
        if !after.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return None;
        }
        Some(Self {
            hour,
            after: (!after.is_empty()).then(|| after.to_owned()),
        })
    }
}

/// One round of a listing: the next receipts from `pos` in id (time) order, none received
/// after `to`, read from every shard of one hour (up to `chunk` items per shard), and where
/// the next round starts (None: the window is read). A round may return no receipts (an
/// empty hour) and still a next position. Each round costs [`COUNTER_SHARDS`] queries.
///
/// # Errors
/// The table failed.
pub async fn scan(
    table: &dyn Table,
    tenant: &TenantId,
    pos: &Position,
    to: Timestamp,
    chunk: usize,
) -> Result<(Vec<Map<String, Value>>, Option<Position>), PortError> {
    let Some(start) = Timestamp::from_unix_seconds(pos.hour) else {
        return Ok((Vec::new(), None));
    };
    if start > to {
        return Ok((Vec::new(), None));
    }
    let hour = hour_of(start);
    let mut items: Vec<Item> = Vec::new();
    let mut horizon: Option<String> = None;
    for shard in 0..COUNTER_SHARDS {
        let page = table
            .query(
                &pk(tenant, &hour, shard),
                "",
                pos.after.as_deref(),
                chunk.max(1),
            )
            .await?;
        if page.next.is_some()
            && let Some(last) = page.items.last()
            && horizon.as_deref().is_none_or(|h| last.sk.as_str() < h)
        {
            horizon = Some(last.sk.clone());
        }
        items.extend(page.items);
    }
    // Merged in id order; past a shard's last item of a full page, another shard may hold
    // earlier items not read yet: keep only what is certain to come first.
    items.retain(|i| horizon.as_deref().is_none_or(|h| i.sk.as_str() <= h));
    items.sort_by(|a, b| a.sk.cmp(&b.sk));
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        if received_at_of(&i.sk).is_some_and(|at| at > to) {
            return Ok((out, None));
        }
        out.push(i.attrs);
    }
    let next = match horizon {
        Some(h) => Some(Position {
            hour: pos.hour,
            after: Some(h),
        }),
        None => {
            let hour = pos.hour + 3600;
            (hour <= to.unix_seconds()).then_some(Position { hour, after: None })
        }
    };
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tillbridge_ports::clock::ManualClock;
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ids_carry_their_receipt_time_and_sort_by_it() {
        let at =
            Timestamp::parse_rfc3339("2026-11-30T10:15:00.123Z").unwrap_or_else(|e| panic!("{e}"));
        let id = mint_id(at).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(received_at_of(id.as_str()), Some(at));
        let later = mint_id(at.plus_seconds(1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(id.as_str() < later.as_str());
        assert!(lower_bound(at).as_str() < id.as_str());
        assert!(lower_bound(at.plus_seconds(1)).as_str() > id.as_str());
        assert_eq!(received_at_of("not-a-uuid"), None);
        assert_eq!(
            received_at_of("6f9619ff-8b86-4011-b42d-00c04fc964ff"),
            None,
            "a v4 id carries no time"
        );
        let p = Position::from(at);
        assert_eq!(Position::parse(&p.to_text()), Some(p));
        assert_eq!(Position::parse("12.x"), None);
        assert_eq!(Position::parse("3600.<script>"), None);
    }

    fn start() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-30T09:59:00Z").unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_listing_merges_the_shards_in_time_order_in_memory() {
        let clock = Arc::new(ManualClock::new(start()));
        listing_on(Arc::new(MemoryTable::new(clock))).await;
    }

    #[tokio::test]
    async fn a_listing_merges_the_shards_in_time_order_in_redb() {
        let dir = std::env::temp_dir().join(format!(
            "tillbridge-deliveries-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::new(start()));
        let table = tillbridge_embedded::EmbeddedTable::open(&dir.join("table.redb"), clock)
            .unwrap_or_else(|e| panic!("{e}"));
        listing_on(Arc::new(table)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    async fn listing_on(table: Arc<dyn Table>) {
        let t = tenant();
        let start = start();
        let mut ids = Vec::new();
        for n in 0..40 {
            let at = start.plus_seconds(n * 7);
            let id = mint_id(at).unwrap_or_else(|e| panic!("{e}"));
            let mut d = Map::new();
            d.insert(
                "provider".into(),
                json!(if n % 2 == 0 { "shopify" } else { "square" }),
            );
            record_receipt(table.as_ref(), &t, &id, at, d)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            ids.push(id.as_str().to_owned());
        }
        // Small chunks: every round merges partial pages of the shards.
        let mut pos = Some(Position::from(start));
        let mut seen = Vec::new();
        let mut rounds = 0;
        while let Some(p) = pos {
            let (rows, next) = scan(table.as_ref(), &t, &p, start.plus_seconds(3600), 2)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            seen.extend(
                rows.iter()
                    .map(|r| r["delivery_id"].as_str().unwrap_or_default().to_owned()),
            );
            pos = next;
            rounds += 1;
            assert!(rounds < 500);
        }
        assert_eq!(seen, ids, "every delivery once, oldest first");
        // A window starting mid-way and a cursor after a given id.
        let from = start.plus_seconds(70);
        let (rows, _) = scan(table.as_ref(), &t, &Position::from(from), from, 100)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1, "only the delivery at exactly 70 s");
        let after = Position::after_id(&ids[3]).unwrap_or_else(|| panic!("v7"));
        let (rows, _) = scan(table.as_ref(), &t, &after, start.plus_seconds(3600), 100)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0]["delivery_id"], json!(ids[4]));
        // The receipt is the story's first step.
        let id = DeliveryId::parse(&ids[0]).unwrap_or_else(|e| panic!("{e}"));
        let steps = crate::trail::history(table.as_ref(), &t, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(steps[0]["step"], json!("received"));
        assert_eq!(steps[0]["provider"], json!("shopify"));
    }
}

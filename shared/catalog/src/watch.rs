//! A change feed of one namespace for one watcher: while a namespace is watched, every
//! applied change to one of its items (upsert, delete, stock) leaves a mark naming the item's
//! product, and the watcher drains the marks at its own pace. A migration's cutover is the
//! watcher today: until the merchant switches, source changes keep flowing to the new system
//! (shared/design/CLI.md "Destination").
//!
//! Marks coalesce: one per product however many changes arrive, and a mark's table version
//! moves with every change, so [`settle`] removes a mark only if nothing changed the product
//! since it was read ([`Condition::IfVersion`]) — a change that lands while the watcher writes
//! is never lost. A mark is written before the event is acknowledged (an error fails the
//! event and the queue retries it), so nothing applied is missed either.
//!
//! Table (beside [`crate::keys`]):
//! - `watch#<tenant>` → `<namespace>`: the watcher (`{"watcher": …, "since": …}`).
//! - `changes#<tenant>#<namespace>` → `<product id>`: one mark per changed product.

use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{CutoverRequested, EventData, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{CatalogItem, Envelope, TenantId, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table};

use crate::keys::{self, catalog_pk};
use crate::{CatalogError, CatalogRecord, namespace};

/// Who watches a namespace, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The watcher's id (a migration id for a cutover).
    pub watcher: String,
    /// When the watch began.
    pub since: Timestamp,
}

/// One changed product waiting for the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The product's id in the namespace (a variant's parent, else the item itself).
    pub product_id: String,
    /// When the newest change was applied (tillbridge's receipt time).
    pub at: Timestamp,
    /// The mark's table version: [`settle`] removes only this version.
    pub version: u64,
}

/// A product as the catalog has it now: its live records (the parent's own record, when it
/// has one, and its live variants), or none when it is gone (deleted at the vendor).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Product {
    /// The product's id.
    pub product_id: String,
    /// Live items: the parent's own record first (when live), then its variants by id.
    pub items: Vec<CatalogItem>,
}

fn watch_pk(tenant: &TenantId) -> String {
    format!("watch#{tenant}")
}

fn changes_pk(tenant: &TenantId, namespace: &str) -> String {
    format!("changes#{tenant}#{namespace}")
}

/// Starts (or takes over) watching `namespace` of `tenant` for `watcher`.
///
/// # Errors
/// The table failed.
pub async fn watch(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    watcher: &str,
    since: Timestamp,
) -> Result<(), CatalogError> {
    let doc = Watch {
        watcher: watcher.to_owned(),
        since,
    };
    table
        .put(
            Item::with_doc(watch_pk(tenant), namespace, &doc)?,
            Condition::Always,
        )
        .await?;
    Ok(())
}

/// The watch on `namespace` of `tenant`, if any.
///
/// # Errors
/// The table failed, or the stored watch is corrupt.
pub async fn watcher(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
) -> Result<Option<Watch>, CatalogError> {
    match table.get(&watch_pk(tenant), namespace).await? {
        Some(i) => Ok(Some(i.doc()?)),
        None => Ok(None),
    }
}

/// Ends `watcher`'s watch on `namespace` (another watcher's is left alone) and drops its
/// marks. True when the watch was `watcher`'s.
///
/// # Errors
/// The table failed.
pub async fn unwatch(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    watcher: &str,
) -> Result<bool, CatalogError> {
    let Some(item) = table.get(&watch_pk(tenant), namespace).await? else {
        return Ok(false);
    };
    let w: Watch = item.doc()?;
    if w.watcher != watcher {
        return Ok(false);
    }
    match table
        .delete(
            &watch_pk(tenant),
            namespace,
            Condition::IfVersion(item.version),
        )
        .await
    {
        Ok(()) | Err(PortError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    let pk = changes_pk(tenant, namespace);
    for mark in tillbridge_ports::table::query_all(table, &pk, "").await? {
        table.delete(&pk, &mark.sk, Condition::Always).await?;
    }
    Ok(true)
}

/// `migration.cutover.requested` for the changes `cause` (a catalog event, a vendor pull's
/// notification) marked in `namespace`: the migration lane flows them to the destination,
/// off the path that applied them. Its id is derived from the cause's, so a redelivered
/// cause asks once.
pub fn cutover_request(cause: &Envelope, namespace: &str, now: Timestamp) -> Envelope {
    Envelope {
        event_id: derive_event_id(&format!("cutover/{}", cause.event_id), 0),
        entity_id: namespace.to_owned(),
        body: EventData::MigrationCutoverRequested(CutoverRequested {
            namespace: namespace.to_owned(),
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: cause.tenant_id.clone(),
        provider: None,
        occurred_at: now,
        received_at: now,
        correlation_id: cause.correlation_id.clone(),
        delivery_key: None,
    }
}

/// Leaves a mark for the product `event` changed, when its namespace is watched and the
/// change was applied (called by [`crate::apply_and_mark`]); true when it left one.
pub(crate) async fn note(table: &dyn Table, event: &Envelope) -> Result<bool, CatalogError> {
    let tenant = &event.tenant_id;
    let ns = namespace(event);
    let id = match &event.body {
        EventData::CatalogItemUpserted(u) => Some(
            u.item
                .parent_id
                .clone()
                .unwrap_or_else(|| u.item.external_id.clone()),
        ),
        EventData::CatalogItemDeleted(d) => Some(d.external_id.clone()),
        EventData::InventoryAdjusted(a) => match (&a.external_id, &a.inventory_item_id) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(inv)) => table
                .get(&catalog_pk(tenant), &keys::alias_sk(ns, inv))
                .await?
                .map(|i| i.doc::<String>())
                .transpose()?,
            (None, None) => None,
        },
        _ => None,
    };
    let Some(id) = id else { return Ok(false) };
    if table.get(&watch_pk(tenant), ns).await?.is_none() {
        return Ok(false);
    }
    // A variant's mark names its product.
    let product = match product_of(table, tenant, ns, &id).await? {
        Some(parent) => parent,
        None => id,
    };
    let mut attrs = serde_json::Map::new();
    attrs.insert("at".into(), serde_json::json!(event.received_at));
    table
        .put(
            Item::new(changes_pk(tenant, ns), product, attrs),
            Condition::Always,
        )
        .await?;
    Ok(true)
}

/// The parent of item `id` (also of a deleted one, from its last upserted version).
async fn product_of(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    id: &str,
) -> Result<Option<String>, CatalogError> {
    let Some(record) = crate::read::record(table, tenant, namespace, id).await? else {
        return Ok(None);
    };
    Ok(last_item(&record).and_then(|i| i.parent_id))
}

fn last_item(r: &CatalogRecord) -> Option<CatalogItem> {
    r.item
        .clone()
        .or_else(|| r.versions.iter().rev().find_map(|v| v.item.clone()))
        .or_else(|| r.base.as_ref().and_then(|b| b.item.clone()))
}

/// Every watched namespace of `tenant` with its watch.
///
/// # Errors
/// The table failed, or a stored watch is corrupt.
pub async fn watches(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<(String, Watch)>, CatalogError> {
    tillbridge_ports::table::query_all(table, &watch_pk(tenant), "")
        .await?
        .iter()
        .map(|i| Ok((i.sk.clone(), i.doc()?)))
        .collect()
}

/// Up to `limit` changed products of the watched `namespace`, by product id, after
/// `after` (the last product id of the previous page) when given.
///
/// # Errors
/// The table failed.
pub async fn changed(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Change>, CatalogError> {
    let page = table
        .query(&changes_pk(tenant, namespace), "", after, limit)
        .await?;
    Ok(page
        .items
        .iter()
        .map(|i| Change {
            product_id: i.sk.clone(),
            at: i
                .attrs
                .get("at")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            version: i.version,
        })
        .collect())
}

/// Removes `change`'s mark unless the product changed again since it was read. True when
/// removed (false: a newer change waits).
///
/// # Errors
/// The table failed.
pub async fn settle(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    change: &Change,
) -> Result<bool, CatalogError> {
    match table
        .delete(
            &changes_pk(tenant, namespace),
            &change.product_id,
            Condition::IfVersion(change.version),
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(PortError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Product `product_id` of `namespace` as the catalog has it now (see [`Product`]).
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn product(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    product_id: &str,
) -> Result<Product, CatalogError> {
    let mut items = Vec::new();
    if let Some(own) = crate::get_item_in(table, tenant, namespace, product_id).await? {
        items.push(own);
    }
    let links = tillbridge_ports::table::query_all(
        table,
        &catalog_pk(tenant),
        &keys::children_prefix(namespace, product_id),
    )
    .await?;
    for link in &links {
        let Some(id) = link.sk.rsplit('#').next() else {
            continue;
        };
        if id == product_id {
            continue;
        }
        if let Some(item) = crate::get_item_in(table, tenant, namespace, id).await? {
            // A variant moved to another product since: not this one's any more.
            if item.parent_id.as_deref() == Some(product_id) {
                items.push(item);
            }
        }
    }
    Ok(Product {
        product_id: product_id.to_owned(),
        items,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_domain::event::{ItemDeleted, ItemUpserted, SCHEMA_VERSION, derive_event_id};
    use tillbridge_domain::{CorrelationId, Provider};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"))
    }

    fn envelope(body: EventData, n: i64) -> Envelope {
        Envelope {
            event_id: derive_event_id(&format!("watch/{n}"), 0),
            body,
            schema_version: SCHEMA_VERSION,
            tenant_id: tenant(),
            provider: Some(Provider::Shopify),
            entity_id: "x".into(),
            occurred_at: Timestamp::from_unix_nanos(n),
            received_at: Timestamp::from_unix_nanos(n),
            correlation_id: CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            delivery_key: None,
        }
    }

    fn variant(id: &str, parent: &str, price: i64, n: i64) -> Envelope {
        let mut item = CatalogItem::new(id);
        item.parent_id = Some(parent.into());
        item.name = Some("Mug".into());
        item.price_minor = Some(price);
        item.currency = Some(tillbridge_domain::Currency::USD);
        envelope(
            EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: None,
                product_variants: None,
            })),
            n,
        )
    }

    async fn apply(table: &MemoryTable, e: &Envelope) {
        crate::apply_and_count(table, e)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    async fn marks(table: &MemoryTable) -> Vec<Change> {
        changed(table, &tenant(), "shopify", None, 100)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Only watched namespaces are marked; marks coalesce per product; a mark settles only
    /// if nothing changed since it was read; a deleted variant still marks its product.
    #[tokio::test]
    async fn a_watched_namespace_marks_changed_products_without_losing_a_change() {
        let table = MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
        apply(&table, &variant("71", "7", 450, 1)).await;
        assert!(marks(&table).await.is_empty(), "not watched yet");

        watch(&table, &tenant(), "shopify", "mig-1", Timestamp::UNIX_EPOCH)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        apply(&table, &variant("71", "7", 500, 2)).await;
        apply(&table, &variant("72", "7", 500, 3)).await;
        apply(&table, &variant("72", "7", 500, 3)).await; // a redelivery: no change
        let read = marks(&table).await;
        assert_eq!(read.len(), 1, "{read:?}");
        assert_eq!(read[0].product_id, "7");
        let p = product(&table, &tenant(), "shopify", "7")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = p.items.iter().map(|i| i.external_id.as_str()).collect();
        assert_eq!(ids, ["71", "72"]);

        // A change lands while the watcher writes: its mark survives the settle.
        apply(&table, &variant("71", "7", 550, 4)).await;
        assert!(
            !settle(&table, &tenant(), "shopify", &read[0])
                .await
                .unwrap_or(true)
        );
        let again = marks(&table).await;
        assert!(
            settle(&table, &tenant(), "shopify", &again[0])
                .await
                .unwrap_or(false)
        );
        assert!(marks(&table).await.is_empty());

        // A deleted variant marks its product; the product keeps its live variant.
        let deleted = envelope(
            EventData::CatalogItemDeleted(ItemDeleted {
                external_id: "72".into(),
                deleted_at: Timestamp::from_unix_nanos(5),
            }),
            5,
        );
        apply(&table, &deleted).await;
        assert_eq!(marks(&table).await[0].product_id, "7");
        let p = product(&table, &tenant(), "shopify", "7")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.items.len(), 1);

        // Another watcher's unwatch leaves the watch; the owner's drops it and its marks.
        assert!(
            !unwatch(&table, &tenant(), "shopify", "mig-2")
                .await
                .unwrap_or(true)
        );
        assert!(
            unwatch(&table, &tenant(), "shopify", "mig-1")
                .await
                .unwrap_or(false)
        );
        assert!(marks(&table).await.is_empty());
        apply(&table, &variant("71", "7", 600, 6)).await;
        assert!(marks(&table).await.is_empty(), "not watched any more");
    }
}

//! The catalog context's storage layout; no other module (or crate) builds these keys.
//!
//! Table (partition → sort key):
//! - `catalog#<tenant>` → `item#<id>`: one [`crate::CatalogRecord`] per item (tombstones
//!   included); `child#<parent>#<id>`: a variant's link to its parent; `alias#<inventory id>`:
//!   a vendor inventory id → the item id (Square's inventory objects).
//! - `orders#<tenant>` → `order#<id>`: orders as the vendor last sent them.
//! - `fetch#<tenant>` → `<object type>#<id or *>`: the newest "changed, fetch it" request.
//! - `rejected#<tenant>` → `<received nanos, 20 digits>#<event id>`: updates that failed
//!   validation (TTL 30 days).
//! - `stats#<tenant>` → `catalog`: apply outcome counters (the partition is shared with the
//!   sync context's `webhooks` counters; the sort keys differ).

use tillbridge_domain::{TenantId, Timestamp};

/// Partition of a tenant's catalog.
pub fn catalog_pk(tenant: &TenantId) -> String {
    format!("catalog#{tenant}")
}

/// Sort key of one item's record.
pub fn item_sk(id: &str) -> String {
    format!("item#{id}")
}

/// Sort-key prefix of every item record.
pub const ITEM_PREFIX: &str = "item#";

/// The item id of an item record's sort key.
pub fn item_id(sk: &str) -> Option<&str> {
    sk.strip_prefix(ITEM_PREFIX)
}

/// Sort key linking variant `id` to `parent`.
pub fn child_sk(parent: &str, id: &str) -> String {
    format!("child#{parent}#{id}")
}

/// Sort-key prefix of `parent`'s variant links.
pub fn children_prefix(parent: &str) -> String {
    format!("child#{parent}#")
}

/// Sort key of an inventory-id alias.
pub fn alias_sk(inventory_id: &str) -> String {
    format!("alias#{inventory_id}")
}

/// Partition and sort key of one order.
pub fn order(tenant: &TenantId, id: &str) -> (String, String) {
    (format!("orders#{tenant}"), format!("order#{id}"))
}

/// Partition and sort key of the newest fetch request for one object.
pub fn fetch(tenant: &TenantId, object_type: &str, object_id: Option<&str>) -> (String, String) {
    (
        format!("fetch#{tenant}"),
        format!("{object_type}#{}", object_id.unwrap_or("*")),
    )
}

/// Partition of a tenant's rejected updates.
pub fn rejected_pk(tenant: &TenantId) -> String {
    format!("rejected#{tenant}")
}

/// Sort key of one rejected update: received time first, so a query lists oldest first.
pub fn rejected_sk(received_at: Timestamp, event_id: &str) -> String {
    format!("{:020}#{event_id}", received_at.unix_nanos().max(0))
}

/// Partition and sort key of the apply outcome counters.
pub fn stats(tenant: &TenantId) -> (String, &'static str) {
    (format!("stats#{tenant}"), "catalog")
}

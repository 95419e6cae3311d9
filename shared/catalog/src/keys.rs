//! The catalog context's storage layout; no other module (or crate) builds these keys.
//!
//! Identity: an item is its tenant, its *namespace* and the namespace's id. The namespace is
//! the vendor for webhook and sync items (`shopify`, `woocommerce`: WooCommerce product 123
//! and BigCommerce product 123 are two items), and the migration's source name for items a
//! migration created (a migration from source `square` lands in Square's namespace).
//! Namespaces are letters, digits, `-` and `_` (never `#`), so a key splits unambiguously
//! at its last `#`.
//!
//! Table (partition → sort key):
//! - `catalog#<tenant>` → `item#<id>#<namespace>`: one [`crate::CatalogRecord`] per item
//!   (tombstones included), sorted by id, so every namespace's record of one id is one query
//!   away (`GET …/items/{id}`); `child#<namespace>#<parent>#<id>`: a variant's link to its
//!   parent; `alias#<namespace>#<inventory id>`: a vendor inventory id → the item id (Shopify's
//!   inventory items); `pending#<namespace>#<inventory id>`: stock that arrived before its
//!   item (merged when the item arrives).
//! - `orders#<tenant>` → `order#<id>`: orders as the vendor last sent them.
//! - `fetch#<tenant>` → `<object type>#<id or *>`: the newest "changed, fetch it" request.
//! - `rejected#<tenant>` → `<received nanos, 20 digits>#<event id>`: updates that failed
//!   validation (TTL 30 days).
//! - `stats-hourly#<tenant>` → `<YYYY-MM-DDTHH>#catalog`: the outcome counters per hour of
//!   receipt (beside the sync context's `#webhooks`).
//! - `xref#<tenant>` → `<sku|gtin>#<value>#<namespace>#<id>`: the cross-reference index
//!   (verified against the item on every read).
//! - `outcome#<tenant>#<event id>` → `outcome`: what applying one event did (TTL 7 days; the
//!   delivery's story).
//! - `stats#<tenant>` → `catalog`: apply outcome counters (the partition is shared with the
//!   sync context's `webhooks` counters; the sort keys differ).

use tillbridge_domain::{TenantId, Timestamp};

/// Partition of a tenant's catalog.
pub fn catalog_pk(tenant: &TenantId) -> String {
    format!("catalog#{tenant}")
}

/// Sort key of one item's record.
pub fn item_sk(namespace: &str, id: &str) -> String {
    format!("item#{id}#{namespace}")
}

/// Sort-key prefix of every item record.
pub const ITEM_PREFIX: &str = "item#";

/// Sort-key prefix of the records of `id` in every namespace.
pub fn item_any_namespace_prefix(id: &str) -> String {
    format!("item#{id}#")
}

/// The (namespace, id) of an item record's sort key.
pub fn item_key(sk: &str) -> Option<(&str, &str)> {
    let (id, namespace) = sk.strip_prefix(ITEM_PREFIX)?.rsplit_once('#')?;
    Some((namespace, id))
}

/// The item id of an item record's sort key.
pub fn item_id(sk: &str) -> Option<&str> {
    item_key(sk).map(|(_, id)| id)
}

/// Sort key linking variant `id` to `parent`.
pub fn child_sk(namespace: &str, parent: &str, id: &str) -> String {
    format!("child#{namespace}#{parent}#{id}")
}

/// Sort-key prefix of `parent`'s variant links.
pub fn children_prefix(namespace: &str, parent: &str) -> String {
    format!("child#{namespace}#{parent}#")
}

/// Sort key of an inventory-id alias.
pub fn alias_sk(namespace: &str, inventory_id: &str) -> String {
    format!("alias#{namespace}#{inventory_id}")
}

/// Sort key of stock kept for an inventory id whose item has not arrived yet.
pub fn pending_stock_sk(namespace: &str, inventory_id: &str) -> String {
    format!("pending#{namespace}#{inventory_id}")
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

/// Partition and sort key of one event's apply outcome (kept 7 days for the delivery's story;
/// one partition per event, so a busy tenant spreads its writes).
pub fn event_outcome(tenant: &TenantId, event_id: &str) -> (String, &'static str) {
    (format!("outcome#{tenant}#{event_id}"), "outcome")
}

/// Partition of a tenant's hourly counters (shared with the sync context; kinds differ).
pub fn stats_hourly_pk(tenant: &TenantId) -> String {
    format!("stats-hourly#{tenant}")
}

/// Partition of a tenant's cross-reference index (SKU and GTIN → items in every namespace).
pub fn xref_pk(tenant: &TenantId) -> String {
    format!("xref#{tenant}")
}

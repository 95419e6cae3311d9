//! The cross-reference: the same product at different vendors, linked by SKU and by GTIN —
//! the old POS's item and the new POS's item during a migration, or one product sold through
//! two channels. An index (`xref#<tenant>` → `<sku|gtin>#<value>#<namespace>#<id>`) is written
//! when an item is applied; a lookup reads the candidates and keeps only those whose current
//! item still carries the value (read repair), so a changed SKU or a deleted item never links.

use serde::Serialize;
use tillbridge_domain::{CatalogItem, TenantId};
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};

use crate::{CatalogError, keys};

/// One linked item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Linked {
    /// Its namespace: the vendor (or a migration's source name).
    pub provider: String,
    /// Its id there.
    pub id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its variant's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_name: Option<String>,
    /// What links it: `sku` or `gtin`.
    pub by: &'static str,
}

/// A SKU as compared: trimmed, upper case; None when empty.
pub fn sku_key(sku: &str) -> Option<String> {
    let s = sku.trim().to_uppercase();
    (!s.is_empty() && s.len() <= 200).then(|| escape(&s))
}

/// A GTIN as compared: its digits, zero-padded to GTIN-14 when it is a GTIN length (8, 12,
/// 13, 14), so a UPC-A and its EAN-13 form link; None without digits.
pub fn gtin_key(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        0 => None,
        8 | 12 | 13 | 14 => Some(format!("{digits:0>14}")),
        n if n <= 40 => Some(digits),
        _ => None,
    }
}

/// Key parts never contain `#` (the separator).
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('#', "%23")
}

fn keys_of(item: &CatalogItem) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(k) = item.sku.as_deref().and_then(sku_key) {
        out.push(("sku", k));
    }
    if let Some(k) = item.barcode.as_deref().and_then(gtin_key) {
        out.push(("gtin", k));
    }
    out
}

/// Indexes an applied item by its SKU and GTIN.
///
/// # Errors
/// The table failed.
pub async fn index(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    item: &CatalogItem,
) -> Result<(), CatalogError> {
    for w in index_writes(tenant, namespace, item)? {
        if let TxWrite::Put { item, condition } = w {
            table.put(item, condition).await?;
        }
    }
    Ok(())
}

/// The index entries of an applied item (at most two: SKU and GTIN) as unconditional puts,
/// for a caller that writes them in the same transaction as the item (a migration batch).
///
/// # Errors
/// An entry does not serialize.
pub fn index_writes(
    tenant: &TenantId,
    namespace: &str,
    item: &CatalogItem,
) -> Result<Vec<TxWrite>, CatalogError> {
    keys_of(item)
        .into_iter()
        .map(|(kind, value)| {
            let sk = format!("{kind}#{value}#{namespace}#{}", escape(&item.external_id));
            let doc = serde_json::json!({ "namespace": namespace, "id": item.external_id });
            Ok(TxWrite::Put {
                item: Item::with_doc(keys::xref_pk(tenant), sk, &doc)?,
                condition: Condition::Always,
            })
        })
        .collect()
}

/// Most entries [`index_writes`] gives for one item.
pub const MAX_INDEX_WRITES: usize = 2;

/// The live items carrying this SKU or GTIN, in every namespace.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn lookup(
    table: &dyn Table,
    tenant: &TenantId,
    sku: Option<&str>,
    gtin: Option<&str>,
) -> Result<Vec<Linked>, CatalogError> {
    let mut wanted = Vec::new();
    if let Some(k) = sku.and_then(sku_key) {
        wanted.push(("sku", k));
    }
    if let Some(k) = gtin.and_then(gtin_key) {
        wanted.push(("gtin", k));
    }
    let mut out: Vec<Linked> = Vec::new();
    for (kind, value) in wanted {
        let prefix = format!("{kind}#{value}#");
        for entry in query_all(table, &keys::xref_pk(tenant), &prefix).await? {
            let doc: serde_json::Value = entry.doc()?;
            let (Some(ns), Some(id)) = (doc["namespace"].as_str(), doc["id"].as_str()) else {
                continue;
            };
            if out.iter().any(|l| l.provider == ns && l.id == id) {
                continue;
            }
            // Read repair: only items that still carry the value link.
            let Some(item) = crate::get_item_in(table, tenant, ns, id).await? else {
                continue;
            };
            if !keys_of(&item)
                .iter()
                .any(|(k, v)| *k == kind && *v == value)
            {
                continue;
            }
            out.push(Linked {
                provider: ns.to_owned(),
                id: id.to_owned(),
                name: item.name,
                variant_name: item.variant_name,
                by: kind,
            });
        }
    }
    Ok(out)
}

/// The items at other vendors (or under other ids) that share `item`'s SKU or GTIN.
///
/// # Errors
/// As [`lookup`].
pub async fn same_as(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    item: &CatalogItem,
) -> Result<Vec<Linked>, CatalogError> {
    let mut linked = lookup(table, tenant, item.sku.as_deref(), item.barcode.as_deref()).await?;
    linked.retain(|l| !(l.provider == namespace && l.id == item.external_id));
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_domain::event::{EventData, ItemUpserted, SCHEMA_VERSION, derive_event_id};
    use tillbridge_domain::{CorrelationId, Envelope, Provider, Timestamp};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    fn upsert(provider: Provider, id: &str, sku: &str, barcode: Option<&str>) -> Envelope {
        let mut item = CatalogItem::new(id);
        item.name = Some(format!("{provider} {id}"));
        item.sku = Some(sku.into());
        item.barcode = barcode.map(str::to_owned);
        item.price_minor = Some(450);
        item.currency = Some(tillbridge_domain::Currency::USD);
        Envelope {
            event_id: derive_event_id(&format!("{provider}/{id}/{sku}"), 0),
            body: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: None,
                product_variants: None,
            })),
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}")),
            provider: Some(provider),
            entity_id: id.into(),
            occurred_at: Timestamp::from_unix_nanos(sku.len() as i64),
            received_at: Timestamp::UNIX_EPOCH,
            correlation_id: CorrelationId::parse("c").unwrap_or_else(|e| panic!("{e}")),
            delivery_key: None,
        }
    }

    /// The old POS's item and the new POS's link by SKU and by GTIN; a changed SKU unlinks.
    #[tokio::test]
    async fn items_link_across_vendors_and_unlink_when_they_change() {
        let table = MemoryTable::new(Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
        let t = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        for e in [
            upsert(Provider::Square, "SQ1", "LAT-1", Some("036000291452")),
            upsert(Provider::Shopify, "44", " lat-1", None),
            upsert(Provider::WooCommerce, "9", "OTHER", Some("0036000291452")),
        ] {
            let outcome = crate::apply_and_count(&table, &e)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(outcome, crate::ApplyOutcome::Applied);
        }
        let by_sku = lookup(&table, &t, Some("lat-1"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut found: Vec<(&str, &str)> = by_sku
            .iter()
            .map(|l| (l.provider.as_str(), l.id.as_str()))
            .collect();
        found.sort_unstable();
        assert_eq!(found, [("shopify", "44"), ("square", "SQ1")]);
        let square = crate::get_item_in(&table, &t, "square", "SQ1")
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("SQ1"));
        let twins = same_as(&table, &t, "square", &square)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut twins: Vec<(&str, &str)> =
            twins.iter().map(|l| (l.provider.as_str(), l.by)).collect();
        twins.sort_unstable();
        assert_eq!(twins, [("shopify", "sku"), ("woocommerce", "gtin")]);
        // Shopify's SKU changes: the old link is gone (read repair), the new one holds.
        crate::apply_and_count(&table, &upsert(Provider::Shopify, "44", "LAT-1-NEW", None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let by_sku = lookup(&table, &t, Some("LAT-1"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_sku.len(), 1, "{by_sku:?}");
    }

    #[test]
    fn codes_compare_as_people_mean_them() {
        assert_eq!(sku_key(" ab-1 "), Some("AB-1".into()));
        assert_eq!(sku_key("a#b"), Some("A%23B".into()));
        assert_eq!(sku_key("  "), None);
        // A UPC-A and its EAN-13 form are the same GTIN.
        assert_eq!(gtin_key("036000291452"), gtin_key("0036000291452"));
        assert_eq!(gtin_key("0 36000 29145 2"), Some("00036000291452".into()));
        assert_eq!(gtin_key("n/a"), None);
    }
}

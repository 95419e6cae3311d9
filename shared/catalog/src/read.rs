//! Reading the catalog: one item (by id in any namespace, or in one), pages, every item.

use tillbridge_domain::{CatalogItem, TenantId};
use tillbridge_ports::table::Table;

use crate::keys::{self, catalog_pk as pk, item_sk};
use crate::{CatalogError, CatalogRecord};

/// The stored record of `id` in `namespace`, tombstones included.
pub(crate) async fn record(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    id: &str,
) -> Result<Option<CatalogRecord>, CatalogError> {
    match table.get(&pk(tenant), &item_sk(namespace, id)).await? {
        Some(i) => Ok(Some(i.doc()?)),
        None => Ok(None),
    }
}

/// The item `id` of `namespace` as currently known; None when absent or deleted.
///
/// # Errors
/// The table failed, or the stored record is corrupt.
pub async fn get_item_in(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
    id: &str,
) -> Result<Option<CatalogItem>, CatalogError> {
    Ok(record(table, tenant, namespace, id)
        .await?
        .and_then(|r| r.visible_item()))
}

/// The live item with vendor id `id` in any namespace; None when absent or deleted
/// everywhere. When several vendors have a live item with this id (WooCommerce and
/// BigCommerce both have a product 123), the most recently changed one is answered (then the
/// namespace order): ask [`get_item_in`] for one vendor's.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn get_item(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CatalogItem>, CatalogError> {
    let records = tillbridge_ports::table::query_all(
        table,
        &pk(tenant),
        &keys::item_any_namespace_prefix(id),
    )
    .await?;
    let mut best: Option<(CatalogRecord, CatalogItem)> = None;
    for i in &records {
        // The prefix also matches ids that continue with `#…`: keep exact ids only.
        if keys::item_id(&i.sk) != Some(id) {
            continue;
        }
        let r: CatalogRecord = i.doc()?;
        let Some(item) = r.visible_item() else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|(b, _)| r.version_at > b.version_at)
        {
            best = Some((r, item));
        }
    }
    Ok(best.map(|(_, item)| item))
}

/// [`get_item`] with the namespace the answer came from.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn get_item_with_namespace(
    table: &dyn Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<(String, CatalogItem)>, CatalogError> {
    let records = tillbridge_ports::table::query_all(
        table,
        &pk(tenant),
        &keys::item_any_namespace_prefix(id),
    )
    .await?;
    let mut best: Option<(CatalogRecord, String, CatalogItem)> = None;
    for i in &records {
        let Some((ns, item_id)) = keys::item_key(&i.sk) else {
            continue;
        };
        if item_id != id {
            continue;
        }
        let r: CatalogRecord = i.doc()?;
        let Some(item) = r.visible_item() else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|(b, _, _)| r.version_at > b.version_at)
        {
            best = Some((r, ns.to_owned(), item));
        }
    }
    Ok(best.map(|(_, ns, item)| (ns, item)))
}

/// Every live item of the tenant, ordered by id (then namespace).
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn list_items(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<CatalogItem>, CatalogError> {
    let mut out = Vec::new();
    for_each_item(table, tenant, |item| {
        out.push(item);
        Ok::<_, CatalogError>(())
    })
    .await?;
    Ok(out)
}

/// One page of the tenant's live items in id order: at most `limit` items after the record
/// `cursor` (as a previous page answered it; None: from the start), and the cursor of the
/// next page (None: this was the last). Deleted items are skipped, so a page can hold fewer
/// than `limit`.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn items_page(
    table: &dyn Table,
    tenant: &TenantId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<CatalogItem>, Option<String>), CatalogError> {
    let after = cursor.map(|c| format!("{}{c}", keys::ITEM_PREFIX));
    let page = table
        .query(
            &pk(tenant),
            keys::ITEM_PREFIX,
            after.as_deref(),
            limit.max(1),
        )
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for i in &page.items {
        if let Some(item) = i.doc::<CatalogRecord>()?.visible_item() {
            items.push(item);
        }
    }
    let next = page
        .next
        .as_deref()
        .and_then(|sk| sk.strip_prefix(keys::ITEM_PREFIX))
        .map(str::to_owned);
    Ok((items, next))
}

/// Visits every live item of the tenant in id order, a page at a time (the catalog can be
/// far larger than memory wants to hold twice).
///
/// # Errors
/// The table failed, a stored record is corrupt, or `f` failed.
pub async fn for_each_item<E: From<CatalogError>>(
    table: &dyn Table,
    tenant: &TenantId,
    mut f: impl FnMut(CatalogItem) -> Result<(), E>,
) -> Result<(), E> {
    let mut after: Option<String> = None;
    loop {
        let page = table
            .query(&pk(tenant), keys::ITEM_PREFIX, after.as_deref(), 500)
            .await
            .map_err(CatalogError::from)?;
        for i in &page.items {
            let record = i.doc::<CatalogRecord>().map_err(CatalogError::from)?;
            if let Some(item) = record.visible_item() {
                f(item)?;
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}

/// Every live item of one namespace (a vendor's items), by id.
///
/// # Errors
/// The table failed, or a stored record is corrupt.
pub async fn live_items_in(
    table: &dyn Table,
    tenant: &TenantId,
    namespace: &str,
) -> Result<std::collections::BTreeMap<String, CatalogItem>, CatalogError> {
    let mut out = std::collections::BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = table
            .query(&pk(tenant), keys::ITEM_PREFIX, after.as_deref(), 500)
            .await?;
        for i in &page.items {
            let Some((ns, id)) = keys::item_key(&i.sk) else {
                continue;
            };
            if ns != namespace {
                continue;
            }
            if let Some(item) = i.doc::<CatalogRecord>()?.visible_item() {
                out.insert(id.to_owned(), item);
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

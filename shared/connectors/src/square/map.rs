//! Square catalog objects → canonical items and tombstones.
//!
//! An ITEM embeds its ITEM_VARIATIONs; each live variation is one canonical item
//! (`name` = item name, `variant_name` = variation name, `parent_id` = item id). A
//! `VARIABLE_PRICING` variation has no price. Deleted objects (`is_deleted`, returned only
//! with `include_deleted_objects`) become tombstones stamped with their `updated_at`.

use std::collections::{BTreeMap, HashMap};

use tillbridge_domain::{CatalogItem, Currency, Provider, Timestamp};

use super::wire::CatalogObject;
use crate::api::{FetchedItem, ObjectKind, Tombstone, vendor_time};
use crate::error::{ConnectorError, Result};

const V: Provider = Provider::Square;

/// What one batch of objects maps to.
#[derive(Debug, Default)]
pub(crate) struct Mapped {
    /// Live variations by id (an id seen twice keeps the last).
    pub items: BTreeMap<String, FetchedItem>,
    /// Deletions.
    pub tombstones: Vec<Tombstone>,
    /// Vendor objects seen (items and variations).
    pub fetched: u64,
    /// Variations whose parent ITEM was not among the objects: (path, object).
    pub orphans: Vec<(String, CatalogObject)>,
}

/// The category ids the objects refer to.
pub(crate) fn category_ids(objects: &[CatalogObject]) -> impl Iterator<Item = &str> {
    objects
        .iter()
        .filter_map(|o| o.item_data.as_ref())
        .filter_map(|d| {
            d.categories
                .first()
                .map(|c| c.id.as_str())
                .or(d.category_id.as_deref())
        })
}

/// Maps `objects` (from `<field>[i]`), finding parents among `objects` and `parents`.
///
/// # Errors
/// [`ConnectorError::Malformed`] naming the path of a bad timestamp, currency or a
/// variation without `item_variation_data`.
pub(crate) fn map_objects(
    field: &str,
    objects: &[CatalogObject],
    parents: &[CatalogObject],
    categories: &HashMap<String, String>,
    out: &mut Mapped,
) -> Result<()> {
    let by_id: HashMap<&str, &CatalogObject> = objects
        .iter()
        .chain(parents)
        .filter(|o| o.kind == "ITEM")
        .map(|o| (o.id.as_str(), o))
        .collect();
    for (i, obj) in objects.iter().enumerate() {
        let path = format!("{field}[{i}]");
        match obj.kind.as_str() {
            "ITEM" => map_item(&path, obj, categories, out)?,
            "ITEM_VARIATION" => {
                out.fetched += 1;
                if obj.is_deleted {
                    out.tombstones
                        .push(tombstone(&path, obj, ObjectKind::Variation)?);
                    continue;
                }
                let parent_id = obj
                    .item_variation_data
                    .as_ref()
                    .and_then(|d| d.item_id.as_deref());
                match parent_id.and_then(|p| by_id.get(p)) {
                    Some(parent) => {
                        let item = variation(&path, parent, obj, categories)?;
                        out.items.insert(obj.id.clone(), item);
                    }
                    None => out.orphans.push((path, obj.clone())),
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An ITEM and its embedded variations.
fn map_item(
    path: &str,
    obj: &CatalogObject,
    categories: &HashMap<String, String>,
    out: &mut Mapped,
) -> Result<()> {
    let variations = obj
        .item_data
        .as_ref()
        .map_or(&[][..], |d| d.variations.as_slice());
    out.fetched += 1 + variations.len() as u64;
    if obj.is_deleted {
        let deleted = tombstone(path, obj, ObjectKind::Product)?;
        for v in variations {
            out.tombstones.push(Tombstone {
                external_id: v.id.clone(),
                kind: ObjectKind::Variation,
                deleted_at: deleted.deleted_at,
            });
        }
        out.tombstones.push(deleted);
        return Ok(());
    }
    for (j, v) in variations.iter().enumerate() {
        let vpath = format!("{path}.item_data.variations[{j}]");
        if v.is_deleted {
            out.tombstones
                .push(tombstone(&vpath, v, ObjectKind::Variation)?);
        } else {
            out.items
                .insert(v.id.clone(), variation(&vpath, obj, v, categories)?);
        }
    }
    Ok(())
}

fn tombstone(path: &str, obj: &CatalogObject, kind: ObjectKind) -> Result<Tombstone> {
    let at = obj.updated_at.as_deref().ok_or_else(|| {
        ConnectorError::malformed(
            V,
            format!("{path}.updated_at"),
            "a deleted object has no time",
        )
    })?;
    Ok(Tombstone {
        external_id: obj.id.clone(),
        kind,
        deleted_at: vendor_time(V, &format!("{path}.updated_at"), at)?,
    })
}

fn time(path: &str, obj: &CatalogObject) -> Result<Option<Timestamp>> {
    obj.updated_at
        .as_deref()
        .map(|t| vendor_time(V, &format!("{path}.updated_at"), t))
        .transpose()
}

/// One variation of `item` as a canonical item (without stock).
pub(crate) fn variation(
    path: &str,
    item: &CatalogObject,
    var: &CatalogObject,
    categories: &HashMap<String, String>,
) -> Result<FetchedItem> {
    let data = var.item_variation_data.as_ref().ok_or_else(|| {
        ConnectorError::malformed(V, format!("{path}.item_variation_data"), "missing")
    })?;
    let item_data = item.item_data.clone().unwrap_or_default();
    let open_price = data.pricing_type.as_deref() == Some("VARIABLE_PRICING");
    let (price_minor, currency) = match (&data.price_money, open_price) {
        (Some(money), false) => {
            let currency = Currency::parse(&money.currency).map_err(|e| {
                ConnectorError::malformed(
                    V,
                    format!("{path}.item_variation_data.price_money.currency"),
                    e.to_string(),
                )
            })?;
            (Some(money.amount), Some(currency))
        }
        _ => (None, None),
    };
    // Item-level edits (the name) move the item's updated_at, variation edits the
    // variation's: the canonical item is as new as the newer of the two.
    let item_path = path.split(".item_data").next().unwrap_or(path);
    let updated_at = time(item_path, item)?.max(time(path, var)?);
    let category = item_data
        .categories
        .first()
        .map(|c| c.id.as_str())
        .or(item_data.category_id.as_deref())
        .and_then(|id| categories.get(id).cloned());
    Ok(FetchedItem {
        item: CatalogItem {
            external_id: var.id.clone(),
            parent_id: Some(data.item_id.clone().unwrap_or_else(|| item.id.clone())),
            name: item_data.name,
            variant_name: data.name.clone(),
            sku: data.sku.clone(),
            barcode: data.upc.clone(),
            description: item_data.description,
            category,
            price_minor,
            currency,
            // Priced at the register (`VARIABLE_PRICING`): present, with no fixed price.
            open_price: open_price.then_some(true),
            is_active: Some(!item_data.is_archived.unwrap_or(false)),
            updated_at,
            ..CatalogItem::default()
        },
        stock_by_location: BTreeMap::new(),
        inventory_item_id: None,
    })
}

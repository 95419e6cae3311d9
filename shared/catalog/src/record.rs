//! One catalog object's stored state and the pure rules that change it.
//!
//! Convergence: every change to an object is a *version* ordered by its [`VersionKey`] —
//! the vendor time, then deletes before upserts lose (a delete wins a tie), then the content
//! hash. The visible state is what applying the versions in key order gives, whatever order
//! they arrived in: a record keeps a window of its newest versions (accepted and rejected)
//! and replays the window on every arrival ([`CatalogRecord::insert`]).
//!
//! The validation gate is part of that replay: an upsert is judged against the state at its
//! own vendor time (the last accepted version before it), never against whatever happens to
//! be stored when it arrives. So 1.00 then 100.00 and 100.00 then 1.00 (by arrival) give the
//! same verdicts: a late, older version is slotted in and the newer ones are judged again.
//! Versions older than the window (more than [`MAX_VERSIONS`], or beyond [`MAX_WINDOW_BYTES`])
//! are folded into the record's base; an arrival older than the base is stale.
//!
//! Stock is kept apart, per location, each location's reading newest-wins by its own vendor
//! time; `quantity_on_hand` is the sum over locations.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tillbridge_domain::event::{StockStatus, VariantListing};
use tillbridge_domain::{CatalogItem, Timestamp};

/// Versions kept per object before the oldest is folded into the base.
pub const MAX_VERSIONS: usize = 8;
/// Serialized size of the version window before the oldest is folded into the base (a table
/// item holds at most 400 KB in DynamoDB).
pub const MAX_WINDOW_BYTES: usize = 192 * 1024;
/// Variant listings kept per parent (the dominated ones are dropped first).
pub const MAX_LISTINGS: usize = 16;

/// The order of versions: vendor time, then kind (a delete wins a tie), then content hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VersionKey {
    /// The vendor time of the change.
    pub at: Timestamp,
    /// 0 upsert, 1 delete.
    pub rank: u8,
    /// Content hash of the upserted item (empty for a delete).
    pub hash: String,
}

/// One change of an object: an upsert (with its item) or a delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// Where it sorts.
    pub key: VersionKey,
    /// The item of an upsert; None for a delete (a tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<CatalogItem>,
    /// The event that carried an upsert and when it arrived (for the rejected list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventRef>,
    /// The gate's verdict in the last replay (upserts only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
    /// The upsert declared the item a product whose variants carry the prices (the event's
    /// `product_variants`): the gate expects no price of its own. Kept with the version so
    /// every replay, in any arrival order, judges it the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_variants: Option<Vec<String>>,
}

/// The event an upsert came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// The canonical event id.
    pub event_id: String,
    /// When tillbridge received it.
    pub received_at: Timestamp,
}

/// The state folded out of the window: the newest folded key and the visible item after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Base {
    /// The newest version folded in; anything at or before it is stale.
    pub key: VersionKey,
    /// The visible item after it (None: absent or deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<CatalogItem>,
}

/// A stock reading at one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "tillbridge_domain::number"
    )]
    /// Quantity on hand (decimal: weighed goods), when the vendor gave one.
    pub quantity: Option<Decimal>,
    /// In stock, out of stock, low — when the vendor reports a status instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StockStatus>,
    /// The vendor time of the reading; older readings lose.
    pub as_of: Timestamp,
}

impl Stock {
    /// Total order of readings: time, then content (equal times converge on one reading).
    fn order_key(&self) -> (Timestamp, Option<Decimal>, u8) {
        let status = match self.status {
            None => 0,
            Some(StockStatus::OutOfStock) => 1,
            Some(StockStatus::LowQuantity) => 2,
            Some(StockStatus::InStock) => 3,
        };
        (self.as_of, self.quantity, status)
    }
}

/// Merges a reading into per-location stock; true when it changed anything.
pub fn merge_stock(stock: &mut BTreeMap<String, Stock>, location: &str, reading: &Stock) -> bool {
    match stock.get(location) {
        Some(s) if s.order_key() >= reading.order_key() => false,
        _ => {
            stock.insert(location.to_owned(), reading.clone());
            true
        }
    }
}

/// The stored state of one catalog object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogRecord {
    /// The visible item (None: absent, deleted or stock-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<CatalogItem>,
    /// Vendor time of the visible item's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_at: Option<Timestamp>,
    /// Content hash of the visible item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_hash: Option<String>,
    /// Tombstone: deleted at this vendor time (the newest change is a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Stock per location (`""`: a reading that named no location).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stock_by_location: BTreeMap<String, Stock>,
    /// The state before the version window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
    /// The newest versions, in key order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Version>,
    /// For a parent: its variant listings, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listings: Vec<VariantListing>,
}

/// What inserting one version did.
#[derive(Debug, Clone, PartialEq)]
pub struct Inserted {
    /// The version was already there (a redelivery).
    pub duplicate: bool,
    /// Older than the window, or it left the visible state as it was.
    pub stale: bool,
    /// Its own verdict: rejected by the gate.
    pub rejected: bool,
    /// Upserts whose verdict turned to rejected in this replay, with the gate's findings.
    pub newly_rejected: Vec<(Version, Vec<tillbridge_validation::Finding>)>,
    /// Upserts whose verdict turned to accepted in this replay.
    pub newly_accepted: Vec<Version>,
}

/// The gate's errors for `item` against the state before it.
pub fn gate(
    item: &CatalogItem,
    previous: Option<&CatalogItem>,
) -> Vec<tillbridge_validation::Finding> {
    tillbridge_validation::validate_update(
        item,
        previous,
        &tillbridge_validation::Options::default(),
    )
    .into_iter()
    .filter(|f| f.severity == tillbridge_validation::Severity::Error)
    .collect()
}

/// The gate's errors for one upsert: [`gate`], except that a product whose variants carry
/// the prices ([`Version::product_variants`]) is not expected to have a price of its own
/// (as migrations judge parents). Every other item is judged as by [`gate`].
pub fn gate_version(
    item: &CatalogItem,
    previous: Option<&CatalogItem>,
    product: bool,
) -> Vec<tillbridge_validation::Finding> {
    let mut findings = gate(item, previous);
    if product {
        findings.retain(|f| f.rule != tillbridge_validation::Rule::PriceMissing);
    }
    findings
}

impl CatalogRecord {
    /// The record a migration (or another authority) writes: `item` as of `at` replaces the
    /// version history; stock and listings stay.
    pub fn replaced_by(self, item: CatalogItem, at: Timestamp) -> Self {
        let hash = item.content_hash();
        CatalogRecord {
            item: Some(item.clone()),
            version_at: Some(at),
            version_hash: Some(hash.clone()),
            deleted_at: None,
            base: Some(Base {
                key: VersionKey { at, rank: 0, hash },
                item: Some(item),
            }),
            versions: Vec::new(),
            ..self
        }
    }

    /// Slots `v` into the window by its key, replays, and reports what changed.
    pub fn insert(&mut self, v: Version) -> Inserted {
        let mut out = Inserted {
            duplicate: false,
            stale: false,
            rejected: false,
            newly_rejected: Vec::new(),
            newly_accepted: Vec::new(),
        };
        if let Some(base) = &self.base
            && v.key <= base.key
        {
            out.duplicate = v.key == base.key;
            out.stale = !out.duplicate;
            return out;
        }
        let found = self.versions.binary_search_by(|x| x.key.cmp(&v.key));
        if let Ok(i) = found
            && (v.product_variants.is_none() || self.versions[i].product_variants.is_some())
        {
            out.duplicate = true;
            return out;
        }
        let before = (self.item.clone(), self.deleted_at);
        let key = v.key.clone();
        match found {
            // The same content declared a product since: it is one, whichever came first.
            Ok(i) => self.versions[i].product_variants = v.product_variants,
            Err(pos) => self.versions.insert(pos, v),
        }
        let (newly_rejected, newly_accepted) = self.replay();
        let now = self.versions.iter().find(|x| x.key == key);
        out.rejected = now.is_some_and(|x| x.rejected);
        out.stale = !out.rejected && before == (self.item.clone(), self.deleted_at);
        out.newly_rejected = newly_rejected;
        out.newly_accepted = newly_accepted;
        self.fold();
        out
    }

    /// Applies the window in key order from the base: sets the visible fields and every
    /// upsert's verdict. Returns the verdicts that changed.
    fn replay(
        &mut self,
    ) -> (
        Vec<(Version, Vec<tillbridge_validation::Finding>)>,
        Vec<Version>,
    ) {
        let mut state: Option<CatalogItem> = self.base.as_ref().and_then(|b| b.item.clone());
        let mut last: Option<VersionKey> = self.base.as_ref().map(|b| b.key.clone());
        let mut accepted_at: Option<VersionKey> = match &self.base {
            Some(b) if b.item.is_some() => Some(b.key.clone()),
            _ => None,
        };
        let (mut rejected, mut accepted) = (Vec::new(), Vec::new());
        for v in &mut self.versions {
            match &v.item {
                None => {
                    state = None;
                    last = Some(v.key.clone());
                }
                Some(item) => {
                    let findings = gate_version(item, state.as_ref(), v.product_variants.is_some());
                    let now_rejected = !findings.is_empty();
                    if now_rejected && !v.rejected {
                        rejected.push((v.clone(), findings));
                    } else if !now_rejected && v.rejected {
                        accepted.push(v.clone());
                    }
                    v.rejected = now_rejected;
                    if !now_rejected {
                        state = Some(item.clone());
                        last = Some(v.key.clone());
                        accepted_at = Some(v.key.clone());
                    }
                }
            }
        }
        self.item = state;
        self.deleted_at = match &last {
            Some(k) if k.rank == 1 && self.item.is_none() => Some(k.at),
            _ => None,
        };
        self.version_at = accepted_at.as_ref().map(|k| k.at);
        self.version_hash = accepted_at.map(|k| k.hash);
        (rejected, accepted)
    }

    /// Folds the oldest versions into the base while the window is too long or too large.
    fn fold(&mut self) {
        let size = |v: &Version| serde_json::to_vec(v).map_or(0, |b| b.len());
        let mut bytes: usize = self.versions.iter().map(size).sum();
        while self.versions.len() > MAX_VERSIONS
            || (bytes > MAX_WINDOW_BYTES && self.versions.len() > 1)
        {
            let oldest = self.versions.remove(0);
            bytes = bytes.saturating_sub(size(&oldest));
            let previous = self.base.take().and_then(|b| b.item);
            let item = match (&oldest.item, oldest.rejected) {
                (None, _) => None,
                (Some(_), true) => previous,
                (Some(i), false) => Some(i.clone()),
            };
            self.base = Some(Base {
                key: oldest.key,
                item,
            });
        }
    }

    /// The vendor times of this record's deletes still known (window and base).
    pub fn delete_times(&self) -> Vec<Timestamp> {
        let mut out: Vec<Timestamp> = self
            .versions
            .iter()
            .filter(|v| v.item.is_none())
            .map(|v| v.key.at)
            .collect();
        if let Some(b) = &self.base
            && b.key.rank == 1
        {
            out.push(b.key.at);
        }
        out
    }

    /// Keeps a parent's listing; false when it was known already. A listing is dropped when a
    /// newer one lists no more ids (every variant it removes, the newer removes later).
    pub fn add_listing(&mut self, listing: &VariantListing) -> bool {
        let mut ids = listing.ids.clone();
        ids.sort();
        ids.dedup();
        let listing = VariantListing {
            ids,
            as_of: listing.as_of,
        };
        if self.listings.contains(&listing) {
            return false;
        }
        let dominates = |newer: &VariantListing, older: &VariantListing| {
            newer.as_of >= older.as_of && newer.ids.iter().all(|i| older.ids.contains(i))
        };
        if self.listings.iter().any(|l| dominates(l, &listing)) {
            return false;
        }
        self.listings.retain(|l| !dominates(&listing, l));
        self.listings.push(listing);
        self.listings.sort_by_key(|l| l.as_of);
        while self.listings.len() > MAX_LISTINGS {
            self.listings.remove(0);
        }
        true
    }

    /// The times at which this parent's listings say variant `id` was absent.
    pub fn absent_in_listings(&self, id: &str) -> Vec<Timestamp> {
        self.listings
            .iter()
            .filter(|l| !l.ids.iter().any(|i| i == id))
            .map(|l| l.as_of)
            .collect()
    }

    /// The item as the API shows it: stock readings newer than the item's own version set
    /// `stock_by_location` (per location, newest wins) and `quantity_on_hand` (their sum).
    pub fn visible_item(&self) -> Option<CatalogItem> {
        let mut item = self.item.clone()?;
        let newer: Vec<(&String, Decimal)> = self
            .stock_by_location
            .iter()
            .filter(|(_, s)| self.version_at.is_none_or(|v| s.as_of >= v))
            .filter_map(|(loc, s)| s.quantity.map(|q| (loc, q)))
            .collect();
        if newer.is_empty() {
            return Some(item);
        }
        let mut by_location = item.stock_by_location.clone();
        for (loc, q) in &newer {
            if !loc.is_empty() {
                by_location.insert((*loc).clone(), *q);
            }
        }
        let unlocated = newer.iter().find(|(l, _)| l.is_empty()).map(|(_, q)| *q);
        let total: Decimal =
            by_location.values().copied().sum::<Decimal>() + unlocated.unwrap_or_default();
        item.quantity_on_hand = Some(total);
        item.stock_by_location = by_location;
        Some(item)
    }
}

//! The write side: a migration's items written into the merchant's new system
//! (shared/design/CLI.md "Destination"), idempotently, with the prior state of everything
//! changed kept so a rollback can undo it there and verify by reading back.
//!
//! How a migration uses it:
//!
//! ```text
//! let dest: Box<dyn Destination> = square_destination(...);     // or another vendor
//! let mut journal = load_journal(migration)?;                    // Journal, empty at first
//! let parents: Vec<Parent> = group_by_parent(approved_items);    // same order on every run
//! for (source, prior) in prior_states(&*dest, &parents, &journal).await? {
//!     journal.record_prior(&source, prior);                      // persist before writing
//! }
//! let report = dest.upsert(migration, &parents, &journal).await?;
//! for outcome in report.outcomes { journal.record(outcome); }    // persist after every call
//! if let Some(err) = report.stopped { /* retry later: a re-run resumes, no duplicates */ }
//! // rollback, newest migration first:
//! let undone = rollback(&*dest, migration, &journal).await?;     // conflicts are left alone
//! ```
//!
//! Idempotency: every write request carries a key derived from the migration id and the
//! request's content ([`idempotency_key`]), and temporary ids are derived from the source
//! ids, so a write re-sent after a lost answer — by the HTTP layer's retries or by a later
//! re-run with the same parents in the same order — is the same request and the vendor
//! answers it once. A re-run that finds the objects as it would write them writes nothing
//! ([`Action::Unchanged`]). Vendors without idempotency keys (BigCommerce, WooCommerce)
//! refuse duplicate SKUs instead: their writers look a product up by SKU before creating
//! it, and after a duplicate-SKU refusal that follows a lost answer find the object the
//! lost request made.
//!
//! Conflicts: the journal keeps the vendor's version of every object after our write
//! ([`Outcome::versions`]); undo compares it with the vendor's current version and leaves an
//! object that someone changed since alone ([`UndoResult::Conflict`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tillbridge_domain::{CatalogItem, Provider};

use crate::error::{ConnectorError, Result};
use crate::http::CallStats;

pub(crate) mod shape;

/// One product to write, with its variations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parent {
    /// The source system's id of the product: the key of the journal and of idempotency keys.
    pub source_id: String,
    /// Its variations as canonical items, one per variation; `external_id` is the source
    /// variation's id. The product's `name`, `description`, `category` and `is_active` are
    /// read from the first variation; `variant_name`, `sku`, `barcode`, `price_minor` +
    /// `currency`, `open_price` and `stock_by_location` (the vendor's location ids) from each.
    pub variations: Vec<CatalogItem>,
    /// A vendor object to update instead of creating one (a match the caller made, e.g. by
    /// SKU). Ignored when the journal already maps `source_id`.
    pub existing_id: Option<String>,
    /// Storefront paths the product had in the old shop (`/products/blue-mug`): writers of
    /// e-commerce targets that keep redirects (BigCommerce, Shopify) make each a redirect to the new
    /// product, recorded in [`Outcome::redirects`] and removed by rollback. Others ignore it.
    pub redirect_from: Vec<String>,
}

/// What a write did to one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The product did not exist at the vendor; it does now.
    Created,
    /// It existed and was changed (catalog content or stock).
    Updated,
    /// It already was as it would have been written: nothing was sent.
    Unchanged,
    /// Not written (or its answer was lost): `reason` says why. A conflict (the vendor's
    /// version moved under us) starts with `conflict:`.
    Failed {
        /// The vendor's reason, or ours.
        reason: String,
    },
}

/// A vendor object as it is (or was) at the vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The vendor's id of the product.
    pub object_id: String,
    /// The vendor's version of the product and of each of its variations, by vendor id
    /// (Square `version`; WooCommerce `date_modified_gmt`; BigCommerce the product's
    /// `date_modified` and, variants having none, a digest of each variant's JSON without
    /// its stock).
    pub versions: BTreeMap<String, String>,
    /// The vendor's own JSON of the product, verbatim (restorable as it was); WooCommerce,
    /// whose variations are objects of their own: `{"product": …, "variations": […]}`.
    pub body: serde_json::Value,
    /// In-stock quantity per variation (vendor id) and location.
    pub stock: BTreeMap<String, BTreeMap<String, Decimal>>,
}

/// What an object was at the vendor before this migration first changed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PriorState {
    /// It did not exist: undo deletes it.
    Absent,
    /// It existed like this: undo puts this content back.
    Existed {
        /// The snapshot taken before the write.
        snapshot: Box<Snapshot>,
    },
}

/// The result of writing one product: a journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The source product's id.
    pub source_id: String,
    /// The vendor's id of the product, once known.
    pub object_id: Option<String>,
    /// Source variation id → the vendor's variation id.
    pub variation_ids: BTreeMap<String, String>,
    /// What happened.
    #[serde(flatten)]
    pub action: Action,
    /// The vendor's versions after the write (product and variations, by vendor id).
    pub versions: BTreeMap<String, String>,
    /// The state before the first change; `None` when it could not be read.
    pub prior: Option<PriorState>,
    /// A write for this product was sent (in this or an earlier run), even if its answer
    /// was lost: rollback must look at it.
    #[serde(default)]
    pub sent: bool,
    /// Storefront redirects this migration made to the product: the vendor's redirect id →
    /// the old path (BigCommerce; Shopify: the numeric tail of the `UrlRedirect` gid).
    /// Rollback deletes them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redirects: BTreeMap<String, String>,
}

/// The source → vendor id map and prior states of one migration at one destination.
///
/// [`Journal::record`] keeps what rollback needs across re-runs: the FIRST prior state seen
/// for a product and the fact that this migration created it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Journal {
    /// By source product id.
    pub entries: BTreeMap<String, Outcome>,
    /// Categories (collections, …) this migration created at the vendor, by name: each
    /// an [`Outcome`] whose `source_id` is the category's name, `object_id` the vendor's id,
    /// `versions` its version after the write and `prior` [`PriorState::Absent`]. Rollback
    /// deletes them after the products ([`Destination::delete_categories`]); categories
    /// that existed before are never here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, Outcome>,
}

impl Journal {
    /// Records an outcome, merged with what an earlier run recorded for the same product.
    pub fn record(&mut self, outcome: Outcome) {
        let merged = match self.entries.remove(&outcome.source_id) {
            None => outcome,
            Some(before) => merge(before, outcome),
        };
        self.entries.insert(merged.source_id.clone(), merged);
    }

    /// Records the state of `source_id` before any write, unless one is recorded already
    /// (see [`prior_states`]).
    pub fn record_prior(&mut self, source_id: &str, prior: PriorState) {
        let entry = self
            .entries
            .entry(source_id.to_owned())
            .or_insert_with(|| Outcome {
                source_id: source_id.to_owned(),
                object_id: None,
                variation_ids: BTreeMap::new(),
                action: Action::Failed {
                    reason: "not written yet".into(),
                },
                versions: BTreeMap::new(),
                prior: None,
                sent: false,
                redirects: BTreeMap::new(),
            });
        if entry.prior.is_none() {
            if let PriorState::Existed { snapshot } = &prior {
                entry.object_id = Some(snapshot.object_id.clone());
                entry.versions.clone_from(&snapshot.versions);
            }
            entry.prior = Some(prior);
        }
    }

    /// Records a category this migration created ([`WriteReport::categories`]); the first
    /// record of a name stays (a later run finds it existing and does not report it).
    pub fn record_category(&mut self, created: Outcome) {
        self.categories
            .entry(created.source_id.clone())
            .or_insert(created);
    }

    /// The vendor id this migration wrote `source_id` to.
    pub fn object_id(&self, source_id: &str) -> Option<&str> {
        self.entries.get(source_id)?.object_id.as_deref()
    }
}

fn merge(before: Outcome, mut now: Outcome) -> Outcome {
    let created_before = before.action == Action::Created
        || matches!(before.prior, Some(PriorState::Absent)) && before.object_id.is_some();
    // The earliest prior state is the one to restore; ours since is not. A placeholder
    // ("absent" from `prior_states`, which knows only mapped objects) gives way to the
    // object a writer found and changed before anything of ours was sent (a match by SKU).
    let placeholder = matches!(before.prior, Some(PriorState::Absent))
        && before.object_id.is_none()
        && !before.sent;
    let found = matches!(now.prior, Some(PriorState::Existed { .. }));
    if before.prior.is_some() && !(placeholder && found) {
        now.prior = before.prior;
    }
    now.sent |= before.sent;
    for (id, path) in before.redirects {
        now.redirects.entry(id).or_insert(path);
    }
    match &now.action {
        Action::Failed { .. } => {
            // Keep what is known at the vendor; the failure is this run's news.
            if now.object_id.is_none() {
                now.object_id = before.object_id;
            }
            for (k, v) in before.variation_ids {
                now.variation_ids.entry(k).or_insert(v);
            }
            if now.versions.is_empty() {
                now.versions = before.versions;
            }
        }
        Action::Updated | Action::Unchanged if created_before => now.action = Action::Created,
        _ => {}
    }
    now
}

/// What one [`Destination::upsert`] call did.
#[derive(Debug, Default)]
pub struct WriteReport {
    /// One per product attempted, in input order.
    pub outcomes: Vec<Outcome>,
    /// Set when the run stopped early (vendor refused, retries exhausted, circuit open):
    /// record the outcomes and run again later; products not in `outcomes` were not tried.
    pub stopped: Option<ConnectorError>,
    /// Categories this call created at the vendor (see [`Journal::categories`]): record
    /// them with [`Journal::record_category`] so a rollback deletes them.
    pub categories: Vec<Outcome>,
}

/// The journal entry of a category created at the vendor: `name` → `object_id`, with the
/// vendor's version after the write (empty when the vendor has none).
pub fn created_category(name: &str, object_id: &str, version: Option<String>) -> Outcome {
    Outcome {
        source_id: name.to_owned(),
        object_id: Some(object_id.to_owned()),
        variation_ids: BTreeMap::new(),
        action: Action::Created,
        versions: version
            .map(|v| BTreeMap::from([(object_id.to_owned(), v)]))
            .unwrap_or_default(),
        prior: Some(PriorState::Absent),
        sent: true,
        redirects: BTreeMap::new(),
    }
}

/// What undo did to one product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum UndoResult {
    /// Created by the migration; deleted.
    Deleted,
    /// Changed by the migration; its prior content is back.
    Restored,
    /// Nothing to undo (unchanged, never written, or already gone).
    Nothing,
    /// Changed at the vendor since the migration wrote it: left alone.
    Conflict {
        /// Versions the journal recorded after our write.
        recorded: BTreeMap<String, String>,
        /// Versions found now (absent ids are gone).
        found: BTreeMap<String, String>,
    },
    /// The undo call failed.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Undo of one product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    /// The source product's id.
    pub source_id: String,
    /// The vendor's id.
    pub object_id: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub result: UndoResult,
    /// Read back after the undo: gone (deleted) or equal to the prior content (restored).
    pub verified: bool,
}

/// A vendor that takes writes.
///
/// Every method sends through the shared HTTP layer (rate limit, retries honouring
/// `Retry-After`, breaker). Errors as for [`crate::VendorApi`]: `Refused` (401/403 with the
/// vendor's reason), `Exhausted`, `CircuitOpen`, `Malformed { path }`, …
#[async_trait]
pub trait Destination: Send + Sync {
    /// The vendor.
    fn provider(&self) -> Provider;

    /// API calls and retries so far.
    fn stats(&self) -> CallStats;

    /// Creates or updates `parents` (in this order; keep the order across re-runs so
    /// re-sent requests are identical). `journal` maps products written by earlier runs of
    /// `migration`. Each outcome carries the prior state read before the write.
    ///
    /// # Errors
    /// Before anything was written (reading current state failed); later failures end the
    /// run with [`WriteReport::stopped`].
    async fn upsert(
        &self,
        migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<WriteReport>;

    /// What [`Destination::upsert`] would do, without writing anything: per product the
    /// action it would take (created / updated / unchanged / failed) and the current state.
    ///
    /// # Errors
    /// See the trait docs.
    async fn dry_run(
        &self,
        migration: &str,
        parents: &[Parent],
        journal: &Journal,
    ) -> Result<Vec<Outcome>>;

    /// The products' current state; ids the vendor does not have (or has deleted) are
    /// absent from the map.
    ///
    /// # Errors
    /// See the trait docs.
    async fn read_back(&self, object_ids: &[String]) -> Result<BTreeMap<String, Snapshot>>;

    /// Deletes the products these outcomes created, unless changed since (conflict).
    ///
    /// # Errors
    /// See the trait docs (per-product failures are [`UndoResult::Failed`]).
    async fn delete(&self, migration: &str, created: &[Outcome]) -> Result<Vec<Undo>>;

    /// Puts back the prior content (and stock) of the products these outcomes changed,
    /// unless changed since (conflict).
    ///
    /// # Errors
    /// See the trait docs (per-product failures are [`UndoResult::Failed`]).
    async fn restore(&self, migration: &str, changed: &[Outcome]) -> Result<Vec<Undo>>;

    /// Deletes the categories this migration created ([`Journal::categories`]), unless
    /// changed at the vendor since (conflict), and reads them back. Called after the
    /// products are deleted or restored. Writers that create no category objects keep the
    /// default, which has nothing to delete.
    ///
    /// # Errors
    /// See the trait docs (per-category failures are [`UndoResult::Failed`]).
    async fn delete_categories(&self, _migration: &str, created: &[Outcome]) -> Result<Vec<Undo>> {
        Ok(created
            .iter()
            .map(|o| Undo {
                source_id: o.source_id.clone(),
                object_id: o.object_id.clone(),
                result: UndoResult::Failed {
                    reason: format!("{} writer cannot delete categories", self.provider()),
                },
                verified: false,
            })
            .collect())
    }
}

/// The state before this run's writes of every product `upsert` would change: what the
/// journal maps it to, or `existing_id`, as read back now (absent when there is none).
/// Persist these ([`Journal::record_prior`]) BEFORE calling [`Destination::upsert`] so a
/// crash after a write but before its outcome is recorded still leaves the prior state for
/// rollback; `upsert` reports the same snapshots in its outcomes.
///
/// # Errors
/// Reading back failed.
pub async fn prior_states(
    dest: &dyn Destination,
    parents: &[Parent],
    journal: &Journal,
) -> Result<BTreeMap<String, PriorState>> {
    let target = |p: &Parent| {
        journal
            .object_id(&p.source_id)
            .map(str::to_owned)
            .or_else(|| p.existing_id.clone())
    };
    let ids: Vec<String> = parents.iter().filter_map(target).collect();
    let mut now = dest.read_back(&ids).await?;
    Ok(parents
        .iter()
        .map(|p| {
            let prior = match target(p).and_then(|id| now.remove(&id)) {
                Some(s) => PriorState::Existed {
                    snapshot: Box::new(s),
                },
                None => PriorState::Absent,
            };
            (p.source_id.clone(), prior)
        })
        .collect())
}

/// Undoes a migration at its destination: deletes what it created, restores what it
/// changed, then deletes the categories it created (once no product of ours is in them),
/// each verified by reading back; conflicts are left alone and reported. Category undos
/// carry `category:` and the category's name as `source_id`.
///
/// # Errors
/// A call that failed as a whole (vendor refused, retries exhausted).
pub async fn rollback(
    dest: &dyn Destination,
    migration: &str,
    journal: &Journal,
) -> Result<Vec<Undo>> {
    let (mut created, mut changed) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for o in journal.entries.values() {
        match (&o.action, &o.prior, &o.object_id) {
            (_, _, None) => out.push(nothing(o)),
            (Action::Created, _, _) | (_, Some(PriorState::Absent), Some(_)) => {
                created.push(o.clone());
            }
            (_, Some(PriorState::Existed { .. }), Some(_)) if o.sent || !o.redirects.is_empty() => {
                changed.push(o.clone());
            }
            _ => out.push(nothing(o)),
        }
    }
    out.extend(dest.delete(migration, &created).await?);
    out.extend(dest.restore(migration, &changed).await?);
    let categories: Vec<Outcome> = journal
        .categories
        .values()
        .filter(|o| o.object_id.is_some())
        .cloned()
        .collect();
    if !categories.is_empty() {
        for mut u in dest.delete_categories(migration, &categories).await? {
            u.source_id = format!("category:{}", u.source_id);
            out.push(u);
        }
    }
    Ok(out)
}

fn nothing(o: &Outcome) -> Undo {
    Undo {
        source_id: o.source_id.clone(),
        object_id: o.object_id.clone(),
        result: UndoResult::Nothing,
        verified: true,
    }
}

/// The idempotency key of one write request: `tb-` and 40 hex digits of
/// SHA-256(migration, purpose, content). Same migration and same request → same key; a
/// different request never reuses a key (vendors reject a reused key with another body).
pub fn idempotency_key(migration: &str, purpose: &str, content: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [migration.as_bytes(), purpose.as_bytes(), content] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let digest = hex::encode(h.finalize());
    format!("tb-{}", &digest[..40])
}

/// A failed action with `reason`.
pub(crate) fn failed(reason: &str) -> Action {
    Action::Failed {
        reason: reason.to_owned(),
    }
}

/// Now, as RFC 3339 (`occurred_at` of stock counts).
pub(crate) fn now_rfc3339() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    tillbridge_domain::Timestamp::from_unix_nanos(nanos).to_rfc3339()
}

/// A short stable token for a source id (temporary ids, keys): 16 hex digits of SHA-256.
pub fn token(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(action: Action, prior: Option<PriorState>) -> Outcome {
        Outcome {
            source_id: "P1".into(),
            object_id: Some("X".into()),
            variation_ids: BTreeMap::new(),
            action,
            versions: BTreeMap::new(),
            prior,
            sent: true,
            redirects: BTreeMap::new(),
        }
    }

    #[test]
    fn journal_keeps_the_first_prior_state_and_that_we_created_it() {
        let mut j = Journal::default();
        j.record(outcome(Action::Created, Some(PriorState::Absent)));
        j.record(outcome(Action::Unchanged, None));
        let e = &j.entries["P1"];
        assert_eq!(e.action, Action::Created);
        assert_eq!(e.prior, Some(PriorState::Absent));
    }

    #[test]
    fn an_absent_placeholder_gives_way_to_an_object_found_by_sku() {
        let mut j = Journal::default();
        j.record_prior("P1", PriorState::Absent);
        let snapshot = Box::new(Snapshot {
            object_id: "X".into(),
            versions: BTreeMap::new(),
            body: serde_json::Value::Null,
            stock: BTreeMap::new(),
        });
        j.record(outcome(
            Action::Updated,
            Some(PriorState::Existed { snapshot }),
        ));
        assert!(matches!(
            j.entries["P1"].prior,
            Some(PriorState::Existed { .. })
        ));
        j.record(outcome(Action::Unchanged, Some(PriorState::Absent)));
        assert!(matches!(
            j.entries["P1"].prior,
            Some(PriorState::Existed { .. })
        ));
    }

    #[test]
    fn keys_differ_by_migration_and_content_and_fit_vendor_limits() {
        let a = idempotency_key("m1", "upsert", b"x");
        assert_eq!(a, idempotency_key("m1", "upsert", b"x"));
        assert_ne!(a, idempotency_key("m2", "upsert", b"x"));
        assert_ne!(a, idempotency_key("m1", "upsert", b"y"));
        assert!(a.len() <= 45);
    }
}

//! The destination of a migration (shared/design/CLI.md "Destination"): after the approved,
//! validated items are applied to the catalog, they are written to the tenant's account at
//! the destination vendor through its API — products with their variations, categories and
//! stock per location (customers are not) — idempotently, and a rollback undoes them there.
//!
//! ```text
//! apply (catalog done) ─► write: per call of PARENTS_PER_CALL products
//!                           prior states read and persisted (dest#<source id>) BEFORE the write
//!                           upsert (idempotency keys from the migration id and the request)
//!                           outcomes persisted after the call, destmap updated
//! rollback (catalog undone) ─► undo: delete what it created, restore what it changed, read back;
//!                           objects changed at the vendor since: conflicts, left alone
//! ```
//!
//! The writer is found through [`Destinations`]: [`TenantDestinations`] builds it from the
//! tenants' `api` entries (SecretStore API credentials, the tenant's `api_base_url`), as the
//! fetcher builds its clients.

mod cutover;
mod report;
mod undo;
mod write;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use tillbridge_connectors::{
    ConnectorError, Destination, Env, HttpConfig, Journal, Outcome, Parent,
};
use tillbridge_domain::{CatalogItem, ErrorKind, MigrationId, Provider, TenantId};
use tillbridge_ports::table::{Condition, Item, Table, query_all};
use tillbridge_ports::{BlobStore, Clock, SecretStore, TenantDirectory};

use crate::keys::{self, state_pk};
use crate::{Migration, MigrationError, ROLLBACK_WINDOW_SECS};

pub use cutover::{
    Cutover, CutoverEnd, FlowCounts, FlowLine, flow, flow_lines, report as cutover_report, switch,
};
pub(crate) use cutover::{begin as begin_cutover, end as end_cutover};
pub use report::{item_destinations, report_json};
pub(crate) use undo::undo;
pub use undo::{DestinationUndo, UndoLine};
pub(crate) use write::{preview, write};

/// Products sent per [`Destination::upsert`] call: the journal is persisted after each.
pub const PARENTS_PER_CALL: usize = 50;

/// Finds the writer of a tenant's destination vendor.
#[async_trait]
pub trait Destinations: Send + Sync {
    /// The writer of `provider` for `tenant`.
    ///
    /// # Errors
    /// [`MigrationError::Permanent`] when the tenant has no API credentials for `provider`
    /// or the vendor takes no writes; the stores' errors.
    async fn open(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Box<dyn Destination>, MigrationError>;
}

/// [`Destinations`] from the tenants' `api` entries: the SecretStore's API credentials with
/// the tenant's `api_base_url` (as the fetcher builds its clients).
pub struct TenantDestinations {
    /// Breaker state of the vendor clients.
    pub table: Arc<dyn Table>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Tenants: the API base URL.
    pub directory: Arc<dyn TenantDirectory>,
    /// API credentials.
    pub secrets: Arc<dyn SecretStore>,
    /// Retry schedule per vendor (an operator watching: seconds); None: the vendor's defaults.
    pub http: Option<fn(Provider) -> HttpConfig>,
}

#[async_trait]
impl Destinations for TenantDestinations {
    async fn open(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Box<dyn Destination>, MigrationError> {
        if let Provider::Profile(_) = provider {
            return Err(MigrationError::Permanent(format!(
                "unknown destination {provider}: a vendor described by a profile has no writer \
                 (writers: square, bigcommerce, woocommerce, shopify, zettle)"
            )));
        }
        let config = self
            .directory
            .tenant(tenant)
            .await?
            .ok_or_else(|| MigrationError::Permanent(format!("unknown tenant {tenant}")))?;
        let stored = self
            .secrets
            .api_credentials(tenant, provider)
            .await?
            .ok_or_else(|| {
                MigrationError::Permanent(format!(
                    "tenant {tenant} has no API credentials for the destination {provider} \
                     (tenants file: providers.{provider}.api)"
                ))
            })?;
        let base_url = config
            .providers
            .get(&provider)
            .and_then(|p| p.api_base_url.clone());
        let credentials = tillbridge_connectors::stored_credentials(provider, &stored, base_url)
            .map_err(vendor)?;
        let env = Env {
            table: self.table.clone(),
            clock: self.clock.clone(),
        };
        tillbridge_connectors::connect_destination(
            provider,
            &credentials,
            config.currency,
            self.http.map(|f| f(provider)),
            &env,
            Some(tillbridge_connectors::CredentialStore {
                secrets: self.secrets.clone(),
                tenant: tenant.clone(),
                provider,
            }),
        )
        .map_err(vendor)
    }
}

/// Retries bounded to seconds ([`HttpConfig::bounded`]): a write inside one Lambda
/// invocation or watched by an operator ends in time.
pub fn bounded_http(provider: Provider) -> HttpConfig {
    HttpConfig::bounded(provider)
}

/// A connector error as the migration's: retryable stays retryable (the queue retries and
/// the write resumes from the journal), the rest is permanent.
pub(crate) fn vendor(e: ConnectorError) -> MigrationError {
    match e {
        ConnectorError::Store(p) => MigrationError::Store(p),
        e if e.kind() == ErrorKind::Retryable => MigrationError::Retryable(e.to_string()),
        e => MigrationError::Permanent(format!("destination: {e}")),
    }
}

/// The writer of the migration's destination, or None without one.
pub(crate) async fn open(
    dests: Option<&dyn Destinations>,
    m: &Migration,
) -> Result<Option<Box<dyn Destination>>, MigrationError> {
    let Some(provider) = m.destination else {
        return Ok(None);
    };
    let dests = dests.ok_or_else(|| {
        MigrationError::Permanent(format!(
            "this process has no destination writers (destination {provider})"
        ))
    })?;
    dests.open(&m.tenant_id, provider).await.map(Some)
}

/// The key of an item's product: its `parent_id`, else its own id.
pub fn parent_key(item: &CatalogItem) -> &str {
    item.parent_id.as_deref().unwrap_or(&item.external_id)
}

/// Canonical items grouped into products by `parent_id` (items without one are their own
/// product), in first-seen order. A parent's own record (an item other items name as their
/// parent) is not a variation: its name, description, category and active flag become the
/// product's (those of the first variation).
pub fn group(items: &[CatalogItem]) -> Vec<Parent> {
    let named: HashSet<&str> = items
        .iter()
        .filter_map(|i| i.parent_id.as_deref())
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, (Option<&CatalogItem>, Vec<CatalogItem>)> = HashMap::new();
    for item in items {
        let key = parent_key(item);
        let g = groups.entry(key).or_insert_with(|| {
            order.push(key);
            (None, Vec::new())
        });
        if item.parent_id.is_none() && named.contains(item.external_id.as_str()) {
            g.0 = Some(item);
        } else {
            g.1.push(item.clone());
        }
    }
    order
        .into_iter()
        .filter_map(|key| {
            let (row, mut variations) = groups.remove(key)?;
            match (row, variations.first_mut()) {
                (Some(row), None) => variations.push(row.clone()),
                (Some(row), Some(first)) => {
                    first.name = row.name.clone().or(first.name.take());
                    first.description = row.description.clone().or(first.description.take());
                    first.category = row.category.clone().or(first.category.take());
                    first.is_active = row.is_active.or(first.is_active);
                    first.product_url = row.product_url.clone().or(first.product_url.take());
                }
                (None, _) => {}
            }
            let mut redirect_from: Vec<String> = variations
                .iter()
                .filter_map(|v| v.product_url.as_deref().and_then(storefront_path))
                .collect();
            redirect_from.dedup();
            Some(Parent {
                source_id: key.to_owned(),
                variations,
                existing_id: None,
                redirect_from,
            })
        })
        .collect()
}

/// The storefront path of a product's old page (its canonical `product_url`), as the
/// destination's redirects take it: a full URL's path (`https://shop.example/p/mug?x=1` →
/// `/p/mug`), a path as it is (`/blue-mug/`, BigCommerce `custom_url.url`), and a bare
/// handle or slug as Shopify formats product pages (`blue-mug` → `/products/blue-mug`;
/// WooCommerce exports carry the full `permalink`). `None` for an empty value, a bare host,
/// or text with whitespace or control characters (not a path).
pub fn storefront_path(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let path = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        let path = &rest[rest.find('/')?..];
        path.split(['?', '#']).next().unwrap_or(path)
    } else if url.starts_with('/') {
        url
    } else {
        return Some(format!("/products/{}", url.trim_matches('/')));
    };
    (path.len() > 1).then(|| path.to_owned())
}

/// The migration's destination journal as stored.
///
/// # Errors
/// The table failed or an entry is corrupt.
pub async fn load_journal(table: &dyn Table, id: &MigrationId) -> Result<Journal, MigrationError> {
    let mut journal = Journal::default();
    for i in query_all(table, &state_pk(id), keys::DEST_PREFIX).await? {
        let o: Outcome = i.doc()?;
        journal.entries.insert(o.source_id.clone(), o);
    }
    for i in query_all(table, &state_pk(id), keys::DEST_CATEGORY_PREFIX).await? {
        let o: Outcome = i.doc()?;
        journal.categories.insert(o.source_id.clone(), o);
    }
    Ok(journal)
}

/// Persists the journal entries of `sources` (and, for those with an object id, the
/// destination map a later migration of the same source finds them by).
async fn save(
    table: &dyn Table,
    m: &Migration,
    journal: &Journal,
    sources: &[&str],
    expires: i64,
) -> Result<(), MigrationError> {
    let pk = state_pk(&m.id);
    for source in sources {
        let Some(o) = journal.entries.get(*source) else {
            continue;
        };
        table
            .put(
                Item::with_doc(&pk, keys::dest_sk(source), o)?.expiring_at(expires),
                Condition::Always,
            )
            .await?;
        if let (Some(object_id), Some(provider)) = (&o.object_id, m.destination) {
            let (mpk, msk) = keys::destmap(&m.tenant_id, provider.as_str(), &m.source_name, source);
            table
                .put(Item::with_doc(mpk, msk, object_id)?, Condition::Always)
                .await?;
        }
    }
    Ok(())
}

/// Persists the categories the migration created at the destination, as soon as it did:
/// rollback deletes them.
async fn save_categories(
    table: &dyn Table,
    m: &Migration,
    created: &[Outcome],
    expires: i64,
) -> Result<(), MigrationError> {
    let pk = state_pk(&m.id);
    for o in created {
        // The first record of a name stays (as in the journal).
        let item = Item::with_doc(&pk, keys::dest_category_sk(&o.source_id), o)?;
        match table
            .put(item.expiring_at(expires), Condition::IfAbsent)
            .await
        {
            Ok(_) | Err(tillbridge_ports::PortError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Sets `existing_id` of products an earlier migration of the same source wrote to the same
/// destination (and this one has not), so a re-run updates them instead of creating copies.
async fn match_existing(
    table: &dyn Table,
    m: &Migration,
    provider: Provider,
    parents: &mut [Parent],
    journal: &Journal,
) -> Result<(), MigrationError> {
    for p in parents.iter_mut() {
        if journal.object_id(&p.source_id).is_some() {
            continue;
        }
        let (pk, sk) = keys::destmap(
            &m.tenant_id,
            provider.as_str(),
            &m.source_name,
            &p.source_id,
        );
        if let Some(i) = table.get(&pk, &sk).await? {
            p.existing_id = Some(i.doc::<String>()?);
        }
    }
    Ok(())
}

/// The prepared items (JSONL) of a migration.
async fn prepared_items(
    blobs: &dyn BlobStore,
    m: &Migration,
) -> Result<Vec<CatalogItem>, MigrationError> {
    let bytes = blobs
        .get(&crate::prepare::items_key(m))
        .await?
        .ok_or_else(|| MigrationError::Permanent("prepared items are missing".into()))?;
    parse_lines(&bytes)
}

fn parse_lines(bytes: &[u8]) -> Result<Vec<CatalogItem>, MigrationError> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l)
                .map_err(|e| MigrationError::Permanent(format!("prepared item is corrupt: {e}")))
        })
        .collect()
}

/// When journal entries expire: with the rest of what a rollback needs.
fn expiry(m: &Migration) -> i64 {
    m.created_at.unix_seconds() + ROLLBACK_WINDOW_SECS
}

/// Outcomes by source product id.
fn by_source(outcomes: Vec<Outcome>) -> BTreeMap<String, Outcome> {
    outcomes
        .into_iter()
        .map(|o| (o.source_id.clone(), o))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, parent: Option<&str>, name: &str) -> CatalogItem {
        CatalogItem {
            external_id: id.into(),
            parent_id: parent.map(Into::into),
            name: Some(name.into()),
            ..CatalogItem::default()
        }
    }

    #[test]
    fn items_group_by_parent_in_first_seen_order_and_parent_rows_name_the_product() {
        let items = [
            item("a", None, "Tea"),
            item("P", None, "Latte"),
            item("P-s", Some("P"), "Latte small"),
            item("P-l", Some("P"), "Latte large"),
            item("Q-1", Some("Q"), "Mocha"),
        ];
        let parents = group(&items);
        let ids: Vec<&str> = parents.iter().map(|p| p.source_id.as_str()).collect();
        assert_eq!(ids, ["a", "P", "Q"]);
        let p = &parents[1];
        let vars: Vec<&str> = p
            .variations
            .iter()
            .map(|v| v.external_id.as_str())
            .collect();
        assert_eq!(vars, ["P-s", "P-l"]);
        assert_eq!(p.variations[0].name.as_deref(), Some("Latte"));
        assert_eq!(parents[2].variations.len(), 1);
    }

    #[test]
    fn destination_counts_come_from_the_journal_and_skip_untried_placeholders() {
        use tillbridge_connectors::{Action, Outcome, PriorState};
        let mut j = Journal::default();
        j.record_prior("untried", PriorState::Absent);
        let o = |id: &str, action: Action, redirects: usize| Outcome {
            source_id: id.into(),
            object_id: Some(format!("x-{id}")),
            variation_ids: std::collections::BTreeMap::new(),
            action,
            versions: std::collections::BTreeMap::new(),
            prior: Some(PriorState::Absent),
            sent: true,
            redirects: (0..redirects)
                .map(|i| (i.to_string(), format!("/p{i}")))
                .collect(),
        };
        j.record(o("a", Action::Created, 2));
        j.record(o("b", Action::Unchanged, 0));
        j.record(o(
            "c",
            Action::Failed {
                reason: "refused".into(),
            },
            0,
        ));
        let c = write::counts(&j);
        assert_eq!(
            (c.written, c.unchanged, c.failed, c.redirects),
            (1, 1, 1, 2)
        );
    }

    #[test]
    fn old_product_pages_become_redirect_paths() {
        let mut row = item("P", None, "Mug");
        row.product_url = Some("blue-mug".into());
        let mut var = item("P-1", Some("P"), "Mug");
        var.product_url = Some("https://old.example/products/blue-mug?variant=1".into());
        let mut woo = item("W", None, "Cup");
        woo.product_url = Some("https://shop.example/product/cup/".into());
        let mut bc = item("B", None, "Bowl");
        bc.product_url = Some("/bowl/".into());
        let parents = group(&[row, var, woo, bc, item("N", None, "No page")]);
        assert_eq!(parents[0].redirect_from, ["/products/blue-mug"]);
        assert_eq!(parents[1].redirect_from, ["/product/cup/"]);
        assert_eq!(parents[2].redirect_from, ["/bowl/"]);
        assert!(parents[3].redirect_from.is_empty());
        for bad in ["", "https://old.example", "a b", "/"] {
            assert_eq!(storefront_path(bad), None, "{bad}");
        }
    }
}

//! Vendor sync: pulls a tenant's catalog from the vendor's API through the connectors —
//! everything, or what changed since a watermark — and applies it to the catalog exactly as
//! webhooks are applied (the same apply stage: newest wins by vendor time, deletions become
//! tombstones, per-location stock, the validation gate). Thin webhooks ("something changed,
//! fetch it": Square `catalog.version.updated`, Clover, Toast menus, BigCommerce callbacks)
//! lead here through [`Fetcher::on_notify`], coalesced per tenant and vendor.
//!
//! Table (partition → sort key): `sync#<tenant>` → `<provider>`: the [`SyncState`]
//! (watermark, the vendor's own resume position at it where it has one — Zettle's event log
//! UUID —, when the last sync started and finished, its report).

#![warn(missing_docs)]

mod error;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tillbridge_catalog as catalog;
use tillbridge_connectors::{Env, HttpConfig, VendorApi, pull};
use tillbridge_domain::event::{
    EventData, ItemDeleted, ItemUpserted, OPERATOR_SYNC, SCHEMA_VERSION,
};
use tillbridge_domain::{
    CatalogItem, CorrelationId, Envelope, Provider, TenantId, Timestamp, event::derive_event_id,
};
use tillbridge_ports::table::{Condition, Item};
use tillbridge_ports::{Clock, SecretStore, Table, TenantDirectory};

pub use error::FetchError;

/// What one sync did (CLI.md "Vendor APIs": the `tillbridge sync` output).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The tenant.
    pub tenant: String,
    /// The vendor.
    pub provider: String,
    /// Vendor objects received.
    pub fetched: u64,
    /// Catalog items (one per variation) that did not exist or were deleted before.
    pub created: u64,
    /// Catalog items whose content changed.
    pub changed: u64,
    /// Catalog items received as they already were (or older than what is stored).
    pub unchanged: u64,
    /// Catalog items live before and deleted now (vendor deletions; on a full sync also the
    /// vendor's items it no longer has).
    pub deleted: u64,
    /// Items held back by the validation gate (listed under `GET …/rejected`).
    pub rejected: u64,
    /// HTTP requests sent, retries included.
    pub api_calls: u64,
    /// How many of those were retries.
    pub retries: u64,
}

/// The sync state of one tenant and vendor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// Changes after this were not pulled yet (the vendor's `latest_time`, or the newest
    /// modification time seen).
    pub watermark: Option<Timestamp>,
    /// The vendor's resume position returned with a watermark (Zettle's
    /// `untilEventLogUuid`), handed to the next sync's client so a delta in another process
    /// or container starts from it (and sees deletions). Absent for vendors whose deltas are
    /// by time alone, and in states written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<SyncPosition>,
    /// When the last sync started: notifications received before it are covered by it.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// What it did.
    pub last_report: Option<SyncReport>,
}

/// A vendor's resume position and the watermark it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPosition {
    /// The watermark the position was returned with: a delta from this time or later may
    /// start from it.
    pub at: Timestamp,
    /// The vendor's opaque position (Zettle: an event log UUID).
    pub value: String,
}

/// Pulls from vendors and applies to the catalog. Built once per process.
pub struct Fetcher {
    /// The catalog and the sync states (and the connectors' breaker state).
    pub table: Arc<dyn Table>,
    /// Tenants: currency, API base URL.
    pub directory: Arc<dyn TenantDirectory>,
    /// API credentials.
    pub secrets: Arc<dyn SecretStore>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Retries for an operator who is watching ([`interactive_http`]: seconds) instead of
    /// the production schedule (10 attempts up to 15 minutes apart).
    pub interactive: bool,
}

impl Fetcher {
    /// A fetcher over an in-memory table, with the tenants and secrets of a tenants file
    /// (tests, tools); interactive retries.
    pub fn in_memory(
        tenants: std::sync::Arc<tillbridge_ports::tenants::StaticDirectory>,
        clock: Arc<tillbridge_ports::ManualClock>,
    ) -> Self {
        Self {
            table: Arc::new(tillbridge_ports::memory::MemoryTable::new(clock.clone())),
            directory: tenants.clone(),
            secrets: tenants,
            clock,
            interactive: true,
        }
    }
}

fn state_key(tenant: &TenantId, provider: Provider) -> (String, String) {
    (format!("sync#{tenant}"), provider.as_str().to_owned())
}

impl Fetcher {
    /// The sync state of a tenant's vendor (default before the first sync).
    ///
    /// # Errors
    /// The table failed or the state is corrupt.
    pub async fn state(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<SyncState, FetchError> {
        let (pk, sk) = state_key(tenant, provider);
        Ok(match self.table.get(&pk, &sk).await? {
            Some(item) => item.doc()?,
            None => SyncState::default(),
        })
    }

    async fn save_state(
        &self,
        tenant: &TenantId,
        provider: Provider,
        state: &SyncState,
    ) -> Result<(), FetchError> {
        let (pk, sk) = state_key(tenant, provider);
        self.table
            .put(Item::with_doc(pk, sk, state)?, Condition::Always)
            .await?;
        Ok(())
    }

    /// The tenant's client for `provider`, or why there is none. OAuth tokens the client
    /// renews (Square, Zettle: `tillbridge_connectors::oauth`) are written back to
    /// [`Fetcher::secrets`].
    ///
    /// # Errors
    /// [`FetchError::UnknownTenant`], [`FetchError::NoApi`], a bad credential
    /// ([`FetchError::Vendor`] with `Config`), the stores' errors.
    pub async fn client(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Box<dyn VendorApi>, FetchError> {
        let config = self
            .directory
            .tenant(tenant)
            .await?
            .ok_or_else(|| FetchError::UnknownTenant(tenant.clone()))?;
        let no_api = || FetchError::NoApi {
            tenant: tenant.clone(),
            provider,
        };
        let stored = self
            .secrets
            .api_credentials(tenant, provider)
            .await?
            .ok_or_else(no_api)?;
        let base_url = config
            .providers
            .get(&provider)
            .and_then(|p| p.api_base_url.clone());
        let credentials = tillbridge_connectors::stored_credentials(provider, &stored, base_url)?;
        let env = Env {
            table: self.table.clone(),
            clock: self.clock.clone(),
        };
        if let Provider::Profile(name) = provider {
            // A vendor without code: its profile (the newest stored version, else the
            // built-in file) says how to call its API.
            let profile = tillbridge_profiles::store::resolve(self.table.as_ref(), name)
                .await
                .map_err(|e| {
                    tillbridge_connectors::ConnectorError::config(provider, format!("profile: {e}"))
                })?
                .ok_or_else(|| {
                    tillbridge_connectors::ConnectorError::config(provider, "no such profile")
                })?;
            return Ok(Box::new(tillbridge_connectors::ProfileClient::new(
                profile,
                &credentials,
                config.currency,
                self.interactive.then(|| interactive_http(provider)),
                &env,
            )?));
        }
        Ok(tillbridge_connectors::connect(
            provider,
            &credentials,
            config.currency,
            self.interactive.then(|| interactive_http(provider)),
            &env,
            // Renewed OAuth tokens go back to the secret store for every other process.
            Some(tillbridge_connectors::CredentialStore {
                secrets: self.secrets.clone(),
                tenant: tenant.clone(),
                provider,
            }),
        )?)
    }

    /// Pulls the tenant's catalog from `provider` — everything (`since` None) or what changed
    /// after `since` — and applies it. A full sync also deletes the vendor's items the vendor
    /// no longer has (a missed delete webhook). Records the watermark for the next delta.
    ///
    /// # Errors
    /// See [`FetchError`]; nothing is half-counted: items applied before a vendor failure
    /// stay applied (each apply is idempotent), and the watermark moves only on success.
    pub async fn sync(
        &self,
        tenant: &TenantId,
        provider: Provider,
        since: Option<Timestamp>,
    ) -> Result<SyncReport, FetchError> {
        let api = self.client(tenant, provider).await?;
        let started = self.clock.now();
        let mut state = self.state(tenant, provider).await?;
        state.started_at = Some(started);
        self.save_state(tenant, provider, &state).await?;
        if let (Some(since), Some(p)) = (since, &state.position)
            && p.at <= since
        {
            api.resume(p.at, &p.value);
        }
        let pulled = pull(api.as_ref(), since).await;
        let stats = api.stats();
        let pulled = pulled?;
        let ns = provider.as_str();
        let before = catalog::live_items_in(self.table.as_ref(), tenant, ns).await?;
        let correlation =
            CorrelationId::parse(&format!("sync-{provider}-{}", started.unix_nanos().max(0)))
                .map_err(|e| {
                    FetchError::Store(tillbridge_ports::PortError::Permanent(e.to_string()))
                })?;
        let mut report = SyncReport {
            tenant: tenant.to_string(),
            provider: ns.to_owned(),
            fetched: pulled.fetched,
            api_calls: stats.api_calls,
            retries: stats.retries,
            ..SyncReport::default()
        };
        let mut seen = BTreeSet::new();
        let mut parents = BTreeSet::new();
        let products = products_of(&pulled.items);
        for fetched in pulled.items {
            let mut item = fetched.item;
            if !fetched.stock_by_location.is_empty() {
                item.quantity_on_hand = Some(fetched.stock_by_location.values().sum());
                item.stock_by_location = fetched.stock_by_location;
            }
            seen.insert(item.external_id.clone());
            if let Some(p) = &item.parent_id {
                parents.insert(p.clone());
            }
            let id = item.external_id.clone();
            let at = item.updated_at.unwrap_or(started);
            let event = envelope(
                tenant,
                provider,
                &correlation,
                started,
                at,
                EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                    item,
                    inventory_item_id: fetched.inventory_item_id,
                    parent_variants: None,
                    product_variants: None,
                })),
            );
            let outcome = catalog::apply_and_count(self.table.as_ref(), &event).await?;
            let after = catalog::get_item_in(self.table.as_ref(), tenant, ns, &id).await?;
            classify(&mut report, outcome, before.get(&id), after.as_ref());
        }
        // The products the variations name, as a migration creates them (name, description,
        // category, active flag; no price: their variants carry the prices). The counters
        // count catalog items one per variation, so products are not counted.
        for (product, variants) in products {
            if seen.contains(&product.external_id) {
                continue;
            }
            let at = product.updated_at.unwrap_or(started);
            let event = envelope(
                tenant,
                provider,
                &correlation,
                started,
                at,
                EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                    item: product,
                    inventory_item_id: None,
                    parent_variants: None,
                    product_variants: Some(variants),
                })),
            );
            catalog::apply_and_count(self.table.as_ref(), &event).await?;
        }
        let mut deletions: Vec<(String, Timestamp)> = pulled
            .tombstones
            .iter()
            .map(|t| (t.external_id.clone(), t.deleted_at))
            .collect();
        if since.is_none() {
            // A full pull lists everything the vendor has: the rest is gone at the vendor.
            deletions.extend(
                before
                    .keys()
                    .filter(|id| !seen.contains(*id) && !parents.contains(*id))
                    .map(|id| (id.clone(), started)),
            );
        }
        for (id, at) in deletions {
            let event = envelope(
                tenant,
                provider,
                &correlation,
                started,
                at,
                EventData::CatalogItemDeleted(ItemDeleted {
                    external_id: id,
                    deleted_at: at,
                }),
            );
            catalog::apply_and_count(self.table.as_ref(), &event).await?;
        }
        // Products count nowhere (see above), their deletion neither.
        let products_before: BTreeSet<&str> = before
            .values()
            .filter_map(|i| i.parent_id.as_deref())
            .collect();
        for id in before.keys() {
            if products_before.contains(id.as_str()) {
                continue;
            }
            if catalog::get_item_in(self.table.as_ref(), tenant, ns, id)
                .await?
                .is_none()
            {
                report.deleted += 1;
            }
        }
        if let (Some(at), Some(value)) = (pulled.watermark, pulled.position.clone()) {
            state.position = Some(SyncPosition { at, value });
        }
        state.watermark = pulled.watermark.or(Some(started)).max(state.watermark);
        state.finished_at = Some(self.clock.now());
        state.last_report = Some(report.clone());
        self.save_state(tenant, provider, &state).await?;
        tracing::info!(
            tenant = %tenant, provider = ns, full = since.is_none(),
            fetched = report.fetched, created = report.created, changed = report.changed,
            unchanged = report.unchanged, deleted = report.deleted, rejected = report.rejected,
            api_calls = report.api_calls, retries = report.retries, "sync done"
        );
        Ok(report)
    }

    /// Acts on a thin notification (`pos.fetch.requested`): when the tenant has API
    /// credentials for the vendor, pulls the changes since the last watermark (everything
    /// before the first sync) and applies them. Coalesced: a notification received before
    /// the last sync started is already covered, so a burst costs one pull.
    ///
    /// # Errors
    /// As [`Fetcher::sync`]; a tenant without API credentials is not an error (the
    /// fetch-needed record stays for the operator): `Ok(None)`.
    pub async fn on_notify(&self, event: &Envelope) -> Result<Option<SyncReport>, FetchError> {
        let (EventData::FetchRequested(request), Some(provider)) = (&event.body, event.provider)
        else {
            return Ok(None);
        };
        let tenant = &event.tenant_id;
        if request.vendor_event == OPERATOR_SYNC {
            // An operator asked for a full sync: run it even without a fresher notification.
            return self.sync(tenant, provider, None).await.map(Some);
        }
        if self
            .secrets
            .api_credentials(tenant, provider)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let state = self.state(tenant, provider).await?;
        if state.started_at.is_some_and(|s| s >= event.received_at) {
            return Ok(None);
        }
        self.sync(tenant, provider, state.watermark).await.map(Some)
    }
}

/// The products the pulled variations name (by `parent_id`), each as a migration creates a
/// parent: `external_id` = the product's id, its `name`, `description`, `category` and
/// `is_active` (from its variations, which carry the product's own), no price; its time the
/// newest of its variations'. With the ids of its variations in the pull, sorted.
fn products_of(items: &[tillbridge_connectors::FetchedItem]) -> Vec<(CatalogItem, Vec<String>)> {
    let mut out: std::collections::BTreeMap<&str, (CatalogItem, Vec<String>)> =
        std::collections::BTreeMap::new();
    for f in items {
        let v = &f.item;
        let Some(parent) = v.parent_id.as_deref() else {
            continue;
        };
        let (p, ids) = out
            .entry(parent)
            .or_insert_with(|| (CatalogItem::new(parent), Vec::new()));
        p.name = p.name.take().or_else(|| v.name.clone());
        p.description = p.description.take().or_else(|| v.description.clone());
        p.category = p.category.take().or_else(|| v.category.clone());
        p.is_active = p.is_active.or(v.is_active);
        p.updated_at = p.updated_at.max(v.updated_at);
        ids.push(v.external_id.clone());
    }
    out.into_values()
        .map(|(p, mut ids)| {
            ids.sort_unstable();
            ids.dedup();
            (p, ids)
        })
        .collect()
}

fn classify(
    report: &mut SyncReport,
    outcome: catalog::ApplyOutcome,
    before: Option<&CatalogItem>,
    after: Option<&CatalogItem>,
) {
    match (outcome, before, after) {
        (catalog::ApplyOutcome::Rejected, _, _) => report.rejected += 1,
        (_, None, Some(_)) => report.created += 1,
        (_, Some(b), Some(a)) if a != b => report.changed += 1,
        _ => report.unchanged += 1,
    }
}

fn envelope(
    tenant: &TenantId,
    provider: Provider,
    correlation: &CorrelationId,
    received: Timestamp,
    at: Timestamp,
    body: EventData,
) -> Envelope {
    let (entity, content) = match &body {
        EventData::CatalogItemUpserted(u) => (
            u.item.external_id.clone(),
            serde_json::to_string(&u.item).unwrap_or_default(),
        ),
        EventData::CatalogItemDeleted(d) => (d.external_id.clone(), "deleted".to_owned()),
        _ => (String::new(), String::new()),
    };
    Envelope {
        // The same object in the same state is the same event: a repeated sync is a duplicate.
        event_id: derive_event_id(
            &format!("sync/{tenant}/{provider}/{entity}/{at}/{content}"),
            0,
        ),
        entity_id: entity,
        body,
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: Some(provider),
        occurred_at: at,
        received_at: received,
        correlation_id: correlation.clone(),
        delivery_key: None,
    }
}

/// Interactive retries (CLI, `serve`): [`HttpConfig::bounded`] — a sync an operator watches
/// ends in seconds, not in the production schedule's 15 minutes.
pub fn interactive_http(provider: Provider) -> HttpConfig {
    HttpConfig::bounded(provider)
}

//! fetch: thin notifications (`pos.fetch.requested`, EventBridge → SQS) and the sync
//! schedule (EventBridge Scheduler) → the tenant's changes pulled from the vendor's API
//! through the connectors and applied to the catalog by the same apply stage as webhooks.
//! Bursts are coalesced: a notification received before the last sync started is covered.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;
use tillbridge_accounting::metering::Metering;
use tillbridge_domain::event::{
    Change, EventData, FetchRequested, SCHEMA_VERSION, derive_event_id,
};
use tillbridge_domain::{CorrelationId, Envelope, Provider, TenantId};
use tillbridge_fetch::{FetchError, Fetcher, SyncReport};
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_ports::bus::read_bus_message;
use tillbridge_ports::{BlobStore, EventBus};
use tracing::info;

/// What invoked the function: an SQS batch of notifications, or the schedule.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    /// `{"action": "scheduled-sync"}` from EventBridge Scheduler (first: an SQS event's
    /// fields all have defaults, so it would match any object).
    Schedule {
        /// Always `scheduled-sync`.
        action: String,
    },
    /// Thin notifications and operators' sync requests.
    Queue(SqsEvent),
}

/// Thin notifications: each pulls the tenant's changes (once per burst). A pull that changed
/// the catalog of a tenant whose migration is in its cutover raises
/// `migration.cutover.requested` on `bus`, so the changes flow on to the destination.
pub async fn handle(
    fetcher: &Fetcher,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    metering: Option<&Metering>,
    event: SqsEvent,
) -> SqsBatchResponse {
    for_each_record(event, metering, |body| async move {
        match read_bus_message(&body, blobs).await {
            Ok(envelope) => {
                let result = match fetcher.on_notify(&envelope).await {
                    Ok(Some(r)) => {
                        log_report(&r, "fetched on notification");
                        request_cutover(fetcher, bus, &envelope, &r).await
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                Handled {
                    tenant: Some(envelope.tenant_id),
                    result,
                }
            }
            Err(e) => Handled {
                tenant: None,
                result: Err(FetchError::Store(e)),
            },
        }
    })
    .await
}

/// `migration.cutover.requested` when the pull changed a watched namespace (a cutover).
async fn request_cutover(
    fetcher: &Fetcher,
    bus: &dyn EventBus,
    notification: &Envelope,
    r: &SyncReport,
) -> Result<(), FetchError> {
    if r.created + r.changed + r.deleted == 0 {
        return Ok(());
    }
    let Some(provider) = notification.provider else {
        return Ok(());
    };
    let namespace = provider.as_str().to_owned();
    let watched = tillbridge_catalog::watch::watcher(
        fetcher.table.as_ref(),
        &notification.tenant_id,
        &namespace,
    )
    .await?;
    if watched.is_none() {
        return Ok(());
    }
    let event =
        tillbridge_catalog::watch::cutover_request(notification, &namespace, fetcher.clock.now());
    tillbridge_ports::publish(bus, &[event]).await?;
    Ok(())
}

/// The schedule: one `pos.fetch.requested` per tenant and vendor with API credentials, so
/// each tenant's delta sync runs as its own queue message (in parallel, retried and
/// dead-lettered on its own) — repairs missed webhooks. Returns how many were queued.
///
/// # Errors
/// The directory, the secret store or the bus failed.
pub async fn scheduled(fetcher: &Fetcher, bus: &dyn EventBus) -> Result<usize, FetchError> {
    let now = fetcher.clock.now();
    let mut events = Vec::new();
    for tenant in fetcher.directory.tenant_ids().await? {
        for provider in providers_with_api(fetcher, &tenant).await? {
            events.push(scheduled_event(&tenant, provider, now)?);
        }
    }
    for chunk in events.chunks(10) {
        tillbridge_ports::publish(bus, chunk).await?;
    }
    info!(queued = events.len(), "scheduled syncs queued");
    Ok(events.len())
}

/// The vendor event name of a scheduled sync.
pub const SCHEDULED_SYNC: &str = "tillbridge.sync.scheduled";

fn scheduled_event(
    tenant: &TenantId,
    provider: Provider,
    now: tillbridge_domain::Timestamp,
) -> Result<Envelope, FetchError> {
    let correlation = CorrelationId::parse(&format!("scheduled-{}", now.unix_nanos().max(0)))
        .map_err(|e| FetchError::Store(tillbridge_ports::PortError::Permanent(e.to_string())))?;
    Ok(Envelope {
        event_id: derive_event_id(&format!("scheduled/{tenant}/{provider}/{now}"), 0),
        entity_id: "catalog".into(),
        body: EventData::FetchRequested(FetchRequested {
            object_type: "catalog".into(),
            object_id: None,
            change: Change::Updated,
            vendor_event: SCHEDULED_SYNC.into(),
        }),
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: Some(provider),
        occurred_at: now,
        received_at: now,
        correlation_id: correlation,
        delivery_key: None,
    })
}

async fn providers_with_api(
    fetcher: &Fetcher,
    tenant: &TenantId,
) -> Result<Vec<Provider>, FetchError> {
    let Some(config) = fetcher.directory.tenant(tenant).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for provider in config.providers.keys() {
        if fetcher
            .secrets
            .api_credentials(tenant, *provider)
            .await?
            .is_some()
        {
            out.push(*provider);
        }
    }
    Ok(out)
}

fn log_report(r: &SyncReport, what: &str) {
    info!(
        tenant = %r.tenant, provider = %r.provider, fetched = r.fetched, created = r.created,
        changed = r.changed, unchanged = r.unchanged, deleted = r.deleted, rejected = r.rejected,
        api_calls = r.api_calls, retries = r.retries, "{what}"
    );
}

#[cfg(test)]
mod tests;

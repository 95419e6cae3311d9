//! The local runtime: every stage in one process, wired like the cloud (ingress → inbound
//! queue → signature check → bus → catalog queue → catalog apply), on whatever table and
//! blob store it is given (embedded for `tillbridge serve`, in-memory for tests).

#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use tillbridge_domain::event::EventData;
use tillbridge_domain::{Envelope, TenantId};
use tillbridge_ports::bus::{LocalBus, Rule, read_bus_message};
use tillbridge_ports::tenants::Tenants;
use tillbridge_ports::{
    BlobStore, Clock, EventBus, Queue, SecretStore, Table, TableQueue, TenantDirectory,
};
use tracing::{info, warn};

pub mod alarms;
mod error;

pub use error::LocalError;
use tillbridge_accounting as accounting;
use tillbridge_catalog as catalog;
use tillbridge_sync::ingress::Ingress;
use tillbridge_sync::signature_check::SignatureCheck;

/// Receives before a message goes to its dead-letter queue (as the SAM template's redrive).
pub const MAX_RECEIVES: u32 = 5;
/// Default time a received message stays invisible before it is redelivered.
pub const VISIBILITY: Duration = Duration::from_secs(30);
const BATCH: usize = 10;
/// Messages of a short-work queue (deliveries, catalog events, usage) received and worked
/// together in one step.
pub const DELIVERY_BATCH: usize = 512;

/// Every stage in one process: the queues, their DLQs and the bus rules built on one table
/// (embedded or DynamoDB), with workers that drain them — the same code the Lambda functions run.
pub struct LocalRuntime {
    /// The one table every context and queue lives in.
    pub table: Arc<dyn Table>,
    /// Raw bodies, exports, reports, snapshots.
    pub blobs: Arc<dyn BlobStore>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Tenants and their providers (the embedded table, or memory in tests).
    pub directory: Arc<dyn TenantDirectory>,
    /// Vendor secrets (the embedded store's secrets file, or memory in tests).
    pub secrets: Arc<dyn SecretStore>,
    /// Accepted deliveries for the signature check.
    pub inbound: Arc<dyn Queue>,
    /// Deliveries that failed [`MAX_RECEIVES`] times.
    pub inbound_dlq: Arc<dyn Queue>,
    /// Catalog events (rule `pos.*`) and migration batch validations.
    pub catalog_queue: Arc<dyn Queue>,
    /// Catalog events that kept failing.
    pub catalog_dlq: Arc<dyn Queue>,
    /// `ai.usage.recorded` for cost accounting.
    pub costs_queue: Arc<dyn Queue>,
    /// Usage events that kept failing.
    pub costs_dlq: Arc<dyn Queue>,
    /// Migration steps: suggestions, validation + apply, rollback.
    pub migrations_queue: Arc<dyn Queue>,
    /// Migration steps that kept failing.
    pub migrations_dlq: Arc<dyn Queue>,
    /// Thin notifications (`pos.fetch.requested`) for the vendor fetcher.
    pub fetch_queue: Arc<dyn Queue>,
    /// Fetches that kept failing.
    pub fetch_dlq: Arc<dyn Queue>,
    /// Notifiable events (migration lifecycle, budget thresholds, quarantines).
    pub notify_queue: Arc<dyn Queue>,
    /// Notifiable events that kept failing.
    pub notify_dlq: Arc<dyn Queue>,
    /// Sends notifications (None: notifiable events are taken off the queue unsent, as
    /// when nothing is subscribed).
    pub notifier: Option<Arc<tillbridge_notifications::Notifier>>,
    /// Pulls from vendors' APIs (thin notifications, operator syncs).
    pub fetcher: Arc<tillbridge_fetch::Fetcher>,
    /// Writers of migrations' destinations (the tenants' `api` entries, interactive retries).
    pub destinations: Arc<dyn tillbridge_migration::destination::Destinations>,
    /// The LLM tier for mapping suggestions, when one is configured.
    pub refiner: Option<Arc<dyn tillbridge_migration::suggest::Refine>>,
    /// The local bus: routes each event type to its queue like the template's rules.
    pub bus: Arc<dyn EventBus>,
    /// Model prices: the bundled LiteLLM map and the stored overrides.
    pub prices: Arc<accounting::prices::Prices>,
    /// The webhook ingress stage.
    pub ingress: Ingress,
    /// The signature-check stage.
    pub check: SignatureCheck,
    /// How long a received message stays invisible (a crashed worker's messages return after it).
    pub visibility: Duration,
    /// Tenants whose catalog changed (or whose migration moved on) since their cutovers last
    /// flowed to their destinations: flowed on the migration lane, never on the webhook path.
    pub cutover_due: std::sync::Mutex<std::collections::BTreeSet<TenantId>>,
    /// Tenants whose last cutover flow failed, and when to try again (a vendor that is down
    /// is not called on every step).
    pub cutover_retry: std::sync::Mutex<std::collections::BTreeMap<TenantId, std::time::Instant>>,
}

/// A dead-letter queue's name, the queue itself and the work queue it feeds back.
pub type DeadLetterPair = (String, Arc<dyn Queue>, Arc<dyn Queue>);

/// What one pass over the queues did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// Messages handled and deleted.
    pub processed: usize,
    /// Messages that failed and were released for a retry (or dead-lettered).
    pub failed: usize,
}

impl LocalRuntime {
    /// The runtime over `table` and `blobs`, with queues and bus rules built on the table.
    pub fn new(
        table: Arc<dyn Table>,
        blobs: Arc<dyn BlobStore>,
        tenants: impl Into<Tenants>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let Tenants { directory, secrets } = tenants.into();
        let queue = |name: &str| -> Arc<dyn Queue> {
            Arc::new(TableQueue::new(name, table.clone(), clock.clone()))
        };
        let inbound_dlq = queue("inbound-dlq");
        let catalog_dlq = queue("catalog-dlq");
        let inbound: Arc<dyn Queue> = Arc::new(
            TableQueue::new("inbound", table.clone(), clock.clone())
                .with_dead_letter(inbound_dlq.clone(), MAX_RECEIVES),
        );
        let catalog_queue: Arc<dyn Queue> = Arc::new(
            TableQueue::new("catalog", table.clone(), clock.clone())
                .with_dead_letter(catalog_dlq.clone(), MAX_RECEIVES),
        );
        let costs_dlq = queue("costs-dlq");
        let costs_queue: Arc<dyn Queue> = Arc::new(
            TableQueue::new("costs", table.clone(), clock.clone())
                .with_dead_letter(costs_dlq.clone(), MAX_RECEIVES),
        );
        let migrations_dlq = queue("migrations-dlq");
        let migrations_queue: Arc<dyn Queue> = Arc::new(
            TableQueue::new("migrations", table.clone(), clock.clone())
                .with_dead_letter(migrations_dlq.clone(), MAX_RECEIVES),
        );
        let fetch_dlq = queue("fetch-dlq");
        let fetch_queue: Arc<dyn Queue> = Arc::new(
            TableQueue::new("fetch", table.clone(), clock.clone())
                .with_dead_letter(fetch_dlq.clone(), MAX_RECEIVES),
        );
        let notify_dlq = queue("notify-dlq");
        let notify_queue: Arc<dyn Queue> = Arc::new(
            TableQueue::new("notify", table.clone(), clock.clone())
                .with_dead_letter(notify_dlq.clone(), MAX_RECEIVES),
        );
        let bus: Arc<dyn EventBus> = Arc::new(
            LocalBus::new(
                vec![
                    Rule {
                        name: "fetch".into(),
                        detail_types: vec!["pos.fetch.requested".into()],
                        target: fetch_queue.clone(),
                    },
                    Rule {
                        name: "catalog-apply".into(),
                        detail_types: vec!["pos.*".into(), "migration.validation.requested".into()],
                        target: catalog_queue.clone(),
                    },
                    Rule {
                        name: "migrations".into(),
                        detail_types: vec![
                            "migration.requested".into(),
                            "migration.mapping.approved".into(),
                            "migration.apply.requested".into(),
                            "migration.rollback.requested".into(),
                            "migration.cutover.requested".into(),
                        ],
                        target: migrations_queue.clone(),
                    },
                    Rule {
                        name: "notify".into(),
                        detail_types:
                            tillbridge_notifications::tillbridge_notify::template::NOTIFIABLE
                                .iter()
                                .map(|k| k.as_str().to_owned())
                                .collect(),
                        target: notify_queue.clone(),
                    },
                    Rule {
                        name: "cost-accounting".into(),
                        detail_types: vec!["ai.usage.recorded".into()],
                        target: costs_queue.clone(),
                    },
                ],
                clock.clone(),
            )
            // Events over a bus entry's limit travel by claim check, as in the cloud.
            .with_claim_check(blobs.clone()),
        );
        let ingress = Ingress {
            directory: directory.clone(),
            queue: inbound.clone(),
            blobs: blobs.clone(),
            table: table.clone(),
            clock: clock.clone(),
        };
        let check = SignatureCheck {
            directory: directory.clone(),
            secrets: secrets.clone(),
            blobs: blobs.clone(),
            table: table.clone(),
            bus: bus.clone(),
            clock: clock.clone(),
        };
        let fetcher = Arc::new(tillbridge_fetch::Fetcher {
            table: table.clone(),
            directory: directory.clone(),
            secrets: secrets.clone(),
            clock: clock.clone(),
            // An operator is watching locally: seconds of retries, not the 15-minute schedule.
            interactive: true,
        });
        let destinations = Arc::new(tillbridge_migration::destination::TenantDestinations {
            table: table.clone(),
            clock: clock.clone(),
            directory: directory.clone(),
            secrets: secrets.clone(),
            http: Some(tillbridge_fetch::interactive_http),
        });
        let prices = Arc::new(accounting::prices::Prices::new(
            Arc::new(tillbridge_costs::PriceBook::bundled()),
            table.clone(),
        ));
        Self {
            table,
            blobs,
            clock,
            directory,
            secrets,
            inbound,
            inbound_dlq,
            catalog_queue,
            catalog_dlq,
            costs_queue,
            costs_dlq,
            migrations_queue,
            migrations_dlq,
            fetch_queue,
            fetch_dlq,
            notify_queue,
            notify_dlq,
            notifier: None,
            fetcher,
            destinations,
            refiner: None,
            bus,
            prices,
            ingress,
            check,
            visibility: VISIBILITY,
            cutover_due: std::sync::Mutex::default(),
            cutover_retry: std::sync::Mutex::default(),
        }
    }

    /// Sends notifications through `poster` (webhooks, chat) and `mailer` (email), on this
    /// runtime's table, blobs, secrets and clock.
    pub fn with_notifications(
        mut self,
        poster: Arc<dyn tillbridge_ports::Poster>,
        mailer: Arc<dyn tillbridge_ports::Mailer>,
    ) -> Self {
        self.notifier = Some(Arc::new(tillbridge_notifications::Notifier {
            table: self.table.clone(),
            blobs: self.blobs.clone(),
            secrets: self.secrets.clone(),
            poster,
            mailer,
            clock: self.clock.clone(),
        }));
        self
    }

    /// One batch of notifiable events, then the flush of what is due (held digests,
    /// retries), as the notify function and its schedule do.
    pub async fn step_notifications(&self) -> Result<StepReport, LocalError> {
        let mut report = StepReport::default();
        for m in self.notify_queue.receive(BATCH, self.visibility).await? {
            let result = match &self.notifier {
                None => Ok(()),
                Some(n) => match read_bus_message(&m.body, self.blobs.as_ref()).await {
                    Ok(event) => n.on_event(&event).await.map(|_| ()).map_err(Into::into),
                    Err(e) => Err(e.into()),
                },
            };
            if settle(self.notify_queue.as_ref(), &m, result).await? {
                report.processed += 1;
            } else {
                report.failed += 1;
            }
        }
        if let Some(n) = &self.notifier {
            let flushed = n.flush().await?;
            report.processed += flushed.sent + flushed.failed;
        }
        Ok(report)
    }

    /// Evaluates the local alarms ([`alarms`]) every `tick` until `shutdown`: each state
    /// change becomes an `operations.alarm.changed` event of the operators' `tenant` on the
    /// bus, which the notify rule routes per that tenant's settings and calendar. Each tick
    /// also drops the EMF groups the registry keeps for a Lambda's flush (`serve` shows the
    /// totals on `/metrics` and never prints EMF), so they stay empty.
    pub async fn watch_alarms(
        self: Arc<Self>,
        tenant: TenantId,
        tick: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut alarms = alarms::Alarms::new(alarms::Rules::default());
        let mut every = tokio::time::interval(tick);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            let metrics = tillbridge_ports::metrics::global();
            drop(metrics.take_emf("serve", 0));
            let totals = alarms
                .series()
                .into_iter()
                .map(|k| {
                    let v = metrics.value(k.0, &k.1);
                    (k, v)
                })
                .collect();
            let mut dlq_depths = Vec::new();
            for (name, dlq, _) in self.dead_letters() {
                match dlq.depth().await {
                    Ok(d) => dlq_depths.push((format!("{name}-dlq"), d)),
                    Err(e) => {
                        warn!(queue = %name, error = %e, "cannot read a dead-letter queue's depth for its alarm")
                    }
                }
            }
            let now = self.clock.now();
            for change in alarms.observe(now, alarms::Observation { totals, dlq_depths }) {
                let key = format!(
                    "local-alarm/{}/{:?}/{}",
                    change.alarm_name,
                    change.state,
                    now.unix_nanos()
                );
                info!(alarm = %change.alarm_name, state = ?change.state, critical = change.critical, "alarm state changed");
                let published = match tillbridge_notifications::tillbridge_notify::alarm::envelope(
                    change, &key, &tenant,
                ) {
                    Ok(event) => tillbridge_ports::bus::publish(self.bus.as_ref(), &[event])
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = published {
                    warn!(error = %e, "cannot publish an alarm change");
                }
            }
        }
    }

    /// Every dead-letter queue with the queue its messages came from, by name.
    pub fn dead_letters(&self) -> Vec<DeadLetterPair> {
        [
            ("inbound", &self.inbound_dlq, &self.inbound),
            ("catalog", &self.catalog_dlq, &self.catalog_queue),
            ("costs", &self.costs_dlq, &self.costs_queue),
            ("migrations", &self.migrations_dlq, &self.migrations_queue),
            ("fetch", &self.fetch_dlq, &self.fetch_queue),
            ("notify", &self.notify_dlq, &self.notify_queue),
        ]
        .into_iter()
        .map(|(n, d, t)| (n.to_owned(), d.clone(), t.clone()))
        .collect()
    }

    /// One batch from each queue; migration steps run to their end.
    pub async fn step(&self) -> Result<StepReport, LocalError> {
        let mut report = self.step_deliveries().await?;
        let fetches = self.step_fetches().await?;
        report.processed += fetches.processed;
        report.failed += fetches.failed;
        let migrations = self.step_migrations(&|| false).await?;
        report.processed += migrations.processed;
        report.failed += migrations.failed;
        Ok(report)
    }

    /// One batch from the short-work queues: inbound deliveries, catalog events, usage,
    /// notifications (and the flush of held ones that are due). The messages of a batch are
    /// worked concurrently, so their table writes share commits (the embedded store
    /// group-commits); each is settled on its own.
    pub async fn step_deliveries(&self) -> Result<StepReport, LocalError> {
        let mut report = self.step_inbound().await?;
        for r in [self.step_catalog().await?, self.step_costs().await?] {
            report.processed += r.processed;
            report.failed += r.failed;
        }
        let notified = self.step_notifications().await?;
        report.processed += notified.processed;
        report.failed += notified.failed;
        Ok(report)
    }

    /// One batch of the inbound queue through the signature check.
    pub async fn step_inbound(&self) -> Result<StepReport, LocalError> {
        self.work(self.inbound.as_ref(), |body| async move {
            self.check
                .handle(&body)
                .await
                .map(|_| ())
                .map_err(Into::into)
        })
        .await
    }

    /// One batch of the catalog queue: events applied, migration batches validated.
    pub async fn step_catalog(&self) -> Result<StepReport, LocalError> {
        // In arrival order per tenant, tenants side by side (see `ordered_groups`).
        let messages = self
            .catalog_queue
            .receive(DELIVERY_BATCH, self.visibility)
            .await?;
        let groups = ordered_groups(&messages);
        let queue = self.catalog_queue.as_ref();
        let settled = futures_util::future::join_all(groups.into_iter().map(|group| async move {
            let mut out = Vec::with_capacity(group.len());
            for m in group {
                let result = self.catalog_message(&m.body).await;
                out.push(settle(queue, m, result).await);
            }
            out
        }))
        .await;
        let mut report = StepReport::default();
        for s in settled.into_iter().flatten() {
            if s? {
                report.processed += 1;
            } else {
                report.failed += 1;
            }
        }
        Ok(report)
    }

    /// One batch of the costs queue: usage priced and recorded.
    pub async fn step_costs(&self) -> Result<StepReport, LocalError> {
        self.work(self.costs_queue.as_ref(), |body| async move {
            self.costs_message(&body).await
        })
        .await
    }

    /// Receives up to [`DELIVERY_BATCH`] messages of `queue`, works them concurrently with
    /// `handle` and settles each (deleted when done, released with a backoff when failed).
    async fn work<F, Fut>(&self, queue: &dyn Queue, handle: F) -> Result<StepReport, LocalError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<(), LocalError>>,
    {
        let messages = queue.receive(DELIVERY_BATCH, self.visibility).await?;
        let settled = futures_util::future::join_all(messages.iter().map(|m| {
            let handled = handle(m.body.clone());
            async move { settle(queue, m, handled.await).await }
        }))
        .await;
        let mut report = StepReport::default();
        for s in settled {
            if s? {
                report.processed += 1;
            } else {
                report.failed += 1;
            }
        }
        Ok(report)
    }

    /// One catalog-queue message: a migration batch to validate, a privacy request, or a
    /// catalog event to apply.
    async fn catalog_message(&self, body: &str) -> Result<(), LocalError> {
        match read_bus_message(body, self.blobs.as_ref()).await {
            Ok(event)
                if matches!(
                    event.body,
                    tillbridge_domain::event::EventData::MigrationValidationRequested(_)
                ) =>
            {
                tillbridge_migration::validation::validate_batch(
                    self.table.as_ref(),
                    self.blobs.as_ref(),
                    self.bus.as_ref(),
                    &event,
                )
                .await
                .map(|_| ())
                .map_err(Into::into)
            }
            Ok(event)
                if matches!(
                    event.body,
                    tillbridge_domain::event::EventData::PrivacyRequested(_)
                ) =>
            {
                tillbridge_migration::privacy::handle(
                    self.table.as_ref(),
                    self.blobs.as_ref(),
                    &event,
                )
                .await
                .map_err(Into::into)
            }
            Ok(event) => match catalog::apply_and_count(self.table.as_ref(), &event).await {
                Ok(catalog::ApplyOutcome::Applied) => {
                    self.cutover_due(&event.tenant_id);
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// One usage message: priced and recorded.
    async fn costs_message(&self, body: &str) -> Result<(), LocalError> {
        match read_bus_message(body, self.blobs.as_ref()).await {
            Ok(event) => match self.prices.book().await {
                Ok(book) => {
                    accounting::record_usage(self.table.as_ref(), self.bus.as_ref(), &book, &event)
                        .await
                        .map(|_| ())
                        .map_err(Into::into)
                }
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// One batch of thin notifications: each pulls the tenant's changes from the vendor's API
    /// (when it has credentials), coalesced per tenant and vendor.
    pub async fn step_fetches(&self) -> Result<StepReport, LocalError> {
        let mut report = StepReport::default();
        for m in self.fetch_queue.receive(BATCH, self.visibility).await? {
            let result = match read_bus_message(&m.body, self.blobs.as_ref()).await {
                Ok(event) => {
                    let r = self.fetcher.on_notify(&event).await;
                    if r.is_ok() {
                        self.cutover_due(&event.tenant_id);
                    }
                    r.map(|_| ()).map_err(Into::into)
                }
                Err(e) => Err(e.into()),
            };
            if settle(self.fetch_queue.as_ref(), &m, result).await? {
                report.processed += 1;
            } else {
                report.failed += 1;
            }
        }
        Ok(report)
    }

    /// One batch of migration steps. A long step (apply, rollback) checks `stop` between
    /// its batches and, when it says so, hands over: it records its checkpoint and queues its
    /// own continuation, as the Lambda functions do before their deadline.
    pub async fn step_migrations(
        &self,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<StepReport, LocalError> {
        let mut report = StepReport::default();
        for m in self
            .migrations_queue
            .receive(BATCH, self.visibility)
            .await?
        {
            let result = match read_bus_message(&m.body, self.blobs.as_ref()).await {
                Ok(event) => {
                    let r = self.migration_step(&event, stop).await;
                    // A migration that completed lets the changes that waited flow.
                    self.cutover_due(&event.tenant_id);
                    r
                }
                Err(e) => Err(e.into()),
            };
            if settle(self.migrations_queue.as_ref(), &m, result).await? {
                report.processed += 1;
            } else {
                report.failed += 1;
            }
        }
        self.flow_cutovers().await;
        Ok(report)
    }

    fn cutover_due(&self, tenant: &TenantId) {
        if let Ok(mut due) = self.cutover_due.lock() {
            due.insert(tenant.clone());
        }
    }

    /// Flows the cutovers of the tenants due (shared/design/CLI.md "Destination"); a tenant
    /// whose flow failed stays due and is tried again on the next step.
    pub async fn flow_cutovers(&self) -> u64 {
        let now = std::time::Instant::now();
        let mut due = match self.cutover_due.lock() {
            Ok(mut due) => std::mem::take(&mut *due),
            Err(_) => return 0,
        };
        if let Ok(mut retry) = self.cutover_retry.lock() {
            retry.retain(|tenant, at| {
                if *at <= now {
                    due.insert(tenant.clone());
                    false
                } else {
                    // Backing off: stays out of this flow (and keeps its retry time).
                    due.remove(tenant);
                    true
                }
            });
        }
        let mut flowed = 0;
        for tenant in due {
            match tillbridge_migration::destination::flow(
                self.table.as_ref(),
                Some(self.destinations.as_ref()),
                &tenant,
                self.clock.now(),
            )
            .await
            {
                Ok(n) => flowed += n,
                Err(e) => {
                    warn!(tenant = %tenant, error = %e, "cutover flow failed; retrying in {} s", CUTOVER_RETRY.as_secs());
                    if let Ok(mut retry) = self.cutover_retry.lock() {
                        retry.insert(tenant, now + CUTOVER_RETRY);
                    }
                }
            }
        }
        flowed
    }

    async fn migration_step(
        &self,
        event: &Envelope,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), LocalError> {
        if let EventData::MigrationCutoverRequested(_) = &event.body {
            // Flowed after this batch (see flow_cutovers), on this lane.
            self.cutover_due(&event.tenant_id);
            return Ok(());
        }
        if let EventData::MigrationRequested(_) = &event.body {
            return tillbridge_migration::suggest(
                self.table.as_ref(),
                self.blobs.as_ref(),
                self.bus.as_ref(),
                self.refiner.as_deref(),
                event,
            )
            .await
            .map(|_| ())
            .map_err(Into::into);
        }
        tillbridge_migration::handle_with(
            self.table.as_ref(),
            self.blobs.as_ref(),
            self.bus.as_ref(),
            Some(self.destinations.as_ref()),
            event,
            stop,
        )
        .await
        .map_err(Into::into)
    }

    /// Processes until the queues hold nothing visible.
    pub async fn drain(&self) -> Result<StepReport, LocalError> {
        let mut total = StepReport::default();
        loop {
            let r = self.step().await?;
            total.processed += r.processed;
            total.failed += r.failed;
            if r.processed == 0 && r.failed == 0 {
                return Ok(total);
            }
        }
    }

    /// Background workers for `serve`, until `shutdown` turns true. Deliveries, catalog events
    /// and usage are worked on this runtime; migration steps on a thread of their own (a
    /// 100,000-item apply is seconds of CPU between awaits, which must not hold up the HTTP
    /// server's tasks), in slices of [`MIGRATION_SLICE`] so progress shows and pause or cancel
    /// take effect between batches.
    pub async fn run_workers(self: Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        let lane = self.clone();
        let migrations = own_thread("migrations", shutdown.clone(), move |stop| async move {
            poll(stop, || async {
                let started = std::time::Instant::now();
                lane.step_migrations(&|| started.elapsed() >= MIGRATION_SLICE)
                    .await
            })
            .await
        });
        // A vendor sync applies thousands of items between awaits: its own thread too, so
        // webhooks keep their fast 202s while it runs.
        let lane = self.clone();
        let fetches = own_thread("fetches", shutdown.clone(), move |stop| async move {
            poll(stop, || lane.step_fetches()).await
        });
        // The short-work lanes poll side by side, so a signature check and a catalog apply
        // share the store's commits instead of taking turns; notifications (and the flush of
        // held ones and retries that are due) have a lane of their own.
        tokio::join!(
            poll(shutdown.clone(), || self.step_inbound()),
            poll(shutdown.clone(), || self.step_catalog()),
            poll(shutdown.clone(), || self.step_costs()),
            poll(shutdown, || self.step_notifications()),
        );
        if let Ok(handle) = fetches {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        match migrations {
            Ok(handle) => {
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            }
            Err(e) => warn!(error = %e, "cannot start the migration worker"),
        }
    }
}

/// Runs `work` on a thread of its own with a current-thread runtime until `stop` turns true.
fn own_thread<F, Fut>(
    name: &str,
    stop: tokio::sync::watch::Receiver<bool>,
    work: F,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce(tokio::sync::watch::Receiver<bool>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let label = name.to_owned();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(work(stop)),
                Err(e) => warn!(error = %e, worker = %label, "cannot start the worker"),
            }
        })
}

/// How long a tenant whose cutover flow failed waits before the next try.
pub const CUTOVER_RETRY: Duration = Duration::from_secs(5);

/// How long one migration step works before it hands over to its own continuation.
pub const MIGRATION_SLICE: Duration = Duration::from_secs(1);

/// Runs `step` until `shutdown` turns true, pausing 50 ms whenever a pass found nothing.
async fn poll<F, Fut>(mut shutdown: tokio::sync::watch::Receiver<bool>, step: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<StepReport, LocalError>>,
{
    loop {
        let idle = match step().await {
            Ok(r) => r.processed == 0 && r.failed == 0,
            Err(e) => {
                warn!(error = %e, "worker step failed");
                true
            }
        };
        if *shutdown.borrow() {
            return;
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Acknowledges a processed message (true), or makes it visible again after a backoff
/// (false).
/// Catalog-queue messages in groups applied one after the other, in arrival order; groups
/// run side by side. A group is one tenant's messages: within a tenant the catalog applies
/// in arrival order (a product's variants arrive as a burst on the same records, which
/// worked concurrently would race — optimistic updates retried until they dead-letter — and
/// a later delivery is visible only once the earlier ones are), while tenants do not wait for
/// each other. A message that names no tenant (a claim check) goes with the other such.
fn ordered_groups(messages: &[tillbridge_ports::Message]) -> Vec<Vec<&tillbridge_ports::Message>> {
    let mut groups: Vec<Vec<&tillbridge_ports::Message>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for m in messages {
        let g = *index.entry(tenant_of(&m.body)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(m);
    }
    groups
}

/// The tenant a bus message's event belongs to (empty when it does not say).
fn tenant_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["detail"]["tenant_id"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn settle(
    queue: &dyn Queue,
    m: &tillbridge_ports::Message,
    result: Result<(), LocalError>,
) -> Result<bool, LocalError> {
    match result {
        Ok(()) => {
            queue.delete(&m.receipt).await?;
            Ok(true)
        }
        Err(e) => {
            warn!(queue = queue.name(), message_id = %m.id, receive_count = m.receive_count, error = %e, "message failed; will retry");
            let backoff = Duration::from_millis(200 * 2_u64.pow(m.receive_count.min(6)));
            queue.release(&m.receipt, backoff).await?;
            Ok(false)
        }
    }
}

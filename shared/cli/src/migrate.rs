//! `tillbridge migrate`, `tillbridge migration …`, `tillbridge rollback`: the migration flow
//! on the embedded store, run to the next point that needs a human (or to the end with
//! `--approve-all`), with a progress bar on stderr while items are applied or rolled back.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use tillbridge_domain::{CorrelationId, MigrationId, Provider, TenantId};
use tillbridge_local::LocalRuntime;
use tillbridge_migration::review as mapping_review;
use tillbridge_migration::{
    self as migration, ExportSource, Migration, MigrationError, Refusal, StartRequest, Status,
};

pub use crate::migrate_demo::demo;
pub(crate) use crate::migrate_output::{output, rollback_line};
use crate::serve::{load_tenants, open_runtime};
use crate::{Failure, Outcome};

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Tenant the catalog belongs to (from the tenants file).
    #[arg(long)]
    tenant: String,
    /// The source POS (square, toast, …).
    #[arg(long)]
    source_name: String,
    /// The export: a JSON array of records (or {"items": […], "customers": […]}) or CSV.
    #[arg(long, required_unless_present = "source_api")]
    export: Option<PathBuf>,
    /// Instead of an export file, take everything the tenant's account at this vendor lists
    /// now through its API (the tenants file's `api` entry), as canonical items.
    #[arg(long, value_name = "PROVIDER", conflicts_with = "export")]
    source_api: Option<String>,
    /// Approve the suggested mapping as is and run validation, snapshot and apply.
    #[arg(long)]
    approve_all: bool,
    /// Stop after validation: the report (names, findings, what would be created, changed
    /// or left unchanged) is written and nothing is applied until `migration approve ID`.
    #[arg(long)]
    preview: bool,
    /// Never call a model for mapping suggestions.
    #[arg(long)]
    offline: bool,
    /// Also write the approved items to the tenant's account at this vendor (square,
    /// bigcommerce, woocommerce), through its API (the tenants file's `api` entry);
    /// `rollback` undoes them there.
    #[arg(long)]
    destination: Option<String>,
    /// Take from this (fixed) export only the items that migration ID held back, and their
    /// parents; customers are not migrated again.
    #[arg(long, value_name = "ID")]
    retry_held_back_of: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Clone)]
pub struct Common {
    /// State directory (table file and blobs).
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file; default STATE/tenants.json, else the bundled samples.
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Output on stdout: a summary for people, or the migration record as JSON (`migration
    /// report`: the report as JSON, or `csv`: one row per item and finding, with the
    /// destination's id and outcome per item when the migration has a destination).
    #[arg(long, default_value = "text", value_parser = ["text", "json", "csv"])]
    format: String,
    /// Who is acting (recorded in the audit report).
    #[arg(long, default_value = "cli")]
    by: String,
}

#[derive(Subcommand)]
pub enum MigrationCommand {
    /// Status, progress, validation and rollback of one migration.
    Show {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// The tenant's migrations, newest first.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        common: Common,
    },
    /// Approve the mapping (after review) and run validation, snapshot and apply.
    Approve {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// The validation report (JSON).
    Report {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// The audit report (JSON): approvals, overrides, AI calls, counts, rollback.
    Audit {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// The cutover of a migration with a destination: flows the source changes waiting now,
    /// then prints what flowed (JSON).
    Cutover {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// The merchant switched to the destination: a last flow of pending source changes, then
    /// the cutover ends (nothing flows after).
    Switch {
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The migration to undo.
    #[arg(long)]
    migration: String,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::usage(e.to_string())
}

async fn open(common: &Common) -> Result<LocalRuntime, Failure> {
    let directory = load_tenants(common.tenants.as_deref(), &common.state)?;
    open_runtime(&common.state, directory).await
}

pub fn migrate(a: MigrateArgs) -> Outcome {
    let (file_export, csv) = match &a.export {
        Some(path) => (
            Some(crate::read_document(path, "export")?),
            tillbridge_migration::export::is_csv(&path.to_string_lossy()),
        ),
        None => (None, false),
    };
    crate::runtime()?.block_on(async {
        let mut rt = open(&a.common).await?;
        let tenant = TenantId::parse(&a.tenant).map_err(usage)?;
        let export = match (file_export, a.source_api.as_deref()) {
            (Some(bytes), _) => bytes,
            (None, Some(p)) => export_from_api(&rt, &tenant, p).await?,
            (None, None) => return Err(usage("give --export FILE or --source-api PROVIDER")),
        };
        let destination = match a.destination.as_deref() {
            None => None,
            Some(p) => {
                let provider: Provider = p.parse().map_err(usage)?;
                // Fail fast on missing credentials or a vendor that takes no writes.
                rt.destinations
                    .open(&tenant, provider)
                    .await
                    .map_err(|e| Failure::usage(format!("--destination {p}: {e}")))?;
                Some(provider)
            }
        };
        let config = rt
            .directory
            .tenant(&tenant)
            .await
            .map_err(usage)?
            .ok_or_else(|| Failure::usage(format!("unknown tenant {tenant}")))?;
        if !a.offline
            && let Some(llm) = tillbridge_llm::Config::from_env()
        {
            rt.refiner = Some(Arc::new(tillbridge_llm::LlmRefiner {
                client: Arc::new(tillbridge_llm::ChatClient::new(llm).map_err(usage)?),
                table: rt.table.clone(),
                bus: rt.bus.clone(),
                prices: tillbridge_costs::PriceTable::bundled(),
            }));
        }
        let rt = Arc::new(rt);
        let correlation = CorrelationId::parse(&format!("cli-{}", uuid::Uuid::now_v7().simple()))
            .map_err(usage)?;
        let started = migration::start(
            rt.table.as_ref(),
            rt.blobs.as_ref(),
            rt.bus.as_ref(),
            StartRequest {
                tenant: &tenant,
                currency: config.currency,
                country: config.country.map(|c| c.to_string()),
                source_name: &a.source_name,
                export: ExportSource::Upload {
                    bytes: &export,
                    csv,
                },
                requested_by: &a.common.by,
                idempotency_key: None,
                correlation_id: correlation,
                at: rt.clock.now(),
                destination,
                retry_of: a
                    .retry_held_back_of
                    .as_deref()
                    .map(MigrationId::parse)
                    .transpose()
                    .map_err(usage)?,
            },
        )
        .await
        .map_err(refused)?;
        // Stored: the stages read it from the blob store.
        drop(export);
        eprintln!("migration {} started; suggesting mappings…", started.id);
        let mut m = drive(&rt, started.id.as_str()).await?;
        if m.status == Status::MappingReview && a.approve_all {
            m = approve(&rt, m.id.as_str(), &a.common.by, a.preview).await?;
        } else if m.status == Status::MappingReview {
            print_mapping(&rt, &m).await?;
            eprintln!(
                "review the mapping above, then: tillbridge migration approve {} --state {}",
                m.id,
                a.common.state.display()
            );
        }
        output(&rt, &m, &a.common.format).await?;
        finished(&m)
    })
}

pub fn migration(c: MigrationCommand) -> Outcome {
    crate::runtime()?.block_on(async {
        match c {
            MigrationCommand::Show { id, common } => {
                let rt = open(&common).await?;
                let m = load(&rt, &id).await?;
                output(&rt, &m, &common.format).await
            }
            MigrationCommand::List { tenant, common } => {
                let rt = open(&common).await?;
                let tenant = TenantId::parse(&tenant).map_err(usage)?;
                let all = migration::list(rt.table.as_ref(), &tenant)
                    .await
                    .map_err(usage)?;
                if common.format == "json" {
                    let views: Vec<_> = all.iter().map(Migration::view).collect();
                    println!("{}", serde_json::Value::Array(views));
                } else {
                    for m in &all {
                        println!(
                            "{}  {:<13} {}  from {}",
                            m.id,
                            m.status.as_str(),
                            m.created_at,
                            m.source_name
                        );
                    }
                }
                Ok(())
            }
            MigrationCommand::Approve { id, common } => {
                let rt = Arc::new(open(&common).await?);
                let m = approve(&rt, &id, &common.by, false).await?;
                output(&rt, &m, &common.format).await?;
                finished(&m)
            }
            MigrationCommand::Report { id, common } => {
                let rt = open(&common).await?;
                let m = load(&rt, &id).await?;
                if m.destination.is_none() && common.format != "csv" {
                    let key = tillbridge_migration::prepare::report_key(&m);
                    return print_blob(&rt, &key).await;
                }
                // With a destination: every item with what the write did there.
                let report =
                    migration::destination::report_json(rt.table.as_ref(), rt.blobs.as_ref(), &m)
                        .await
                        .map_err(usage)?
                        .ok_or_else(|| Failure::usage("the report is not written yet"))?;
                if common.format == "csv" {
                    print!("{}", migration::preview::report_csv(&report));
                } else {
                    println!("{}", serde_json::to_string_pretty(&report).map_err(usage)?);
                }
                Ok(())
            }
            MigrationCommand::Cutover { id, common } => {
                let rt = open(&common).await?;
                let m = load(&rt, &id).await?;
                let flowed = migration::destination::flow(
                    rt.table.as_ref(),
                    Some(rt.destinations.as_ref()),
                    &m.tenant_id,
                    rt.clock.now(),
                )
                .await
                .map_err(|e| Failure::usage(format!("cutover flow: {e}")))?;
                let m = load(&rt, &id).await?;
                let report = migration::destination::cutover_report(rt.table.as_ref(), &m)
                    .await
                    .map_err(usage)?
                    .ok_or_else(|| {
                        Failure::usage(
                            "this migration has no cutover (no destination, or not applied yet)",
                        )
                    })?;
                eprintln!("flowed {flowed} product(s) now");
                println!("{}", serde_json::to_string_pretty(&report).map_err(usage)?);
                Ok(())
            }
            MigrationCommand::Switch { id, common } => {
                let rt = open(&common).await?;
                let mid = migration_id(&id)?;
                let m = migration::destination::switch(
                    rt.table.as_ref(),
                    Some(rt.destinations.as_ref()),
                    &mid,
                    rt.clock.now(),
                )
                .await
                .map_err(refused)?;
                output(&rt, &m, &common.format).await
            }
            MigrationCommand::Audit { id, common } => {
                let rt = open(&common).await?;
                let m = load(&rt, &id).await?;
                let report = migration::audit::report(rt.table.as_ref(), rt.blobs.as_ref(), &m)
                    .await
                    .map_err(usage)?;
                println!("{}", serde_json::to_string_pretty(&report).map_err(usage)?);
                Ok(())
            }
        }
    })
}

pub fn rollback(a: RollbackArgs) -> Outcome {
    crate::runtime()?.block_on(async {
        let rt = Arc::new(open(&a.common).await?);
        let id = migration_id(&a.migration)?;
        migration::request_rollback(
            rt.table.as_ref(),
            rt.bus.as_ref(),
            &id,
            &a.common.by,
            rt.clock.now(),
        )
        .await
        .map_err(refused)?;
        let m = drive(&rt, &a.migration).await?;
        output(&rt, &m, &a.common.format).await?;
        finished(&m)
    })
}

/// Approves the mapping and runs validation, snapshot and apply to their end (with
/// `preview`, validation only); approving a previewed migration applies it.
async fn approve(
    rt: &Arc<LocalRuntime>,
    id: &str,
    by: &str,
    preview: bool,
) -> Result<Migration, Failure> {
    migration::approve_with(
        rt.table.as_ref(),
        rt.bus.as_ref(),
        &migration_id(id)?,
        by,
        rt.clock.now(),
        preview,
    )
    .await
    .map_err(refused)?;
    drive(rt, id).await
}

/// A request the migration's state refuses exits 1 (judged and rejected); a request that is
/// itself wrong — an unreadable export, a bad source name or reviewer — an unknown migration
/// or a failing store exits 2 (usage or unreadable input).
fn refused(e: MigrationError) -> Failure {
    match e {
        MigrationError::Refused(Refusal::NotFound) => Failure::usage("migration not found"),
        MigrationError::Refused(Refusal::Invalid(m)) => Failure::usage(m),
        MigrationError::Refused(other) => Failure::rejected(other.to_string()),
        other => usage(other),
    }
}

/// Failed or unverified outcomes exit 1 (the input was judged and rejected).
fn finished(m: &Migration) -> Outcome {
    match m.status {
        Status::Failed => Err(Failure::rejected(format!(
            "migration {} failed: {}",
            m.id,
            m.error.as_deref().unwrap_or("see the report")
        ))),
        _ => Ok(()),
    }
}

/// A migration id from the command line; one that cannot exist is an unknown migration.
fn migration_id(id: &str) -> Result<MigrationId, Failure> {
    MigrationId::parse(id).map_err(|_| Failure::usage("migration not found"))
}

pub(crate) async fn load(rt: &LocalRuntime, id: &str) -> Result<Migration, Failure> {
    let Ok(mid) = MigrationId::parse(id) else {
        return Err(Failure::usage(format!("migration {id} not found")));
    };
    migration::load(rt.table.as_ref(), &mid)
        .await
        .map_err(usage)?
        .map(|(m, _)| m)
        .ok_or_else(|| Failure::usage(format!("migration {id} not found")))
}

async fn print_blob(rt: &LocalRuntime, key: &str) -> Outcome {
    let bytes = rt
        .blobs
        .get(key)
        .await
        .map_err(usage)?
        .ok_or_else(|| Failure::usage(format!("{key} is not written yet")))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| Failure::usage(format!("cannot write output: {e}")))
}

/// Runs the queues until they are empty, drawing the migration's progress on stderr; the
/// migration as it is then.
pub async fn drive(rt: &Arc<LocalRuntime>, id: &str) -> Result<Migration, Failure> {
    let mut worker = {
        let rt = rt.clone();
        tokio::spawn(async move { rt.drain().await })
    };
    let tty = std::io::stderr().is_terminal();
    let mut last = (Status::Pending, u64::MAX);
    let mut shown = false;
    // An id no migration can have is never found (the queues still drain).
    let mid = MigrationId::parse(id).ok();
    // Progress is drawn on a tick; the command returns as soon as the work is done.
    let mut tick = tokio::time::interval(Duration::from_millis(if tty { 100 } else { 1000 }));
    let drained = loop {
        tokio::select! {
            done = &mut worker => break done,
            _ = tick.tick() => {}
        }
        let Some(mid) = mid.as_ref() else {
            continue;
        };
        if let Ok(Some((m, _))) = migration::load(rt.table.as_ref(), mid).await {
            let now = (m.status, progress_of(&m).0);
            if now != last {
                draw(&m, tty);
                shown = true;
                last = now;
            }
        }
    };
    if shown && tty {
        eprintln!();
    }
    drained
        .map_err(|e| Failure::usage(format!("worker stopped: {e}")))?
        .map_err(usage)?;
    load(rt, id).await
}

pub(crate) fn progress_of(m: &Migration) -> (u64, u64) {
    let p = &m.progress;
    match m.status {
        Status::RollingBack | Status::RolledBack => (p.rolled_back, p.created + p.changed),
        // As the JSON's `percent`: items held back count as not applied.
        _ => (p.applied, p.items + p.skipped),
    }
}

fn draw(m: &Migration, tty: bool) {
    let (done, total) = progress_of(m);
    let total = total.max(1);
    let width = 30;
    let filled = (done.min(total) * width / total) as usize;
    let bar = format!(
        "[{}{}] {:>3}% {done}/{total}",
        "#".repeat(filled),
        "-".repeat(width as usize - filled),
        done.min(total) * 100 / total
    );
    let line = format!("{:<13} {bar}", m.status.as_str());
    if tty {
        eprint!("\r{line}");
        let _ = std::io::stderr().flush();
    } else {
        eprintln!("{line}");
    }
}

async fn print_mapping(rt: &LocalRuntime, m: &Migration) -> Outcome {
    let decisions = mapping_review::decisions(rt.table.as_ref(), &m.tenant_id, m.id.as_str())
        .await
        .map_err(usage)?;
    eprintln!("suggested mapping ({} source fields):", decisions.len());
    for d in &decisions {
        eprintln!(
            "  {:<40} → {:<18} {:.2} {:<6} {}",
            d.source,
            d.target.as_deref().unwrap_or("(none)"),
            d.confidence,
            d.band,
            d.reason
        );
    }
    Ok(())
}

/// The tenant's catalog at `provider` now, pulled through its API, as a JSON export of
/// canonical items (the mapping suggests them one to one).
async fn export_from_api(
    rt: &LocalRuntime,
    tenant: &TenantId,
    provider: &str,
) -> Result<Vec<u8>, Failure> {
    let provider: Provider = provider.parse().map_err(usage)?;
    let client = rt
        .fetcher
        .client(tenant, provider)
        .await
        .map_err(crate::sync::failure)?;
    let pulled = tillbridge_connectors::pull(client.as_ref(), None)
        .await
        .map_err(|e| crate::sync::failure(e.into()))?;
    let items: Vec<tillbridge_domain::CatalogItem> = pulled
        .items
        .into_iter()
        .map(|mut f| {
            if !f.stock_by_location.is_empty() {
                f.item.quantity_on_hand = Some(f.stock_by_location.values().sum());
                f.item.stock_by_location = f.stock_by_location;
            }
            f.item
        })
        .collect();
    let stats = client.stats();
    eprintln!(
        "pulled {} items from {provider} ({} API calls, {} retries)",
        items.len(),
        stats.api_calls,
        stats.retries
    );
    serde_json::to_vec(&items).map_err(usage)
}

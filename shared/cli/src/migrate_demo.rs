//! `tillbridge demo`'s migration: the sample Square export migrated, applied and rolled
//! back, the catalog compared byte for byte.

use tillbridge_domain::{CorrelationId, TenantId};
use tillbridge_local::LocalRuntime;
use tillbridge_migration::review as mapping_review;
use tillbridge_migration::{self as migration, ExportSource, StartRequest, Status};

use crate::migrate::{load, output, rollback_line, usage};
use crate::{Failure, Outcome};

/// The sample export `tillbridge demo` migrates (Square catalog, a coffee shop).
const SAMPLE_EXPORT: &[u8] = include_bytes!("../../../samples/exports/square-cafe.json");

/// The demo's migration: Square export into demo-cafe, approved as suggested, applied, then
/// rolled back; shows that the catalog afterwards is the one before, byte for byte.
pub async fn demo(rt: &LocalRuntime) -> Outcome {
    let fail = |e: &dyn std::fmt::Display| Failure::usage(format!("demo failed: {e}"));
    let tenant = TenantId::parse("demo-cafe").map_err(|e| fail(&e))?;
    println!("\nMigration: demo-cafe switches from Square (samples/exports/square-cafe.json)");
    let before = catalog_sha(rt, &tenant).await?;
    let m = migration::start(
        rt.table.as_ref(),
        rt.blobs.as_ref(),
        rt.bus.as_ref(),
        StartRequest {
            tenant: &tenant,
            currency: tillbridge_domain::Currency::USD,
            country: None,
            source_name: "square",
            export: ExportSource::Upload {
                bytes: SAMPLE_EXPORT,
                csv: false,
            },
            requested_by: "demo",
            idempotency_key: None,
            correlation_id: CorrelationId::parse("demo-migration").map_err(|e| fail(&e))?,
            at: rt.clock.now(),
            destination: None,
            retry_of: None,
        },
    )
    .await
    .map_err(|e| fail(&e))?;
    rt.drain().await.map_err(|e| fail(&e))?;
    let decisions = mapping_review::decisions(rt.table.as_ref(), &tenant, m.id.as_str())
        .await
        .map_err(|e| fail(&e))?;
    println!(
        "  suggested: {} source fields, {} mapped ({} high confidence); approved as suggested",
        decisions.len(),
        decisions.iter().filter(|d| d.target.is_some()).count(),
        decisions.iter().filter(|d| d.band == "high").count()
    );
    migration::approve(
        rt.table.as_ref(),
        rt.bus.as_ref(),
        &m.id,
        "demo",
        rt.clock.now(),
    )
    .await
    .map_err(|e| fail(&e))?;
    rt.drain().await.map_err(|e| fail(&e))?;
    output(rt, &load(rt, m.id.as_str()).await?, "text").await?;
    migration::request_rollback(
        rt.table.as_ref(),
        rt.bus.as_ref(),
        &m.id,
        "demo",
        rt.clock.now(),
    )
    .await
    .map_err(|e| fail(&e))?;
    rt.drain().await.map_err(|e| fail(&e))?;
    let done = load(rt, m.id.as_str()).await?;
    println!(
        "  rolled back: status {}\n  {}",
        done.status.as_str(),
        rollback_line(rt, &done)
            .await
            .unwrap_or_default()
            .trim_end()
    );
    let after = catalog_sha(rt, &tenant).await?;
    println!(
        "catalog after the rollback is the catalog before it: {} (sha256 {})",
        if after == before { "yes" } else { "NO" },
        &after[..16]
    );
    if after != before || done.status != Status::RolledBack {
        return Err(Failure::usage(
            "demo failed: the rollback did not restore the catalog",
        ));
    }
    Ok(())
}

async fn catalog_sha(rt: &LocalRuntime, tenant: &TenantId) -> Result<String, Failure> {
    let mut lines = Vec::new();
    migration::snapshot::for_each_item(rt.table.as_ref(), tenant, |i| {
        lines.push(migration::snapshot::canonical_line(&i)?);
        Ok::<_, tillbridge_migration::MigrationError>(())
    })
    .await
    .map_err(usage)?;
    Ok(migration::snapshot::hash_lines(
        lines.iter().map(String::as_str),
    ))
}

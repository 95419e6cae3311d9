//! Writing the prepared items to the destination, and the preview of that write.

use serde_json::{Value, json};
use tillbridge_connectors::{Action, ConnectorError, Destination, Journal, Parent, prior_states};
use tillbridge_ports::{BlobStore, Table};

use super::{
    Destinations, PARENTS_PER_CALL, by_source, expiry, group, load_journal, match_existing, open,
    parse_lines, prepared_items, report, save, save_categories, vendor,
};
use crate::{DestinationProgress, Migration, MigrationError};

/// Writes the migration's prepared items to its destination (nothing without one), a call
/// of [`PARENTS_PER_CALL`] products at a time: the prior states persisted before each call,
/// its outcomes after it. Calls whose products all have an outcome are skipped, so a fresh
/// invocation or a re-run goes on where the last stopped, and each invocation makes at
/// least one call. `Ok(false)`: `stop` said time is up before the end (a fresh invocation
/// goes on).
///
/// # Errors
/// A vendor failure that stopped the run ([`MigrationError::Retryable`] when a retry may
/// help, the journal keeps what was written), a refusal or missing credentials
/// ([`MigrationError::Permanent`]), the stores' errors.
pub(crate) async fn write(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    dests: Option<&dyn Destinations>,
    m: &Migration,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<bool, MigrationError> {
    let (Some(dest), Some(provider)) = (open(dests, m).await?, m.destination) else {
        return Ok(true);
    };
    let items = prepared_items(blobs, m).await?;
    let mut parents = group(&items);
    let mut journal = load_journal(table, &m.id).await?;
    match_existing(table, m, provider, &mut parents, &journal).await?;
    let expires = expiry(m);
    // Calls whose products all have an outcome (a run before this one, or an invocation
    // that handed over) are done: go on after them, so every invocation gets further.
    let done = |chunk: &[Parent], journal: &Journal| {
        chunk.iter().all(|p| {
            journal
                .entries
                .get(&p.source_id)
                .is_some_and(|o| !matches!(o.action, Action::Failed { .. }))
        })
    };
    let mut wrote_one = false;
    for chunk in parents.chunks(PARENTS_PER_CALL) {
        if done(chunk, &journal) {
            continue;
        }
        // At least one call per invocation, however slow the vendor.
        if wrote_one && stop() {
            return Ok(false);
        }
        wrote_one = true;
        if let Some(e) = write_chunk(table, &*dest, m, chunk, &mut journal, expires).await? {
            tracing::warn!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, error = %e, "destination write stopped");
            return Err(vendor(e));
        }
    }
    let stats = dest.stats();
    tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, provider = provider.as_str(), products = parents.len(), api_calls = stats.api_calls, retries = stats.retries, "destination written");
    Ok(true)
}

/// Writes one call's products: their prior states persisted before the write, the outcomes
/// after it, the progress counters updated. `Ok(Some(e))`: the vendor stopped the call part
/// way (what was written is recorded; a later run resumes).
///
/// # Errors
/// Reading the prior states failed (nothing written), or the stores failed.
pub(crate) async fn write_chunk(
    table: &dyn Table,
    dest: &dyn Destination,
    m: &Migration,
    chunk: &[Parent],
    journal: &mut Journal,
    expires: i64,
) -> Result<Option<ConnectorError>, MigrationError> {
    let sources: Vec<&str> = chunk.iter().map(|p| p.source_id.as_str()).collect();
    // Before writing: the state to restore, so a crash after the write still leaves it.
    let priors = prior_states(dest, chunk, journal).await.map_err(vendor)?;
    for (source, prior) in priors {
        journal.record_prior(&source, prior);
    }
    save(table, m, journal, &sources, expires).await?;
    let written = dest
        .upsert(m.id.as_str(), chunk, journal)
        .await
        .map_err(vendor)?;
    save_categories(table, m, &written.categories, expires).await?;
    for c in written.categories {
        journal.record_category(c);
    }
    for o in written.outcomes {
        journal.record(o);
    }
    save(table, m, journal, &sources, expires).await?;
    let counts = counts(journal);
    crate::transitions::update(table, &m.id, |r| {
        r.progress.destination = counts;
        Ok(())
    })
    .await?;
    Ok(written.stopped)
}

/// The destination counters of `journal` (see [`DestinationProgress`]); placeholders of
/// products not tried yet count nowhere.
pub(crate) fn counts(journal: &Journal) -> DestinationProgress {
    let mut c = DestinationProgress::default();
    for o in journal.entries.values() {
        match &o.action {
            Action::Created | Action::Updated => c.written += 1,
            Action::Unchanged => c.unchanged += 1,
            // `record_prior`'s placeholder: not tried yet.
            Action::Failed { reason } if !o.sent && reason == "not written yet" => {}
            Action::Failed { .. } => c.failed += 1,
        }
        c.redirects += o.redirects.len() as u64;
    }
    c
}

/// What the write would do at the destination for the prepared `lines` (JSONL), without
/// writing: `{"provider", "created", "updated", "unchanged", "failed", "items": [{"external_id",
/// "destination": {…}}]}`; None without a destination.
///
/// # Errors
/// As [`write`], reading only.
pub(crate) async fn preview(
    table: &dyn Table,
    dests: Option<&dyn Destinations>,
    m: &Migration,
    lines: &str,
) -> Result<Option<Value>, MigrationError> {
    let (Some(dest), Some(provider)) = (open(dests, m).await?, m.destination) else {
        return Ok(None);
    };
    let items = parse_lines(lines.as_bytes())?;
    let mut parents = group(&items);
    let journal: Journal = load_journal(table, &m.id).await?;
    match_existing(table, m, provider, &mut parents, &journal).await?;
    let outcomes = dest
        .dry_run(m.id.as_str(), &parents, &journal)
        .await
        .map_err(vendor)?;
    let outcomes = by_source(outcomes);
    let views = report::item_views(provider, &items, &outcomes);
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for (_, v) in &views {
        if let Some(a) = v["action"].as_str() {
            *counts.entry(a).or_default() += 1;
        }
    }
    let count = |a: &str| counts.get(a).copied().unwrap_or(0);
    Ok(Some(json!({
        "provider": provider.as_str(),
        "created": count("created"),
        "updated": count("updated"),
        "unchanged": count("unchanged"),
        "failed": count("failed"),
        "items": views
            .into_iter()
            .map(|(id, d)| json!({"external_id": id, "destination": d}))
            .collect::<Vec<_>>(),
    })))
}

//! validating: the export goes through the approved mapping into canonical items, every item
//! is validated, the report is written, and the items that may be applied are stored in
//! apply order. Items with errors (and repeats of an id) are held back and named in the
//! report; customers without consent are left out and only counted.

use std::collections::HashSet;

use serde_json::json;
use tillbridge_domain::event::{EventData, MigrationValidated};
use tillbridge_domain::{CatalogItem, Timestamp};
use tillbridge_mapping::llm::mask_text;
use tillbridge_ports::{BlobStore, EventBus, Table};
use tillbridge_validation::{Options, Severity, Validator};

use super::export::{consenting_customers, is_csv, parse_records};
use super::{Status, ValidationSummary, advance, apply, event, load};
use crate::MigrationError;
use crate::publish;

/// Rule families whose errors keep an item out of the catalog.
pub const HOLD_BACK: [&str; 3] = ["price", "duplicate", "schema"];

pub fn items_key(m: &super::Migration) -> String {
    crate::keys::items_blob(&m.tenant_id, &m.id)
}

pub fn customers_key(m: &super::Migration) -> String {
    crate::keys::customers_blob(&m.tenant_id, &m.id)
}

pub fn report_key(m: &super::Migration) -> String {
    crate::keys::validation_report_blob(&m.tenant_id, &m.id)
}

pub async fn prepare(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    id: &str,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let Some((m, _)) = load(table, id).await? else {
        return Err(MigrationError::Permanent(format!(
            "migration {id} not found"
        )));
    };
    if m.status != Status::Validating {
        // Already prepared (a redelivery) or cancelled meanwhile.
        return Ok(());
    }
    let bytes = blobs.get(&m.export_key).await?.ok_or_else(|| {
        MigrationError::Permanent(format!("export {} is gone (expired?)", m.export_key))
    })?;
    let records = parse_records(&bytes, is_csv(&m.export_key))
        .map_err(|e| MigrationError::Permanent(format!("export: {e}")))?;
    drop(bytes);
    let mapping = crate::review::approved_mapping(table, &m.tenant_id, &m.id).await?;
    let (items, problems) = tillbridge_mapping::apply(&records.catalog, &mapping, m.currency);
    let (customers, customer_counts) = consenting_customers(&records.customers);
    // The record trees take ~10× the export's size; only the items are needed from here.
    let record_count = records.catalog.len();
    drop(records);

    let mut validator = Validator::with_capacity(
        Options {
            country: m.country.clone(),
        },
        items.len(),
    );
    for (n, item) in items.iter().enumerate() {
        validator.push_item(n + 1, item);
    }
    let mut report = validator.finish();
    // A parent whose variants carry the prices is not sold itself: no price is expected.
    let parents: HashSet<&str> = items
        .iter()
        .filter_map(|i| i.parent_id.as_deref())
        .collect();
    report
        .findings
        .retain(|f| !(f.rule == "price.missing" && parents.contains(f.item.as_str())));
    report = tillbridge_validation::Report::new(report.summary.items, report.findings);
    for f in &mut report.findings {
        f.message = mask_text(&f.message);
    }
    // Errors that make an item wrong to sell hold it back; the others (a modifier group
    // the export does not define, missing details) are reported and the item applied.
    let errors: HashSet<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && HOLD_BACK.contains(&f.family()))
        .map(|f| f.item.as_str())
        .collect();
    let mut seen = HashSet::new();
    let mut lines = String::new();
    let mut held_back = Vec::new();
    let mut to_apply = 0u64;
    for item in &items {
        if errors.contains(item.external_id.as_str()) || !seen.insert(item.external_id.as_str()) {
            held_back.push(item.external_id.clone());
            continue;
        }
        lines.push_str(&line(item)?);
        lines.push('\n');
        to_apply += 1;
    }
    let mut customer_lines = String::new();
    for c in &customers {
        customer_lines.push_str(
            &serde_json::to_string(c).map_err(|e| MigrationError::Permanent(e.to_string()))?,
        );
        customer_lines.push('\n');
    }

    let report_key = report_key(&m);
    let body = json!({
        "migration_id": m.id,
        "tenant_id": m.tenant_id,
        "source_name": m.source_name,
        "records": record_count,
        "summary": report.summary,
        "to_apply": to_apply,
        "held_back": held_back,
        "conversion_problems": problems.iter().map(|p| mask_text(p)).collect::<Vec<_>>(),
        "customers": customer_counts,
        "findings": report.findings,
    });
    blobs
        .put(
            &report_key,
            &serde_json::to_vec_pretty(&body)
                .map_err(|e| MigrationError::Permanent(e.to_string()))?,
        )
        .await?;
    if to_apply == 0 && customers.is_empty() {
        return Err(MigrationError::Permanent(format!(
            "nothing to apply: {} records gave {} items, {} held back by validation errors \
             (see the report)",
            record_count,
            items.len(),
            held_back.len()
        )));
    }
    blobs.put(&items_key(&m), lines.as_bytes()).await?;
    blobs
        .put(&customers_key(&m), customer_lines.as_bytes())
        .await?;

    let summary = ValidationSummary {
        items: report.summary.items as u64,
        errors: report.summary.errors as u64,
        warnings: report.summary.warnings as u64,
        report_key: report_key.clone(),
        conversion_problems: problems.len() as u64,
    };
    let Some(m) = advance(table, id, Status::Validating, |m| {
        m.progress.records = record_count as u64;
        m.progress.items = to_apply + customers.len() as u64;
        m.progress.skipped = held_back.len() as u64;
        m.validation = Some(summary.clone());
        m.items_key = Some(items_key(m));
        m.customers = Some(customer_counts.clone());
        m.moved(Status::Applying, at, "validate");
    })
    .await?
    else {
        return Ok(());
    };
    tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, items = to_apply, held_back = held_back.len(), errors = summary.errors, "migration validated");
    let validated = event(
        &m,
        "validated",
        EventData::MigrationValidated(MigrationValidated {
            migration_id: m.id.clone(),
            items: summary.items,
            errors: summary.errors,
            warnings: summary.warnings,
            passed: summary.errors == 0,
            report_key,
        }),
        at,
    );
    publish(bus, &[validated, apply::request_event(&m, 0, "start", at)]).await
}

fn line(item: &CatalogItem) -> Result<String, MigrationError> {
    serde_json::to_string(item).map_err(|e| MigrationError::Permanent(e.to_string()))
}

//! validating: the export goes through the approved mapping into canonical items, every item
//! is validated, the report is written, and the items that may be applied are stored in
//! apply order. Items with errors (and repeats of an id) are held back and named in the
//! report; customers without consent are left out and only counted.

use std::collections::HashSet;

use serde_json::json;
use tillbridge_domain::event::{EventData, MigrationValidated};
use tillbridge_domain::{CatalogItem, MigrationId, Timestamp};
use tillbridge_mapping::llm::mask_text;
use tillbridge_ports::{BlobStore, EventBus, Table};
use tillbridge_validation::{Family, Options, Rule, Severity, Validator};

use super::export::{Customer, CustomerCounts, consenting_customers, is_csv, parse_records};
use super::{Migration, Status, ValidationSummary, advance, apply, event, load};
use crate::MigrationError;
use crate::publish;

/// Rule families whose errors keep an item out of the catalog.
pub const HOLD_BACK: [Family; 3] = [Family::Price, Family::Duplicate, Family::Schema];

/// Blob key of the migration's prepared items (JSONL, apply order).
pub fn items_key(m: &super::Migration) -> String {
    crate::keys::items_blob(&m.tenant_id, &m.id)
}

/// Blob key of the migration's prepared consenting customers (JSONL).
pub fn customers_key(m: &super::Migration) -> String {
    crate::keys::customers_blob(&m.tenant_id, &m.id)
}

/// Blob key of the migration's validation report (JSON).
pub fn report_key(m: &super::Migration) -> String {
    crate::keys::validation_report_blob(&m.tenant_id, &m.id)
}

/// Prepares a migration in validating: the export through the approved mapping, every item
/// validated, the report written, the items to apply and the consenting customers stored;
/// then validating → applying, `migration.validated` and the first apply request. A
/// migration no longer validating is left alone (a redelivery).
///
/// # Errors
///
/// [`MigrationError::Permanent`] when the migration or its export is gone, the export does
/// not parse, or nothing is left to apply; a failing table, blob store or bus otherwise.
pub async fn prepare(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    dests: Option<&dyn crate::destination::Destinations>,
    id: &MigrationId,
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
    let mut converted = convert(table, blobs, &m).await?;
    if let Some(original) = &m.retry_of {
        only_held_back(table, blobs, original, &mut converted).await?;
    }
    let report = validate(&m, &converted.items);
    let selected = select(&converted.items, &report)?;
    let customer_lines = customer_lines(&converted.customers)?;

    let report_key = report_key(&m);
    let actions = if m.preview {
        Some(crate::preview::actions(table, &m, &converted.items, &selected.held_back).await?)
    } else {
        None
    };
    let mut items = crate::preview::item_entries(
        &converted.items,
        &report,
        &selected.held_back,
        actions.as_ref(),
    );
    if m.preview {
        // What the destination would do: a dry run, nothing written there.
        items.destination = crate::destination::preview(table, dests, &m, &selected.lines).await?;
    }
    write_report(
        blobs,
        &m,
        &report_key,
        &converted,
        &report,
        &selected,
        &items,
    )
    .await?;
    if selected.to_apply == 0 && converted.customers.is_empty() {
        return Err(MigrationError::Permanent(format!(
            "nothing to apply: {} records gave {} items, {} held back by validation errors \
             (see the report)",
            converted.record_count,
            converted.items.len(),
            selected.held_back.len()
        )));
    }
    blobs.put(&items_key(&m), selected.lines.as_bytes()).await?;
    blobs
        .put(&customers_key(&m), customer_lines.as_bytes())
        .await?;

    let summary = ValidationSummary {
        items: report.summary.items as u64,
        errors: report.summary.errors as u64,
        warnings: report.summary.warnings as u64,
        report_key,
        conversion_problems: converted.problems.len() as u64,
    };
    finish(table, bus, id, at, &converted, &selected, summary).await
}

/// The export converted through the approved mapping.
struct Converted {
    /// Source catalog records in the export.
    record_count: usize,
    items: Vec<CatalogItem>,
    /// Values that did not convert (record number and field).
    problems: Vec<String>,
    /// Decisions taken from the data with their evidence (decimal marks, grouped rows).
    notes: Vec<String>,
    customers: Vec<Customer>,
    customer_counts: CustomerCounts,
}

/// Reads the export and converts it with the approved mapping.
async fn convert(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
) -> Result<Converted, MigrationError> {
    let bytes = blobs.get(&m.export_key).await?.ok_or_else(|| {
        MigrationError::Permanent(format!("export {} is gone (expired?)", m.export_key))
    })?;
    let records = parse_records(&bytes, is_csv(&m.export_key))
        .map_err(|e| MigrationError::Permanent(format!("export: {e}")))?;
    drop(bytes);
    let mapping = crate::review::approved_mapping(table, &m.tenant_id, m.id.as_str()).await?;
    let cx = tillbridge_mapping::ApplyContext {
        currency: m.currency,
        country: m
            .country
            .as_deref()
            .and_then(|c| tillbridge_domain::Country::parse(c).ok()),
    };
    let applied = tillbridge_mapping::apply_with(&records.catalog, &mapping, &cx);
    let (items, problems, notes) = (applied.items, applied.problems, applied.notes);
    let (customers, customer_counts) = consenting_customers(&records.customers);
    // The record trees take ~10× the export's size; only the items are needed from here.
    let record_count = records.catalog.len();
    drop(records);
    Ok(Converted {
        record_count,
        items,
        problems,
        notes,
        customers,
        customer_counts,
    })
}

/// Validates every item; messages are masked.
fn validate(m: &Migration, items: &[CatalogItem]) -> tillbridge_validation::Report {
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
        .retain(|f| !(f.rule == Rule::PriceMissing && parents.contains(f.item.as_str())));
    report = tillbridge_validation::Report::new(report.summary.items, report.findings);
    for f in &mut report.findings {
        f.message = mask_text(&f.message);
    }
    report
}

/// The items to apply and those held back.
struct Selected {
    /// The items to apply, one JSON line each, in apply order.
    lines: String,
    /// External ids held back (validation errors, repeats).
    held_back: Vec<String>,
    to_apply: u64,
}

/// Holds back the items with errors that make them wrong to sell, and repeats of an id.
fn select(
    items: &[CatalogItem],
    report: &tillbridge_validation::Report,
) -> Result<Selected, MigrationError> {
    // Errors that make an item wrong to sell hold it back; the others (a modifier group
    // the export does not define, missing details) are reported and the item applied.
    let errors: HashSet<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && HOLD_BACK.contains(&f.family()))
        .map(|f| f.item.as_str())
        .collect();
    let mut seen = HashSet::new();
    let mut selected = Selected {
        lines: String::new(),
        held_back: Vec::new(),
        to_apply: 0,
    };
    for item in items {
        if errors.contains(item.external_id.as_str()) || !seen.insert(item.external_id.as_str()) {
            selected.held_back.push(item.external_id.clone());
            continue;
        }
        selected.lines.push_str(&line(item)?);
        selected.lines.push('\n');
        selected.to_apply += 1;
    }
    Ok(selected)
}

/// The consenting customers, one JSON line each.
fn customer_lines(customers: &[Customer]) -> Result<String, MigrationError> {
    let mut out = String::new();
    for c in customers {
        out.push_str(
            &serde_json::to_string(c).map_err(|e| MigrationError::Permanent(e.to_string()))?,
        );
        out.push('\n');
    }
    Ok(out)
}

/// Writes the validation report (JSON) to `report_key`.
async fn write_report(
    blobs: &dyn BlobStore,
    m: &Migration,
    report_key: &str,
    converted: &Converted,
    report: &tillbridge_validation::Report,
    selected: &Selected,
    items: &crate::preview::Entries,
) -> Result<(), MigrationError> {
    let body = json!({
        "migration_id": m.id,
        "tenant_id": m.tenant_id,
        "source_name": m.source_name,
        "records": converted.record_count,
        "summary": report.summary,
        "to_apply": selected.to_apply,
        "held_back": selected.held_back,
        "held_back_items": items.held_back,
        "preview": items.preview,
        "items": items.items,
        "conversion_problems": converted.problems.iter().map(|p| mask_text(p)).collect::<Vec<_>>(),
        "conversion_notes": converted.notes.iter().map(|p| mask_text(p)).collect::<Vec<_>>(),
        "customers": converted.customer_counts,
        "findings": report.findings,
    });
    let mut body = body;
    if let Some(d) = &items.destination {
        body["destination_preview"] = d.clone();
    }
    blobs
        .put(
            report_key,
            &serde_json::to_vec_pretty(&body)
                .map_err(|e| MigrationError::Permanent(e.to_string()))?,
        )
        .await?;
    Ok(())
}

/// validating → applying with the counts, then `migration.validated` and the first apply
/// request (nothing when a redelivery or an operator moved the migration meanwhile).
async fn finish(
    table: &dyn Table,
    bus: &dyn EventBus,
    id: &MigrationId,
    at: Timestamp,
    converted: &Converted,
    selected: &Selected,
    summary: ValidationSummary,
) -> Result<(), MigrationError> {
    let Some(m) = advance(table, id, Status::Validating, |m| {
        m.progress.records = converted.record_count as u64;
        m.progress.items = selected.to_apply + converted.customers.len() as u64;
        m.progress.skipped = selected.held_back.len() as u64;
        m.validation = Some(summary.clone());
        m.items_key = Some(items_key(m));
        m.customers = Some(converted.customer_counts.clone());
        // A preview stops here until a second approval.
        let next = if m.preview {
            Status::Previewed
        } else {
            Status::Applying
        };
        m.moved(next, at, "validate");
    })
    .await?
    else {
        return Ok(());
    };
    tracing::info!(migration = %m.id, tenant = %m.tenant_id, correlation_id = %m.correlation_id, items = selected.to_apply, held_back = selected.held_back.len(), errors = summary.errors, "migration validated");
    let validated = event(
        &m,
        "validated",
        EventData::MigrationValidated(MigrationValidated {
            migration_id: m.id.to_string(),
            items: summary.items,
            errors: summary.errors,
            warnings: summary.warnings,
            passed: summary.errors == 0,
            report_key: summary.report_key,
        }),
        at,
    );
    if m.status == Status::Previewed {
        return publish(bus, &[validated]).await;
    }
    publish(bus, &[validated, apply::request_event(&m, 0, "start", at)]).await
}

fn line(item: &CatalogItem) -> Result<String, MigrationError> {
    serde_json::to_string(item).map_err(|e| MigrationError::Permanent(e.to_string()))
}

/// Keeps only the items `original` held back (and the parents they name); customers were
/// migrated then and are not taken again.
async fn only_held_back(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    original: &MigrationId,
    converted: &mut Converted,
) -> Result<(), MigrationError> {
    let Some((o, _)) = load(table, original).await? else {
        return Err(MigrationError::Permanent(format!(
            "retry_of: migration {original} is gone"
        )));
    };
    let report = blobs.get(&report_key(&o)).await?.ok_or_else(|| {
        MigrationError::Permanent(format!("retry_of: the report of {original} is gone"))
    })?;
    let report: serde_json::Value = serde_json::from_slice(&report)
        .map_err(|e| MigrationError::Permanent(format!("retry_of: report: {e}")))?;
    let held: HashSet<String> = report["held_back"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let parents: HashSet<String> = converted
        .items
        .iter()
        .filter(|i| held.contains(&i.external_id))
        .filter_map(|i| i.parent_id.clone())
        .collect();
    converted
        .items
        .retain(|i| held.contains(&i.external_id) || parents.contains(&i.external_id));
    converted.customers.clear();
    Ok(())
}

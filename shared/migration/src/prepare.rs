//! validating: the export goes through the approved mapping into canonical items, every item
//! is validated, the report is written, and the items that may be applied are stored in
//! apply order. Items with errors (and repeats of an id) are held back and named in the
//! report; customers without consent are left out and only counted.

use std::collections::HashSet;

use tillbridge_domain::event::{EventData, MigrationValidated};
use tillbridge_domain::{CatalogItem, MigrationId, Timestamp};
use tillbridge_mapping::llm::mask_text;
use tillbridge_ports::{BlobStore, EventBus, Table};
use tillbridge_validation::{Family, Options, Rule, Severity, Validator};

use super::export::{
    Customer, CustomerCounts, Streamed, consenting_customers, is_csv, parse_records, stream_json,
};
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
    let report = validate(&m, &converted.items)?;
    let selected = select(&converted.items, &report)?;
    let customer_lines = customer_lines(&converted.customers)?;

    let report_key = report_key(&m);
    let actions = if m.preview {
        // A preview reads every item against the catalog: parsed all at once.
        let all: Vec<CatalogItem> = converted.items.items().collect::<Result<_, _>>()?;
        Some(crate::preview::actions(table, &m, &all, &selected.held_back).await?)
    } else {
        None
    };
    let mut items = if actions.is_some() {
        crate::preview::item_entries(
            converted.items.items(),
            &report,
            &selected.held_back,
            actions.as_ref(),
        )?
    } else {
        // Without a preview only items with findings or held back have entries: the
        // others are not parsed again.
        let named: HashSet<&str> = report
            .findings
            .iter()
            .map(|f| f.item.as_str())
            .chain(selected.held_back.iter().map(String::as_str))
            .collect();
        crate::preview::item_entries(
            converted.items.items_where(|id| named.contains(id)),
            &report,
            &selected.held_back,
            None,
        )?
    };
    let lines = selected.lines(&converted.items)?;
    if m.preview {
        // What the destination would do: a dry run, nothing written there.
        items.destination = crate::destination::preview(table, dests, &m, &lines).await?;
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
    blobs.put(&items_key(&m), lines.as_bytes()).await?;
    drop(lines);
    converted.items = ItemLines::default();
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
    items: ItemLines,
    /// Values that did not convert (record number and field).
    problems: Vec<String>,
    /// Decisions taken from the data with their evidence (decimal marks, grouped rows).
    notes: Vec<String>,
    customers: Vec<Customer>,
    customer_counts: CustomerCounts,
}

/// The converted items as their JSON lines, in order: a parsed item takes ~1 KB, its line
/// ~250 B, so validation, selection and the report read them back one at a time.
#[derive(Default)]
struct ItemLines {
    text: Vec<u8>,
    /// Where each line ends in `text` (each is followed by a newline).
    ends: Vec<usize>,
    /// Each item's external id (what selection reads, without parsing the line again).
    ids: Vec<Box<str>>,
}

impl ItemLines {
    fn push(&mut self, item: &CatalogItem) -> Result<(), MigrationError> {
        serde_json::to_writer(&mut self.text, item)
            .map_err(|e| MigrationError::Permanent(e.to_string()))?;
        self.ends.push(self.text.len());
        self.text.push(b'\n');
        self.ids.push(item.external_id.as_str().into());
        Ok(())
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Each line, without its newline.
    fn lines(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|e| e + 1));
        starts.zip(&self.ends).map(|(s, e)| &self.text[s..*e])
    }

    /// Each item, parsed again.
    fn items(&self) -> impl Iterator<Item = Result<CatalogItem, MigrationError>> + '_ {
        self.lines().map(|l| {
            serde_json::from_slice(l)
                .map_err(|e| MigrationError::Permanent(format!("converted item: {e}")))
        })
    }

    /// The items whose external id `wanted` takes, parsed again, in order.
    fn items_where<'a>(
        &'a self,
        wanted: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = Result<CatalogItem, MigrationError>> + 'a {
        self.ids
            .iter()
            .zip(self.lines())
            .filter(move |(id, _)| wanted(id))
            .map(|(_, l)| {
                serde_json::from_slice(l)
                    .map_err(|e| MigrationError::Permanent(format!("converted item: {e}")))
            })
    }

    /// Keeps the items `keep` says to, in order.
    fn retain(&mut self, mut keep: impl FnMut(&CatalogItem) -> bool) -> Result<(), MigrationError> {
        let mut kept = ItemLines::default();
        for item in self.items() {
            let item = item?;
            if keep(&item) {
                kept.push(&item)?;
            }
        }
        *self = kept;
        Ok(())
    }
}

/// Reads the export and converts it with the approved mapping: a JSON export whose records
/// are not all flat is read a record at a time ([`convert_streaming`]); CSV and flat JSON
/// (rows that may be one product over several rows, which only the whole set shows) are
/// parsed whole.
async fn convert(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    m: &Migration,
) -> Result<Converted, MigrationError> {
    let bytes = blobs.get(&m.export_key).await?.ok_or_else(|| {
        MigrationError::Permanent(format!("export {} is gone (expired?)", m.export_key))
    })?;
    let mapping = crate::review::approved_mapping(table, &m.tenant_id, m.id.as_str()).await?;
    let cx = tillbridge_mapping::ApplyContext {
        currency: m.currency,
        country: m
            .country
            .as_deref()
            .and_then(|c| tillbridge_domain::Country::parse(c).ok()),
    };
    let csv = is_csv(&m.export_key);
    if !csv && let Some(converted) = convert_streaming(&bytes, &mapping, &cx)? {
        return Ok(converted);
    }
    let records = parse_records(&bytes, csv)
        .map_err(|e| MigrationError::Permanent(format!("export: {e}")))?;
    drop(bytes);
    let (customers, customer_counts) = consenting_customers(&records.customers);
    let record_count = records.catalog.len();
    // The record trees take ~10× the export's size: handed over (grouped in place), and
    // gone once the items are made.
    let applied = tillbridge_mapping::apply_owned(records.catalog, &mapping, &cx);
    let mut items = ItemLines::default();
    for item in &applied.items {
        items.push(item)?;
    }
    Ok(Converted {
        record_count,
        items,
        problems: applied.problems,
        notes: applied.notes,
        customers,
        customer_counts,
    })
}

/// A JSON export converted a record at a time ([`tillbridge_mapping::Streamed`]): one pass
/// for the money columns' evidence, one for the items, each record dropped as soon as it is
/// read. None when the export needs the whole-file path: every record flat, or a shape
/// [`stream_json`] leaves to [`parse_records`].
fn convert_streaming(
    bytes: &[u8],
    mapping: &[tillbridge_mapping::MappedField],
    cx: &tillbridge_mapping::ApplyContext,
) -> Result<Option<Converted>, MigrationError> {
    let export = |e: String| MigrationError::Permanent(format!("export: {e}"));
    let mut streamed = tillbridge_mapping::Streamed::new(mapping, cx);
    let Streamed::Read { records, customers } =
        stream_json(bytes, &mut |r| streamed.observe(&r)).map_err(export)?
    else {
        return Ok(None);
    };
    if streamed.all_flat() {
        return Ok(None);
    }
    let mut out = tillbridge_mapping::Applied::default();
    streamed.start(&mut out);
    let mut items = ItemLines::default();
    let mut failed = None;
    let mut n = 0;
    stream_json(bytes, &mut |r| {
        streamed.map(n, &r, &mut out);
        n += 1;
        for item in out.items.drain(..) {
            if let Err(e) = items.push(&item) {
                failed.get_or_insert(e);
            }
        }
    })
    .map_err(export)?;
    if let Some(e) = failed {
        return Err(e);
    }
    let (customers, customer_counts) = consenting_customers(&customers);
    Ok(Some(Converted {
        record_count: records,
        items,
        problems: out.problems,
        notes: out.notes,
        customers,
        customer_counts,
    }))
}

/// Validates every item; messages are masked.
fn validate(
    m: &Migration,
    items: &ItemLines,
) -> Result<tillbridge_validation::Report, MigrationError> {
    let mut validator = Validator::with_capacity(
        Options {
            country: m.country.clone(),
        },
        items.len(),
    );
    let mut parents: HashSet<String> = HashSet::new();
    for (n, item) in items.items().enumerate() {
        let mut item = item?;
        validator.push_item(n + 1, &item);
        if let Some(p) = item.parent_id.take() {
            parents.insert(p);
        }
    }
    let mut report = validator.finish();
    // A parent whose variants carry the prices is not sold itself: no price is expected.
    report
        .findings
        .retain(|f| !(f.rule == Rule::PriceMissing && parents.contains(f.item.as_str())));
    report = tillbridge_validation::Report::new(report.summary.items, report.findings);
    for f in &mut report.findings {
        f.message = mask_text(&f.message);
    }
    Ok(report)
}

/// The items to apply and those held back.
struct Selected {
    /// Positions of the items held back, ascending.
    dropped: Vec<usize>,
    /// External ids held back (validation errors, repeats).
    held_back: Vec<String>,
    to_apply: u64,
}

impl Selected {
    /// The items to apply, one JSON line each, in apply order: the converted lines as they
    /// are when none is held back (the usual case: no copy of them).
    fn lines<'a>(&self, items: &'a ItemLines) -> Result<std::borrow::Cow<'a, str>, MigrationError> {
        let utf8 = |b| std::str::from_utf8(b).map_err(|e| MigrationError::Permanent(e.to_string()));
        if self.dropped.is_empty() {
            return Ok(std::borrow::Cow::Borrowed(utf8(&items.text)?));
        }
        let mut out = String::new();
        let mut dropped = self.dropped.iter().peekable();
        for (n, line) in items.lines().enumerate() {
            if dropped.next_if_eq(&&n).is_some() {
                continue;
            }
            out.push_str(utf8(line)?);
            out.push('\n');
        }
        Ok(std::borrow::Cow::Owned(out))
    }
}

/// Holds back the items with errors that make them wrong to sell, and repeats of an id.
fn select(
    items: &ItemLines,
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
        dropped: Vec::new(),
        held_back: Vec::new(),
        to_apply: 0,
    };
    for (n, id) in items.ids.iter().enumerate() {
        let id: &str = id;
        if errors.contains(id) || !seen.insert(id) {
            selected.dropped.push(n);
            selected.held_back.push(id.to_owned());
            continue;
        }
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

/// The validation report as stored: written straight from the parts (no JSON tree of it:
/// with a finding on every other item of a 100,000-item export that tree took ~60 MB).
/// Fields in name order, as the JSON object it replaced wrote them.
#[derive(serde::Serialize)]
struct ReportBody<'a> {
    conversion_notes: Vec<String>,
    conversion_problems: Vec<String>,
    customers: &'a CustomerCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_preview: Option<&'a serde_json::Value>,
    findings: &'a [tillbridge_validation::Finding],
    held_back: &'a [String],
    held_back_items: &'a [crate::preview::ItemEntry],
    items: &'a [crate::preview::ItemEntry],
    migration_id: &'a MigrationId,
    preview: &'a Option<crate::preview::PreviewCounts>,
    records: usize,
    source_name: &'a str,
    summary: &'a tillbridge_validation::Summary,
    tenant_id: &'a tillbridge_domain::TenantId,
    to_apply: u64,
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
    let body = ReportBody {
        conversion_notes: converted.notes.iter().map(|p| mask_text(p)).collect(),
        conversion_problems: converted.problems.iter().map(|p| mask_text(p)).collect(),
        customers: &converted.customer_counts,
        destination_preview: items.destination.as_ref(),
        findings: &report.findings,
        held_back: &selected.held_back,
        held_back_items: &items.held_back,
        items: &items.items,
        migration_id: &m.id,
        preview: &items.preview,
        records: converted.record_count,
        source_name: &m.source_name,
        summary: &report.summary,
        tenant_id: &m.tenant_id,
        to_apply: selected.to_apply,
    };
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
    let mut parents: HashSet<String> = HashSet::new();
    for item in converted.items.items() {
        let item = item?;
        if held.contains(&item.external_id)
            && let Some(p) = item.parent_id
        {
            parents.insert(p);
        }
    }
    converted
        .items
        .retain(|i| held.contains(&i.external_id) || parents.contains(&i.external_id))?;
    converted.customers.clear();
    Ok(())
}

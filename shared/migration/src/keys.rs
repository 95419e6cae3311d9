//! The migration context's storage layout; no other module builds these keys.
//!
//! Table (partition → sort key):
//! - `migration#<id>` → `state`: the lifecycle record; `journal#<kind>#<id>`: what the apply
//!   changed (kind `item` or `customer`), for the undo; `conflict#<kind>#<id>`: records the
//!   rollback left alone because they changed after the apply; `dest#<source id>`: the
//!   destination journal (one [`tillbridge_connectors::Outcome`] per source product, prior
//!   state included); `dest_undo`: what a rollback did at the destination; `cutover#<source
//!   product id>`: what the cutover last flowed of one product (a [`crate::destination::FlowLine`]).
//! - `migration#<tenant>` → `<migration id>#validation`: a batch validation's summary.
//! - `migrations#<tenant>` → `<id>`: index of a tenant's migrations.
//! - `idmap#<tenant>#<source>` → `<source id>`: source id → catalog id.
//! - `destmap#<tenant>#<provider>` → `<source>#<source product id>`: the destination's
//!   object id of a source product (any migration's), so a re-run updates instead of creating.
//! - `customers#<tenant>` → `customer#<id>`: consenting customers migrated.
//! - `mapping#<tenant>#<migration>` → `field#<source path>`: suggestions and decisions;
//!   `audit#<tenant>#<migration>` → entries of the review's audit trail.
//!
//! Blobs: `exports/<tenant>/…` (uploaded exports), `migrations/<tenant>/<id>/items.jsonl` and
//! `customers.jsonl` (prepared), `reports/<tenant>/<id>/validation.json` and `rollback.json`,
//! `snapshots/<tenant>/<id>/catalog.jsonl.gz` and `manifest.json`.

use tillbridge_domain::{MigrationId, TenantId};

/// Partition of one migration's record, journal and conflicts.
pub fn state_pk(id: &MigrationId) -> String {
    format!("migration#{id}")
}

/// Sort key of the lifecycle record.
pub const STATE_SK: &str = "state";

/// Sort-key prefix of the journal.
pub const JOURNAL_PREFIX: &str = "journal#";

/// Sort key of the journal entry for one changed record (`kind`: `item`, `customer`).
pub fn journal_sk(kind: &str, id: &str) -> String {
    format!("{JOURNAL_PREFIX}{kind}#{id}")
}

/// Sort key marking a rollback conflict for a journal entry.
pub fn conflict_sk(journal_sk: &str) -> String {
    format!(
        "conflict#{}",
        journal_sk
            .strip_prefix(JOURNAL_PREFIX)
            .unwrap_or(journal_sk)
    )
}

/// Partition and sort key of a batch validation's summary.
pub fn validation_summary(tenant: &TenantId, migration: &str) -> (String, String) {
    (
        format!("migration#{tenant}"),
        format!("{migration}#validation"),
    )
}

/// Partition of a tenant's migration index (sort key: the migration id).
pub fn index_pk(tenant: &TenantId) -> String {
    format!("migrations#{tenant}")
}

/// Partition of the source → catalog id map of one source system.
pub fn idmap_pk(tenant: &TenantId, source: &str) -> String {
    format!("idmap#{tenant}#{source}")
}

/// Partition and sort key of one migrated customer.
pub fn customer(tenant: &TenantId, id: &str) -> (String, String) {
    (format!("customers#{tenant}"), format!("customer#{id}"))
}

/// Partition of a migration's mapping suggestions and decisions.
pub fn mapping_pk(tenant: &TenantId, migration: &str) -> String {
    format!("mapping#{tenant}#{migration}")
}

/// Sort key of one source field's decision.
pub fn field_sk(source: &str) -> String {
    format!("field#{source}")
}

/// Partition of a migration's review audit trail.
pub fn audit_pk(tenant: &TenantId, migration: &str) -> String {
    format!("audit#{tenant}#{migration}")
}

/// Prefix every uploaded export's blob key has.
pub fn exports_prefix(tenant: &TenantId) -> String {
    format!("exports/{tenant}/")
}

/// The prepared canonical items (JSONL).
pub fn items_blob(tenant: &TenantId, id: &MigrationId) -> String {
    format!("migrations/{tenant}/{id}/items.jsonl")
}

/// The prepared consenting customers (JSONL).
pub fn customers_blob(tenant: &TenantId, id: &MigrationId) -> String {
    format!("migrations/{tenant}/{id}/customers.jsonl")
}

/// The validation report.
pub fn validation_report_blob(tenant: &TenantId, id: &MigrationId) -> String {
    format!("reports/{tenant}/{id}/validation.json")
}

/// The rollback report.
pub fn rollback_report_blob(tenant: &TenantId, id: &MigrationId) -> String {
    format!("reports/{tenant}/{id}/rollback.json")
}

/// The snapshot (gzip JSONL) and its manifest.
pub fn snapshot_blobs(tenant: &TenantId, id: &MigrationId) -> (String, String) {
    let base = format!("snapshots/{tenant}/{id}");
    (
        format!("{base}/catalog.jsonl.gz"),
        format!("{base}/manifest.json"),
    )
}

/// Sort-key prefix of the destination journal.
pub const DEST_PREFIX: &str = "dest#";

/// Sort-key prefix of the categories the migration created at the destination.
pub const DEST_CATEGORY_PREFIX: &str = "destcat#";

/// Sort key of a category the migration created at the destination, by name.
pub fn dest_category_sk(name: &str) -> String {
    format!("{DEST_CATEGORY_PREFIX}{name}")
}

/// Sort-key prefix of the cutover's flow lines.
pub const CUTOVER_PREFIX: &str = "cutover#";

/// Sort key of what the cutover last flowed of one source product.
pub fn cutover_sk(product_id: &str) -> String {
    format!("{CUTOVER_PREFIX}{product_id}")
}

/// Sort key of the destination journal entry of one source product.
pub fn dest_sk(source_id: &str) -> String {
    format!("{DEST_PREFIX}{source_id}")
}

/// Sort key of what a rollback did at the destination.
pub const DEST_UNDO_SK: &str = "dest_undo";

/// Partition and sort key of the destination's object id of a source product.
pub fn destmap(
    tenant: &TenantId,
    provider: &str,
    source: &str,
    source_id: &str,
) -> (String, String) {
    (
        format!("destmap#{tenant}#{provider}"),
        format!("{source}#{source_id}"),
    )
}

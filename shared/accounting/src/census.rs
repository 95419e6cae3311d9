//! The storage census: what each tenant keeps stored now (DynamoDB items, S3 objects,
//! Secrets Manager secrets), filed as byte-hours (and secret-hours) since the tenant's last
//! census, so a daily run adds up to GB-months: byte-hours / (2^30 × 730).
//!
//! What is counted (the storage layouts of the contexts; see their `keys` modules):
//! - Blobs under `<prefix>/<tenant>/` for every prefix of [`BLOB_PREFIXES`] (raw webhook
//!   bodies, quarantined ones, fetched pages, uploaded exports, prepared migrations, reports,
//!   snapshots, privacy exports), with the sizes the blob store lists (current objects).
//! - Items of the partitions `<kind>#<tenant>` for every kind of [`TABLE_PARTITIONS`];
//!   per provider `idmap#<tenant>#<provider>` and `destmap#<tenant>#<provider>`; per
//!   migration in the tenant's index (`migrations#<tenant>`) `migration#<id>` (state and
//!   journal), `mapping#<tenant>#<id>` and `audit#<tenant>#<id>`; and the month's ledger,
//!   aggregates, budget and infrastructure partitions. Each item is sized by the rule the
//!   metering decorator bills writes by ([`tillbridge_ports::meter::item_bytes`]).
//! - Secrets: per provider, a webhook secret and an API credentials secret when configured.
//!
//! Not counted: partitions keyed by a per-event id (`outcome#…`, `trail#…`, `changes#…`;
//! short-lived, TTL'd), the delivery log's hourly partitions (`deliveries#…`, 7 days, the
//! receipts the trail kept before) and noncurrent S3 versions.

use tillbridge_costs::infra::{InfraUsage, byte_hours};
use tillbridge_domain::{Provider, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, query_all};
use tillbridge_ports::tenants::SecretStore;
use tillbridge_ports::{BlobStore, meter::item_bytes};

use crate::{AccountingError, attr, period_of};

/// Blob key prefixes whose second segment is the tenant.
pub const BLOB_PREFIXES: [&str; 8] = [
    "raw",
    "quarantine",
    "sync",
    "exports",
    "migrations",
    "reports",
    "snapshots",
    "privacy",
];

/// Table partition kinds keyed `<kind>#<tenant>`.
pub const TABLE_PARTITIONS: [&str; 15] = [
    "catalog",
    "orders",
    "fetch",
    "rejected",
    "stats",
    "xref",
    "watch",
    "idem",
    "quarantine",
    "handshake",
    "migration",
    "migrations",
    "customers",
    "privacy",
    "sync",
];

/// The interval charged by a tenant's first census: the schedule's (daily).
pub const FIRST_INTERVAL_SECS: u64 = 86_400;

/// What one tenant stores now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    /// Items in the tenant's partitions.
    pub table_items: u64,
    /// Their size by the metering rule, bytes.
    pub table_bytes: u64,
    /// Objects under the tenant's prefixes.
    pub blobs: u64,
    /// Their size, bytes.
    pub blob_bytes: u64,
    /// Secrets configured for the tenant.
    pub secrets: u64,
}

/// One tenant's census: what it stores, and what was filed for the time since the last one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CensusLine {
    /// The tenant.
    pub tenant_id: String,
    /// What it stores now.
    pub stored: Stored,
    /// Seconds charged (since the last census; [`FIRST_INTERVAL_SECS`] for the first).
    pub interval_secs: u64,
    /// DynamoDB byte-hours filed.
    pub dynamodb_byte_hours: u64,
    /// S3 byte-hours filed.
    pub s3_byte_hours: u64,
    /// Secret-hours filed.
    pub secret_hours: u64,
}

/// Counts what `tenant` stores now (see the module documentation for what is counted).
///
/// # Errors
/// The table, blob store or secret store failed.
pub async fn measure(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    secrets: &dyn SecretStore,
    tenant: &TenantId,
    at: Timestamp,
) -> Result<Stored, AccountingError> {
    let mut stored = Stored::default();
    let mut partitions: Vec<String> = TABLE_PARTITIONS
        .iter()
        .map(|k| format!("{k}#{tenant}"))
        .collect();
    for p in Provider::BUILT_IN {
        partitions.push(format!("idmap#{tenant}#{p}"));
        partitions.push(format!("destmap#{tenant}#{p}"));
    }
    for m in query_all(table, &format!("migrations#{tenant}"), "").await? {
        partitions.push(format!("migration#{}", m.sk));
        partitions.push(format!("mapping#{tenant}#{}", m.sk));
        partitions.push(format!("audit#{tenant}#{}", m.sk));
    }
    let period = period_of(at);
    for kind in ["ledger", "costagg", "budget", "infra"] {
        let pk = format!("{kind}#{tenant}#{period}");
        partitions.extend(tillbridge_ports::table::all_shards(&pk));
        partitions.push(pk);
    }
    partitions.sort();
    partitions.dedup();
    for pk in partitions {
        for item in query_all(table, &pk, "").await? {
            stored.table_items += 1;
            stored.table_bytes = stored.table_bytes.saturating_add(item_bytes(&item) as u64);
        }
    }
    for prefix in BLOB_PREFIXES {
        for (_, size) in blobs.list_sized(&format!("{prefix}/{tenant}/")).await? {
            stored.blobs += 1;
            stored.blob_bytes = stored.blob_bytes.saturating_add(size);
        }
    }
    for p in Provider::BUILT_IN {
        stored.secrets += u64::from(secrets.webhook_secrets(tenant, p).await?.is_some());
        stored.secrets += u64::from(secrets.api_credentials(tenant, p).await?.is_some());
    }
    Ok(stored)
}

fn census_key(tenant: &TenantId) -> (String, String) {
    (format!("census#{tenant}"), "last".to_owned())
}

/// Measures `tenant` and files the byte-hours and secret-hours since its last census
/// (`infra#<tenant>#<month of at>` / `storage-census`), then remembers this census. The
/// mark is written first, conditionally on the one read, so two overlapping runs file an
/// interval once; a failure after it loses the interval rather than counting it twice.
///
/// # Errors
/// A store failed, or another census of the tenant ran at the same time.
pub async fn census(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    secrets: &dyn SecretStore,
    tenant: &TenantId,
    at: Timestamp,
) -> Result<CensusLine, AccountingError> {
    let stored = measure(table, blobs, secrets, tenant, at).await?;
    let (pk, sk) = census_key(tenant);
    let last = table.get(&pk, &sk).await?;
    let now_secs = u64::try_from(at.unix_nanos() / 1_000_000_000).unwrap_or(0);
    let interval_secs = match &last {
        Some(item) => now_secs.saturating_sub(attr(item, "at")),
        None => FIRST_INTERVAL_SECS,
    };
    let mut attrs = serde_json::Map::new();
    let i = |v: u64| serde_json::Value::from(i64::try_from(v).unwrap_or(i64::MAX));
    attrs.insert("at".into(), i(now_secs));
    attrs.insert("table_bytes".into(), i(stored.table_bytes));
    attrs.insert("blob_bytes".into(), i(stored.blob_bytes));
    attrs.insert("secrets".into(), i(stored.secrets));
    let condition = match &last {
        Some(item) => Condition::IfVersion(item.version),
        None => Condition::IfAbsent,
    };
    table
        .put(Item::new(pk, sk, attrs), condition)
        .await
        .map_err(|e| match e {
            tillbridge_ports::PortError::ConditionFailed => AccountingError::Retryable(format!(
                "another storage census of {tenant} ran at the same time"
            )),
            e => e.into(),
        })?;
    let line = CensusLine {
        tenant_id: tenant.to_string(),
        stored,
        interval_secs,
        dynamodb_byte_hours: byte_hours(stored.table_bytes, interval_secs),
        s3_byte_hours: byte_hours(stored.blob_bytes, interval_secs),
        secret_hours: stored.secrets.saturating_mul(interval_secs) / 3600,
    };
    let usage = InfraUsage {
        dynamodb_byte_hours: line.dynamodb_byte_hours,
        s3_byte_hours: line.s3_byte_hours,
        secret_hours: line.secret_hours,
        ..InfraUsage::default()
    };
    crate::record_infra(table, tenant, at, "storage-census", &usage).await?;
    Ok(line)
}

/// [`census`] of every tenant; a tenant whose census fails is reported and skipped.
pub async fn census_all(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    secrets: &dyn SecretStore,
    tenants: &[TenantId],
    at: Timestamp,
) -> Vec<Result<CensusLine, (TenantId, AccountingError)>> {
    let mut out = Vec::new();
    for t in tenants {
        out.push(
            census(table, blobs, secrets, t, at)
                .await
                .map_err(|e| (t.clone(), e)),
        );
    }
    out
}

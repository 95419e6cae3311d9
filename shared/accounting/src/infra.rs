//! Infrastructure metering: what each function spent handling a tenant's records.

use tillbridge_costs::infra::InfraUsage;
use tillbridge_domain::{TenantId, Timestamp};
use tillbridge_ports::table::{Table, query_all};

use crate::{AccountingError, attr, keys, period_of};

/// Adds what a function spent handling one record for `tenant` (`infra#<tenant>#<month>` /
/// `<function>`), written to the unmetered table so the meter does not count itself.
pub async fn record_infra(
    table: &dyn Table,
    tenant: &TenantId,
    at: Timestamp,
    function: &str,
    usage: &InfraUsage,
) -> Result<(), AccountingError> {
    let deltas: Vec<(&str, i64)> = usage
        .counters()
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| (*k, i64::try_from(*v).unwrap_or(i64::MAX)))
        .collect();
    if deltas.is_empty() {
        return Ok(());
    }
    // Sharded (by function and time: metering has no delivery id) so one busy tenant's
    // month does not concentrate every record's write on one partition.
    let shard_key = format!("{function}{}", at.unix_nanos());
    tillbridge_ports::table::add_sharded(
        table,
        &keys::infra_pk(tenant, &period_of(at)),
        function,
        &shard_key,
        &deltas,
    )
    .await?;
    Ok(())
}

/// A tenant's infrastructure usage in a month, all functions summed.
pub async fn infra_usage(
    table: &dyn Table,
    tenant: &TenantId,
    period: &str,
) -> Result<InfraUsage, AccountingError> {
    let mut total = InfraUsage::default();
    let mut items = Vec::new();
    for pk in tillbridge_ports::table::all_shards(&keys::infra_pk(tenant, period)) {
        items.extend(query_all(table, &pk, "").await?);
    }
    for item in items {
        total.add(&InfraUsage::from_counters(|name| attr(&item, name)));
    }
    Ok(total)
}

/// Turns a meter reading and a measured duration into the usage of one handled record.
pub fn infra_for_record(
    units: tillbridge_ports::meter::InfraUnits,
    elapsed: std::time::Duration,
    memory_mb: u64,
    http: bool,
) -> InfraUsage {
    // Lambda bills duration in 1 ms steps.
    let ms = u64::try_from(elapsed.as_micros().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1);
    InfraUsage {
        lambda_requests: 1,
        lambda_mb_ms: ms.saturating_mul(memory_mb),
        http_api_requests: u64::from(http),
        sqs_requests: units.sqs_requests,
        eventbridge_events: units.eventbridge_events,
        dynamodb_wru: units.dynamodb_wru,
        dynamodb_rru: units.dynamodb_rru,
        s3_put: units.s3_put,
        s3_get: units.s3_get,
        secrets_api_calls: units.secrets_api_calls,
        kms_requests: units.kms_requests,
        ..InfraUsage::default()
    }
}

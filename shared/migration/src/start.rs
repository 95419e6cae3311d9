//! Starting a migration: the export stored, the record created (pending), `migration.requested`.

use tillbridge_domain::event::{EventData, MigrationRequested};
use tillbridge_domain::{
    CorrelationId, Currency, Envelope, MigrationId, Provider, TenantId, Timestamp,
};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, TxWrite};
use tillbridge_ports::{BlobStore, EventBus};

use crate::keys::{self, STATE_SK, state_pk};
use crate::record::{event, load};
use crate::{Migration, MigrationError, Progress, Refusal, Status, export, publish};

/// What starts a migration.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    /// The merchant migrating.
    pub tenant: &'a TenantId,
    /// Currency of the export's prices.
    pub currency: Currency,
    /// Country whose validation rules apply, if any.
    pub country: Option<String>,
    /// The POS the export came from: 1 to 40 letters, digits, '-' or '_'.
    pub source_name: &'a str,
    /// The export: a JSON array of records, or CSV with a header row.
    pub export: ExportSource<'a>,
    /// Who starts it (kept in the record and its history).
    pub requested_by: &'a str,
    /// The same key always names the same migration (safe client retries).
    pub idempotency_key: Option<&'a str>,
    /// Carried by every event of the migration.
    pub correlation_id: CorrelationId,
    /// When the request was made.
    pub at: Timestamp,
    /// Also write the approved items to the tenant's account at this vendor.
    pub destination: Option<Provider>,
    /// Take from this export only the items that migration held back (a fixed export re-run
    /// alone); it must be the same tenant's, from the same source, and validated.
    pub retry_of: Option<MigrationId>,
}

/// Where the export comes from.
#[derive(Debug, Clone)]
pub enum ExportSource<'a> {
    /// Uploaded with the request; `csv` tells the format.
    Upload {
        /// The export's bytes, stored as they are.
        bytes: &'a [u8],
        /// CSV with a header row; otherwise JSON.
        csv: bool,
    },
    /// Already in the blob store.
    Key(&'a str),
}

fn new_id(
    tenant: &TenantId,
    key: Option<&str>,
    at: Timestamp,
) -> Result<MigrationId, MigrationError> {
    use sha2::{Digest, Sha256};
    let id = match key {
        Some(k) => {
            let d = Sha256::digest(format!("{tenant}\u{1f}{k}"));
            format!("mig-{}", &hex::encode(d)[..20])
        }
        None => {
            // The UUIDv7's millisecond (12 hex digits, so ids sort by creation time) and 8 hex
            // digits of a hash of the whole UUID: its first 20 digits alone repeat for two ids
            // of the same millisecond (its counter sits in the digits cut off).
            let uuid = uuid::Uuid::now_v7().simple().to_string();
            let _ = at;
            let tail = hex::encode(Sha256::digest(uuid.as_bytes()));
            format!("mig-{}{}", &uuid[..12], &tail[..8])
        }
    };
    MigrationId::parse(&id).map_err(|e| MigrationError::Permanent(e.to_string()))
}

fn source_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Starts a migration: stores the export, creates the record (pending) and raises
/// `migration.requested`. With an idempotency key, a retry returns the same migration.
///
/// # Errors
///
/// [`MigrationError::Refused`] with [`Refusal::Invalid`] for a bad source name, an upload that
/// is not well-formed JSON or CSV, or an export key not under the tenant's `exports/` prefix or
/// not found; [`Refusal::Conflict`] when the idempotency key names another tenant's
/// migration; a failing table, blob store or bus otherwise.
pub async fn start(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    bus: &dyn EventBus,
    req: StartRequest<'_>,
) -> Result<Migration, MigrationError> {
    if !source_ok(req.source_name) {
        return Err(MigrationError::Refused(Refusal::Invalid(
            "source_name is 1 to 40 letters, digits, '-' or '_'".into(),
        )));
    }
    if let Some(original) = &req.retry_of {
        check_retry_of(table, blobs, req.tenant, req.source_name, original).await?;
    }
    let id = new_id(req.tenant, req.idempotency_key, req.at)?;
    if let Some((existing, _)) = load(table, &id).await? {
        if existing.tenant_id != *req.tenant {
            return Err(MigrationError::Refused(Refusal::Conflict(
                "idempotency key used by another tenant".into(),
            )));
        }
        if existing.status == Status::Pending {
            publish(bus, &[requested_event(&existing)]).await?;
        }
        return Ok(existing);
    }
    let export_key = store_export(blobs, req.tenant, &id, &req.export).await?;
    let mut m = Migration {
        id: id.clone(),
        tenant_id: req.tenant.clone(),
        source_name: req.source_name.to_owned(),
        export_key,
        currency: req.currency,
        country: req.country,
        status: Status::Pending,
        paused: false,
        preview: false,
        cancel_requested: false,
        created_by: req.requested_by.to_owned(),
        created_at: req.at,
        updated_at: req.at,
        correlation_id: req.correlation_id,
        approved_by: None,
        progress: Progress::default(),
        validation: None,
        items_key: None,
        snapshot: None,
        rollback_cursor: None,
        rollback_report_key: None,
        error: None,
        customers: None,
        destination: req.destination,
        cutover: None,
        retry_of: req.retry_of.clone(),
        history: Vec::new(),
    };
    m.moved(Status::Pending, req.at, req.requested_by);
    let writes = vec![
        TxWrite::Put {
            item: Item::with_doc(state_pk(&id), STATE_SK, &m)?,
            condition: Condition::IfAbsent,
        },
        TxWrite::Put {
            item: Item::with_doc(keys::index_pk(req.tenant), id.as_str(), &req.at)?,
            condition: Condition::Always,
        },
    ];
    match table.transact(writes).await {
        Ok(()) => {}
        // A concurrent retry with the same key created it first.
        Err(PortError::ConditionFailed) => {
            return load(table, &id)
                .await?
                .map(|(m, _)| m)
                .ok_or(Refusal::NotFound.into());
        }
        Err(e) => return Err(e.into()),
    }
    publish(bus, &[requested_event(&m)]).await?;
    Ok(m)
}

/// The export's blob key: an upload checked and stored, or a key checked to be the tenant's
/// and present.
async fn store_export(
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    id: &MigrationId,
    export: &ExportSource<'_>,
) -> Result<String, MigrationError> {
    match *export {
        ExportSource::Upload { bytes, csv } => {
            if let Err(e) = export::check(bytes, csv) {
                return Err(MigrationError::Refused(Refusal::Invalid(format!(
                    "export: {e}"
                ))));
            }
            let key = format!(
                "exports/{}/{id}/export.{}",
                tenant,
                if csv { "csv" } else { "json" }
            );
            blobs.put(&key, bytes).await?;
            Ok(key)
        }
        ExportSource::Key(k) => {
            if !tillbridge_ports::blob::valid_key(k)
                || !k.starts_with(&keys::exports_prefix(tenant))
            {
                return Err(MigrationError::Refused(Refusal::Invalid(format!(
                    "export_key must be a key under exports/{}/",
                    tenant
                ))));
            }
            if blobs.get(k).await?.is_none() {
                return Err(MigrationError::Refused(Refusal::Invalid(format!(
                    "export {k} not found"
                ))));
            }
            Ok(k.to_owned())
        }
    }
}

pub(crate) fn requested_event(m: &Migration) -> Envelope {
    event(
        m,
        "requested",
        EventData::MigrationRequested(MigrationRequested {
            migration_id: m.id.to_string(),
            source_name: m.source_name.clone(),
            export_key: m.export_key.clone(),
        }),
        m.created_at,
    )
}

/// A re-run of held-back items needs an earlier migration of the same tenant and source whose
/// validation report exists.
async fn check_retry_of(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    source_name: &str,
    original: &MigrationId,
) -> Result<(), MigrationError> {
    let refuse = |why: String| Err(MigrationError::Refused(Refusal::Invalid(why)));
    let Some((o, _)) = load(table, original).await? else {
        return refuse(format!("retry_of: no migration {original}"));
    };
    if o.tenant_id != *tenant || o.source_name != source_name {
        return refuse(format!(
            "retry_of: {original} migrated {} from {}, not this tenant's {source_name}",
            o.tenant_id, o.source_name
        ));
    }
    if blobs.get(&crate::prepare::report_key(&o)).await?.is_none() {
        return refuse(format!("retry_of: {original} has no validation report yet"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_the_same_millisecond_differ_and_sort_by_time() {
        let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<String> = (0..2_000)
            .map(|_| {
                new_id(&tenant, None, Timestamp::UNIX_EPOCH)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .to_string()
            })
            .collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "an id repeated");
        // The millisecond prefix never goes back.
        assert!(ids.windows(2).all(|w| w[0][..16] <= w[1][..16]));
    }
}

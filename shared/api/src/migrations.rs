//! The migration routes of the management API.
//!
//! ```text
//! POST /v1/migrations                      start (JSON body, or the export as the body with
//!                                          ?tenant_id=&source_name=, CSV by Content-Type)
//! GET  /v1/migrations?tenant_id=T          list
//! GET  /v1/migrations/{id}                 status, progress, validation summary
//! GET  /v1/migrations/{id}/mappings        the suggestions and decisions
//! PUT  /v1/migrations/{id}/mappings        overrides (audited)
//! POST /v1/migrations/{id}/approve|pause|resume|cancel|rollback|switch
//!                                          (approve {"preview": true}: stop after validation;
//!                                          approving a previewed migration applies it)
//! GET  /v1/migrations/{id}/report          the validation report
//! GET  /v1/migrations/{id}/rollback-report
//! GET  /v1/migrations/{id}/audit           the audit report
//! GET  /v1/migrations/{id}/profile-mapping[?name=P]
//!                                          the approved mapping as a vendor profile's
//!                                          (shared with `tillbridge profile from-migration`)
//! ```

use serde::Deserialize;
use serde_json::{Value, json};
use tillbridge_domain::{CorrelationId, MigrationId};
use tillbridge_migration::review::{self as mapping_review, Override, OverrideError};
use tillbridge_migration::{
    self as migration, ExportSource, Migration, MigrationError, Refusal, StartRequest,
};

use crate::access::Permission;
use crate::{Api, Request, Response, RouteId, authorize};

/// The operator actions on one migration: `POST /v1/migrations/{id}/{action}`.
pub const ACTIONS: [&str; 6] = ["approve", "pause", "resume", "cancel", "rollback", "switch"];

fn reply(status: u16, v: &Value) -> Response {
    Response::json(status, v)
}

fn error(status: u16, message: &str) -> Response {
    Response::error(status, message)
}

fn refusal(r: &Refusal) -> Response {
    match r {
        Refusal::NotFound => error(404, "migration not found"),
        Refusal::Conflict(m) => error(409, m),
        Refusal::Invalid(m) => error(400, m),
    }
}

/// The one place a migration failure becomes a status: refusals are the operator's (404,
/// 409, 400), everything else [`Response::failure`].
fn internal(e: &MigrationError) -> Response {
    match e {
        MigrationError::Refused(r) => refusal(r),
        MigrationError::Override(OverrideError::Invalid(m)) => error(400, m),
        _ => Response::failure(e),
    }
}

/// The largest export accepted in a request body; bigger ones go to the blob store first.
pub const MAX_UPLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Tenant, source, operator, the uploaded export (bytes, is CSV) or its blob key.
type StartParts = (
    String,
    String,
    String,
    Option<(Vec<u8>, bool)>,
    Option<String>,
);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    tenant_id: String,
    source_name: String,
    #[serde(default)]
    export_key: Option<String>,
    /// Records (array, or an object with items and customers) or CSV text.
    #[serde(default)]
    export: Option<Value>,
    /// Accepted for older clients and ignored: who asks is the authenticated operator.
    #[serde(default)]
    #[allow(dead_code)]
    requested_by: Option<String>,
    /// Also write the approved items to the tenant's account at this vendor (`square`).
    #[serde(default)]
    destination: Option<String>,
    /// Take from this (fixed) export only the items that migration held back.
    #[serde(default)]
    retry_held_back_of: Option<String>,
}

/// An operator action's body. A name in it is accepted for older clients and ignored: the
/// audit records the authenticated operator, never a body field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    #[serde(default, alias = "reviewer")]
    #[allow(dead_code)]
    by: Option<String>,
    /// `approve` only: stop after validation (status previewed) until approved again.
    #[serde(default)]
    preview: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverridesBody {
    /// Accepted for older clients and ignored (see [`ActBody`]).
    #[serde(default)]
    #[allow(dead_code)]
    reviewer: Option<String>,
    overrides: Vec<OverrideLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideLine {
    source: String,
    target: Option<String>,
    /// How values convert (`inverted_boolean`, `minor_units`, …); optional.
    #[serde(default)]
    conversion: Option<mapping_review::Conversion>,
    reason: String,
}

/// The destination vendor of a start request, refused (400) when it is not a vendor or the
/// tenant has no API credentials for it.
async fn destination_of(
    api: &Api,
    config: &tillbridge_ports::TenantConfig,
    name: Option<&str>,
) -> Result<Option<tillbridge_domain::Provider>, Response> {
    let Some(name) = name else {
        return Ok(None);
    };
    let Ok(provider) = name.parse::<tillbridge_domain::Provider>() else {
        return Err(error(400, &format!("destination: unknown vendor {name:?}")));
    };
    // Opening the writer checks what the apply will need: credentials, and a vendor that
    // takes writes (no call is made yet).
    let destinations = migration::destination::TenantDestinations {
        table: api.table.clone(),
        clock: api.clock.clone(),
        directory: api.directory.clone(),
        secrets: api.secrets.clone(),
        http: None,
    };
    use migration::destination::Destinations;
    match destinations.open(&config.tenant_id, provider).await {
        Ok(_) => Ok(Some(provider)),
        Err(e) if e.kind() == tillbridge_domain::ErrorKind::Retryable => {
            tracing::error!(error = %e, "secret store failed");
            Err(error(503, "the secret store is unavailable; retry"))
        }
        Err(e) => Err(error(400, &format!("destination: {e}"))),
    }
}

/// Answers a route on one migration (`id`); `action` is the `{action}` segment.
pub(crate) async fn one(
    api: &Api,
    req: &Request<'_>,
    route: RouteId,
    id: &str,
    action: &str,
) -> Response {
    let m = match load(api, id).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let permission = match route {
        RouteId::PutMappings | RouteId::MigrationAction => Permission::Write,
        _ => Permission::Read,
    };
    if let Err(r) = authorize(api, req.operator, Some(m.tenant_id.as_str()), permission).await {
        return r;
    }
    match route {
        RouteId::GetMappings => mappings(api, &m).await,
        RouteId::PutMappings => put_mappings(api, &m, req).await,
        RouteId::MigrationAction => act(api, &m, action, req).await,
        RouteId::MigrationReport if req.wants_csv() => report_csv(api, &m).await,
        RouteId::MigrationReport if m.destination.is_some() => {
            match migration::destination::report_json(api.table.as_ref(), api.blobs.as_ref(), &m)
                .await
            {
                Ok(Some(v)) => reply(200, &v),
                Ok(None) => error(404, "not written yet"),
                Err(e) => internal(&e),
            }
        }
        RouteId::MigrationReport => blob(api, Some(migration::prepare::report_key(&m))).await,
        RouteId::RollbackReport => blob(api, m.rollback_report_key.clone()).await,
        RouteId::MigrationProfileMapping => profile_mapping(api, &m, req).await,
        RouteId::MigrationAudit => {
            match migration::audit::report(api.table.as_ref(), api.blobs.as_ref(), &m).await {
                Ok(v) => reply(200, &v),
                Err(e) => internal(&e),
            }
        }
        _ => reply(200, &m.view()),
    }
}

/// `GET /v1/migrations/{id}/profile-mapping[?name=P]`: the approved mapping as a profile's
/// `mapping` section, and with `name` the vendor's next profile with it — the same code path
/// as `tillbridge profile from-migration` (`tillbridge_migration::profile`).
async fn profile_mapping(api: &Api, m: &Migration, req: &Request<'_>) -> Response {
    use tillbridge_migration::profile::{ProfileMappingError, profile_mapping};
    let name = match req.param("name") {
        None => None,
        Some(n) => match tillbridge_domain::ProfileName::parse(n) {
            Ok(n) => Some(n),
            Err(e) => return error(400, &format!("name: {e}")),
        },
    };
    let made = profile_mapping(api.table.as_ref(), m, name, None).await;
    match made {
        Ok(made) => reply(
            200,
            &json!({
                "migration": m.id.as_str(),
                "mapping": made.section,
                "name": name,
                "version": made.profile.as_ref().map(|p| p.doc().version),
                "profile": made.profile.as_ref().map(tillbridge_profiles::Profile::to_json),
            }),
        ),
        Err(e @ ProfileMappingError::NotApproved { .. }) => error(409, &e.to_string()),
        Err(ProfileMappingError::Invalid(p)) => reply(
            400,
            &json!({
                "error": "the migration's mapping does not make a valid profile",
                "problems": p.problems,
            }),
        ),
        Err(e @ ProfileMappingError::OtherVendor { .. }) => error(400, &e.to_string()),
        Err(ProfileMappingError::Migration(e)) => internal(&e),
        Err(ProfileMappingError::Store(e)) => {
            tracing::error!(error = %e, "profile store failed");
            match e {
                tillbridge_profiles::store::StoreError::Port(p) => Response::failure(&p),
                _ => error(500, "internal error"),
            }
        }
    }
}

async fn load(api: &Api, id: &str) -> Result<Migration, Response> {
    let Ok(id) = MigrationId::parse(id) else {
        return Err(error(404, "migration not found"));
    };
    match migration::load(api.table.as_ref(), &id).await {
        Ok(Some((m, _))) => Ok(m),
        Ok(None) => Err(error(404, "migration not found")),
        Err(e) => Err(internal(&e)),
    }
}

async fn known_tenant(api: &Api, tenant: &str) -> Result<tillbridge_ports::TenantConfig, Response> {
    use tillbridge_domain::TenantId;
    let Ok(id) = TenantId::parse(tenant) else {
        return Err(error(404, "tenant not found"));
    };
    match api.directory.tenant(&id).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(error(404, "tenant not found")),
        Err(e) => Err(Response::failure(&e)),
    }
}

pub(crate) async fn start(api: &Api, req: &Request<'_>) -> Response {
    if req.body.len() > MAX_UPLOAD_BYTES {
        return error(
            413,
            "the export is too large for a request; put it in the blob store and pass export_key",
        );
    }
    let ct = req.header("content-type").unwrap_or("application/json");
    let raw_upload = req.param("tenant_id").is_some();
    let mut destination = req.param("destination").map(str::to_owned);
    let mut retry_of = req.param("retry_held_back_of").map(str::to_owned);
    let (tenant, source, by, upload, key): StartParts = if raw_upload {
        let (Some(t), Some(s)) = (req.param("tenant_id"), req.param("source_name")) else {
            return error(400, "an upload needs ?tenant_id=…&source_name=…");
        };
        (
            t.to_owned(),
            s.to_owned(),
            req.operator.to_owned(),
            Some((req.body.to_vec(), ct.contains("csv"))),
            None,
        )
    } else {
        let body: StartBody = match serde_json::from_slice(req.body) {
            Ok(b) => b,
            Err(e) => return error(400, &format!("body: {e}")),
        };
        let upload = match body.export {
            Some(Value::String(csv)) => Some((csv.into_bytes(), true)),
            Some(v @ (Value::Array(_) | Value::Object(_))) => {
                Some((serde_json::to_vec(&v).unwrap_or_default(), false))
            }
            Some(_) => return error(400, "export is an array of records, an object or CSV text"),
            None => None,
        };
        if upload.is_some() == body.export_key.is_some() {
            return error(400, "give exactly one of export and export_key");
        }
        destination = body.destination;
        retry_of = body.retry_held_back_of;
        (
            body.tenant_id,
            body.source_name,
            req.operator.to_owned(),
            upload,
            body.export_key,
        )
    };
    if let Err(r) = authorize(api, req.operator, Some(&tenant), Permission::Write).await {
        return r;
    }
    let config = match known_tenant(api, &tenant).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let destination = match destination_of(api, &config, destination.as_deref()).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let retry_of = match retry_of.as_deref().map(MigrationId::parse).transpose() {
        Ok(r) => r,
        Err(e) => return error(400, &format!("retry_held_back_of: {e}")),
    };
    let correlation = req
        .header("x-correlation-id")
        .and_then(|c| CorrelationId::parse(c).ok())
        .or_else(|| CorrelationId::parse(&format!("cor-{}", uuid::Uuid::now_v7().simple())).ok());
    let Some(correlation) = correlation else {
        return error(500, "internal error");
    };
    let export = match (&upload, &key) {
        (Some((bytes, csv)), _) => ExportSource::Upload { bytes, csv: *csv },
        (None, Some(k)) => ExportSource::Key(k),
        (None, None) => return error(400, "give exactly one of export and export_key"),
    };
    let started = migration::start(
        api.table.as_ref(),
        api.blobs.as_ref(),
        api.bus.as_ref(),
        StartRequest {
            tenant: &config.tenant_id,
            currency: config.currency,
            country: config.country.map(|c| c.to_string()),
            source_name: &source,
            export,
            requested_by: &by,
            idempotency_key: req.header("idempotency-key"),
            correlation_id: correlation,
            at: api.clock.now(),
            destination,
            retry_of,
        },
    )
    .await;
    match started {
        Ok(m) => reply(202, &m.view()),
        Err(e) => internal(&e),
    }
}

pub(crate) async fn list(api: &Api, req: &Request<'_>) -> Response {
    let Some(tenant) = req.param("tenant_id") else {
        return error(400, "list migrations with ?tenant_id=…");
    };
    if let Err(r) = authorize(api, req.operator, Some(tenant), Permission::Read).await {
        return r;
    }
    let config = match known_tenant(api, tenant).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if req.param("limit").is_some() || req.param("cursor").is_some() {
        let limit = match req.param("limit").map(str::parse::<usize>) {
            None => 100,
            Some(Ok(n)) if (1..=1000).contains(&n) => n,
            Some(_) => return error(400, "limit is a number from 1 to 1000"),
        };
        let after = req
            .param("cursor")
            .filter(|c| !c.is_empty())
            .map(|c| MigrationId::parse(c).map(|id| id.as_str().to_owned()));
        let after = match after.transpose() {
            Ok(a) => a,
            Err(_) => return error(400, "cursor is not one this route gave"),
        };
        return match migration::list_page(
            api.table.as_ref(),
            &config.tenant_id,
            after.as_deref(),
            limit,
        )
        .await
        {
            Ok((ms, next)) => {
                let mut r = reply(200, &Value::Array(ms.iter().map(Migration::view).collect()));
                if let Some(next) = next {
                    r.headers.push((
                        "link",
                        format!(
                            "</v1/migrations?tenant_id={}&limit={limit}&cursor={}>; rel=\"next\"",
                            crate::console::enc(tenant),
                            crate::console::enc(&next)
                        ),
                    ));
                }
                r
            }
            Err(e) => internal(&e),
        };
    }
    match migration::list(api.table.as_ref(), &config.tenant_id).await {
        Ok(ms) => reply(200, &Value::Array(ms.iter().map(Migration::view).collect())),
        Err(e) => internal(&e),
    }
}

async fn mappings(api: &Api, m: &Migration) -> Response {
    match mapping_review::decisions(api.table.as_ref(), &m.tenant_id, m.id.as_str()).await {
        Ok(d) => reply(
            200,
            &json!({ "migration_id": m.id, "status": m.status, "fields": d }),
        ),
        Err(e) => internal(&e),
    }
}

async fn put_mappings(api: &Api, m: &Migration, req: &Request<'_>) -> Response {
    if m.status != migration::Status::MappingReview {
        return error(
            409,
            &format!(
                "mappings can change in mapping_review; the migration is {}",
                m.status.as_str()
            ),
        );
    }
    let body: OverridesBody = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return error(400, &format!("body: {e}")),
    };
    let at = api.clock.now();
    let mut done = Vec::new();
    for o in &body.overrides {
        let result = mapping_review::override_field(
            api.table.as_ref(),
            &m.tenant_id,
            m.id.as_str(),
            &Override {
                source: &o.source,
                new_target: o.target.as_deref(),
                conversion: o.conversion,
                reason: &o.reason,
                reviewer: req.operator,
                at,
            },
        )
        .await;
        match result {
            Ok(d) => done.push(d),
            Err(MigrationError::Override(OverrideError::UnknownField)) => {
                return error(404, &format!("{} is not a field of this export", o.source));
            }
            Err(MigrationError::Override(OverrideError::Conflict)) => {
                return error(
                    409,
                    &format!("{} changed meanwhile; reload and decide again", o.source),
                );
            }
            Err(MigrationError::Override(OverrideError::Invalid(msg))) => return error(400, &msg),
            Err(e) => return internal(&e),
        }
    }
    reply(200, &json!({ "migration_id": m.id, "overridden": done }))
}

async fn act(api: &Api, m: &Migration, action: &str, req: &Request<'_>) -> Response {
    // A body may still name a person (older clients): it must be well formed, and is ignored.
    let mut preview = false;
    if !req.body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<ActBody>(req.body) {
            Ok(b) => preview = b.preview,
            Err(e) => return error(400, &format!("body: {e}")),
        }
    }
    let by = req.operator.to_owned();
    let at = api.clock.now();
    let (t, b, id) = (api.table.as_ref(), api.bus.as_ref(), &m.id);
    let result = match action {
        "approve" => migration::approve_with(t, b, id, &by, at, preview).await,
        "pause" => migration::pause(t, id, &by, at).await,
        "resume" => migration::resume(t, b, id, &by, at).await,
        "cancel" => migration::cancel(t, b, id, &by, at).await,
        "switch" => {
            // A last flow of what is pending, through the tenant's destination credentials.
            let dests = migration::destination::TenantDestinations {
                table: api.table.clone(),
                clock: api.clock.clone(),
                directory: api.directory.clone(),
                secrets: api.secrets.clone(),
                http: Some(migration::destination::bounded_http),
            };
            migration::destination::switch(t, Some(&dests), id, at).await
        }
        _ => migration::request_rollback(t, b, id, &by, at).await,
    };
    match result {
        Ok(m) => reply(202, &m.view()),
        Err(e) => internal(&e),
    }
}

/// The validation report as a CSV download (`?format=csv` or `Accept: text/csv`).
async fn report_csv(api: &Api, m: &Migration) -> Response {
    if m.destination.is_some() {
        // With the write's outcome per item: the results file of the destination.
        return match migration::destination::report_json(api.table.as_ref(), api.blobs.as_ref(), m)
            .await
        {
            Ok(Some(v)) => Response::csv(
                migration::preview::report_csv(&v),
                &format!("report-{}", m.id),
            ),
            Ok(None) => error(404, "not written yet"),
            Err(e) => internal(&e),
        };
    }
    match api.blobs.get(&migration::prepare::report_key(m)).await {
        Ok(Some(body)) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(report) => Response::csv(
                migration::preview::report_csv(&report),
                &format!("report-{}", m.id),
            ),
            Err(e) => {
                tracing::error!(migration = %m.id, error = %e, "stored report does not parse");
                error(500, "internal error")
            }
        },
        Ok(None) => error(404, "not written yet"),
        Err(e) => Response::failure(&e),
    }
}

async fn blob(api: &Api, key: Option<String>) -> Response {
    let Some(key) = key else {
        return error(404, "not written yet");
    };
    match api.blobs.get(&key).await {
        Ok(Some(body)) => Response {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body,
        },
        Ok(None) => error(404, "not written yet"),
        Err(e) => Response::failure(&e),
    }
}

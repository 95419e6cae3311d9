//! `GET|PUT /v1/tenants/{tenant}/notifications`: the tenant's notification settings.
//!
//! The PUT body is the settings (see `tillbridge_notify::TenantSettings`): the tenant's
//! name and language, optionally the time zone of its business calendar, and the channels
//! (`webhook`, `email`, `chat`, `customers`) with their event patterns and least level. A
//! webhook channel names its signing secret (`secret_name`, scoped to the tenant) and may
//! carry the secret itself (`"secret": "whsec_…"`): it goes to the secret store, never
//! into the table, a log or a response. A webhook whose secret was never stored is refused.
//! The GET answers the settings (without secrets) and the latest deliveries given up.

use serde_json::json;
use tillbridge_domain::TenantId;
use tillbridge_notifications as notifications;

use crate::{Api, Request, Response, known_tenant};

/// Dead letters shown with the settings.
const FAILURES_SHOWN: usize = 50;

async fn view(api: &Api, id: &TenantId) -> Response {
    let settings = match notifications::settings(api.table.as_ref(), id).await {
        Ok(s) => s,
        Err(e) => return Response::failure(&e),
    };
    let failed = match notifications::failures(api.table.as_ref(), id, FAILURES_SHOWN).await {
        Ok(f) => f,
        Err(e) => return Response::failure(&e),
    };
    Response::json(
        200,
        &json!({ "tenant": id, "settings": settings, "failed_deliveries": failed }),
    )
}

/// `GET /v1/tenants/{tenant}/notifications`.
pub(crate) async fn get(api: &Api, tenant: &str) -> Response {
    match known_tenant(api, tenant).await {
        Ok(id) => view(api, &id).await,
        Err(r) => r,
    }
}

/// `PUT /v1/tenants/{tenant}/notifications`: replaces the settings.
pub(crate) async fn put(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let id = match known_tenant(api, tenant).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    match notifications::put_settings(
        api.table.as_ref(),
        api.secrets.as_ref(),
        &id,
        req.body,
        false,
    )
    .await
    {
        Ok(_) => {
            tracing::info!(operator = %req.operator, tenant = %id, "notification settings replaced");
            view(api, &id).await
        }
        Err(notifications::SettingsError::Invalid(message)) => Response::error(400, &message),
        Err(notifications::SettingsError::Store(e)) => Response::failure(&e),
    }
}

//! `GET|PUT /v1/tenants/{tenant}/notifications`: the tenant's notification settings.
//!
//! The PUT body is the settings (see `tillbridge_notify::TenantSettings`): the tenant's
//! name and language, optionally the time zone of its business calendar, and the channels
//! (`webhook`, `email`, `chat`, `customers`) with their event patterns and least level. A
//! webhook channel names its signing secret (`secret_name`, scoped to the tenant) and may
//! carry the secret itself (`"secret": "whsec_…"`): it goes to the secret store, never
//! into the table, a log or a response. A webhook whose secret was never stored is refused.
//! The GET answers the settings (without secrets) and the latest deliveries given up.

use serde_json::{Value, json};
use tillbridge_domain::{Secret, TenantId};
use tillbridge_notifications as notifications;
use tillbridge_notify::TenantSettings;

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

/// Takes the `secret` of each webhook channel out of the body: (secret name, secret).
fn take_secrets(body: &mut Value) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let Some(channels) = body.get_mut("channels").and_then(Value::as_array_mut) else {
        return Ok(out);
    };
    for (i, c) in channels.iter_mut().enumerate() {
        let Some(channel) = c.get_mut("channel").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(secret) = channel.remove("secret") else {
            continue;
        };
        let Some(secret) = secret.as_str().filter(|s| s.starts_with("whsec_")) else {
            return Err(format!(
                "channel {i}: a webhook secret is a string whsec_ followed by base64"
            ));
        };
        // The signer must be able to use it.
        if tillbridge_notify::sign(&[secret], "msg_check", 0, b"").is_err() {
            return Err(format!(
                "channel {i}: a webhook secret is whsec_ followed by base64"
            ));
        }
        let name = channel
            .get("secret_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.push((name, secret.to_owned()));
    }
    Ok(out)
}

/// `PUT /v1/tenants/{tenant}/notifications`: replaces the settings.
pub(crate) async fn put(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let id = match known_tenant(api, tenant).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut body: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    let secrets = match take_secrets(&mut body) {
        Ok(s) => s,
        Err(message) => return Response::error(400, &message),
    };
    let settings: TenantSettings = match serde_json::from_value(body) {
        Ok(s) => s,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    if let Err(e) = settings.validate() {
        return Response::error(400, &e.to_string());
    }
    // Every webhook can be signed: its secret comes with the body or is stored already.
    for (i, c) in settings.channels.iter().enumerate() {
        if let tillbridge_notify::Channel::Webhook { secret_name, .. } = &c.channel
            && !secrets.iter().any(|(n, _)| n == secret_name)
        {
            match api.secrets.notification_secret(&id, secret_name).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Response::error(
                        400,
                        &format!(
                            "channel {i}: no secret is stored as {secret_name:?}; send it as \"secret\""
                        ),
                    );
                }
                Err(e) => return Response::failure(&e),
            }
        }
    }
    for (name, secret) in &secrets {
        if let Err(e) = api
            .secrets
            .put_notification_secret(&id, name, &Secret::new(secret.as_str()))
            .await
        {
            return Response::failure(&e);
        }
    }
    if let Err(e) = notifications::save_settings(api.table.as_ref(), &id, &settings).await {
        return Response::failure(&e);
    }
    tracing::info!(operator = %req.operator, tenant = %id, channels = settings.channels.len(), secrets = secrets.len(), "notification settings set");
    view(api, &id).await
}

//! Tenant onboarding: `GET /v1/tenants`, `GET|PUT /v1/tenants/{tenant}`.
//!
//! A PUT body is a tenants-file entry without its id (CLI.md): currency, country, time zone,
//! body cap, monthly budget and the providers with their settings. Secrets in the body go to
//! the secret store (Secrets Manager in the cloud), never into the table, a log or a response:
//! a provider's `secret` becomes its current webhook secret and the one it replaces stays
//! accepted as the previous one (a rotation; sending the current one again changes nothing);
//! `api` credentials replace the stored ones. A provider without `secret` keeps what is
//! stored. A PUT replaces the configuration: providers it does not list stop being accepted.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use tillbridge_accounting as accounting;
use tillbridge_domain::{Country, Currency, Provider, Secret, TenantId, TimeZone};
use tillbridge_ports::tenants::{ProviderEntry, TenantConfig};

use crate::access::Permission;
use crate::{Api, MAX_HTTP_BODY, Request, Response};

/// The largest clock tolerance a provider may be given: one day.
pub const MAX_TOLERANCE_SECS: i64 = 86_400;

/// The body of `PUT /v1/tenants/{tenant}`. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantBody {
    currency: Currency,
    #[serde(default)]
    country: Option<Country>,
    #[serde(default)]
    time_zone: Option<TimeZone>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    monthly_budget_usd: Option<Value>,
    providers: BTreeMap<Provider, ProviderEntry>,
}

/// `GET /v1/tenants`: the tenants the operator may read, with their settings.
pub(crate) async fn list(api: &Api, req: &Request<'_>) -> Response {
    let ids = match api.directory.tenant_ids().await {
        Ok(ids) => ids,
        Err(e) => return Response::failure(&e),
    };
    let admin = api.admins.iter().any(|a| a == req.operator);
    let grants = if admin {
        None
    } else {
        match crate::access::grants(api.table.as_ref(), req.operator).await {
            Ok(g) => Some(g),
            Err(e) => return Response::failure(&e),
        }
    };
    let mut tenants = Vec::new();
    for id in ids {
        if grants
            .as_ref()
            .is_some_and(|g| !g.allow(Some(id.as_str()), Permission::Read))
        {
            continue;
        }
        match view(api, &id).await {
            Ok(Some(v)) => tenants.push(v),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    Response::json(200, &json!({ "tenants": tenants }))
}

/// `GET /v1/tenants/{tenant}`.
pub(crate) async fn get(api: &Api, tenant: &str) -> Response {
    let Ok(id) = TenantId::parse(tenant) else {
        return Response::error(404, "tenant not found");
    };
    match view(api, &id).await {
        Ok(Some(v)) => Response::json(200, &v),
        Ok(None) => Response::error(404, "tenant not found"),
        Err(r) => r,
    }
}

/// `PUT /v1/tenants/{tenant}`: creates (201) or replaces (200) a tenant.
pub(crate) async fn put(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let id = match TenantId::parse(tenant) {
        Ok(id) => id,
        Err(e) => return Response::error(400, &e.to_string()),
    };
    let body: TenantBody = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    let budget = match check(&body) {
        Ok(b) => b,
        Err(message) => return Response::error(400, &message),
    };
    // A vendor without code must have a profile (built in, or added by an operator).
    for provider in body.providers.keys() {
        if let Provider::Profile(name) = provider {
            match tillbridge_profiles::store::resolve(api.table.as_ref(), *name).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Response::error(
                        400,
                        &format!(
                            "unknown provider {provider}: neither a built-in vendor nor a vendor profile (PUT one first)"
                        ),
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "profile lookup failed");
                    return Response::error(503, "temporarily unavailable; retry");
                }
            }
        }
    }
    let existed = match api.directory.tenant(&id).await {
        Ok(t) => t.is_some(),
        Err(e) => return Response::failure(&e),
    };
    // Secrets first: a tenant is never visible with a provider whose new secret is not stored.
    let mut rotated = Vec::new();
    for (provider, entry) in &body.providers {
        if let Some(secret) = &entry.secret {
            if let Err(e) = api
                .secrets
                .rotate_webhook_secret(&id, *provider, &Secret::new(secret.as_str()))
                .await
            {
                return Response::failure(&e);
            }
            rotated.push(provider.as_str());
        }
        if let Some(credentials) = entry.api_credentials()
            && let Err(e) = api
                .secrets
                .put_api_credentials(&id, *provider, &credentials)
                .await
        {
            return Response::failure(&e);
        }
    }
    let config = TenantConfig {
        tenant_id: id.clone(),
        currency: body.currency,
        country: body.country,
        time_zone: body.time_zone.clone(),
        providers: body
            .providers
            .iter()
            .map(|(p, e)| (*p, e.config()))
            .collect(),
        max_body_bytes: body.max_body_bytes,
    };
    if let Err(e) = api.directory.put_tenant(&config).await {
        return Response::failure(&e);
    }
    if let Some(amount) = budget
        && let Err(e) = accounting::set_budget(api.table.as_ref(), &id, amount).await
    {
        return Response::failure(&e);
    }
    tracing::info!(
        operator = %req.operator,
        tenant = %id,
        created = !existed,
        providers = ?config.providers.keys().map(|p| p.as_str()).collect::<Vec<_>>(),
        webhook_secrets_stored = ?rotated,
        "tenant saved"
    );
    match view(api, &id).await {
        Ok(Some(v)) => Response::json(if existed { 200 } else { 201 }, &v),
        Ok(None) => Response::error(503, "temporarily unavailable; retry"),
        Err(r) => r,
    }
}

/// Refuses what the stages could not work with; the budget as an exact amount.
fn check(body: &TenantBody) -> Result<Option<rust_decimal::Decimal>, String> {
    if let Some(cap) = body.max_body_bytes
        && !(1..=MAX_HTTP_BODY).contains(&cap)
    {
        return Err(format!("max_body_bytes must be 1 to {MAX_HTTP_BODY}"));
    }
    for (provider, e) in &body.providers {
        if e.previous_secret.is_some() {
            return Err(format!(
                "{provider}: previous_secret cannot be set; send the new secret and the \
                 replaced one stays accepted as the previous one"
            ));
        }
        if e.secret.as_deref().is_some_and(str::is_empty) {
            return Err(format!("{provider}: secret is empty"));
        }
        if let Some(t) = e.tolerance_secs
            && !(0..=MAX_TOLERANCE_SECS).contains(&t)
        {
            return Err(format!(
                "{provider}: tolerance_secs must be 0 to {MAX_TOLERANCE_SECS}"
            ));
        }
        let urls = [
            ("notification_url", e.notification_url.as_deref()),
            (
                "api.base_url",
                e.api.as_ref().and_then(|a| a.base_url.as_deref()),
            ),
        ];
        for (name, url) in urls {
            if let Some(u) = url
                && !(u.starts_with("https://") || u.starts_with("http://"))
            {
                return Err(format!("{provider}: {name} must be an http(s) URL"));
            }
        }
        if *provider == Provider::Square && e.notification_url.is_none() {
            return Err(
                "square: notification_url is required (Square signs the URL it posts to)".into(),
            );
        }
    }
    let Some(budget) = &body.monthly_budget_usd else {
        return Ok(None);
    };
    let text = match budget {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    match tillbridge_domain::money::parse_decimal(text.trim()) {
        Some(a) if a >= rust_decimal::Decimal::ZERO && a.scale() <= 6 => Ok(Some(a)),
        _ => Err(
            "monthly_budget_usd is a non-negative amount in USD with at most 6 decimal places"
                .into(),
        ),
    }
}

/// A tenant's settings as the API shows them: secrets only as whether they are set.
async fn view(api: &Api, id: &TenantId) -> Result<Option<Value>, Response> {
    let Some(config) = api
        .directory
        .tenant(id)
        .await
        .map_err(|e| Response::failure(&e))?
    else {
        return Ok(None);
    };
    let mut providers = serde_json::Map::new();
    for (p, c) in &config.providers {
        let secrets = api
            .secrets
            .webhook_secrets(id, *p)
            .await
            .map_err(|e| Response::failure(&e))?;
        let credentials = api
            .secrets
            .api_credentials(id, *p)
            .await
            .map_err(|e| Response::failure(&e))?;
        providers.insert(
            p.as_str().to_owned(),
            json!({
                "webhook_url": format!("/v1/webhooks/{p}/{id}"),
                "notification_url": c.notification_url,
                "tolerance_secs": config.tolerance_secs(*p),
                "webhook_secret": secrets.is_some(),
                "previous_secret": secrets.is_some_and(|s| s.previous.is_some()),
                "api": {
                    "base_url": c.api_base_url,
                    "credentials": credentials.map(|c| c.names()).unwrap_or_default(),
                },
            }),
        );
    }
    let budget = accounting::budget(api.table.as_ref(), id)
        .await
        .map_err(|e| Response::failure(&e))?;
    Ok(Some(json!({
        "tenant_id": id,
        "currency": config.currency,
        "country": config.country,
        "time_zone": config.time_zone,
        "max_body_bytes": config.max_body_bytes(),
        "monthly_budget_usd": budget.map(|b| b.to_string()),
        "providers": providers,
    })))
}

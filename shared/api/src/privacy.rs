//! Data subject requests over HTTP: erase or export one customer's data, or every
//! customer's (`tillbridge_migration::privacy`). The identifiers travel in the body, never
//! in the URL (URLs are logged); answers of an export are the person's data and go only to
//! the administrator who asked.

use serde_json::json;
use tillbridge_migration::privacy::{self, Subject};
use tillbridge_migration::{MigrationError, Refusal};

use crate::{Api, Request, Response, known_tenant};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    #[serde(flatten)]
    subject: Subject,
    /// Every customer of the tenant (a shop that left).
    #[serde(default)]
    all_customers: bool,
}

fn refused(e: &MigrationError) -> Response {
    match e {
        MigrationError::Refused(Refusal::Invalid(m)) => Response::error(400, m),
        _ => Response::failure(e),
    }
}

/// `POST /v1/tenants/{tenant}/privacy/erase` with `{"customer_id"?, "email"?, "phone"?}` or
/// `{"all_customers": true}`: 200 with the erasure report (counts, blob keys, a pseudonym).
pub(crate) async fn erase(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body: EraseBody = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    if body.all_customers && !body.subject.is_empty() {
        return Response::error(400, "give a customer or all_customers, not both");
    }
    match privacy::erase(
        api.table.as_ref(),
        api.blobs.as_ref(),
        &tenant,
        &body.subject,
        body.all_customers,
        req.operator,
        api.clock.now(),
    )
    .await
    {
        Ok(report) => Response::json(200, &serde_json::to_value(&report).unwrap_or_default()),
        Err(e) => refused(&e),
    }
}

/// `POST /v1/tenants/{tenant}/privacy/export` with `{"customer_id"?, "email"?, "phone"?}`:
/// 200 with what tillbridge holds of the person.
pub(crate) async fn export(api: &Api, req: &Request<'_>, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let subject: Subject = match serde_json::from_slice(req.body) {
        Ok(b) => b,
        Err(e) => return Response::error(400, &format!("body: {e}")),
    };
    if subject.is_empty() {
        return Response::error(400, "name the customer: customer_id, email or phone");
    }
    match privacy::export(api.table.as_ref(), api.blobs.as_ref(), &tenant, &subject).await {
        Ok(found) => {
            tracing::info!(tenant = %tenant, operator = %req.operator, customers = found.customers.len(), "personal data exported");
            Response::json(200, &serde_json::to_value(&found).unwrap_or_default())
        }
        Err(e) => refused(&e),
    }
}

/// `GET /v1/tenants/{tenant}/privacy/erasures`: the erasures carried out (pseudonymous).
pub(crate) async fn erasures(api: &Api, tenant: &str) -> Response {
    let tenant = match known_tenant(api, tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match privacy::erasures(api.table.as_ref(), &tenant).await {
        Ok(list) => Response::json(200, &json!({ "tenant_id": tenant, "erasures": list })),
        Err(e) => refused(&e),
    }
}
